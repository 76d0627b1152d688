/**
 * The routes in the data plane: one route record per prefix in the mmap-ed pw_routes array,
 * IPv4 prefixes in the DIR-24-8 table, IPv6 prefixes in the LPM trie. The pinned maps are the
 * state: opening a table adopts whatever they hold.
 *
 * Order of writes: a route record is complete before the FIB points at it; a removed route is
 * first replaced in the FIB by its parent (the longest prefix still covering it), then its
 * record is invalidated, and its id is reused last.
 */
import * as abi from '../generated/pathwise.js';
import { MappedArray } from '../bpf/index.js';
import { PwError } from '../errors.js';
import { formatPrefix, maskAddr, type Family, type Prefix } from '../util/ip.js';
import { Fib4Table } from './fib4-table.js';
import type { NexthopTable } from './nexthops.js';
import type { PipelineMaps } from './pipeline.js';

export type RouteType = 'unicast' | 'blackhole' | 'local' | 'kernel';

export interface Route {
  id: number;
  prefix: Prefix;
  /** Nexthop group id, or a PW_NHG_* special for the other route types. */
  nhg: number;
  metric: number;
  /** Derived from the host's addresses (see system-routes.ts), not added by the user. */
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
const v4Key = (addr: number, plen: number) => plen * 4294967296 + addr;
const v4Mask = (plen: number) => (plen === 0 ? 0 : (0xffffffff << (32 - plen)) >>> 0);

export class RouteTable {
  readonly fib4: Fib4Table;
  private readonly records: MappedArray<abi.PwRoute>;
  private readonly recordView: DataView;
  private readonly v4 = new Map<number, Route>();
  private readonly v6 = new Map<string, Route>();
  /** Prefix length per route id (255: unused), for the FIB builder. */
  private readonly plens: Uint8Array;
  private readonly freeIds: number[] = [];
  private freeHead = 0;
  private readonly tbl24Map: MappedArray<abi.PwFib4Block>;
  private readonly tbl8Map: MappedArray<abi.PwFib4Group>;

  constructor(
    private readonly maps: PipelineMaps,
    private readonly nexthops: NexthopTable,
  ) {
    this.records = maps.routes.mmap();
    this.recordView = this.records.view;
    this.plens = new Uint8Array(this.records.length).fill(255);
    this.tbl24Map = maps.fib4Tbl24.mmap();
    this.tbl8Map = maps.fib4Tbl8.mmap();
    const tbl24 = new Uint32Array(this.tbl24Map.view.buffer, 0, 1 << 24);
    const tbl8 = new Uint32Array(this.tbl8Map.view.buffer, 0, this.tbl8Map.length * 256);
    const plens = this.plens;
    this.fib4 = new Fib4Table(tbl24, tbl8, (id) => (id === 0 ? -1 : plens[id] === 255 ? -1 : plens[id]!));
    this.adopt();
  }

  private adopt(): void {
    const R = abi.PwRoute.offsets;
    const v = this.recordView;
    const used = new Uint8Array(this.records.length);
    for (let id = 1; id < this.records.length; id++) {
      const off = id * this.records.stride;
      if (!(v.getUint16(off + R.flags, true) & abi.PwRouteFlag.VALID)) continue;
      const rec = this.records.get(id);
      const prefix: Prefix = {
        family: rec.family as Family,
        addr: rec.prefix,
        plen: rec.plen,
        v4: rec.family === 4 ? ((rec.prefix[0]! << 24) | (rec.prefix[1]! << 16) | (rec.prefix[2]! << 8) | rec.prefix[3]!) >>> 0 : 0,
      };
      const route: Route = { id, prefix, nhg: rec.nhg, metric: rec.metric, system: !!(rec.flags & abi.PwRouteFlag.SYSTEM) };
      if (prefix.family === 4) this.v4.set(v4Key(prefix.v4, prefix.plen), route);
      else this.v6.set(formatPrefix(prefix), route);
      this.plens[id] = prefix.plen;
      used[id] = 1;
      this.nexthops.adoptRef(rec.nhg);
    }
    for (let id = 1; id < this.records.length; id++) if (!used[id]) this.freeIds.push(id);
  }

  get size(): number {
    return this.v4.size + this.v6.size;
  }

  get counts() {
    return { ipv4: this.v4.size, ipv6: this.v6.size, ipv4Groups: this.fib4.groupsInUse, ipv4GroupCapacity: this.fib4.groupCapacity };
  }

  get(prefix: Prefix): Route | undefined {
    return prefix.family === 4 ? this.v4.get(v4Key(prefix.v4, prefix.plen)) : this.v6.get(formatPrefix(prefix));
  }

  byId(id: number): Route | undefined {
    if (!id || this.plens[id] === 255) return undefined;
    const rec = this.records.get(id);
    const prefix = { family: rec.family as Family, addr: rec.prefix, plen: rec.plen, v4: 0 };
    return this.get({ ...prefix, v4: rec.family === 4 ? ((rec.prefix[0]! << 24) | (rec.prefix[1]! << 16) | (rec.prefix[2]! << 8) | rec.prefix[3]!) >>> 0 : 0 });
  }

