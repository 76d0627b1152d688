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

export const routingReconciler: Reconciler<Map<string, RibRoute>, Map<string, RouteView>, RoutingChange> = {
  kinds: ['route'],
  desired(cfg, ctx) {
    const rib = new Rib();
    rib.set('user', configRoutes(cfg, ctx));
    rib.set('kernel', ctx.hostRoutes.map(hostRouteSpec));
    return rib.best();
  },
  running: (dp: Dataplane) => new Map(dp.listRoutes().map((r) => [r.prefix, r])),
  plan: (running, desired, ctx) =>
    planRoutes(running, desired, (spec) => ctx.describeRoute(spec)).map((c) => ({
      ...c,
      kind: 'route',
      phase: c.op === 'delete' ? Phase.ROUTE_DELETE : Phase.ROUTES,
    })),
  apply: (c, t) => t.dp().applyRouteChange(c),
  summarize: (c) => ({
    kind: c.kind,
    op: c.op,
    key: c.prefix,
    before: 'before' in c ? c.before : undefined,
    after: 'after' in c ? c.after : undefined,
  }),
};
