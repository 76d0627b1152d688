/**
 * The routes in the data plane: one route record per prefix in the mmap-ed pw_routes array,
 * IPv4 prefixes in the DIR-24-8 table, IPv6 prefixes in the multibit trie (both mmap-ed). The pinned maps are the
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
import { flaggedRecords } from '../kernel/scan.js';
import { PwError } from '../errors.js';
import { formatIpv4, formatPrefix, prefixKey6, type Family, type Prefix } from '../util/ip.js';
import { Fib4Table } from '../routing/fib4-table.js';
import { Fib6Table } from '../routing/fib6-table.js';
import { inOrder, PrefixIndex4 } from '../routing/prefix-index4.js';
import { PrefixIndex6 } from '../routing/prefix-index6.js';
import type { RouteOrigin, RouteType } from '../routing/route.js';
import type { NexthopTable } from './nexthop-table.js';
import type { PipelineMaps } from './pipeline.js';

/** A snapshot of one route. */
export interface Route {
  id: number;
  prefix: Prefix;
  /** Nexthop group id, or a PW_NHG_* special for the other route types. */
  nhg: number;
  metric: number;
  /** 'kernel': derived from the host's addresses (routing/host-routes.ts); 'imported': copied
   * from a kernel routing table; 'user': added by the user. */
  origin: RouteOrigin;
  /** An imported route's kernel protocol (RTPROT_*); 0 for the others. */
  proto: number;
}

const SPECIAL_NHG: Record<Exclude<RouteType, 'unicast'>, number> = {
  blackhole: abi.PwNhgSpecial.BLACKHOLE,
  local: abi.PwNhgSpecial.LOCAL,
  kernel: abi.PwNhgSpecial.KERNEL,
};

const TYPE_OF_NHG = new Map(Object.entries(SPECIAL_NHG).map(([t, id]) => [id, t as RouteType]));

export function routeTypeOf(nhg: number): RouteType {
  return TYPE_OF_NHG.get(nhg) ?? 'unicast';
}

export const specialNhg = (t: Exclude<RouteType, 'unicast'>) => SPECIAL_NHG[t];

/** Numeric key of an IPv4 prefix (fits a double exactly); IPv6 prefixes use strings. */
export const v4Key = (addr: number, plen: number) => plen * 4294967296 + addr;
const v4Mask = (plen: number) => (plen === 0 ? 0 : (0xffffffff << (32 - plen)) >>> 0);
const UNUSED = 255;

const R = abi.PwRoute.offsets;

// writeRecordV4() and writeRecordV6() store struct pw_route as 32-bit words for speed. That
// word layout must be the generated one: if abi.h changes, fail here, at load, not by
// corrupting routes.
if (abi.PwRoute.size !== 32 || R.nhg !== 0 || R.plen !== 4 || R.family !== 5 || R.flags !== 6 || R.prefix !== 8 || R.metric !== 24) {
  throw new Error('struct pw_route changed: update RouteTable.writeRecordV4 and writeRecordV6 to the new layout');
}
const VALID = abi.PwRouteFlag.VALID;
const SYSTEM = abi.PwRouteFlag.SYSTEM;
const IMPORTED = abi.PwRouteFlag.IMPORTED;
const PROTO = abi.PwRouteFlag.PROTO;

/** A record's flags for a route of this origin (and kernel protocol, when imported). */
export function routeFlags(origin: RouteOrigin, proto = 0): number {
  if (origin === 'kernel') return VALID | SYSTEM;
  if (origin === 'imported') return VALID | IMPORTED | ((proto << 8) & PROTO);
  return VALID;
}
const originOfFlags = (flags: number): RouteOrigin => (flags & SYSTEM ? 'kernel' : flags & IMPORTED ? 'imported' : 'user');
const ORIGIN_CODE: Record<RouteOrigin, number> = { user: 0, kernel: 1, imported: 2 };
const ORIGINS: RouteOrigin[] = ['user', 'kernel', 'imported'];

/** IPv6 routes to install in one go: the k-th is the parsed batch's prefix at[k] (its address
 * at 16 * at[k] in addr, its length plen[at[k]]), with nhg[k] and metric[k]. */
export interface V6Bulk {
  count: number;
  addr: Uint8Array;
  plen: Uint8Array;
  at: Uint32Array;
  nhg: Uint32Array;
  metric: Uint32Array;
}

/** The indexes of `count` routes by ascending prefix length (a counting sort: typed arrays
 * only, nothing for the GC). */
