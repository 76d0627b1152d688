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

/** struct pw_nh_mac as the one 64-bit word the pipeline loads (its generated codec, read as a
 * little-endian u64: the host's order, as Atomics sees the mapped memory). */
const scratch = new DataView(new ArrayBuffer(8));
if (abi.PwNhMac.size !== 8) throw new Error('pw_nh_mac is no longer one 64-bit word');

function macWord(mac: Uint8Array | null): bigint {
  abi.PwNhMac.encode(mac ? { mac, known: 1 } : abi.PwNhMac.zero(), scratch, 0);
  return scratch.getBigUint64(0, true);
}

function wordMac(w: bigint): Uint8Array | null {
  scratch.setBigUint64(0, w, true);
  const v = abi.PwNhMac.decode(scratch, 0);
  return v.known ? v.mac : null;
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
    return wordMac(Atomics.load(this.words, id * this.stride + this.at));
  }

  close(): void {
    this.mapped.close();
  }
}
