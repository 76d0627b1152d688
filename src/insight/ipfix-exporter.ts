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
import { nextTurn, Turns } from '../util/turn.js';
import { KEY_WORDS, type FlowIndex } from './flow-index.js';
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

/**
 * What has been reported of each flow of the last pass, by the flow's position in that pass's
 * snapshot (found by key with its index): typed arrays, not an object per flow.
 */
interface Reported {
  index: FlowIndex;
  packets: Float64Array;
  bytes: Float64Array;
  /** Start of the open record (ns, CLOCK_MONOTONIC); NaN while no record is open. */
  startNs: Float64Array;
}

/** Records encoded and sent at a time: the messages of a full table are not all held at once. */
const RECORDS_PER_SEND = 1024;
/** Messages sent between two turns of the event loop (sends complete without giving it one). */
const MESSAGES_PER_TURN = 64;

/** Capture time of a flow, for replays: the table's clock is the replay's, not the capture's. */
export type FlowTimes = (id: string) => { firstMs: number; lastMs: number } | undefined;

export class IpfixExporter {
  /** One transport session per collector: its own socket, sequence numbers and templates. */
  private readonly sessions: { socket: Socket; encoder: IpfixEncoder; collector: Collector; templatesAt: number | null }[];
  private reported: Reported | null = null;
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
    const n = snap.count;
    const index = await snap.index();
    const prev = this.reported;
    const next: Reported = { index, packets: new Float64Array(n), bytes: new Float64Array(n), startNs: new Float64Array(n).fill(NaN) };
    // Flows of the last pass still in the table; the others left it (LRU eviction).
    const stayed = new Uint8Array(prev?.packets.length ?? 0);
    let due: IpfixFlow[] = [];
    let sent = 0;
    let lastJ = -1;
    const turns = new Turns();
    for (let i = 0; i < n; i++) {
      if (turns.due(i)) await turns.take();
      const packets = snap.packetsAt(i);
      const j = prev ? prev.index.find(index.words, i * KEY_WORDS, lastJ + 1) : -1;
      if (j >= 0) stayed[(lastJ = j)] = 1;
      // Fewer packets than reported: the flow was evicted and has started again.
      if (j >= 0 && packets >= prev!.packets[j]!) {
        next.packets[i] = prev!.packets[j]!;
        next.bytes[i] = prev!.bytes[j]!;
        next.startNs[i] = prev!.startNs[j]!;
      } else next.startNs[i] = snap.firstNsAt(i);
      if (packets === next.packets[i]) continue;
      const lastNs = snap.lastNsAt(i);
      // The first packet after a record closed is not timed by the table; the first
      // export pass that sees it bounds it (to within one pass).
      if (Number.isNaN(next.startNs[i])) next.startNs[i] = lastNs;
      const startNs = next.startNs[i]!;
      const reason = opts.flush
        ? FlowEndReason.FORCED_END
        : nowNs - lastNs >= this.opts.idleTimeoutMs * 1e6
          ? FlowEndReason.IDLE_TIMEOUT
          : nowNs - startNs >= this.opts.activeTimeoutMs * 1e6
            ? FlowEndReason.ACTIVE_TIMEOUT
            : 0;
      if (!reason) continue;
      const f = snap.counters(i);
      const t = opts.times?.(f.id);
      due.push(record(f, next.packets[i]!, next.bytes[i]!, reason, t ? t.firstMs : wall(startNs), t ? t.lastMs : wall(f.lastNs)));
      next.packets[i] = f.packets;
      next.bytes[i] = f.bytes;
      next.startNs[i] = NaN;
      if (due.length === RECORDS_PER_SEND) {
        await this.sendFlows(due);
        sent += due.length;
        due = [];
      }
    }
    if (prev) for (let j = 0; j < stayed.length; j++) if (!stayed[j] && !Number.isNaN(prev.startNs[j]!)) this.stats.lostFlows++;
    this.reported = next;
    // Also when nothing is due: the templates may be.
    await this.sendFlows(due);
    return sent + due.length;
  }

  private async sendFlows(due: IpfixFlow[]): Promise<void> {
    await this.send(due.length, (e, time, templates) => e.encode(due, time, templates));
    this.stats.records += due.length;
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
      const messages = encode(s.encoder, exportTime, refresh);
      for (let i = 0; i < messages.length; i++) {
        if (i && i % MESSAGES_PER_TURN === 0) await nextTurn();
        const m = messages[i]!;
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

/** Flow f's record: what it counted since `packets` and `bytes` were reported. */
function record(f: FlowCounters, packets: number, bytes: number, endReason: number, startMs: number, endMs: number): IpfixFlow {
  return {
    family: f.family,
    src: f.src,
    dst: f.dst,
    sport: f.sport,
    dport: f.dport,
    proto: f.proto,
    tcpFlags: f.tcpFlags,
    octets: f.bytes - bytes,
    packets: f.packets - packets,
    startMs,
    endMs,
    ingressIfindex: f.ifindex,
    egressIfindex: f.oif,
    vlan: f.vlan,
    endReason,
  };
}
