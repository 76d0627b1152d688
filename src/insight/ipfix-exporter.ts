/**
 * IPFIX export of the pipeline's flow table. The table holds running totals per flow; the
 * exporter keeps, per flow, what it has already reported, and sends the difference (delta
 * counts) when a flow has been idle for the idle timeout, when its record has been open for
 * the active timeout, and at shutdown. Templates are sent first to each collector and again
 * every template-refresh interval, as RFC 7011 §8.4 asks of UDP exporters.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';

import { monoToEpochOffsetNs } from '../util/clock.js';
import type { FlowCounters, FlowSnapshot } from './flow-table.js';
import { FlowEndReason, IpfixEncoder, type IpfixFlow, type IpfixHttp } from './ipfix.js';

export interface Collector {
  host: string;
  port: number;
}

export interface IpfixOptions {
  collectors: Collector[];
  activeTimeoutMs: number;
  idleTimeoutMs: number;
  templateRefreshMs: number;
  observationDomain: number;
}

export interface IpfixStats {
  messages: number;
  records: number;
  sendErrors: number;
  /** Flows that left the table (LRU eviction) with packets never reported. */
  lostFlows: number;
  /** HTTP transaction records sent. */
  httpRecords: number;
}

/** An export's counters since it started, across exporters (config changes), for /metrics. */
export interface IpfixExportTotals extends IpfixStats {
  collectors: number;
  /** How long the last export pass took: the flow-table read and the sends. */
  lastExportSeconds: number;
}

/** What has been reported of one flow. */
interface Reported {
  packets: number;
  bytes: number;
  /** Start of the open record (ns, CLOCK_MONOTONIC); null until its first packet is seen. */
  startNs: number | null;
}

/** Capture time of a flow, for replays: the table's clock is the replay's, not the capture's. */
export type FlowTimes = (id: string) => { firstMs: number; lastMs: number } | undefined;

export class IpfixExporter {
  /** One transport session per collector: its own socket, sequence numbers and templates. */
  private readonly sessions: { socket: Socket; encoder: IpfixEncoder; collector: Collector; templatesAt: number | null }[];
  private readonly reported = new Map<string, Reported>();
  readonly stats: IpfixStats = { messages: 0, records: 0, sendErrors: 0, lostFlows: 0, httpRecords: 0 };

  constructor(
    readonly opts: IpfixOptions,
    private readonly onError: (e: Error, c: Collector) => void = () => {},
  ) {
    this.sessions = opts.collectors.map((collector) => {
      const socket = createSocket(isIPv6(collector.host) ? 'udp6' : 'udp4');
      // A collector that is down answers with ICMP port unreachable: count it, carry on.
      socket.on('error', (e) => {
        this.stats.sendErrors++;
        onError(e, collector);
      });
      socket.unref();
      return { socket, encoder: new IpfixEncoder(opts.observationDomain), collector, templatesAt: null };
    });
  }

  /**
   * Reports what is due in `snap` at `nowNs` (CLOCK_MONOTONIC): flows idle for the idle
   * timeout, and records open for the active timeout. With `flush`, every flow with
   * unreported packets (shutdown, or the end of a replay).
   */
  async export(snap: FlowSnapshot, nowNs: number, opts: { flush?: boolean; times?: FlowTimes } = {}): Promise<number> {
    const offsetMs = Number(monoToEpochOffsetNs()) / 1e6;
    const wall = (ns: number) => offsetMs + ns / 1e6;
    const due: IpfixFlow[] = [];
    const seen = new Set<string>();
    for (let i = 0; i < snap.count; i++) {
      const f = snap.counters(i);
      seen.add(f.id);
      let r = this.reported.get(f.id);
      // Fewer packets than reported: the flow was evicted and has started again.
      if (!r || f.packets < r.packets) this.reported.set(f.id, (r = { packets: 0, bytes: 0, startNs: f.firstNs }));
      if (f.packets === r.packets) continue;
      // The first packet after a record closed is not timed by the table; the first
      // export pass that sees it bounds it (to within one pass).
      r.startNs ??= f.lastNs;
      const reason = opts.flush
        ? FlowEndReason.FORCED_END
        : nowNs - f.lastNs >= this.opts.idleTimeoutMs * 1e6
          ? FlowEndReason.IDLE_TIMEOUT
          : nowNs - r.startNs >= this.opts.activeTimeoutMs * 1e6
            ? FlowEndReason.ACTIVE_TIMEOUT
            : 0;
      if (!reason) continue;
      const t = opts.times?.(f.id);
      due.push(record(f, r, reason, t ? t.firstMs : wall(r.startNs), t ? t.lastMs : wall(f.lastNs)));
      r.packets = f.packets;
      r.bytes = f.bytes;
      r.startNs = null;
    }
    for (const [id, r] of this.reported) {
      if (seen.has(id)) continue;
      this.reported.delete(id);
      if (r.startNs !== null) this.stats.lostFlows++;
    }
    await this.send(due.length, (e, time, templates) => e.encode(due, time, templates));
    this.stats.records += due.length;
    return due.length;
  }

  /** Sends HTTP transactions as records of the HTTP templates (with templates first when due). */
  async exportHttp(txs: IpfixHttp[]): Promise<void> {
    if (!txs.length) return;
    await this.send(txs.length, (e, time, templates) => e.encodeHttp(txs, time, templates));
    this.stats.httpRecords += txs.length;
  }

  /** Sends `n` records as `encode` packs them into messages, to every collector; templates first when due (even with no record). */
  private async send(n: number, encode: (e: IpfixEncoder, time: number, templates: boolean) => Buffer[]): Promise<void> {
    const now = Date.now();
    const exportTime = Math.floor(now / 1000);
    for (const s of this.sessions) {
      const refresh = s.templatesAt === null || now - s.templatesAt >= this.opts.templateRefreshMs;
      if (!n && !refresh) continue;
      if (refresh) s.templatesAt = now;
      for (const m of encode(s.encoder, exportTime, refresh)) {
        await new Promise<void>((resolve) =>
          s.socket.send(m, s.collector.port, s.collector.host, (e) => {
            if (e) {
              this.stats.sendErrors++;
              this.onError(e, s.collector);
            } else this.stats.messages++;
            resolve();
          }),
        );
      }
    }
  }

  close(): void {
    for (const s of this.sessions) s.socket.close();
  }
}

function record(f: FlowCounters, r: Reported, endReason: number, startMs: number, endMs: number): IpfixFlow {
  return {
    family: f.family,
    src: f.src,
    dst: f.dst,
    sport: f.sport,
    dport: f.dport,
    proto: f.proto,
    tcpFlags: f.tcpFlags,
    octets: f.bytes - r.bytes,
    packets: f.packets - r.packets,
    startMs,
    endMs,
    ingressIfindex: f.ifindex,
    egressIfindex: f.oif,
    vlan: f.vlan,
    endReason,
  };
}
