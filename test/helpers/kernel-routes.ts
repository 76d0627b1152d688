/** Kernel routes packed as the addon packs them (src/kernel/native.ts NetlinkRouteSet), for
 * unit tests of the import model without a kernel. */
import type { PackedRoutes } from '../../src/routing/kernel-routes.js';
import { parseAddress, parsePrefix } from '../../src/util/ip.js';

export interface FakeKernelRoute {
  dst: string;
  table?: number;
  proto?: number;
  /** RTN_*: 1 unicast (default), 6 blackhole, 7 unreachable. */
  type?: number;
  metric?: number;
  tos?: number;
  deleted?: boolean;
  nhid?: number;
  hops?: { dev: number; via?: string; weight?: number; flags?: number }[];
}

export function packRoutes(routes: FakeKernelRoute[]): PackedRoutes {
  const head: number[] = [];
  const dst: number[] = [];
  const nh: number[] = [];
  const gw: number[] = [];
  for (const r of routes) {
    const p = parsePrefix(r.dst);
    const first = nh.length / 3;
    for (const h of r.hops ?? []) {
      const g = h.via ? parseAddress(h.via) : null;
      nh.push(h.dev, h.weight ?? 1, (g ? g.family : 0) | ((h.flags ?? 0) << 8));
      gw.push(...(g ? g.addr : new Uint8Array(16)));
    }
    head.push(
      (p.family | (p.plen << 8) | ((r.proto ?? 12) << 16) | ((r.type ?? 1) << 24)) >>> 0,
      r.table ?? 254,
      r.metric ?? 0,
      (r.tos ?? 0) | (r.deleted ? 1 << 8 : 0),
      first,
      (r.hops ?? []).length,
      r.nhid ?? 0,
    );
    dst.push(...p.addr);
  }
  return {
    count: routes.length,
    head: Uint32Array.from(head),
    dst: Uint8Array.from(dst),
    nh: Uint32Array.from(nh),
    gw: Uint8Array.from(gw),
  };
}
