/**
 * pw_neigh: the data plane's copy of the kernel's neighbour table (next-hop MACs). A packet
 * whose neighbour is missing goes to the kernel. The copy follows the kernel: a full sync from
 * a netlink dump (sync), and single entries from netlink events (apply). Gateways are resolved
 * by the kernel itself: every nexthop's gateway is a managed neighbour (nexthop-table.ts), which
 * the kernel probes and keeps reachable with no traffic and no waiting here. Each change is
 * told to a listener after it is written (the gateway nexthops' own copies, gw_mac, follow).
 */
import { setTimeout as sleep } from 'node:timers/promises';

import { ifName, kernelNeighbors, releaseNeighbor, type KernelNeighbor } from '../kernel/index.js';
import { diffNeighbors, neighborEventChange, neighborKey, wantedNeighbors, type NeighborEntry } from '../routing/neighbors.js';
import { formatAddress } from '../util/ip.js';
import { formatMac } from '../util/mac.js';
import type { Gateway } from './nexthop-table.js';
import type { PipelineMaps } from './pipeline.js';

const isV4 = (addr: Uint8Array) => addr.subarray(4).every((b) => b === 0);

/** Told each change to pw_neigh once written: the entry's key and its MAC, or null when removed. */
export type NeighborListener = (ifindex: number, addr: Uint8Array, mac: Uint8Array | null) => void;

export class NeighborTable {
  constructor(
    private readonly maps: PipelineMaps,
    private readonly changed: NeighborListener = () => {},
  ) {}

  /** What pw_neigh holds, by neighborKey. */
  entries(): Map<string, NeighborEntry> {
    const out = new Map<string, NeighborEntry>();
    for (const [k, v] of this.maps.neigh.entries())
      out.set(neighborKey(k.ifindex, k.addr), { ifindex: k.ifindex, addr: k.addr, mac: v.mac });
    return out;
  }

  /**
   * Makes pw_neigh equal to the kernel's usable entries (both families, this thread's network
   * namespace): adds and updates what the kernel knows, removes what it forgot. `kernel` is a
   * dump the caller already has, if any.
   */
  sync(kernel: KernelNeighbor[] = kernelNeighbors()): { set: number; removed: number } {
    const { set, remove } = diffNeighbors(this.entries(), wantedNeighbors(kernel));
    for (const e of remove) {
      this.maps.neigh.delete({ ifindex: e.ifindex, addr: e.addr });
      this.changed(e.ifindex, e.addr, null);
    }
    for (const e of set) {
      this.maps.neigh.set({ ifindex: e.ifindex, addr: e.addr }, { mac: e.mac });
      this.changed(e.ifindex, e.addr, e.mac);
    }
    return { set: set.length, removed: remove.length };
  }

  /** One neighbour event from the kernel. Returns whether pw_neigh changed. */
  apply(op: 'new' | 'del', n: KernelNeighbor): boolean {
    const change = neighborEventChange(op, n);
    if (change.set) {
      const old = this.maps.neigh.get({ ifindex: n.ifindex, addr: n.addr });
      if (old && old.mac.every((b, i) => b === change.set!.mac[i])) return false;
      this.maps.neigh.set({ ifindex: n.ifindex, addr: n.addr }, { mac: change.set.mac });
      this.changed(n.ifindex, n.addr, change.set.mac);
      return true;
    }
    const removed = this.maps.neigh.delete({ ifindex: n.ifindex, addr: n.addr });
    if (removed) this.changed(n.ifindex, n.addr, null);
    return removed;
  }

  /** The table for people and JSON. */
  list(): { ifindex: number; dev: string; addr: string; mac: string }[] {
    return [...this.entries().values()].map((e) => ({
      ifindex: e.ifindex,
      dev: ifName(e.ifindex),
      addr: formatAddress(isV4(e.addr) ? 4 : 6, e.addr),
      mac: formatMac(e.mac),
    }));
  }
}

/**
 * Waits (without blocking: the event loop runs) until the kernel has resolved every gateway or
 * given up on it, at most `timeoutMs`. Returns the gateways still unresolved. For one-shot
 * commands that want traffic on the fast path before they exit; the daemon never waits. `read`
 * lists the kernel's neighbours (by default in this thread's network namespace).
 */
export async function awaitGateways(
  gateways: Gateway[],
  timeoutMs = 1500,
  read: () => KernelNeighbor[] = kernelNeighbors,
): Promise<Gateway[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const byKey = new Map(read().map((n) => [neighborKey(n.ifindex, n.addr), n]));
    const pending = gateways.filter((g) => {
      const n = byKey.get(neighborKey(g.ifindex, g.addr));
      return !n?.usable;
    });
    const failed = (g: Gateway) => byKey.get(neighborKey(g.ifindex, g.addr))?.failed;
    if (!pending.length || pending.every(failed) || Date.now() >= deadline) return pending;
    await sleep(50);
  }
}

/** Gives gateways back to the kernel's normal neighbour handling (no longer kept resolved). */
export function releaseGateways(gateways: Gateway[]): void {
  for (const g of gateways) releaseNeighbor(g.family, g.ifindex, g.addr);
}
