/**
 * API usage over time: each HTTP transaction, named by api-identity.ts, counted into 10-second
 * buckets kept for an hour (requests, status classes, latency histogram, bytes, and the
 * callers of each API and version), and the recent transactions themselves. Queries group the
 * buckets of a window by the dimensions asked for. Memory is bounded: API names by the namer's
 * cap, callers per API and version by CALLERS_MAX (the rest counted as "other"), versions per
 * API by VERSIONS_MAX.
 */
import type { HttpTransaction } from './http-tracker.js';
import { ApiNamer, type ApiNamerOptions } from './api-identity.js';

export const BUCKET_MS = 10_000;
export const KEEP_MS = 3_600_000;
const CALLERS_MAX = 1000;
const VERSIONS_MAX = 50;
const RECENT_MAX = 2000;
export const OTHER = 'other';

/** Latency in 1/8-octave bins of microseconds: about 9 % resolution at any scale. */
class LatencyHistogram {
  readonly bins = new Map<number, number>();
  count = 0;
  add(us: number): void {
    const b = us < 1 ? 0 : Math.floor(Math.log2(us) * 8) + 1;
    this.bins.set(b, (this.bins.get(b) ?? 0) + 1);
    this.count++;
  }
  merge(o: LatencyHistogram): void {
    for (const [b, n] of o.bins) this.bins.set(b, (this.bins.get(b) ?? 0) + n);
    this.count += o.count;
  }
  /** The q-quantile in milliseconds (a bin's geometric middle), or null with no samples. */
  quantileMs(q: number): number | null {
    if (!this.count) return null;
    const rank = Math.ceil(q * this.count);
    let seen = 0;
    for (const b of [...this.bins.keys()].sort((x, y) => x - y)) {
      seen += this.bins.get(b)!;
      if (seen >= rank) return b === 0 ? 0 : 2 ** ((b - 0.5) / 8) / 1000;
    }
    return null;
  }
}

interface Cell {
  requests: number;
  /** Requests whose answer was not seen. */
  unanswered: number;
  latency: LatencyHistogram;
  requestBytes: number;
  responseBytes: number;
}

interface CellMemo {
  bucket: Bucket;
  api: string;
  version: string | null;
  method: string;
  status: number | null;
  host: string | null;
  cell: Cell;
  /** The API and version's key in the bucket's callers, and their map there. */
  vk: string;
  callers: Map<string, number>;
}

interface Bucket {
  start: number;
  /** By api, version, method, status, host (tab-joined). */
  cells: Map<string, Cell>;
  /** By api and version: requests per caller address. */
  callers: Map<string, Map<string, number>>;
}

export type UsageDimension = 'api' | 'version' | 'method' | 'status' | 'host' | 'source';

export interface UsageRow {
  api?: string;
  version?: string | null;
  method?: string;
  status?: number | null;
  host?: string | null;
  source?: string;
  requests: number;
  /** Requests per second over the window. */
  rate: number;
  statusClasses: Record<string, number>;
  latencyMs: { p50: number | null; p95: number | null; p99: number | null };
  requestBytes: number;
  responseBytes: number;
  /** The busiest callers (grouped by API and version only: callers are kept per those). */
  topCallers?: { source: string; requests: number }[];
}

export interface VersionRow {
  api: string;
  version: string | null;
  requests: number;
  rate: number;
  callers: number;
  lastSeen: string;
  topCallers: { source: string; requests: number }[];
}

export interface RecentTransaction extends HttpTransaction {
  api: string;
  /** The version as named (path, field or query), or null. */
  apiVersion: string | null;
}

/** A transaction once named: what the metrics count. */
export interface NamedTransaction {
  t: HttpTransaction;
  api: string;
  version: string | null;
}

const statusClass = (s: number | null) => (s === null ? 'none' : `${Math.floor(s / 100)}xx`);
const cellKey = (api: string, version: string | null, method: string, status: number | null, host: string | null) =>
  `${api}\t${version ?? ''}\t${method}\t${status ?? ''}\t${host ?? ''}`;

