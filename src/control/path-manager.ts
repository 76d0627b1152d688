/**
 * Paths chosen by measured quality (config `paths:`): for each steered nexthop group, the
 * members are probed (dataplane/path-probes.ts), their quality kept (routing/path-quality.ts),
 * and a policy (routing/path-policy.ts) decides the share of new flows each gets. A decision
 * rewrites the group's buckets in place — moving as few as it can, so flows whose path is
 * still wanted keep it — through the controller's queue, like every other change; it is not a
 * config version (there would be far too many), but a row in the history's path_decisions
 * table with the measurements that decided it.
 *
 * Runs on a 500 ms tick, and at once when the prober thread reports an urgent result: probe
 * results are taken from the prober thread, fed to the paths' quality, and each group decides.
 * Loads (bytes per nexthop) are read every second, TCP handshake timings (passive RTT) every five.
 */
import type { Logger } from 'pino';

import type { Dataplane } from '../dataplane/dataplane.js';
import { BUCKET_DROP, BUCKET_TO_KERNEL } from '../dataplane/nexthop-table.js';
import { handshakeRtts, nexthopBytes, PathProbes, type ProbePath } from '../dataplane/path-probes.js';
import type { ProberStats } from '../kernel/index.js';
import * as abi from '../generated/pathwise.js';
import { resilientBuckets } from '../routing/ecmp.js';
import { PathSelector, type MemberInput, type PolicyName } from '../routing/path-policy.js';
import { PathQuality, type QualitySettings, type QualityView } from '../routing/path-quality.js';
import { formatAddress, parseAddress, type Family } from '../util/ip.js';
import { parseBandwidth, parseDuration } from '../util/duration.js';
import { PwError } from '../errors.js';
import type { Config } from './config/schema.js';
import type { Notices } from './notices.js';
import type { History, PathDecisionRecord } from './history.js';

/** Results are drained this often, and at once when the prober says one is urgent (a loss,
 * a late reply, an RTT away from the path's smoothed RTT — each such sample, until it has
 * settled): quiet paths cost two wake-ups a second, changes are seen within the prober's pass. */
const TICK_MS = 500;
const LOAD_EVERY_MS = 1000;
const PASSIVE_EVERY_MS = 5000;
/** Paths waiting for a gateway's MAC are retried this often; every path is checked again (a MAC may change) less often. */
const RESOLVE_WAITING_EVERY_MS = 1000;
const RESOLVE_ALL_EVERY_MS = 10_000;

type PathConfig = Config['paths'][string];

interface Member {
  /** `dev via GW`: how paths are named in decisions and the API. */
  name: string;
  key: string;
  ifindex: number;
  family: Family;
  gw: Uint8Array;
  weight: number;
  capacityBps: number;
  quality: PathQuality;
  loadBps: number;
  lastBytes: number | null;
  autoTimeout: boolean;
  intervalMs: number;
}

interface Group {
  name: string;
  cfgText: string;
  cfg: PathConfig;
  members: Member[];
  selector: PathSelector;
  /** What the buckets hold now: shares per member, or null (the fallback). */
  shares: number[] | null | undefined;
  decisions: number;
  lastDecision: PathDecisionRecord | null;
}

export interface PathGroupView {
  name: string;
  policy: PolicyName;
  fallback: string;
  /** 'fallback' when every path is down. */
  active: 'paths' | 'fallback' | 'starting';
  decisions: number;
  lastDecision: PathDecisionRecord | null;
  paths: (QualityView & { name: string; weight: number; share: number; loadBps: number; capacityBps: number; waiting: string | null })[];
}

export interface PathManagerStats {
  groups: number;
  paths: number;
  decisions: number;
  probes: ProberStats;
}

export class PathManager {
  private readonly groups = new Map<string, Group>();
  /** Every member by its key (probe results name it). */
  private byKey = new Map<string, Member>();
  private readonly probes = new PathProbes(() => this.tick());
  private timer: NodeJS.Timeout | null = null;
  /** A tick at the moment a building lead would switch (not at the next regular tick). */
  private dueTimer: NodeJS.Timeout | null = null;
  private lastLoadAt = 0;
  private lastPassiveAt = 0;
  private lastResolveAt = 0;
  private lastFullResolveAt = 0;
  private passiveSince = 0n;
  private readingHandshakes = false;
  private decisions = 0;
  /** Data-plane groups held for named fallbacks (their buckets are copied when every path is down). */
  private fallbackGroups: number[] = [];

