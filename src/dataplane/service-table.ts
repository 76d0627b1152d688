/**
 * Load-balanced services in the data plane (the balance stage's maps). Each service has two
 * Maglev tables in pw_lb_maglev: the one its entry points at, and the next one, written while
 * the first serves; the service entry then moves to it in one map update, so no packet reads
 * a half-built table. Backend ids stay with a backend while it is listed (connections tracked
 * to it keep it); a backend removed is marked invalid after the new table is in place, and its
 * connections choose again at their next packet. An id is never given out again in the change
 * that freed it; a later change may (the lowest free first): a connection of a removed backend
 * silent since then would find the new one, which answers it with a reset, as any would.
 *
 * What the maps cannot hold (names, weights, the regions of pw_lb_maglev) is kept in
 * services.json in the instance's run directory, written after the maps.
 */
import { existsSync, readFileSync } from 'node:fs';

import * as abi from '../generated/pathwise.js';
import { kernelRouteTo, manageNeighbor, releaseNeighbor, type MappedArray } from '../kernel/index.js';
import { PwError } from '../errors.js';
import { maglevTable } from '../lb/maglev.js';
import { backendKey, formatEndpoint, serviceKey, type BackendSpec, type Endpoint, type LbHash, type ServiceSpec } from '../lb/service.js';
import { parseAddress } from '../util/ip.js';
import { writeFileAtomic } from '../util/fs.js';
import type { PipelineMaps } from './pipeline.js';
import { switchFeature } from './feature-bytes.js';

const IPPROTO = { tcp: 6, udp: 17 } as const;
const SLOTS_PER_ELEM = abi.PwLimit.LB_SLOTS_PER_ELEM;
const HASH_FLAG: Record<LbHash, number> = {
  'five-tuple': 0,
  'no-source-port': abi.PwLbFlag.NO_SPORT,
  'destination-port': abi.PwLbFlag.DPORT_ONLY,
};

export type BackendHealth = 'up' | 'down';

interface StoredBackend {
  addr: string;
  port: number;
  weight: number;
  id: number;
  health: BackendHealth;
  /** Slow start: the fraction of its weight a returning backend has for now (absent: all). */
  ramp?: number;
}

/** Weights are scaled by this in the table, so a ramping backend's fraction has steps to take
 * (Maglev divides the weights by their common divisor: without a ramp nothing changes). */
const RAMP_SCALE = 10;

interface StoredService {
  name: string;
  vip: string;
  port: number;
  proto: 'tcp' | 'udp';
  mode: ServiceSpec['mode'];
  hash: LbHash;
  tableSize: number;
  /** NAT mode's source address, if any. */
  snat?: string;
  /** 'reset': connections tracked to a backend that is down choose again (absent: kept). */
  onDown?: 'reset';
  id: number;
  /** First slots of its two tables in pw_lb_maglev, and which one is in use. */
  regions: [number, number];
  active: 0 | 1;
  backends: StoredBackend[];
}

export interface LbCounters {
  packets: number;
  bytes: number;
  connections: number;
}

export interface BackendRow extends LbCounters {
  backend: string;
  weight: number;
  health: BackendHealth;
  /** Connections tracked to it that saw a packet in the last minute (estimated: see ServiceRow.activeSample). */
  active: number;
  /** Share of the Maglev table's slots. */
  share: number;
  /** Slow start: the fraction of its weight a backend that came back has for now. */
  ramp?: number;
  /** RSTs it sent (NAT mode: its replies pass here). */
  resets: number;
  /** The daemon's last health check's round trip (its checks only). */
  checkRttMs?: number;
}

export interface ServiceRow extends LbCounters {
  name: string;
  address: string;
  mode: ServiceSpec['mode'];
  hash: LbHash;
  tableSize: number;
  active: number;
  /**
   * When the connection table held more than ACTIVE_SAMPLE connections: the share of it the
   * active counts were taken from (they are scaled up from it, so estimates).
   */
  activeSample?: number;
  backends: BackendRow[];
}

