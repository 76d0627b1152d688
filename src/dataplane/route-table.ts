/**
 * The routes in the data plane: one route record per prefix in the mmap-ed pw_routes array,
 * IPv4 prefixes in the DIR-24-8 table, IPv6 prefixes in the LPM trie. The pinned maps are the
 * state: opening a table adopts whatever they hold. The records are also the control plane's
 * storage (a full table is a million routes): besides them it keeps only prefix -> id maps
 * and one byte per id, and builds Route objects when asked.
 *
 * Order of writes: a route record is complete before the FIB points at it; a removed route is
 * first replaced in the FIB by its parent (the longest prefix still covering it), then its
 * record is invalidated, and its id is reused last.
 */
import * as abi from '../generated/pathwise.js';
import type { MappedArray } from '../kernel/index.js';
import { PwError } from '../errors.js';
import { formatPrefix, type Family, type Prefix } from '../util/ip.js';
import { Fib4Table } from '../routing/fib4-table.js';
import { PrefixIndex4 } from '../routing/prefix-index4.js';
import type { RouteType } from '../routing/route.js';
import type { NexthopTable } from './nexthop-table.js';
import type { PipelineMaps } from './pipeline.js';

/** A snapshot of one route. */
export interface Route {
  id: number;
  prefix: Prefix;
  /** Nexthop group id, or a PW_NHG_* special for the other route types. */
  nhg: number;
  metric: number;
  /** Derived from the host's addresses (routing/host-routes.ts), not added by the user. */
  system: boolean;
}

const SPECIAL_NHG: Record<Exclude<RouteType, 'unicast'>, number> = {
  blackhole: abi.PwNhgSpecial.BLACKHOLE,
  local: abi.PwNhgSpecial.LOCAL,
  kernel: abi.PwNhgSpecial.KERNEL,
};

export function routeTypeOf(nhg: number): RouteType {
  for (const [t, id] of Object.entries(SPECIAL_NHG)) if (id === nhg) return t as RouteType;
  return 'unicast';
}

export const specialNhg = (t: Exclude<RouteType, 'unicast'>) => SPECIAL_NHG[t];

/** Numeric key of an IPv4 prefix (fits a double exactly); IPv6 prefixes use strings. */
export const v4Key = (addr: number, plen: number) => plen * 4294967296 + addr;
const v4Mask = (plen: number) => (plen === 0 ? 0 : (0xffffffff << (32 - plen)) >>> 0);
const UNUSED = 255;

const R = abi.PwRoute.offsets;

// writeRecordV4() stores struct pw_route as 32-bit words for speed. That word layout must be
// the generated one: if abi.h changes, fail here, at load, not by corrupting routes.
if (abi.PwRoute.size !== 32 || R.nhg !== 0 || R.plen !== 4 || R.family !== 5 || R.flags !== 6 || R.prefix !== 8 || R.metric !== 24) {
  throw new Error('struct pw_route changed: update RouteTable.writeRecordV4 to the new layout');
}
const VALID = abi.PwRouteFlag.VALID;
const SYSTEM = abi.PwRouteFlag.SYSTEM;

/** IPv4 routes to install in one go (struct of arrays: a full table is a million routes). */
export interface V4Bulk {
  count: number;
  addr: Uint32Array;
  plen: Uint8Array;
  nhg: Uint32Array;
  metric: Uint32Array;
}

export class RouteTable {
  readonly fib4: Fib4Table;
  private readonly records: MappedArray<abi.PwRoute>;
  private readonly view: DataView;
  private readonly bytes: Uint8Array;
  private readonly stride: number;
  /** The records as 32-bit words (a record is 8 words), for the bulk path's plain stores. */
  private readonly words: Uint32Array;
  private readonly v4: PrefixIndex4;
  private readonly v6 = new Map<string, number>();
  /** Prefix length per route id (255: unused), for the FIB builder. */
  private readonly plens: Uint8Array;
  private readonly freeIds: Uint32Array;
  private freeHead = 0;
  private freeTail = 0;
  private readonly tbl24Map: MappedArray<abi.PwFib4Block>;
  /** Ids of the routes derived from the host's addresses (a few, among maybe a million). */
  private readonly systemIds = new Set<number>();
  private readonly tbl8Map: MappedArray<abi.PwFib4Group>;

