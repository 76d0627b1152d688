/**
 * The Dataplane: an instance's pinned pipeline and its tables, one method per intent. The
 * only code that writes the pipeline's maps is here, in src/dataplane/: routes (route-table,
 * nexthop-table), filtering (filter-tables), neighbours (neighbor-table), insight controls and
 * capture (insight-tables, capture-slot). Everything above — operations, the controller,
 * replay — goes through it.
 */
import { join } from 'node:path';

import {
  attachXdp,
  BpfMap,
  declaredXdpFeaturesIfKnown,
  detachXdp,
  ifName,
  interfaceExists,
  kernelAddresses,
  kernelLinks,
  kernelNeighbors,
  MapType,
  queryXdp,
  RawMap,
  resolveIfindex,
  type AnyMap,
  type XdpMode,
  type XdpModeRequest,
} from '../kernel/index.js';
import * as abi from '../generated/pathwise.js';
import { PwError } from '../errors.js';
import { reasonName, verdictName } from '../insight/verdicts.js';
import { inOrder } from '../routing/prefix-index4.js';
import { ascending6, comparePrefix6, PrefixIndex6 } from '../routing/prefix-index6.js';
import { hostRouteSpec, hostRoutes, type HostRoute } from '../routing/host-routes.js';
import { protocolName } from '../routing/kernel-routes.js';
import { planRoutes, Rib, specOfView, type RouteChange } from '../routing/rib.js';
import { routeText, type NexthopView, type RouteOrigin, type RouteSpec, type RouteView } from '../routing/route.js';
import type { RouteBatch } from '../routing/route-syntax.js';
import { formatAddress, formatIpv4, formatPrefix, parsePrefix, prefixKey6, type Prefix } from '../util/ip.js';
import { sortedIncludes } from '../util/typed-arrays.js';
import { PageTurns } from '../util/turn.js';
import { topIndexes } from '../util/top-indexes.js';

import { FilterTables } from './filter-tables.js';
import { markListed } from './blocklist-listing.js';
import { markFeaturesInUse } from './feature-bytes.js';
import { flushFlowCache } from './insight-tables.js';
import { awaitGateways, NeighborTable } from './neighbor-table.js';
import { NexthopTable, type Gateway } from './nexthop-table.js';
import { Pipeline, runDirOf, type PipelineSettings, type UpgradeOptions } from './pipeline.js';
import { ServiceTable } from './service-table.js';
import { RouteTable, routeTypeOf, specialNhg, v4Key, type Route, type V4Bulk, type V6Bulk } from './route-table.js';
import { packRouteRows } from './route-json.js';
import type { LookupResult } from '../routing/route.js';
import { lookupAddresses, tracePacket } from './trace.js';
import { addTxPort, recordEgressPorts, removeTxPort } from './interface-table.js';
import { attachTcPipeline, detachTcPipeline, tcProgramOn } from './tc-hook.js';
import { keepVlanTagsInFrame, restoreVlanOffloads } from './vlan-visibility.js';

export interface InterfaceStats {
  ifindex: number;
  name: string;
  packets: Record<string, number>;
  bytes: Record<string, number>;
  reasons: Record<string, number>;
}

/**
 * What the TC pipeline is for. On a veth it works on the socket buffer the stack sent, in
 * place: no copy into a frame, and checksum offload kept (BENCHMARKS.md §7). It runs after the
 * kernel built that buffer, where XDP runs before: on a NIC with native XDP, XDP is cheaper.
 */
export const TC_MODE_NOTE = 'tc: the pipeline runs at TC ingress, on the socket buffer (no copy on a veth)';

/** How the pipeline runs on an interface: XDP (native, generic or auto) or at TC ingress. */
export type AttachMode = XdpModeRequest | 'tc';

export interface InterfaceAttachResult {
  ifindex: number;
  name: string;
  mode: XdpMode | 'tc';
  /** Why native mode was not used, when auto fell back to generic. */
  fallbackReason?: string;
  /** True when this instance's program in another mode was replaced. */
  replaced: boolean;
  /** The interface ran this instance's program already. */
  already: boolean;
  notes: string[];
}

/**
 * Why auto mode attaches generic XDP to a veth. What a stack sends into a veth arrives as a
 * socket buffer, and a veth's native XDP copies one that is shared, cloned, non-linear or short
 * of XDP's headroom into a page of its own (TCP sends clones). What the program redirects
 * to another veth then travels as a frame, which arrives only where that veth's peer runs NAPI
 * (GRO or an XDP program on the peer; with the defaults the frame is dropped) and without the
 * socket buffer's checksum offload (a TCP segment from a host with tx checksum offload on
 * arrives with a bad checksum). Generic XDP runs on the socket buffer and redirects it as one.
 * Measured in BENCHMARKS.md §4 and §7: more connections per second, fewer packets per second
 * into an XDP program on the far side.
 */
export const VETH_AUTO_NOTE = 'a veth: generic XDP (native XDP on a veth needs GRO on its peer, and copies what a stack sends)';

/**
 * The note for an interface attached in native mode whose driver declares no ndo_xdp_xmit (the
 * kernel's netdev netlink family): what native XDP on another interface redirects to it is
 * dropped by the kernel, not sent. A veth declares it only while its peer runs GRO or an XDP
 * program; a NIC may lack it, or have too few queues for it (this VM's virtio_net). Generic XDP
 * redirects as a socket buffer and reaches any interface.
 */
export const noRedirectTargetNote = (name: string) =>
  `${name} takes no XDP redirects (its driver declares no ndo_xdp_xmit as configured now): what native XDP on another interface forwards to it is dropped; attach with --mode generic, or on a veth turn GRO on at its peer`;

/** What syncHostRoutes() changed. */
export interface HostRouteSync {
  added: number;
  replaced: number;
  removed: number;
  /** The prefixes of the host routes removed (an imported route may take them back). */
  removedPrefixes: string[];
}

/** The host's routes as the kernel's addresses imply them now (this thread's namespace). */
export function currentHostRoutes(): HostRoute[] {
  const links = new Map(kernelLinks().map((l) => [l.ifindex, l]));
  const addresses = kernelAddresses().flatMap((a) => {
    const link = links.get(a.ifindex);
    return link ? [{ ...a, dev: link.name, loopback: link.loopback }] : [];
  });
  return hostRoutes(addresses);
}

