/**
 * The Controller owns an instance's data plane while the daemon runs. Every change — the
 * config file at start or reload, an API edit, a rollback — goes through propose(): compile
 * (one reconciler per feature, plan.ts), diff against what runs, apply with restore on failure
 * (apply.ts), record a version (history.ts). Changes are serialized: one at a time, and an
 * edit reads the config it edits inside that queue, so concurrent edits never lose one
 * another. The host's own routes follow its addresses through the same queue, unrecorded.
 */
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';

import { currentHostRoutes, Dataplane } from '../dataplane/dataplane.js';
import { Pipeline, objectHash, runDirOf, type PipelineSettings } from '../dataplane/pipeline.js';
import type { RouteSpec } from '../routing/route.js';
import { applyChanges, checkChanges } from './apply.js';
import { readBlockedSince, writeBlockedSince } from './blocked-since.js';
import { confinedFiles, type FileSource } from './config/files.js';
import { checkConfig, parseConfig } from './config/load.js';
import type { Config } from './config/schema.js';
import { History, MAX_RECORDED_CHANGES, recordedChanges, type VersionRecord } from './history.js';
import { compileDesired, planChanges, readRunning, summarize, type Change } from './plan.js';
import type { ChangeSummary, CompileContext } from './reconcile.js';
import { settingsOf } from './reconcilers/pipeline.js';
import { routingReconciler } from './reconcilers/routing.js';
import { PathManager } from './path-manager.js';
import { ServiceHealth } from './service-health.js';
import { importSelectors, RouteImport } from './route-import.js';
import { AuditLog } from './audit.js';
import { Decisions } from './decisions.js';
import { GatewayIntake } from './gateway-intake.js';
import { Notices } from './notices.js';
import { parseDuration } from '../util/duration.js';
import { parsePrefixShared } from '../util/ip.js';

export interface Actor {
  actor: string;
  source: string;
}

export interface ProposeResult {
  /** The version recorded (absent for a dry run or when nothing changed). */
  version?: number;
  /** What changes: all of them, or the first MAX_RECORDED_CHANGES when changesTotal is set. */
  changes: ChangeSummary[];
  /** How many changes there are, when there are more than `changes` lists. */
  changesTotal?: number;
  applied: boolean;
  dryRun: boolean;
  /** What the version changes that takes effect only at the daemon's next start. */
  notes?: string[];
}

/**
 * Notes on settings the daemon reads only when it starts: the TCP listeners (and their TLS
 * files). A version whose listeners differ from those the daemon started with is recorded and
 * in force from the next start; each proposal says so until then, rather than look applied.
 */
function startOnlyNotes(atStart: Config, after: Config): string[] {
  if (JSON.stringify(atStart.api.listen) === JSON.stringify(after.api.listen)) return [];
  return [
    'api.listen: the daemon opens its TCP listeners when it starts; restart it for this change (forwarding goes on meanwhile: the data plane stays pinned)',
  ];
}

export interface ControllerStats {
  reconciles: number;
  reconcileFailures: number;
  lastReconcileSeconds: number;
  upgrades: number;
}

/**
 * A config to edit: its lists and maps are fresh copies, their items shared with the config in
 * force. An edit replaces or removes items; it never changes one in place (the compiled form of
 * an unchanged item is kept by its object).
 */
export type ConfigDraft = Config;

/**
 * A copy of the config in force for an edit to change: every setting's list or map copied, so
 * that an edit refused, or whose apply fails, leaves the config in force as it was. Edits
 * replace an item of a list or map whole, never change one in place, so one level of copy is
 * enough (a full table's routes are not cloned item by item for each edit). Every setting, not
 * a list of them: one left out (services was) let a refused edit stay in the config in force.
 */
function draftOf(cfg: Config): ConfigDraft {
  const copy = (v: unknown) => (Array.isArray(v) ? [...v] : v && typeof v === 'object' ? { ...v } : v);
  return Object.fromEntries(Object.entries(cfg).map(([k, v]) => [k, copy(v)])) as ConfigDraft;
}