  constructor(
    private readonly maps: PipelineMaps,
    private readonly nexthops: NexthopTable,
  ) {
    this.records = maps.routes.mmap();
    this.view = this.records.view;
    this.bytes = this.records.bytes;
    this.stride = this.records.stride;
    this.words = new Uint32Array(this.view.buffer, 0, (this.records.length * this.stride) / 4);
    this.plens = new Uint8Array(this.records.length).fill(UNUSED);
    this.v4 = new PrefixIndex4();
    // A ring of free ids: taken from the head, returned at the tail (reused last).
    this.freeIds = new Uint32Array(this.records.length);
    this.tbl24Map = maps.fib4Tbl24.mmap();
    this.tbl8Map = maps.fib4Tbl8.mmap();
    const tbl24 = new Uint32Array(this.tbl24Map.view.buffer, 0, 1 << 24);
    const tbl8 = new Uint32Array(this.tbl8Map.view.buffer, 0, this.tbl8Map.length * 256);
    this.fib4 = new Fib4Table(tbl24, tbl8, this.plens); // plens[0] stays UNUSED: "no route"
    this.adopt();
  }

  private adopt(): void {
    const v = this.view;
    const a4: number[] = [];
    const p4: number[] = [];
    const i4: number[] = [];
    for (let id = 1; id < this.records.length; id++) {
      const off = id * this.stride;
      if (!(v.getUint16(off + R.flags, true) & VALID)) {
        this.freeIds[this.freeTail++] = id;
        continue;
      }
      const plen = v.getUint8(off + R.plen);
      this.plens[id] = plen;
      if (v.getUint16(off + R.flags, true) & SYSTEM) this.systemIds.add(id);
      if (v.getUint8(off + R.family) === 4) {
        a4.push(v.getUint32(off + R.prefix, false));
        p4.push(plen);
        i4.push(id);
      } else this.v6.set(formatPrefix(this.prefixOf(id)), id);
      this.nexthops.adoptRef(v.getUint32(off + R.nhg, true));
    }
    this.v4.bulkAdd(Uint32Array.from(a4), Uint8Array.from(p4), Uint32Array.from(i4), a4.length);
  }

  private prefixOf(id: number): Prefix {
    const off = id * this.stride;
    const family = this.view.getUint8(off + R.family) as Family;
    const addr = this.bytes.slice(off + R.prefix, off + R.prefix + 16);
    return { family, addr, plen: this.view.getUint8(off + R.plen), v4: family === 4 ? this.view.getUint32(off + R.prefix, false) : 0 };
  }

  private routeOf(id: number): Route {
    const off = id * this.stride;
    return {
      id,
      prefix: this.prefixOf(id),
      nhg: this.view.getUint32(off + R.nhg, true),
      metric: this.view.getUint32(off + R.metric, true),
      system: !!(this.view.getUint16(off + R.flags, true) & SYSTEM),
    };
  }

  get size(): number {
    return this.v4.size + this.v6.size;
  }

  /** How many of the routes are the host's own. */
  get systemCount(): number {
    return this.systemIds.size;
  }

  get counts() {
    return { ipv4: this.v4.size, ipv6: this.v6.size, ipv4Groups: this.fib4.groupsInUse, ipv4GroupCapacity: this.fib4.groupCapacity };
  }

  idOf(prefix: Prefix): number | undefined {
    return prefix.family === 4 ? this.v4.get(prefix.v4, prefix.plen) : this.v6.get(formatPrefix(prefix));
  }

  idOf4(addr: number, plen: number): number | undefined {
    return this.v4.get(addr, plen);
  }

  get(prefix: Prefix): Route | undefined {
    const id = this.idOf(prefix);
    return id === undefined ? undefined : this.routeOf(id);
  }

