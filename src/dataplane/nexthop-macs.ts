/**
 * The gw_mac field of each gateway nexthop in pw_nexthops: its neighbour's MAC, a copy of its
 * pw_neigh entry that the pipeline reads with the nexthop instead of hashing a 20-byte key (the
 * hash lookup was ~15 ns of a forwarded packet's ~85; BENCHMARKS.md §3). pw_neigh stays the
 * source: NexthopTable writes the field with the record when it makes a nexthop (from pw_neigh
 * as it is then; no group points at the nexthop yet), and rewrites it here whenever the
 * neighbour table changes the gateway's entry (NeighborTable's listener), or all of them at a
 * full neighbour sync.
 *
 * The field is one aligned 64-bit word, written in place through the mmap-ed array with one
 * store (Atomics.store), and the pipeline reads it with one load: a packet sees the old MAC or
 * the new one, never half of each, and never a MAC without its flag.
 */
import * as abi from '../generated/pathwise.js';
import type { MappedArray } from '../kernel/index.js';
import type { PipelineMaps } from './pipeline.js';

/** The gw_mac word (struct pw_nh_mac, little-endian): the MAC in bytes 0-5, `known` in byte 7. */
function macWord(mac: Uint8Array | null): bigint {
  if (!mac) return 0n;
  let w = 1n << 56n; // known = 1
  for (let i = 0; i < 6; i++) w |= BigInt(mac[i]!) << BigInt(8 * i);
  return w;
}

export class NexthopMacs {
  private readonly mapped: MappedArray<abi.PwNexthop>;
  private readonly words: BigUint64Array;
  /** Words per record, and the field's word within one. */
  private readonly stride: number;
  private readonly at: number;

  constructor(maps: Pick<PipelineMaps, 'nexthops'>) {
    this.mapped = maps.nexthops.mmap();
    this.words = new BigUint64Array(this.mapped.view.buffer, 0, (this.mapped.length * this.mapped.stride) >>> 3);
    this.stride = this.mapped.stride >>> 3;
    this.at = abi.PwNexthop.offsets.gw_mac >>> 3;
  }

  /** Sets nexthop `id`'s neighbour MAC, or (null) makes the pipeline look in pw_neigh. */
  set(id: number, mac: Uint8Array | null): void {
    Atomics.store(this.words, id * this.stride + this.at, macWord(mac));
  }

  /** The MAC recorded for nexthop `id`, or null. */
  get(id: number): Uint8Array | null {
    const w = Atomics.load(this.words, id * this.stride + this.at);
    if (!(w >> 56n)) return null;
    return Uint8Array.from({ length: 6 }, (_, i) => Number((w >> BigInt(8 * i)) & 0xffn));
  }

  close(): void {
    this.mapped.close();
  }
}
