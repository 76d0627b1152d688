/**
 * The operations asked of a daemon (src/ops/operations.ts), one API request each: what the CLI
 * does when a daemon serves the instance, or with --server. Changes become edits of the
 * daemon's config, answered with its proposal; streams (capture, events) come over HTTP and
 * WebSocket.
 */
import type { ApiUsageReport, ApiVersionsReport } from '../ops/api-insight.js';
import type { RecentTransaction, UsageDimension } from '../insight/api-usage.js';
import type { PathDecisionRecord } from '../control/history.js';
import type { PathGroupView } from '../control/path-manager.js';
import type { Decision, DecisionBatch, DecisionResult } from '../control/decisions.js';
import type { AuditRecord } from '../control/audit.js';
import { createInterface } from 'node:readline';
import { StringDecoder } from 'node:string_decoder';

import { configLimiterOf, configRouteOf, configRuleOf, configServiceOf, type ConfigService } from '../control/config/forms.js';
import type { ServiceRow } from '../dataplane/service-table.js';
import type { ServiceSpec } from '../lb/service.js';
import type { Config } from '../control/config/schema.js';
import type { ProposeResult } from '../control/controller.js';
import type { HistoryEntry } from '../control/history.js';
import type { BlockEntry } from '../filter/blocklist.js';
import type { LookupResult } from '../routing/route.js';
import { PwError } from '../errors.js';
import type { Limiter, LimiterSpec } from '../filter/limiter.js';
import type { Rule, RuleSpec } from '../filter/rule.js';
import { captureRecordFromJson, type CapturedRecord, type CapturedRecordJson } from '../insight/capture-record.js';
import type { PacketEvent } from '../insight/events.js';
import type { FlowsReport, StatsReport, SummaryReport, TalkersReport } from '../ops/insight.js';
import type {
  AttachResult,
  AuditRequest,
  CaptureRequest,
  DecisionQuery,
  EventsRequest,
  NeighborRow,
  NeighborSyncResult,
  Operations,
  RouteQuery,
  RouteRow,
  RuleRow,
  StatusReport,
  StreamHooks,
  Written,
} from '../ops/operations.js';
import type { RouteSpec, RouteView } from '../routing/route.js';
import { formatPrefix, type Prefix } from '../util/ip.js';
import type { ApiClient } from './api-client.js';
import type { AttachMode } from '../dataplane/dataplane.js';

/** A query string of the parameters given (none: empty). */
function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

const proposal = <T>(p: ProposeResult): Written<T> => ({ via: 'daemon', proposal: p });

/** Entries per request of a paged list: the daemon's maximum page (src/api/paging.ts). */
const PAGE = 100_000;
export class RemoteOperations implements Operations {
  readonly mode = 'daemon';

  constructor(
    private readonly client: ApiClient,
    private readonly instance: string,
  ) {}

  get where(): string {
    return this.client.where;
  }

  private get<T>(path: string): Promise<T> {
    return this.client.request<T>('GET', path);
  }

  // ---- interfaces ----------------------------------------------------------------------

  async attach(ifaces: string[], opts: { mode: AttachMode }): Promise<Written<AttachResult>> {
    // One request, one version: all of them or none.
    return proposal(await this.client.request<ProposeResult>('POST', '/v1/interfaces', { names: ifaces, mode: opts.mode }));
  }

  async detach(ifaces: string[]): Promise<Written<{ name: string; detached: boolean }[]>> {
    return proposal(await this.client.request<ProposeResult>('DELETE', '/v1/interfaces', { names: ifaces }));
  }

  async down(): Promise<never> {
    throw new PwError('PW_ERR_EXISTS', `a daemon serves instance '${this.instance}'`, {
      hint: 'stop it first (its data plane keeps forwarding until down)',
    });
  }

  // ---- routes ------------------------------------------------------------------------------

