/**
 * Anomaly detectors: each interval, what sources, APIs and destinations did (Activity, from
 * HTTP transactions and the flow table) is judged against baselines (baseline.ts) learned from
 * the intervals before. Six detectors:
 *
 *   requestFlood  HTTP requests per second from a source (or, spread over its addresses, a
 *                 prefix: /24, /64)
 *   packetFlood   packets per second from a source (or a prefix), from the flow table
 *   newSources    sources never seen in the last 10 minutes, per second (a spoofed flood
 *                 shows as a burst of them)
 *   errorSpike    the share of an API's answers that are 4xx or 5xx
 *   scan          distinct paths answered 4xx (as templates: /users/{id} is one) plus distinct
 *                 destinations (address and port) of new flows, from one source
 *   synFlood      TCP handshakes left half-open per second, per destination
 *
 * A detector reports what it saw (the number, the level it passed, the baseline's mean) and
 * which sources, if any, a seal would hold: the source itself, or for an API or a destination
 * the one source behind most of it (none when no source stands out, as in a spoofed flood).
 */
import { Baseline, BaselineSet, type BaselineSettings, type Judgement } from './baseline.js';
import { templateOf } from './api-identity.js';
import type { FlowActivity } from './flow-table.js';
import { formatPrefix, maskAddr, parseAddress } from '../util/ip.js';
import { capOldest } from '../util/recency-map.js';
import { Turns } from '../util/turn.js';

export type DetectorName = 'requestFlood' | 'packetFlood' | 'newSources' | 'errorSpike' | 'scan' | 'synFlood';
export const DETECTORS: DetectorName[] = ['requestFlood', 'packetFlood', 'newSources', 'errorSpike', 'scan', 'synFlood'];

export interface Anomaly {
  detector: DetectorName;
  /** A source address, a prefix, an API, a destination, or "all" (newSources). */
  subject: string;
  observed: number;
  threshold: number;
  mean: number;
  unit: string;
  /** Who a seal would hold. */
  sources: string[];
  summary: string;
}

/** One HTTP transaction as the detectors need it. */
export interface SeenRequest {
  source: string;
  api: string;
  path: string;
  status?: number;
}

/** What happened in one interval. */
export interface Activity {
  seconds: number;
  requests: SeenRequest[];
  /** From the flow table; null when it was not read (the first look, or flows off). */
  flows: FlowActivity | null;
}

export type DetectorSettings = Record<DetectorName, { enabled: boolean } & BaselineSettings>;

/** Bounds on what one interval keeps per key (a scanner's paths). */
const MAX_DISTINCT = 10_000;
/** How long a source stays known (newSources). */
const KNOWN_MS = 10 * 60_000;
const MAX_KNOWN = 1_000_000;
/** A contributor stands out (a seal on it) when it is behind at least this share. */
const STANDS_OUT = 0.5;

const prefixOf = (source: string): string => {
  const a = parseAddress(source);
  const plen = a.family === 4 ? 24 : 64;
  return formatPrefix({ family: a.family, addr: maskAddr(a.addr, plen), plen });
};

const add = <K>(m: Map<K, number>, k: K, n = 1) => m.set(k, (m.get(k) ?? 0) + n);

/** The key with the largest count, if it holds at least STANDS_OUT of the total. */
function standsOut(counts: Map<string, number>): string[] {
  let top: string | null = null;
  let topN = 0;
  let total = 0;
  for (const [k, n] of counts) {
    total += n;
    if (n > topN) [top, topN] = [k, n];
  }
  return top !== null && topN >= STANDS_OUT * total ? [top] : [];
}

/** What the daemon's anomaly service counts (daemon/anomaly-service.ts; /metrics reads it). */
export interface AnomalyStats {
  intervals: number;
  anomalies: number;
  seals: number;
  requestsSkipped: number;
  /** Anomalies left to a later interval: more than the service acts on in one. */
  deferred: number;
  lastIntervalMs: number;
}

export class AnomalyDetectors {
  private readonly requestRate: BaselineSet;
  private readonly requestRatePrefix: BaselineSet;
  private readonly packetRate: BaselineSet;
  private readonly packetRatePrefix: BaselineSet;
  private readonly newSourceRate: Baseline;
  private readonly errorShare: BaselineSet;
  private readonly scanWidth: BaselineSet;
  private readonly halfOpenRate: BaselineSet;
  private readonly known = new Map<string, number>();