export class Dataplane {
  readonly neighbors: NeighborTable;

  private constructor(
    readonly pipeline: Pipeline,
    readonly nexthops: NexthopTable,
    readonly routes: RouteTable,
    /** Rules, rate limiters and blocklists. */
    readonly filter: FilterTables,
    /** Load-balanced services. */
    readonly services: ServiceTable,
  ) {
    this.neighbors = new NeighborTable(pipeline.maps, (ifindex, addr, mac) => nexthops.neighborChanged(ifindex, addr, mac));
  }

  get instance(): string {
    return this.pipeline.instance;
  }

  /** The trace entry point (for trace.ts). */
  get traceProgram() {
    return this.pipeline.trace;
  }

  /** Opens (adopting pins) or loads the data plane of an instance. */
  static async open(instance = 'default', settings: Partial<PipelineSettings> = {}, opts: { create?: boolean } = {}): Promise<Dataplane> {
    const pipeline = await Pipeline.open(instance, settings, opts);
    try {
      const nexthops = new NexthopTable(pipeline.maps);
      const filter = new FilterTables(pipeline.maps, join(runDirOf(instance), 'filter.json'), pipeline.maps.ruleBitmaps.info.maxEntries);
      const services = new ServiceTable(pipeline.maps, join(runDirOf(instance), 'services.json'));
      const routes = new RouteTable(pipeline.maps, nexthops, () => flushFlowCache(pipeline));
      // A new pipeline's blocklists are empty: skipped until something is listed. Opening an
      // existing one writes nothing (the daemon's sweeps keep the marks).
      if (pipeline.created) filter.markEmptyBlocklists();
      // Pins of a version without the feature bytes hold zeros there (feature-bytes.ts).
      markFeaturesInUse(pipeline.maps);
      return new Dataplane(pipeline, nexthops, routes, filter, services);
    } catch (e) {
      pipeline.close();
      throw e;
    }
  }

  /**
   * Replaces the instance's program (Pipeline.upgrade) with one loaded from the current object.
   * Before any interface switches, the new maps are made whole: the filter's from filter.json
   * when their layout changed (so rules and limiters hold across the upgrade; filter.json is
   * restored if the upgrade is rolled back), the interfaces' MACs, and what migrated blocklist
   * entries cannot know. The caller closes its Dataplane after and opens a new one.
   */
  static async upgrade(instance: string, settings: PipelineSettings, opts: Pick<UpgradeOptions, 'crashAfter'> = {}) {
    const stateFile = join(runDirOf(instance), 'filter.json');
    let republished = false;
    const r = await Pipeline.upgrade(instance, settings, {
      ...opts,
      files: [stateFile],
      prepare: (maps, fresh) => {
        if (fresh.includes('pw_ifaces') || fresh.includes('pw_ifaces_hi')) {
          // Learned again before any interface switches: the MAC, MTU and egress checks never lapse.
          recordEgressPorts(maps, new Map(kernelLinks().map((l) => [l.ifindex, l])));
        }
        // A blocklist entry carries its own prefix length (the lookup does not return it).
        const ownLength = <K extends { prefixlen: number }>(map: BpfMap<K, abi.PwBlock>) => {
          for (const [k, v] of [...map.entries()]) map.set(k, { ...v, plen: k.prefixlen });
        };
        // Migrated entries came in without the mark that makes the pipeline look: cleared
        // (a later sweep that finds the blocklist empty sets it again; blocklist-listing.ts).
        if (fresh.includes('pw_block4')) {
          ownLength(maps.block4);
          markListed(maps, 4);
        }
        if (fresh.includes('pw_block6')) {
          ownLength(maps.block6);
          markListed(maps, 6);
        }
        // The IPv6 FIB is new (an upgrade from the LPM trie or from the trie with a 2^16-entry
        // first level, or a resize): filled from the carried route records before any IPv6
        // packet meets it.
        if (fresh.includes('pw_fib6_nodes')) RouteTable.fillFib6(maps);
        // Nexthops migrated from a layout without their gateway's MAC (or without the mmap):
        // copied from pw_neigh now. Until then the pipeline reads pw_neigh, as before.
        if (fresh.includes('pw_nexthops')) {
          const nexthops = new NexthopTable(maps);
          try {
            nexthops.syncMacs(new NeighborTable(maps).entries());
          } finally {
            nexthops.close();
          }
        }
        // The new program skips a stage whose feature byte is clear: set for the stages at
        // work before any interface switches (a pinned map may predate the bytes).
        markFeaturesInUse(maps);
        if (!fresh.some((name) => FilterTables.MAPS.includes(name))) return;
        new FilterTables(maps, stateFile, maps.ruleBitmaps.info.maxEntries).republish();
        republished = true;
      },
    });
    return { ...r, republished };
  }

  close(): void {
    this.services.close();
    this.routes.close();
    this.nexthops.close();
    this.pipeline.close();
  }

  // ---- interfaces ----------------------------------------------------------------------

