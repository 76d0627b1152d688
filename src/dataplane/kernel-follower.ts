/**
 * Follows the kernel's network state as it changes, over one rtnetlink monitor on the event
 * loop: neighbour events go straight into pw_neigh (one map write each); address and link
 * changes are reported to the owner, which re-syncs the host routes (the daemon through its
 * controller). When the kernel overran the socket, everything is read again. Nothing here
 * blocks: the events come from libuv's poll of the netlink socket.
 */
import { KernelMonitor, NetlinkGroup, type KernelEvent, type KernelRouteSet } from '../kernel/index.js';
import type { Dataplane } from './dataplane.js';

export { NetlinkGroup };

export interface FollowerHooks {
  /** pw_neigh changed: entries set and removed in one batch of events. */
  neighbors?(r: { set: number; removed: number }): void;
  /** The host's addresses changed (or may have: after an overrun). */
  addresses?(): void;
  /** Interfaces came, went or changed. */
  links?(): void;
  /** A neighbour the kernel could not resolve (a gateway that does not answer). */
  unresolved?(n: { ifindex: number; addr: Uint8Array }): void;
  /** Routes changed in the kernel's tables (packed, in the kernel's order). */
  routes?(set: KernelRouteSet): void;
  /** The kernel's nexthop objects changed. */
  nexthops?(): void;
  /** A link went down or away, or an address was removed: the kernel drops the routes
   * through them without a route event (an overrun counts too: anything may have gone). */
  routesDropped?(): void;
}

export class KernelFollower {
  private readonly monitor: KernelMonitor;

  /**
   * `dp` gives the data plane in force at each event (a program upgrade replaces it). The
   * monitor listens in the calling thread's network namespace.
   */
  constructor(
    private readonly dp: () => Dataplane,
    private readonly hooks: FollowerHooks,
    groups: number[] = [NetlinkGroup.NEIGH, NetlinkGroup.IPV4_IFADDR, NetlinkGroup.IPV6_IFADDR, NetlinkGroup.LINK],
  ) {
    this.monitor = new KernelMonitor(groups, (events) => this.handle(events));
  }

  private handle(events: KernelEvent[]): void {
    let set = 0;
    let removed = 0;
    let addresses = false;
    let links = false;
    let dropped = false;
    for (const e of events) {
      switch (e.kind) {
        case 'overrun': {
          const r = this.dp().syncNeighbors();
          set += r.set;
          removed += r.removed;
          addresses = links = dropped = true;
          break;
        }
        case 'routes':
          this.hooks.routes?.(e.routes);
          break;
        case 'nexthops':
          this.hooks.nexthops?.();
          break;
        case 'neighbor':
          if (this.dp().neighbors.apply(e.op, e.neighbor)) {
            if (e.op === 'new' && e.neighbor.usable) set++;
            else removed++;
          }
          if (e.op === 'new' && e.neighbor.failed) this.hooks.unresolved?.(e.neighbor);
          break;
        case 'address':
          addresses = true;
          if (e.op === 'del') dropped = true;
          break;
        case 'link':
          links = true;
          if (e.op === 'del' || !e.link.up) dropped = true;
          break;
      }
    }
    if (set || removed) this.hooks.neighbors?.({ set, removed });
    if (addresses) this.hooks.addresses?.();
    if (links) this.hooks.links?.();
    if (dropped) this.hooks.routesDropped?.();
  }

  close(): void {
    this.monitor.close();
  }
}
