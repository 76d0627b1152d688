/**
 * The Dataplane: the only code that writes the pipeline's maps, one method per intent. The
 * CLI (until the daemon lands) and later the daemon drive the data plane through it.
 */
import { attachXdp, detachXdp, queryXdp, resolveIfindex, type XdpModeRequest, type XdpAttachResult } from '../bpf/index.js';
import * as abi from '../generated/pathwise.js';
import { PwError } from '../errors.js';
import { formatPrefix, type Prefix } from '../util/ip.js';
import { lookupAddresses, type LookupResult } from './lookup.js';
import { NexthopTable, ifName, type NexthopView } from './nexthops.js';
import { Pipeline, type PipelineSettings } from './pipeline.js';
import { RouteTable, routeTypeOf, specialNhg, type RouteType } from './route-table.js';
import type { RouteSpec } from './route-syntax.js';
import { readSystemRoutes } from './system-routes.js';

export interface RouteView {
  prefix: string;
  family: 4 | 6;
  type: RouteType;
  metric: number;
  nexthops: NexthopView[];
  id: number;
  /** 'kernel' for routes derived from the host's addresses, 'user' otherwise. */
  origin: 'user' | 'kernel';
}

export interface InterfaceStats {
  ifindex: number;
  name: string;
  packets: Record<string, number>;
  bytes: Record<string, number>;
  reasons: Record<string, number>;
}

const verdictNames = Object.keys(abi.PwVerdict).filter((k) => k !== 'MAX').map((k) => k.toLowerCase());
const reasonNames = Object.entries(abi.PwReason)
  .filter(([k]) => k !== 'MAX' && k !== 'MALFORMED_MAX')
  .sort((a, b) => a[1] - b[1])
  .map(([k]) => k.toLowerCase());

export const reasonName = (r: number) => reasonNames[r] ?? `reason_${r}`;
export const verdictName = (v: number) => verdictNames[v] ?? `verdict_${v}`;

export class Dataplane {
  private constructor(
    readonly pipeline: Pipeline,
    readonly nexthops: NexthopTable,
    readonly routes: RouteTable,
  ) {}

  /** Opens (adopting pins) or loads the data plane of an instance. */
  static async open(instance = 'default', settings: Partial<PipelineSettings> = {}, opts: { create?: boolean } = {}): Promise<Dataplane> {
    const pipeline = await Pipeline.open(instance, settings, opts);
    try {
      const nexthops = new NexthopTable(pipeline.maps);
      return new Dataplane(pipeline, nexthops, new RouteTable(pipeline.maps, nexthops));
    } catch (e) {
      pipeline.close();
      throw e;
    }
  }

  close(): void {
    this.routes.close();
    this.pipeline.close();
  }

  // ---- interfaces ----------------------------------------------------------------------

  /**
   * Attaches the pipeline to interfaces and enables them as egress ports. An interface that
   * already runs this instance's program is left as it is; one running another program is
   * refused (PW_ERR_EXISTS).
   */
  attach(ifaces: string[], mode: XdpModeRequest = 'auto'): (XdpAttachResult & { name: string; already: boolean })[] {
    const ifindexes = ifaces.map((i) => resolveIfindex(i)); // all names valid before anything changes
    const done: (XdpAttachResult & { name: string; already: boolean })[] = [];
    const ourId = this.pipeline.xdp.info().id;
    try {
      ifindexes.forEach((ifindex, k) => {
        const state = queryXdp(ifindex);
        if (state.mode && state.progId === ourId) {
          done.push({ ifindex, mode: state.mode as 'native' | 'generic', replaced: false, name: ifaces[k]!, already: true });
        } else {
          done.push({ ...attachXdp(this.pipeline.xdp, ifindex, { mode }), name: ifaces[k]!, already: false });
        }
        this.pipeline.maps.txPorts.set(ifindex, ifindex);
      });
    } catch (e) {
      // Nothing partial: undo the attachments this call made.
      for (const d of done) {
        if (!d.already) {
          detachXdp(d.ifindex, this.pipeline.xdp);
          this.pipeline.maps.txPorts.delete(d.ifindex);
        }
      }
      throw e;
    }
    return done;
  }

  /** Detaches from interfaces (only where this instance's program is attached). */
  detach(ifaces: string[]): { name: string; detached: boolean }[] {
    const ifindexes = ifaces.map((i) => resolveIfindex(i));
    const ourId = this.pipeline.xdp.info().id;
    return ifindexes.map((ifindex, k) => {
      const state = queryXdp(ifindex);
      this.pipeline.maps.txPorts.delete(ifindex);
      if (!state.mode || state.progId !== ourId) return { name: ifaces[k]!, detached: false };
      detachXdp(ifindex, this.pipeline.xdp);
      return { name: ifaces[k]!, detached: true };
    });
  }