  /**
   * Attaches the pipeline to interfaces and enables them as egress ports. An interface that
   * already runs this instance's program in the mode asked for (or any, in auto mode) is left as
   * it is; in another XDP mode it is moved to the one asked for; one running another program is
   * refused (PW_ERR_EXISTS). Before the program runs on an interface, the pipeline learns its
   * MAC (frames for other hosts are not forwarded) and, for XDP, the interface stops moving
   * VLAN tags out of the frame (vlan-visibility.ts); `notes` says what could not be made so. In
   * auto mode a veth gets generic XDP (see VETH_AUTO_NOTE), any other interface native where
   * its driver has it. `tc` runs the TC pipeline at the interface's ingress instead (see
   * TC_MODE_NOTE). Moving between XDP and TC, the new program is in place before the old one
   * goes: no packet passes unseen.
   */
  attach(ifaces: string[], mode: AttachMode = 'auto'): InterfaceAttachResult[] {
    const ifindexes = ifaces.map((i) => resolveIfindex(i)); // all names valid before anything changes
    const tc = mode === 'tc' ? this.tcProgram() : null;
    const links = new Map(kernelLinks().map((l) => [l.ifindex, l]));
    const done: InterfaceAttachResult[] = [];
    const undo: (() => void)[] = []; // what this call changed, newest first
    const ourId = this.pipeline.xdp.info().id;
    const ourTc = this.pipeline.tc?.info().id ?? null;
    const ports = new Set(this.pipeline.maps.txPorts.keys());
    const declared = mode === 'tc' ? null : declaredXdpFeaturesIfKnown();
    try {
      ifindexes.forEach((ifindex, k) => {
        const link = links.get(ifindex);
        const name = ifaces[k]!;
        const state = queryXdp(ifindex);
        const xdpOurs = !!state.mode && state.progId === ourId;
        const tcOurs = ourTc !== null && tcProgramOn(ifindex) === ourTc;
        const notes = tc || xdpOurs ? [] : link ? keepVlanTagsInFrame(this.instance, link) : [];
        if (!tc && !xdpOurs && link) undo.unshift(() => restoreVlanOffloads(this.instance, link));
        addTxPort(this.pipeline.maps, ifindex, link); // its MAC recorded before the program runs on it
        if (!ports.has(ifindex)) undo.unshift(() => removeTxPort(this.pipeline.maps, ifindex));
        if (tc) {
          if (tcOurs && !xdpOurs) {
            done.push({ ifindex, mode: 'tc', replaced: false, name, already: true, notes });
            return;
          }
          if (!tcOurs) {
            attachTcPipeline(tc, ifindex);
            undo.unshift(() => detachTcPipeline(ifindex));
          }
          if (xdpOurs) {
            detachXdp(ifindex, this.pipeline.xdp);
            restoreVlanOffloads(this.instance, link);
            undo.unshift(() => {
              if (link) keepVlanTagsInFrame(this.instance, link);
              attachXdp(this.pipeline.xdp, ifindex, { mode: state.mode as XdpMode });
            });
          }
          done.push({ ifindex, mode: 'tc', replaced: xdpOurs, name, already: false, notes: [...notes, TC_MODE_NOTE] });
          return;
        }
        if (xdpOurs && (mode === 'auto' || mode === state.mode)) {
          done.push({ ifindex, mode: state.mode as XdpMode, replaced: false, name, already: true, notes });
          return;
        }
        if (xdpOurs) {
          // Another XDP mode asked for (it was answered 'already attached' in the old one). One
          // XDP program per interface: the old one goes first, as a config's change of mode
          // does, and for that moment the kernel alone sees the interface's packets.
          const was = state.mode as XdpMode;
          detachXdp(ifindex, this.pipeline.xdp);
          undo.unshift(() => attachXdp(this.pipeline.xdp, ifindex, { mode: was }));
          const r = attachXdp(this.pipeline.xdp, ifindex, { mode: mode as XdpModeRequest });
          undo.unshift(() => detachXdp(ifindex, this.pipeline.xdp));
          const moved = `moved from ${was} XDP: for a moment between the two, the kernel alone saw ${name}'s packets`;
          done.push({ ...r, replaced: true, name, already: false, notes: [...notes, moved] });
          return;
        }
        const veth = mode === 'auto' && link?.kind === 'veth';
        if (veth) notes.push(VETH_AUTO_NOTE);
        const r = attachXdp(this.pipeline.xdp, ifindex, { mode: veth ? 'generic' : (mode as XdpModeRequest) });
        undo.unshift(() => detachXdp(ifindex, this.pipeline.xdp));
        if (r.mode === 'native' && declared && !declared.get(ifindex)?.includes('ndo-xmit')) notes.push(noRedirectTargetNote(name));
        if (tcOurs) {
          detachTcPipeline(ifindex); // XDP runs first: the TC program saw nothing since
          undo.unshift(() => attachTcPipeline(this.pipeline.tc!, ifindex));
        }
        done.push({ ...r, replaced: r.replaced || tcOurs, name, already: false, notes });
      });
    } catch (e) {
      // Nothing partial: undo what this call changed.
      for (const u of undo) u();
      throw e;
    }
    this.pruneInterfaceStats();
    return done;
  }

  /** The TC pipeline, or why this instance has none. */
  private tcProgram() {
    if (!this.pipeline.tc) {
      throw new PwError('PW_ERR_UNSUPPORTED', `instance '${this.instance}' was loaded by a version without the TC pipeline`, {
        hint: 'restart the daemon, which upgrades the pipeline in place, or reload it (pathwise down, then attach)',
      });
    }
    return this.pipeline.tc;
  }

  /**
   * Follows the MACs and MTUs of the interfaces the pipeline runs on or forwards out of (a MAC
   * or MTU changed, an interface recreated) and forgets the others. For link events.
   */
  refreshInterfaces(): void {
    recordEgressPorts(this.pipeline.maps, new Map(kernelLinks().map((l) => [l.ifindex, l])));
  }

  /**
   * Lets the pipeline forward out of an interface without attaching to it (a private pipeline
   * that replays captures sends nothing, but routes need their egress ports).
   */
  enableEgress(iface: string): void {
    const ifindex = resolveIfindex(iface);
    addTxPort(
      this.pipeline.maps,
      ifindex,
      kernelLinks().find((l) => l.ifindex === ifindex),
    );
  }

  /** Detaches from interfaces (only where this instance's program is attached). */
  detach(ifaces: string[]): { name: string; detached: boolean }[] {
    const ifindexes = ifaces.map((i) => resolveIfindex(i));
    const ourId = this.pipeline.xdp.info().id;
    const ourTc = this.pipeline.tc?.info().id ?? null;
    return ifindexes.map((ifindex, k) => {
      const state = queryXdp(ifindex);
      const xdpOurs = !!state.mode && state.progId === ourId;
      const tcOurs = ourTc !== null && tcProgramOn(ifindex) === ourTc;
      if (!xdpOurs && !tcOurs) {
        removeTxPort(this.pipeline.maps, ifindex);
        return { name: ifaces[k]!, detached: false };
      }
      // The MAC check holds until the program is off the interface.
      if (xdpOurs) detachXdp(ifindex, this.pipeline.xdp);
      if (tcOurs) detachTcPipeline(ifindex);
      removeTxPort(this.pipeline.maps, ifindex);
      if (xdpOurs) {
        restoreVlanOffloads(
          this.instance,
          kernelLinks().find((l) => l.ifindex === ifindex),
        );
      }
      this.forgetInterfaceStats(ifindex); // a later attach starts from zero
      return { name: ifaces[k]!, detached: true };
    });
  }

