/**
 * The IPv4 DIR-24-8 table, written in place. `tbl24` has 2^24 entries (one per /24), `tbl8`
 * has groups of 256 entries for /24s that hold longer prefixes. An entry is 0 (no route), a
 * route id, or EXT|group. Both arrays are the mmap-ed BPF maps in production and plain
 * arrays in unit tests: this module is pure logic over Uint32Arrays.
 *
 * Update order, so a concurrent lookup never sees a half-written route:
 * - a new group is filled completely before the tbl24 entry is switched to point at it;
 * - every entry is one aligned 32-bit store (Uint32Array), which the CPU makes atomic;
 * - a freed group is reused last (FIFO), long after any lookup that read its old pointer.
 * A lookup during an update sees, per address, either the old route or the new one.
 */
import { PwError } from '../errors.js';
import { flaggedWords } from '../kernel/scan.js';

export const EXT = 0x80000000;
const GROUP_MASK = 0x7fffffff;

export class Fib4Table {
  /** Which tbl24 index owns each group (-1: free). */
  private readonly owner: Int32Array;
  private readonly freeGroups: number[] = [];
  private freeHead = 0;

  /**
   * @param plens prefix length per route id, 255 for ids not in use; index 0 (no route) must
   *              hold 255. Lets an insert keep longer prefixes that are already in place.
   *              (An array, not a callback: a full-table load checks ~15M entries.)
   */
  constructor(
    readonly tbl24: Uint32Array,
    readonly tbl8: Uint32Array,
    private readonly plens: Uint8Array,
  ) {
    if (tbl24.length !== 1 << 24) throw new PwError('PW_ERR_INTERNAL', `tbl24 must have 2^24 entries, has ${tbl24.length}`);
    const groups = tbl8.length >>> 8;
    this.owner = new Int32Array(groups).fill(-1);
    // Adopt whatever the arrays already hold (a pinned table after a restart). The 16M entries
    // are searched natively: a JavaScript loop over them cost ~100 ms of every command's start.
    for (const i of flaggedWords(tbl24, EXT)) this.owner[tbl24[i]! & GROUP_MASK] = i;
    for (let g = 0; g < groups; g++) if (this.owner[g] === -1) this.freeGroups.push(g);
  }

  get groupsInUse(): number {
    return this.owner.length - (this.freeGroups.length - this.freeHead);
  }

  get groupCapacity(): number {
    return this.owner.length;
  }

  /** The route id for an address, as the data plane computes it. */
  lookup(addr: number): number {
    const e = this.tbl24[addr >>> 8]!;
    return e & EXT ? this.tbl8[((e & GROUP_MASK) << 8) | (addr & 255)]! : e;
  }

  /** Groups that insert(prefix, plen) would need on top of those in use. */
  groupsNeeded(prefix: number, plen: number): number {
    return plen > 24 && !(this.tbl24[prefix >>> 8]! & EXT) ? 1 : 0;
  }

  /**
   * Installs `route` for prefix/plen. Entries covered by a longer prefix keep it; entries of
   * the same or a shorter prefix take the new route.
   *
   * @param nothingLonger the caller knows that no longer prefix lies inside this one (no route
   *   of the table has its address in the range): a prefix of /24 or shorter then takes its
   *   entries with one fill, not an entry-by-entry check (a full table's ~16M entries: ~0.3 s
   *   of JavaScript here).
   */
  insert(prefix: number, plen: number, route: number, nothingLonger = false): void {
    if (plen <= 24 && nothingLonger) {
      const start = prefix >>> 8;
      const end = start + (1 << (24 - plen));
      // Most prefixes of a table are /24s, one entry: a store costs less than a call to fill.
      if (plen >= 20) for (let i = start; i < end; i++) this.tbl24[i] = route;
      else this.tbl24.fill(route, start, end);
      return;
    }
    if (plen <= 24) {
      const start = prefix >>> 8;
      const end = start + (1 << (24 - plen));
      const t = this.tbl24;
      const plens = this.plens;
      // (plens[e] + 1) & 255: 0 for "no route" or an unused id, the prefix length + 1 otherwise.
      for (let i = start; i < end; i++) {
        const e = t[i]!;
        if (e & EXT) this.fillGroup(e & GROUP_MASK, 0, 256, route, plen);
        else if (e !== route && ((plens[e]! + 1) & 255) <= plen + 1) t[i] = route;
      }
      return;
    }
    const i = prefix >>> 8;
    let e = this.tbl24[i]!;
    if (!(e & EXT)) e = this.split(i, e);
    this.fillGroup(e & GROUP_MASK, prefix & 255, 2 ** (32 - plen), route, plen);
  }

  /**
   * Removes `route` (prefix/plen), putting `parent` (the longest remaining prefix covering
   * it, or 0) back in its place. Groups that become uniform are folded back into tbl24.
   */
  remove(prefix: number, plen: number, route: number, parent: number): void {
    if (plen <= 24) {
      const start = prefix >>> 8;
      const end = start + 2 ** (24 - plen);
      for (let i = start; i < end; i++) {
        const e = this.tbl24[i]!;
        if (e & EXT) {
          this.replaceInGroup(e & GROUP_MASK, 0, 256, route, parent);
          this.maybeCollapse(i);
        } else if (e === route) this.tbl24[i] = parent;
      }
      return;
    }
    const i = prefix >>> 8;
    const e = this.tbl24[i]!;
    if (!(e & EXT)) return;
    this.replaceInGroup(e & GROUP_MASK, prefix & 255, 2 ** (32 - plen), route, parent);
    this.maybeCollapse(i);
  }

  /** Sets group entries [from, from+count) to `route` where no longer prefix holds them. */
  private fillGroup(g: number, from: number, count: number, route: number, plen: number): void {
    const base = g << 8;
    const t = this.tbl8;
    const plens = this.plens;
    for (let j = base + from; j < base + from + count; j++) {
      const e = t[j]!;
      if (e !== route && ((plens[e]! + 1) & 255) <= plen + 1) t[j] = route;
    }
  }

  private replaceInGroup(g: number, from: number, count: number, route: number, parent: number): void {
    const base = g << 8;
    const t = this.tbl8;
    for (let j = base + from; j < base + from + count; j++) if (t[j] === route) t[j] = parent;
  }

  /** Gives tbl24[i] (a plain entry) a group holding that entry 256 times; returns EXT|group. */
  private split(i: number, covering: number): number {
    if (this.freeHead >= this.freeGroups.length) {
      throw new PwError('PW_ERR_FULL', `the IPv4 FIB has no free second-level group (all ${this.owner.length} in use)`, {
        hint: 'raise pipeline.ipv4Groups (prefixes longer than /24 need one group per /24 they fall in)',
      });
    }
    const g = this.freeGroups[this.freeHead++]!;
    if (this.freeHead > 4096 && this.freeHead * 2 > this.freeGroups.length) {
      this.freeGroups.splice(0, this.freeHead);
      this.freeHead = 0;
    }
    this.tbl8.fill(covering, g << 8, (g + 1) << 8);
    this.owner[g] = i;
    const e = (EXT | g) >>> 0;
    this.tbl24[i] = e; // the group is complete before anything points at it
    return e;
  }

  private maybeCollapse(i: number): void {
    const e = this.tbl24[i]!;
    const g = e & GROUP_MASK;
    const base = g << 8;
    const first = this.tbl8[base]!;
    for (let j = base + 1; j < base + 256; j++) if (this.tbl8[j] !== first) return;
    this.tbl24[i] = first;
    this.owner[g] = -1;
    this.freeGroups.push(g); // reused last: a lookup that read the old pointer still finds valid data
  }
}
