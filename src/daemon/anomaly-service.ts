/**
 * The daemon's anomaly detection (config `anomalies:`): HTTP transactions as HTTP insight
 * names them, and each interval a look at the flow table, judged by the detectors
 * (insight/anomaly.ts). What a detector finds becomes a notice (audited; to the webhooks
 * unless the detector's action is 'event'), and with action 'seal', a decision on the sources
 * behind it: blocked or limited for the seal's TTL, doubled for each repeat up to its maxTtl.
 * One anomaly on one subject is told once per cooldown (its seal's length, or a minute), not
 * every interval while it lasts.
 */
import type { Logger } from 'pino';

import type { Config } from '../control/config/schema.js';
import type { Decisions } from '../control/decisions.js';
import type { Notices } from '../control/notices.js';
import type { Dataplane } from '../dataplane/dataplane.js';
import { readFlows } from '../dataplane/insight-tables.js';
import type { FlowCounts } from '../insight/flow-table.js';
import {
  AnomalyDetectors,
  DETECTORS,
  type Anomaly,
  type AnomalyStats,
  type DetectorSettings,
  type SeenRequest,
} from '../insight/anomaly.js';
import type { NamedTransaction } from '../insight/api-usage.js';
import { monoNowNs } from '../util/clock.js';
import { parseDuration } from '../util/duration.js';
import { capOldest } from '../util/recency-map.js';
import { Turns } from '../util/turn.js';

/** Requests kept per interval; beyond it they are counted, not examined (a flood big enough is seen anyway). */
const MAX_REQUESTS = 500_000;
/** A handshake not complete after this is half-open. */
const HALF_OPEN_NS = 1e9;
const COOLDOWN_MS = 60_000;
/**
 * Anomalies acted on (a notice, and a seal where asked) in one interval at most, the most
 * severe first. A flood from 100,000 sources each over its threshold is 100,000 anomalies; each
 * is a transaction, an audit row and a webhook delivery. The rest are acted on in the next
 * intervals, while they last (what is not learned stays abnormal), and counted meanwhile.
 */
const MAX_ACTS = 1000;

export class AnomalyService {
  private detectors: AnomalyDetectors | null = null;
  private settingsKey = '';
  private timer: NodeJS.Timeout | null = null;
  private intervalMs = 0;
  private requests: SeenRequest[] = [];
  private flowsBefore: FlowCounts | null = null;
  private lastLookNs = 0;
  private lastTickMs = 0;
  private busy = false;
  private readonly offenses = new Map<string, number>();
  private readonly quietUntil = new Map<string, number>();
  readonly stats: AnomalyStats = { intervals: 0, anomalies: 0, seals: 0, requestsSkipped: 0, deferred: 0, lastIntervalMs: 0 };

  constructor(
    private readonly config: () => Config,
    private readonly dp: () => Dataplane,
    private readonly decisions: Decisions,
    private readonly notices: Notices,
    private readonly log: Logger,
  ) {}

  /** Takes a named HTTP transaction (HttpInsightService.onTransaction). */
  seeTransaction(n: NamedTransaction): void {
    if (!this.detectors) return;
    if (this.requests.length >= MAX_REQUESTS) {
      this.stats.requestsSkipped++;
      return;
    }
    this.requests.push({
      source: n.t.client,
      api: n.api,
      path: n.t.uri.split('?')[0]!,
      ...(n.t.status !== undefined ? { status: n.t.status } : {}),
    });
  }

  start(): void {
    this.schedule();
  }

  /** Follows the config: detectors (re)built when their settings change, the timer at the interval. */
  private schedule(): void {
    const a = this.config().anomalies;
    const interval = parseDuration(a.interval);
    if (!a.enabled) {
      this.detectors = null;
      this.settingsKey = '';
    } else {
      const key = JSON.stringify([a.warmup, a.alpha, a.detectors]);
      if (key !== this.settingsKey) {
        // New settings, new baselines: what was learned under the old ones is not theirs.
        this.detectors = new AnomalyDetectors(settingsOf(a));
        this.settingsKey = key;
        this.flowsBefore = null;
        this.requests = [];
      }
    }
    if (interval !== this.intervalMs || !this.timer) {
      if (this.timer) clearInterval(this.timer);
      this.intervalMs = interval;
      // Off, it still looks at the config once an interval: turning it on needs no restart.
      this.timer = setInterval(() => void this.tick(), interval);
      this.timer.unref();
      this.lastTickMs = Date.now();
    }
  }

  private async tick(): Promise<void> {
    // A look at a full flow table takes a while (a million flows ~1 s); an interval that comes
    // meanwhile is skipped, and the next look covers both.
    if (this.busy) return;
    this.busy = true;
    const started = Date.now();
    try {
      this.schedule();
      const detectors = this.detectors;
      if (!detectors) return;
      const requests = this.requests;
      this.requests = [];
      const flows = await this.lookAtFlows();
      if (!this.timer) return; // stopped meanwhile: the daemon is closing its stores
      const seconds = (started - this.lastTickMs) / 1000;
      this.lastTickMs = started;
      const anomalies = await detectors.examine({ seconds, requests, flows }, started);
      this.stats.intervals++;
      await this.actOn(anomalies, started);
    } catch (err) {
      this.log.error({ err }, 'anomaly detection failed this interval; it goes on at the next');
    } finally {
      this.stats.lastIntervalMs = Date.now() - started;
      this.busy = false;
    }
  }