  async addRoute(spec: RouteSpec, replace: boolean): Promise<Written<RouteView>> {
    return proposal(await this.client.request<ProposeResult>('POST', '/v1/routes', { route: configRouteOf(spec), replace }));
  }

  async deleteRoute(prefix: Prefix): Promise<Written<RouteView>> {
    return proposal(await this.client.request<ProposeResult>('DELETE', `/v1/routes/${encodeURIComponent(formatPrefix(prefix))}`));
  }

  listRoutes(q: RouteQuery): Promise<RouteRow[]> {
    const query = new URLSearchParams();
    if (q.family) query.set('family', String(q.family));
    if (q.user) query.set('user', 'true');
    if (q.stats) query.set('stats', 'true');
    return this.pages('/v1/routes', query);
  }

  /** GET /v1/routes?stream=true: NDJSON read as it comes. */
  async eachRoute(q: RouteQuery, rows: (chunk: RouteRow[]) => void): Promise<number> {
    let rest = '';
    const text = new StringDecoder('utf8'); // a character may straddle two pieces
    return this.routeLines(q, (data) => {
      const lines = (rest + text.write(data)).split('\n');
      rest = lines.pop()!;
      if (lines.length) rows(lines.map((l) => JSON.parse(l) as RouteRow));
    });
  }

  /** The NDJSON as a JSON array, the rows' bytes passed through: a separator goes before each
   * row but the first, written when the row's first byte arrives. */
  async routesJson(q: RouteQuery, write: (piece: Buffer) => void): Promise<number> {
    let first = true;
    let atRowStart = true;
    write(Buffer.from('['));
    const n = await this.routeLines(q, (data) => {
      const out = Buffer.allocUnsafe(2 * data.length + 2); // a row is at least a byte and its newline
      let o = 0;
      for (let from = 0; from < data.length;) {
        if (atRowStart) {
          if (!first) out[o++] = 44; // ','
          out[o++] = 10;
          first = false;
          atRowStart = false;
        }
        const nl = data.indexOf(10, from);
        const end = nl < 0 ? data.length : nl;
        o += data.copy(out, o, from, end);
        if (nl < 0) break;
        atRowStart = true;
        from = nl + 1;
      }
      write(out.subarray(0, o));
    });
    write(Buffer.from(n ? '\n]\n' : ']\n'));
    return n;
  }

  /** GET /v1/routes?stream=true, its body handed over as it comes; resolves with the rows. */
  private async routeLines(q: RouteQuery, data: (piece: Buffer) => void): Promise<number> {
    const query = new URLSearchParams({ stream: 'true' });
    if (q.family) query.set('family', String(q.family));
    if (q.user) query.set('user', 'true');
    if (q.stats) query.set('stats', 'true');
    const res = await this.client.stream(`/v1/routes?${query}`, 'application/x-ndjson');
    let n = 0;
    let last = 10;
    for await (const piece of res as AsyncIterable<Buffer>) {
      for (let i = piece.indexOf(10); i >= 0; i = piece.indexOf(10, i + 1)) n++;
      if (piece.length) last = piece[piece.length - 1]!;
      data(piece);
    }
    if (!res.complete)
      throw new PwError('PW_ERR_INTERNAL', `the daemon at ${this.where} ended the route listing early (after ${n} routes)`);
    if (last !== 10) throw new PwError('PW_ERR_INTERNAL', `the daemon at ${this.where} sent a route listing cut short`);
    return n;
  }

  /** Every page of a paged list (the daemon serves at most PAGE entries a request). */
  private async pages<T>(path: string, query = new URLSearchParams()): Promise<T[]> {
    const out: T[] = [];
    for (let offset = 0; ; offset += PAGE) {
      query.set('offset', String(offset));
      query.set('limit', String(PAGE));
      const batch = await this.get<T[]>(`${path}?${query}`);
      for (const x of batch) out.push(x); // a page of 100,000 is too many arguments for a spread
      if (batch.length < PAGE) return out;
    }
  }