function lengthOrder(plen: Uint8Array, count: number): Uint32Array {
  const start = new Uint32Array(34);
  for (let i = 0; i < count; i++) start[plen[i]! + 1]!++;
  for (let l = 1; l < 34; l++) start[l]! += start[l - 1]!;
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[start[plen[i]!]!++] = i;
  return order;
}

/** IPv4 routes to install in one go (struct of arrays: a full table is a million routes). */
export interface V4Bulk {
  count: number;
  addr: Uint32Array;
  plen: Uint8Array;
  /** Route i's nexthop group and metric are nhg[g] and metric[g], g being group[i] when
   * `group` is given (a parsed file's template per line: no per-route copies), else i. */
  nhg: Uint32Array;
  metric: Uint32Array;
  group?: Uint32Array;
  /** Each route's record flags (routeFlags()); absent: user routes. */
  flags?: Uint16Array;
}

export class RouteTable {
  readonly fib4: Fib4Table;
  readonly fib6: Fib6Table;
  private readonly records: MappedArray<abi.PwRoute>;
  private readonly view: DataView;
  private readonly bytes: Uint8Array;
  private readonly stride: number;
  /** The records as 32-bit words (a record is 8 words), for the bulk path's plain stores. */
  private readonly words: Uint32Array;
  private readonly v4: PrefixIndex4;
  /** IPv6 routes by prefix: an index over keys6. */
  private readonly v6: PrefixIndex6;
  /** Each IPv6 route's address (16 bytes at 16 * id) as this table wrote it: the index's keys,
   * kept apart from the records (see origins). Pages are touched only as routes use them. */
  private readonly keys6: Uint8Array;
  /** Ids of removed routes whose counters are still to be zeroed (see clearStatsOf). */
  private readonly statsToClear = new Uint32Array(4096);
  private statsPending = 0;
  /** 1 for an id in statsToClear. */
  private readonly statsClearing: Uint8Array;
  /** keys6 as 32-bit words (an address's bytes are copied four at a time). */
  private readonly keys6Words: Uint32Array;
  /** Prefix length per route id (255: unused), for the FIB builder. */
  private readonly plens: Uint8Array;
  /** Ids from here up are free and were never taken (since the table's last open, above
   * every route it held then): taken first, in order. */
  private neverUsed = 1;
  /** The other free ids, a ring: taken from the head after the never-used ones, returned at
   * the tail (reused last). */
  private readonly freeIds: Uint32Array;
  private freeHead = 0;
  private freeTail = 0;
  private readonly tbl24Map: MappedArray<abi.PwFib4Block>;
  /** Ids of the routes derived from the host's addresses (a few, among maybe a million). */
  private readonly systemIds = new Set<number>();
  /** Origin (ORIGIN_CODE) and kernel protocol per id, as this table wrote them: kept apart
   * from the records so that a record damaged behind our back can be recognised and repaired. */
  private readonly origins: Uint8Array;
  private readonly protos: Uint8Array;
  /** Each route's nexthop group and metric as written (see origins). */
  private readonly nhgs: Uint32Array;
  private readonly metrics: Uint32Array;
  private importedCount = 0;
  private readonly tbl8Map: MappedArray<abi.PwFib4Group>;
  private readonly fib6Map: MappedArray<abi.PwFib6Node>;

  /**
   * `flushPending` moves the counts the data plane holds back (its flow cache: a packet of a
   * cached flow counts for its route at the slot's flush) into the counters.
   */
  constructor(
    private readonly maps: PipelineMaps,
    private readonly nexthops: NexthopTable,
    private readonly flushPending: () => void = () => {},
  ) {
    this.records = maps.routes.mmap();
    this.view = this.records.view;
    this.bytes = this.records.bytes;
    this.stride = this.records.stride;
    this.words = new Uint32Array(this.view.buffer, 0, (this.records.length * this.stride) / 4);
    this.plens = new Uint8Array(this.records.length).fill(UNUSED);
    this.origins = new Uint8Array(this.records.length);
    this.protos = new Uint8Array(this.records.length);
    this.nhgs = new Uint32Array(this.records.length);
    this.metrics = new Uint32Array(this.records.length);
    this.v4 = new PrefixIndex4();
    this.keys6 = new Uint8Array(16 * this.records.length);
    this.keys6Words = new Uint32Array(this.keys6.buffer);
    this.v6 = new PrefixIndex6(this.keys6, 16, 0, this.plens);
    this.freeIds = new Uint32Array(this.records.length);
    this.statsClearing = new Uint8Array(this.records.length);
    this.tbl24Map = maps.fib4Tbl24.mmap();
    this.tbl8Map = maps.fib4Tbl8.mmap();
    const tbl24 = new Uint32Array(this.tbl24Map.view.buffer, 0, 1 << 24);
    const tbl8 = new Uint32Array(this.tbl8Map.view.buffer, 0, this.tbl8Map.length * 256);
    this.fib4 = new Fib4Table(tbl24, tbl8, this.plens); // plens[0] stays UNUSED: "no route"
    this.fib6Map = maps.fib6Nodes.mmap();
    this.fib6 = new Fib6Table(...fib6Levels(this.fib6Map), this.plens);
    this.adopt();
  }

