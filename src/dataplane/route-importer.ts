/**
 * Installs the routes a KernelRouteView wants (routing/kernel-routes.ts) with origin
 * 'imported', and removes imported routes the kernel no longer has. A route the user or the
 * host's addresses hold for the same prefix wins: the imported one waits behind it (and
 * returns when it goes, on the next sync of that prefix).
 *
 * A full sync also checks every imported route in the maps against what the route table
 * wrote (a write behind Pathwise's back) and writes it again where they differ. One nexthop
 * group is acquired per distinct set of hops, not per route, and new IPv4 routes go in
 * through the bulk path (a full table is ~900k routes).
 */
import * as abi from '../generated/pathwise.js';
import { kernelFibPrefixCounts, kernelNexthops, kernelRouteDump } from '../kernel/index.js';
import { PwError } from '../errors.js';
import { prefixOfKey, type ImportedRoute, type KernelRouteView, type PrefixKey } from '../routing/kernel-routes.js';
import type { Prefix } from '../util/ip.js';
import { grown } from '../util/typed-arrays.js';
import type { Dataplane } from './dataplane.js';
import { routeFlags, specialNhg, type V4Bulk } from './route-table.js';

export interface ImportSync {
  added: number;
  replaced: number;
  removed: number;
  /** Imported routes found damaged in the maps and written again. */
  rewritten: number;
  /** Routes whose nexthops could not be installed (they go to the kernel instead). */
  toKernel: number;
}

/** Below this many new IPv4 routes, one by one is as fast as the bulk path. */
const BULK_FROM = 256;

/** A step between parts of a long sync: gives the event loop a turn. */
export type NextTurn = () => Promise<void>;

/**
 * Brings the imported routes in line with `view`: for the prefixes in `keys`, or for every
 * prefix either side knows (a full sync, which also repairs damaged records).
 */
export function syncImportedRoutes(dp: Dataplane, view: KernelRouteView, keys?: Iterable<PrefixKey>): ImportSync {
  const s = new ImportSyncer(dp, view, keys === undefined);
  try {
    if (keys) for (const key of keys) s.one(key);
    else {
      const all = view.snapshot();
      for (let i = 0; i < all.keys.length; i++) s.one(all.keys[i]!, all.route(i));
      s.removeGone();
    }
    return s.finish();
  } finally {
    s.close();
  }
}

/**
 * A full sync (see syncImportedRoutes) `chunk` prefixes at a time, with a turn of the event
 * loop between parts: a full table never holds the daemon for the whole sync. The caller keeps
 * other writers out meanwhile (the controller's queue). New routes go in together at the end
 * (the bulk path rebuilds the prefix index once).
 */
export async function syncImportedRoutesInTurns(
  dp: Dataplane,
  view: KernelRouteView,
  chunk: number,
  nextTurn: NextTurn,
): Promise<ImportSync> {
  const s = new ImportSyncer(dp, view, true);
  try {
    const all = view.snapshot();
    const { keys } = all;
    for (let i = 0; i < keys.length; i += chunk) {
      for (let k = i; k < Math.min(i + chunk, keys.length); k++) s.one(keys[k]!, all.route(k));
      await nextTurn();
    }
    s.removeGone();
    // New routes in parts too: the first import of a full table is ~900k of them.
    return await s.finishInTurns(chunk * 4, nextTurn);
  } finally {
    s.close();
  }
}

class ImportSyncer {
  readonly out: ImportSync = { added: 0, replaced: 0, removed: 0, rewritten: 0, toKernel: 0 };
  /** One group per distinct set of hops; this cache holds one reference, dropped at close(). */
  private readonly groups = new Map<string, number>();
  private readonly fresh = new FreshRoutes();
  /** Imported routes found installed for the prefixes synced (see removeGone). */
  private importedSeen = 0;
  /** IPv4 keys are numbers: their prefix is read into this one object (nothing keeps it). */
  private readonly scratch: Prefix = { family: 4, addr: new Uint8Array(16), v4: 0, plen: 0 };

  constructor(
    private readonly dp: Dataplane,
    private readonly view: KernelRouteView,
    /** Check the maps of every route synced (a full sync). */
    private readonly verify: boolean,
  ) {}

  private prefixOf(key: PrefixKey): Prefix {
    if (typeof key === 'string') return prefixOfKey(key);
    const p = this.scratch;
    p.plen = Math.floor(key / 4294967296);
    p.v4 = key - p.plen * 4294967296;
    p.addr[0] = p.v4 >>> 24;
    p.addr[1] = (p.v4 >>> 16) & 255;
    p.addr[2] = (p.v4 >>> 8) & 255;
    p.addr[3] = p.v4 & 255;
    return p;
  }

  private lastRoute: ImportedRoute | null = null;
  private lastGroup = 0;