  async loadRoutes(): Promise<never> {
    throw new PwError('PW_ERR_UNSUPPORTED', 'a daemon owns this instance: bulk-loaded routes would be outside its config', {
      hint: "put the routes in the config (routes:) and 'pathwise apply -f FILE', or stop the daemon",
    });
  }

  lookup(addresses: string[]): Promise<LookupResult[]> {
    return this.get(`/v1/lookup?${new URLSearchParams(addresses.map((a): [string, string] => ['addr', a]))}`);
  }

  // ---- filtering ---------------------------------------------------------------------------

  async addRule(spec: RuleSpec, at?: number): Promise<Written<Rule>> {
    return proposal(
      await this.client.request<ProposeResult>('POST', '/v1/rules', { rule: configRuleOf(spec), ...(at ? { position: at } : {}) }),
    );
  }

  async deleteRule(id: number): Promise<Written<Rule>> {
    return proposal(await this.client.request<ProposeResult>('DELETE', `/v1/rules/${id}`));
  }

  listRules(): Promise<RuleRow[]> {
    return this.get('/v1/rules');
  }

  async addService(spec: ServiceSpec, opts: { replace: boolean; health?: ConfigService['health'] }): Promise<Written<ServiceSpec>> {
    return proposal(
      await this.client.request<ProposeResult>('POST', '/v1/services', {
        name: spec.name,
        service: configServiceOf(spec, opts.health),
        replace: opts.replace,
      }),
    );
  }

  async deleteService(name: string): Promise<Written<ServiceSpec>> {
    return proposal(await this.client.request<ProposeResult>('DELETE', `/v1/services/${encodeURIComponent(name)}`));
  }

  async setBackendWeight(name: string, backend: string, weight: number): Promise<Written<ServiceSpec>> {
    return proposal(
      await this.client.request<ProposeResult>('POST', `/v1/services/${encodeURIComponent(name)}/weight`, { backend, weight }),
    );
  }

  apiUsage(q: { by: UsageDimension[]; since: string }): Promise<ApiUsageReport> {
    return this.get(`/v1/api/usage?by=${q.by.join(',')}&since=${encodeURIComponent(q.since)}`);
  }

  apiVersions(q: { since: string }): Promise<ApiVersionsReport> {
    return this.get(`/v1/api/versions?since=${encodeURIComponent(q.since)}`);
  }

  apiRecent(q: { limit: number }): Promise<{ transactions: RecentTransaction[] }> {
    return this.get(`/v1/api/recent?limit=${q.limit}`);
  }

  listServices(): Promise<ServiceRow[]> {
    return this.get('/v1/services');
  }

  submitDecisions(batch: DecisionBatch): Promise<{ results: DecisionResult[] }> {
    return this.client.request('POST', '/v1/decisions', batch);
  }

  /** Newest first, a page at a time up to q.limit (10,000). */
  async decisions(q: DecisionQuery): Promise<Decision[]> {
    const out: Decision[] = [];
    const seen = new Set<string>();
    const want = q.limit ?? 10_000;
    for (let offset = 0; out.length < want;) {
      const limit = Math.min(PAGE, want - out.length);
      const params = { all: q.all ? 'true' : undefined, source: q.source, target: q.target, offset, limit };
      const batch = await this.get<Decision[]>(`/v1/decisions${query(params)}`);
      offset += batch.length;
      // Decisions that arrive between two pages push the older ones down: one seen is not listed twice.
      for (const d of batch) {
        if (seen.has(d.id) || out.length === want) continue;
        seen.add(d.id);
        out.push(d);
      }
      if (batch.length < limit) break;
    }
    return out;
  }

  revokeDecision(id: string): Promise<Decision> {
    return this.client.request('DELETE', `/v1/decisions/${encodeURIComponent(id)}`);
  }

