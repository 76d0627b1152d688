/**
 * Routes: the config's routes and the host's own (from its addresses) merged by the RIB
 * (routing/rib.ts), diffed against every route the data plane holds. A config route compiled
 * once is kept by its object (ctx.routeCache): an edit of a large config through the API
 * compiles the route it adds, not every route again.
 */
import type { Dataplane } from '../../dataplane/dataplane.js';
import { hostRouteSpec } from '../../routing/host-routes.js';
import { planRoutes, Rib, type RibRoute, type RouteChange } from '../../routing/rib.js';
import type { RouteSpec, RouteView } from '../../routing/route.js';
import { routeSpecOf } from '../config/forms.js';
import type { Config } from '../config/schema.js';
import { Phase, type CompileContext, type Reconciler } from '../reconcile.js';
import { parsePrefix } from '../../util/ip.js';

export type RoutingChange = RouteChange & { kind: 'route'; phase: number };

/** The config's routes as specs, reusing what an earlier compile made of the same objects. */
export function configRoutes(cfg: Config, ctx: Pick<CompileContext, 'routeCache'>): RouteSpec[] {
  return cfg.routes.map((r, i) => {
    const where = `routes[${i}]`;
    // A route naming a nexthop group depends on the group too: not cached.
    const cached = r.nexthopGroup ? undefined : ctx.routeCache?.get(r);
    if (cached) return cached.where === where ? cached : { ...cached, where };
    const spec = routeSpecOf(cfg, r, where);
    if (!r.nexthopGroup) ctx.routeCache?.set(r, spec);
    return spec;
  });
}

/**
 * The routes a config owns: every route but the imported ones, which the import follows
 * (control/route-import.ts). An imported route is read only where the config wants a route
 * for its prefix: the config's route replaces it (and the import puts it back when the config
 * drops the route).
 */
export interface RunningRoutes {
  owned: Map<string, RouteView>;
  importedAt(prefix: string): RouteView | undefined;
}

function byPrefix(views: RouteView[]): Map<string, RouteView> {
  const m = new Map<string, RouteView>();
  for (const v of views) m.set(v.prefix, v);
  return m;
}

export const routingReconciler: Reconciler<Map<string, RibRoute>, RunningRoutes, RoutingChange> = {
  kinds: ['route'],
  desired(cfg, ctx) {
    const rib = new Rib();
    rib.set('user', configRoutes(cfg, ctx));
    rib.set('kernel', ctx.hostRoutes.map(hostRouteSpec));
    return rib.best();
  },
  running: (dp: Dataplane) => ({
    owned: byPrefix(dp.listRoutes('imported')),
    importedAt: (prefix) => {
      const v = dp.routeAt(parsePrefix(prefix));
      return v?.origin === 'imported' ? v : undefined;
    },
  }),
  plan: (running, desired, ctx) => {
    // Copied only when an imported route joins them (a full table's copy is ~0.5 s).
    let routes = running.owned;
    for (const prefix of desired.keys()) {
      if (routes.has(prefix)) continue;
      const imported = running.importedAt(prefix);
      if (!imported) continue;
      if (routes === running.owned) routes = new Map(running.owned);
      routes.set(prefix, imported);
    }
    // Each change takes its kind and phase in place: a plan that removes a full table has a
    // million of them, and a copy of each (a spread) took seconds of the daemon's start.
    const changes = planRoutes(routes, desired, (spec) => ctx.describeRoute(spec)) as RoutingChange[];
    for (const c of changes) {
      c.kind = 'route';
      c.phase = c.op === 'delete' ? Phase.ROUTE_DELETE : Phase.ROUTES;
    }
    return changes;
  },
  apply: (c, t) => t.dp().applyRouteChange(c),
  summarize: (c) => ({
    kind: c.kind,
    op: c.op,
    key: c.prefix,
    before: 'before' in c ? c.before : undefined,
    after: 'after' in c ? c.after : undefined,
  }),
};
