/**
 * The load-balancing lab the tests, the demo and the bench share: a client, a router (where
 * Pathwise balances) and N backends, each on a segment of its own with the router, each
 * running HTTP servers that answer with the backend's name (http-lab.ts): on port 8080 (NAT
 * mode sends there) and on port 80 of the service address, which every backend also holds on
 * its loopback (layer-2 DSR delivers the client's packet unchanged).
 *
 *   client c0 10.250.1.2 ── r0 10.250.1.1 [router] rK 10.250.1K.1 ── bK 10.250.1K.2 [backend K]
 *
 * As in the router lab, hosts send MTU-sized frames with complete checksums and the router's
 * kernel does not forward: only Pathwise does.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';

import { repoRoot } from '../util/paths.js';
import type { Topology } from './topology.js';

export const LB_VIP = '10.250.100.1';
export const LB_CLIENT = '10.250.1.2';
export const HTTP_LAB = join(repoRoot, 'dist', 'src', 'netlab', 'http-lab.js');

export interface LbLab {
  client: string;
  router: string;
  backends: { ns: string; name: string; addr: string; routerIf: string; servers: ChildProcess[] }[];
}

export const backendAddr = (k: number) => `10.250.${10 + k}.2`;

export async function buildLbLab(topo: Topology, count: number): Promise<LbLab> {
  const client = topo.addNamespace('C');
  const router = topo.addNamespace('R');
  topo.addVeth({ ns: client, name: 'c0', addr: `${LB_CLIENT}/24` }, { ns: router, name: 'r0', addr: '10.250.1.1/24' });
  topo.exec(client, 'ip', ['route', 'add', 'default', 'via', '10.250.1.1']);
  const hostsIfs: [string, string][] = [[client, 'c0']];
  const backends: LbLab['backends'] = [];
  for (let k = 1; k <= count; k++) {
    const ns = topo.addNamespace(`B${k}`);
    topo.addVeth({ ns, name: `b${k}`, addr: `${backendAddr(k)}/24` }, { ns: router, name: `r${k}`, addr: `10.250.${10 + k}.1/24` });
    topo.exec(ns, 'ip', ['route', 'add', 'default', 'via', `10.250.${10 + k}.1`]);
    topo.exec(ns, 'ip', ['addr', 'add', `${LB_VIP}/32`, 'dev', 'lo']);
    hostsIfs.push([ns, `b${k}`]);
    backends.push({ ns, name: `b${k}`, addr: backendAddr(k), routerIf: topo.name(`r${k}`), servers: [] });
  }
  for (const [ns, i] of hostsIfs) topo.exec(ns, 'ethtool', ['-K', topo.name(i), 'gro', 'on', 'tso', 'off', 'gso', 'off', 'tx', 'off']);
  topo.exec(router, 'sysctl', ['-qw', 'net.ipv4.ip_forward=0']);
  for (const b of backends) for (const port of ['8080', '80']) b.servers.push(await startServer(topo, b.ns, b.name, port));
  return { client, router, backends };
}

/** An HTTP server answering with `name`, ready when it says so. */
export function startServer(topo: Topology, ns: string, name: string, port: string): Promise<ChildProcess> {
  const child = topo.spawn(ns, process.execPath, [HTTP_LAB, 'serve', name, port]);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`the HTTP server ${name}:${port} exited (${code})`)));
  });
}
