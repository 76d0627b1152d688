/**
 * The operations run in this process, on the instance's pinned data plane: what the CLI does
 * when no daemon serves the instance. Each call opens the data plane and closes it after; a
 * change first brings the host's own routes and the neighbour copy up to date, so local and
 * on-link addresses are never sent to a gateway.
 */
import { Dataplane } from '../dataplane/dataplane.js';
import { InstanceLock } from '../dataplane/instance-lock.js';
import { Pipeline, type PipelineSettings } from '../dataplane/pipeline.js';
import { PwError } from '../errors.js';
import type { ApiUsageReport, ApiVersionsReport } from './api-insight.js';
import type { RecentTransaction } from '../insight/api-usage.js';
import { captureLocal } from './capture.js';
import { eventsLocal } from './events.js';
import * as filter from './filter.js';
import { flowsReport, statsReport, summaryReport, talkersReport } from './insight.js';
import * as interfaces from './interfaces.js';
import { listNeighbors, syncNeighbors, watchNeighbors } from './neighbors.js';
import type { Operations, Written } from './operations.js';
import * as routes from './routes.js';
import * as services from './services.js';
import type { AttachMode } from '../dataplane/dataplane.js';

const local = <T>(result: T): Written<T> => ({ via: 'local', result });

function noDaemon(instance: string): never {
  throw new PwError('PW_ERR_NOT_RUNNING', `no daemon serves instance '${instance}'`, {
    hint: "start one with 'pathwise daemon --config FILE', or give --server URL --token T",
  });
}

export class LocalOperations implements Operations {
  readonly mode = 'local';

  constructor(readonly instance: string) {}

  get where(): string {
    return `instance ${this.instance}`;
  }

  /**
   * Runs `fn` holding the instance lock (a daemon, or another command changing the instance,
   * makes this fail with PW_ERR_BUSY rather than race it), after finishing whatever a crash
   * interrupted (an upgrade, orphaned attachments).
   */
  private async locked<T>(fn: () => Promise<T>): Promise<T> {
    const lock = InstanceLock.acquire(this.instance, `pathwise ${process.argv.slice(2, 4).join(' ')}`.trim());
    try {
      if (Pipeline.isPinned(this.instance)) Pipeline.recover(this.instance);
      return await fn();
    } finally {
      lock.release();
    }
  }

  /**
   * Runs `fn` on the data plane, loading the pipeline (with `settings`) if none is; a change. A
   * change refused on a pipeline this call loaded unloads it again: a failed `route add` on a
   * machine without one left a whole pipeline pinned (its tables: 881 MiB of locked memory with the
   * default sizes, by bpftool).
   */
  private write<T>(fn: (dp: Dataplane) => T | Promise<T>, settings: Partial<PipelineSettings> = {}): Promise<T> {
    return this.locked(async () => {
      const loadedHere = !Pipeline.isPinned(this.instance);
      const dp = await Dataplane.open(this.instance, settings, { create: true });
      let failed = false;
      try {
        dp.syncHostRoutes();
        dp.syncNeighbors();
        return await fn(dp);
      } catch (e) {
        failed = true;
        throw e;
      } finally {
        dp.close();
        // The change's own error is what the command reports, even if unloading fails too.
        if (failed && loadedHere) await interfaces.down(this.instance).catch(() => undefined);
      }
    });
  }

  /** Runs `fn`, a change, on the pinned data plane; PW_ERR_NOT_RUNNING when none is loaded. */
  private change<T>(fn: (dp: Dataplane) => T | Promise<T>): Promise<T> {
    return this.locked(() => this.read(fn));
  }

  /** Runs `fn` on the pinned data plane; PW_ERR_NOT_RUNNING when none is loaded. */
  private async read<T>(fn: (dp: Dataplane) => T | Promise<T>): Promise<T> {
    const dp = await Dataplane.open(this.instance, {}, { create: false });
    try {
      return await fn(dp);
    } finally {
      dp.close();
    }
  }

