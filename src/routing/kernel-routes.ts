/**
 * The kernel's routing tables as a source of routes (config `import:`): what a routing daemon
 * (BIRD, FRR, a DHCP client, an operator with `ip route`) put there, filtered by table,
 * protocol and prefix, and turned into the routes Pathwise installs with origin 'imported'.
 *
 * The kernel may hold several routes for one prefix (different metrics, tables or TOS); it
 * uses the lowest metric, and so does this view. A route Pathwise cannot reproduce exactly
 * (TOS-specific, IPv4 over an IPv6 gateway, unreachable/prohibit with their ICMP answers, a
 * nexthop object it cannot resolve) is installed as type 'kernel': the packet goes to the
 * kernel, which routes it by the same table. Nothing is ever routed differently from the
 * kernel's choice.
 *
 * Pure data: the packed route sets come from src/kernel (netlinkRouteDump and route events),
 * and src/dataplane/route-importer.ts installs what this view wants.
 */
import * as abi from '../generated/pathwise.js';
import type { KernelNexthop, KernelRouteSet } from '../kernel/index.js';
import { PwError } from '../errors.js';
import { prefixCovers, prefixKey6, prefixOfKey6, type Family, type Prefix } from '../util/ip.js';
import { grown } from '../util/typed-arrays.js';
import { PrefixMap4 } from './prefix-map4.js';
import type { RouteType } from './route.js';

/** Route protocols by name (iproute2's rt_protos). */
export const RT_PROTOCOLS: Readonly<Record<string, number>> = {
  unspec: 0,
  redirect: 1,
  kernel: 2,
  boot: 3,
  static: 4,
  gated: 8,
  ra: 9,
  mrt: 10,
  zebra: 11,
  bird: 12,
  dnrouted: 13,
  xorp: 14,
  ntk: 15,
  dhcp: 16,
  keepalived: 18,
  babel: 42,
  openr: 99,
  bgp: 186,
  isis: 187,
  ospf: 188,
  rip: 189,
  eigrp: 192,
};
const PROTOCOL_NAMES = new Map(Object.entries(RT_PROTOCOLS).map(([k, v]) => [v, k]));

/** A protocol number as `ip route` names it (the number itself when it has no name). */
export const protocolName = (n: number): string => PROTOCOL_NAMES.get(n) ?? String(n);

/** A protocol by name or number (0..255). */
export function parseProtocol(v: string | number, where: string): number {
  const n = typeof v === 'number' ? v : /^\d+$/.test(v) ? Number(v) : RT_PROTOCOLS[v];
  if (n === undefined || !Number.isInteger(n) || n < 0 || n > 255) {
    throw new PwError('PW_ERR_INVALID', `unknown route protocol '${v}'`, {
      where,
      hint: `use a number 0..255 or one of ${Object.keys(RT_PROTOCOLS).join(', ')}`,
    });
  }
  return n;
}

/** Routing tables by name (iproute2's rt_tables). */
export const RT_TABLES: Readonly<Record<string, number>> = { default: 253, main: 254, local: 255 };

export function parseTable(v: string | number, where: string): number {
  const n = typeof v === 'number' ? v : /^\d+$/.test(v) ? Number(v) : RT_TABLES[v];
  if (n === undefined || !Number.isInteger(n) || n < 1 || n > 0xffffffff) {
    throw new PwError('PW_ERR_INVALID', `unknown routing table '${v}'`, { where, hint: 'use main, default, local or a number' });
  }
  return n;
}

/** Route types (RTN_*). */
const RTN = { UNICAST: 1, LOCAL: 2, BLACKHOLE: 6, UNREACHABLE: 7, PROHIBIT: 8, THROW: 9 } as const;
/** Nexthop flags (RTNH_F_*): a dead nexthop is not used by the kernel. */
const RTNH_F_DEAD = 1;
const RTPROT_KERNEL = 2;

/** Which kernel routes to import: one `import:` entry of the config, compiled. */
export interface ImportSelector {
  table: number;
  /** Accepted protocols; null: every protocol but `kernel` (the host's connected routes,
   * which Pathwise derives from the addresses itself). */
  protocols: ReadonlySet<number> | null;
  /** Only routes inside one of these; null: all. */
  prefixes: readonly Prefix[] | null;
}