  /** Rebuilds the indexes from the records (a pinned table after a restart): the records read
   * as words (see writeRecordV4), each group's references counted once. The addon finds the
   * valid ones (every open reads the flags of 2M records: ~70 ms as a JavaScript loop). */
  private adopt(): void {
    const w = this.words;
    const valid = flaggedRecords(w, VALID << 16, 8, 1); // word 1: plen | family << 8 | flags << 16
    const a4 = new Uint32Array(valid.length);
    const p4 = new Uint8Array(valid.length);
    const i4 = new Uint32Array(valid.length);
    let c4 = 0;
    const refs = new Map<number, number>();
    let next = 1; // the lowest id not yet seen valid: ids below each valid one are free
    for (const id of valid) {
      if (id === 0) continue; // id 0 is "no route": never a route's
      while (next < id) this.freeIds[this.freeTail++] = next++;
      next = id + 1;
      const o = id * 8;
      const w1 = w[o + 1]!;
      const flags = w1 >>> 16;
      const plen = w1 & 255;
      const nhg = w[o]!;
      this.plens[id] = plen;
      this.track(id, originOfFlags(flags), (flags & PROTO) >> 8);
      this.nhgs[id] = nhg;
      this.metrics[id] = w[o + 6]!;
      if (((w1 >>> 8) & 255) === 4) {
        a4[c4] = swap32(w[o + 2]!); // stored in network order
        p4[c4] = plen;
        i4[c4++] = id;
      } else {
        this.keys6.set(this.bytes.subarray(id * this.stride + R.prefix, id * this.stride + R.prefix + 16), 16 * id);
        this.v6.add(id);
      }
      refs.set(nhg, (refs.get(nhg) ?? 0) + 1);
    }
    this.neverUsed = next;
    for (const [g, k] of refs) this.nexthops.addRefs(g, k);
    this.v4.bulkAdd(a4, p4, i4, c4);
  }

  /**
   * Writes the IPv6 FIB of a fresh set of maps from their route records, before a program
   * upgrade switches any interface to them (releases before 2026-12-02 kept IPv6 routes in an
   * LPM trie map, those before 2026-12-06 a trie with a smaller first level: the new trie
   * starts empty). Returns the routes written.
   */
  static fillFib6(maps: PipelineMaps): number {
    const records = maps.routes.mmap();
    const nodes = maps.fib6Nodes.mmap();
    try {
      const v = records.view;
      const plens = new Uint8Array(records.length).fill(UNUSED);
      const ids: number[] = [];
      for (let id = 1; id < records.length; id++) {
        const off = id * records.stride;
        if (!(v.getUint16(off + R.flags, true) & VALID) || v.getUint8(off + R.family) !== 6) continue;
        plens[id] = v.getUint8(off + R.plen);
        ids.push(id);
      }
      const fib6 = new Fib6Table(...fib6Levels(nodes), plens);
      insertShortestFirst(fib6, ids, plens, (id) =>
        records.bytes.subarray(id * records.stride + R.prefix, id * records.stride + R.prefix + 16),
      );
      return ids.length;
    } finally {
      records.close();
      nodes.close();
    }
  }

  private prefixOf(id: number): Prefix {
    const off = id * this.stride;
    const family = this.view.getUint8(off + R.family) as Family;
    const addr = this.bytes.slice(off + R.prefix, off + R.prefix + 16);
    return { family, addr, plen: this.view.getUint8(off + R.plen), v4: family === 4 ? this.view.getUint32(off + R.prefix, false) : 0 };
  }