/** Tracked connections read at most per listing (about 20 ms of the kernel's copying). */
export const ACTIVE_SAMPLE = 65_536;

const ZERO: abi.PwLbCounter = { packets: 0n, bytes: 0n, connections: 0n, syns: 0n, synacks: 0n, rsts: 0n };

const endpointOf = (addr: string, port: number): Endpoint => {
  const a = parseAddress(addr);
  return { family: a.family, addr: a.addr, port };
};

const addrText = (e: Endpoint) => formatEndpoint({ ...e, port: 0 });

/** A stored backend's identity (ADDR:PORT, as backendKey gives it for a spec). */
const keyOf = (b: StoredBackend) => backendKey(endpointOf(b.addr, b.port));

export class ServiceTable {
  private services = new Map<string, StoredService>();
  /** Slots per backend id of the table each service's region holds (see slotCounts). */
  private readonly counted = new Map<string, { region: number; counts: Map<number, number> }>();
  private readonly slots: Uint32Array;
  private readonly mapped: MappedArray<abi.PwLbSlots>;

  constructor(
    private readonly maps: PipelineMaps,
    private readonly stateFile: string,
  ) {
    this.mapped = maps.lbMaglev.mmap();
    this.slots = new Uint32Array(this.mapped.view.buffer, 0, this.mapped.length * SLOTS_PER_ELEM);
    if (existsSync(stateFile)) {
      let stored: { services: StoredService[] };
      try {
        stored = JSON.parse(readFileSync(stateFile, 'utf8')) as { services: StoredService[] };
      } catch (e) {
        this.mapped.close();
        throw new PwError('PW_ERR_INVALID', `the services' state cannot be read: ${(e as Error).message}`, {
          where: stateFile,
          hint: "it is written atomically; if it was edited by hand, 'pathwise down' clears the instance",
        });
      }
      for (const s of stored.services) this.services.set(s.name, s);
    }
  }

  close(): void {
    this.mapped.close();
  }

  /** The services as specs (what a config or `service add` gave). */
  specs(): ServiceSpec[] {
    return [...this.services.values()].map(specOf);
  }

  spec(name: string): ServiceSpec | undefined {
    const s = this.services.get(name);
    return s && specOf(s);
  }

  /**
   * Adds a service or changes one (by name). Checks everything it can before writing: ids,
   * table room, a service address another service has.
   */
  set(spec: ServiceSpec): void {
    const key = serviceKey(spec);
    for (const other of this.services.values())
      if (other.name !== spec.name && serviceKey(specOf(other)) === key)
        throw new PwError('PW_ERR_EXISTS', `service '${other.name}' already balances ${key}`, { where: spec.name });
    const old = this.services.get(spec.name);
    if (old && serviceKey(specOf(old)) !== key) {
      // A new address is a new service: the old one goes first (its connections with it).
      this.remove(spec.name);
      return this.set(spec);
    }
    if (old) return this.update(old, spec);
    const id = this.freeServiceId();
    const regions = this.allocateRegions(spec.tableSize);
    const backendIds = this.freeBackendIds(spec.backends.length);
    const s: StoredService = {
      name: spec.name,
      vip: addrText(spec.vip),
      port: spec.vip.port,
      proto: spec.proto,
      mode: spec.mode,
      hash: spec.hash,
      tableSize: spec.tableSize,
      ...(spec.snat ? { snat: addrText({ ...spec.snat, port: 0 }) } : {}),
      ...(spec.onDown === 'reset' ? { onDown: 'reset' as const } : {}),
      id,
      regions,
      active: 0,
      backends: spec.backends.map((b, i) => ({ addr: addrText(b), port: b.port, weight: b.weight, id: backendIds[i]!, health: 'up' })),
    };
    // Ids are reused: a new service and its backends count from zero.
    this.maps.lbServiceStats.set(id, ZERO);
    for (const b of s.backends) {
      this.maps.lbBackendStats.set(b.id, ZERO);
      this.writeBackend(s, b);
    }
    this.writeTable(s, 0);
    this.maps.lbServices.set(this.vipKey(s, s.port), this.serviceValue(s));
    this.bumpVip(s, +1);
    this.services.set(s.name, s);
    this.writeCtl();
    this.save();
  }