  audit(q: AuditRequest): Promise<AuditRecord[]> {
    return this.get(
      `/v1/audit${query({ since: q.since, until: q.until, subject: q.subject, kind: q.kinds?.join(','), after: q.afterId, limit: q.limit, last: q.last ? 'true' : undefined })}`,
    );
  }

  async addLimiter(l: LimiterSpec, text: { per: string; blockFor: string }): Promise<Written<Limiter>> {
    return proposal(
      await this.client.request<ProposeResult>('POST', '/v1/ratelimits', { name: l.name, limiter: configLimiterOf(l, text) }),
    );
  }

  async deleteLimiter(name: string): Promise<Written<Limiter>> {
    return proposal(await this.client.request<ProposeResult>('DELETE', `/v1/ratelimits/${encodeURIComponent(name)}`));
  }

  listLimiters(): Promise<Limiter[]> {
    return this.get('/v1/ratelimits');
  }

  async block(prefixes: Prefix[], ttl?: { ms: number; text: string }): Promise<Written<{ blocked: number; ttlMs: number | null }>> {
    return proposal(
      await this.client.request<ProposeResult>('POST', '/v1/blocklist', {
        prefixes: prefixes.map(formatPrefix),
        ...(ttl ? { ttl: ttl.text } : {}),
      }),
    );
  }

  async loadBlocks(): Promise<never> {
    throw new PwError('PW_ERR_UNSUPPORTED', 'a daemon owns this instance: load blocklist files through its config', {
      hint: "add '- { file: PATH }' under blocklists: and 'pathwise apply -f FILE', or stop the daemon",
    });
  }

  async unblock(prefixes: Prefix[]): Promise<Written<{ prefix: string; removed: boolean }[]>> {
    return proposal(await this.client.request<ProposeResult>('DELETE', '/v1/blocklist', { prefixes: prefixes.map(formatPrefix) }));
  }

  listBlocks(): Promise<BlockEntry[]> {
    return this.pages('/v1/blocklist');
  }

  // ---- insight -----------------------------------------------------------------------------

  stats(): Promise<StatsReport> {
    return this.get('/v1/stats/summary');
  }

  flows(q: { top: number; sort: string }): Promise<FlowsReport> {
    return this.get(`/v1/flows?top=${q.top}&sort=${q.sort}`);
  }

  talkers(q: { by: string; top: number }): Promise<TalkersReport> {
    return this.get(`/v1/flows/talkers?by=${q.by}&top=${q.top}`);
  }

  summary(): Promise<SummaryReport> {
    return this.get('/v1/flows/summary');
  }

  neighbors(): Promise<NeighborRow[]> {
    return this.get('/v1/neighbors');
  }

  syncNeighbors(): Promise<NeighborSyncResult> {
    return this.client.request('POST', '/v1/neighbors/sync');
  }

  async watchNeighbors(): Promise<never> {
    throw new PwError('PW_ERR_UNSUPPORTED', `the daemon at ${this.where} follows the kernel's neighbours by itself`, {
      hint: "'pathwise neigh list' shows the table it keeps",
    });
  }

  /** The daemon's GET /v1/capture as NDJSON. */
  async capture(req: CaptureRequest, hooks: StreamHooks<CapturedRecord>): Promise<{ captured: number; lost: number }> {
    const q = new URLSearchParams({ filter: req.expression, point: req.point, snaplen: String(req.snap), format: 'ndjson' });
    if (req.iface) q.set('interface', req.iface);
    if (req.count) q.set('count', String(req.count));
    if (req.duration) q.set('duration', String(req.duration));
    const res = await this.client.stream(`/v1/capture?${q}`, 'application/x-ndjson');
    // Hanging up ends the capture in the daemon.
    const hangUp = () => res.destroy();
    hooks.signal.addEventListener('abort', hangUp, { once: true });
    hooks.started(this.where);
    let captured = 0;
    const lines = createInterface({ input: res, crlfDelay: Infinity });
    // readline ends on the stream's end; a destroyed stream only closes.
    res.once('close', () => lines.close());
    try {
      for await (const line of lines) {
        if (!line) continue;
        hooks.item(captureRecordFromJson(JSON.parse(line) as CapturedRecordJson));
        captured++;
      }
    } catch (e) {
      // Our own hang-up (Ctrl-C, --duration) ends the stream early; anything else is a failure.
      if (!res.destroyed) throw e;
    } finally {
      hooks.signal.removeEventListener('abort', hangUp);
    }
    // The daemon's totals come as trailers when it ended the stream; after a hang-up, ours.
    return { captured: Number(res.trailers['pathwise-captured'] ?? captured), lost: Number(res.trailers['pathwise-lost'] ?? 0) };
  }

