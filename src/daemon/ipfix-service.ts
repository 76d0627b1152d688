/**
 * The daemon's IPFIX export: follows `insight.ipfix` in the config in force (a change of
 * collectors or timeouts takes effect within a second, whichever way the config changed), reads
 * the flow table on a timer and hands it to the exporter. On stop, every flow with unreported
 * packets is sent, so a restart loses no counts.
 */
import type { Logger } from 'pino';

import { ipfixOptions } from '../control/config/forms.js';
import type { Config } from '../control/config/schema.js';
import type { Dataplane } from '../dataplane/dataplane.js';
import { readFlows } from '../dataplane/insight-tables.js';
import { IpfixExporter, type IpfixExportTotals, type IpfixOptions, type IpfixStats } from '../insight/ipfix-exporter.js';
import { monoNowNs } from '../util/clock.js';
import type { IpfixHttp } from '../insight/ipfix.js';
import type { HttpTransaction } from '../insight/http-tracker.js';
import { parseAddress } from '../util/ip.js';

/** HTTP transactions queued between two ticks at most. */
const HTTP_QUEUE_MAX = 100_000;

type IpfixConfig = Config['insight']['ipfix'];

export class IpfixService {
  private exporter: IpfixExporter | null = null;
  /** What exporters retired by config changes had counted. */
  private readonly retired: IpfixStats = { messages: 0, records: 0, sendErrors: 0, lostFlows: 0, httpRecords: 0 };
  private lastExportSeconds = 0;
  private configured = '';
  private timer: NodeJS.Timeout | null = null;
  private lastExport = 0;
  private busy = false;
  /** HTTP transactions waiting for the next tick. */
  private http: IpfixHttp[] = [];
  /** Transactions not queued: the queue was full (collectors far slower than the traffic). */
  httpDropped = 0;

  constructor(
    private readonly config: () => IpfixConfig,
    private readonly dp: () => Dataplane,
    private readonly log: Logger,
  ) {}

  start(): void {
    const tick = async () => {
      await this.tick();
      this.timer = setTimeout(tick, 1000);
      this.timer.unref();
    };
    void tick();
  }

  /** Takes an HTTP transaction (HttpInsightService.onTransaction) for the next export. */
  seeTransaction(t: HttpTransaction): void {
    const cfg = this.config();
    if (!cfg.http || !cfg.collectors.length) return;
    if (this.http.length >= HTTP_QUEUE_MAX) {
      this.httpDropped++;
      return;
    }
    try {
      const src = parseAddress(t.client);
      const dst = parseAddress(t.server);
      this.http.push({
        family: src.family,
        src: src.addr.subarray(0, src.family === 4 ? 4 : 16),
        dst: dst.addr.subarray(0, dst.family === 4 ? 4 : 16),
        sport: t.clientPort,
        dport: t.serverPort,
        startMs: Math.round(t.requestUs / 1000),
        endMs: Math.round((t.responseUs ?? t.requestUs) / 1000),
        status: t.status ?? 0,
        method: t.method,
        host: t.host ?? '',
        target: t.uri,
        version: t.version,
      });
    } catch {
      // an address the tracker gave cannot be other than valid; nothing to export if it is
    }
  }

  stats(): IpfixExportTotals {
    const now = this.exporter?.stats;
    const sum = (k: keyof IpfixStats) => this.retired[k] + (now?.[k] ?? 0);
    return {
      messages: sum('messages'),
      records: sum('records'),
      sendErrors: sum('sendErrors'),
      lostFlows: sum('lostFlows'),
      httpRecords: sum('httpRecords'),
      collectors: this.exporter?.opts.collectors.length ?? 0,
      lastExportSeconds: this.lastExportSeconds,
    };
  }

  /** Exports every `interval`: half the shorter timeout, within 1-10 s. */
  private interval(o: IpfixOptions): number {
    return Math.min(10_000, Math.max(1000, Math.min(o.idleTimeoutMs, o.activeTimeoutMs) / 2));
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const cfg = this.config();
      const key = JSON.stringify(cfg);
      if (key !== this.configured) {
        await this.retire();
        this.configured = key;
        if (cfg.collectors.length) {
          this.exporter = new IpfixExporter(ipfixOptions(cfg), (e, c) => this.log.warn({ err: e, collector: c }, 'IPFIX send failed'));
          this.log.info({ collectors: cfg.collectors }, 'IPFIX export on');
        }
      }
      const ex = this.exporter;
      if (ex && this.http.length) {
        const txs = this.http;
        this.http = [];
        await ex.exportHttp(txs);
      }
      if (ex && Date.now() - this.lastExport >= this.interval(ex.opts)) {
        this.lastExport = Date.now();
        const t0 = performance.now();
        await ex.export(await readFlows(this.dp().pipeline), Number(monoNowNs()));
        this.lastExportSeconds = (performance.now() - t0) / 1000;
      }
    } catch (e) {
      this.log.warn({ err: e }, 'IPFIX export failed');
    } finally {
      this.busy = false;
    }
  }

  /** Sends what the current exporter has not reported, and closes it. */
  private async retire(): Promise<void> {
    const ex = this.exporter;
    this.exporter = null;
    if (!ex) return;
    try {
      await ex.export(await readFlows(this.dp().pipeline), Number(monoNowNs()), { flush: true });
    } finally {
      ex.close();
      for (const k of Object.keys(this.retired) as (keyof IpfixStats)[]) this.retired[k] += ex.stats[k];
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    while (this.busy) await new Promise((r) => setTimeout(r, 10));
    this.busy = true;
    try {
      await this.retire();
    } catch (e) {
      this.log.warn({ err: e }, 'IPFIX: sending the last records failed');
    }
  }
}
