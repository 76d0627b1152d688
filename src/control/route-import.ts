/**
 * Routes imported from the kernel's routing tables (config `import:`), kept exact: the tables
 * are read in full when the import is configured, followed by route events after that
 * (applied to the view at once, installed in one batch per turn of the event loop), and read
 * in full again on a timer, after lost events and after link changes (the kernel removes the
 * routes of a link that goes down, and of an address flushed, without telling: FRR #4535,
 * #13561). A full read that finds a difference repairs it, in either direction, and counts it.
 *
 * Imported routes are kernel state, not config: following them records no version. Every
 * write goes through the controller's queue, as config changes do.
 */
import type { Logger } from 'pino';

import type { Dataplane } from '../dataplane/dataplane.js';
import {
  readKernelRoutesInTurns,
  removeImportedRoutes,
  syncImportedRoutes,
  syncImportedRoutesInTurns,
  type ImportSync,
} from '../dataplane/route-importer.js';
import type { KernelRouteSet } from '../kernel/index.js';
import { KernelRouteView, keyOfPrefix, parseProtocol, parseTable, type ImportSelector, type PrefixKey } from '../routing/kernel-routes.js';
import { PwError } from '../errors.js';
import { parseDuration } from '../util/duration.js';
import { parsePrefix } from '../util/ip.js';
import { nextTurn } from '../util/turn.js';
import type { Config } from './config/schema.js';

export interface ImportStats {
  /** Whether an import is configured. */
  enabled: boolean;
  /** Kernel routes the selectors accept (one per prefix). */
  kernelRoutes: number;
  /** Imported routes installed. */
  installed: number;
  /** Route events applied. */
  events: number;
  /** Full reads of the kernel's tables. */
  fullSyncs: number;
  /** Differences a periodic full read found and repaired (events missed, maps written behind
   * Pathwise's back). */
  driftRepaired: number;
  /** Differences a full read after a link change or lost events brought in. */
  resynced: number;
  lastFullSyncSeconds: number;
  lastError: string | null;
}

/** The config's `import:` compiled; throws PwError naming the entry for a bad one. */
export function importSelectors(cfg: Config): ImportSelector[] {
  return cfg.import.from.map((s, i) => {
    const where = `import.from[${i}]`;
    if (cfg.fib !== 'own') {
      throw new PwError('PW_ERR_INVALID', "importing routes needs fib: own (with fib: kernel the kernel's table is used as it is)", {
        where,
      });
    }
    return {
      table: parseTable(s.table, `${where}.table`),
      protocols: s.protocols ? new Set(s.protocols.map((p, k) => parseProtocol(p, `${where}.protocols[${k}]`))) : null,
      prefixes: s.prefixes ? s.prefixes.map((p, k) => parsePrefix(p, `${where}.prefixes[${k}]`)) : null,
    };
  });
}

/** Routes read or synced per turn of the event loop in a full read (at most a few hundred
 * milliseconds each on a full table; see BENCHMARKS.md). */
const CHUNK = 16_384;

export class RouteImport {
  private view: KernelRouteView | null = null;
  /** The `import.from` in force, as JSON (undefined: none applied yet, so the first
   * configure() removes imported routes a previous run left when there is no import now). */
  private applied: string | undefined;
  private reconcileMs = 60_000;
  private timer: NodeJS.Timeout | null = null;
  private pending = new Set<PrefixKey>();
  private flushScheduled = false;
  private fullPending: NodeJS.Timeout | null = null;
  private selectors: ImportSelector[] = [];
  /** Route events that arrived while a full read was in progress (see fullSync). */
  private arrivedDuringRead: KernelRouteSet[] | null = null;
  readonly stats: ImportStats = {
    enabled: false,
    kernelRoutes: 0,
    installed: 0,
    events: 0,
    fullSyncs: 0,
    driftRepaired: 0,
    resynced: 0,
    lastFullSyncSeconds: 0,
    lastError: null,
  };

  constructor(
    private readonly dp: () => Dataplane,
    /** Runs `fn` in the controller's queue. */
    private readonly serialize: <T>(fn: () => Promise<T>) => Promise<T>,
    private readonly log: Logger,
  ) {}

  /**
   * Takes a config's `import:` (inside the controller's queue, after the config applied). A
   * changed selection reads the tables and installs what they hold; none removes every
   * imported route. Errors reading the kernel are logged and retried on the next reconcile.
   */
  configure(cfg: Config, selectors: ImportSelector[]): void {
    const interval = parseDuration(cfg.import.reconcile);
    const intervalChanged = interval !== this.reconcileMs;
    this.reconcileMs = interval;
    const key = JSON.stringify(cfg.import.from);
    if (key === this.applied) {
      if (intervalChanged && this.view) this.startTimer();
      return;
    }
    this.applied = key;
    this.pending.clear();
    if (!selectors.length) {
      this.view = null;
      this.stats.enabled = false;
      this.stopTimer();
      const n = removeImportedRoutes(this.dp());
      if (n) this.log.info({ removed: n }, 'import switched off: imported routes removed');
      this.refreshCounts();
      return;
    }
    this.selectors = selectors;
    this.view = new KernelRouteView(selectors);
    this.stats.enabled = true;
    this.startTimer();
    // The first read runs next in the queue, in parts (a full table takes seconds): the config
    // change that asked for it completes first.
    void this.serialize(async () => {
      const r = await this.fullSync();
      if (r) this.log.info({ ...r, seconds: this.stats.lastFullSyncSeconds }, 'routes imported from the kernel');
    }).catch((e: unknown) => this.fail(e, 'importing routes from the kernel failed; retried at the next reconcile'));
  }