export class Controller {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly upgradeListeners = new Set<() => void>();
  private current: Config;
  /** The config the daemon started with: what it read once, at its start (startOnlyNotes). */
  private startConfig: Config | null = null;
  private currentVersion = 0;
  readonly stats: ControllerStats = { reconciles: 0, reconcileFailures: 0, lastReconcileSeconds: 0, upgrades: 0 };
  private readonly blockedSinceFile: string;
  private readonly blockedSince: Map<string, number>;
  /** Config routes compiled, by object: unchanged routes are not compiled again. */
  private readonly routeCache = new WeakMap<object, RouteSpec>();
  /** Routes imported from the kernel's tables (config `import:`), followed outside versions. */
  readonly imports: RouteImport;
  /** Nexthop groups steered by measured path quality (config `paths:`), decided outside versions. */
  readonly paths: PathManager;
  /** Health checks of the services' backends (config `services:`), outside versions. */
  readonly health: ServiceHealth;
  /** What the control plane decided or saw, as one stream (audited; webhooks, events). */
  readonly notices: Notices;
  /** Blocks and seals from gateways, operators and detectors: operational state, audited. */
  readonly decisions: Decisions;
  /** Logs gateways post, turned into seals under the config's gateway: policy. */
  readonly gateway: GatewayIntake;

  private constructor(
    readonly instance: string,
    private dataplane: Dataplane,
    readonly history: History,
    /** Every notice and version, append-only. */
    readonly audit: AuditLog,
    private readonly log: Logger,
    /** Relative file names in configs resolve against this directory. */
    private baseDir: string,
    /** The data plane was pinned already: this run adopted it. */
    private readonly adopted: boolean,
    decisionsFile: string,
  ) {
    this.notices = new Notices((err, n) => log.error({ err, notice: n.kind }, 'a notice listener failed'));
    this.notices.subscribe((n) => {
      this.audit.append({
        kind: n.kind,
        event: n.event,
        at: n.time,
        subject: n.subject,
        actor: n.actor,
        summary: n.summary,
        details: n.details,
      });
    });
    this.decisions = new Decisions(
      decisionsFile,
      () => this.dataplane,
      this.notices,
      () => {
        const d = this.current.decisions;
        return {
          defaultTtlMs: parseDuration(d.defaultTtl),
          maxTtlMs: parseDuration(d.maxTtl),
          maxActive: d.maxActive,
          exempt: d.exempt.map((t) => parsePrefixShared(t)),
        };
      },
      log,
      (fn) => this.audit.batch(fn, (err) => log.error({ err }, 'the audit records of a batch of decisions could not be committed')),
    );
    this.gateway = new GatewayIntake(this.decisions, () => this.current);
    this.imports = new RouteImport(
      () => this.dataplane,
      (fn) => this.serialize(fn),
      log,
    );
    this.paths = new PathManager(
      () => this.dataplane,
      (fn) => this.serialize(fn),
      history,
      log,
      this.notices,
    );
    this.health = new ServiceHealth(() => this.dataplane, log);
    this.health.onChange((e) =>
      this.notices.publish({
        kind: 'backend',
        event: e.state,
        time: e.time,
        subject: `${e.service}/${e.backend}`,
        actor: 'daemon',
        summary: `backend ${e.backend} of service ${e.service} is ${e.state}: ${e.detail}`,
        details: { ...e },
      }),
    );
    this.current = history.latest()?.config ?? parseConfig('{}', 'defaults');
    this.currentVersion = history.latest()?.version ?? 0;
    this.blockedSinceFile = join(runDirOf(instance), 'blocked-since.json');
    this.blockedSince = readBlockedSince(this.blockedSinceFile);
  }

