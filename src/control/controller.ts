/**
 * The Controller owns an instance's data plane while the daemon runs. Every change — the
 * config file at start or reload, an API call, a rollback — goes through propose(): validate,
 * compile (desired.ts), diff against what runs (plan.ts), apply with restore on failure
 * (apply.ts), record a version (history.ts). Changes are serialized: one at a time.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';

import { Dataplane } from '../dataplane/dataplane.js';
import { Pipeline, metaDirOf, objectHash, type PipelineSettings } from '../dataplane/pipeline.js';
import type { RouteSpec } from '../dataplane/route-syntax.js';
import { PwError } from '../errors.js';
import { applyChanges } from './apply.js';
import { parseConfig } from './config/load.js';
import type { Config } from './config/schema.js';
import { compileDesired, settingsOf } from './desired.js';
import { History, type VersionRecord } from './history.js';
import { planChanges, summarize, type ChangeSummary, type RunningState } from './plan.js';
import { describeRoute, runningState } from './running.js';

export interface Actor {
  actor: string;
  source: string;
}

export interface ProposeResult {
  /** The version recorded (absent for a dry run or when nothing changed). */
  version?: number;
  changes: ChangeSummary[];
  applied: boolean;
  dryRun: boolean;
}

export interface ControllerStats {
  reconciles: number;
  reconcileFailures: number;
  lastReconcileSeconds: number;
  upgrades: number;
}

export class Controller {
  private queue: Promise<unknown> = Promise.resolve();
  private current: Config;
  private currentVersion = 0;
  readonly stats: ControllerStats = { reconciles: 0, reconcileFailures: 0, lastReconcileSeconds: 0, upgrades: 0 };
  private readonly blockedSinceFile: string;
  private readonly blockedSince: Map<string, number>;

  private constructor(
    readonly instance: string,
    private dataplane: Dataplane,
    readonly history: History,
    private readonly log: Logger,
    /** Relative file names in configs resolve against this directory. */
    private baseDir: string,
  ) {
    this.current = history.latest()?.config ?? parseConfig('{}', 'defaults');
    this.currentVersion = history.latest()?.version ?? 0;
    this.blockedSinceFile = join(metaDirOf(instance), 'blocked-since.json');
    this.blockedSince = new Map(existsSync(this.blockedSinceFile) ? Object.entries(JSON.parse(readFileSync(this.blockedSinceFile, 'utf8')) as Record<string, number>) : []);
  }