  /**
   * Attaches to each interface of `wanted` that exists and does not run this instance's
   * program: one deleted and created again (a container's veth, a VLAN device) comes back to
   * the config's state. Each on its own: one that fails is reported, the others attached.
   */
  reattach(wanted: readonly { name: string; mode: AttachMode }[]): {
    attached: string[];
    failed: { name: string; error: string }[];
    /** What attaching said (as an apply's notes: a VLAN device's offload left on...). */
    notes: string[];
  } {
    const out = { attached: [] as string[], failed: [] as { name: string; error: string }[], notes: [] as string[] };
    const running = new Set(this.attached().map((a) => a.name));
    for (const w of wanted) {
      if (running.has(w.name)) continue;
      try {
        resolveIfindex(w.name);
      } catch {
        continue; // not there (yet)
      }
      try {
        for (const r of this.attach([w.name], w.mode)) out.notes.push(...r.notes);
        out.attached.push(w.name);
      } catch (e) {
        out.failed.push({ name: w.name, error: (e as Error).message });
      }
    }
    return out;
  }

  /** Interfaces running this instance's program, with its mode: native, generic or tc. */
  attached(): { name: string; ifindex: number; mode: string }[] {
    const ourId = this.pipeline.xdp.info().id;
    const ourTc = this.pipeline.tc?.info().id ?? null;
    const out: { name: string; ifindex: number; mode: string }[] = [];
    for (const ifindex of this.pipeline.maps.txPorts.keys()) {
      try {
        const s = queryXdp(ifindex);
        if (s.mode && s.progId === ourId) out.push({ name: ifName(ifindex), ifindex, mode: s.mode });
        else if (ourTc !== null && tcProgramOn(ifindex) === ourTc) out.push({ name: ifName(ifindex), ifindex, mode: 'tc' });
      } catch {
        // interface gone
      }
    }
    return out;
  }

  // ---- routes ---------------------------------------------------------------------------

  private groupFor(spec: Pick<RouteSpec, 'type' | 'nexthops' | 'prefix' | 'where' | 'paths'>): number {
    if (spec.type !== 'unicast') return specialNhg(spec.type);
    const resolved = spec.nexthops.map((n) => this.nexthops.resolve(n, spec.where));
    for (const n of resolved) {
      if (n.gw && n.family !== spec.prefix.family && spec.prefix.family === 4) {
        throw new PwError('PW_ERR_INVALID', `an IPv4 route needs an IPv4 gateway`, { where: spec.where });
      }
    }
    return this.nexthops.acquire(resolved, spec.paths);
  }

  private releaseGroup(nhg: number): void {
    if (nhg >= abi.PwNhgSpecial.FIRST) this.nexthops.release(nhg);
  }

  addRoute(spec: RouteSpec, origin: RouteOrigin = 'user'): RouteView {
    return this.view(this.installRoute(spec, origin));
  }

  /** Adds, or changes the nexthops of an existing route with one atomic store. */
  replaceRoute(spec: RouteSpec, origin: RouteOrigin = 'user'): RouteView {
    return this.view(this.rewriteRoute(spec, origin));
  }

  /*
   * addRoute(), replaceRoute() and deleteRoute() without their views, for changes applied by
   * the thousand (applyRouteChange): a view describes the route's nexthops, which asks the
   * kernel for interface names. A daemon started on 901,904 CLI-loaded routes its config does
   * not hold removes them all: 4.7 s of its start went to views nobody read.
   */
  private installRoute(spec: RouteSpec, origin: RouteOrigin): Route {
    if (this.routes.get(spec.prefix)) {
      throw new PwError('PW_ERR_EXISTS', `a route to ${formatPrefix(spec.prefix)} exists`, {
        where: spec.where,
        hint: "use 'route replace' to change it",
      });
    }
    const nhg = this.groupFor(spec);
    try {
      return this.routes.add(spec.prefix, nhg, spec.metric, origin);
    } catch (e) {
      this.releaseGroup(nhg);
      throw e;
    }
  }

  private rewriteRoute(spec: RouteSpec, origin: RouteOrigin): Route {
    const existing = this.routes.get(spec.prefix);
    if (!existing) return this.installRoute(spec, origin);
    const nhg = this.groupFor(spec);
    this.releaseGroup(this.routes.repoint(existing.id, nhg, spec.metric, origin));
    return this.routes.byId(existing.id)!;
  }

  private removeRoute(prefix: Prefix): void {
    this.releaseGroup(this.routes.remove(prefix).nhg);
  }

  /** The route installed for exactly this prefix. */
  routeAt(prefix: Prefix): RouteView | undefined {
    const r = this.routes.get(prefix);
    return r && this.view(r);
  }

  /** A route spec's canonical text (routeText), resolving gateways as installing it would. */
  describeRoute(spec: RouteSpec): string {
    if (spec.type !== 'unicast') return routeText(spec.type, [], spec.metric);
    const nhs = spec.nexthops.map((n) => {
      const r = this.nexthops.resolve(n, spec.where);
      return { via: r.gw ? formatAddress(r.family, r.gw) : null, dev: ifName(r.ifindex), weight: r.weight };
    });
    return routeText(spec.type, nhs, spec.metric, { paths: spec.paths });
  }

  /** Performs one planned route change (routing/rib.ts); returns its undo. */
  applyRouteChange(c: RouteChange): () => void {
    switch (c.op) {
      case 'add':
        this.installRoute(c.spec, c.origin);
        return () => this.removeRoute(c.spec.prefix);
      // The spec that restores the old route is made only when a failed plan undoes this
      // (a start that deletes a full table made a million of them for nothing).
      case 'replace': {
        this.rewriteRoute(c.spec, c.origin);
        return () => void this.rewriteRoute(specOfView(c.old, c.spec.prefix, `route ${c.prefix} (restore)`), c.old.origin);
      }
      case 'delete': {
        const prefix = parsePrefix(c.prefix);
        this.removeRoute(prefix);
        return () => void this.installRoute(specOfView(c.old, prefix, `route ${c.prefix} (restore)`), c.old.origin);
      }
    }
  }

