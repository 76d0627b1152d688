/**
 * The kernel's network state over rtnetlink (the addon's libmnl binding): interfaces,
 * addresses, neighbours, the kernel's route to one address, managed neighbour entries, and a
 * monitor that reports changes as they happen. Requests are answered by the kernel at once
 * (nothing waits on the network) and run in the calling thread's network namespace, so they
 * follow `--netns` and inNetns(). This replaces every `ip` subprocess the control plane ran.
 */
import { PwError, fromNative } from '../errors.js';
import type { Family } from '../util/ip.js';
import { native, type NetlinkAddress, type NetlinkEvent, type NetlinkLink, type NetlinkNeighbor, type NetlinkRouteSet } from './native.js';

const AF_INET = 2;
const AF_INET6 = 10;
const afOf = (family: Family) => (family === 4 ? AF_INET : AF_INET6);
const familyOf = (af: number): Family | null => (af === AF_INET ? 4 : af === AF_INET6 ? 6 : null);

/** Neighbour states (NUD_*). */
export const Nud = {
  INCOMPLETE: 0x01,
  REACHABLE: 0x02,
  STALE: 0x04,
  DELAY: 0x08,
  PROBE: 0x10,
  FAILED: 0x20,
  NOARP: 0x40,
  PERMANENT: 0x80,
} as const;
/** States whose link-layer address can be used to send (what `ip neigh` lists as resolved). */
export const NUD_USABLE = Nud.REACHABLE | Nud.STALE | Nud.DELAY | Nud.PROBE | Nud.PERMANENT | Nud.NOARP;
const NTF_EXT_MANAGED = 1;
/** Interface flags (IFF_*). */
export const Iff = { UP: 0x1, LOOPBACK: 0x8, RUNNING: 0x40 } as const;
/** Address scopes (RT_SCOPE_*). */
export const Scope = { UNIVERSE: 0, SITE: 200, LINK: 253, HOST: 254 } as const;
/** Route types (RTN_*): what `ip route get` says an address is. */
export const RouteType = { UNICAST: 1, LOCAL: 2, BROADCAST: 3, ANYCAST: 4, MULTICAST: 5 } as const;
/** rtnetlink multicast groups (RTNLGRP_*). */
export const NetlinkGroup = { LINK: 1, NEIGH: 3, IPV4_IFADDR: 5, IPV4_ROUTE: 7, IPV6_IFADDR: 9, IPV6_ROUTE: 11, NEXTHOP: 32 } as const;

/** 16 bytes, network order, IPv4 in the first 4 (the layout of util/ip's addresses). */
function addr16(b: Buffer): Uint8Array {
  const out = new Uint8Array(16);
  out.set(b.subarray(0, 16));
  return out;
}

export interface KernelLink {
  ifindex: number;
  name: string;
  up: boolean;
  loopback: boolean;
  mtu: number;
  mac: Uint8Array | null;
  /** RFC 2863 operational state, as `ip link` prints it (lower case). */
  operstate: string;
  /** A virtual device's kind (veth, vxlan...); null for hardware. */
  kind: string | null;
  /** A veth's peer, or the device a virtual one sits on: its ifindex, and whether it is in this namespace. */
  peer: { ifindex: number; here: boolean } | null;
}

const OPERSTATES = ['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up'];

export interface KernelAddress {
  ifindex: number;
  family: Family;
  addr: Uint8Array;
  prefixlen: number;
  /** RT_SCOPE_* (253: link-local). */
  scope: number;
}

export interface KernelNeighbor {
  ifindex: number;
  family: Family;
  addr: Uint8Array;
  /** The link-layer address, when the kernel has one. */
  mac: Uint8Array | null;
  /** NUD_* bits. */
  state: number;
  /** The kernel keeps this entry resolved by itself (NTF_EXT_MANAGED). */
  managed: boolean;
  /** Resolved: packets to it can be sent with `mac` (REACHABLE, STALE, DELAY, PROBE, or static). */
  usable: boolean;
  /** Resolution failed (no answer to ARP/ND). */
  failed: boolean;
}

function link(l: NetlinkLink): KernelLink | null {
  if (!l.name) return null;
  return {
    ifindex: l.ifindex,
    name: l.name,
    up: !!(l.flags & Iff.UP),
    loopback: !!(l.flags & Iff.LOOPBACK),
    mtu: l.mtu,
    mac: l.mac ? new Uint8Array(l.mac) : null,
    operstate: OPERSTATES[l.operstate] ?? 'unknown',
    kind: l.kind,
    peer: l.link ? { ifindex: l.link, here: !l.linkElsewhere } : null,
  };
}

function address(a: NetlinkAddress): KernelAddress | null {
  const family = familyOf(a.family);
  if (!family || !a.address) return null;
  return { ifindex: a.ifindex, family, addr: addr16(a.address), prefixlen: a.prefixlen, scope: a.scope };
}

