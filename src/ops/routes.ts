/** Route operations over a data plane: what `pathwise route …` does and GET /v1/routes answers. */
import type { Dataplane } from '../dataplane/dataplane.js';
import type { Gateway } from '../dataplane/nexthop-table.js';
import type { LookupResult } from '../routing/route.js';
import type { RouteSpec, RouteView } from '../routing/route.js';
import type { RouteBatch } from '../routing/route-syntax.js';
import { parseAddress, type Prefix } from '../util/ip.js';
import type { RouteQuery, RouteRow } from './operations.js';

export function listRoutes(dp: Dataplane, q: RouteQuery = {}): RouteRow[] {
  const list = dp.listRoutes().filter((r) => (!q.family || r.family === q.family) && (!q.user || r.origin === 'user'));
  if (!q.stats) return list;
  const counters = dp.routeCounters();
  return list.map((r) => ({ ...r, ...(counters.get(r.id) ?? { packets: 0, bytes: 0 }) }));
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