  private groupOf(r: ImportedRoute): number {
    if (r.type !== 'unicast') return specialNhg(r.type);
    // Routes in a row mostly share their route object (the view shares it per hop set).
    if (r === this.lastRoute) {
      if (this.lastGroup === abi.PwNhgSpecial.KERNEL) this.out.toKernel++;
      return this.lastGroup;
    }
    let g = this.groups.get(r.hopsKey);
    if (g === undefined) {
      try {
        g = this.dp.nexthops.acquire(r.hops.map((h) => ({ family: h.family, gw: h.gw, ifindex: h.ifindex, weight: h.weight })));
      } catch {
        // No room for another group (or an interface gone): the kernel routes it.
        g = abi.PwNhgSpecial.KERNEL;
      }
      this.groups.set(r.hopsKey, g);
    }
    if (g === abi.PwNhgSpecial.KERNEL) this.out.toKernel++;
    this.lastRoute = r;
    this.lastGroup = g;
    return g;
  }

  private readonly ref = (g: number) => g >= abi.PwNhgSpecial.FIRST && this.dp.nexthops.addRefs(g, 1);
  private readonly unref = (g: number) => g >= abi.PwNhgSpecial.FIRST && this.dp.nexthops.release(g);

  /** Syncs one prefix to `want`, what the view wants there (a new route waits for finish()). */
  one(key: PrefixKey, want = this.view.route(key)): void {
    const { routes } = this.dp;
    const prefix = this.prefixOf(key);
    const id = routes.idOf(prefix);
    if (id !== undefined && routes.originOf(id) !== 'imported') return; // the user's or the host's route wins
    if (id !== undefined) this.importedSeen++;
    if (id !== undefined && this.verify && !routes.intact(id, prefix)) {
      routes.rewrite(id, prefix);
      this.out.rewritten++;
    }
    if (!want) {
      if (id !== undefined) {
        this.unref(routes.removeById(id).nhg);
        this.out.removed++;
      }
      return;
    }
    const nhg = this.groupOf(want);
    if (id === undefined) {
      this.fresh.push(key, want, nhg);
      return;
    }
    if (routes.groupOf(id) === nhg && routes.metricOf(id) === want.metric && routes.protoOf(id) === want.proto) return;
    this.ref(nhg);
    this.unref(routes.repoint(id, nhg, want.metric, 'imported', want.proto));
    this.out.replaced++;
  }

  /**
   * After every prefix of the view was synced: removes the imported routes for prefixes the
   * view no longer has. Only when there are such (more imported routes than were seen): the
   * search reads every route.
   */
  removeGone(): void {
    const { routes } = this.dp;
    if (routes.importedRouteCount <= this.importedSeen - this.out.removed) return;
    const gone: PrefixKey[] = [];
    routes.forEachImportedKey((key) => !this.view.has(key) && gone.push(key));
    for (const key of gone) this.one(key);
  }

  /** Installs the new routes; returns what the sync did. */
  finish(): ImportSync {
    this.out.added = addFresh(this.dp, this.fresh, 0, this.fresh.size, this.ref);
    return this.out;
  }

  /** finish(), `part` routes at a time with a turn of the event loop between parts. */
  async finishInTurns(part: number, nextTurn: NextTurn): Promise<ImportSync> {
    for (let i = 0; i < this.fresh.size; i += part) {
      if (i) await nextTurn();
      this.out.added += addFresh(this.dp, this.fresh, i, Math.min(i + part, this.fresh.size), this.ref);
    }
    return this.out;
  }

  close(): void {
    for (const g of this.groups.values()) this.unref(g);
    this.groups.clear();
  }
}

/** Installs new imported routes: IPv4 in bulk when there are many. */
/**
 * Routes to add: IPv4 ones in parallel arrays of numbers (a first import is ~900k of them, and
 * an object each was garbage to collect), IPv6 ones as objects. Indexes run over the IPv4
 * routes first, then the IPv6 ones (no two are for one prefix, so the order is free).
 */
class FreshRoutes {
  v4Count = 0;
  v4Keys = new Float64Array(1024);
  v4Nhg = new Uint32Array(1024);
  readonly v4Routes: ImportedRoute[] = [];
  readonly v6: { key: PrefixKey; r: ImportedRoute; nhg: number }[] = [];

  get size(): number {
    return this.v4Count + this.v6.length;
  }

  push(key: PrefixKey, r: ImportedRoute, nhg: number): void {
    if (typeof key !== 'number') {
      this.v6.push({ key, r, nhg });
      return;
    }
    const k = this.v4Count++;
    if (k === this.v4Keys.length) {
      this.v4Keys = grown(this.v4Keys, k * 2);
      this.v4Nhg = grown(this.v4Nhg, k * 2);
    }
    this.v4Keys[k] = key;
    this.v4Nhg[k] = nhg;
    this.v4Routes.push(r);
  }
}