  // ---- interfaces ----------------------------------------------------------------------

  async attach(ifaces: string[], opts: { mode: AttachMode; load: Partial<PipelineSettings>; fibGiven: boolean }) {
    const wasLoaded = Pipeline.isPinned(this.instance);
    const r = await this.write((dp) => {
      if (wasLoaded && opts.fibGiven && opts.load.fib && dp.pipeline.settings.fib !== opts.load.fib) {
        throw new PwError('PW_ERR_INVALID', `instance '${this.instance}' is loaded with fib ${dp.pipeline.settings.fib}`, {
          hint: `'pathwise down --instance ${this.instance}' first to reload it with --fib ${opts.load.fib}`,
        });
      }
      return interfaces.attach(dp, ifaces, opts.mode);
    }, opts.load);
    return local(r);
  }

  async detach(ifaces: string[]) {
    return local(await this.change((dp) => interfaces.detach(dp, ifaces)));
  }

  down() {
    return this.locked(async () => interfaces.down(this.instance));
  }

  // ---- routes ------------------------------------------------------------------------------

  async addRoute(spec: Parameters<Operations['addRoute']>[0], replace: boolean) {
    return local(
      await this.write(async (dp) => {
        const view = routes.addRoute(dp, spec, replace);
        await routes.settleGateways(dp, routes.gatewaysOf(view));
        return view;
      }),
    );
  }

  async deleteRoute(prefix: Parameters<Operations['deleteRoute']>[0]) {
    return local(await this.change((dp) => routes.deleteRoute(dp, prefix)));
  }

  listRoutes(q: Parameters<Operations['listRoutes']>[0]) {
    return this.read((dp) => routes.listRoutes(dp, q));
  }

  routesJson(q: Parameters<Operations['routesJson']>[0], write: Parameters<Operations['routesJson']>[1]) {
    return this.read(async (dp) => {
      let n = 0;
      await routes.forEachChunk(dp, q, (ids, counters) => {
        const { bytes, rows } = routes.routeRowsJson(dp, ids, counters, ',\n');
        if (!rows) return;
        write(Buffer.from(n ? ',\n' : '[\n'));
        write(bytes);
        n += rows;
      });
      write(Buffer.from(n ? '\n]\n' : '[]\n'));
      return n;
    });
  }

  eachRoute(q: Parameters<Operations['eachRoute']>[0], rows: Parameters<Operations['eachRoute']>[1]) {
    return this.read(async (dp) => {
      let n = 0;
      await routes.forEachChunk(dp, q, (ids, counters) => {
        const chunk = routes.routeRows(dp, ids, counters);
        n += chunk.length;
        rows(chunk);
      });
      return n;
    });
  }

  loadRoutes(batch: Parameters<Operations['loadRoutes']>[0], opts: { replace?: boolean; parseSeconds: number }) {
    return this.write(async (dp) => {
      const t0 = performance.now();
      const r = routes.loadRoutes(dp, batch, opts);
      const seconds = opts.parseSeconds + (performance.now() - t0) / 1000; // parse + install (not the pipeline's load)
      return { ...r, seconds, unresolvedGateways: await routes.settleGateways(dp) };
    });
  }

  lookup(addresses: string[]) {
    return this.read((dp) => routes.lookup(dp, addresses));
  }

  // ---- filtering ---------------------------------------------------------------------------

  async addRule(spec: Parameters<Operations['addRule']>[0], at?: number) {
    return local(await this.write((dp) => filter.addRule(dp, spec, at)));
  }

  async deleteRule(id: number) {
    return local(await this.write((dp) => filter.deleteRule(dp, id)));
  }

  listRules() {
    return this.read((dp) => filter.listRules(dp));
  }

  async addService(spec: Parameters<Operations['addService']>[0], opts: { replace: boolean }) {
    return local(await this.write((dp) => services.addService(dp, spec, opts.replace)));
  }

  async deleteService(name: string) {
    return local(await this.change((dp) => services.deleteService(dp, name)));
  }