  byId(id: number): Route | undefined {
    return id && id < this.plens.length && this.plens[id] !== UNUSED ? this.routeOf(id) : undefined;
  }

  /** The routes derived from the host's addresses. */
  *system(): IterableIterator<Route> {
    for (const id of this.systemIds) yield this.routeOf(id);
  }

  *all(): IterableIterator<Route> {
    for (const id of this.v4.values()) yield this.routeOf(id);
    for (const id of this.v6.values()) yield this.routeOf(id);
  }

  /** Free ids left (for checking a bulk load before writing anything). */
  get freeCount(): number {
    return this.freeTail - this.freeHead;
  }

  private takeId(): number {
    if (this.freeHead === this.freeTail) throw new PwError('PW_ERR_FULL', `the route table is full (${this.records.length - 1} routes)`);
    const id = this.freeIds[this.freeHead % this.freeIds.length]!;
    this.freeHead++;
    return id;
  }

  private giveId(id: number): void {
    this.freeIds[this.freeTail % this.freeIds.length] = id;
    this.freeTail++;
  }

  /** Writes a route record; the flags (VALID) go last. */
  private writeRecord(
    id: number,
    family: Family,
    addr: Uint8Array | number,
    plen: number,
    nhg: number,
    metric: number,
    system: boolean,
  ): void {
    const off = id * this.stride;
    const v = this.view;
    v.setUint32(off + R.nhg, nhg, true);
    v.setUint8(off + R.plen, plen);
    v.setUint8(off + R.family, family);
    if (typeof addr === 'number') {
      v.setUint32(off + R.prefix, addr, false);
      this.bytes.fill(0, off + R.prefix + 4, off + R.prefix + 16);
    } else this.bytes.set(addr, off + R.prefix);
    v.setUint32(off + R.metric, metric, true);
    v.setUint16(off + R.flags, VALID | (system ? SYSTEM : 0), true);
    this.plens[id] = plen;
    if (system) this.systemIds.add(id);
  }

  /**
   * writeRecord() for IPv4 with word stores: struct pw_route is, in 32-bit little-endian words,
   * [nhg][plen | family<<8 | flags<<16][prefix, network order][0][0][0][metric][pad]; the
   * word holding the flags (VALID) is written last.
   */
  private writeRecordV4(id: number, addr: number, plen: number, nhg: number, metric: number): void {
    const w = this.words;
    const o = id * 8;
    w[o] = nhg;
    // The prefix is stored in network byte order: swap the host-order number.
    w[o + 2] = ((addr >>> 24) | ((addr >>> 8) & 0xff00) | ((addr & 0xff00) << 8) | (addr << 24)) >>> 0;
    w[o + 3] = 0;
    w[o + 4] = 0;
    w[o + 5] = 0;
    w[o + 6] = metric;
    w[o + 7] = 0;
    w[o + 1] = (plen | (4 << 8) | (VALID << 16)) >>> 0;
    this.plens[id] = plen;
  }

  /**
   * Installs a new route; the prefix must not have one. The caller's reference to `nhg`
   * passes to the route.
   */
  add(prefix: Prefix, nhg: number, metric = 0, system = false): Route {
    if (this.idOf(prefix) !== undefined)
      throw new PwError('PW_ERR_EXISTS', `a route to ${formatPrefix(prefix)} exists`, { hint: "use 'route replace' to change it" });
    if (prefix.family === 4 && this.fib4.groupsNeeded(prefix.v4, prefix.plen) > this.fib4.groupCapacity - this.fib4.groupsInUse) {
      throw new PwError('PW_ERR_FULL', `the IPv4 FIB has no free second-level group for ${formatPrefix(prefix)}`);
    }
    const id = this.takeId();
    if (prefix.family === 4) {
      this.writeRecord(id, 4, prefix.v4, prefix.plen, nhg, metric, system);
      this.fib4.insert(prefix.v4, prefix.plen, id);
      this.v4.set(prefix.v4, prefix.plen, id);
    } else {
      this.writeRecord(id, 6, prefix.addr, prefix.plen, nhg, metric, system);
      try {
        this.maps.fib6.set({ prefixlen: prefix.plen, addr: prefix.addr }, id);
      } catch (e) {
        this.invalidate(id);
        throw e;
      }
      this.v6.set(formatPrefix(prefix), id);
    }
    return this.routeOf(id);
  }