  /**
   * Opens the instance's data plane — adopting the pinned one when there is one, which keeps
   * forwarding untouched — and upgrades the program if the object on disk changed. The caller
   * then starts following the kernel and applies its config (applyStart): the gateways that
   * config brings are resolved by the kernel as it is applied, and followed from the start.
   */
  static async open(opts: { config: Config; configFile?: string; stateDir: string; log: Logger }): Promise<Controller> {
    const { config, log } = opts;
    const instance = config.instance;
    const adopted = Pipeline.isPinned(instance);
    if (adopted) {
      // Upgraded before it is opened: a pipeline pinned by an older release may have maps
      // whose layout the generated codecs no longer describe.
      const { settings, loadedHash } = Pipeline.pinnedMeta(instance);
      const hash = objectHash();
      if (loadedHash !== hash) {
        const r = await Dataplane.upgrade(instance, settings);
        log.info({ from: loadedHash, to: hash, ...r }, 'the BPF object changed: program upgraded in place');
      }
    }
    const dp = await Dataplane.open(instance, settingsOf(config));
    if (adopted) log.info({ instance, progId: dp.pipeline.xdp.info().id }, 'adopted the pinned data plane');
    else log.info({ instance }, 'loaded and pinned a new data plane');
    const history = new History(join(opts.stateDir, instance, 'history.db'));
    const audit = new AuditLog(join(opts.stateDir, instance, 'audit.db'), config.audit.retentionDays);
    const c = new Controller(
      instance,
      dp,
      history,
      audit,
      log,
      opts.configFile ? dirname(opts.configFile) : process.cwd(),
      adopted,
      join(opts.stateDir, instance, 'decisions.db'),
    );
    dp.syncHostRoutes();
    // Gateways adopted with the pins are handed to the kernel again (it may have restarted
    // too), then the neighbour copy is brought up to date.
    dp.nexthops.manageGateways();
    dp.syncNeighbors();
    return c;
  }

  /** open(), then the config applied as the first change of this run. */
  static async start(opts: { config: Config; configFile?: string; stateDir: string; log: Logger }): Promise<Controller> {
    const c = await Controller.open(opts);
    await c.applyStart(opts.config);
    return c;
  }

  /** Applies the config the daemon starts with, as the first version of this run. */
  applyStart(config: Config): Promise<ProposeResult> {
    // The daemon opens what this config says (its listeners): nothing waits for the next start.
    this.startConfig = config;
    return this.propose(
      config,
      { actor: 'daemon', source: this.adopted ? 'start (adopted pinned state)' : 'start' },
      { injectFaults: false },
    );
  }

  dp(): Dataplane {
    return this.dataplane;
  }

  config(): Config {
    return this.current;
  }

  version(): number {
    return this.currentVersion;
  }

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Validates, diffs and (unless dryRun) applies a whole config; records a version. */
  propose(config: Config, who: Actor, opts: { dryRun?: boolean; files?: FileSource; injectFaults?: boolean } = {}): Promise<ProposeResult> {
    return this.serialize(() => this.proposeNow(config, who, opts));
  }

  /**
   * An edit of the running config (what the API's imperative calls do): `edit` changes a draft
   * of the config in force, read inside the queue, so that concurrent edits all land. The
   * items an edit adds were validated on their way in; the draft is checked for
   * cross-references, then proposed.
   */
  edit(edit: (cfg: ConfigDraft) => void, who: Actor): Promise<ProposeResult> {
    return this.serialize(async () => {
      const draft = draftOf(this.current);
      edit(draft);
      return this.proposeNow(checkConfig(draft, 'the edited config'), who, {});
    });
  }

  rollback(version: number, who: Actor): Promise<ProposeResult> {
    const rec: VersionRecord = this.history.get(version);
    return this.propose(rec.config, { ...who, source: `rollback to ${version}` });
  }

  /** What compiling a config reads besides the config: files, the host's routes, the caches. */
  private compileContext(now: number, files: FileSource = confinedFiles(this.baseDir)): CompileContext {
    return { files, now, blockedSince: this.blockedSince, hostRoutes: currentHostRoutes(), routeCache: this.routeCache };
  }