  async setBackendWeight(name: string, backend: string, weight: number) {
    return local(await this.change((dp) => services.setBackendWeight(dp, name, backend, weight)));
  }

  listServices() {
    return this.read((dp) => services.listServices(dp));
  }

  private noDaemon(): never {
    throw new PwError('PW_ERR_UNREACHABLE', 'API usage is counted by the daemon, and none serves this instance', {
      hint: 'start it (pathwise daemon --config FILE) with insight.http.ports set; or see one capture with pathwise replay FILE --http',
    });
  }

  apiUsage(): Promise<ApiUsageReport> {
    return Promise.resolve().then(() => this.noDaemon());
  }

  apiVersions(): Promise<ApiVersionsReport> {
    return Promise.resolve().then(() => this.noDaemon());
  }

  apiRecent(): Promise<{ transactions: RecentTransaction[] }> {
    return Promise.resolve().then(() => this.noDaemon());
  }

  async addLimiter(l: Parameters<Operations['addLimiter']>[0]) {
    return local(await this.write((dp) => filter.addLimiter(dp, l)));
  }

  async deleteLimiter(name: string) {
    return local(await this.change((dp) => filter.deleteLimiter(dp, name)));
  }

  listLimiters() {
    return this.read((dp) => filter.listLimiters(dp));
  }

  async block(prefixes: Parameters<Operations['block']>[0], ttl?: { ms: number }) {
    return local({ blocked: await this.write((dp) => filter.block(dp, prefixes, ttl?.ms)), ttlMs: ttl?.ms ?? null });
  }

  loadBlocks(prefixes: Parameters<Operations['loadBlocks']>[0], ttlMs?: number) {
    return this.write((dp) => {
      const t0 = performance.now();
      const blocked = filter.block(dp, prefixes, ttlMs);
      return { blocked, seconds: (performance.now() - t0) / 1000 };
    });
  }

  async unblock(prefixes: Parameters<Operations['unblock']>[0]) {
    return local(await this.change((dp) => filter.unblock(dp, prefixes)));
  }

  listBlocks() {
    return this.read((dp) => filter.listBlocks(dp));
  }

  // ---- insight -----------------------------------------------------------------------------

  stats() {
    return this.read(statsReport);
  }

  flows(q: Parameters<Operations['flows']>[0]) {
    return this.read((dp) => flowsReport(dp, q));
  }

  talkers(q: Parameters<Operations['talkers']>[0]) {
    return this.read((dp) => talkersReport(dp, q));
  }

  summary() {
    return this.read(summaryReport);
  }

  neighbors() {
    return this.read(listNeighbors);
  }

  syncNeighbors() {
    return this.write(syncNeighbors);
  }

  watchNeighbors(report: (r: { set: number; removed: number }) => void, signal: AbortSignal) {
    return this.write((dp) => watchNeighbors(dp, report, signal));
  }

  capture(req: Parameters<Operations['capture']>[0], hooks: Parameters<Operations['capture']>[1]) {
    return captureLocal(this.instance, req, hooks);
  }

  events(req: Parameters<Operations['events']>[0], hooks: Parameters<Operations['events']>[1]) {
    return eventsLocal(this.instance, req, hooks);
  }

  // ---- the daemon's own --------------------------------------------------------------------

  status(): never {
    return noDaemon(this.instance);
  }
  proposeConfig(): never {
    return noDaemon(this.instance);
  }
  history(): never {
    return noDaemon(this.instance);
  }
  paths(): never {
    return noDaemon(this.instance);
  }
  pathDecisions(): never {
    return noDaemon(this.instance);
  }
  submitDecisions(): never {
    return noDaemon(this.instance);
  }
  decisions(): never {
    return noDaemon(this.instance);
  }
  revokeDecision(): never {
    return noDaemon(this.instance);
  }
  audit(): never {
    return noDaemon(this.instance);
  }
  rollback(): never {
    return noDaemon(this.instance);
  }
  config(): never {
    return noDaemon(this.instance);
  }
}