  *all(): IterableIterator<Route> {
    yield* this.v4.values();
    yield* this.v6.values();
  }

  private takeId(): number {
    if (this.freeHead >= this.freeIds.length) throw new PwError('PW_ERR_FULL', `the route table is full (${this.records.length - 1} routes)`);
    const id = this.freeIds[this.freeHead++]!;
    if (this.freeHead > 65536 && this.freeHead * 2 > this.freeIds.length) {
      this.freeIds.splice(0, this.freeHead);
      this.freeHead = 0;
    }
    return id;
  }

  /** Free ids left (for checking a bulk load before writing anything). */
  get freeCount(): number {
    return this.freeIds.length - this.freeHead;
  }

  /**
   * Installs a new route; the prefix must not have one. The caller's reference to `nhg`
   * passes to the route.
   */
  add(prefix: Prefix, nhg: number, metric = 0, system = false): Route {
    if (this.get(prefix)) throw new PwError('PW_ERR_EXISTS', `a route to ${formatPrefix(prefix)} exists`, { hint: "use 'route replace' to change it" });
    if (prefix.family === 4 && this.fib4.groupsNeeded(prefix.v4, prefix.plen) > this.fib4.groupCapacity - this.fib4.groupsInUse) {
      throw new PwError('PW_ERR_FULL', `the IPv4 FIB has no free second-level group for ${formatPrefix(prefix)}`);
    }
    const id = this.takeId();
    const flags = abi.PwRouteFlag.VALID | (system ? abi.PwRouteFlag.SYSTEM : 0);
    this.records.set(id, { nhg, plen: prefix.plen, family: prefix.family, flags, prefix: prefix.addr, metric });
    this.plens[id] = prefix.plen;
    const route: Route = { id, prefix, nhg, metric, system };
    if (prefix.family === 4) {
      this.fib4.insert(prefix.v4, prefix.plen, id);
      this.v4.set(v4Key(prefix.v4, prefix.plen), route);
    } else {
      try {
        this.maps.fib6.set({ prefixlen: prefix.plen, addr: prefix.addr }, id);
      } catch (e) {
        this.invalidate(id);
        throw e;
      }
      this.v6.set(formatPrefix(prefix), route);
    }
    return route;
  }

  /**
   * Points an existing route at another group (one 32-bit store); returns the old group. A
   * system route repointed by the user becomes the user's.
   */
  repoint(route: Route, nhg: number, metric = route.metric, system = false): number {
    const off = route.id * this.records.stride;
    if (route.system !== system) {
      this.recordView.setUint16(off + abi.PwRoute.offsets.flags, abi.PwRouteFlag.VALID | (system ? abi.PwRouteFlag.SYSTEM : 0), true);
      route.system = system;
    }
    this.recordView.setUint32(off + abi.PwRoute.offsets.metric, metric, true);
    this.recordView.setUint32(off + abi.PwRoute.offsets.nhg, nhg, true);
    const old = route.nhg;
    route.nhg = nhg;
    route.metric = metric;
    return old;
  }

  /** Removes a route; returns its nexthop group for the caller to release. */
  remove(prefix: Prefix): Route {
    const route = this.get(prefix);
    if (!route) throw new PwError('PW_ERR_NOT_FOUND', `no route to ${formatPrefix(prefix)}`);
    if (prefix.family === 4) {
      this.fib4.remove(prefix.v4, prefix.plen, route.id, this.parent4(prefix.v4, prefix.plen)?.id ?? 0);
      this.v4.delete(v4Key(prefix.v4, prefix.plen));
    } else {
      this.maps.fib6.delete({ prefixlen: prefix.plen, addr: prefix.addr });
      this.v6.delete(formatPrefix(prefix));
    }
    this.invalidate(route.id);
    return route;
  }

  private invalidate(id: number): void {
    this.recordView.setUint16(id * this.records.stride + abi.PwRoute.offsets.flags, 0, true);
    this.plens[id] = 255;
    this.freeIds.push(id);
  }

  /** The longest installed IPv4 prefix strictly shorter than plen that covers addr. */
  private parent4(addr: number, plen: number): Route | undefined {
    for (let l = plen - 1; l >= 0; l--) {
      const r = this.v4.get(v4Key((addr & v4Mask(l)) >>> 0, l));
      if (r) return r;
    }
    return undefined;
  }

  /** Longest-prefix match in the control plane's view (tests compare it with the kernel's). */
  match(family: Family, addr: Uint8Array, v4: number): Route | undefined {
    if (family === 4) return this.byIdFast(this.fib4.lookup(v4));
    for (let l = 128; l >= 0; l--) {
      const r = this.v6.get(formatPrefix({ family: 6, addr: maskAddr(addr, l), plen: l }));
      if (r) return r;
    }
    return undefined;
  }

  private byIdFast(id: number): Route | undefined {
    return id ? this.byId(id) : undefined;
  }

  close(): void {
    this.records.close();
    this.tbl24Map.close();
    this.tbl8Map.close();
  }
}