  /**
   * Brings the host's own routes (origin 'kernel': local host routes, connected subnets) in
   * line with its addresses, through the RIB: a user route for the same prefix wins, and when
   * it goes the host's route comes back. Only the host routes and the routes at their
   * prefixes are read, however many routes the FIB holds.
   */
  syncHostRoutes(host: HostRoute[] = currentHostRoutes()): HostRouteSync {
    const specs = host.map(hostRouteSpec);
    const running = new Map<string, RouteView>();
    for (const r of this.routes.system()) running.set(formatPrefix(r.prefix), this.view(r));
    const users: RouteSpec[] = [];
    for (const spec of specs) {
      const r = this.routes.get(spec.prefix);
      if (!r || r.origin === 'kernel') continue;
      const v = this.view(r);
      running.set(v.prefix, v);
      // An imported route at a host prefix gives way (as the kernel prefers its connected
      // route); the import puts it back when the address goes (`removedPrefixes`).
      if (r.origin === 'user') users.push(specOfView(v, r.prefix, `route ${v.prefix}`));
    }
    const rib = new Rib();
    rib.set('kernel', specs);
    rib.set('user', users);
    const changes = planRoutes(running, rib.best(), (spec) => this.describeRoute(spec));
    for (const c of changes) this.applyRouteChange(c);
    const count = (op: RouteChange['op']) => changes.filter((c) => c.op === op).length;
    return {
      added: count('add'),
      replaced: count('replace'),
      removed: count('delete'),
      removedPrefixes: changes.filter((c) => c.op === 'delete').map((c) => c.prefix),
    };
  }

  deleteRoute(prefix: Prefix): RouteView {
    const view = this.viewOf(prefix);
    this.removeRoute(prefix);
    return view;
  }

  private viewOf(prefix: Prefix): RouteView {
    const r = this.routes.get(prefix);
    if (!r) throw new PwError('PW_ERR_NOT_FOUND', `no route to ${formatPrefix(prefix)}`);
    return this.view(r);
  }

