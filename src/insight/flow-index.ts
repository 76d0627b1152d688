/**
 * A hash index over a flow snapshot's raw keys (pw_flows keys back to back, as a batch read
 * copies them): where a key is, found by its ten 32-bit words, with no string or object per
 * flow. A full table is a million flows; keyed by strings in a Map, the anomaly look and the
 * IPFIX pass took 5-12 s of the daemon's only thread and hundreds of MiB per look. This is
 * open addressing in two typed arrays.
 */
import * as abi from '../generated/pathwise.js';
import { Turns } from '../util/turn.js';

const K = abi.PwFlowKey;
/** 32-bit words in a key. */
export const KEY_WORDS = K.size / 4;

// The reverse of a key swaps the address words and the two port halves of one word; that
// needs the layout the pipeline has today (src, dst, then sport and dport in one word).
if (K.size !== 40 || K.offsets.src !== 0 || K.offsets.dst !== 16 || K.offsets.sport !== 32 || K.offsets.dport !== 34) {
  throw new Error('pw_flow_key changed its layout: src/insight/flow-index.ts reads it as src[16] dst[16] sport dport ...');
}
const PORTS_WORD = 8;

/** Words of a raw key buffer, copied only when the buffer is not 4-byte aligned. */
function wordsOf(keys: Buffer, count: number): Uint32Array {
  const bytes = count * K.size;
  if (keys.byteOffset % 4 === 0) return new Uint32Array(keys.buffer, keys.byteOffset, bytes / 4);
  const copy = new Uint32Array(bytes / 4);
  new Uint8Array(copy.buffer).set(keys.subarray(0, bytes));
  return copy;
}

/** Mixes a key's words into 32 bits (murmur3's word step and finalizer). */
function hashWords(w: Uint32Array, at: number): number {
  let h = 0x9747b28c;
  for (let i = 0; i < KEY_WORDS; i++) {
    let k = Math.imul(w[at + i]!, 0xcc9e2d51);
    k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
    h ^= k;
    h = Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export class FlowIndex {
  /** The keys as words: flow i is words[i*KEY_WORDS ...]. */
  readonly words: Uint32Array;
  /**
   * Open addressing, linear probing, two words a slot: a flow's position + 1 (0 where empty)
   * and its hash, compared before the key so a probe rarely reads another flow's key.
   */
  private readonly slots: Int32Array;
  private readonly mask: number;
  private readonly scratch = new Uint32Array(KEY_WORDS);

  private constructor(
    keys: Buffer,
    readonly count: number,
  ) {
    this.words = wordsOf(keys, count);
    let size = 16;
    while (size < count * 2) size *= 2;
    this.slots = new Int32Array(size * 2);
    this.mask = size - 1;
  }

  /**
   * Indexes `count` raw keys. A million take ~0.35 s (a cache miss each, in 16 MiB of slots),
   * in turns of the event loop.
   */
  static async build(keys: Buffer, count: number): Promise<FlowIndex> {
    const index = new FlowIndex(keys, count);
    const turns = new Turns();
    for (let i = 0; i < count; i++) {
      if (turns.due(i)) await turns.take();
      index.insert(i);
    }
    return index;
  }

  private insert(i: number): void {
    const h = hashWords(this.words, i * KEY_WORDS) | 0;
    // A key the table held twice (it cannot) would keep its first position.
    for (let s = h & this.mask; ; s = (s + 1) & this.mask) {
      const at = this.slots[2 * s]!;
      if (at === 0) {
        this.slots[2 * s] = i + 1;
        this.slots[2 * s + 1] = h;
        return;
      }
      if (this.slots[2 * s + 1] === h && this.equal(at - 1, this.words, i * KEY_WORDS)) return;
    }
  }

  private equal(pos: number, w: Uint32Array, at: number): boolean {
    const own = this.words;
    const base = pos * KEY_WORDS;
    for (let i = 0; i < KEY_WORDS; i++) if (own[base + i] !== w[at + i]) return false;
    return true;
  }

  /**
   * The position of the key at `w[at ...]` in this index, -1 when absent. `hint`, a position
   * to try first: the kernel hands a table out in bucket order, so a flow's position in one
   * snapshot is mostly the one after its predecessor's in the last (a compare in order
   * instead of a probe at random).
   */
  find(w: Uint32Array, at: number, hint = -1): number {
    if (hint >= 0 && hint < this.count && this.equal(hint, w, at)) return hint;
    const h = hashWords(w, at) | 0;
    for (let s = h & this.mask; ; s = (s + 1) & this.mask) {
      const pos = this.slots[2 * s]! - 1;
      if (pos < 0) return -1;
      if (this.slots[2 * s + 1] === h && this.equal(pos, w, at)) return pos;
    }
  }

  /** The position of flow `i`'s other direction (addresses and ports swapped), -1 when absent. */
  findReverse(i: number): number {
    const w = this.words,
      r = this.scratch;
    const base = i * KEY_WORDS;
    for (let j = 0; j < 4; j++) {
      r[j] = w[base + 4 + j]!;
      r[4 + j] = w[base + j]!;
    }
    const ports = w[base + PORTS_WORD]!;
    r[PORTS_WORD] = (ports >>> 16) | (ports << 16);
    for (let j = PORTS_WORD + 1; j < KEY_WORDS; j++) r[j] = w[base + j]!;
    return this.find(r, 0);
  }
}