  /** Same address: backends, weights, mode or hash change; the table is rebuilt and swapped. */
  private update(s: StoredService, spec: ServiceSpec): void {
    const before = new Map(s.backends.map((b) => [keyOf(b), b]));
    const added = spec.backends.filter((b) => !before.has(backendKey(b)));
    const ids = this.freeBackendIds(added.length);
    let next = 0;
    const wanted = new Set(spec.backends.map((b) => backendKey(b)));
    const kept: StoredBackend[] = spec.backends.map((b) => {
      const was = before.get(backendKey(b));
      if (was) return { ...was, weight: b.weight };
      const id = ids[next++]!;
      this.maps.lbBackendStats.set(id, ZERO);
      return { addr: addrText(b), port: b.port, weight: b.weight, id, health: 'up' };
    });
    const gone = s.backends.filter((b) => !wanted.has(keyOf(b)));
    const sizeChanged = spec.tableSize !== s.tableSize;
    const regions = sizeChanged ? this.allocateRegions(spec.tableSize, s) : s.regions;
    const updated: StoredService = { ...s, mode: spec.mode, hash: spec.hash, tableSize: spec.tableSize, backends: kept, regions };
    if (spec.snat) updated.snat = addrText({ ...spec.snat, port: 0 });
    else delete updated.snat;
    if (spec.onDown === 'reset') updated.onDown = 'reset';
    else delete updated.onDown;
    for (const b of kept) this.writeBackend(updated, b);
    const into: 0 | 1 = sizeChanged ? 0 : s.active === 0 ? 1 : 0;
    // With a new size both regions are new, and neither is in use yet.
    this.writeTable(updated, into);
    updated.active = into;
    this.maps.lbServices.set(this.vipKey(updated, updated.port), this.serviceValue(updated));
    for (const b of gone) this.invalidateBackend(b);
    this.services.set(s.name, updated);
    this.writeCtl();
    this.save();
  }

  /** Removes a service: its entry first (no new packet finds it), then its backends. */
  remove(name: string): ServiceSpec {
    const s = this.services.get(name);
    if (!s) throw new PwError('PW_ERR_NOT_FOUND', `no service named '${name}'`, { where: name });
    this.maps.lbServices.delete(this.vipKey(s, s.port));
    this.bumpVip(s, -1);
    for (const b of s.backends) this.invalidateBackend(b);
    this.services.delete(name);
    this.counted.delete(name);
    this.writeCtl();
    this.save();
    return specOf(s);
  }

  /** A backend's health, from the daemon's checks: a backend down leaves the table at once. */
  setHealth(name: string, backend: string, health: BackendHealth): boolean {
    const s = this.services.get(name);
    const b = s?.backends.find((x) => keyOf(x) === backend);
    if (!s || !b || b.health === health) return false;
    b.health = health;
    this.writeBackend(s, b); // its DOWN flag: the service's policy decides what it means
    this.swapTable(s);
    this.save();
    return true;
  }

  /** Slow start: a returning backend gets `fraction` of its weight (null: all of it again). */
  setRamp(name: string, backend: string, fraction: number | null): boolean {
    const s = this.services.get(name);
    const b = s?.backends.find((x) => keyOf(x) === backend);
    if (!s || !b || (b.ramp ?? null) === fraction) return false;
    if (fraction === null) delete b.ramp;
    else b.ramp = Math.min(1, Math.max(0, fraction));
    this.swapTable(s);
    this.save();
    return true;
  }

  health(name: string): Map<string, BackendHealth> {
    const s = this.services.get(name);
    return new Map((s?.backends ?? []).map((b) => [keyOf(b), b.health]));
  }