  private async proposeNow(
    config: Config,
    who: Actor,
    opts: { dryRun?: boolean; files?: FileSource; injectFaults?: boolean },
  ): Promise<ProposeResult> {
    const t0 = performance.now();
    const now = Date.now();
    const selectors = importSelectors(config);
    const desired = compileDesired(config, this.compileContext(now, opts.files));
    const dp = this.dataplane;
    const changes = planChanges(await readRunning(dp), desired, { describeRoute: (spec) => dp.describeRoute(spec) });
    // A line for each of the first changes, as the history keeps them (a daemon that removes a
    // full table would otherwise describe 900k changes nobody reads), and the count.
    const listed = recordedChanges(changes.slice(0, MAX_RECORDED_CHANGES).map(summarize), changes.length);
    const notes = startOnlyNotes(this.startConfig ?? config, config);
    const noted = notes.length ? { notes } : {};
    if (opts.dryRun) return { ...listed, applied: false, dryRun: true, ...noted };
    checkChanges(changes);
    this.paths.check(config);
    this.stats.reconciles++;
    try {
      await applyChanges({ dp: () => this.dataplane, upgrade: (s) => this.upgrade(s), note: (text) => this.log.warn(text) }, changes, {
        failAfter: opts.injectFaults === false ? undefined : faultInjection(),
      });
    } catch (e) {
      this.stats.reconcileFailures++;
      this.log.error({ err: e, who }, 'applying a change failed; the previous version was restored');
      throw e;
    } finally {
      this.stats.lastReconcileSeconds = (performance.now() - t0) / 1000;
    }
    this.noteBlocks(changes, now);
    this.imports.configure(config, selectors);
    try {
      this.paths.configure(config);
    } catch (e) {
      // check() resolved everything before the apply; a failure now (an interface gone in
      // between) leaves the groups as they were until the next change.
      this.log.error({ err: e }, 'steering the path groups failed');
    }
    try {
      this.health.configure(config);
    } catch (e) {
      this.log.error({ err: e }, 'starting the health checks failed');
    }
    // A config route gone may uncover an imported one for the same prefix.
    const deleted: string[] = [];
    for (const c of changes) if (c.kind === 'route' && c.op === 'delete') deleted.push(c.prefix);
    this.imports.restore(deleted);
    const latest = this.history.latest();
    const configChanged = !latest || JSON.stringify(latest.config) !== JSON.stringify(config);
    const exemptChanged = JSON.stringify(this.current.decisions.exempt) !== JSON.stringify(config.decisions.exempt);
    this.current = config;
    if (exemptChanged) {
      try {
        this.decisions.endExempt(who.actor);
      } catch (e) {
        this.log.error({ err: e }, 'ending the decisions on newly exempt prefixes failed; they end with their TTL');
      }
    }
    if (!changes.length && !configChanged) {
      this.log.info({ who }, 'no change');
      return { changes: [], applied: true, dryRun: false, ...noted };
    }
    const rec = this.history.record({ ...who, ...listed, config });
    this.history.prune(config.history.keep);
    this.audit.setRetention(config.audit.retentionDays);
    this.auditVersion(rec, who);
    this.currentVersion = rec.version;
    this.log.info({ version: rec.version, who, changes: changes.length }, 'applied a new version');
    return { version: rec.version, ...listed, applied: true, dryRun: false, ...noted };
  }

  /** A version in the audit log; a failure there is logged, the version stands. */
  private auditVersion(rec: VersionRecord, who: Actor): void {
    try {
      this.audit.append({
        kind: 'config',
        event: 'version',
        at: rec.at,
        subject: `version ${rec.version}`,
        actor: who.actor,
        summary: `version ${rec.version} (${who.source}): ${rec.changesTotal ?? rec.changes.length} change(s)`,
        details: {
          version: rec.version,
          source: who.source,
          changes: rec.changes,
          ...(rec.changesTotal ? { changesTotal: rec.changesTotal } : {}),
        },
      });
    } catch (err) {
      this.log.error({ err, version: rec.version }, 'recording a version in the audit log failed');
    }
  }

  /** Remembers when each blocked prefix was first applied: a config `ttl` counts from there. */
  private noteBlocks(changes: Change[], now: number): void {
    let changed = false;
    for (const c of changes) {
      if (c.kind !== 'block') continue;
      if (c.op === 'add' && !this.blockedSince.has(c.prefix)) this.blockedSince.set(c.prefix, now);
      if (c.op === 'delete') this.blockedSince.delete(c.prefix);
      changed = true;
    }
    if (changed) writeBlockedSince(this.blockedSinceFile, this.blockedSince);
  }

