/**
 * The daemon's HTTP insight: the one reader of the HTTP stage's ring. Segments go to the
 * tracker, its transactions are named and counted (insight/api-usage.ts) and counted again
 * for Prometheus with bounded labels. Which ports the data plane follows is the config's
 * (control/reconcilers/http.ts); the API names follow `apis:` and `insight.http`, rebuilt when
 * they change (the counts so far are kept under the names they had).
 */
import client from 'prom-client';
import type { Logger } from 'pino';

import type { Config } from '../control/config/schema.js';
import { decodeHttpSegmentAt, httpCounters, openHttpRing } from '../dataplane/http-tables.js';
import type { Dataplane } from '../dataplane/dataplane.js';
import { monoToEpochOffsetNs } from '../util/clock.js';
import { ApiUsage, type NamedTransaction } from '../insight/api-usage.js';
import { HttpTracker } from '../insight/http-tracker.js';
import { OneLabelHistogram } from '../util/one-label-histogram.js';
import type { ApiInsightSource, HttpInsightStats } from '../ops/api-insight.js';

/** Requests counted under one label set since the last scrape. */
interface UncountedRequests {
  labels: Record<'api' | 'version' | 'method' | 'code', string>;
  n: number;
}

/** Methods are bounded for the labels: a token can be anything. */
const LABELLED_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'CONNECT', 'TRACE']);

/** A connection with no segment for this long is ended (its FIN or RST was not seen). */
const IDLE_US = 300_000_000;

const namingOf = (c: Config) => JSON.stringify([c.apis, c.insight.http.versionField, c.insight.http.versionQuery, c.insight.http.maxApis]);

export class HttpInsightService implements ApiInsightSource {
  private reader: ReturnType<typeof openHttpRing> | null = null;
  private tracker: HttpTracker;
  private timer: NodeJS.Timeout | null = null;
  private naming = '';
  private seen: Config | null = null;
  usage: ApiUsage;
  /** Who else takes each named transaction (the anomaly detectors). */
  private readonly listeners = new Set<(n: NamedTransaction) => void>();
  /**
   * Requests counted since the counter below last read them, by their labels: prom-client's
   * inc() hashes and checks the labels of each call, a tenth of this path's time at tens of
   * thousands of requests a second. The counter adds them up when scraped.
   */
  private readonly uncounted = new Map<string, UncountedRequests>();
  /** The last transaction's labels as it had them, and their slot in `uncounted`. */
  private lastCount: { api: string; version: string | null; method: string; status: number | undefined; slot: UncountedRequests } | null =
    null;
  /** Registered into each API server's registry (api/metrics.ts). */
  readonly requests = new client.Counter({
    name: 'pathwise_http_requests_total',
    help: 'HTTP requests seen in the packets, by API, version, method and status code ("none": no answer seen)',
    labelNames: ['api', 'version', 'method', 'code'],
    registers: [],
    collect: () => this.countRequests(),
  });
  /** A histogram of our own: prom-client's checked and hashed the label at each request. */
  readonly duration = new OneLabelHistogram({
    name: 'pathwise_http_request_duration_seconds',
    help: "HTTP requests' latency seen in the packets: request's first byte to response's first byte",
    label: 'api',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  });

  constructor(
    private readonly instance: string,
    private readonly config: () => Config,
    private readonly dp: () => Dataplane,
    private readonly log: Logger,
  ) {
    this.usage = this.newUsage();
    this.tracker = this.newTracker();
  }

  /** Follows the config in force: the names (and the tracker's version field) as it says. */
  private sync(): void {
    const c = this.config();
    if (c === this.seen) return;
    this.seen = c;
    if (namingOf(c) === this.naming) return;
    this.log.info('API names changed: usage is counted under the new names from now on');
    this.usage = this.newUsage();
    // The version field is the tracker's: connections in flight are ended with the old one.
    this.tracker.flush(Date.now() * 1000);
    this.tracker = this.newTracker();
  }