  /**
   * Installs many routes. Everything is checked before anything is written (nexthops and
   * interfaces, duplicates, conflicts with installed routes unless `replace`, capacity); a
   * failure while writing removes what this call added.
   */
  loadRoutes(batch: RouteBatch, opts: { replace?: boolean } = {}): { added: number; replaced: number } {
    const { v4, v6, templates, others } = batch;
    const where = (i: number) => `${batch.file}:${v4.line[i]}`;
    const where6 = (i: number) => `${batch.file}:${v6.line[i]}`;
    const acquired: number[] = [];
    const tmplGroup = new Uint32Array(templates.length);
    // The IPv4 routes that exist already, to replace, by their index in the batch (few: a
    // table is loaded into an instance holding the host's routes, or reloaded with --replace).
    let present4: Uint8Array | undefined;
    const replace4: number[] = [];
    // The new IPv6 routes by their index in the batch, as the IPv4 ones.
    const fresh6Index = new Uint32Array(v6.count);
    let fresh6Count = 0;
    const replace6: number[] = [];
    // Whether the IPv6 lines are in address order (a table dump's): then no index finds a
    // prefix given twice, and the new ones' nodes are counted without keys.
    const ordered6 = ascending6(v6.addr, v6.plen, v6.count);
    const prefix6 = (i: number) => ({ family: 6 as const, addr: v6.addr.subarray(16 * i, 16 * i + 16), plen: v6.plen[i]! });
    const freshOthers: { spec: RouteSpec; nhg: number }[] = [];
    const replaceOthers: { spec: RouteSpec; nhg: number }[] = [];
    try {
      // One group per distinct nexthop text: resolved and acquired once, not per route.
      templates.forEach((t, i) => {
        const nhg = this.groupFor({ ...t, prefix: parsePrefix(t.family === 6 ? '::/0' : '0.0.0.0/0') });
        tmplGroup[i] = nhg;
        if (nhg >= abi.PwNhgSpecial.FIRST) acquired.push(nhg);
      });
      // Duplicates within the batch. Lines in address order, then length (a table dump's;
      // one pass tells) hold none, and are searched as they are. Others: sort their keys (a
      // typed array: no garbage) and compare neighbours (~120 ms for a full table here).
      const batchKey4 = (addr: number, plen: number) => addr * 64 + plen;
      const ordered = inOrder(v4.addr, v4.plen, v4.count);
      let keys: Float64Array | undefined;
      if (!ordered) {
        keys = new Float64Array(v4.count);
        for (let i = 0; i < v4.count; i++) keys[i] = batchKey4(v4.addr[i]!, v4.plen[i]!);
      }
      const sorted = keys?.slice().sort();
      for (let k = 1; keys && sorted && k < sorted.length; k++) {
        if (sorted[k] === sorted[k - 1]) {
          const i = keys.indexOf(sorted[k]!);
          throw new PwError('PW_ERR_INVALID', `${formatIpv4(v4.addr[i]!)}/${v4.plen[i]} appears twice`, {
            where: where(keys.indexOf(sorted[k]!, i + 1)),
          });
        }
      }
      const inBatch4 = (addr: number, plen: number) => {
        const key = batchKey4(addr, plen);
        return sorted
          ? sortedIncludes(sorted.length, (i) => sorted[i]! - key)
          : sortedIncludes(v4.count, (i) => batchKey4(v4.addr[i]!, v4.plen[i]!) - key);
      };
      const exists = (text: string, at: string) => {
        if (opts.replace) return;
        throw new PwError('PW_ERR_EXISTS', `a route to ${text} exists`, {
          where: at,
          hint: 'load with --replace to change existing routes',
        });
      };
      present4 = this.routes.present4(v4.addr, v4.plen, v4.count);
      for (let i = 0; present4 && i < v4.count; i++) {
        if (!present4[i]) continue;
        exists(`${formatIpv4(v4.addr[i]!)}/${v4.plen[i]}`, where(i));
        replace4.push(i);
      }
      // IPv6 prefixes within the batch: an index over the batch's own arrays (line i is id
      // i + 1), as the route table's is over its records; no string or object per prefix.
      // A batch in address order has no prefix twice and needs no index: a binary search
      // answers for the other lines.
      const inBatch6 = ordered6 ? undefined : new PrefixIndex6(v6.addr, 16, -16, v6.plen, -1, v6.count);
      const inBatch6Has = (addr: Uint8Array, plen: number) =>
        inBatch6
          ? inBatch6.has(addr, 0, plen)
          : sortedIncludes(v6.count, (i) => comparePrefix6(v6.addr, 16 * i, v6.plen[i]!, addr, 0, plen));
      for (let i = 0; i < v6.count; i++) {
        const plen = v6.plen[i]!;
        if (inBatch6?.addUnlessPresent(i + 1)) {
          throw new PwError('PW_ERR_INVALID', `${formatPrefix(prefix6(i))} appears twice`, { where: where6(i) });
        }
        const found = this.routes.idOf6(v6.addr, 16 * i, plen) !== undefined;
        if (found) exists(formatPrefix(prefix6(i)), where6(i));
        if (found) replace6.push(i);
        else fresh6Index[fresh6Count++] = i;
      }
      const seen6 = new Set<string>(); // IPv6 prefixes among the others
      const seen4 = new Set<number>(); // IPv4 prefixes among the others
      for (const spec of others) {
        const { prefix } = spec;
        const key = prefix.family === 6 ? prefixKey6(prefix.addr, 0, prefix.plen) : v4Key(prefix.v4, prefix.plen);
        const twice =
          typeof key === 'string'
            ? seen6.has(key) || inBatch6Has(prefix.addr, prefix.plen)
            : seen4.has(key) || inBatch4(prefix.v4, prefix.plen);
        if (twice) throw new PwError('PW_ERR_INVALID', `${formatPrefix(prefix)} appears twice`, { where: spec.where });
        if (typeof key === 'string') seen6.add(key);
        else seen4.add(key);
        const found = this.routes.idOf(prefix) !== undefined;
        if (found) exists(formatPrefix(prefix), spec.where);
        const nhg = this.groupFor(spec);
        if (nhg >= abi.PwNhgSpecial.FIRST) acquired.push(nhg);
        (found ? replaceOthers : freshOthers).push({ spec, nhg });
      }
      const newCount = v4.count - replace4.length + fresh6Count + freshOthers.length;
      if (newCount > this.routes.freeCount)
        throw new PwError('PW_ERR_FULL', `${newCount} new routes do not fit: ${this.routes.freeCount} free route slots`);
    } catch (e) {
      for (const g of acquired) this.nexthops.release(g);
      throw e;
    }

    // The new IPv4 routes: the batch's own arrays, each route's group and metric its
    // template's (no per-route copy of a full table: fresh pages cost their first write),
    // or, when some routes are replaced, the others copied.
    const fresh4Count = v4.count - replace4.length;
    let { addr: addr4, plen: plen4, template: group4 } = v4;
    if (present4) {
      addr4 = new Uint32Array(fresh4Count);
      plen4 = new Uint8Array(fresh4Count);
      group4 = new Uint32Array(fresh4Count);
      for (let i = 0, k = 0; i < v4.count; i++) {
        if (present4[i]) continue;
        addr4[k] = v4.addr[i]!;
        plen4[k] = v4.plen[i]!;
        group4[k++] = v4.template[i]!;
      }
    }
    const bulk: V4Bulk = {
      count: fresh4Count,
      addr: addr4,
      plen: plen4,
      group: group4,
      nhg: tmplGroup,
      metric: Uint32Array.from(templates, (t) => t.metric),
    };
    // Each template's new routes, counted per family: their group's references are taken once
    // per template, after each family's bulk write.
    const uses4 = new Uint32Array(templates.length);
    const uses6 = new Uint32Array(templates.length);
    for (let k = 0; k < fresh4Count; k++) uses4[group4[k]!]!++;
    const bulk6: V6Bulk = {
      count: fresh6Count,
      addr: v6.addr,
      plen: v6.plen,
      at: fresh6Index.subarray(0, fresh6Count),
      nhg: new Uint32Array(fresh6Count),
      metric: new Uint32Array(fresh6Count),
    };
    for (let k = 0; k < fresh6Count; k++) {
      const t = v6.template[fresh6Index[k]!]!;
      bulk6.nhg[k] = tmplGroup[t]!;
      bulk6.metric[k] = templates[t]!.metric;
      uses6[t]!++;
    }
    const fail = (e: PwError): never => {
      for (const g of acquired) this.nexthops.release(g);
      throw e;
    };
    const groupsFree = this.routes.fib4.groupCapacity - this.routes.fib4.groupsInUse;
    const groupsNeeded = this.routes.groupsNeededFor(bulk);
    if (groupsNeeded > groupsFree) {
      fail(
        new PwError('PW_ERR_FULL', `the IPv4 FIB needs ${groupsNeeded} more second-level groups, ${groupsFree} are free`, {
          hint: 'load the pipeline with more ipv4Groups',
        }),
      );
    }
    const nodesNeeded = this.routes.fib6.nodesNeededFor(
      freshOthers.map((f) => f.spec.prefix).filter((p) => p.family === 6),
      bulk6,
      ordered6 || undefined, // the new lines of lines in address order are in address order
    );
    if (nodesNeeded > this.routes.fib6.nodesFree) {
      fail(
        new PwError('PW_ERR_FULL', `the IPv6 FIB needs ${nodesNeeded} more nodes, ${this.routes.fib6.nodesFree} are free`, {
          hint: 'load the pipeline with more ipv6Nodes',
        }),
      );
    }

    // Routes in place holding a reference to their group, and (for a moment) routes in place
    // whose references are taken after their bulk write: undone differently on a failure.
    const added: number[] = [];
    const unreferenced: number[] = [];
    let addedBulk: Uint32Array = new Uint32Array(0);
    let replaced = 0;
    const takeRefs = (uses: Uint32Array) => uses.forEach((n, t) => n && this.nexthops.addRefs(tmplGroup[t]!, n));
    const repoint = (id: number, nhg: number, metric: number) => {
      const old = this.routes.repoint(id, nhg, metric);
      this.nexthops.addRefs(nhg, 1);
      this.releaseGroup(old);
      replaced++;
    };
    try {
      addedBulk = this.routes.addV4Bulk(bulk);
      takeRefs(uses4);
      for (const i of replace4) {
        const t = v4.template[i]!;
        repoint(this.routes.idOf4(v4.addr[i]!, v4.plen[i]!)!, tmplGroup[t]!, templates[t]!.metric);
      }
      this.routes.addV6Bulk(bulk6, unreferenced);
      takeRefs(uses6);
      for (const id of unreferenced) added.push(id);
      unreferenced.length = 0;
      for (const i of replace6) {
        const t = v6.template[i]!;
        repoint(this.routes.idOf6(v6.addr, 16 * i, v6.plen[i]!)!, tmplGroup[t]!, templates[t]!.metric);
      }
      for (const { spec, nhg } of freshOthers) {
        added.push(this.routes.add(spec.prefix, nhg, spec.metric).id);
        this.nexthops.addRefs(nhg, 1);
      }
      for (const { spec, nhg } of replaceOthers) repoint(this.routes.idOf(spec.prefix)!, nhg, spec.metric);
    } catch (e) {
      // Undo: remove what this call added, newest first.
      for (const id of unreferenced.reverse()) this.routes.removeById(id);
      for (const id of [...added.reverse(), ...addedBulk.reverse()]) this.releaseGroup(this.routes.removeById(id).nhg);
      throw e;
    } finally {
      for (const g of acquired) this.nexthops.release(g); // drop the loader's own reference
    }
    return { added: added.length + addedBulk.length, replaced };
  }