  /** Interfaces running this instance's program. */
  attached(): { name: string; ifindex: number; mode: string }[] {
    const ourId = this.pipeline.xdp.info().id;
    const out: { name: string; ifindex: number; mode: string }[] = [];
    for (const ifindex of this.pipeline.maps.txPorts.keys()) {
      try {
        const s = queryXdp(ifindex);
        if (s.mode && s.progId === ourId) out.push({ name: ifName(ifindex), ifindex, mode: s.mode });
      } catch {
        // interface gone
      }
    }
    return out;
  }

  // ---- routes ---------------------------------------------------------------------------

  private groupFor(spec: RouteSpec): number {
    if (spec.type !== 'unicast') return specialNhg(spec.type);
    const resolved = spec.nexthops.map((n) => this.nexthops.resolve(n, spec.where));
    for (const n of resolved) {
      if (n.gw && n.family !== spec.prefix.family && spec.prefix.family === 4) {
        throw new PwError('PW_ERR_INVALID', `an IPv4 route needs an IPv4 gateway`, { where: spec.where });
      }
    }
    return this.nexthops.acquire(resolved);
  }

  private releaseGroup(nhg: number): void {
    if (nhg >= abi.PwNhgSpecial.FIRST) this.nexthops.release(nhg);
  }

  addRoute(spec: RouteSpec): RouteView {
    if (this.routes.get(spec.prefix)) {
      throw new PwError('PW_ERR_EXISTS', `a route to ${formatPrefix(spec.prefix)} exists`, { where: spec.where, hint: "use 'route replace' to change it" });
    }
    const nhg = this.groupFor(spec);
    try {
      return this.view(this.routes.add(spec.prefix, nhg, spec.metric));
    } catch (e) {
      this.releaseGroup(nhg);
      throw e;
    }
  }

  /** Adds, or changes the nexthops of an existing route with one atomic store. */
  replaceRoute(spec: RouteSpec): RouteView {
    const existing = this.routes.get(spec.prefix);
    if (!existing) return this.addRoute(spec);
    const nhg = this.groupFor(spec);
    this.releaseGroup(this.routes.repoint(existing, nhg, spec.metric));
    return this.view(existing);
  }

  /**
   * Brings the SYSTEM routes in line with the host's addresses (local host routes, connected
   * subnets). User routes for the same prefixes are left alone.
   */
  syncSystemRoutes(): { added: number; removed: number } {
    const want = readSystemRoutes();
    const wanted = new Set(want.map((w) => formatPrefix(w.prefix)));
    let added = 0;
    let removed = 0;
    for (const r of [...this.routes.all()]) {
      if (r.system && !wanted.has(formatPrefix(r.prefix))) {
        this.releaseGroup(this.routes.remove(r.prefix).nhg);
        removed++;
      }
    }
    for (const w of want) {
      const existing = this.routes.get(w.prefix);
      if (existing && !existing.system) continue;
      const nhg = w.kind === 'local' ? specialNhg('local') : this.nexthops.acquire([this.nexthops.resolve({ dev: w.dev }, `address on ${w.dev}`)]);
      if (existing) this.releaseGroup(this.routes.repoint(existing, nhg, 0, true));
      else {
        this.routes.add(w.prefix, nhg, 0, true);
        added++;
      }
    }
    return { added, removed };
  }

  deleteRoute(prefix: Prefix): RouteView {
    const view = this.viewOf(prefix);
    const route = this.routes.remove(prefix);
    this.releaseGroup(route.nhg);
    return view;
  }

  private viewOf(prefix: Prefix): RouteView {
    const r = this.routes.get(prefix);
    if (!r) throw new PwError('PW_ERR_NOT_FOUND', `no route to ${formatPrefix(prefix)}`);
    return this.view(r);
  }