/** One nexthop of an imported route, resolved to an interface. */
export interface ImportedHop {
  family: Family;
  gw: Uint8Array | null;
  ifindex: number;
  weight: number;
}

/** What Pathwise should install for one prefix (its key says which). */
export interface ImportedRoute {
  type: RouteType;
  hops: readonly ImportedHop[];
  /** Equal for equal hop sets: the installer shares one nexthop group per key. */
  hopsKey: string;
  metric: number;
  proto: number;
}

/** A kernel nexthop object (`ip nexthop`), as src/kernel lists it. */
export type NexthopObject = KernelNexthop;

/** Routes packed as the addon hands them over (layout: src/kernel/native.ts NetlinkRouteSet). */
export type PackedRoutes = KernelRouteSet;
const HEAD_WORDS = 7;
const NH_WORDS = 3;
const DELETED = 1 << 8;

/** A prefix's key: a number for IPv4 (plen * 2^32 + address), prefixKey6() for IPv6 (not text). */
export type PrefixKey = number | string;

interface HopSet {
  /** Its place in the view's hop set list (candidates name it by this). */
  index: number;
  key: string;
  hops: ImportedHop[];
  /** The last route made with these hops: the next with the same metric and protocol shares it
   * (a full table's routes mostly do), so a sync allocates no route per prefix. */
  route?: ImportedRoute;
}

/** No candidate / no hop set (in the pool's index fields). */
const NONE = -1;

/**
 * The kernel routes for the prefixes, one candidate each, in parallel typed arrays: a full
 * table is ~1M candidates, and an object each cost the import more in allocation and garbage
 * collection than everything else it does with them. Candidates of one prefix form a list
 * through `next`; freed ones are kept on a free list through it too.
 */
class CandidatePool {
  /** Index of the selector that accepted it: earlier selectors win a tie on metric. */
  rank = new Uint16Array(0);
  table = new Uint32Array(0);
  tos = new Uint8Array(0);
  metric = new Uint32Array(0);
  proto = new Uint8Array(0);
  type = new Uint8Array(0);
  /** The hop set (view's list index) or NONE. */
  hops = new Int32Array(0);
  nhid = new Uint32Array(0);
  next = new Int32Array(0);
  private top = 0;
  private free = NONE;

  /** Candidates handed out so far (indexes below this one), freed ones included. */
  get allocated(): number {
    return this.top;
  }

  /** Empties it, with room for `expect` candidates. */
  clear(expect: number): void {
    this.top = 0;
    this.free = NONE;
    if (expect > this.next.length) this.resize(expect);
  }

  alloc(rank: number, table: number, tos: number, metric: number, proto: number, type: number, hops: number, nhid: number): number {
    let c = this.free;
    if (c !== NONE) this.free = this.next[c]!;
    else {
      if (this.top === this.next.length) this.resize(Math.max(1024, this.top * 2));
      c = this.top++;
    }
    this.rank[c] = rank;
    this.table[c] = table;
    this.tos[c] = tos;
    this.metric[c] = metric;
    this.proto[c] = proto;
    this.type[c] = type;
    this.hops[c] = hops;
    this.nhid[c] = nhid;
    this.next[c] = NONE;
    return c;
  }

  release(c: number): void {
    this.next[c] = this.free;
    this.free = c;
  }

  private resize(n: number): void {
    this.rank = grown(this.rank, n);
    this.table = grown(this.table, n);
    this.tos = grown(this.tos, n);
    this.metric = grown(this.metric, n);
    this.proto = grown(this.proto, n);
    this.type = grown(this.type, n);
    this.hops = grown(this.hops, n);
    this.nhid = grown(this.nhid, n);
    this.next = grown(this.next, n);
  }
}

const hex = (b: Uint8Array, n: number) => {
  let s = '';
  for (let i = 0; i < n; i++) s += (b[i]! < 16 ? '0' : '') + b[i]!.toString(16);
  return s;
};

/** The key of an IPv4 prefix (see PrefixKey). */
export const prefixKey4 = (addr: number, plen: number): number => plen * 4294967296 + addr;

export function prefixOfKey(key: PrefixKey): Prefix {
  if (typeof key === 'string') return prefixOfKey6(key);
  const plen = Math.floor(key / 4294967296);
  const v4 = key - plen * 4294967296;
  const addr = new Uint8Array(16);
  addr[0] = v4 >>> 24;
  addr[1] = (v4 >>> 16) & 255;
  addr[2] = (v4 >>> 8) & 255;
  addr[3] = v4 & 255;
  return { family: 4, addr, v4, plen };
}