  /**
   * Installs many new IPv4 routes, none of which may exist (the caller checked). Routes go in
   * ascending prefix length (a counting sort), so each DIR-24-8 write only ever replaces a
   * shorter prefix. Returns the ids, in input order.
   */
  addV4Bulk(b: V4Bulk): Uint32Array {
    const ids = new Uint32Array(b.count);
    // Counting sort by prefix length: typed arrays only, nothing for the GC.
    const start = new Uint32Array(34);
    for (let i = 0; i < b.count; i++) start[b.plen[i]! + 1]!++;
    for (let l = 1; l < 34; l++) start[l]! += start[l - 1]!;
    const order = new Uint32Array(b.count);
    for (let i = 0; i < b.count; i++) order[start[b.plen[i]!]!++] = i;
    for (let k = 0; k < b.count; k++) {
      const i = order[k]!;
      const addr = b.addr[i]!;
      const len = b.plen[i]!;
      const id = this.takeId();
      ids[i] = id;
      this.writeRecordV4(id, addr, len, b.nhg[i]!, b.metric[i]!);
      this.fib4.insert(addr, len, id);
    }
    this.v4.bulkAdd(b.addr, b.plen, ids, b.count);
    return ids;
  }

  /** Second-level groups a set of new IPv4 prefixes would need (for a capacity check). */
  groupsNeededFor(b: V4Bulk): number {
    const split = new Set<number>();
    for (let i = 0; i < b.count; i++) if (b.plen[i]! > 24 && this.fib4.groupsNeeded(b.addr[i]!, b.plen[i]!)) split.add(b.addr[i]! >>> 8);
    return split.size;
  }

  /**
   * Points an existing route at another group (one 32-bit store); returns the old group. A
   * system route repointed by the user becomes the user's.
   */
  repoint(id: number, nhg: number, metric: number, system = false): number {
    const off = id * this.stride;
    const old = this.view.getUint32(off + R.nhg, true);
    this.view.setUint32(off + R.metric, metric, true);
    this.view.setUint32(off + R.nhg, nhg, true);
    this.view.setUint16(off + R.flags, VALID | (system ? SYSTEM : 0), true);
    if (system) this.systemIds.add(id);
    else this.systemIds.delete(id);
    return old;
  }

  /** Removes a route; returns it (with its nexthop group, for the caller to release). */
  remove(prefix: Prefix): Route {
    const id = this.idOf(prefix);
    if (id === undefined) throw new PwError('PW_ERR_NOT_FOUND', `no route to ${formatPrefix(prefix)}`);
    return this.removeById(id);
  }

  removeById(id: number): Route {
    const route = this.routeOf(id);
    const prefix = route.prefix;
    if (prefix.family === 4) {
      this.fib4.remove(prefix.v4, prefix.plen, id, this.parent4(prefix.v4, prefix.plen) ?? 0);
      this.v4.delete(prefix.v4, prefix.plen);
    } else {
      this.maps.fib6.delete({ prefixlen: prefix.plen, addr: prefix.addr });
      this.v6.delete(formatPrefix(prefix));
    }
    this.invalidate(id);
    return route;
  }

  private invalidate(id: number): void {
    this.view.setUint16(id * this.stride + R.flags, 0, true);
    this.plens[id] = UNUSED;
    this.systemIds.delete(id);
    this.giveId(id);
  }

  /** The id of the longest installed IPv4 prefix strictly shorter than plen covering addr. */
  private parent4(addr: number, plen: number): number | undefined {
    for (let l = plen - 1; l >= 0; l--) {
      const id = this.v4.get((addr & v4Mask(l)) >>> 0, l);
      if (id !== undefined) return id;
    }
    return undefined;
  }

  close(): void {
    this.records.close();
    this.tbl24Map.close();
    this.tbl8Map.close();
  }
}
