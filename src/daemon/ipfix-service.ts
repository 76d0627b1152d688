/**
 * The daemon's IPFIX export: follows `insight.ipfix` in the config in force (a change of
 * collectors or timeouts takes effect within a second, whichever way the config changed), reads
 * the flow table on a timer and hands it to the exporter. On stop, every flow with unreported
 * packets is sent, so a restart loses no counts.
 */
import type { Logger } from 'pino';

import type { Config } from '../control/config/schema.js';
import type { PipelineMaps } from '../dataplane/pipeline.js';
import { monoNowNs } from '../insight/clock.js';
import { FlowSnapshot } from '../insight/flow-table.js';
import { IpfixExporter, type IpfixOptions, type IpfixStats } from '../insight/ipfix-exporter.js';
import { ipfixOptions } from '../control/desired.js';

type IpfixConfig = Config['insight']['ipfix'];

export class IpfixService {
  private exporter: IpfixExporter | null = null;
  private configured = '';
  private timer: NodeJS.Timeout | null = null;
  private lastExport = 0;
  private busy = false;

  constructor(
    private readonly config: () => IpfixConfig,
    private readonly maps: () => PipelineMaps,
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

  stats(): IpfixStats | null {
    return this.exporter?.stats ?? null;
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
      if (ex && Date.now() - this.lastExport >= this.interval(ex.opts)) {
        this.lastExport = Date.now();
        await ex.export(FlowSnapshot.read(this.maps()), Number(monoNowNs()));
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
      await ex.export(FlowSnapshot.read(this.maps()), Number(monoNowNs()), { flush: true });
    } finally {
      ex.close();
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