  /**
   * Brings the host's own routes in line with its addresses (after the kernel reported a
   * change): kernel state, not config, so no version is recorded.
   */
  syncHost(): Promise<{ added: number; replaced: number; removed: number; rerouted: number }> {
    return this.serialize(async () => {
      const { removedPrefixes, ...r } = this.dataplane.syncHostRoutes();
      this.imports.restore(removedPrefixes);
      return { ...r, rerouted: await this.followGateways() };
    });
  }

  /**
   * Follows the host's links: the attached interfaces' MACs (the pipeline's destination check),
   * the ifindexes of interfaces rules name (a recreated interface gets a new one), and the
   * config's interfaces that came back (attached again). In the queue, as rule changes are.
   */
  followLinks(): Promise<{ rulesRebound: boolean; reattached: string[]; failed: { name: string; error: string }[]; rerouted: number }> {
    return this.serialize(async () => {
      this.dataplane.refreshInterfaces();
      const rulesRebound = this.dataplane.filter.rebindInterfaces();
      const { attached, failed, notes } = this.dataplane.reattach(this.current.interfaces);
      for (const n of notes) this.log.warn(n);
      return { rulesRebound, reattached: attached, failed, rerouted: await this.followGateways() };
    });
  }

  /**
   * The config's routes through a gateway whose interface changed (deleted and created again:
   * a new ifindex; an address moved to another link), planned again against what runs and
   * rewritten: a repair of the version in force, not a new one. A route whose gateway is on
   * no connected network now (its interface gone) stays as it is until a later change of
   * links or addresses. Only routes that run are rewritten; anything else waits for the next
   * apply. Returns how many routes changed.
   */
  private async followGateways(): Promise<number> {
    const dp = this.dataplane;
    // Asked at every change of links or addresses (and every 5 s): planning every config
    // route is for when a gateway did move.
    if (!dp.nexthops.gatewaysMoved()) return 0;
    const UNRESOLVED = '\u0000unresolved';
    const desired = routingReconciler.desired(this.current, this.compileContext(Date.now()));
    const describeRoute = (spec: RouteSpec) => {
      try {
        return dp.describeRoute(spec);
      } catch {
        return UNRESOLVED;
      }
    };
    const changes = routingReconciler
      .plan(await routingReconciler.running(dp), desired, { describeRoute })
      // Routes steered by a path group are the path manager's to follow.
      .filter((c) => c.op === 'replace' && c.after !== UNRESOLVED && !c.spec.paths);
    if (!changes.length) return 0;
    await applyChanges({ dp: () => this.dataplane, upgrade: (s) => this.upgrade(s), note: (text) => this.log.warn(text) }, changes);
    return changes.length;
  }

  /** Copies the kernel's neighbour table into the data plane now. */
  syncNeighbors(): { set: number; removed: number } {
    return this.dataplane.syncNeighbors();
  }

  /**
   * Replaces the program. The data plane in use stays open and usable until the new one is
   * open (timers and streams read it meanwhile); then those that keep their own handles on the
   * pipeline's maps are told to take new ones (onUpgrade).
   */
  private async upgrade(settings: PipelineSettings): Promise<void> {
    const r = await Dataplane.upgrade(this.instance, settings);
    this.stats.upgrades++;
    this.log.info(r, 'program replaced; maps carried over');
    const next = await Dataplane.open(this.instance);
    const old = this.dataplane;
    this.dataplane = next;
    old.close();
    for (const fn of this.upgradeListeners) {
      try {
        fn();
      } catch (e) {
        this.log.error({ err: e }, 'following the upgraded data plane failed');
      }
    }
  }

  /** Calls `fn` after each program upgrade; returns the unsubscribe. */
  onUpgrade(fn: () => void): () => void {
    this.upgradeListeners.add(fn);
    return () => this.upgradeListeners.delete(fn);
  }

  close(): void {
    this.health.close();
    this.paths.close();
    this.imports.close();
    this.decisions.stop();
    this.dataplane.close();
    this.history.close();
    this.audit.close();
  }
}

function faultInjection(): number | undefined {
  const m = /^apply:(\d+)$/.exec(process.env.PATHWISE_FAULT_INJECT ?? '');
  return m ? Number(m[1]) : undefined;
}