  /**
   * @param groups the nexthops of the groups already described, for a listing: many routes
   *               share a group, and describing one asks the kernel for interface names.
   */
  view(r: Route, groups?: Map<number, NexthopView[]>): RouteView {
    let nexthops = groups?.get(r.nhg);
    if (!nexthops) {
      nexthops = this.nexthops.describe(r.nhg);
      groups?.set(r.nhg, nexthops);
    }
    return {
      origin: r.origin,
      ...(r.origin === 'imported' ? { proto: protocolName(r.proto) } : {}),
      prefix: formatPrefix(r.prefix),
      family: r.prefix.family,
      type: routeTypeOf(r.nhg),
      metric: r.metric,
      nexthops,
      id: r.id,
      ...pathsOf(this.nexthops.tagOf(r.nhg)),
    };
  }

  /** Copies the kernel's neighbour table into the data plane (neighbor-table.ts), and from
   * there every gateway nexthop's MAC (nexthop-macs.ts). */
  syncNeighbors(): { set: number; removed: number } {
    const r = this.neighbors.sync();
    this.nexthops.syncMacs(this.neighbors.entries());
    return r;
  }

  /**
   * Waits (briefly, without blocking the event loop) for the kernel to resolve the gateways the
   * routes use — all of them, or `gateways` — then copies its neighbours into the data plane.
   * Returns the gateways still unresolved. `within` runs the kernel reads, for a caller that
   * works in another network namespace (inNetns).
   */
  async resolveNeighbors(gateways?: Gateway[], within: <T>(fn: () => T) => T = (fn) => fn()): Promise<{ via: string; dev: string }[]> {
    const list = gateways ?? within(() => this.nexthops.gateways());
    const unresolved = await awaitGateways(list, 1500, () => within(kernelNeighbors));
    within(() => this.syncNeighbors());
    return unresolved.map((g) => ({ via: g.via, dev: g.dev }));
  }

  /** Every route (but those of the origin `skip`, when given). Routes of one group share
   * its nexthops' description: describing asks the kernel for interface names, and a full
   * table's 900k routes share a few groups (the views of 901,904 routes: 9.2-11.0 s one by
   * one, 3.1 s shared; the daemon's reconciler lists them at start). */
  listRoutes(skip?: RouteOrigin): RouteView[] {
    const groups = new Map<number, NexthopView[]>();
    return [...this.routes.all(skip)].map((r) => this.view(r, groups));
  }

  /**
   * The rows of routes `ids` as JSON, each as JSON.stringify(view()) writes it (the same keys
   * in the same order), written from the route table without building views: a listing of a
   * full table writes a million (route-json.ts). Rows are separated by `separator`, `after`
   * follows the last; ids of routes gone meanwhile are skipped.
   */
  routeRowsJson(ids: Uint32Array, counters: RouteCounters | undefined, separator: string, after = ''): { bytes: Buffer; rows: number } {
    const groupText = (nhg: number) => ({
      type: routeTypeOf(nhg),
      nexthops: JSON.stringify(this.nexthops.describe(nhg)),
      tag: this.nexthops.tagOf(nhg),
    });
    return packRouteRows(this.routes, groupText, ids, counters, separator, after);
  }

  /** A route's view by id (see RouteTable.ids(): undefined once the route is gone); `groups`
   * as view()'s. */
  routeView(id: number, groups?: Map<number, NexthopView[]>): RouteView | undefined {
    const r = this.routes.byId(id);
    return r && this.view(r, groups);
  }

  lookup(addresses: string[]): LookupResult[] {
    return lookupAddresses(this, addresses);
  }

  /** The pipeline's decision for one packet, changing nothing (see trace.ts). */
  trace(data: Uint8Array, ingressIfindex = 0) {
    return tracePacket(this.pipeline.trace, data, ingressIfindex);
  }

  // ---- counters -------------------------------------------------------------------------

  /**
   * Deletes the counters of interfaces that no longer exist, so interfaces deleted while
   * attached (containers' veths) do not fill pw_if_stats_hi: the pipeline inserts an entry on an
   * interface's first packet and counts nothing once PW_MAX_IFACES are taken. Ifindexes are
   * resolved in this process's network namespace, the one attach() works in.
   */
  private pruneInterfaceStats(): void {
    const hi = this.pipeline.maps.ifStatsHi;
    for (const ifindex of [...hi.keys()]) if (!interfaceExists(ifindex)) hi.delete(ifindex);
  }

  private forgetInterfaceStats(ifindex: number): void {
    if (ifindex < abi.PwLimit.IF_DIRECT) this.pipeline.maps.ifStats.set(ifindex, abi.PwIfCounters.zero());
    else this.pipeline.maps.ifStatsHi.delete(ifindex);
  }

