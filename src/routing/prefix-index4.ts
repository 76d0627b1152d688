/**
 * IPv4 prefix -> route id for a million prefixes, without a million JS objects or a hash
 * table whose every insert is a cache miss.
 *
 * Two tiers: a base of typed arrays sorted by (address, length), searched by binary search and
 * rebuilt in bulk with a radix sort (a full-table load is one sequential pass, not a million
 * random writes); and a small Map for prefixes added one at a time since the last rebuild.
 * Removing a base entry leaves a tombstone (id 0) until the next rebuild.
 */
import { sortedIndexOf } from '../util/typed-arrays.js';
import { PrefixMap4 } from './prefix-map4.js';

const NONE = 0; // route ids start at 1
const BUCKETS = 65536;

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

/** Whether (addr, plen) pairs ascend strictly, as radixSort() would leave them. */
export function inOrder(addr: Uint32Array, plen: Uint8Array, n: number): boolean {
  for (let i = 1; i < n; i++) {
    const a = addr[i - 1]!;
    const b = addr[i]!;
    if (a > b || (a === b && plen[i - 1]! >= plen[i]!)) return false;
  }
  return true;
}

/**
 * Puts (addr, plen, id) triples in a kernel table dump's order (ascending addresses, and for
 * one address the longest prefix first) into radixSort()'s order by reversing each run of one
 * address. False, with nothing moved, when they are not in that order.
 */
function fromDumpOrder(addr: Uint32Array, plen: Uint8Array, id: Uint32Array, n: number): boolean {
  for (let i = 1; i < n; i++) {
    const a = addr[i - 1]!;
    const b = addr[i]!;
    if (a > b || (a === b && plen[i - 1]! <= plen[i]!)) return false;
  }
  for (let i = 0; i < n;) {
    let j = i + 1;
    while (j < n && addr[j] === addr[i]) j++;
    for (let x = i, y = j - 1; x < y; x++, y--) {
      const tp = plen[x]!;
      plen[x] = plen[y]!;
      plen[y] = tp;
      const td = id[x]!;
      id[x] = id[y]!;
      id[y] = td;
    }
    i = j;
  }
  return true;
}

/**
 * Sorts (addr, plen, id) triples that are nearly in radixSort()'s order: one ascending run
 * holds all but a sixteenth of them at most (a table loaded in address order after the host's
 * own routes, read back by id when the table is opened). The others are sorted and merged in:
 * two passes instead of the sort's five. False, with nothing moved, when they are not so.
 */
function sortNearlyInOrder(addr: Uint32Array, plen: Uint8Array, id: Uint32Array, n: number): boolean {
  let runAt = 0;
  let runLen = 0;
  for (let i = 0; i < n;) {
    let j = i + 1;
    while (j < n && (addr[j - 1]! < addr[j]! || (addr[j - 1] === addr[j] && plen[j - 1]! < plen[j]!))) j++;
    if (j - i > runLen) {
      runAt = i;
      runLen = j - i;
    }
    i = j;
  }
  const r = n - runLen;
  if (r > n / 16) return false;
  const ra = new Uint32Array(r);
  const rp = new Uint8Array(r);
  const rd = new Uint32Array(r);
  for (let i = 0, k = 0; i < n; i++) {
    if (i === runAt) i += runLen;
    if (i >= n) break;
    ra[k] = addr[i]!;
    rp[k] = plen[i]!;
    rd[k++] = id[i]!;
  }
  radixSort(ra, rp, rd, r);
  const end = runAt + runLen;
  const merged = mergeSorted(addr.subarray(runAt, end), plen.subarray(runAt, end), id.subarray(runAt, end), ra, rp, rd, r, n);
  addr.set(merged.addr);
  plen.set(merged.plen);
  id.set(merged.id);
  return true;
}

/**
 * The entries of x but its tombstones (id NONE) and the first `m` of y, both in radixSort()'s
 * order, merged into new arrays of `n` entries (x's live ones and those m).
 */
function mergeSorted(
  xa: Uint32Array,
  xp: Uint8Array,
  xd: Uint32Array,
  ya: Uint32Array,
  yp: Uint8Array,
  yd: Uint32Array,
  m: number,
  n: number,
): { addr: Uint32Array; plen: Uint8Array; id: Uint32Array } {
  const addr = new Uint32Array(n);
  const plen = new Uint8Array(n);
  const id = new Uint32Array(n);
  let i = 0; // in x
  let j = 0; // in y
  for (let k = 0; k < n; k++) {
    while (i < xd.length && xd[i] === NONE) i++;
    if (i === xd.length) {
      // x is spent: the rest of y is copied as it is (a full table merged into the host's
      // few routes is nearly all this copy).
      addr.set(ya.subarray(j, m), k);
      plen.set(yp.subarray(j, m), k);
      id.set(yd.subarray(j, m), k);
      break;
    }
    const fromX = j >= m || xa[i]! < ya[j]! || (xa[i] === ya[j] && xp[i]! < yp[j]!);
    if (fromX) {
      addr[k] = xa[i]!;
      plen[k] = xp[i]!;
      id[k] = xd[i++]!;
    } else {
      addr[k] = ya[j]!;
      plen[k] = yp[j]!;
      id[k] = yd[j++]!;
    }
  }
  return { addr, plen, id };
}