  /** A route's prefix as text (formatPrefix), read from its record without building it: for
   * a listing of a full table. */
  prefixText(id: number): string {
    const o = id * 8;
    const w1 = this.words[o + 1]!;
    if (((w1 >>> 8) & 255) !== 4) return formatPrefix(this.prefixOf(id));
    return `${formatIpv4(swap32(this.words[o + 2]!))}/${w1 & 255}`; // stored in network order
  }

  /** An IPv4 route's address as a number (host order), for a listing to write its prefix
   * without a string; -1 for an IPv6 route. */
  v4AddrOf(id: number): number {
    const o = id * 8;
    return ((this.words[o + 1]! >>> 8) & 255) === 4 ? swap32(this.words[o + 2]!) : -1;
  }

  plenOf(id: number): number {
    return this.plens[id]!;
  }

  /** Whether route `id` is installed. */
  has(id: number): boolean {
    return id > 0 && id < this.plens.length && this.plens[id] !== UNUSED;
  }

  private routeOf(id: number): Route {
    return {
      id,
      prefix: this.prefixOf(id),
      nhg: this.nhgs[id]!,
      metric: this.metrics[id]!,
      origin: ORIGINS[this.origins[id]!]!,
      proto: this.protos[id]!,
    };
  }

  get size(): number {
    return this.v4.size + this.v6.size;
  }

  /** A route's origin, group, metric and kernel protocol, read without building a Route. */
  originOf(id: number): RouteOrigin {
    return ORIGINS[this.origins[id]!]!;
  }

  groupOf(id: number): number {
    return this.nhgs[id]!;
  }

  metricOf(id: number): number {
    return this.metrics[id]!;
  }

  protoOf(id: number): number {
    return this.protos[id]!;
  }

  /** How many of the routes are the host's own. */
  get systemCount(): number {
    return this.systemIds.size;
  }

  /** How many of the routes were imported from a kernel routing table. */
  get importedRouteCount(): number {
    return this.importedCount;
  }

  get counts() {
    return {
      ipv4: this.v4.size,
      ipv6: this.v6.size,
      ipv4Groups: this.fib4.groupsInUse,
      ipv4GroupCapacity: this.fib4.groupCapacity,
      ipv6Nodes: this.fib6.nodesInUse,
      ipv6NodeCapacity: this.fib6.nodeCapacity,
    };
  }

  idOf(prefix: Prefix): number | undefined {
    return prefix.family === 4 ? this.v4.get(prefix.v4, prefix.plen) : this.v6.get(prefix.addr, 0, prefix.plen);
  }

  idOf4(addr: number, plen: number): number | undefined {
    return this.v4.get(addr, plen);
  }

  /** Which of `count` IPv4 prefixes have a route: 1 at each one's index. */
  present4(addrs: Uint32Array, plens: Uint8Array, count: number): Uint8Array | undefined {
    return this.v4.presentAmong(addrs, plens, count);
  }