  /** Every service with its counters; `activeWithinNs`: how recent a tracked connection's last packet must be to count. */
  list(activeWithinNs = 60e9): ServiceRow[] {
    const { perBackend: active, share } = this.activeConnections(activeWithinNs);
    const backendTotals = this.backendTotals();
    const serviceTotals = this.maps.lbServiceStats.sumAll(abi.PwLbCounter.offsets);
    return [...this.services.values()].map((s) => {
      const held = this.slotCounts(s);
      const backends = s.backends.map((b) => {
        const t = backendTotals.get(b.id) ?? NO_TOTALS;
        return {
          backend: keyOf(b),
          weight: b.weight,
          health: b.health,
          active: active.get(b.id) ?? 0,
          share: (held.get(b.id) ?? 0) / s.tableSize,
          ...(b.ramp !== undefined ? { ramp: b.ramp } : {}),
          packets: t.packets,
          bytes: t.bytes,
          connections: t.connections,
          resets: t.rsts,
        };
      });
      const t = serviceTotals.get(s.id) ?? NO_TOTALS;
      return {
        name: s.name,
        address: serviceKey(specOf(s)),
        mode: s.mode,
        hash: s.hash,
        tableSize: s.tableSize,
        active: backends.reduce((a, b) => a + b.active, 0),
        ...(share < 1 ? { activeSample: share } : {}),
        packets: t.packets,
        bytes: t.bytes,
        connections: t.connections,
        backends,
      };
    });
  }

  /**
   * Per service, per backend (by ADDR:PORT): SYNs sent to it, SYN/ACKs and RSTs back (NAT mode
   * sees replies), since it was added. All at once: passive health asks four times a second.
   */
  handshakes(): Map<string, Map<string, { syns: number; synacks: number; rsts: number }>> {
    const totals = this.backendTotals();
    const out = new Map<string, Map<string, { syns: number; synacks: number; rsts: number }>>();
    for (const s of this.services.values()) {
      const per = new Map<string, { syns: number; synacks: number; rsts: number }>();
      for (const b of s.backends) {
        const { syns, synacks, rsts } = totals.get(b.id) ?? NO_TOTALS;
        per.set(keyOf(b), { syns, synacks, rsts });
      }
      out.set(s.name, per);
    }
    return out;
  }

  /** Every backend id's counters summed over the CPUs: one batch read (a lookup each was a syscall per backend). */
  private backendTotals(): Map<number, Totals> {
    return this.maps.lbBackendStats.sumAll(abi.PwLbCounter.offsets);
  }

  /**
   * Slots per backend id in the service's table in use: counted when the table is written
   * (recounting 255 tables of 65537 slots took ~45 ms of each scrape), or from the map when
   * this process has not written it (adopted after a restart).
   */
  private slotCounts(s: StoredService): Map<number, number> {
    const region = s.regions[s.active];
    const known = this.counted.get(s.name);
    if (known?.region === region) return known.counts;
    return this.countSlots(s.name, region, this.slots.subarray(region, region + s.tableSize));
  }

  private countSlots(name: string, region: number, table: Uint32Array): Map<number, number> {
    const held = new Uint32Array(abi.PwLimit.LB_MAX_BACKENDS);
    for (let i = 0; i < table.length; i++) held[table[i]!]!++;
    const counts = new Map<number, number>();
    held.forEach((n, id) => n && counts.set(id, n));
    this.counted.set(name, { region, counts });
    return counts;
  }

  // ---- writing the maps ---------------------------------------------------------------------

  private swapTable(s: StoredService): void {
    const into: 0 | 1 = s.active === 0 ? 1 : 0;
    this.writeTable(s, into);
    s.active = into;
    this.maps.lbServices.set(this.vipKey(s, s.port), this.serviceValue(s));
  }

  /** Writes the Maglev table of the service's backends that are up into region `which`. */
  private writeTable(s: StoredService, which: 0 | 1): void {
    const table = maglevTable(
      s.backends.map((b) => ({
        name: keyOf(b),
        id: b.id,
        weight: b.health !== 'up' || !b.weight ? 0 : Math.max(1, Math.round(b.weight * RAMP_SCALE * (b.ramp ?? 1))),
      })),
      s.tableSize,
    );
    this.slots.set(table, s.regions[which]);
    this.countSlots(s.name, s.regions[which], table);
  }