export const keyOfPrefix = (p: Prefix): PrefixKey => (p.family === 4 ? prefixKey4(p.v4, p.plen) : prefixKey6(p.addr, 0, p.plen));

export function hopsKeyOf(hops: readonly ImportedHop[]): string {
  return hops.map((h) => `${h.family}:${h.gw ? hex(h.gw, h.family === 4 ? 4 : 16) : '-'}@${h.ifindex}*${h.weight}`).join(';');
}

/** The prefixes of a view at one moment (KernelRouteView.snapshot). */
export interface ViewSnapshot {
  readonly keys: readonly PrefixKey[];
  /** What to install for keys[i] now (the view's route(keys[i])). */
  route(i: number): ImportedRoute | null;
}

/**
 * The routes of the kernel's tables that the selectors accept, per prefix, kept current by
 * route events; `route(key)` says what Pathwise should install for a prefix.
 */
export class KernelRouteView {
  /** The routes per prefix: IPv4 in a typed-array hash (a full table), IPv6 by prefix text. */
  private readonly byPrefix = new PrefixTable<number>();
  private readonly pool = new CandidatePool();
  /** Hop sets are shared: a full table goes through a handful of gateways. */
  private readonly hopSets = new Map<string, HopSet>();
  private hopList: HopSet[] = [];
  private objects = new Map<number, NexthopObject>();
  /** The hop set of the last route that needed one, and where it came from (see hopsOf). */
  private lastHops: HopSet | null = null;
  private lastRoutes: PackedRoutes | null = null;
  private lastIndex = 0;
  /** Counts the calls that may change which candidates the prefixes hold (see snapshot()). */
  private changes = 0;

  constructor(private readonly selectors: readonly ImportSelector[]) {}

  /**
   * Every prefix, with where its routes start, for a sync over all of them: `route(i)` then
   * needs no second hash probe per prefix. If the view changes meanwhile (route events between
   * a sync's parts), route(i) looks the prefix up again.
   */
  snapshot(): ViewSnapshot {
    // IPv4 prefixes in the order of their first candidates, which is the order the routes came
    // in (a dump's: by address): route(i) reads the pool's arrays front to back rather than at
    // random (in the hash's order, ~0.3 s of cache misses for a full table), and new routes
    // reach the FIB sorted. IPv6 ones after them, in their map's order.
    const byHead = new Float64Array(this.pool.allocated).fill(NaN);
    const v6: [string, number][] = [];
    this.byPrefix.forEachEntry((key, head) => {
      if (typeof key === 'number') byHead[head] = key;
      else v6.push([key, head]);
    });
    const keys: PrefixKey[] = [];
    const heads: number[] = [];
    for (let c = 0; c < byHead.length; c++) {
      const key = byHead[c]!;
      if (key === key) {
        keys.push(key);
        heads.push(c);
      }
    }
    for (const [key, head] of v6) {
      keys.push(key);
      heads.push(head);
    }
    const at = this.changes;
    return {
      keys,
      route: (i) => (this.changes === at ? this.routeAt(keys[i]!, heads[i]!) : this.route(keys[i]!)),
    };
  }

  /** The kernel tables the selectors read. */
  get tables(): number[] {
    return [...new Set(this.selectors.map((s) => s.table))];
  }

  get size(): number {
    return this.byPrefix.size;
  }

  keys(): IterableIterator<PrefixKey> {
    return this.byPrefix.keys();
  }

  has(key: PrefixKey): boolean {
    return this.byPrefix.has(key);
  }

  /** Makes room for `routes` routes in a view still empty (a full table read in parts then
   * grows nothing as it goes). */
  reserve(routes: number): void {
    if (this.byPrefix.size) return;
    this.changes++;
    this.byPrefix.clear(routes);
    this.pool.clear(routes);
  }

  /** Adds a part of a dump (no change set: everything in it is new to a view being read). */
  load(routes: PackedRoutes): void {
    this.apply(routes, NO_CHANGES);
  }

