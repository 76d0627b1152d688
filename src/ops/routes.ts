/** Route operations over a data plane: what `pathwise route …` does and GET /v1/routes answers. */
import type { Dataplane, RouteCounters } from '../dataplane/dataplane.js';

export type { RouteCounters };
import type { Gateway } from '../dataplane/nexthop-table.js';
import type { LookupResult } from '../routing/route.js';
import type { NexthopView, RouteSpec, RouteView } from '../routing/route.js';
import type { RouteBatch } from '../routing/route-syntax.js';
import { parseAddress, type Prefix } from '../util/ip.js';
import type { RouteQuery, RouteRow } from './operations.js';

export async function listRoutes(dp: Dataplane, q: RouteQuery = {}): Promise<RouteRow[]> {
  return routeRows(dp, routeIds(dp, q), q.stats ? await dp.routeCounters() : undefined);
}

/** The ids of the routes a query selects: a snapshot that a long listing (a full table, a
 * page at a time or streamed) walks without building a row for the routes it skips. */
export function routeIds(dp: Dataplane, q: RouteQuery): Uint32Array {
  const ids = dp.routes.ids({ family: q.family });
  return q.user ? ids.filter((id) => dp.routes.originOf(id) === 'user') : ids;
}

/** The rows of some of those ids, with their counters when given (the routes removed since the
 * snapshot are left out). */
export function routeRows(dp: Dataplane, ids: Uint32Array, counters?: RouteCounters): RouteRow[] {
  const rows: RouteRow[] = [];
  const groups = new Map<number, NexthopView[]>(); // (the names are read once per chunk)
  for (const id of ids) {
    const view = dp.routeView(id, groups);
    if (!view) continue;
    rows.push(counters ? { ...view, ...(counters.get(id) ?? { packets: 0, bytes: 0 }) } : view);
  }
  return rows;
}

/** The rows of some ids as JSON (Dataplane.routeRowsJson: no view built), with counters
 * when given (0 for a route without traffic), `separator` between them and `after` the last. */
export function routeRowsJson(
  dp: Dataplane,
  ids: Uint32Array,
  counters: RouteCounters | undefined,
  separator: string,
  after = '',
): { bytes: Buffer; rows: number } {
  return dp.routeRowsJson(ids, counters, separator, after);
}

/** Rows handed out this many at a time by a streamed listing (between them the daemon turns its
 * event loop). */
export const ROUTE_CHUNK = 4096;

/** The ids a query selects (a snapshot), a ROUTE_CHUNK at a time, with the counters once. */
export async function forEachChunk(
  dp: Dataplane,
  q: RouteQuery,
  fn: (ids: Uint32Array, counters: RouteCounters | undefined) => void,
): Promise<void> {
  const ids = routeIds(dp, q);
  const counters = q.stats ? await dp.routeCounters() : undefined;
  for (let i = 0; i < ids.length; i += ROUTE_CHUNK) fn(ids.subarray(i, i + ROUTE_CHUNK), counters);
}

export function addRoute(dp: Dataplane, spec: RouteSpec, replace: boolean): RouteView {
  return replace ? dp.replaceRoute(spec) : dp.addRoute(spec);
}

export function deleteRoute(dp: Dataplane, prefix: Prefix): RouteView {
  const view = dp.deleteRoute(prefix);
  // A user route gone may uncover one of the host's own (a connected subnet): it comes back.
  dp.syncHostRoutes();
  return view;
}

export function loadRoutes(dp: Dataplane, batch: RouteBatch, opts: { replace?: boolean } = {}): { added: number; replaced: number } {
  return dp.loadRoutes(batch, opts);
}

export function lookup(dp: Dataplane, addresses: string[]): LookupResult[] {
  return dp.lookup(addresses);
}

/** The gateways a route sends to. */
export function gatewaysOf(view: RouteView): Gateway[] {
  return view.nexthops.flatMap((n) => {
    if (!n.via) return [];
    const gw = parseAddress(n.via);
    return [{ family: gw.family, addr: gw.addr, ifindex: n.ifindex, via: n.via, dev: n.dev }];
  });
}

/**
 * For one-shot commands: waits (briefly, without blocking) for the kernel to resolve the
 * gateways, then copies the neighbours into the data plane, so the routes' traffic takes the
 * fast path from the first packet. Returns the gateways still unresolved.
 */
export const settleGateways = (dp: Dataplane, gateways?: Gateway[]): Promise<{ via: string; dev: string }[]> =>
  dp.resolveNeighbors(gateways);