function neighbor(n: NetlinkNeighbor): KernelNeighbor | null {
  const family = familyOf(n.family);
  if (!family || !n.dst) return null;
  const mac = n.lladdr && n.lladdr.length === 6 ? new Uint8Array(n.lladdr) : null;
  return {
    ifindex: n.ifindex,
    family,
    addr: addr16(n.dst),
    mac,
    state: n.state,
    managed: !!(n.extFlags & NTF_EXT_MANAGED),
    usable: mac !== null && !!(n.state & NUD_USABLE),
    failed: !!(n.state & Nud.FAILED),
  };
}

const keep = <T>(xs: (T | null)[]): T[] => xs.filter((x): x is T => x !== null);

function call<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw fromNative(e, what);
  }
}

export function kernelLinks(): KernelLink[] {
  return keep(call('netlink: list interfaces', () => native().netlinkLinks()).map(link));
}

export function kernelAddresses(): KernelAddress[] {
  return keep(call('netlink: list addresses', () => native().netlinkAddresses()).map(address));
}

export function kernelNeighbors(): KernelNeighbor[] {
  return keep(call('netlink: list neighbours', () => native().netlinkNeighbors()).map(neighbor));
}

/** The kernel's route to `addr` (`ip route get`): its interface and gateway; null: none. */
export function kernelRouteTo(family: Family, addr: Uint8Array): { ifindex: number; gateway: Uint8Array | null; type: number } | null {
  let r;
  try {
    r = native().netlinkRouteGet(afOf(family), addr.subarray(0, family === 4 ? 4 : 16));
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ENETUNREACH' || code === 'EHOSTUNREACH' || code === 'EINVAL') return null;
    throw fromNative(e, 'netlink: route get');
  }
  if (!r || !r.oif) return null;
  return { ifindex: r.oif, gateway: r.gateway ? addr16(r.gateway) : null, type: r.type };
}

/**
 * Asks the kernel to keep the neighbour `addr` on `ifindex` resolved by itself
 * (NTF_EXT_MANAGED, Linux 5.16): it sends the ARP/ND probes and keeps the entry reachable with
 * no traffic needed. A static (PERMANENT or NOARP) entry is left as it is.
 */
export function manageNeighbor(
  family: Family,
  ifindex: number,
  addr: Uint8Array,
  known: Pick<KernelNeighbor, 'state' | 'managed'> | null = neighborEntry(family, ifindex, addr),
): void {
  if (known && known.state & (Nud.PERMANENT | Nud.NOARP)) return;
  if (known?.managed) return;
  call('netlink: managed neighbour', () => native().netlinkNeighManage(afOf(family), ifindex, addr.subarray(0, family === 4 ? 4 : 16)));
}

/** The kernel's entry for one neighbour, or null. */
function neighborEntry(family: Family, ifindex: number, addr: Uint8Array): KernelNeighbor | null {
  const want = addr16(Buffer.from(addr.subarray(0, family === 4 ? 4 : 16)));
  return kernelNeighbors().find((n) => n.family === family && n.ifindex === ifindex && n.addr.every((b, i) => b === want[i])) ?? null;
}

/** Removes a neighbour entry (the kernel learns it again when it needs it). False: none. */
export function deleteNeighbor(family: Family, ifindex: number, addr: Uint8Array): boolean {
  return call('netlink: delete neighbour', () =>
    native().netlinkNeighDelete(afOf(family), ifindex, addr.subarray(0, family === 4 ? 4 : 16)),
  );
}

/**
 * Hands a neighbour that manageNeighbor made managed back to the kernel's normal handling: the
 * entry goes (the kernel learns it again when it needs it). An entry that is not managed (a
 * static one someone configured) is left alone. Best effort: the entry or its interface may
 * be gone already.
 */
export function releaseNeighbor(family: Family, ifindex: number, addr: Uint8Array): void {
  try {
    if (!neighborEntry(family, ifindex, addr)?.managed) return;
    deleteNeighbor(family, ifindex, addr);
  } catch {
    // gone already, or its interface is
  }
}

/** Routes as the kernel lists them, packed (see NetlinkRouteSet; routing/kernel-routes.ts reads them). */
export type KernelRouteSet = NetlinkRouteSet;

/** A dump of kernel routes read a part at a time (a full table is a million routes). */
export interface KernelRouteDump {
  /** Up to about `max` more routes; `done` once the kernel has sent them all. */
  read(max: number): { routes: KernelRouteSet; done: boolean };
  close(): void;
}

/**
 * Starts a dump of the routes of the given kernel tables (all but the local table when none
 * are named), in this thread's network namespace. `family` 0 is both.
 */
export function kernelRouteDump(family: Family | 0, tables?: number[]): KernelRouteDump {
  const reader = call('netlink: route dump', () => new (native().RouteDumpReader)(family === 0 ? 0 : afOf(family), tables));
  return {
    read: (max) => call('netlink: route dump', () => reader.read(max)),
    close: () => reader.close(),
  };
}

/** The routes of the given kernel tables, all at once (see kernelRouteDump). */
export function kernelRoutes(family: Family | 0, tables?: number[]): KernelRouteSet {
  const dump = kernelRouteDump(family, tables);
  try {
    return dump.read(0xffffffff).routes;
  } finally {
    dump.close();
  }
}