  /** Replaces everything with a full dump (and the kernel's nexthop objects). */
  reset(routes: PackedRoutes, objects: NexthopObject[] = []): void {
    this.changes++;
    this.byPrefix.clear(routes.count);
    this.pool.clear(routes.count);
    this.hopSets.clear();
    this.hopList = [];
    this.lastHops = this.lastRoutes = null;
    this.setObjects(objects);
    this.apply(routes, NO_CHANGES);
  }

  setObjects(objects: NexthopObject[]): void {
    this.objects = new Map(objects.map((o) => [o.id, o]));
  }

  /** Whether any accepted route uses a kernel nexthop object. */
  usesObjects(): boolean {
    let uses = false;
    this.byPrefix.forEach((c) => {
      for (let x = c; x !== NONE; x = this.pool.next[x]!) if (this.pool.nhid[x]) uses = true;
    });
    return uses;
  }

  /**
   * Applies route events (or a dump: additions only); returns the keys of the prefixes whose
   * routes changed.
   */
  apply(routes: PackedRoutes, changed?: Set<PrefixKey>): Set<PrefixKey> {
    const out = changed ?? new Set<PrefixKey>();
    const collect = out !== NO_CHANGES;
    this.changes++;
    const { head, dst } = routes;
    for (let i = 0; i < routes.count; i++) {
      const h = i * HEAD_WORDS;
      const w0 = head[h]!;
      const family = (w0 & 0xff) as Family;
      const plen = (w0 >>> 8) & 0xff;
      const proto = (w0 >>> 16) & 0xff;
      const type = w0 >>> 24;
      const table = head[h + 1]!;
      const metric = head[h + 2]!;
      const tos = head[h + 3]! & 0xff;
      const deleted = (head[h + 3]! & DELETED) !== 0;
      const o = i * 16;
      let key: PrefixKey;
      if (family === 4) key = prefixKey4(((dst[o]! << 24) | (dst[o + 1]! << 16) | (dst[o + 2]! << 8) | dst[o + 3]!) >>> 0, plen);
      else key = prefixKey6(dst, o, plen);
      if (deleted) {
        if (this.remove(key, table, tos, metric) && collect) out.add(key);
        continue;
      }
      const rank = this.rankOf(table, proto, key);
      if (rank < 0) {
        // No longer accepted (a route replaced by one of another protocol): forget the old one.
        if (this.remove(key, table, tos, metric) && collect) out.add(key);
        continue;
      }
      const hops = this.hopsOf(routes, i, family);
      this.insert(key, this.pool.alloc(rank, table, tos, metric, proto, type, hops ? hops.index : NONE, head[h + 6]!));
      if (collect) out.add(key);
    }
    return out;
  }

  private rankOf(table: number, proto: number, key: PrefixKey): number {
    let prefix: Prefix | null = null; // made only for selectors with prefixes
    for (let r = 0; r < this.selectors.length; r++) {
      const s = this.selectors[r]!;
      if (s.table !== table) continue;
      if (s.protocols ? !s.protocols.has(proto) : proto === RTPROT_KERNEL) continue;
      if (s.prefixes) {
        const p = (prefix ??= prefixOfKey(key));
        if (!s.prefixes.some((outer) => prefixCovers(outer, p))) continue;
      }
      return r;
    }
    return -1;
  }

  /** The hop set of route i: the previous route's when the packed nexthops are the same (a
   * table's routes mostly come in runs through one gateway), else the shared one by key. */
  private hopsOf(routes: PackedRoutes, i: number, family: Family): HopSet | null {
    const first = routes.head[i * HEAD_WORDS + 4]!;
    const n = routes.head[i * HEAD_WORDS + 5]!;
    if (!n) return null;
    if (this.lastHops && this.lastRoutes === routes && samePackedHops(routes, this.lastIndex, i)) {
      this.lastIndex = i;
      return this.lastHops;
    }
    const hops: ImportedHop[] = [];
    for (let k = first; k < first + n; k++) {
      const w = k * NH_WORDS;
      const ifindex = routes.nh[w]!;
      const weight = routes.nh[w + 1]!;
      const gwFamily = routes.nh[w + 2]! & 0xff;
      const flags = routes.nh[w + 2]! >>> 8;
      if (flags & RTNH_F_DEAD) continue;
      const gw = gwFamily ? routes.gw.slice(k * 16, k * 16 + 16) : null;
      hops.push({ family: gwFamily === 6 ? 6 : gwFamily === 4 ? 4 : family, gw, ifindex, weight });
    }
    const key = hopsKeyOf(hops);
    let set = this.hopSets.get(key);
    if (!set) {
      set = { index: this.hopList.length, key, hops };
      this.hopSets.set(key, set);
      this.hopList.push(set);
    }
    this.lastRoutes = routes;
    this.lastIndex = i;
    this.lastHops = set;
    return set;
  }