  /** The daemon's GET /v1/events WebSocket. */
  async events(req: EventsRequest, hooks: StreamHooks<PacketEvent>): Promise<{ lost: number }> {
    if (req.sample !== undefined || req.drops) {
      throw new PwError('PW_ERR_USAGE', '--sample and --drops change what the pipeline sends; with a daemon running, that is its config', {
        hint: 'set insight.sampleRate and insight.dropEvents in the config (then pathwise apply)',
      });
    }
    const ws = await this.client.websocket(`/v1/events${req.kinds ? `?kind=${req.kinds.join(',')}` : ''}`);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) =>
        reject(
          new PwError(
            res.statusCode === 401 ? 'PW_ERR_AUTH' : 'PW_ERR_UNREACHABLE',
            `the daemon refused the event stream (HTTP ${res.statusCode})`,
          ),
        ),
      );
      ws.once('error', (e) => reject(new PwError('PW_ERR_UNREACHABLE', `cannot open the event stream at ${this.where}: ${e.message}`)));
    });
    hooks.started(this.where);
    let n = 0;
    let lost = 0;
    await new Promise<void>((resolve) => {
      const stop = () => {
        hooks.signal.removeEventListener('abort', stop);
        ws.close();
        resolve();
      };
      hooks.signal.addEventListener('abort', stop, { once: true });
      ws.on('message', (data) => {
        if (n === req.count || hooks.signal.aborted) return; // what was already on its way when the count was reached
        const m = JSON.parse(String(data)) as
          { type: 'event'; event: PacketEvent } | { type: 'lost'; client: number; ring: number } | { type: 'backend' };
        if (m.type === 'lost') {
          lost = m.client + m.ring;
          hooks.lost?.(m);
          return;
        }
        if (m.type !== 'event') return; // backend states: not packet events
        hooks.item(m.event);
        if (++n === req.count) stop();
      });
      ws.once('close', stop);
    });
    return { lost };
  }

  // ---- the daemon's own --------------------------------------------------------------------

  status(): Promise<StatusReport> {
    return this.get('/v1/status');
  }

  proposeConfig(text: string, file: string, dryRun: boolean, files: Record<string, string> = {}): Promise<ProposeResult> {
    return this.client.request('POST', '/v1/config', { text, file, dryRun, files });
  }

  history(limit: number): Promise<HistoryEntry[]> {
    return this.get(`/v1/history?limit=${limit}`);
  }

  paths(): Promise<PathGroupView[]> {
    return this.get('/v1/paths');
  }

  pathDecisions(q: { group?: string; limit: number }): Promise<PathDecisionRecord[]> {
    return this.get(`/v1/paths/decisions?limit=${q.limit}${q.group ? `&group=${encodeURIComponent(q.group)}` : ''}`);
  }

  rollback(version: number): Promise<ProposeResult> {
    return this.client.request('POST', '/v1/rollback', { version });
  }

  async config(at?: number): Promise<Config> {
    return at ? (await this.get<{ config: Config }>(`/v1/history/${at}`)).config : this.get('/v1/config');
  }
}