  private writeBackend(s: StoredService, b: StoredBackend): void {
    const e = endpointOf(b.addr, b.port);
    const flags = abi.PwLbBackendFlag.VALID | (b.health === 'down' ? abi.PwLbBackendFlag.DOWN : 0);
    this.maps.lbBackends.set(b.id, { family: e.family, flags, port: b.port, service: s.id, addr: e.addr });
    this.neighbor(e, manageNeighbor);
  }

  private invalidateBackend(b: StoredBackend): void {
    this.maps.lbBackends.set(b.id, { family: 0, flags: 0, port: 0, service: 0, addr: new Uint8Array(16) });
    const shared = [...this.services.values()].some((s) => s.backends.some((x) => x !== b && x.addr === b.addr));
    if (!shared) this.neighbor(endpointOf(b.addr, b.port), releaseNeighbor);
  }

  /**
   * A backend on a segment of this host is handed to the kernel as a managed neighbour (as a
   * gateway is): the kernel resolves it and keeps it resolved, so the first packet of a
   * connection finds its MAC. A backend behind a gateway needs nothing here. Best effort: a
   * backend not reachable now is resolved by the kernel when it is.
   */
  private neighbor(e: Endpoint, fn: (family: Endpoint['family'], ifindex: number, addr: Uint8Array) => void): void {
    try {
      const r = kernelRouteTo(e.family, e.addr);
      if (r && !r.gateway) fn(e.family, r.ifindex, e.addr);
    } catch {
      // no route to it yet: nothing to resolve
    }
  }

  private serviceValue(s: StoredService): abi.PwLbService {
    const live = s.backends.some((b) => b.health === 'up' && b.weight > 0);
    return {
      id: s.id,
      table: s.regions[s.active],
      table_size: live ? s.tableSize : 0,
      flags:
        (s.mode === 'dsr' ? abi.PwLbFlag.DSR : 0) |
        (s.snat ? abi.PwLbFlag.SNAT : 0) |
        (s.onDown === 'reset' ? abi.PwLbFlag.RESET_DOWN : 0) |
        HASH_FLAG[s.hash],
      snat: s.snat ? endpointOf(s.snat, 0).addr : new Uint8Array(16),
    };
  }

  private vipKey(s: StoredService, port: number): abi.PwLbVipKey {
    const e = endpointOf(s.vip, 0);
    return { family: e.family, proto: IPPROTO[s.proto], port, addr: e.addr };
  }

  /** pw_lb_vips counts the services per address (fragments for any of them are refused). */
  private bumpVip(s: StoredService, by: number): void {
    const key = this.vipKey(s, 0);
    const n = (this.maps.lbVips.get(key) ?? 0) + by;
    if (n > 0) this.maps.lbVips.set(key, n);
    else this.maps.lbVips.delete(key);
  }

  private writeCtl(): void {
    const all = [...this.services.values()];
    switchFeature(this.maps, abi.PwFeature.BALANCE, all.length > 0, () =>
      this.maps.lbCtl.set(0, { services: all.length, nat_services: all.filter((s) => s.mode === 'nat').length }),
    );
  }

  private save(): void {
    writeFileAtomic(this.stateFile, JSON.stringify({ services: [...this.services.values()] }, null, 1));
  }

  // ---- ids and table room -------------------------------------------------------------------

  private freeServiceId(): number {
    const used = new Set([...this.services.values()].map((s) => s.id));
    for (let id = 1; id < abi.PwLimit.LB_MAX_SERVICES; id++) if (!used.has(id)) return id;
    throw new PwError('PW_ERR_FULL', `no room for another service (${abi.PwLimit.LB_MAX_SERVICES - 1} at most)`);
  }

  /** `n` backend ids not in use, the least recently freed last (a packet that just read an id finds what it expected). */
  private freeBackendIds(n: number): number[] {
    const used = new Set([...this.services.values()].flatMap((s) => s.backends.map((b) => b.id)));
    const out: number[] = [];
    for (let id = 1; id < abi.PwLimit.LB_MAX_BACKENDS && out.length < n; id++) if (!used.has(id)) out.push(id);
    if (out.length < n) throw new PwError('PW_ERR_FULL', `no room for ${n} more backends (${abi.PwLimit.LB_MAX_BACKENDS - 1} at most)`);
    return out;
  }

