/**
 * IPv4 prefix -> route id for a million prefixes, without a million JS objects or a hash
 * table whose every insert is a cache miss.
 *
 * Two tiers: a base of typed arrays sorted by (address, length), searched by binary search and
 * rebuilt in bulk with a radix sort (a full-table load is one sequential pass, not a million
 * random writes); and a small Map for prefixes added one at a time since the last rebuild.
 * Removing a base entry leaves a tombstone (id 0) until the next rebuild.
 */
import { PrefixMap4 } from './prefix-map4.js';

const NONE = 0; // route ids start at 1

/** Sorts (addr, plen, id) triples by addr, then plen: LSD radix, plen first, then the 4
 * address bytes. The digit is computed inline in each pass (a callback per element costs more
 * than the sort). */
function radixSort(addr: Uint32Array, plen: Uint8Array, id: Uint32Array, n: number): void {
  let a: Uint32Array = addr;
  let p: Uint8Array = plen;
  let d: Uint32Array = id;
  let a2: Uint32Array = new Uint32Array(n);
  let p2: Uint8Array = new Uint8Array(n);
  let d2: Uint32Array = new Uint32Array(n);
  const count = new Uint32Array(257);
  for (let shift = -1; shift < 32; shift += shift < 0 ? 1 : 8) {
    // shift -1: the plen pass (values 0..32); then address bytes at shifts 0, 8, 16, 24.
    count.fill(0);
    if (shift < 0) for (let i = 0; i < n; i++) count[p[i]! + 1]!++;
    else for (let i = 0; i < n; i++) count[((a[i]! >>> shift) & 255) + 1]!++;
    for (let b = 1; b <= 256; b++) count[b]! += count[b - 1]!;
    for (let i = 0; i < n; i++) {
      const at = count[shift < 0 ? p[i]! : (a[i]! >>> shift) & 255]!++;
      a2[at] = a[i]!;
      p2[at] = p[i]!;
      d2[at] = d[i]!;
    }
    [a, a2] = [a2, a];
    [p, p2] = [p2, p];
    [d, d2] = [d2, d];
  }
  // Five passes: the sorted data ended in the scratch arrays; copy it home.
  addr.set(a.subarray(0, n));
  plen.set(p.subarray(0, n));
  id.set(d.subarray(0, n));
}

export class PrefixIndex4 {
  private addrs: Uint32Array = new Uint32Array(0);
  private plens: Uint8Array = new Uint8Array(0);
  private ids: Uint32Array = new Uint32Array(0);
  private baseLive = 0;
  /** Prefixes added one at a time since the last rebuild: a typed-array hash (a Map keyed by
   * plen * 2^32 + addr boxed a number per lookup, and every lookup of a full import asks here). */
  private readonly recent = new PrefixMap4<number>(64);

  private static key(addr: number, plen: number): number {
    return plen * 4294967296 + addr;
  }

  get size(): number {
    return this.baseLive + this.recent.size;
  }

  /** Position of (addr, plen) in the base, or -1. */
  private find(addr: number, plen: number): number {
    let lo = 0;
    let hi = this.addrs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const a = this.addrs[mid]!;
      if (a < addr || (a === addr && this.plens[mid]! < plen)) lo = mid + 1;
      else if (a > addr || this.plens[mid]! > plen) hi = mid - 1;
      else return mid;
    }
    return -1;
  }

  get(addr: number, plen: number): number | undefined {
    if (this.recent.size) {
      const r = this.recent.get(addr, plen);
      if (r !== undefined) return r;
    }
    if (!this.addrs.length) return undefined;
    const i = this.find(addr, plen);
    return i >= 0 && this.ids[i] !== NONE ? this.ids[i] : undefined;
  }

  set(addr: number, plen: number, id: number): void {
    const i = this.addrs.length ? this.find(addr, plen) : -1;
    if (i >= 0) {
      if (this.ids[i] === NONE) this.baseLive++;
      this.ids[i] = id;
      return;
    }
    this.recent.set(addr, plen, id);
  }

  delete(addr: number, plen: number): boolean {
    if (this.recent.delete(addr, plen)) return true;
    const i = this.addrs.length ? this.find(addr, plen) : -1;
    if (i < 0 || this.ids[i] === NONE) return false;
    this.ids[i] = NONE;
    this.baseLive--;
    return true;
  }

  /**
   * Adds many prefixes (none of which may be present) and rebuilds the base with them, the
   * recent ones, and the live base entries: one radix sort, no per-prefix allocation.
   */
  bulkAdd(addrs: Uint32Array, plens: Uint8Array, ids: Uint32Array, count: number): void {
    // Nothing to add: no rebuild. (A batch of IPv6 routes alone passes an empty IPv4 part; the
    // rebuild sorted a full table's 900k prefixes again, ~150 ms, for nothing.)
    if (count === 0) return;
    const n = this.baseLive + this.recent.size + count;
    const a = new Uint32Array(n);
    const p = new Uint8Array(n);
    const d = new Uint32Array(n);
    let k = 0;
    for (let i = 0; i < this.addrs.length; i++) {
      if (this.ids[i] === NONE) continue;
      a[k] = this.addrs[i]!;
      p[k] = this.plens[i]!;
      d[k++] = this.ids[i]!;
    }
    this.recent.forEach((addr, plen, id) => {
      a[k] = addr;
      p[k] = plen;
      d[k++] = id;
    });
    a.set(addrs.subarray(0, count), k);
    p.set(plens.subarray(0, count), k);
    d.set(ids.subarray(0, count), k);
    radixSort(a, p, d, n);
    this.addrs = a;
    this.plens = p;
    this.ids = d;
    this.baseLive = n;
    this.recent.clear();
  }

  *values(): IterableIterator<number> {
    for (let i = 0; i < this.ids.length; i++) if (this.ids[i] !== NONE) yield this.ids[i]!;
    const recent: number[] = [];
    this.recent.forEach((_a, _p, id) => recent.push(id));
    yield* recent;
  }

  /** Calls fn(plen * 2^32 + addr, id) for every prefix. */
  forEach(fn: (key: number, id: number) => void): void {
    for (let i = 0; i < this.ids.length; i++) if (this.ids[i] !== NONE) fn(PrefixIndex4.key(this.addrs[i]!, this.plens[i]!), this.ids[i]!);
    this.recent.forEach((addr, plen, id) => fn(PrefixIndex4.key(addr, plen), id));
  }
}