export class ApiUsage {
  private readonly buckets: Bucket[] = [];
  /**
   * The last RECENT_MAX named transactions, a ring (made RecentTransactions only when asked
   * for, recent()). Each one kept outlives the young generation's next collections, which copy
   * it: a ring of exactly RECENT_MAX keeps no more alive than it must (a list trimmed by halves
   * kept up to twice as many: 0.35 µs a transaction more in bench/http-path.ts).
   */
  private readonly recentRing: (NamedTransaction | undefined)[] = new Array(RECENT_MAX);
  private recentNext = 0;
  private readonly versions = new Map<string, Set<string>>();
  private readonly lastSeen = new Map<string, number>();
  /** The cell the last transaction was counted in, and what it was found by. */
  private lastCell: CellMemo | null = null;
  readonly namer: ApiNamer;
  readonly started = Date.now();

  constructor(opts: ApiNamerOptions = {}) {
    this.namer = new ApiNamer(opts);
  }

  /** Counts a transaction at `nowMs` (its response, or its end, is when it is known). */
  record(t: HttpTransaction, nowMs = Date.now()): NamedTransaction {
    const id = this.namer.identify(t.method, t.uri, t.host, t.apiVersion);
    const version = this.boundVersion(id.api, id.version);
    const b = this.bucketAt(nowMs);
    const status = t.status ?? null;
    // A busy API's transactions come in runs with the same cell: the last one's is compared
    // field by field before any key string is made and hashed.
    let m = this.lastCell;
    if (m?.bucket !== b || m.api !== id.api || m.version !== version || m.method !== t.method || m.status !== status || m.host !== t.host) {
      const key = cellKey(id.api, version, t.method, status, t.host);
      let cell = b.cells.get(key);
      if (!cell) {
        cell = { requests: 0, unanswered: 0, latency: new LatencyHistogram(), requestBytes: 0, responseBytes: 0 };
        b.cells.set(key, cell);
      }
      const vk = `${id.api}\t${version ?? ''}`;
      let callers = b.callers.get(vk);
      if (!callers) b.callers.set(vk, (callers = new Map()));
      m = this.lastCell = { bucket: b, api: id.api, version, method: t.method, status, host: t.host, cell, vk, callers };
    }
    const c = m.cell;
    c.requests++;
    if (t.status === undefined) c.unanswered++;
    if (t.latencyUs !== undefined) c.latency.add(t.latencyUs);
    c.requestBytes += t.requestBytes ?? 0;
    c.responseBytes += t.responseBytes ?? 0;
    const { callers, vk } = m;
    const who = callers.has(t.client) || callers.size < CALLERS_MAX ? t.client : OTHER;
    callers.set(who, (callers.get(who) ?? 0) + 1);
    this.lastSeen.set(vk, nowMs);
    const named = { t, api: id.api, version };
    this.recentRing[this.recentNext++ % RECENT_MAX] = named;
    return named;
  }

  /** Versions per API are capped: a header can carry anything. */
  private boundVersion(api: string, version: string | null): string | null {
    if (version === null) return null;
    let vs = this.versions.get(api);
    if (!vs) this.versions.set(api, (vs = new Set()));
    if (vs.has(version)) return version;
    if (vs.size >= VERSIONS_MAX) return OTHER;
    vs.add(version);
    return version;
  }

  private bucketAt(nowMs: number): Bucket {
    const start = nowMs - (nowMs % BUCKET_MS);
    const last = this.buckets[this.buckets.length - 1];
    if (last && last.start === start) return last;
    const b: Bucket = { start, cells: new Map(), callers: new Map() };
    this.buckets.push(b);
    while (this.buckets.length && this.buckets[0]!.start < nowMs - KEEP_MS) this.buckets.shift();
    return b;
  }

  private window(sinceMs: number, nowMs: number): { buckets: Bucket[]; seconds: number } {
    const from = nowMs - Math.min(sinceMs, KEEP_MS);
    const buckets = this.buckets.filter((b) => b.start + BUCKET_MS > from);
    // The window is what was watched: not longer than the daemon has run.
    const seconds = Math.max(1, (nowMs - Math.max(from, this.started)) / 1000);
    return { buckets, seconds };
  }

