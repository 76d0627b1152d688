/**
 * The host's own addresses as routes, so Pathwise's FIB agrees with the kernel about what is
 * local and what is on-link: every address becomes a LOCAL host route (delivered to the
 * kernel), every subnet an address sits in becomes a directly connected route through its
 * interface. They have origin 'kernel'; a route the user added for the same prefix wins (rib.ts).
 */
import { formatPrefix, maskAddr, type Family, type Prefix } from '../util/ip.js';
import type { RouteSpec } from './route.js';

/** One address of the host, as the kernel lists it (src/kernel/netlink.ts). */
export interface HostAddress {
  /** The interface's name, and whether it is a loopback device. */
  dev: string;
  loopback: boolean;
  family: Family;
  /** 16 bytes, IPv4 in the first 4. */
  addr: Uint8Array;
  prefixlen: number;
  /** RT_SCOPE_*: 253 is link-local. */
  scope: number;
}

export interface HostRoute {
  prefix: Prefix;
  kind: 'local' | 'connected';
  dev: string;
}

const SCOPE_LINK = 253;
const v4Of = (a: Uint8Array) => ((a[0]! << 24) | (a[1]! << 16) | (a[2]! << 8) | a[3]!) >>> 0;

/** The host routes the addresses imply, one per prefix. */
export function hostRoutes(addresses: HostAddress[]): HostRoute[] {
  const out = new Map<string, HostRoute>();
  for (const a of addresses) {
    if (a.scope === SCOPE_LINK) continue; // link-local: never routed (the pipeline passes them)
    const max = a.family === 4 ? 32 : 128;
    const host: Prefix = { family: a.family, addr: maskAddr(a.addr, max), v4: a.family === 4 ? v4Of(a.addr) : 0, plen: max };
    out.set(formatPrefix(host), { prefix: host, kind: 'local', dev: a.dev });
    if (a.prefixlen >= max) continue;
    const net = maskAddr(a.addr, a.prefixlen);
    const netPrefix: Prefix = { family: a.family, addr: net, plen: a.prefixlen, v4: a.family === 4 ? v4Of(net) : 0 };
    const key = formatPrefix(netPrefix);
    // As the kernel does (fib_add_ifaddr), a subnet on a loopback device is local as a
    // whole: 127.0.0.1/8 on lo makes all of 127.0.0.0/8 local.
    const kind = a.loopback ? 'local' : 'connected';
    if (!out.has(key) || kind === 'local') out.set(key, { prefix: netPrefix, kind, dev: a.dev });
  }
  return [...out.values()];
}

/** A host route as a route spec: local routes deliver here, connected ones go out their link. */
export const hostRouteSpec = (h: HostRoute): RouteSpec => ({
  prefix: h.prefix,
  type: h.kind === 'local' ? 'local' : 'unicast',
  nexthops: h.kind === 'local' ? [] : [{ dev: h.dev }],
  metric: 0,
  where: `address on ${h.dev}`,
});
