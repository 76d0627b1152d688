/**
 * The load-balancing lab the tests, the demo and the bench share: a client, a router (where
 * Pathwise balances) and N backends, each on a segment of its own with the router, each
 * running HTTP servers that answer with the backend's name (http-lab.ts): on port 8080 (NAT
 * mode sends there) and on port 80 of the service address, which every backend also holds on
 * its loopback (layer-2 DSR delivers the client's packet unchanged).
 *
 *   client c0 10.250.1.2 ── r0 10.250.1.1 [router] rK 10.250.1K.1 ── bK 10.250.1K.2 [backend K]
 *             fd50:1::2          fd50:1::1          fd50:1K::1         fd50:1K::2
 *
 * UDP servers answer with the name too: on port 5353 (NAT) and on port 53 of each service
 * address (DSR).
 * As in the router lab, hosts send MTU-sized frames with complete checksums and the router's
 * kernel does not forward: only Pathwise does.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';

import { repoRoot } from '../util/paths.js';
import type { Topology } from './topology.js';

export const LB_VIP = '10.250.100.1';
export const LB_VIP6 = 'fd50:100::1';
export const LB_CLIENT = '10.250.1.2';
export const LB_CLIENT6 = 'fd50:1::2';
export const HTTP_LAB = join(repoRoot, 'dist', 'src', 'netlab', 'http-lab.js');

export interface LbLab {
  client: string;
  router: string;
  backends: { ns: string; name: string; addr: string; routerIf: string; servers: ChildProcess[] }[];
}

export const backendAddr = (k: number) => `10.250.${10 + k}.2`;
export const backendAddr6 = (k: number) => `fd50:${10 + k}::2`;

export async function buildLbLab(topo: Topology, count: number): Promise<LbLab> {
  const client = topo.addNamespace('C');
  const router = topo.addNamespace('R');
  topo.addVeth({ ns: client, name: 'c0', addr: `${LB_CLIENT}/24` }, { ns: router, name: 'r0', addr: '10.250.1.1/24' });
  topo.exec(client, 'ip', ['route', 'add', 'default', 'via', '10.250.1.1']);
  // IPv6 beside IPv4 on every segment (no duplicate address detection: usable at once).
  const addr6 = (ns: string, dev: string, a: string) => topo.exec(ns, 'ip', ['-6', 'addr', 'add', a, 'dev', topo.name(dev), 'nodad']);
  addr6(client, 'c0', `${LB_CLIENT6}/64`);
  addr6(router, 'r0', 'fd50:1::1/64');
  topo.exec(client, 'ip', ['-6', 'route', 'add', 'default', 'via', 'fd50:1::1']);
  const hostsIfs: [string, string][] = [[client, 'c0']];
  const backends: LbLab['backends'] = [];
  for (let k = 1; k <= count; k++) {
    const ns = topo.addNamespace(`B${k}`);
    topo.addVeth({ ns, name: `b${k}`, addr: `${backendAddr(k)}/24` }, { ns: router, name: `r${k}`, addr: `10.250.${10 + k}.1/24` });
    topo.exec(ns, 'ip', ['route', 'add', 'default', 'via', `10.250.${10 + k}.1`]);
    topo.exec(ns, 'ip', ['addr', 'add', `${LB_VIP}/32`, 'dev', 'lo']);
    addr6(ns, `b${k}`, `${backendAddr6(k)}/64`);
    addr6(router, `r${k}`, `fd50:${10 + k}::1/64`);
    topo.exec(ns, 'ip', ['-6', 'route', 'add', 'default', 'via', `fd50:${10 + k}::1`]);
    topo.exec(ns, 'ip', ['-6', 'addr', 'add', `${LB_VIP6}/128`, 'dev', 'lo', 'nodad']);
    hostsIfs.push([ns, `b${k}`]);
    backends.push({ ns, name: `b${k}`, addr: backendAddr(k), routerIf: topo.name(`r${k}`), servers: [] });
  }
  for (const [ns, i] of hostsIfs) topo.exec(ns, 'ethtool', ['-K', topo.name(i), 'gro', 'on', 'tso', 'off', 'gso', 'off', 'tx', 'off']);
  topo.exec(router, 'sysctl', ['-qw', 'net.ipv4.ip_forward=0']);
  for (const b of backends) {
    for (const port of ['8080', '80']) b.servers.push(await startServer(topo, b.ns, b.name, port));
    // UDP: on 5353 for NAT, and on the service addresses' port 53 for DSR (answering from them).
    b.servers.push(await startServer(topo, b.ns, b.name, '5353', 'udp-serve'));
    for (const vip of [LB_VIP, LB_VIP6]) b.servers.push(await startServer(topo, b.ns, b.name, '53', 'udp-serve', vip));
  }
  return { client, router, backends };
}

/** A server (HTTP, or UDP with `udp-serve`) answering with `name`, ready when it says so. */
export function startServer(topo: Topology, ns: string, name: string, port: string, mode = 'serve', addr?: string): Promise<ChildProcess> {
  const child = topo.spawn(ns, process.execPath, [HTTP_LAB, mode, name, port, ...(addr ? [addr] : [])]);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`the HTTP server ${name}:${port} exited (${code})`)));
  });
}
