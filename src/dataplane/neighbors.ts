/**
 * Neighbours. The pipeline takes next-hop MACs from pw_neigh, a copy of the kernel's neighbour
 * table kept by the control plane (syncNeighbors); a packet whose neighbour is missing goes to
 * the kernel. A kernel that does not forward (forwarding off, as when Pathwise alone forwards)
 * never resolves a gateway by itself, so the control plane asks: one echo request to each
 * gateway the table lacks, which makes the kernel resolve it, as a routing daemon would.
 */
import { spawnSync } from 'node:child_process';

import { native } from '../bpf/index.js';
import * as abi from '../generated/pathwise.js';
import { parseAddress } from '../util/ip.js';
import type { PipelineMaps } from './pipeline.js';

interface NeighJson {
  dst: string;
  dev?: string;
  lladdr?: string;
  state?: string[];
}

const USABLE = new Set(['REACHABLE', 'STALE', 'DELAY', 'PROBE', 'PERMANENT', 'NOARP']);

function isResolved(gw: string, dev: string): boolean {
  const r = spawnSync('ip', ['-j', 'neigh', 'show', 'to', gw, 'dev', dev], { encoding: 'utf8' });
  if (r.status !== 0 || !r.stdout.trim()) return false;
  try {
    return (JSON.parse(r.stdout) as NeighJson[]).some((n) => (n.state ?? []).some((s) => USABLE.has(s)));
  } catch {
    return false;
  }
}

/** Probes the gateways the kernel has no usable neighbour entry for; returns those still
 * unresolved afterwards. Runs in this process's network namespace. */
export function resolveGateways(gateways: { via: string; dev: string }[]): { via: string; dev: string }[] {
  const missing = gateways.filter((g) => !isResolved(g.via, g.dev));
  for (const g of missing) {
    // ping is in iputils-ping (a dependency); -I binds the probe to the nexthop's interface.
    spawnSync('ping', ['-c', '1', '-W', '1', '-I', g.dev, g.via], { stdio: 'ignore' });
  }
  return missing.filter((g) => !isResolved(g.via, g.dev));
}

const keyString = (k: abi.PwNeighKey) => `${k.ifindex}|${Buffer.from(k.addr).toString('hex')}`;

/**
 * Makes pw_neigh equal to the kernel's usable neighbour entries (both families) of this
 * network namespace: adds and updates what the kernel knows, removes what it forgot.
 */
export function syncNeighbors(maps: PipelineMaps): { set: number; removed: number } {
  const r = spawnSync('ip', ['-j', 'neigh', 'show'], { encoding: 'utf8' });
  const entries: NeighJson[] = r.status === 0 && r.stdout.trim() ? JSON.parse(r.stdout) : [];
  const want = new Map<string, { key: abi.PwNeighKey; mac: Uint8Array }>();
  for (const e of entries) {
    if (!e.lladdr || !e.dev || !(e.state ?? []).some((s) => USABLE.has(s))) continue;
    let ifindex: number;
    let addr: Uint8Array;
    try {
      ifindex = native().ifNameToIndex(e.dev);
      addr = parseAddress(e.dst).addr;
    } catch {
      continue; // interface gone, or an address form we don't route
    }
    const mac = Uint8Array.from(e.lladdr.split(':').map((x) => parseInt(x, 16)));
    if (mac.length !== 6) continue;
    const key = { ifindex, addr };
    want.set(keyString(key), { key, mac });
  }
  let set = 0;
  let removed = 0;
  const have = new Map<string, { key: abi.PwNeighKey; mac: Uint8Array }>();
  for (const [key, v] of maps.neigh.entries()) have.set(keyString(key), { key, mac: v.mac });
  for (const [k, { key }] of have) {
    if (!want.has(k)) {
      maps.neigh.delete(key);
      removed++;
    }
  }
  for (const [k, { key, mac }] of want) {
    const old = have.get(k);
    if (old && Buffer.compare(Buffer.from(old.mac), Buffer.from(mac)) === 0) continue;
    maps.neigh.set(key, { mac });
    set++;
  }
  return { set, removed };
}