  constructor(
    private readonly dp: () => Dataplane,
    private readonly serialize: <T>(fn: () => Promise<T>) => Promise<T>,
    private readonly history: History,
    private readonly log: Logger,
    private readonly notices?: Notices,
  ) {}

  /** Resolves every steered path and fallback of a config before it is applied (errors name where). */
  check(cfg: Config): void {
    const nh = this.dp().nexthops;
    for (const [name, pc] of Object.entries(cfg.paths)) {
      const target = pc.probe.target ? parseAddress(pc.probe.target, `paths.${name}.probe.target`) : null;
      for (const [i, n] of (cfg.nexthopGroups[name] ?? []).entries()) {
        const r = nh.resolve({ via: n.gateway, dev: n.dev, weight: n.weight }, `nexthopGroups.${name}[${i}]`);
        if (target && r.gw && r.family !== target.family)
          throw new PwError('PW_ERR_INVALID', `the probe target and the gateway of nexthopGroups.${name}[${i}] are of different families`, {
            where: `paths.${name}.probe.target`,
          });
      }
    }
  }

  /**
   * Takes the config's `paths:` (after the config was applied: the steered groups exist in the
   * data plane). A group whose settings did not change keeps its measurements and decision; its
   * buckets are written again if a route change gave it a new data-plane group.
   */
  configure(cfg: Config): void {
    const now = performance.now();
    for (const name of [...this.groups.keys()]) if (!cfg.paths[name]) this.groups.delete(name);
    for (const [name, pc] of Object.entries(cfg.paths)) {
      const text = JSON.stringify([pc, cfg.nexthopGroups[name]]);
      const old = this.groups.get(name);
      if (old && old.cfgText === text) continue;
      const members = (cfg.nexthopGroups[name] ?? []).map((n, i) => this.member(name, pc, n, i, old, now));
      this.groups.set(name, {
        name,
        cfgText: text,
        cfg: pc,
        members,
        selector: new PathSelector(
          pc.policy,
          {
            relative: pc.hysteresis.relative,
            absoluteMs: parseDuration(pc.hysteresis.absolute),
            holdMs: parseDuration(pc.hysteresis.hold),
            noise: pc.hysteresis.noise,
          },
          pc.targetUtilisation,
        ),
        shares: undefined,
        decisions: old?.decisions ?? 0,
        lastDecision: old?.lastDecision ?? null,
      });
    }
    this.byKey = new Map([...this.groups.values()].flatMap((g) => g.members.map((m) => [m.key, m] as const)));
    this.holdFallbacks(cfg);
    this.probes.sync(this.probePaths(cfg));
    for (const g of this.groups.values()) this.decide(g, now, true);
    if (this.groups.size && !this.timer) {
      this.timer = setInterval(() => this.tick(), TICK_MS);
      this.timer.unref();
    }
    if (!this.groups.size && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  /** Holds a data-plane group for each nexthop group named as a fallback (released when no longer named). */
  private holdFallbacks(cfg: Config): void {
    const nh = this.dp().nexthops;
    const held: number[] = [];
    for (const [name, pc] of Object.entries(cfg.paths)) {
      const fb = pc.fallback;
      if (fb === 'kernel' || fb === 'blackhole' || !cfg.nexthopGroups[fb]) continue;
      const resolved = cfg.nexthopGroups[fb].map((n, i) =>
        nh.resolve({ via: n.gateway, dev: n.dev, weight: n.weight }, `paths.${name}.fallback (nexthopGroups.${fb}[${i}])`),
      );
      held.push(nh.acquire(resolved, `${fb}>fallback`));
    }
    for (const id of this.fallbackGroups) nh.release(id);
    this.fallbackGroups = held;
  }

  private member(
    group: string,
    pc: PathConfig,
    n: Config['nexthopGroups'][string][number],
    i: number,
    old: Group | undefined,
    now: number,
  ): Member {
    const where = `nexthopGroups.${group}[${i}]`;
    const r = this.dp().nexthops.resolve({ via: n.gateway, dev: n.dev, weight: n.weight }, where);
    const gw = r.gw ?? parseAddress(pc.probe.target!, `paths.${group}.probe.target`).addr;
    const name = this.dp().nexthops.label(r);
    const key = `${group}|${r.ifindex}|${formatAddress(r.family, gw)}`;
    const settings: QualitySettings = {
      lostToDown: pc.probe.lost,
      recoverProbes: pc.recover,
      degradedLoss: pc.degradedLoss,
      window: 50,
      damping: { halfLifeMs: parseDuration(pc.damping.halfLife), penalty: 1000, suppress: pc.damping.suppress, reuse: pc.damping.reuse },
    };
    const kept = old?.members.find((m) => m.key === key);
    kept?.quality.retune(settings);
    return {
      name,
      key,
      ifindex: r.ifindex,
      family: r.family,
      gw,
      weight: r.weight,
      capacityBps: n.capacity ? parseBandwidth(n.capacity) : 0,
      // Measurements survive a change of settings (they apply from now on).
      quality: kept?.quality ?? new PathQuality(settings, now),
      loadBps: kept?.loadBps ?? 0,
      lastBytes: kept?.lastBytes ?? null,
      autoTimeout: pc.probe.timeout === 'auto',
      intervalMs: parseDuration(pc.probe.interval),
    };
  }

  private probePaths(cfg: Config): ProbePath[] {
    const out: ProbePath[] = [];
    for (const g of this.groups.values()) {
      const pc = cfg.paths[g.name]!;
      const target = pc.probe.target ? parseAddress(pc.probe.target, `paths.${g.name}.probe.target`) : null;
      for (const m of g.members) {
        out.push({
          key: m.key,
          ifindex: m.ifindex,
          family: m.family,
          gw: m.gw,
          target: target?.addr ?? null,
          kind: pc.probe.type,
          port: pc.probe.port ?? 0,
          intervalMs: m.intervalMs,
          timeoutMs: m.autoTimeout ? m.intervalMs : Math.min(parseDuration(pc.probe.timeout), m.intervalMs * 10),
        });
      }
    }
    return out;
  }

  private tick(): void {
    const now = performance.now();
    try {
      const results = this.probes.each((key, rttMs, late) => {
        const m = this.byKey.get(key);
        if (!m) return;
        if (Number.isNaN(rttMs)) m.quality.loss(now);
        else if (late) m.quality.lateAnswer(rttMs, now);
        else m.quality.answer(rttMs, now);
        if (m.autoTimeout && !Number.isNaN(m.quality.srtt)) {
          const t = Math.min(m.intervalMs, Math.max(20, 3 * m.quality.srtt + 4 * m.quality.rttvar + 10));
          this.probes.setTimeout(m.key, Math.round(t));
        }
      });
      const loadsRead = now - this.lastLoadAt >= LOAD_EVERY_MS;
      if (loadsRead) this.readLoads(now);
      if (now - this.lastPassiveAt >= PASSIVE_EVERY_MS && !this.readingHandshakes) void this.readHandshakes(now);
      if (now - this.lastResolveAt >= RESOLVE_WAITING_EVERY_MS) {
        this.lastResolveAt = now;
        const all = now - this.lastFullResolveAt >= RESOLVE_ALL_EVERY_MS;
        if (all) this.lastFullResolveAt = now;
        this.probes.resolve(all);
      }
      if (results || loadsRead) for (const g of this.groups.values()) this.decide(g, now, false);
      this.scheduleDue();
    } catch (e) {
      this.log.error({ err: e }, 'path quality tick failed');
    }
  }

  private scheduleDue(): void {
    let due: number | null = null;
    for (const g of this.groups.values()) {
      const d = g.selector.dueInMs();
      if (d !== null && (due === null || d < due)) due = d;
    }
    if (this.dueTimer) clearTimeout(this.dueTimer);
    this.dueTimer = null;
    if (due === null || due >= TICK_MS) return;
    this.dueTimer = setTimeout(() => {
      this.dueTimer = null;
      // A decision at that moment, on the results already in (none may come meanwhile).
      const now = performance.now();
      for (const g of this.groups.values()) this.decide(g, now, false);
      this.scheduleDue();
    }, due + 1);
    this.dueTimer.unref();
  }

  private readLoads(now: number): void {
    const dt = (now - this.lastLoadAt) / 1000;
    this.lastLoadAt = now;
    for (const g of this.groups.values()) {
      for (const dg of this.dp().nexthops.tagged(g.name)) {
        const bytes = nexthopBytes(
          this.dp().pipeline.maps,
          dg.members.map((x) => x.nh),
        );
        for (const x of dg.members) {
          const m = g.members.find((mm) => mm.ifindex === x.nexthop.ifindex && sameAddr(mm.gw, x.nexthop.gw));
          if (!m) continue;
          const b = bytes.get(x.nh) ?? 0;
          if (m.lastBytes !== null && dt > 0 && b >= m.lastBytes) m.loadBps = ((b - m.lastBytes) * 8) / dt;
          m.lastBytes = b;
        }
      }
    }
  }

  /** Passive RTT samples from the flow table, read while the ticks go on (one read at a time). */
  private async readHandshakes(now: number): Promise<void> {
    this.lastPassiveAt = now;
    const ifindexes = new Set([...this.groups.values()].flatMap((g) => g.members.map((m) => m.ifindex)));
    if (!ifindexes.size) return;
    this.readingHandshakes = true;
    try {
      const { samples, newest } = await handshakeRtts(this.dp().pipeline.maps, this.passiveSince, ifindexes);
      if (!this.timer) return; // closed meanwhile
      this.passiveSince = newest;
      // The paths as they are now: the config may have changed during the read.
      const byIf = new Map<number, Member[]>();
      for (const g of this.groups.values()) for (const m of g.members) byIf.set(m.ifindex, [...(byIf.get(m.ifindex) ?? []), m]);
      for (const [ifindex, rtts] of samples) {
        const ms = byIf.get(ifindex);
        // Several paths out of one interface cannot be told apart by it: no passive sample.
        if (ms?.length !== 1) continue;
        for (const r of rtts) ms[0]!.quality.passive(r);
      }
    } catch (e) {
      this.log.warn({ err: e }, 'reading the timed TCP handshakes (passive RTT) failed; read again in 5 s');
    } finally {
      this.readingHandshakes = false;
    }
  }

  private inputs(g: Group): MemberInput[] {
    return g.members.map((m) => ({
      weight: m.weight,
      state: m.quality.state,
      rtt: m.quality.rtt,
      rttvar: m.quality.rttvar,
      jitter: m.quality.jitter,
      loss: m.quality.lossRatio,
      loadBps: m.loadBps,
      capacityBps: m.capacityBps,
    }));
  }

  /** Decides for one group; a new decision (or `rewrite`) is written to its buckets. */
  private decide(g: Group, now: number, rewrite: boolean): void {
    const d = g.selector.decide(this.inputs(g), now);
    if (!d && !rewrite) return;
    const shares = d ? d.shares : g.selector.shares;
    if (shares === undefined) return;
    const from = g.shares;
    g.shares = shares;
    void this.serialize(async () => this.write(g, shares)).catch((e: unknown) =>
      this.log.error({ err: e, group: g.name }, 'writing a path decision failed'),
    );
    if (!d) return;
    const rec: PathDecisionRecord = {
      at: new Date().toISOString(),
      group: g.name,
      from: this.describeShares(g, from),
      to: this.describeShares(g, shares),
      reason: d.reason,
      paths: Object.fromEntries(
        g.members.map((m) => [
          m.name,
          {
            state: m.quality.state,
            rttMs: Number.isNaN(m.quality.rtt) ? null : round(m.quality.rtt),
            lossRatio: round(m.quality.lossRatio),
            loadBps: Math.round(m.loadBps),
          },
        ]),
      ),
    };
    g.decisions++;
    this.decisions++;
    g.lastDecision = rec;
    try {
      this.history.recordDecision(rec);
    } catch (e) {
      this.log.error({ err: e }, 'recording a path decision failed');
    }
    this.log.info({ group: g.name, from: rec.from, to: rec.to, reason: rec.reason }, 'path decision');
    this.notices?.publish({
      kind: 'path',
      event: 'changed',
      time: rec.at,
      subject: g.name,
      actor: 'daemon',
      summary: `path group ${g.name}: ${JSON.stringify(rec.from)} -> ${JSON.stringify(rec.to)} (${rec.reason})`,
      details: { ...rec },
    });
  }

  private describeShares(g: Group, shares: number[] | null | undefined): Record<string, number> | string {
    if (shares === undefined) return 'none';
    if (shares === null) return `fallback: ${g.cfg.fallback}`;
    return Object.fromEntries(g.members.map((m, i) => [m.name, round(shares[i]!)]));
  }

  /** Writes the shares into every data-plane group the path group steers. */
  private write(g: Group, shares: number[] | null): void {
    const nh = this.dp().nexthops;
    for (const dg of nh.tagged(g.name)) {
      const current = nh.bucketsOf(dg.id);
      let buckets: number[];
      if (shares === null) buckets = this.fallbackBuckets(g);
      else {
        // Member order in the data-plane group (by nexthop) differs from the config's.
        const idx = g.members.map((m) => dg.members.findIndex((x) => x.nexthop.ifindex === m.ifindex && sameAddr(m.gw, x.nexthop.gw)));
        const weights = dg.members.map((_, j) => {
          const i = idx.indexOf(j);
          return i >= 0 ? shares[i]! : 0;
        });
        if (!weights.some((w) => w > 0)) continue;
        const memberOf = current.map((id) => dg.members.findIndex((x) => x.nh === id));
        buckets = resilientBuckets(memberOf, weights).map((j) => dg.members[j]!.nh);
      }
      if (buckets.length === current.length && buckets.every((b, i) => b === current[i])) continue;
      nh.writeBuckets(dg.id, buckets);
    }
  }

  private fallbackBuckets(g: Group): number[] {
    const n = abi.PwLimit.NHG_BUCKETS;
    const fb = g.cfg.fallback;
    if (fb === 'blackhole') return new Array<number>(n).fill(BUCKET_DROP);
    if (fb !== 'kernel') {
      const backup = this.dp().nexthops.tagged(`${fb}>fallback`)[0];
      if (backup) {
        const b = this.dp().nexthops.bucketsOf(backup.id);
        if (b.length === n) return b;
      }
    }
    return new Array<number>(n).fill(BUCKET_TO_KERNEL);
  }

  groupsView(): PathGroupView[] {
    const now = performance.now();
    return [...this.groups.values()].map((g) => ({
      name: g.name,
      policy: g.cfg.policy,
      fallback: g.cfg.fallback,
      active: g.shares === undefined ? 'starting' : g.shares === null ? 'fallback' : 'paths',
      decisions: g.decisions,
      lastDecision: g.lastDecision,
      paths: g.members.map((m, i) => ({
        name: m.name,
        weight: m.weight,
        share: g.shares ? round(g.shares[i]!) : 0,
        loadBps: Math.round(m.loadBps),
        capacityBps: m.capacityBps,
        waiting: this.probes.waiting(m.key),
        ...m.quality.view(now),
      })),
    }));
  }

  stats(): PathManagerStats {
    let paths = 0;
    for (const g of this.groups.values()) paths += g.members.length;
    return { groups: this.groups.size, paths, decisions: this.decisions, probes: this.probes.stats() };
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.dueTimer) clearTimeout(this.dueTimer);
    this.fallbackGroups = [];
    this.timer = null;
    this.probes.close();
  }
}

function sameAddr(a: Uint8Array, b: Uint8Array | null): boolean {
  if (!b) return false;
  const n = Math.min(a.length, b.length, 16);
  const len = a.length === 4 || b.length === 4 ? 4 : n;
  for (let i = 0; i < len; i++) if (a[i] !== b[i]) return false;
  return true;
}

const round = (x: number) => Math.round(x * 1000) / 1000;