  /** Usage in the last `sinceMs`, grouped by `by` (always within an API, except by host). */
  usage(by: UsageDimension[], sinceMs = KEEP_MS, nowMs = Date.now()): UsageRow[] {
    const { buckets, seconds } = this.window(sinceMs, nowMs);
    const rows = new Map<string, UsageRow & { hist: LatencyHistogram; callers: Map<string, number> }>();
    const bySource = by.includes('source');
    const callersFit = by.every((d) => d === 'api' || d === 'version');
    const take = (dims: Record<string, unknown>) => {
      const k = JSON.stringify(dims);
      let r = rows.get(k);
      if (!r) {
        r = {
          ...dims,
          requests: 0,
          rate: 0,
          statusClasses: {},
          latencyMs: { p50: null, p95: null, p99: null },
          requestBytes: 0,
          responseBytes: 0,
          hist: new LatencyHistogram(),
          callers: new Map(),
        };
        rows.set(k, r);
      }
      return r;
    };
    const pick = (all: Record<UsageDimension, unknown>) => Object.fromEntries(by.filter((d) => d !== 'source').map((d) => [d, all[d]]));
    for (const b of buckets) {
      if (bySource) {
        // Callers are kept per API and version: grouped by those and the caller only.
        for (const [vk, callers] of b.callers) {
          const [api, version] = vk.split('\t') as [string, string];
          for (const [source, n] of callers) {
            const dims: Record<string, unknown> = { source };
            if (by.includes('api')) dims.api = api;
            if (by.includes('version')) dims.version = version || null;
            const r = take(dims);
            r.requests += n;
          }
        }
        continue;
      }
      for (const [key, c] of b.cells) {
        const [api, version, method, status, host] = key.split('\t') as [string, string, string, string, string];
        const st = status === '' ? null : Number(status);
        const r = take(pick({ api, version: version || null, method, status: st, host: host || null, source: null }));
        r.requests += c.requests;
        const cls = statusClass(st);
        r.statusClasses[cls] = (r.statusClasses[cls] ?? 0) + c.requests;
        r.hist.merge(c.latency);
        r.requestBytes += c.requestBytes;
        r.responseBytes += c.responseBytes;
      }
      // Callers are kept per API and version: rows split otherwise (by method, status,
      // host) get none rather than another row's.
      if (!callersFit) continue;
      for (const [vk, callers] of b.callers) {
        const [api, version] = vk.split('\t') as [string, string];
        for (const r of rows.values()) {
          if ((r.api !== undefined && r.api !== api) || (r.version !== undefined && (r.version ?? '') !== version)) continue;
          for (const [s, n] of callers) r.callers.set(s, (r.callers.get(s) ?? 0) + n);
        }
      }
    }
    return [...rows.values()]
      .map(({ hist, callers, ...r }) => ({
        ...r,
        rate: r.requests / seconds,
        latencyMs: { p50: hist.quantileMs(0.5), p95: hist.quantileMs(0.95), p99: hist.quantileMs(0.99) },
        ...(callersFit ? { topCallers: top(callers, 5) } : {}),
      }))
      .sort((a, b) => b.requests - a.requests);
  }

  /** Who calls which version of each API, and how often (the last `sinceMs`). */
  versionsView(sinceMs = KEEP_MS, nowMs = Date.now()): VersionRow[] {
    const { buckets, seconds } = this.window(sinceMs, nowMs);
    const acc = new Map<string, Map<string, number>>();
    for (const b of buckets) {
      for (const [vk, callers] of b.callers) {
        let m = acc.get(vk);
        if (!m) acc.set(vk, (m = new Map()));
        for (const [s, n] of callers) m.set(s, (m.get(s) ?? 0) + n);
      }
    }
    return [...acc]
      .map(([vk, callers]) => {
        const [api, version] = vk.split('\t') as [string, string];
        const requests = [...callers.values()].reduce((a, n) => a + n, 0);
        return {
          api,
          version: version || null,
          requests,
          rate: requests / seconds,
          callers: callers.size,
          lastSeen: new Date(this.lastSeen.get(vk) ?? 0).toISOString(),
          topCallers: top(callers, 5),
        };
      })
      .sort((a, b) => a.api.localeCompare(b.api) || (a.version ?? '').localeCompare(b.version ?? '', undefined, { numeric: true }));
  }

  /** The last `limit` transactions, oldest first. */
  recent(limit = 100): RecentTransaction[] {
    const n = Math.min(limit, RECENT_MAX, this.recentNext);
    const out: RecentTransaction[] = [];
    for (let i = this.recentNext - n; i < this.recentNext; i++) {
      const { t, api, version } = this.recentRing[i % RECENT_MAX]!;
      out.push({ ...t, api, apiVersion: version });
    }
    return out;
  }
}

function top(m: Map<string, number>, n: number): { source: string; requests: number }[] {
  return [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([source, requests]) => ({ source, requests }));
}
