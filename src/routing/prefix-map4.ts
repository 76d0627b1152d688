/**
 * A hash map from IPv4 prefixes (address, length) to values, in typed arrays with open
 * addressing. A JS Map keyed by `plen * 2^32 + addr` hashes a heap number per operation; for
 * a full table (~900k prefixes, several operations each per sync) that was most of the import's
 * time. Here a lookup is a multiply, a mask and a probe or two.
 */
const EMPTY = 255;
const DELETED = 254;

export class PrefixMap4<V> {
  private addrs: Uint32Array;
  private plens: Uint8Array;
  private vals: (V | undefined)[];
  private mask: number;
  private used = 0; // live entries and tombstones
  private live = 0;

  constructor(capacity = 1024) {
    this.addrs = new Uint32Array(0);
    this.plens = new Uint8Array(0);
    this.vals = [];
    this.mask = 0;
    this.allocate(capacity);
  }

  /** Empty slots for `entries` at most half full (a power of two, at least 1024). */
  private allocate(entries: number): void {
    let n = 1024;
    while (n < entries * 2) n *= 2;
    this.addrs = new Uint32Array(n);
    this.plens = new Uint8Array(n).fill(EMPTY);
    this.vals = new Array<V | undefined>(n);
    this.mask = n - 1;
  }

  get size(): number {
    return this.live;
  }

  private static hash(addr: number, plen: number): number {
    return (Math.imul(addr ^ (plen << 24) ^ (addr >>> 15), 0x9e3779b1) >>> 0) ^ plen;
  }

  /** The slot holding (addr, plen), or -1. */
  private find(addr: number, plen: number): number {
    for (let i = PrefixMap4.hash(addr, plen) & this.mask; ; i = (i + 1) & this.mask) {
      const p = this.plens[i]!;
      if (p === EMPTY) return -1;
      if (p === plen && this.addrs[i] === addr) return i;
    }
  }

  get(addr: number, plen: number): V | undefined {
    const i = this.find(addr, plen);
    return i < 0 ? undefined : this.vals[i];
  }

  has(addr: number, plen: number): boolean {
    return this.find(addr, plen) >= 0;
  }

  set(addr: number, plen: number, v: V): void {
    const at = this.find(addr, plen);
    if (at >= 0) {
      this.vals[at] = v;
      return;
    }
    this.insertNew(addr, plen, v);
  }

  /** set() for a prefix known to be absent (no search for it first). */
  insertNew(addr: number, plen: number, v: V): void {
    if ((this.used + 1) * 2 > this.plens.length) this.rehash(this.live + 1);
    let i = PrefixMap4.hash(addr, plen) & this.mask;
    while (this.plens[i] !== EMPTY && this.plens[i] !== DELETED) i = (i + 1) & this.mask;
    if (this.plens[i] === EMPTY) this.used++;
    this.addrs[i] = addr;
    this.plens[i] = plen;
    this.vals[i] = v;
    this.live++;
  }

  /**
   * Sets (addr, plen) to `v` if it has no value; returns the value it had (undefined: it had
   * none, and now has `v`). One probe sequence where get() then insertNew() take two: loading
   * a dump, nearly every prefix is new.
   */
  setIfAbsent(addr: number, plen: number, v: V): V | undefined {
    if ((this.used + 1) * 2 > this.plens.length) this.rehash(this.live + 1);
    let free = -1;
    let i = PrefixMap4.hash(addr, plen) & this.mask;
    for (; ; i = (i + 1) & this.mask) {
      const p = this.plens[i]!;
      if (p === EMPTY) break;
      if (p === DELETED) {
        if (free < 0) free = i;
      } else if (p === plen && this.addrs[i] === addr) return this.vals[i];
    }
    if (free < 0) {
      free = i;
      this.used++;
    }
    this.addrs[free] = addr;
    this.plens[free] = plen;
    this.vals[free] = v;
    this.live++;
    return undefined;
  }

  delete(addr: number, plen: number): boolean {
    const i = this.find(addr, plen);
    if (i < 0) return false;
    this.plens[i] = DELETED;
    this.vals[i] = undefined;
    this.live--;
    return true;
  }

  /** Empties it; with `expect`, sized for that many entries. */
  clear(expect = 0): void {
    if (expect * 2 > this.plens.length) this.allocate(expect);
    else {
      this.plens.fill(EMPTY);
      this.vals.fill(undefined);
    }
    this.used = this.live = 0;
  }

  /** Calls fn for every entry (the map must not change meanwhile). */
  forEach(fn: (addr: number, plen: number, v: V) => void): void {
    for (let i = 0; i < this.plens.length; i++) {
      const p = this.plens[i]!;
      if (p !== EMPTY && p !== DELETED) fn(this.addrs[i]!, p, this.vals[i]!);
    }
  }

  private rehash(need: number): void {
    const { addrs, plens, vals } = this;
    this.allocate(need);
    this.used = this.live = 0;
    // Every key is distinct: placed without searching for it first.
    for (let i = 0; i < plens.length; i++) if (plens[i] !== EMPTY && plens[i] !== DELETED) this.insertNew(addrs[i]!, plens[i]!, vals[i]!);
  }
}