  /** Adds a route, or replaces the one with the same identity (table, TOS, metric). */
  private insert(key: PrefixKey, c: number): void {
    const p = this.pool;
    // A prefix seen first (every route of a dump, mostly) takes c in the same probe.
    if (this.byPrefix.setIfAbsent(key, c) === undefined) return;
    this.remove(key, p.table[c]!, p.tos[c]!, p.metric[c]!);
    p.next[c] = this.byPrefix.get(key) ?? NONE;
    this.byPrefix.set(key, c);
  }

  /** Removes the route of this identity; false when there was none. */
  private remove(key: PrefixKey, table: number, tos: number, metric: number): boolean {
    const p = this.pool;
    let prev = NONE;
    for (let c = this.byPrefix.get(key) ?? NONE; c !== NONE; prev = c, c = p.next[c]!) {
      if (p.table[c] !== table || p.tos[c] !== tos || p.metric[c] !== metric) continue;
      const next = p.next[c]!;
      if (prev !== NONE) p.next[prev] = next;
      else if (next !== NONE) this.byPrefix.set(key, next);
      else this.byPrefix.delete(key);
      p.release(c);
      return true;
    }
    return false;
  }

  /** What Pathwise should install for a prefix; null: nothing (no accepted kernel route). */
  route(key: PrefixKey): ImportedRoute | null {
    const head = this.byPrefix.get(key);
    return head === undefined ? null : this.routeAt(key, head);
  }

  /** route() for a prefix whose first candidate is `head`. */
  private routeAt(key: PrefixKey, head: number): ImportedRoute | null {
    const p = this.pool;
    let best = head;
    let tosSpecific = false;
    for (let c = head; c !== NONE; c = p.next[c]!) {
      if (p.tos[c]) tosSpecific = true;
      if (p.metric[c]! < p.metric[best]! || (p.metric[c] === p.metric[best] && p.rank[c]! < p.rank[best]!)) best = c;
    }
    const metric = p.metric[best]!;
    const proto = p.proto[best]!;
    // A TOS-specific route: the kernel picks by TOS, which Pathwise does not look at.
    if (tosSpecific) return special('kernel', metric, proto);
    switch (p.type[best]) {
      case RTN.UNICAST: {
        const family: Family = typeof key === 'number' ? 4 : 6;
        const nhid = p.nhid[best]!;
        if (!nhid) {
          const set = p.hops[best] === NONE ? undefined : this.hopList[p.hops[best]!];
          if (!set || !installable(family, set.hops)) return special('kernel', metric, proto);
          const r = set.route;
          if (r && r.metric === metric && r.proto === proto) return r;
          return (set.route = { type: 'unicast', hops: set.hops, hopsKey: set.key, metric, proto });
        }
        const hops = this.objectHops(nhid);
        if (hops === 'blackhole') return special('blackhole', metric, proto);
        if (!hops || !installable(family, hops)) return special('kernel', metric, proto);
        return { type: 'unicast', hops, hopsKey: hopsKeyOf(hops), metric, proto };
      }
      case RTN.BLACKHOLE:
        return special('blackhole', metric, proto);
      case RTN.LOCAL:
        return special('local', metric, proto);
      case RTN.UNREACHABLE:
      case RTN.PROHIBIT:
      case RTN.THROW:
        // The kernel answers these with ICMP errors: let it.
        return special('kernel', metric, proto);
      default:
        return null; // broadcast, multicast, anycast: not forwarding routes
    }
  }

  private objectHops(id: number): ImportedHop[] | 'blackhole' | null {
    const o = this.objects.get(id);
    if (!o) return null;
    if (o.blackhole) return 'blackhole';
    if (!o.group.length)
      return o.ifindex ? [{ family: o.gateway?.family ?? 4, gw: o.gateway?.addr ?? null, ifindex: o.ifindex, weight: 1 }] : null;
    const hops: ImportedHop[] = [];
    for (const m of o.group) {
      const x = this.objects.get(m.id);
      if (!x || x.blackhole || !x.ifindex || x.group.length) return null;
      hops.push({ family: x.gateway?.family ?? 4, gw: x.gateway?.addr ?? null, ifindex: x.ifindex, weight: m.weight });
    }
    return hops;
  }
}