export class PrefixIndex4 {
  private addrs: Uint32Array = new Uint32Array(0);
  private plens: Uint8Array = new Uint8Array(0);
  private ids: Uint32Array = new Uint32Array(0);
  /** Where each /16 starts in the base: entries with addr >>> 16 === b are at
   * [starts[b], starts[b + 1]). A search starts in its /16 (a real table's ~20 entries)
   * instead of the whole base: a removal asks for each shorter length in turn (its parent). */
  private readonly starts = new Uint32Array(BUCKETS + 1);
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
    const b = addr >>> 16;
    let lo = this.starts[b]!;
    let hi = this.starts[b + 1]! - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const a = this.addrs[mid]!;
      if (a < addr || (a === addr && this.plens[mid]! < plen)) lo = mid + 1;
      else if (a > addr || this.plens[mid]! > plen) hi = mid - 1;
      else return mid;
    }
    return -1;
  }

  /** Whether any prefix's address lies in [lo, hi]. The recent prefixes join the base first
   * (once: a bulk load asks this for each of its prefixes, and the base is binary-searched). */
  anyWithin(lo: number, hi: number): boolean {
    if (this.recent.size) this.settleRecent();
    const a = this.addrs;
    // The first base entry at or past lo.
    let from = this.starts[lo >>> 16]!;
    let to = a.length;
    while (from < to) {
      const mid = (from + to) >>> 1;
      if (a[mid]! < lo) from = mid + 1;
      else to = mid;
    }
    for (let i = from; i < a.length && a[i]! <= hi; i++) if (this.ids[i] !== NONE) return true;
    return false;
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

  /**
   * Which of `count` prefixes are present: 1 at each one's index; undefined when none is.
   * Asked of a full table being loaded, in address order, beside the host's few routes: then
   * each of the few is searched among the many (a binary search each) rather than each of the
   * 900k many here.
   */
  presentAmong(addrs: Uint32Array, plens: Uint8Array, count: number): Uint8Array | undefined {
    if (this.size === 0) return undefined;
    const out = new Uint8Array(count);
    let any = false;
    if (this.size * 16 >= count || !inOrder(addrs, plens, count)) {
      for (let i = 0; i < count; i++) {
        if (this.get(addrs[i]!, plens[i]!) === undefined) continue;
        out[i] = 1;
        any = true;
      }
      return any ? out : undefined;
    }
    const mark = (addr: number, plen: number) => {
      const at = sortedIndexOf(count, (i) => addrs[i]! - addr || plens[i]! - plen);
      if (at < 0) return;
      out[at] = 1;
      any = true;
    };
    for (let i = 0; i < this.ids.length; i++) if (this.ids[i] !== NONE) mark(this.addrs[i]!, this.plens[i]!);
    this.recent.forEach((addr, plen) => mark(addr, plen));
    return any ? out : undefined;
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
   * recent ones, and the live base entries, without a per-prefix allocation: the recent
   * prefixes and then the new ones are sorted (a radix sort; the new ones not at all when
   * they come in order, as a table dump does) and merged into the base, which is in order.
   */
  bulkAdd(addrs: Uint32Array, plens: Uint8Array, ids: Uint32Array, count: number): void {
    // Nothing to add: no rebuild. (A batch of IPv6 routes alone passes an empty IPv4 part; the
    // rebuild sorted a full table's 900k prefixes again, ~150 ms, for nothing.)
    if (count === 0) return;
    if (this.recent.size) this.settleRecent();
    // A full table in address order (a file's, or a kernel dump's): one pass tells, and
    // saves the sort's five passes (~150 ms here). The merge copies them: no copy to sort.
    if (inOrder(addrs, plens, count)) {
      this.merge(addrs, plens, ids, count);
      return;
    }
    const a = addrs.slice(0, count);
    const p = plens.slice(0, count);
    const d = ids.slice(0, count);
    if (!fromDumpOrder(a, p, d, count) && !sortNearlyInOrder(a, p, d, count)) radixSort(a, p, d, count);
    this.merge(a, p, d, count);
  }

  /** The recent prefixes go into the base (sorted: they are few). */
  private settleRecent(): void {
    const r = this.recent.size;
    const a = new Uint32Array(r);
    const p = new Uint8Array(r);
    const d = new Uint32Array(r);
    let k = 0;
    this.recent.forEach((addr, plen, id) => {
      a[k] = addr;
      p[k] = plen;
      d[k++] = id;
    });
    radixSort(a, p, d, r);
    this.merge(a, p, d, r);
    this.recent.clear();
  }

  /** The base becomes its live entries merged with (a, p, d), which is in order. */
  private merge(a: Uint32Array, p: Uint8Array, d: Uint32Array, m: number): void {
    const n = this.baseLive + m;
    const merged = mergeSorted(this.addrs, this.plens, this.ids, a, p, d, m, n); // tombstones go
    this.addrs = merged.addr;
    this.plens = merged.plen;
    this.ids = merged.id;
    this.baseLive = n;
    const starts = this.starts;
    let b = 0;
    for (let i = 0; i < n; i++) {
      const at = merged.addr[i]! >>> 16;
      while (b <= at) starts[b++] = i;
    }
    while (b <= BUCKETS) starts[b++] = n;
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
