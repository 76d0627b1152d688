/**
 * Routes as the control plane speaks of them: what a user or a config asks for (RouteSpec,
 * with nexthops still as text), and what the data plane holds (RouteView, nexthops resolved to
 * interfaces). Pure data; src/dataplane/ installs and reads them.
 */
import { SPECIAL_ADDRESS_TEXT, specialAddressKind, type Family, type Prefix } from '../util/ip.js';

export type RouteType = 'unicast' | 'blackhole' | 'local' | 'kernel';

export interface NexthopSpec {
  /** Gateway address; absent for a directly connected route (dev only). */
  via?: string;
  dev?: string;
  weight?: number;
}

/**
 * Why an address can be no nexthop's gateway, or null: the kernel answers "Nexthop has invalid
 * gateway" to an unspecified, 0.0.0.0/8, multicast or broadcast one. A loopback one is left to
 * the kernel's lookup (it takes `via 127.0.0.1 dev lo`).
 */
export function invalidGateway(text: string, gw: { family: Family; addr: Uint8Array }): { message: string; hint: string } | null {
  const kind = specialAddressKind(gw.family, gw.addr);
  if (!kind || kind === 'loopback') return null;
  return {
    message: `gateway ${text} is ${SPECIAL_ADDRESS_TEXT[kind]}`,
    hint:
      kind === 'unspecified' ? 'for a route straight out of an interface give dev IF alone' : "a gateway is a neighbour's unicast address",
  };
}

export interface RouteSpec {
  prefix: Prefix;
  type: RouteType;
  nexthops: NexthopSpec[];
  metric: number;
  /** The path group (config `paths:`) that steers the route's nexthops by measured quality. */
  paths?: string;
  /** Where the spec came from, for error messages ("routes.txt:12", "argument 3"). */
  where: string;
}

/** Where a route comes from: 'user' (a config, the API, the CLI), 'kernel' (the host's own
 * addresses: local and connected routes) or 'imported' (copied from a kernel routing table
 * that a routing daemon such as BIRD or FRR maintains; config `import:`). */
export type RouteOrigin = 'user' | 'kernel' | 'imported';

export interface NexthopView {
  via: string | null;
  dev: string;
  ifindex: number;
  weight: number;
}

/** A route as the data plane holds it. */
export interface RouteView {
  prefix: string;
  family: Family;
  type: RouteType;
  metric: number;
  nexthops: NexthopView[];
  id: number;
  origin: RouteOrigin;
  /** An imported route's kernel protocol, by name (bgp, ospf, static, bird...). */
  proto?: string;
  /** The path group steering its nexthops (config `paths:`), if any. */
  paths?: string;
}

/** Which route the data plane uses for an address, and what it does with the packet. */
export interface LookupResult {
  addr: string;
  /** The matching route's prefix; null when none matches. */
  prefix: string | null;
  via: string | null;
  dev: string | null;
  verdict: string;
  /** Why the packet left the fast path ("none" when forwarded). */
  reason: string;
  route: number | null;
  nexthop: number | null;
}

export interface NexthopText {
  via: string | null;
  dev: string;
  weight: number;
}

/**
 * A route's text after its prefix, as iproute2 would write it: `[type] via GW dev IF [weight
 * N]... [metric N]`. With `canonical`, nexthops are sorted, so that equal texts mean equal
 * routes (what the planner compares).
 */
export function routeText(
  type: RouteType | string,
  nexthops: NexthopText[],
  metric: number,
  opts: { canonical?: boolean; paths?: string } = {},
): string {
  const list =
    opts.canonical === false ? nexthops : [...nexthops].sort((a, b) => (a.dev + (a.via ?? '')).localeCompare(b.dev + (b.via ?? '')));
  const nh = list.map(
    (n) => `${n.via ? `via ${n.via} ` : ''}dev ${n.dev}${nexthops.length > 1 || n.weight !== 1 ? ` weight ${n.weight}` : ''}`,
  );
  return [type === 'unicast' ? '' : type, ...nh, metric ? `metric ${metric}` : '', opts.paths ? `paths ${opts.paths}` : '']
    .filter(Boolean)
    .join(' ');
}

/** One route as `pathwise route list` prints it (nexthops in the data plane's order). */
export function formatRoute(r: RouteView): string {
  const text = routeText('unicast', r.nexthops, r.metric, { canonical: false, paths: r.paths });
  const head = r.type === 'unicast' ? r.prefix : `${r.type} ${r.prefix}`;
  const proto = r.origin === 'kernel' ? 'proto kernel' : r.origin === 'imported' ? `proto ${r.proto} imported` : '';
  return [head, text, proto].filter(Boolean).join(' ');
}