/** Installs fresh routes [from, to): IPv4 ones in one bulk write when there are many. */
function addFresh(dp: Dataplane, fresh: FreshRoutes, from: number, to: number, ref: (g: number) => void): number {
  const { routes } = dp;
  const v4From = Math.min(from, fresh.v4Count);
  const v4To = Math.min(to, fresh.v4Count);
  const single = fresh.v6.slice(Math.max(from, fresh.v4Count) - fresh.v4Count, Math.max(to, fresh.v4Count) - fresh.v4Count);
  const bulkCount = v4To - v4From >= BULK_FROM ? v4To - v4From : 0;
  for (let i = v4From + bulkCount; i < v4To; i++) single.push({ key: fresh.v4Keys[i]!, r: fresh.v4Routes[i]!, nhg: fresh.v4Nhg[i]! });
  let added = 0;
  if (bulkCount) {
    const bulk: V4Bulk = {
      count: bulkCount,
      addr: new Uint32Array(bulkCount),
      plen: new Uint8Array(bulkCount),
      nhg: fresh.v4Nhg.slice(v4From, v4To),
      metric: new Uint32Array(bulkCount),
      flags: new Uint16Array(bulkCount),
    };
    for (let k = 0; k < bulkCount; k++) {
      const key = fresh.v4Keys[v4From + k]!;
      const r = fresh.v4Routes[v4From + k]!;
      const plen = Math.floor(key / 4294967296);
      bulk.addr[k] = key - plen * 4294967296;
      bulk.plen[k] = plen;
      bulk.metric[k] = r.metric;
      bulk.flags![k] = routeFlags('imported', r.proto);
    }
    const free = routes.fib4.groupCapacity - routes.fib4.groupsInUse;
    const need = routes.groupsNeededFor(bulk);
    if (need > free || bulkCount > routes.freeCount) {
      throw new PwError(
        'PW_ERR_FULL',
        `${bulkCount} imported IPv4 routes do not fit (${routes.freeCount} route slots, ${free} FIB groups free)`,
        {
          hint: 'load the pipeline with more routes or ipv4Groups',
        },
      );
    }
    routes.addV4Bulk(bulk);
    for (let k = 0; k < bulkCount; k++) ref(bulk.nhg[k]!);
    added += bulkCount;
  }
  for (const { key, r, nhg } of single) {
    routes.add(prefixOfKey(key), nhg, r.metric, 'imported', r.proto);
    ref(nhg);
    added++;
  }
  return added;
}

export function removeImportedRoutes(dp: Dataplane): number {
  const ids = [...dp.routes.importedIds()];
  for (const id of ids) {
    const nhg = dp.routes.removeById(id).nhg;
    if (nhg >= abi.PwNhgSpecial.FIRST) dp.nexthops.release(nhg);
  }
  return ids.length;
}

/**
 * Sizes a view about to read the kernel's tables for at least `atLeast` routes, or the
 * kernel's own count of their IPv4 prefixes if larger: a full table then grows nothing as its
 * parts arrive (growing a million-entry hash by doubling rehashes four million entries on the
 * way).
 */
function reserveForKernelTables(view: KernelRouteView, atLeast: number): void {
  const counts = kernelFibPrefixCounts();
  const inKernel = view.tables.reduce((n, t) => n + (counts.get(t) ?? 0), 0);
  view.reserve(Math.max(atLeast, inKernel));
}

/**
 * Reads the kernel tables `view` imports from (and the nexthop objects) into it, which must be
 * new: `chunk` routes at a time (yielding between parts), sized first as
 * reserveForKernelTables says. The count is the kernel walking its whole trie
 * (~70 ms of a full table's read in a profile): it runs once the dump's own thread is reading
 * the first parts, so the two overlap.
 */
function* kernelRouteParts(view: KernelRouteView, chunk: number, atLeast: number): Generator<void> {
  view.setObjects(kernelNexthops());
  const dump = kernelRouteDump(0, view.tables);
  try {
    reserveForKernelTables(view, atLeast);
    for (;;) {
      const { routes, done } = dump.read(chunk);
      view.load(routes);
      if (done) return;
      yield;
    }
  } finally {
    dump.close();
  }
}

/** Reads the kernel's tables into `view` at once (kernelRouteParts). */
export function readKernelRoutes(view: KernelRouteView, chunk: number, atLeast = 0): void {
  for (const _part of kernelRouteParts(view, chunk, atLeast));
}

/** Reads the kernel's tables into `view` (kernelRouteParts), a turn of the event loop between parts. */
export async function readKernelRoutesInTurns(view: KernelRouteView, chunk: number, nextTurn: NextTurn, atLeast = 0): Promise<void> {
  for (const _part of kernelRouteParts(view, chunk, atLeast)) await nextTurn();
}
