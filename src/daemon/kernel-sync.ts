/**
 * The daemon's following of the kernel: neighbour events go into pw_neigh as they come, address
 * and link changes re-sync the host's own routes through the controller (and links the
 * interfaces' MACs, the interfaces rules name, and the config's interfaces that came back,
 * attached again), route events go to the import (control/route-import.ts), and a periodic
 * full reconcile repairs anything an event missed (or an overrun dropped). Gateways that the
 * kernel cannot resolve are logged once each. Nothing here waits on the network.
 */
import type { Logger } from 'pino';

import type { Controller } from '../control/controller.js';
import { KernelFollower, NetlinkGroup } from '../dataplane/kernel-follower.js';
import { reapStaleCapture } from '../dataplane/capture-slot.js';
import { formatAddress } from '../util/ip.js';

/** How often everything is read again, whatever the events said. */
const RECONCILE_MS = 5000;

/**
 * A netlink dump the kernel interrupted each time it was read again (the list changing all
 * along: 100 veths deleted at once): not a failure, the same sync runs again 50 ms later.
 */
const interrupted = (e: unknown) => (e as { cause?: { code?: string } }).cause?.code === 'EINTR';

export class KernelSync {
  private follower: KernelFollower | null = null;
  private timer: NodeJS.Timeout | null = null;
  private hostPending: NodeJS.Timeout | null = null;
  private linkPending: NodeJS.Timeout | null = null;
  private readonly failed = new Set<string>();
  /** Interfaces of the config that came back and could not be attached (warned once each). */
  private readonly unattachable = new Set<string>();

  constructor(
    private readonly ctrl: Controller,
    private readonly log: Logger,
  ) {}

  start(): void {
    const imports = this.ctrl.imports;
    this.follower = new KernelFollower(
      () => this.ctrl.dp(),
      {
        neighbors: (r) => this.log.debug(r, 'neighbours followed'),
        addresses: () => this.hostChanged(),
        links: () => {
          this.hostChanged();
          this.linksChanged();
        },
        routes: (set) => imports.routesChanged(set),
        nexthops: () => imports.resync(),
        // A link going down and `ip addr flush` take their routes with them, unannounced.
        routesDropped: () => imports.resync(),
        unresolved: (n) => {
          const v4 = n.addr.subarray(4).every((b) => b === 0);
          const key = `${n.ifindex}|${formatAddress(v4 ? 4 : 6, n.addr)}`;
          if (this.failed.has(key)) return;
          this.failed.add(key);
          this.log.warn(
            { gateway: formatAddress(v4 ? 4 : 6, n.addr), ifindex: n.ifindex },
            'a neighbour does not answer ARP/ND; routes through it go to the kernel until it does',
          );
        },
      },
      [
        NetlinkGroup.NEIGH,
        NetlinkGroup.IPV4_IFADDR,
        NetlinkGroup.IPV6_IFADDR,
        NetlinkGroup.LINK,
        NetlinkGroup.IPV4_ROUTE,
        NetlinkGroup.IPV6_ROUTE,
        NetlinkGroup.NEXTHOP,
      ],
    );
    this.timer = setInterval(() => this.reconcile(), RECONCILE_MS);
    this.timer.unref();
  }

  /** Address or link events come in bursts (an interface going down drops all its addresses). */
  private hostChanged(): void {
    this.hostPending ??= setTimeout(() => {
      this.hostPending = null;
      this.ctrl.syncHost().then(
        (r) => {
          if (r.added || r.replaced || r.removed) this.log.info(r, "the host's addresses changed: its routes follow");
          if (r.rerouted) this.log.info({ routes: r.rerouted }, "routes of the config follow their gateways' interfaces");
        },
        (e: unknown) => this.syncFailed(e, "following the host's addresses failed", () => this.hostChanged()),
      );
    }, 50);
  }

  /** Link events come in bursts too (a veth pair created, an interface renamed and set up). */
  private linksChanged(): void {
    this.linkPending ??= setTimeout(() => {
      this.linkPending = null;
      this.ctrl.followLinks().then(
        (r) => {
          if (r.rulesRebound) this.log.info('an interface named by a rule changed: the rules follow its new ifindex');
          if (r.reattached.length)
            this.log.info({ interfaces: r.reattached }, 'interfaces of the config came back: the pipeline runs on them again');
          if (r.rerouted) this.log.info({ routes: r.rerouted }, "routes of the config follow their gateways' interfaces");
          for (const name of r.reattached) this.unattachable.delete(name);
          for (const f of r.failed) {
            if (this.unattachable.has(f.name)) continue;
            this.unattachable.add(f.name);
            this.log.warn(
              { interface: f.name, err: f.error },
              'an interface of the config came back but cannot be attached; tried again at each link change',
            );
          }
        },
        (e: unknown) => this.syncFailed(e, "following the host's links failed", () => this.linksChanged()),
      );
    }, 50);
  }

  /** A sync that failed: warned of, or, when the kernel's lists kept changing as they were read, run again. */
  private syncFailed(e: unknown, what: string, again: () => void): void {
    if (!interrupted(e)) return this.log.warn({ err: e }, what);
    this.log.debug({ err: e }, "the host's links kept changing while they were read: reading again");
    again();
  }

  /** The periodic full read: neighbours, host routes, and a capture whose process died. */
  private reconcile(): void {
    try {
      const r = this.ctrl.syncNeighbors();
      if (r.set || r.removed) this.log.info(r, 'neighbour copy repaired');
      this.failed.clear();
    } catch (e) {
      this.log.warn({ err: e }, 'neighbour sync failed');
    }
    this.hostChanged();
    this.linksChanged();
    try {
      const dead = reapStaleCapture(this.ctrl.dp().pipeline.maps, this.ctrl.instance);
      if (dead !== null) this.log.warn({ pid: dead }, 'turned off a capture whose process is gone');
    } catch (e) {
      this.log.warn({ err: e }, 'checking for a stale capture failed');
    }
  }

  stop(): void {
    this.follower?.close();
    if (this.timer) clearInterval(this.timer);
    if (this.hostPending) clearTimeout(this.hostPending);
    if (this.linkPending) clearTimeout(this.linkPending);
  }
}