/** A kernel nexthop object (`ip nexthop`): a gateway on an interface, a blackhole, or a group. */
export interface KernelNexthop {
  id: number;
  ifindex: number;
  gateway: { family: Family; addr: Uint8Array } | null;
  blackhole: boolean;
  /** A group's members, with their weights. */
  group: { id: number; weight: number }[];
}

export function kernelNexthops(): KernelNexthop[] {
  return call('netlink: nexthop dump', () => native().netlinkNexthops()).map((n) => {
    const family = familyOf(n.family);
    const group: { id: number; weight: number }[] = [];
    for (let i = 0; i + 1 < n.group.length; i += 2) group.push({ id: n.group[i]!, weight: n.group[i + 1]! });
    return {
      id: n.id,
      ifindex: n.oif,
      gateway: n.gateway && family ? { family, addr: addr16(n.gateway) } : null,
      blackhole: n.blackhole,
      group,
    };
  });
}

export type KernelEvent =
  | { kind: 'link'; op: 'new' | 'del'; link: KernelLink }
  | { kind: 'address'; op: 'new' | 'del'; address: KernelAddress }
  | { kind: 'neighbor'; op: 'new' | 'del'; neighbor: KernelNeighbor }
  /** Routes added, changed or deleted (packed, in the order the kernel reported them). */
  | { kind: 'routes'; routes: KernelRouteSet }
  /** Nexthop objects changed. */
  | { kind: 'nexthops' }
  /** The kernel dropped events (a burst overran the socket): read everything again. */
  | { kind: 'overrun' };

function event(e: NetlinkEvent): KernelEvent | null {
  switch (e.event) {
    case 'overrun':
      return { kind: 'overrun' };
    case 'routes':
      return { kind: 'routes', routes: e };
    case 'nexthops':
      return { kind: 'nexthops' };
    case 'link': {
      const l = link(e);
      return l && { kind: 'link', op: e.op, link: l };
    }
    case 'address': {
      const a = address(e);
      return a && { kind: 'address', op: e.op, address: a };
    }
    case 'neighbor': {
      const n = neighbor(e);
      return n && { kind: 'neighbor', op: e.op, neighbor: n };
    }
  }
}

/**
 * Follows the kernel's links, addresses, neighbours and routes (in this thread's network namespace)
 * from the event loop: each batch of changes goes to `onEvents` as it arrives. close() stops.
 */
export class KernelMonitor {
  private readonly handle: { close(): void; readonly closed: boolean };

  constructor(groups: number[], onEvents: (events: KernelEvent[]) => void) {
    try {
      this.handle = new (native().NetlinkMonitor)(groups, (raw) => onEvents(keep(raw.map(event))));
    } catch (e) {
      throw fromNative(e, 'netlink: monitor');
    }
  }

  get closed(): boolean {
    return this.handle.closed;
  }

  close(): void {
    this.handle.close();
  }
}

/** The interface name of an ifindex (in this thread's network namespace), or a stand-in. */
export function ifName(ifindex: number): string {
  try {
    return native().ifIndexToName(ifindex);
  } catch {
    return `if${ifindex}`;
  }
}

/**
 * ifName, with each name remembered for up to `maxAgeMs` (all forgotten together): for decoding
 * many records that name interfaces (events, captured packets, a flow table), where asking the
 * kernel for each (a socket and an ioctl, ~5 µs here) cost more than the rest of the record.
 * A renamed interface shows its new name once the names are forgotten.
 */
export function ifNameCache(maxAgeMs: number): (ifindex: number) => string {
  const names = new Map<number, string>();
  let since = Date.now();
  return (ifindex) => {
    if (maxAgeMs !== Infinity) {
      const now = Date.now();
      if (now - since >= maxAgeMs) {
        names.clear();
        since = now;
      }
    }
    let name = names.get(ifindex);
    if (name === undefined) names.set(ifindex, (name = ifName(ifindex)));
    return name;
  };
}

/** Whether an interface with this ifindex exists in this thread's network namespace. */
export function interfaceExists(ifindex: number): boolean {
  try {
    native().ifIndexToName(ifindex);
    return true;
  } catch {
    return false;
  }
}

/** An interface's MAC address (six zero bytes when it has none). */
export function interfaceMac(ifindex: number): Uint8Array {
  try {
    return new Uint8Array(native().ifHwAddr(native().ifIndexToName(ifindex)));
  } catch {
    return new Uint8Array(6);
  }
}

/** An interface's ifindex (a number is taken as one); PW_ERR_NOT_FOUND naming it otherwise. */
export function resolveIfindex(iface: string | number): number {
  if (typeof iface === 'number') return iface;
  try {
    return native().ifNameToIndex(iface);
  } catch (e) {
    throw new PwError('PW_ERR_NOT_FOUND', `no interface named '${iface}'`, { where: iface, hint: "see 'ip link'", cause: e });
  }
}