  constructor(private readonly s: DetectorSettings) {
    this.requestRate = new BaselineSet(s.requestFlood);
    this.requestRatePrefix = new BaselineSet(s.requestFlood);
    this.packetRate = new BaselineSet(s.packetFlood);
    this.packetRatePrefix = new BaselineSet(s.packetFlood);
    this.newSourceRate = new Baseline(s.newSources);
    this.errorShare = new BaselineSet(s.errorSpike);
    this.scanWidth = new BaselineSet(s.scan);
    this.halfOpenRate = new BaselineSet(s.synFlood);
  }

  /**
   * Judges one interval. A spoofed flood brings a million sources in one; the walks over them
   * give the event loop its turns (~3 s of work then, not one hold).
   */
  async examine(a: Activity, now = Date.now()): Promise<Anomaly[]> {
    const out: Anomaly[] = [];
    const sec = Math.max(a.seconds, 0.001);
    const on = (d: DetectorName) => this.s[d].enabled;
    const turns = new Turns();
    let step = 0;

    // ---- floods: per source, then per prefix where no single source explains it -----------
    const floods = async (
      detector: 'requestFlood' | 'packetFlood',
      perSource: Map<string, number>,
      own: BaselineSet,
      prefixes: BaselineSet,
      unit: string,
    ) => {
      const rates = new Map<string, number>();
      for (const [k, n] of perSource) {
        if (turns.due(step++)) await turns.take();
        rates.set(k, n / sec);
      }
      const abnormal = new Set<string>();
      for (const [src, j] of await own.judgeAll(rates, turns)) {
        abnormal.add(prefixOf(src));
        out.push(this.report(detector, src, rates.get(src)!, j, unit, [src], `${fmt(rates.get(src)!)} ${unit} from ${src}`));
      }
      const byPrefix = new Map<string, number>();
      const top = new Map<string, number>(); // each prefix's busiest source
      for (const [src, r] of rates) {
        if (turns.due(step++)) await turns.take();
        const p = prefixOf(src);
        add(byPrefix, p, r);
        if (r > (top.get(p) ?? 0)) top.set(p, r);
      }
      for (const [p, j] of await prefixes.judgeAll(byPrefix, turns)) {
        if (abnormal.has(p)) continue;
        // One source explains it when the prefix without that source is normal: a source
        // under its own threshold (a new one is judged against all sources) must not get its
        // neighbours sealed with it. A prefix is blamed for a rise spread over its addresses.
        if (byPrefix.get(p)! - top.get(p)! <= j.threshold) continue;
        out.push(this.report(detector, p, byPrefix.get(p)!, j, unit, [p], `${fmt(byPrefix.get(p)!)} ${unit} from the addresses of ${p}`));
      }
    };
    if (on('requestFlood')) {
      const perSource = new Map<string, number>();
      for (const r of a.requests) add(perSource, r.source);
      await floods('requestFlood', perSource, this.requestRate, this.requestRatePrefix, 'requests/s');
    }
    if (on('packetFlood') && a.flows) await floods('packetFlood', a.flows.packets, this.packetRate, this.packetRatePrefix, 'packets/s');

    // ---- new sources -------------------------------------------------------------------------
    if (on('newSources')) {
      const fresh = new Set<string>();
      const sources = [...a.requests.map((r) => r.source), ...(a.flows ? a.flows.packets.keys() : [])];
      for (const src of sources) {
        if (turns.due(step++)) await turns.take();
        const last = this.known.get(src);
        if (last === undefined || now - last > KNOWN_MS) fresh.add(src);
        this.known.delete(src);
        this.known.set(src, now);
      }
      capOldest(this.known, MAX_KNOWN);
      const rate = fresh.size / sec;
      const j = this.newSourceRate.judge(rate);
      if (j.abnormal) {
        const byPrefix = new Map<string, number>();
        for (const src of fresh) add(byPrefix, prefixOf(src));
        const top = [...byPrefix].sort((x, y) => y[1] - x[1]).slice(0, 5);
        out.push(
          this.report(
            'newSources',
            'all',
            rate,
            j,
            'new sources/s',
            standsOut(byPrefix),
            `${fresh.size} new sources in ${fmt(sec)}s, most from ${top.map(([p, n]) => `${p} (${n})`).join(', ')}`,
          ),
        );
      }
    }

    // ---- error spikes per API ------------------------------------------------------------------
    if (on('errorSpike')) {
      const total = new Map<string, number>();
      const errors = new Map<string, Map<string, number>>();
      for (const r of a.requests) {
        if (r.status === undefined) continue;
        add(total, r.api);
        if (r.status < 400) continue;
        let bySrc = errors.get(r.api);
        if (!bySrc) errors.set(r.api, (bySrc = new Map()));
        add(bySrc, r.source);
      }
      const share = new Map([...total].map(([api, n]) => [api, [...(errors.get(api)?.values() ?? [])].reduce((x, y) => x + y, 0) / n]));
      for (const [api, j] of await this.errorShare.judgeAll(share, turns)) {
        // A share of a handful of answers says little: at least 20 errors in the interval.
        const errs = [...(errors.get(api)?.values() ?? [])].reduce((x, y) => x + y, 0);
        if (errs < 20) continue;
        out.push(
          this.report(
            'errorSpike',
            api,
            share.get(api)!,
            j,
            'error share',
            standsOut(errors.get(api)!),
            `${errs} of ${total.get(api)} answers of ${api} were 4xx/5xx`,
          ),
        );
      }
    }

    // ---- scans ----------------------------------------------------------------------------------
    if (on('scan')) {
      const width = new Map<string, Set<string>>();
      const touch = (src: string, what: string) => {
        let set = width.get(src);
        if (!set) width.set(src, (set = new Set()));
        if (set.size < MAX_DISTINCT) set.add(what);
      };
      for (const r of a.requests)
        if (r.status !== undefined && r.status >= 400 && r.status < 500) touch(r.source, `path ${templateOf(r.path)}`);
      if (a.flows) for (const [src, dsts] of a.flows.newDestinations) for (const d of dsts) touch(src, `to ${d}`);
      const counts = new Map([...width].map(([src, set]) => [src, set.size]));
      for (const [src, j] of await this.scanWidth.judgeAll(counts, turns)) {
        const kinds = [...width.get(src)!];
        const paths = kinds.filter((k) => k.startsWith('path ')).length;
        out.push(
          this.report(
            'scan',
            src,
            counts.get(src)!,
            j,
            'distinct targets',
            [src],
            `${src} tried ${paths} distinct paths (4xx) and ${kinds.length - paths} new destinations in ${fmt(sec)}s`,
          ),
        );
      }
    }

    // ---- SYN floods ----------------------------------------------------------------------------
    if (on('synFlood') && a.flows) {
      const rates = new Map([...a.flows.halfOpen].map(([dst, bySrc]) => [dst, [...bySrc.values()].reduce((x, y) => x + y, 0) / sec]));
      for (const [dst, j] of await this.halfOpenRate.judgeAll(rates, turns)) {
        const bySrc = a.flows.halfOpen.get(dst)!;
        out.push(
          this.report(
            'synFlood',
            dst,
            rates.get(dst)!,
            j,
            'half-open handshakes/s',
            standsOut(bySrc),
            `${fmt(rates.get(dst)!)} handshakes/s to ${dst} left half-open, from ${bySrc.size} sources`,
          ),
        );
      }
    }
    return out;
  }

  private report(
    detector: DetectorName,
    subject: string,
    observed: number,
    j: Judgement,
    unit: string,
    sources: string[],
    what: string,
  ): Anomaly {
    return {
      detector,
      subject,
      observed,
      threshold: j.threshold,
      mean: j.mean,
      unit,
      sources,
      summary: `${detector}: ${what} (normal ${fmt(j.mean)}, threshold ${fmt(j.threshold)})`,
    };
  }
}

const fmt = (n: number) => (Number.isFinite(n) ? (n >= 100 ? n.toFixed(0) : n >= 1 ? n.toFixed(1) : n.toFixed(3)) : String(n));
