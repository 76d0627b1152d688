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
import { kernelNexthops, kernelRoutes } from '../kernel/index.js';
import { PwError } from '../errors.js';
import { prefixOfKey, type ImportedRoute, type KernelRouteView, type PrefixKey } from '../routing/kernel-routes.js';
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

/**
 * Brings the imported routes in line with `view`: for the prefixes in `keys`, or for every
 * prefix either side knows (a full sync, which also repairs damaged records).
 */
export function syncImportedRoutes(dp: Dataplane, view: KernelRouteView, keys?: Iterable<PrefixKey>): ImportSync {
  const { routes, nexthops } = dp;
  const out: ImportSync = { added: 0, replaced: 0, removed: 0, rewritten: 0, toKernel: 0 };
  const full = keys === undefined;
  let todo: Iterable<PrefixKey>;
  if (full) {
    const all = new Set<PrefixKey>(view.keys());
    for (const key of routes.importedKeys()) all.add(key);
    todo = all;
  } else todo = keys;

  // One group per distinct set of hops; the cache holds one reference, dropped at the end.
  const groups = new Map<string, number>();
  const groupOf = (r: ImportedRoute): number => {
    if (r.type !== 'unicast') return specialNhg(r.type);
    let g = groups.get(r.hopsKey);
    if (g === undefined) {
      try {
        g = nexthops.acquire(r.hops.map((h) => ({ family: h.family, gw: h.gw, ifindex: h.ifindex, weight: h.weight })));
      } catch {
        // No room for another group (or an interface gone): the kernel routes it.
        g = abi.PwNhgSpecial.KERNEL;
      }
      groups.set(r.hopsKey, g);
    }
    if (g === abi.PwNhgSpecial.KERNEL) out.toKernel++;
    return g;
  };
  const ref = (g: number) => g >= abi.PwNhgSpecial.FIRST && nexthops.addRefs(g, 1);
  const unref = (g: number) => g >= abi.PwNhgSpecial.FIRST && nexthops.release(g);

  const fresh: { r: ImportedRoute; nhg: number }[] = [];
  try {
    for (const key of todo) {
      const prefix = prefixOfKey(key);
      const want = view.route(key);
      const id = routes.idOf(prefix);
      const have = id === undefined ? undefined : routes.byId(id)!;
      if (have && have.origin !== 'imported') continue; // the user's or the host's route wins
      if (have && full && !routes.intact(have.id, prefix)) {
        routes.rewrite(have.id, prefix);
        out.rewritten++;
      }
      if (!want) {
        if (have) {
          unref(routes.removeById(have.id).nhg);
          out.removed++;
        }
        continue;
      }
      const nhg = groupOf(want);
      if (!have) {
        fresh.push({ r: want, nhg });
        continue;
      }
      if (have.nhg === nhg && have.metric === want.metric && have.proto === want.proto) continue;
      ref(nhg);
      unref(routes.repoint(have.id, nhg, want.metric, 'imported', want.proto));
      out.replaced++;
    }
    out.added = addFresh(dp, fresh, ref);
  } finally {
    for (const g of groups.values()) unref(g);
  }
  return out;
}

/** Installs new imported routes: IPv4 in bulk when there are many. */
function addFresh(dp: Dataplane, fresh: { r: ImportedRoute; nhg: number }[], ref: (g: number) => void): number {
  const { routes } = dp;
  const v4 = fresh.length >= BULK_FROM ? fresh.filter((f) => f.r.prefix.family === 4) : [];
  const single = v4.length ? fresh.filter((f) => f.r.prefix.family !== 4) : fresh;
  let added = 0;
  if (v4.length) {
    const bulk: V4Bulk = {
      count: v4.length,
      addr: new Uint32Array(v4.length),
      plen: new Uint8Array(v4.length),
      nhg: new Uint32Array(v4.length),
      metric: new Uint32Array(v4.length),
      flags: new Uint16Array(v4.length),
    };
    v4.forEach(({ r, nhg }, k) => {
      bulk.addr[k] = r.prefix.v4;
      bulk.plen[k] = r.prefix.plen;
      bulk.nhg[k] = nhg;
      bulk.metric[k] = r.metric;
      bulk.flags![k] = routeFlags('imported', r.proto);
    });
    const free = routes.fib4.groupCapacity - routes.fib4.groupsInUse;
    const need = routes.groupsNeededFor(bulk);
    if (need > free || v4.length > routes.freeCount) {
      throw new PwError(
        'PW_ERR_FULL',
        `${v4.length} imported IPv4 routes do not fit (${routes.freeCount} route slots, ${free} FIB groups free)`,
        {
          hint: 'load the pipeline with more routes or ipv4Groups',
        },
      );
    }
    routes.addV4Bulk(bulk);
    for (const { nhg } of v4) ref(nhg);
    added += v4.length;
  }
  for (const { r, nhg } of single) {
    routes.add(r.prefix, nhg, r.metric, 'imported', r.proto);
    ref(nhg);
    added++;
  }
  return added;
}

/** Removes every imported route (the import was switched off). */
export function removeImportedRoutes(dp: Dataplane): number {
  const ids = [...dp.routes.importedIds()];
  for (const id of ids) {
    const nhg = dp.routes.removeById(id).nhg;
    if (nhg >= abi.PwNhgSpecial.FIRST) dp.nexthops.release(nhg);
  }
  return ids.length;
}

/** Reads the kernel tables `view` imports from (and the nexthop objects) into it, anew. */
export function readKernelRoutes(view: KernelRouteView): void {
  view.reset(kernelRoutes(0, view.tables), kernelNexthops());
}