  /** Two regions of `size` slots (rounded up to whole elements), first fit, not overlapping any other service's. */
  private allocateRegions(size: number, replacing?: StoredService): [number, number] {
    const span = Math.ceil(size / SLOTS_PER_ELEM) * SLOTS_PER_ELEM;
    const taken = [...this.services.values()]
      .filter((s) => s !== replacing)
      .flatMap((s) => s.regions.map((r) => [r, r + Math.ceil(s.tableSize / SLOTS_PER_ELEM) * SLOTS_PER_ELEM] as const))
      // The service being resized keeps serving from its current table while the new ones are written.
      .concat(replacing ? [[replacing.regions[replacing.active], replacing.regions[replacing.active] + replacing.tableSize] as const] : [])
      .sort((a, b) => a[0] - b[0]);
    const out: number[] = [];
    let at = 0;
    for (const [from, to] of [...taken, [this.slots.length, this.slots.length] as const]) {
      while (out.length < 2 && at + span <= from) {
        out.push(at);
        at += span;
      }
      at = Math.max(at, Math.ceil(to / SLOTS_PER_ELEM) * SLOTS_PER_ELEM);
    }
    if (out.length < 2)
      throw new PwError(
        'PW_ERR_FULL',
        `no room for two tables of ${size} slots (pw_lb_maglev holds ${this.slots.length} slots for all services)`,
        {
          hint: "give smaller tables (tableSize), fewer services, or a larger pipeline.serviceSlots (fixed while the pipeline runs: 'pathwise down' first)",
        },
      );
    return [out[0]!, out[1]!];
  }

  /**
   * Tracked connections per backend whose last packet is recent, and the share of the table
   * they were counted in. The table holds up to pipeline.connections (a million by default),
   * and every scrape and listing asks: reading a full one took the event loop ~0.7 s. Up to
   * ACTIVE_SAMPLE connections are read (the whole table when it holds no more), and the counts
   * scaled by the share of the table's buckets they came from.
   */
  private activeConnections(withinNs: number): { perBackend: Map<number, number>; share: number } {
    // CLOCK_MONOTONIC, as the pipeline's coarse clock (clock.bpf.h); seen_ns is refreshed once a second.
    const since = process.hrtime.bigint() - BigInt(Math.round(withinNs + 1e9));
    const { size, offsets } = abi.PwLbCt;
    const counts = new Map<number, number>();
    // The two fields read where they sit, not every key and value decoded into objects.
    const share = this.maps.lbCt.sampleBatchRaw(ACTIVE_SAMPLE, ({ values, count }) => {
      for (let at = 0; at < count * size; at += size) {
        if (values.readBigUInt64LE(at + offsets.seen_ns) < since) continue;
        const backend = values.readUInt32LE(at + offsets.backend);
        counts.set(backend, (counts.get(backend) ?? 0) + 1);
      }
    });
    const perBackend = new Map([...counts].map(([b, n]) => [b, Math.round(n / share)]));
    return { perBackend, share };
  }
}

type Totals = Record<keyof abi.PwLbCounter, number>;
const NO_TOTALS: Totals = { packets: 0, bytes: 0, connections: 0, syns: 0, synacks: 0, rsts: 0 };

function specOf(s: StoredService): ServiceSpec {
  return {
    name: s.name,
    vip: endpointOf(s.vip, s.port),
    proto: s.proto,
    mode: s.mode,
    hash: s.hash,
    tableSize: s.tableSize,
    backends: s.backends.map((b): BackendSpec => ({ ...endpointOf(b.addr, b.port), weight: b.weight })),
    ...(s.snat ? { snat: endpointOf(s.snat, 0) } : {}),
    ...(s.onDown ? { onDown: s.onDown } : {}),
  };
}
