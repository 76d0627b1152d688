/**
 * The lab the demo and the forwarding tests share: a client, a router and two upstreams with
 * the same service address behind them (10.220.0.1 on each upstream's loopback).
 *
 *   client c0 10.210.1.2 ── r0 10.210.1.1 [router] r1 10.210.2.1 ── u1 10.210.2.2 [upstream 1]
 *                                                   r2 10.210.3.1 ── u2 10.210.3.2 [upstream 2]
 *
 * The hosts send what a wire carries — MTU-sized frames (a veth peer's TSO/GSO would hand the
 * router 64 KB frames, which XDP without multi-buffer support cannot take) with complete
 * checksums (with tx offload, veth leaves checksums partial for its peer to trust, and a frame
 * XDP redirects elsewhere arrives wrong) — and receive with GRO on (frames redirected into a
 * veth are received by its peer through NAPI, which GRO enables). The router's kernel does not
 * forward: only Pathwise does.
 */
import type { Topology } from './topology.js';

export const SERVICE = '10.220.0.1';
/** The router's ports' ifindexes: above 1024, one above 65535. */
export const ROUTER_IFINDEX = { r0: 4242, r1: 70001, r2: 1025 } as const;

export interface RouterLab {
  client: string;
  router: string;
  upstream1: string;
  upstream2: string;
}

export function buildRouterLab(topo: Topology): RouterLab {
  const client = topo.addNamespace('C');
  const router = topo.addNamespace('R');
  const upstream1 = topo.addNamespace('U1');
  const upstream2 = topo.addNamespace('U2');
  // The router's ports have ifindexes like those of a host that has created and deleted many
  // interfaces (containers): the pipeline must not depend on small ifindexes.
  topo.addVeth(
    { ns: client, name: 'c0', addr: '10.210.1.2/24', index: 4241 },
    { ns: router, name: 'r0', addr: '10.210.1.1/24', index: ROUTER_IFINDEX.r0 },
  );
  topo.addVeth(
    { ns: upstream1, name: 'u1', addr: '10.210.2.2/24', index: 70000 },
    { ns: router, name: 'r1', addr: '10.210.2.1/24', index: ROUTER_IFINDEX.r1 },
  );
  topo.addVeth(
    { ns: upstream2, name: 'u2', addr: '10.210.3.2/24', index: 1026 },
    { ns: router, name: 'r2', addr: '10.210.3.1/24', index: ROUTER_IFINDEX.r2 },
  );
  topo.exec(client, 'ip', ['route', 'add', 'default', 'via', '10.210.1.1']);
  for (const [u, gw] of [
    [upstream1, '10.210.2.1'],
    [upstream2, '10.210.3.1'],
  ] as const) {
    topo.exec(u, 'ip', ['route', 'add', 'default', 'via', gw]);
    topo.exec(u, 'ip', ['addr', 'add', `${SERVICE}/32`, 'dev', 'lo']);
  }
  for (const [n, i] of [
    [client, 'c0'],
    [upstream1, 'u1'],
    [upstream2, 'u2'],
  ] as const) {
    topo.exec(n, 'ethtool', ['-K', topo.name(i), 'gro', 'on', 'tso', 'off', 'gso', 'off', 'tx', 'off']);
  }
  topo.exec(router, 'sysctl', ['-qw', 'net.ipv4.ip_forward=0']);
  return { client, router, upstream1, upstream2 };
}