  /** Route events from the kernel follower: into the view now, into the FIB next turn. */
  routesChanged(set: KernelRouteSet): void {
    if (!this.view) return;
    this.stats.events += set.count;
    this.arrivedDuringRead?.push(set);
    this.view.apply(set, this.pending);
    if (this.flushScheduled || !this.pending.size) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      void this.serialize(async () => this.flush()).catch((e: unknown) => this.fail(e, 'installing imported route changes failed'));
    });
  }

  private flush(): void {
    if (!this.view || !this.pending.size) return;
    const keys = this.pending;
    this.pending = new Set();
    syncImportedRoutes(this.dp(), this.view, keys);
    this.refreshCounts();
  }

  /**
   * Reads everything again soon (after a link went down or away, an address was removed, lost
   * events, or a change of nexthop objects); bursts of such events coalesce into one read.
   */
  resync(): void {
    if (!this.view || this.fullPending) return;
    this.fullPending = setTimeout(() => {
      this.fullPending = null;
      void this.serialize(async () => {
        const r = await this.fullSync();
        if (r && changed(r)) {
          this.stats.resynced += changes(r);
          this.log.info(r, 'imported routes followed a change the kernel did not report route by route');
        }
      }).catch((e: unknown) => this.fail(e, 'reading the kernel routes again failed'));
    }, 50);
  }

  /** The periodic full read: any difference it finds is drift, repaired and counted. */
  reconcile(): Promise<void> {
    return this.serialize(async () => {
      if (!this.view) return;
      const r = await this.fullSync();
      if (r && changed(r)) {
        this.stats.driftRepaired += changes(r);
        this.log.warn(r, 'imported routes had drifted from the kernel: repaired');
      }
    }).catch((e: unknown) => this.fail(e, 'reconciling imported routes failed'));
  }

  /**
   * Puts imported routes back at these prefixes (inside the queue: the config or the host
   * dropped its own route for them).
   */
  restore(prefixes: string[]): void {
    if (!this.view || !prefixes.length) return;
    syncImportedRoutes(
      this.dp(),
      this.view,
      prefixes.map((p) => keyOfPrefix(parsePrefix(p))),
    );
    this.refreshCounts();
  }

  /**
   * Reads the tables anew into a new view and syncs everything with it, in parts with turns of
   * the event loop between them (inside the queue: nothing else writes meanwhile). Route
   * events that arrive during the read go to the current view as usual and are replayed into
   * the new one (each says what a route is now, so replaying one the dump already saw is
   * harmless).
   */
  private async fullSync(): Promise<ImportSync | null> {
    if (!this.view) return null;
    const t0 = performance.now();
    const fresh = new KernelRouteView(this.selectors);
    this.arrivedDuringRead = [];
    try {
      // The table is mostly what it was (after a restart, what the pinned FIB still holds).
      await readKernelRoutesInTurns(fresh, CHUNK, nextTurn, Math.max(this.view.size, this.dp().routes.importedRouteCount));
      for (const set of this.arrivedDuringRead) fresh.apply(set);
      if (!this.view) return null; // closed meanwhile
      this.view = fresh;
      this.pending.clear(); // the full sync covers them
      const r = await syncImportedRoutesInTurns(this.dp(), fresh, CHUNK, nextTurn);
      this.stats.fullSyncs++;
      this.stats.lastError = null;
      return r;
    } finally {
      this.arrivedDuringRead = null;
      this.stats.lastFullSyncSeconds = (performance.now() - t0) / 1000;
      this.refreshCounts();
    }
  }

  private refreshCounts(): void {
    this.stats.kernelRoutes = this.view?.size ?? 0;
    this.stats.installed = this.dp().routes.importedRouteCount;
  }

  private fail(e: unknown, what: string): void {
    this.stats.lastError = (e as Error).message;
    this.log.error({ err: e }, what);
  }

  private startTimer(): void {
    this.stopTimer();
    this.timer = setInterval(() => void this.reconcile(), this.reconcileMs);
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  close(): void {
    this.stopTimer();
    if (this.fullPending) clearTimeout(this.fullPending);
    this.fullPending = null;
    this.view = null;
  }
}

const changes = (r: ImportSync) => r.added + r.replaced + r.removed + r.rewritten;
const changed = (r: ImportSync) => changes(r) > 0;