  /**
   * Installs many routes. Everything is checked before anything is written (syntax,
   * interfaces, gateways, duplicates, conflicts with installed routes unless `replace`,
   * capacity); a failure while writing removes what this call added.
   */
  loadRoutes(specs: RouteSpec[], opts: { replace?: boolean } = {}): { added: number; replaced: number } {
    const seen = new Map<string, string>();
    const groups = new Map<string, number>();
    const plan: { spec: RouteSpec; nhg: number; existing: boolean }[] = [];
    const acquired: number[] = [];
    try {
      for (const spec of specs) {
        const key = formatPrefix(spec.prefix);
        const dup = seen.get(key);
        if (dup) throw new PwError('PW_ERR_INVALID', `${key} appears twice (first at ${dup})`, { where: spec.where });
        seen.set(key, spec.where);
        const existing = !!this.routes.get(spec.prefix);
        if (existing && !opts.replace) {
          throw new PwError('PW_ERR_EXISTS', `a route to ${key} exists`, { where: spec.where, hint: 'load with --replace to change existing routes' });
        }
        // One group per distinct nexthop set: resolving and acquiring once, not per route.
        const gkey = spec.type === 'unicast' ? JSON.stringify(spec.nexthops) : spec.type;
        let nhg = groups.get(gkey);
        if (nhg === undefined) {
          nhg = this.groupFor(spec);
          groups.set(gkey, nhg);
          if (nhg >= abi.PwNhgSpecial.FIRST) acquired.push(nhg);
        }
        plan.push({ spec, nhg, existing });
      }
      const fresh = plan.filter((p) => !p.existing).length;
      if (fresh > this.routes.freeCount) throw new PwError('PW_ERR_FULL', `${fresh} new routes do not fit: ${this.routes.freeCount} free route slots`);
    } catch (e) {
      for (const g of acquired) this.nexthops.release(g);
      throw e;
    }

    // Ascending prefix length: each DIR-24-8 write then overwrites only shorter prefixes.
    plan.sort((a, b) => a.spec.prefix.plen - b.spec.prefix.plen);
    const added: Prefix[] = [];
    let replaced = 0;
    try {
      for (const p of plan) {
        if (p.existing) {
          const old = this.routes.repoint(this.routes.get(p.spec.prefix)!, p.nhg, p.spec.metric);
          this.nexthops.adoptRef(p.nhg); // one reference per route
          this.releaseGroup(old);
          replaced++;
        } else {
          this.routes.add(p.spec.prefix, p.nhg, p.spec.metric);
          this.nexthops.adoptRef(p.nhg);
          added.push(p.spec.prefix);
        }
      }
    } catch (e) {
      for (const prefix of added.reverse()) this.releaseGroup(this.routes.remove(prefix).nhg);
      throw e;
    } finally {
      for (const g of acquired) this.nexthops.release(g); // drop the loader's own reference
    }
    return { added: added.length, replaced };
  }

  view(r: { id: number; prefix: Prefix; nhg: number; metric: number; system: boolean }): RouteView {
    return {
      origin: r.system ? 'kernel' : 'user',
      prefix: formatPrefix(r.prefix),
      family: r.prefix.family,
      type: routeTypeOf(r.nhg),
      metric: r.metric,
      nexthops: this.nexthops.describe(r.nhg),
      id: r.id,
    };
  }

  listRoutes(): RouteView[] {
    return [...this.routes.all()].map((r) => this.view(r));
  }

  lookup(addresses: string[]): LookupResult[] {
    return lookupAddresses(this, addresses);
  }

  // ---- counters -------------------------------------------------------------------------

  interfaceStats(): InterfaceStats[] {
    const out: InterfaceStats[] = [];
    for (const page of this.pipeline.maps.ifStats.lookupBatchRaw(1024)) {
      for (let i = 0; i < page.count; i++) {
        const ifindex = page.keys.readUInt32LE(i * 4);
        const perCpu = this.pipeline.maps.ifStats.decodeSlot(page.values, i);
        const sum = (pick: (c: abi.PwIfCounters) => bigint[], n: number) =>
          Array.from({ length: n }, (_, k) => perCpu.reduce((a, c) => a + pick(c)[k]!, 0n));
        const packets = sum((c) => c.packets, abi.PwVerdict.MAX);
        if (packets.every((p) => p === 0n)) continue;
        const bytes = sum((c) => c.bytes, abi.PwVerdict.MAX);
        const reasons = sum((c) => c.reasons, abi.PwReason.MAX);
        const rec = (arr: bigint[], name: (i: number) => string) =>
          Object.fromEntries(arr.map((v, k) => [name(k), Number(v)] as const).filter(([, v]) => v > 0));
        out.push({ ifindex, name: ifName(ifindex), packets: rec(packets, verdictName), bytes: rec(bytes, verdictName), reasons: rec(reasons, reasonName) });
      }
    }
    return out;
  }

  routeCounter(id: number): { packets: number; bytes: number } {
    const c = this.pipeline.maps.routeStats.get(id);
    return { packets: Number(c?.packets ?? 0n), bytes: Number(c?.bytes ?? 0n) };
  }

  nexthopCounter(id: number): { packets: number; bytes: number } {
    const c = this.pipeline.maps.nexthopStats.get(id);
    return { packets: Number(c?.packets ?? 0n), bytes: Number(c?.bytes ?? 0n) };
  }
}