  interfaceStats(): InterfaceStats[] {
    const out: InterfaceStats[] = [];
    const { ifStats, ifStatsHi } = this.pipeline.maps;
    for (const map of [ifStats, ifStatsHi]) {
      for (const page of map.lookupBatchRaw(1024)) {
        for (let i = 0; i < page.count; i++) {
          const ifindex = page.keys.readUInt32LE(i * 4);
          const perCpu = map.decodeSlot(page.values, i);
          const sum = (pick: (c: abi.PwIfCounters) => bigint[], n: number) =>
            Array.from({ length: n }, (_, k) => perCpu.reduce((a, c) => a + pick(c)[k]!, 0n));
          const packets = sum((c) => c.packets, abi.PwVerdict.MAX);
          if (packets.every((p) => p === 0n)) continue;
          const bytes = sum((c) => c.bytes, abi.PwVerdict.MAX);
          const reasons = sum((c) => c.reasons, abi.PwReason.MAX);
          const rec = (arr: bigint[], name: (i: number) => string) =>
            Object.fromEntries(arr.map((v, k) => [name(k), Number(v)] as const).filter(([, v]) => v > 0));
          out.push({
            ifindex,
            name: ifName(ifindex),
            packets: rec(packets, verdictName),
            bytes: rec(bytes, verdictName),
            reasons: rec(reasons, reasonName),
          });
        }
      }
    }
    return out;
  }

  /**
   * Entries and capacity of every map, by its name in the object (arrays count as full, except
   * the route table; ring buffers are left out). LPM maps are walked in turns of the event loop,
   * large hash maps sampled (countEntries): not for a hot path.
   */
  async mapPressure(): Promise<{ map: string; entries: number; max: number }[]> {
    const rows: { map: string; entries: number; max: number }[] = [];
    for (const [handle, map] of Object.entries(this.pipeline.maps) as [keyof abi.Maps, AnyMap][]) {
      if (map instanceof RawMap) continue;
      const info = map.info;
      const isArray = info.type === MapType.ARRAY || info.type === MapType.PERCPU_ARRAY;
      const entries = handle === 'routes' ? this.routes.size : isArray ? info.maxEntries : await countEntries(map);
      rows.push({ map: abi.mapHandles[handle], entries, max: info.maxEntries });
    }
    return rows;
  }

  /**
   * The `n` routes that forwarded the most packets (id and packets, busiest first), and the
   * packets of all the others: what /metrics names. Only the n are picked from the counters (a
   * full table with traffic on every route took ~11 s to sort and name whole, the daemon held).
   */
  async busiestRoutes(n: number): Promise<{ top: { id: number; packets: number }[]; otherPackets: number }> {
    const { packets } = await this.routeCounters();
    let total = 0;
    for (const p of packets) total += p;
    const ids = await topIndexes(
      packets.length,
      Math.min(n, packets.length),
      (i) => packets[i]!,
      (i) => packets[i]! > 0,
    );
    const top = ids.map((id) => ({ id, packets: packets[id]! }));
    return { top, otherPackets: total - top.reduce((a, r) => a + r.packets, 0) };
  }

  /**
   * Packets and bytes per route id, the flow cache flushed first (its slots hold their flows'
   * route counts). Read a page at a time on a worker thread, with a turn of the event loop every
   * 10 ms, into two arrays: a full table's counters as a Map of objects held the daemon ~1 s.
   */
  async routeCounters(): Promise<RouteCounters> {
    flushFlowCache(this.pipeline);
    // Only the ids routes have had: the array holds 2M, 32 MiB that took ~170 ms to copy out
    // at every scrape of a daemon with no route at all.
    const bound = this.routes.idBound;
    const counters = new RouteCounters(bound);
    if (bound === 0) return counters;
    const C = abi.PwCounter;
    const turns = new PageTurns();
    for await (const page of this.pipeline.maps.routeStats.entriesRawAsync(Math.min(65536, bound))) {
      let id = 0;
      for (let i = 0; i < page.count; i++) {
        id = page.keys.readUInt32LE(4 * i);
        if (id >= bound) break;
        counters.packets[id] = Number(page.values.readBigUInt64LE(C.size * i + C.offsets.packets));
        counters.bytes[id] = Number(page.values.readBigUInt64LE(C.size * i + C.offsets.bytes));
      }
      if (id + 1 >= bound) break;
      await turns.afterPage();
    }
    return counters;
  }
}

/** Packets and bytes per route id (Dataplane.routeCounters), in arrays indexed by id. */
export class RouteCounters {
  readonly packets: Float64Array;
  readonly bytes: Float64Array;

  constructor(bound: number) {
    this.packets = new Float64Array(bound);
    this.bytes = new Float64Array(bound);
  }

  /** A route's counters; undefined for one without traffic. */
  get(id: number): { packets: number; bytes: number } | undefined {
    const packets = this.packets[id];
    return packets ? { packets, bytes: this.bytes[id]! } : undefined;
  }

  /** The routes with traffic, by id. */
  *[Symbol.iterator](): IterableIterator<[number, { packets: number; bytes: number }]> {
    for (let id = 0; id < this.packets.length; id++) if (this.packets[id]) yield [id, this.get(id)!];
  }
}

/** Hash maps holding more than this are counted from a sample of their buckets (an estimate). */
const COUNT_SAMPLE = 65_536;

/**
 * Entries in a map, counted with batch lookups. A hash map (the connection and flow tables
 * hold a million) is counted from a sample past COUNT_SAMPLE entries, scaled by the share of
 * its buckets read: a full one took the kernel ~0.3 s to copy out at each scrape. Others (the
 * blocklists' LPM tries: a million prefixes took ~0.7 s) are read whole, each batch on a
 * worker thread, with a turn of the event loop every 10 ms.
 */
async function countEntries(map: Exclude<AnyMap, RawMap>): Promise<number> {
  let n = 0;
  if (map.info.type === MapType.HASH || map.info.type === MapType.LRU_HASH) {
    const share = map.sampleBatchRaw(COUNT_SAMPLE, (page) => (n += page.count), 16384);
    return Math.min(map.info.maxEntries, Math.round(n / share));
  }
  if (!(map instanceof BpfMap)) {
    for (const page of map.lookupBatchRaw(65536)) n += page.count; // per-CPU: none of them large
    return n;
  }
  const turns = new PageTurns();
  for await (const page of map.entriesRawAsync(65536)) {
    n += page.count;
    await turns.afterPage();
  }
  return n;
}

const pathsOf = (tag: string | undefined) => (tag ? { paths: tag } : {});