  /** The flow table's activity since the last look (none at the first look: it sets the start). */
  private async lookAtFlows() {
    const d = this.config().anomalies.detectors;
    if (!d.packetFlood.enabled && !d.scan.enabled && !d.synFlood.enabled && !d.newSources.enabled) return null;
    const snap = await readFlows(this.dp().pipeline);
    const now = Number(monoNowNs());
    const before = this.flowsBefore;
    this.flowsBefore = await snap.counts();
    const since = this.lastLookNs;
    this.lastLookNs = now;
    return before ? await snap.activity(before, since, HALF_OPEN_NS) : null;
  }

  /** Acts on the interval's anomalies not in their cooldown, the most severe first, at most MAX_ACTS. */
  private async actOn(anomalies: Anomaly[], now: number): Promise<void> {
    const due = anomalies.filter((a) => (this.quietUntil.get(keyOf(a)) ?? 0) <= now);
    if (due.length > MAX_ACTS) {
      due.sort((x, y) => y.observed / Math.max(y.threshold, 1e-9) - x.observed / Math.max(x.threshold, 1e-9));
      this.stats.deferred += due.length - MAX_ACTS;
      this.log.warn(
        { found: due.length, acted: MAX_ACTS },
        `anomaly detection found ${due.length} anomalies in one interval; the ${MAX_ACTS} most severe are acted on now, the others in the next intervals while they last`,
      );
      due.length = MAX_ACTS;
    }
    const turns = new Turns(10, 16); // an act is a transaction and an audit row: ~0.1 ms
    for (let i = 0; i < due.length; i++) {
      if (turns.due(i)) await turns.take();
      if (!this.timer) return; // stopped meanwhile
      this.act(due[i]!, now);
    }
  }

  private act(a: Anomaly, now: number): void {
    const key = keyOf(a);
    const cfg = this.config().anomalies.detectors[a.detector];
    this.stats.anomalies++;
    let sealed: string[] = [];
    let ttlMs = COOLDOWN_MS;
    if (cfg.action === 'seal' && a.sources.length) {
      const offense = (this.offenses.get(key) ?? 0) + 1;
      this.offenses.delete(key); // re-inserted: the map's order is recency, the oldest go first
      this.offenses.set(key, offense);
      capOldest(this.offenses, 100_000);
      ttlMs = Math.min(parseDuration(cfg.seal.maxTtl), parseDuration(cfg.seal.ttl) * 2 ** (offense - 1));
      try {
        const results = this.decisions.submit(
          {
            source: `detector:${a.detector}`,
            decisions: a.sources.map((target) => ({
              action: cfg.seal.action,
              target,
              ttl: ttlMs / 1000,
              ...(cfg.seal.action === 'limit' ? { rate: cfg.seal.rate } : {}),
              reason: a.summary.slice(0, 500),
            })),
          },
          `detector:${a.detector}`,
        );
        // A source in decisions.exempt is detected, not sealed.
        sealed = results.filter((r) => r.status !== 'exempt').map((r) => r.decision.target);
        this.stats.seals += sealed.length;
      } catch (err) {
        this.log.error({ err, anomaly: a }, 'sealing what a detector found failed');
      }
    }
    this.quietUntil.set(key, now + Math.max(ttlMs, COOLDOWN_MS));
    if (this.quietUntil.size > 100_000) {
      for (const [k, t] of this.quietUntil) if (t <= now) this.quietUntil.delete(k);
      capOldest(this.quietUntil, 100_000);
    }
    this.notices.publish({
      kind: 'anomaly',
      event: sealed.length ? 'sealed' : 'detected',
      subject: a.subject,
      actor: `detector:${a.detector}`,
      summary: sealed.length ? `${a.summary}; sealed ${sealed.join(', ')} for ${ttlMs / 1000}s` : a.summary,
      details: { ...a, action: cfg.action, ...(sealed.length ? { sealed, ttlSeconds: ttlMs / 1000 } : {}) },
      webhook: cfg.action !== 'event',
    });
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

/** One anomaly on one subject: what a cooldown and the offense count are kept by. */
const keyOf = (a: Anomaly) => `${a.detector} ${a.subject}`;

function settingsOf(a: Config['anomalies']): DetectorSettings {
  return Object.fromEntries(
    DETECTORS.map((d) => {
      const c = a.detectors[d];
      return [d, { enabled: c.enabled, alpha: a.alpha, sigmas: c.sigmas, factor: c.factor, floor: c.floor, warmup: a.warmup }];
    }),
  ) as DetectorSettings;
}