/** apply()'s changes unwanted (a full dump: everything changed). */
const NO_CHANGES: Set<PrefixKey> = new Set();

/** Whether routes i and j of a packed set have the same nexthops, word for word. */
function samePackedHops(r: PackedRoutes, i: number, j: number): boolean {
  const n = r.head[i * HEAD_WORDS + 5]!;
  if (r.head[j * HEAD_WORDS + 5] !== n) return false;
  const a = r.head[i * HEAD_WORDS + 4]!;
  const b = r.head[j * HEAD_WORDS + 4]!;
  for (let k = 0; k < n * NH_WORDS; k++) if (r.nh[a * NH_WORDS + k] !== r.nh[b * NH_WORDS + k]) return false;
  for (let k = 0; k < n * 16; k++) if (r.gw[a * 16 + k] !== r.gw[b * 16 + k]) return false;
  return true;
}

/** A route of a type without nexthops, with the kernel route's metric and protocol. */
const special = (type: Exclude<RouteType, 'unicast'>, metric: number, proto: number): ImportedRoute => ({
  type,
  hops: [],
  hopsKey: type,
  metric,
  proto,
});

/** Hops Pathwise can forward with: an interface each, same-family gateways for IPv4, and no
 * more than a group holds. */
function installable(family: Family, hops: readonly ImportedHop[]): boolean {
  if (hops.length === 0 || hops.length > abi.PwLimit.NHG_MAX_MEMBERS) return false;
  for (const h of hops) if (!(h.ifindex > 0 && h.weight >= 1 && h.weight <= 256 && !(family === 4 && h.gw && h.family === 6))) return false;
  return true;
}

/** Values by PrefixKey: IPv4 keys in a PrefixMap4, IPv6 keys in a Map. */
class PrefixTable<V> {
  private readonly v4 = new PrefixMap4<V>();
  private readonly v6 = new Map<string, V>();

  get size(): number {
    return this.v4.size + this.v6.size;
  }

  get(key: PrefixKey): V | undefined {
    if (typeof key === 'string') return this.v6.get(key);
    const plen = Math.floor(key / 4294967296);
    return this.v4.get(key - plen * 4294967296, plen);
  }

  has(key: PrefixKey): boolean {
    if (typeof key === 'string') return this.v6.has(key);
    const plen = Math.floor(key / 4294967296);
    return this.v4.has(key - plen * 4294967296, plen);
  }

  set(key: PrefixKey, v: V): void {
    if (typeof key === 'string') this.v6.set(key, v);
    else {
      const plen = Math.floor(key / 4294967296);
      this.v4.set(key - plen * 4294967296, plen, v);
    }
  }

  /** Sets key to v if it has no value; returns the value it had (see PrefixMap4.setIfAbsent). */
  setIfAbsent(key: PrefixKey, v: V): V | undefined {
    if (typeof key === 'string') {
      const had = this.v6.get(key);
      if (had === undefined) this.v6.set(key, v);
      return had;
    }
    const plen = Math.floor(key / 4294967296);
    return this.v4.setIfAbsent(key - plen * 4294967296, plen, v);
  }

  delete(key: PrefixKey): void {
    if (typeof key === 'string') this.v6.delete(key);
    else {
      const plen = Math.floor(key / 4294967296);
      this.v4.delete(key - plen * 4294967296, plen);
    }
  }

  /** Empties it, with room for `expect` IPv4 prefixes (no rehash while a full table goes in). */
  clear(expect = 0): void {
    this.v4.clear(expect);
    this.v6.clear();
  }

  forEach(fn: (v: V) => void): void {
    this.v4.forEach((_a, _p, v) => fn(v));
    for (const v of this.v6.values()) fn(v);
  }

  forEachEntry(fn: (key: PrefixKey, v: V) => void): void {
    this.v4.forEach((addr, plen, v) => fn(prefixKey4(addr, plen), v));
    for (const [k, v] of this.v6) fn(k, v);
  }

  *keys(): IterableIterator<PrefixKey> {
    const out: PrefixKey[] = [];
    this.forEachEntry((k) => out.push(k));
    yield* out;
  }
}
