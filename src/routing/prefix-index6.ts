/**
 * IPv6 prefix -> id, for a full table's worth of prefixes without a string or an object per
 * prefix: an open-addressing hash table (linear probing) of ids, whose keys are not stored in
 * it but read where they already are: `bytes` holds id's 16 address bytes at
 * id * stride + offset, and `plens` its prefix length at id + plenOffset. The route table points
 * it at its own copy of each route's address (not the pinned records: a record damaged behind
 * its back must not lose the route's key); a load points one at the parsed batch, to find a
 * prefix given twice.
 *
 * A key's bytes past its prefix length must be zero (routes and parsed prefixes are); a
 * query's need not be: get() masks the address to the length asked for. An id's key must not
 * change while the id is in the index: delete it first.
 */

const EMPTY = 0; // ids start at 1

/** The mask of the bits of 32-bit word k (0..3) that a /plen covers. */
function wordMask(k: number, plen: number): number {
  const bits = plen - 32 * k;
  return bits >= 32 ? -1 : bits <= 0 ? 0 : -1 << (32 - bits);
}

/** The 32-bit word k of the address at `at`, masked to plen bits. */
function word(b: Uint8Array, at: number, k: number, plen: number): number {
  const o = at + 4 * k;
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) & wordMask(k, plen);
}

/** The hash of addr/plen (the address at `at` in b, masked to plen); exported for tests. */
export function hashPrefix6(b: Uint8Array, at: number, plen: number): number {
  let h = Math.imul(plen + 1, 0x9e3779b1);
  for (let k = 0; k < 4; k++) {
    h = Math.imul(h ^ word(b, at, k, plen), 0x85ebca6b);
    h ^= h >>> 13;
  }
  h = Math.imul(h ^ (h >>> 16), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Orders x's prefix at xa (length xl) against y's at ya (length yl): by address, then length. */
export function comparePrefix6(x: Uint8Array, xa: number, xl: number, y: Uint8Array, ya: number, yl: number): number {
  for (let i = 0; i < 16; i++) {
    const d = x[xa + i]! - y[ya + i]!;
    if (d) return d;
  }
  return xl - yl;
}

/**
 * Whether the prefixes at[0..count) (each address at 16 * at[k] in addr, its length plen[at[k]];
 * without `at`, the prefixes 0..count) strictly ascend: a table dump in address order has no
 * prefix twice, and the prefixes a node serves are neighbours.
 */
export function ascending6(addr: Uint8Array, plen: Uint8Array, count: number, at?: Uint32Array): boolean {
  for (let k = 1; k < count; k++) {
    const i = at ? at[k]! : k;
    const h = at ? at[k - 1]! : k - 1;
    if (comparePrefix6(addr, 16 * h, plen[h]!, addr, 16 * i, plen[i]!) >= 0) return false;
  }
  return true;
}

export class PrefixIndex6 {
  private slots: Uint32Array;
  private count = 0;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly stride: number,
    private readonly offset: number,
    private readonly plens: Uint8Array,
    private readonly plenOffset = 0,
    expected = 0,
  ) {
    this.slots = new Uint32Array(PrefixIndex6.capacityFor(expected));
  }

  /** A power of two at least twice `n` (the table stays at most half full). */
  private static capacityFor(n: number): number {
    let c = 64;
    while (c < 2 * n) c *= 2;
    return c;
  }

  get size(): number {
    return this.count;
  }

  private keyHash(id: number): number {
    return hashPrefix6(this.bytes, id * this.stride + this.offset, this.plens[id + this.plenOffset]!);
  }

  /** Whether id's key is addr/plen (addr at `at` in b, masked to plen). */
  private holds(id: number, b: Uint8Array, at: number, plen: number): boolean {
    if (this.plens[id + this.plenOffset] !== plen) return false;
    const o = id * this.stride + this.offset;
    for (let k = 0; k < 4; k++) if (word(this.bytes, o, k, 128) !== word(b, at, k, plen)) return false;
    return true;
  }

  /** The id of addr/plen (the address at `at` in `b`; its bits past plen are ignored). */
  get(b: Uint8Array, at: number, plen: number): number | undefined {
    if (!this.count) return undefined; // a first load asks once per prefix
    const mask = this.slots.length - 1;
    for (let s = hashPrefix6(b, at, plen) & mask; ; s = (s + 1) & mask) {
      const id = this.slots[s]!;
      if (id === EMPTY) return undefined;
      if (this.holds(id, b, at, plen)) return id;
    }
  }

  has(b: Uint8Array, at: number, plen: number): boolean {
    return this.get(b, at, plen) !== undefined;
  }

  /** Adds id under its own key, which must not be in the index yet. */
  add(id: number): void {
    if (2 * (this.count + 1) > this.slots.length) this.grow();
    const mask = this.slots.length - 1;
    let s = this.keyHash(id) & mask;
    while (this.slots[s] !== EMPTY) s = (s + 1) & mask;
    this.slots[s] = id;
    this.count++;
  }

  /** Adds id unless an id with its key is there already: returns that id, or 0 when it added. */
  addUnlessPresent(id: number): number {
    if (2 * (this.count + 1) > this.slots.length) this.grow();
    const mask = this.slots.length - 1;
    const at = id * this.stride + this.offset;
    const plen = this.plens[id + this.plenOffset]!;
    let s = hashPrefix6(this.bytes, at, plen) & mask;
    for (let other = this.slots[s]!; other !== EMPTY; other = this.slots[s]!) {
      if (this.holds(other, this.bytes, at, plen)) return other;
      s = (s + 1) & mask;
    }
    this.slots[s] = id;
    this.count++;
    return 0;
  }

  /** Removes id (its key still as it was added); returns whether it was there. Later entries of
   * its probe run move back into the gap (no tombstones: lookups stay short after churn). */
  delete(id: number): boolean {
    const slots = this.slots;
    const mask = slots.length - 1;
    let s = this.keyHash(id) & mask;
    while (slots[s] !== id) {
      if (slots[s] === EMPTY) return false;
      s = (s + 1) & mask;
    }
    let gap = s;
    for (let j = (s + 1) & mask; slots[j] !== EMPTY; j = (j + 1) & mask) {
      const home = this.keyHash(slots[j]!) & mask;
      // The entry at j may fill the gap when its home is not cyclically in (gap, j].
      if ((j > gap && (home <= gap || home > j)) || (j < gap && home <= gap && home > j)) {
        slots[gap] = slots[j]!;
        gap = j;
      }
    }
    slots[gap] = EMPTY;
    this.count--;
    return true;
  }

  /** The ids in ascending order (a bulk load takes ids in the order it installs). */
  values(): Uint32Array {
    const out = new Uint32Array(this.count);
    let n = 0;
    for (const id of this.slots) if (id !== EMPTY) out[n++] = id;
    return out.sort();
  }

  /** Room for `n` ids in all without growing on the way (a bulk load says so first). */
  reserve(n: number): void {
    if (2 * n > this.slots.length) this.rehash(PrefixIndex6.capacityFor(n));
  }

  private grow(): void {
    this.rehash(this.slots.length * 2);
  }

  private rehash(capacity: number): void {
    const old = this.slots;
    this.slots = new Uint32Array(capacity);
    this.count = 0;
    for (const id of old) if (id !== EMPTY) this.add(id);
  }
}
