/**
 * IPv4 prefix -> route id, as an open-addressing hash table in one typed array. A full table
 * is a million prefixes; a JS Map keyed by numbers above 2^30 boxes every key, and the garbage
 * collector then costs more than the work. A slot is two 32-bit words, [addr][id << 6 | plen]
 * (one cache line for both), id 0 meaning empty. Linear probing with backward-shift deletion
 * keeps lookups short without tombstones.
 */
export class PrefixIndex4 {
  private readonly slots: Uint32Array;
  private readonly mask: number;
  private count = 0;

  /** @param capacity the most prefixes it will hold (the table is sized at twice that);
   * ids must be below 2^26. */
  constructor(capacity: number) {
    let size = 1024;
    while (size < capacity * 2) size *= 2;
    this.slots = new Uint32Array(size * 2);
    this.mask = size - 1;
  }

  get size(): number {
    return this.count;
  }

  private home(addr: number, plen: number): number {
    // A multiplicative hash of both fields; Math.imul keeps it in 32-bit integers.
    return (Math.imul(addr ^ Math.imul(plen + 1, 0x9e3779b9), 0x85ebca6b) >>> 7) & this.mask;
  }

  get(addr: number, plen: number): number | undefined {
    const s = this.slots;
    for (let i = this.home(addr, plen); ; i = (i + 1) & this.mask) {
      const tag = s[2 * i + 1]!;
      if (tag === 0) return undefined;
      if ((tag & 63) === plen && s[2 * i] === addr) return tag >>> 6;
    }
  }

  set(addr: number, plen: number, id: number): void {
    const s = this.slots;
    for (let i = this.home(addr, plen); ; i = (i + 1) & this.mask) {
      const tag = s[2 * i + 1]!;
      if (tag === 0 || ((tag & 63) === plen && s[2 * i] === addr)) {
        if (tag === 0) this.count++;
        s[2 * i] = addr;
        s[2 * i + 1] = ((id << 6) | plen) >>> 0;
        return;
      }
    }
  }

  delete(addr: number, plen: number): boolean {
    const s = this.slots;
    let i = this.home(addr, plen);
    for (; ; i = (i + 1) & this.mask) {
      const tag = s[2 * i + 1]!;
      if (tag === 0) return false;
      if ((tag & 63) === plen && s[2 * i] === addr) break;
    }
    // Backward shift: move later entries of the probe run into the hole when their home slot
    // allows it, so no lookup ever stops early at a gap.
    let hole = i;
    for (let j = (i + 1) & this.mask; s[2 * j + 1] !== 0; j = (j + 1) & this.mask) {
      const home = this.home(s[2 * j]!, s[2 * j + 1]! & 63);
      const between = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (between) continue;
      s[2 * hole] = s[2 * j]!;
      s[2 * hole + 1] = s[2 * j + 1]!;
      hole = j;
    }
    s[2 * hole + 1] = 0;
    this.count--;
    return true;
  }

  *values(): IterableIterator<number> {
    const s = this.slots;
    for (let i = 1; i < s.length; i += 2) if (s[i] !== 0) yield s[i]! >>> 6;
  }
}