  /** idOf() of an IPv6 prefix whose address is at `at` in `bytes` (a parsed batch's). */
  idOf6(bytes: Uint8Array, at: number, plen: number): number | undefined {
    return this.v6.get(bytes, at, plen);
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

  /**
   * The prefixes of the imported routes, keyed as routing/kernel-routes.ts keys them (from
   * this table's indexes: a record damaged behind our back does not hide its prefix).
   */
  forEachImportedKey(fn: (key: number | string) => void): void {
    if (!this.importedCount) return;
    const imported = ORIGIN_CODE.imported;
    this.v4.forEach((key, id) => this.origins[id] === imported && fn(key));
    for (const id of this.v6.values()) if (this.origins[id] === imported) fn(prefixKey6(this.keys6, 16 * id, this.plens[id]!));
  }

  /** The ids of the imported routes. */
  *importedIds(): IterableIterator<number> {
    if (!this.importedCount) return;
    const imported = ORIGIN_CODE.imported;
    for (let id = 1; id < this.plens.length; id++) if (this.plens[id] !== UNUSED && this.origins[id] === imported) yield id;
  }

  /** Every route; with `skip`, all but those of that origin (the config's reconciler leaves a
   * million imported routes unread). */
  *all(skip?: RouteOrigin): IterableIterator<Route> {
    const s = skip === undefined ? -1 : ORIGIN_CODE[skip];
    for (const id of this.v4.values()) if (this.origins[id] !== s) yield this.routeOf(id);
    for (const id of this.v6.values()) if (this.origins[id] !== s) yield this.routeOf(id);
  }

  /**
   * The ids of every route (but those of origin `skip`, and of the other family when `family`
   * is given), in the order all() yields them: a snapshot that a long listing walks while the
   * table changes (byId() of an id removed since answers undefined).
   */
  ids(opts: { skip?: RouteOrigin; family?: Family } = {}): Uint32Array {
    const s = opts.skip === undefined ? -1 : ORIGIN_CODE[opts.skip];
    const out = new Uint32Array(this.size);
    let n = 0;
    if (opts.family !== 6) for (const id of this.v4.values()) if (this.origins[id] !== s) out[n++] = id;
    if (opts.family !== 4) for (const id of this.v6.values()) if (this.origins[id] !== s) out[n++] = id;
    return out.subarray(0, n);
  }

  /** Every id a route has had since the table was opened is below this. */
  get idBound(): number {
    return this.neverUsed;
  }

  /** Free ids left (for checking a bulk load before writing anything). */
  get freeCount(): number {
    return this.records.length - this.neverUsed + this.freeTail - this.freeHead;
  }

  private takeId(): number {
    if (this.neverUsed < this.records.length) return this.neverUsed++;
    if (this.freeHead === this.freeTail) throw new PwError('PW_ERR_FULL', `the route table is full (${this.records.length - 1} routes)`);
    const id = this.freeIds[this.freeHead % this.freeIds.length]!;
    this.freeHead++;
    if (this.statsClearing[id]) this.flushStatsClears(); // a nearly full table reuses ids soon
    return id;
  }

  private giveId(id: number): void {
    this.freeIds[this.freeTail % this.freeIds.length] = id;
    this.freeTail++;
  }

  /** Writes a route record; the flags (VALID) go last. An IPv6 address is read at `at` in addr. */
  private writeRecord(
    id: number,
    family: Family,
    addr: Uint8Array | number,
    plen: number,
    nhg: number,
    metric: number,
    flags: number,
    at = 0,
  ): void {
    const off = id * this.stride;
    const v = this.view;
    v.setUint32(off + R.nhg, nhg, true);
    v.setUint8(off + R.plen, plen);
    v.setUint8(off + R.family, family);
    if (typeof addr === 'number') {
      v.setUint32(off + R.prefix, addr, false);
      this.bytes.fill(0, off + R.prefix + 4, off + R.prefix + 16);
    } else {
      for (let i = 0; i < 16; i++) this.bytes[off + R.prefix + i] = this.keys6[16 * id + i] = addr[at + i]!;
    }
    v.setUint32(off + R.metric, metric, true);
    v.setUint16(off + R.flags, flags, true);
    this.remember(id, plen, nhg, metric, flags);
  }

  /** What this table keeps of a record it wrote, beside the maps. */
  private remember(id: number, plen: number, nhg: number, metric: number, flags: number): void {
    this.plens[id] = plen;
    this.nhgs[id] = nhg;
    this.metrics[id] = metric;
    this.track(id, originOfFlags(flags), (flags & PROTO) >> 8);
  }

  /** Records id's origin and protocol (null: the id is free), keeping the counts. */
  private track(id: number, origin: RouteOrigin | null, proto: number): void {
    const before = this.origins[id]!;
    if (before === ORIGIN_CODE.kernel) this.systemIds.delete(id);
    if (before === ORIGIN_CODE.imported) this.importedCount--;
    this.origins[id] = origin ? ORIGIN_CODE[origin] : 0;
    this.protos[id] = origin === 'imported' ? proto : 0;
    if (origin === 'kernel') this.systemIds.add(id);
    if (origin === 'imported') this.importedCount++;
  }

  /**
   * writeRecord() for IPv4 with word stores: struct pw_route is, in 32-bit little-endian words,
   * [nhg][plen | family<<8 | flags<<16][prefix, network order][0][0][0][metric][pad]; the
   * word holding the flags (VALID) is written last.
   */
  private writeRecordV4(id: number, addr: number, plen: number, nhg: number, metric: number, flags: number): void {
    const w = this.words;
    const o = id * 8;
    w[o] = nhg;
    // The prefix is stored in network byte order: swap the host-order number.
    w[o + 2] = swap32(addr);
    w[o + 3] = 0;
    w[o + 4] = 0;
    w[o + 5] = 0;
    w[o + 6] = metric;
    w[o + 7] = 0;
    w[o + 1] = (plen | (4 << 8) | (flags << 16)) >>> 0;
    this.remember(id, plen, nhg, metric, flags);
  }

  /**
   * writeRecord() for IPv6 with word stores (see writeRecordV4), the address's 16 bytes copied
   * as 4 words from `words` (the batch's addresses) at word `at`.
   */
  private writeRecordV6(id: number, words: Uint32Array, at: number, plen: number, nhg: number, metric: number, flags: number): void {
    const w = this.words;
    const k = this.keys6Words;
    const o = id * 8;
    w[o] = nhg;
    w[o + 2] = k[4 * id] = words[at]!;
    w[o + 3] = k[4 * id + 1] = words[at + 1]!;
    w[o + 4] = k[4 * id + 2] = words[at + 2]!;
    w[o + 5] = k[4 * id + 3] = words[at + 3]!;
    w[o + 6] = metric;
    w[o + 7] = 0;
    w[o + 1] = (plen | (6 << 8) | (flags << 16)) >>> 0;
    this.remember(id, plen, nhg, metric, flags);
  }

  /**
   * Installs a new route; the prefix must not have one. The caller's reference to `nhg`
   * passes to the route.
   */
  add(prefix: Prefix, nhg: number, metric = 0, origin: RouteOrigin = 'user', proto = 0): Route {
    if (this.idOf(prefix) !== undefined)
      throw new PwError('PW_ERR_EXISTS', `a route to ${formatPrefix(prefix)} exists`, { hint: "use 'route replace' to change it" });
    if (prefix.family === 4 && this.fib4.groupsNeeded(prefix.v4, prefix.plen) > this.fib4.groupCapacity - this.fib4.groupsInUse) {
      throw new PwError('PW_ERR_FULL', `the IPv4 FIB has no free second-level group for ${formatPrefix(prefix)}`);
    }
    if (prefix.family === 6 && this.fib6.nodesNeededFor([prefix]) > this.fib6.nodesFree) {
      throw new PwError('PW_ERR_FULL', `the IPv6 FIB has no free node for ${formatPrefix(prefix)}`, {
        hint: 'load the pipeline with more ipv6Nodes',
      });
    }
    const id = this.takeId();
    const flags = routeFlags(origin, proto);
    if (prefix.family === 4) {
      this.writeRecord(id, 4, prefix.v4, prefix.plen, nhg, metric, flags);
      this.fib4.insert(prefix.v4, prefix.plen, id);
      this.v4.set(prefix.v4, prefix.plen, id);
    } else {
      this.writeRecord(id, 6, prefix.addr, prefix.plen, nhg, metric, flags);
      this.fib6.insert(prefix.addr, prefix.plen, id);
      this.v6.add(id);
    }
    return this.routeOf(id);
  }

  /**
   * Installs many new IPv4 routes, none of which may exist (the caller checked). Routes go in
   * address order when they come so, else in ascending prefix length: either way each prefix
   * is written before those inside it, so each DIR-24-8 write only ever replaces a shorter
   * prefix. Returns the ids, in input order.
   */
  addV4Bulk(b: V4Bulk): Uint32Array {
    const ids = new Uint32Array(b.count);
    // Routes in address order (then length: a table file's or a sorted dump's) are written in
    // that order: every prefix comes before those inside it, as the length order would give,
    // and the DIR-24-8 fills and record writes walk memory forward instead of jumping across
    // 64 MiB for each route. (In a profile of a full table's load the two took ~10 ms less:
    // what they cost is mostly the first write to each page.)
    const order = inOrder(b.addr, b.plen, b.count) ? undefined : lengthOrder(b.plen, b.count);
    // Ids in input order: a table given in address order has its records in address order,
    // and the next open rebuilds the prefix index from them without a full sort.
    for (let i = 0; i < b.count; i++) ids[i] = this.takeId();
    for (let k = 0; k < b.count; k++) {
      const i = order ? order[k]! : k;
      const addr = b.addr[i]!;
      const len = b.plen[i]!;
      const id = ids[i]!;
      const g = b.group ? b.group[i]! : i;
      this.writeRecordV4(id, addr, len, b.nhg[g]!, b.metric[g]!, b.flags ? b.flags[i]! : VALID);
      // No route of the table before this call lies inside the prefix (the new ones inside
      // it are longer, so written after it): its entries hold nothing longer, and take it
      // with one fill. A full table loaded into an instance with the host's few routes only.
      const nothingLonger = len <= 24 && !this.v4.anyWithin(addr, addr + (0xffffffff >>> len));
      this.fib4.insert(addr, len, id, nothingLonger);
    }
    this.v4.bulkAdd(b.addr, b.plen, ids, b.count);
    return ids;
  }

  /**
   * Installs many new IPv6 routes, none of which may exist (the caller checked, and checked
   * the FIB's free nodes with fib6.nodesNeededFor). Shortest prefixes first (a counting sort),
   * so no insert reaches under a longer one. Each id goes to `added` as its route is in place
   * (so a caller can undo a load that fails half-way).
   */
  addV6Bulk(b: V6Bulk, added: number[]): void {
    const start = new Uint32Array(130);
    for (let k = 0; k < b.count; k++) start[b.plen[b.at[k]!]! + 1]!++;
    for (let l = 1; l < 130; l++) start[l]! += start[l - 1]!;
    const order = new Uint32Array(b.count);
    for (let k = 0; k < b.count; k++) order[start[b.plen[b.at[k]!]!]!++] = k;
    this.v6.reserve(this.v6.size + b.count);
    // The addresses as words where they are aligned (a parsed batch's own buffer: always).
    const words = b.addr.byteOffset % 4 === 0 ? new Uint32Array(b.addr.buffer, b.addr.byteOffset, b.addr.length >>> 2) : undefined;
    for (let j = 0; j < b.count; j++) {
      const k = order[j]!;
      const i = b.at[k]!;
      const plen = b.plen[i]!;
      const id = this.takeId();
      if (words) this.writeRecordV6(id, words, 4 * i, plen, b.nhg[k]!, b.metric[k]!, VALID);
      else this.writeRecord(id, 6, b.addr, plen, b.nhg[k]!, b.metric[k]!, VALID, 16 * i);
      this.fib6.insert(b.addr, plen, id, 16 * i);
      this.v6.add(id);
      added.push(id);
    }
  }

  /** Second-level groups a set of new IPv4 prefixes would need (for a capacity check). */
  groupsNeededFor(b: V4Bulk): number {
    const split = new Set<number>();
    for (let i = 0; i < b.count; i++) if (b.plen[i]! > 24 && this.fib4.groupsNeeded(b.addr[i]!, b.plen[i]!)) split.add(b.addr[i]! >>> 8);
    return split.size;
  }

  /**
   * Points an existing route at another group (one 32-bit store); returns the old group. The
   * route takes the given origin: a system route repointed by the user becomes the user's.
   */
  repoint(id: number, nhg: number, metric: number, origin: RouteOrigin = 'user', proto = 0): number {
    const off = id * this.stride;
    const old = this.nhgs[id]!;
    const flags = routeFlags(origin, proto);
    this.view.setUint32(off + R.metric, metric, true);
    this.view.setUint32(off + R.nhg, nhg, true);
    this.view.setUint16(off + R.flags, flags, true);
    this.nhgs[id] = nhg;
    this.metrics[id] = metric;
    this.track(id, origin, proto);
    return old;
  }

  /**
   * Whether the maps still hold route `id` as this table knows it: its record valid and for
   * its prefix, and the FIB pointing at it (unless a longer prefix covers the address). A
   * write to the pinned maps behind Pathwise's back shows here.
   */
  intact(id: number, prefix: Prefix): boolean {
    const off = id * this.stride;
    const v = this.view;
    const want = routeFlags(ORIGINS[this.origins[id]!]!, this.protos[id]!);
    if (v.getUint16(off + R.flags, true) !== want) return false;
    if (v.getUint32(off + R.nhg, true) !== this.nhgs[id] || v.getUint32(off + R.metric, true) !== this.metrics[id]) return false;
    if (v.getUint8(off + R.plen) !== prefix.plen || v.getUint8(off + R.family) !== prefix.family) return false;
    for (let i = 0; i < (prefix.family === 4 ? 4 : 16); i++) if (this.bytes[off + R.prefix + i] !== prefix.addr[i]) return false;
    if (prefix.family === 6) {
      if (this.fib6.lookup(prefix.addr) === id) return true;
      for (let l = 128; l > prefix.plen; l--) if (this.v6.has(prefix.addr, 0, l)) return true;
      return false;
    }
    if (this.fib4.lookup(prefix.v4) === id) return true;
    // The first address may belong to a longer prefix: then the FIB is right to differ.
    for (let l = 32; l > prefix.plen; l--) if (this.v4.get((prefix.v4 & v4Mask(l)) >>> 0, l) !== undefined) return true;
    return false;
  }

  /** Writes route `id` into its record and the FIB again, as this table knows it (repairing
   * what intact() found). */
  rewrite(id: number, prefix: Prefix): void {
    const flags = routeFlags(ORIGINS[this.origins[id]!]!, this.protos[id]!);
    this.writeRecord(
      id,
      prefix.family,
      prefix.family === 4 ? prefix.v4 : prefix.addr,
      prefix.plen,
      this.nhgs[id]!,
      this.metrics[id]!,
      flags,
    );
    if (prefix.family === 4) this.fib4.insert(prefix.v4, prefix.plen, id);
    else this.fib6.insert(prefix.addr, prefix.plen, id);
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
      this.fib6.remove(prefix.addr, prefix.plen, id, this.parent6(prefix.addr, prefix.plen) ?? 0);
      this.v6.delete(id);
    }
    this.invalidate(id);
    return route;
  }

