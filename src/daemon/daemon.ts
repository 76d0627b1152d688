/**
 * `pathwise daemon`: loads the config, opens (or adopts) the data plane through the
 * Controller, serves the API on a unix socket (mode 0600) and on configured TCP listeners,
 * follows the kernel's neighbours, addresses and links over netlink (kernel-sync.ts), and
 * reloads the config on SIGHUP and when the file changes. Stopping it — even with kill -9 —
 * leaves the pinned data plane forwarding; the next start adopts it.
 */
import { chmodSync, existsSync, mkdirSync, statSync, unlinkSync, unwatchFile, watchFile, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';

import { buildApi } from '../api/server.js';
import { loadConfigFile } from '../control/config/load.js';
import type { Config } from '../control/config/schema.js';
import { confinedFiles } from '../control/config/files.js';
import { Controller } from '../control/controller.js';
import { InstanceLock } from '../dataplane/instance-lock.js';
import { Pipeline } from '../dataplane/pipeline.js';
import { defaultSocketOf } from '../util/instance.js';
import { EventHub } from './event-hub.js';
import { IpfixService } from './ipfix-service.js';
import { HttpInsightService } from './http-service.js';
import { KernelSync } from './kernel-sync.js';
import { WebhookService } from './webhooks.js';
import { AnomalyService } from './anomaly-service.js';

export interface DaemonOptions {
  configFile: string;
  /** Overrides the config's instance. */
  instance?: string;
  /** Where the history database lives (STATE_DIR/INSTANCE/history.db). */
  stateDir: string;
  logLevel?: string;
}

/** How often the config file's status is read for a change (a change reloads it ~0.2 s later). */
const CONFIG_POLL_MS = 500;

export const socketPathOf = (cfg: Pick<Config, 'instance' | 'api'>) => cfg.api.socket ?? defaultSocketOf(cfg.instance);

export class Daemon {
  private servers: FastifyInstance[] = [];
  /** The config file's status when it was last read: what the poll compares with. */
  private readStat: Stats | null = null;
  private reloadTimer: NodeJS.Timeout | null = null;
  private readonly kernel: KernelSync;
  private stopping = false;
  /** The one reader of the event ring, shared by every API server's WebSocket stream. */
  private readonly events: EventHub;
  private readonly ipfix: IpfixService;
  private readonly http: HttpInsightService;
  private readonly webhooks: WebhookService;
  private readonly anomalies: AnomalyService;

  private constructor(
    readonly ctrl: Controller,
    readonly log: Logger,
    readonly opts: DaemonOptions,
    readonly socketPath: string,
    private readonly lock: InstanceLock,
  ) {
    this.events = new EventHub(ctrl.instance, log);
    // The event ring may be a new map after an upgrade: read the pinned one.
    this.http = new HttpInsightService(
      ctrl.instance,
      () => ctrl.config(),
      () => ctrl.dp(),
      log,
    );
    this.webhooks = new WebhookService(() => ctrl.config(), ctrl.notices, ctrl.audit, log);
    this.anomalies = new AnomalyService(
      () => ctrl.config(),
      () => ctrl.dp(),
      ctrl.decisions,
      ctrl.notices,
      log,
    );
    this.http.onTransaction((n) => {
      this.anomalies.seeTransaction(n);
      this.ipfix.seeTransaction(n.t);
    });
    ctrl.onUpgrade(() => {
      this.events.reopen();
      this.http.reopen();
      // The new program's blocklists hold what was migrated; decisions are written again whole.
      ctrl.decisions.resync();
    });
    this.ipfix = new IpfixService(
      () => ctrl.config().insight.ipfix,
      () => ctrl.dp(),
      log,
    );
    this.kernel = new KernelSync(ctrl, log);
  }

  static async start(opts: DaemonOptions): Promise<Daemon> {
    const log = pino({ level: opts.logLevel ?? process.env.PATHWISE_LOG_LEVEL ?? 'info', base: { pid: process.pid } });
    Daemon.survive(log);
    const configFile = resolve(opts.configFile);
    const config = Daemon.readConfig(configFile, opts.instance);
    // One daemon per instance: a second one stops here, before it touches the first's socket.
    const lock = InstanceLock.acquire(config.instance, 'the daemon');
    let ctrl: Controller;
    try {
      if (Pipeline.isPinned(config.instance)) {
        const r = Pipeline.recover(config.instance);
        if (r.upgrade !== 'none') log.warn({ upgrade: r.upgrade }, `an upgrade interrupted by a crash was ${r.upgrade}`);
        if (r.orphans.length)
          log.warn({ interfaces: r.orphans }, 'interfaces left on an unpinned program of this instance were switched back');
      }
      ctrl = await Controller.open({ config, configFile, stateDir: opts.stateDir, log });
    } catch (e) {
      lock.release();
      throw e;
    }
    const d = new Daemon(ctrl, log, { ...opts, configFile }, socketPathOf(config), lock);
    try {
      // Following the kernel before the config applies: its gateways resolve as it does.
      d.kernel.start();
      ctrl.syncNeighbors(); // what resolved before the follower listened
      await ctrl.applyStart(config);
      d.events.start();
      d.http.start();
      d.webhooks.start();
      ctrl.decisions.start();
      d.anomalies.start();
      await d.listen(config);
    } catch (e) {
      await d.stop();
      throw e;
    }
    d.watchConfig();
    d.ipfix.start();
    log.info(
      { instance: config.instance, version: ctrl.version(), socket: d.socketPath, listen: config.api.listen },
      'pathwise daemon ready',
    );
    return d;
  }

  /**
   * A throw from a timer, a socket handler or a stream that escaped its own handling is a bug,
   * logged as one; it does not end the daemon (the data plane would keep forwarding, but the
   * API, the kernel following and the events would stop). Installed once per process.
   */
  private static survive(log: Logger): void {
    if (process.listenerCount('uncaughtException') || process.listenerCount('unhandledRejection')) return;
    process.on('uncaughtException', (err) => log.error({ err }, 'uncaught exception (a bug); the daemon goes on'));
    process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection (a bug); the daemon goes on'));
  }

  private static readConfig(file: string, instance?: string): Config {
    const cfg = loadConfigFile(file);
    return instance ? { ...cfg, instance } : cfg;
  }

  private async listen(config: Config): Promise<void> {
    mkdirSync(dirname(this.socketPath), { recursive: true });
    // A socket left by a killed daemon: nothing listens on it any more.
    if (existsSync(this.socketPath)) unlinkSync(this.socketPath);
    // What every API server of the daemon shares: the streams, the services behind its metrics.
    const shared = {
      log: this.log,
      events: this.events,
      ipfix: () => this.ipfix.stats(),
      http: this.http,
      webhooks: () => this.webhooks.stats(),
      anomalies: () => this.anomalies.stats,
    };
    const local = await buildApi(this.ctrl, { ...shared, requireToken: false });
    this.servers.push(local);
    await local.listen({ path: this.socketPath });
    chmodSync(this.socketPath, 0o600);
    // Certificates are files the on-disk config names: in its directory (config/files.ts).
    const read = confinedFiles(dirname(this.opts.configFile));
    for (const [i, l] of config.api.listen.entries()) {
      if (!config.api.tokens.length) this.log.warn({ listen: l }, 'a TCP listener without tokens in api.tokens refuses every request');
      const where = `api.listen[${i}].tls`;
      const https = l.tls && {
        cert: read(l.tls.cert, `${where}.cert`),
        key: read(l.tls.key, `${where}.key`),
        ...(l.tls.clientCa ? { ca: read(l.tls.clientCa, `${where}.clientCa`) } : {}),
      };
      const tcp = await buildApi(this.ctrl, { ...shared, requireToken: true, https });
      this.servers.push(tcp);
      await tcp.listen({ host: l.host, port: l.port });
      this.log.info(
        { host: l.host, port: l.port, tls: !!https, clientCertificates: !!l.tls?.clientCa },
        `API listening on TCP${https ? ' with TLS' : ''} (bearer tokens required)`,
      );
    }
  }

  /** Reloads the config file: a new version if anything changed. Bad files change nothing. */
  async reload(why: string): Promise<void> {
    // Noted before the read: a write after it is a change the poll sees (watchConfig), one
    // before it is read now, and not read again (a SIGHUP after a write reloads it once).
    this.readStat = this.configStat();
    try {
      const cfg = Daemon.readConfig(this.opts.configFile, this.opts.instance);
      if (cfg.instance !== this.ctrl.instance) {
        this.log.error(
          { file: this.opts.configFile, instance: cfg.instance },
          `the config now names instance '${cfg.instance}'; a running daemon keeps '${this.ctrl.instance}': not applied`,
        );
        return;
      }
      const r = await this.ctrl.propose(cfg, { actor: 'daemon', source: `reload (${why})` });
      this.log.info({ why, version: r.version ?? this.ctrl.version(), changes: r.changes.length }, 'config reloaded');
      for (const note of r.notes ?? []) this.log.warn({ why }, note);
    } catch (e) {
      this.log.error({ err: e, why }, 'config reload failed; the running version is unchanged');
    }
  }

  private configStat(): Stats | null {
    try {
      return statSync(this.opts.configFile);
    } catch {
      return null;
    }
  }

  /** Whether the config file is there and differs from when it was last read. */
  private configChanged(now: Stats | null): boolean {
    const seen = this.readStat;
    if (!now || !existsSync(this.opts.configFile)) return false;
    return !seen || now.mtimeMs !== seen.mtimeMs || now.ino !== seen.ino || now.size !== seen.size;
  }

  private watchConfig(): void {
    process.on('SIGHUP', () => void this.reload('SIGHUP'));
    // The file's status polled, not its folder watched: a folder watch wakes the daemon at every
    // write to any file there (a gateway's access log beside the config: ~5 µs a request,
    // bench/gateway.ts). A poll by name also sees an editor's save, a new file renamed over it.
    // A change is read 0.2 s later (a save may come in several writes), unless a reload read
    // it meanwhile.
    this.readStat ??= this.configStat();
    watchFile(this.opts.configFile, { interval: CONFIG_POLL_MS, persistent: false }, (now) => {
      if (!this.configChanged(now) || this.reloadTimer) return;
      this.reloadTimer = setTimeout(() => {
        this.reloadTimer = null;
        if (this.configChanged(this.configStat())) void this.reload('file changed');
      }, 200);
    });
  }

  /** Stops serving. The data plane stays pinned and attached: forwarding goes on. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    unwatchFile(this.opts.configFile); // nothing when it was never watched
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
    this.kernel.stop();
    await Promise.allSettled(this.servers.map((s) => s.close()));
    this.events.stop();
    this.http.stop();
    this.webhooks.stop();
    this.anomalies.stop();
    await this.ipfix.stop();
    if (existsSync(this.socketPath)) unlinkSync(this.socketPath);
    this.ctrl.close();
    this.lock.release();
    this.log.info('pathwise daemon stopped; the data plane keeps forwarding');
  }
}
