/**
 * What runs in a data plane, read back from its maps, in the terms the planner diffs against
 * (plan.ts). The daemon's controller and the replay's private pipeline both plan from it.
 */
import type { Dataplane } from '../dataplane/dataplane.js';
import { ifName } from '../dataplane/nexthops.js';
import type { RouteSpec } from '../dataplane/route-syntax.js';
import { eventsControl } from '../insight/summary.js';
import { formatAddress } from '../util/ip.js';
import { routeText, type RunningState } from './plan.js';

export function runningState(dp: Dataplane): RunningState {
  return {
    settings: dp.pipeline.settings,
    interfaces: new Map(dp.attached().map((a) => [a.name, a.mode])),
    routes: new Map(dp.listRoutes().filter((r) => r.origin === 'user').map((r) => [r.prefix, r])),
    limiters: new Map(dp.filter.limiters().map((l) => [l.name, l])),
    rules: dp.filter.rules(),
    blocks: new Map(dp.filter.blocklist().map((b) => [b.prefix, b])),
    events: eventsControl(dp.pipeline.maps),
  };
}

/** A desired route's canonical text, resolving gateways as installing it would. */
export function describeRoute(dp: Dataplane, spec: RouteSpec): string {
  if (spec.type !== 'unicast') return routeText(spec.type, [], spec.metric);
  const nhs = spec.nexthops.map((n) => {
    const r = dp.nexthops.resolve(n, spec.where);
    return { via: r.gw ? formatAddress(r.family, r.gw) : null, dev: ifName(r.ifindex), weight: r.weight };
  });
  return routeText(spec.type, nhs, spec.metric);
}