  private invalidate(id: number): void {
    this.track(id, null, 0);
    this.view.setUint16(id * this.stride + R.flags, 0, true);
    this.plens[id] = UNUSED;
    this.clearStatsOf(id);
    this.giveId(id);
  }

  /**
   * A removed route's counters go with it: the route that takes its id next starts at zero.
   * They are zeroed in batches (one update a syscall took ~2.3 us, 2 s for a full table's
   * removal; a batch ~0.4 us an entry): before the id is taken again, at the batch's size, and
   * at close (a process that dies first leaves at most a batch of ids with their counters). A
   * packet that found the route just before the FIB let it go may count a moment later; the
   * free ring reuses an id last, so that is long past when the batch goes. Counts a flow cache
   * slot holds for the route may wait longer (until the slot flushes): the batch flushes them
   * first, so none lands in the counter of the route that takes the id next.
   */
  private clearStatsOf(id: number): void {
    this.statsToClear[this.statsPending++] = id;
    this.statsClearing[id] = 1;
    if (this.statsPending === this.statsToClear.length) this.flushStatsClears();
  }

  private flushStatsClears(): void {
    const n = this.statsPending;
    if (!n) return;
    this.flushPending();
    this.maps.routeStats.updateBatchRaw(
      new Uint8Array(this.statsToClear.buffer, 0, 4 * n),
      new Uint8Array(abi.PwCounter.size * n), // zero
      n,
    );
    for (let i = 0; i < n; i++) this.statsClearing[this.statsToClear[i]!] = 0;
    this.statsPending = 0;
  }

