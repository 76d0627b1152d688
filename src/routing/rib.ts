/**
 * The routing information base: the routes each source wants, merged into what the FIB should
 * hold, and the changes that bring an installed FIB there.
 *
 * Sources, most preferred first: 'user' (a config, the API, the CLI) and 'kernel' (the host's
 * own addresses, host-routes.ts). When two sources want a prefix, the preferred one's route is
 * installed; when it goes, the other's comes back. Imported and probe-weighted routes join as
 * further sources.
 */
import { formatPrefix } from '../util/ip.js';
import { routeText, type RouteOrigin, type RouteSpec, type RouteView } from './route.js';

/** Sources by preference: earlier wins. */
export const ORIGIN_PREFERENCE: readonly RouteOrigin[] = ['user', 'kernel'];

export interface RibRoute {
  spec: RouteSpec;
  origin: RouteOrigin;
}

export class Rib {
  private readonly sources = new Map<RouteOrigin, Map<string, RouteSpec>>();

  /** Replaces everything `origin` wants. */
  set(origin: RouteOrigin, routes: Iterable<RouteSpec>): void {
    const m = new Map<string, RouteSpec>();
    for (const r of routes) m.set(formatPrefix(r.prefix), r);
    this.sources.set(origin, m);
  }

  source(origin: RouteOrigin): ReadonlyMap<string, RouteSpec> {
    return this.sources.get(origin) ?? new Map();
  }

  /** The route the FIB should hold for each prefix, by canonical prefix text. */
  best(): Map<string, RibRoute> {
    const out = new Map<string, RibRoute>();
    for (const origin of [...ORIGIN_PREFERENCE].reverse()) {
      for (const [key, spec] of this.source(origin)) out.set(key, { spec, origin });
    }
    return out;
  }
}

export type RouteChange =
  | { op: 'add'; prefix: string; origin: RouteOrigin; spec: RouteSpec; after: string }
  | { op: 'replace'; prefix: string; origin: RouteOrigin; spec: RouteSpec; before: string; after: string; old: RouteView }
  | { op: 'delete'; prefix: string; before: string; old: RouteView };

/**
 * The changes that turn the installed routes `running` into `desired`: additions and
 * replacements first (so traffic never loses a route that stays), then deletions. A route
 * changes when its text or its origin does. `describe` gives a desired route's canonical text
 * (routeText), resolving gateways to interfaces as installing it would; it throws for a route
 * that cannot be installed, which fails the whole plan before anything is applied.
 */
export function planRoutes(
  running: ReadonlyMap<string, RouteView>,
  desired: ReadonlyMap<string, RibRoute>,
  describe: (spec: RouteSpec) => string,
): RouteChange[] {
  const changes: RouteChange[] = [];
  const deletes: RouteChange[] = [];
  for (const [prefix, { spec, origin }] of desired) {
    const old = running.get(prefix);
    const after = describe(spec);
    if (!old) changes.push({ op: 'add', prefix, origin, spec, after });
    else {
      const before = routeText(old.type, old.nexthops, old.metric, { paths: old.paths });
      if (before !== after || old.origin !== origin) changes.push({ op: 'replace', prefix, origin, spec, before, after, old });
    }
  }
  for (const [prefix, old] of running) {
    if (!desired.has(prefix))
      deletes.push({ op: 'delete', prefix, before: routeText(old.type, old.nexthops, old.metric, { paths: old.paths }), old });
  }
  return [...changes, ...deletes];
}

/** A route as installed, back as a spec (to restore it). */
export function specOfView(v: RouteView, prefix: RouteSpec['prefix'], where: string): RouteSpec {
  return {
    prefix,
    type: v.type,
    metric: v.metric,
    nexthops: v.nexthops.map((n) => ({ via: n.via ?? undefined, dev: n.dev, weight: n.weight })),
    ...(v.paths ? { paths: v.paths } : {}),
    where,
  };
}