  /**
   * Opens the instance's data plane — adopting the pinned one when there is one, which keeps
   * forwarding untouched — upgrades the program if the object on disk changed, and applies
   * `config` as the first change of this run.
   */
  static async start(opts: { config: Config; configFile?: string; stateDir: string; log: Logger }): Promise<Controller> {
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
    const c = new Controller(instance, dp, history, log, opts.configFile ? dirname(opts.configFile) : process.cwd());
    dp.syncSystemRoutes();
    dp.syncNeighbors();
    await c.propose(config, { actor: 'daemon', source: adopted ? 'start (adopted pinned state)' : 'start' }, { injectFaults: false });
    return c;
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

  /** What runs now, read back from the maps. */
  running(): RunningState {
    return runningState(this.dataplane);
  }

  private describeRoute = (spec: RouteSpec): string => describeRoute(this.dataplane, spec);

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Validates, diffs and (unless dryRun) applies a whole config; records a version. */
  propose(config: Config, who: Actor, opts: { dryRun?: boolean; baseDir?: string; injectFaults?: boolean } = {}): Promise<ProposeResult> {
    return this.serialize(async () => {
      const t0 = performance.now();
      const now = Date.now();
      const desired = compileDesired(config, { baseDir: opts.baseDir ?? this.baseDir, now, blockedSince: this.blockedSince });
      const running = this.running();
      const changes = planChanges(running, desired, this.describeRoute);
      const summaries = changes.map(summarize);
      if (opts.dryRun) return { changes: summaries, applied: false, dryRun: true };
      if (settingsOf(config).ipv4Groups !== running.settings.ipv4Groups || settingsOf(config).ruleBitmaps !== running.settings.ruleBitmaps) {
        // Caught here, before anything is applied (Pipeline.upgrade would refuse too).
        throw new PwError('PW_ERR_UNSUPPORTED', 'table sizes (pipeline.ipv4Groups, pipeline.ruleBitmaps) cannot change while the pipeline runs', {
          where: 'pipeline',
          hint: "apply the new sizes after 'pathwise down' (which stops forwarding), or keep the old ones",
        });
      }
      this.stats.reconciles++;
      try {
        await applyChanges({ dp: () => this.dataplane, upgrade: (s) => this.upgrade(s) }, changes, { failAfter: opts.injectFaults === false ? undefined : faultInjection() });
      } catch (e) {
        this.stats.reconcileFailures++;
        this.log.error({ err: e, who }, 'applying a change failed; the previous version was restored');
        throw e;
      } finally {
        this.stats.lastReconcileSeconds = (performance.now() - t0) / 1000;
      }
      for (const c of changes) {
        if (c.kind === 'block' && c.op === 'add') this.blockedSince.set(c.prefix, this.blockedSince.get(c.prefix) ?? now);
        if (c.kind === 'block' && c.op === 'delete') this.blockedSince.delete(c.prefix);
      }
      this.saveBlockedSince();
      if (changes.some((c) => c.kind === 'route')) this.resolveGateways();
      const latest = this.history.latest();
      const configChanged = !latest || JSON.stringify(latest.config) !== JSON.stringify(config);
      this.current = config;
      if (!changes.length && !configChanged) {
        this.log.info({ who }, 'no change');
        return { changes: [], applied: true, dryRun: false };
      }
      const rec = this.history.record({ ...who, changes: summaries, config });
      this.currentVersion = rec.version;
      this.log.info({ version: rec.version, who, changes: summaries.length }, 'applied a new version');
      return { version: rec.version, changes: summaries, applied: true, dryRun: false };
    });
  }

  /**
   * An edit of the running config (what the API's imperative calls do): `edit` changes a copy,
   * which is validated like a config file and then proposed.
   */
  edit(edit: (cfg: Config) => void, who: Actor): Promise<ProposeResult> {
    const copy = structuredClone(this.current);
    edit(copy);
    return this.propose(parseConfig(JSON.stringify(copy, null, 1), 'the edited config'), who);
  }

  rollback(version: number, who: Actor): Promise<ProposeResult> {
    const rec: VersionRecord = this.history.get(version);
    return this.propose(rec.config, { ...who, source: `rollback to ${version}` });
  }

  /** Keeps neighbour MACs current (the daemon calls it on kernel neighbour events). */
  syncNeighbors(): { set: number; removed: number } {
    return this.dataplane.syncNeighbors();
  }

  private resolveGateways(): void {
    const unresolved = this.dataplane.resolveNeighbors();
    for (const g of unresolved) this.log.warn(g, 'gateway does not answer ARP/ND; its routes go to the kernel until it does');
  }

  private async upgrade(settings: PipelineSettings): Promise<void> {
    this.dataplane.close();
    try {
      const r = await Dataplane.upgrade(this.instance, settings);
      this.stats.upgrades++;
      this.log.info(r, 'program replaced; maps carried over');
    } finally {
      this.dataplane = await Dataplane.open(this.instance);
    }
  }

  private saveBlockedSince(): void {
    mkdirSync(dirname(this.blockedSinceFile), { recursive: true });
    writeFileSync(this.blockedSinceFile, JSON.stringify(Object.fromEntries(this.blockedSince)));
  }

  close(): void {
    this.dataplane.close();
    this.history.close();
  }
}

function faultInjection(): number | undefined {
  const m = /^apply:(\d+)$/.exec(process.env.PATHWISE_FAULT_INJECT ?? '');
  return m ? Number(m[1]) : undefined;
}