  /** The id of the longest installed IPv4 prefix strictly shorter than plen covering addr. */
  private parent4(addr: number, plen: number): number | undefined {
    for (let l = plen - 1; l >= 0; l--) {
      const id = this.v4.get((addr & v4Mask(l)) >>> 0, l);
      if (id !== undefined) return id;
    }
    return undefined;
  }

  /** The id of the longest installed IPv6 prefix strictly shorter than plen covering addr. */
  private parent6(addr: Uint8Array, plen: number): number | undefined {
    for (let l = plen - 1; l >= 0; l--) {
      const id = this.v6.get(addr, 0, l);
      if (id !== undefined) return id;
    }
    return undefined;
  }

  close(): void {
    try {
      this.flushStatsClears();
    } finally {
      this.records.close();
      this.tbl24Map.close();
      this.tbl8Map.close();
      this.fib6Map.close();
    }
  }
}

/** A 32-bit word's bytes reversed: an IPv4 address between host order and the record's
 * network order, read or written as a little-endian word. */
const swap32 = (x: number) => ((x >>> 24) | ((x >>> 8) & 0xff00) | ((x & 0xff00) << 8) | (x << 24)) >>> 0;

/** The mmap-ed pw_fib6_nodes as the IPv6 FIB's two parts: the first level (its first
 * FIB6_ROOT_NODES elements) and the nodes below it (node n at element FIB6_ROOT_NODES + n). */
function fib6Levels(m: MappedArray<abi.PwFib6Node>): [Uint32Array, Uint32Array] {
  const rootEntries = abi.PwLimit.FIB6_ROOT_NODES * 256;
  return [new Uint32Array(m.view.buffer, 0, rootEntries), new Uint32Array(m.view.buffer, 4 * rootEntries, m.length * 256 - rootEntries)];
}

/** Installs IPv6 routes shortest prefix first (so no insert has to reach under a longer one). */
function insertShortestFirst(fib6: Fib6Table, ids: number[], plens: Uint8Array, addrOf: (id: number) => Uint8Array): void {
  ids.sort((a, b) => plens[a]! - plens[b]!);
  for (const id of ids) fib6.insert(addrOf(id), plens[id]!, id);
}