  private newUsage(): ApiUsage {
    const c = this.config();
    this.naming = namingOf(c);
    return new ApiUsage({ patterns: c.apis, versionQuery: c.insight.http.versionQuery, maxTemplates: c.insight.http.maxApis });
  }

  private newTracker(): HttpTracker {
    return new HttpTracker({
      versionField: this.config().insight.http.versionField ?? undefined,
      onTransaction: (t) => {
        const named = this.usage.record(t);
        // As ApiUsage does: the last transaction's label set is compared before a key is made.
        const last = this.lastCount;
        if (last && last.api === named.api && last.version === named.version && last.method === t.method && last.status === t.status)
          last.slot.n++;
        else
          this.lastCount = { api: named.api, version: named.version, method: t.method, status: t.status, slot: this.countRequest(named) };
        if (t.latencyUs !== undefined) this.duration.observe(named.api, t.latencyUs / 1e6);
        for (const fn of this.listeners) fn(named);
      },
    });
  }

  /** Counts a transaction's request under its labels (not yet in the counter: countRequests). */
  private countRequest(named: NamedTransaction): UncountedRequests {
    const { t, api } = named;
    const method = LABELLED_METHODS.has(t.method) ? t.method : 'other';
    const version = named.version ?? '';
    const code = t.status !== undefined ? String(t.status) : 'none';
    const key = `${api}\n${version}\n${method}\n${code}`;
    let u = this.uncounted.get(key);
    if (u) u.n++;
    else this.uncounted.set(key, (u = { labels: { api, version, method, code }, n: 1 }));
    return u;
  }

  /** Adds the requests counted since the last scrape to the counter (its collect()). */
  private countRequests(): void {
    for (const u of this.uncounted.values()) {
      if (u.n) this.requests.inc(u.labels, u.n);
      u.n = 0;
    }
    // The label sets are bounded (names, versions per name, methods, codes), as the counter's
    // own are; a set seen once stays, as it does in the counter.
  }

  start(): void {
    if (this.reader) return;
    const reader = openHttpRing(this.instance);
    this.reader = reader;
    // A batch at a time, as the addon drains it: no promise per segment (tens of thousands a second).
    reader.onBatches((data, ends) => this.consume(data, ends, monoToEpochOffsetNs()));
    this.timer ??= setInterval(() => this.tick(), 5000);
    this.timer.unref();
  }

  /**
   * Follows one batch of the ring's records, read where they lie (record i is
   * data[ends[i - 1] (0 for the first), ends[i])); `offsetNs` makes the data plane's clock
   * wall-clock time for all of them. (bench/http-path.ts drives this with crafted records.)
   */
  consume(data: Buffer, ends: Uint32Array, offsetNs: bigint): void {
    this.sync();
    for (let i = 0, start = 0; i < ends.length; start = ends[i]!, i++) {
      try {
        this.tracker.push(decodeHttpSegmentAt(data, start, ends[i]!, undefined, offsetNs));
      } catch (err) {
        this.log.warn({ err }, 'an HTTP segment could not be followed; skipped');
      }
    }
  }

  private tick(): void {
    this.sync();
    this.tracker.expire(Date.now() * 1000, IDLE_US);
  }

  /** Reads the ring pinned now (after a program upgrade gave it a new map). */
  reopen(): void {
    this.reader?.close();
    this.reader = null;
    this.start();
  }

  /** Calls `fn` with each transaction as it is named; returns the unsubscribe. */
  onTransaction(fn: (n: NamedTransaction) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** The metrics this service keeps, for each API server's registry. */
  get metrics(): client.Metric[] {
    return [this.requests, this.duration.asMetric()];
  }

  stats(): HttpInsightStats {
    const h = this.config().insight.http;
    const ring = httpCounters(this.dp().pipeline.maps);
    return {
      enabled: h.ports.length > 0,
      ports: h.ports,
      ...this.tracker.stats,
      ...ring,
      otherApis: this.usage.namer.overflow,
      apis: this.usage.namer.templateCount + this.config().apis.length,
    };
  }

  stop(): void {
    this.reader?.close();
    this.reader = null;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.tracker.flush(Date.now() * 1000);
  }
}
