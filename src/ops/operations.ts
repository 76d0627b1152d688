/**
 * Every user-visible operation, as one interface. Two implementations: LocalOperations
 * (local.ts) runs them in this process over the instance's pinned data plane, with the
 * functions of this folder; RemoteOperations (src/client/remote.ts) asks the daemon, whose API
 * handlers call the same functions. The CLI picks one, once (src/cli/backend.ts), and its
 * commands never ask which.
 *
 * A change made through a daemon is an edit of its config, recorded as a version: it answers
 * with the proposal (what changed, the version). Made locally, it answers with what it did.
 */
import type { PathDecisionRecord } from '../control/history.js';
import type { PathGroupView, PathManagerStats } from '../control/path-manager.js';
import type { ProposeResult } from '../control/controller.js';
import type { HistoryEntry } from '../control/history.js';
import type { Config } from '../control/config/schema.js';
import type { ImportStats } from '../control/route-import.js';
import type { BlockEntry } from '../filter/blocklist.js';
import type { LookupResult } from '../routing/route.js';
import type { PipelineSettings } from '../dataplane/pipeline.js';
import type { LimiterSpec, Limiter } from '../filter/limiter.js';
import type { Rule, RuleSpec } from '../filter/rule.js';
import type { CapturedRecord, CaptureOptions } from '../insight/capture-record.js';
import type { EventKind, PacketEvent } from '../insight/events.js';
import type { FlowSort, TalkerBy } from '../insight/flow-table.js';
import type { RouteSpec, RouteView } from '../routing/route.js';
import type { RouteBatch } from '../routing/route-syntax.js';
import type { AttachMode } from '../dataplane/dataplane.js';
import type { Prefix } from '../util/ip.js';
import type { ServiceSpec } from '../lb/service.js';
import type { ServiceRow } from '../dataplane/service-table.js';
import type { ConfigService } from '../control/config/forms.js';
import type { FlowsReport, StatsReport, SummaryReport, TalkersReport } from './insight.js';
import type { ApiUsageReport, ApiVersionsReport } from './api-insight.js';
import type { RecentTransaction, UsageDimension } from '../insight/api-usage.js';
import type { Decision, DecisionBatch, DecisionResult } from '../control/decisions.js';
import type { AuditKind, AuditRecord } from '../control/audit.js';

/** What `pathwise decision list` and GET /v1/decisions ask. */
export interface DecisionQuery {
  /** Ended decisions too (revoked, expired, unblocks), kept for 7 days. */
  all?: boolean;
  source?: string;
  target?: string;
  /** At most this many, newest first (default 10,000). */
  limit?: number;
}

/** What `pathwise audit` and GET /v1/audit ask (times as durations back, or ISO 8601). */
export interface AuditRequest {
  since?: string;
  until?: string;
  subject?: string;
  kinds?: AuditKind[];
  afterId?: number;
  limit?: number;
  /** The newest `limit` records rather than the oldest. */
  last?: boolean;
}

export type { ProposeResult };
export { formatChange, type ChangeSummary } from '../control/reconcile.js';

/** What a change answers: through a daemon, its proposal; locally, what was done. */
export type Written<T> = { via: 'daemon'; proposal: ProposeResult } | { via: 'local'; result: T };

export interface RouteQuery {
  family?: 4 | 6;
  /** Only routes the user added (not the host's own). */
  user?: boolean;
  /** With packets and bytes forwarded by each route. */
  stats?: boolean;
}

export type RouteRow = RouteView & { packets?: number; bytes?: number };

export interface RuleRow {
  position: number;
  id: number;
  text: string;
  packets: number;
  bytes: number;
  /** The interface the rule names does not exist: the rule matches nothing until it does. */
  missingInterface?: string;
}

export interface AttachedInterface {
  name: string;
  ifindex: number;
  mode: 'native' | 'generic' | 'tc';
  already: boolean;
  replaced: boolean;
  fallbackReason?: string;
  /** What could not be made as the pipeline needs it (a veth peer's VLAN offload elsewhere). */
  notes: string[];
}

export interface AttachResult {
  /** This call loaded the pipeline. */
  loaded: boolean;
  settings: PipelineSettings;
  interfaces: AttachedInterface[];
}

export interface LoadRoutesResult {
  added: number;
  replaced: number;
  /** Gateways the kernel could not resolve in time: their routes go to the kernel until it does. */
  unresolvedGateways: { via: string; dev: string }[];
  /** Parse and install, not the pipeline's load. */
  seconds: number;
}

export interface NeighborRow {
  ifindex: number;
  dev: string;
  addr: string;
  mac: string;
}

export interface NeighborSyncResult {
  set: number;
  removed: number;
  unresolvedGateways: { via: string; dev: string }[];
}

export interface StatusReport {
  instance: string;
  version: number;
  progId: number;
  objectHash: string | null;
  settings: PipelineSettings;
  interfaces: { name: string; ifindex: number; mode: string }[];
  routes: number;
  rules: number;
  /** Routes imported from the kernel's tables (config `import:`). */
  imports?: ImportStats;
  paths?: PathManagerStats;
  pid: number;
  uptimeSeconds: number;
  [k: string]: unknown;
}

export interface CaptureRequest extends CaptureOptions {
  count?: number;
  /** Seconds. */
  duration?: number;
}

export interface EventsRequest {
  kinds?: EventKind[];
  count?: number;
  /** Without a daemon: also sample 1 packet in N while this runs. */
  sample?: number;
  /** Without a daemon: also send every dropped packet while this runs. */
  drops?: boolean;
}

/** Hooks of a stream (capture, events): `started` says where it reads from, once it does. */
export interface StreamHooks<T> {
  started(where: string): void;
  item(x: T): void;
  /** Losses as they are noticed (events: this client too slow; ring: the kernel ring full). */
  lost?(what: { client: number; ring: number }): void;
  signal: AbortSignal;
}

export interface Operations {
  readonly mode: 'local' | 'daemon';
  /** Where the operations go, for messages: the instance, or the daemon's address. */
  readonly where: string;

  // ---- interfaces ----------------------------------------------------------------------
  attach(ifaces: string[], opts: { mode: AttachMode; load: Partial<PipelineSettings>; fibGiven: boolean }): Promise<Written<AttachResult>>;
  detach(ifaces: string[]): Promise<Written<{ name: string; detached: boolean }[]>>;
  /** Detaches everywhere and unloads the instance (local only). */
  down(): Promise<{ instance: string; detached: string[]; unloaded: boolean }>;

  // ---- routes ------------------------------------------------------------------------------
  addRoute(spec: RouteSpec, replace: boolean): Promise<Written<RouteView>>;
  deleteRoute(prefix: Prefix): Promise<Written<RouteView>>;
  listRoutes(q: RouteQuery): Promise<RouteRow[]>;
  /** Every route the query selects, handed to `rows` a chunk at a time as they are read (a full
   * table is a million: nothing holds them all); resolves with how many there were. */
  eachRoute(q: RouteQuery, rows: (chunk: RouteRow[]) => void): Promise<number>;
  /** The routes as one JSON array (a row to a line), handed to `write` a piece at a time as
   * they are read (a daemon's rows pass through unparsed); resolves with how many there were. */
  routesJson(q: RouteQuery, write: (piece: Buffer) => void): Promise<number>;
  /** A whole table from a file (local only: a daemon's routes are its config's). */
  loadRoutes(batch: RouteBatch, opts: { replace?: boolean; parseSeconds: number }): Promise<LoadRoutesResult>;
  lookup(addresses: string[]): Promise<LookupResult[]>;

  // ---- filtering ---------------------------------------------------------------------------
  addRule(spec: RuleSpec, at?: number): Promise<Written<Rule>>;
  deleteRule(id: number): Promise<Written<Rule>>;
  listRules(): Promise<RuleRow[]>;
  addLimiter(l: LimiterSpec, text: { per: string; blockFor: string }): Promise<Written<Limiter>>;
  deleteLimiter(name: string): Promise<Written<Limiter>>;
  listLimiters(): Promise<Limiter[]>;
  block(prefixes: Prefix[], ttl?: { ms: number; text: string }): Promise<Written<{ blocked: number; ttlMs: number | null }>>;
  /** A whole blocklist from a file (local only). */
  loadBlocks(prefixes: Prefix[], ttlMs?: number): Promise<{ blocked: number; seconds: number }>;
  unblock(prefixes: Prefix[]): Promise<Written<{ prefix: string; removed: boolean }[]>>;
  listBlocks(): Promise<BlockEntry[]>;

  // ---- services ----------------------------------------------------------------------------
  /** Adds a service (`replace`: or changes the one of that name); `health`: the daemon's checks of its backends. */
  addService(spec: ServiceSpec, opts: { replace: boolean; health?: ConfigService['health'] }): Promise<Written<ServiceSpec>>;
  deleteService(name: string): Promise<Written<ServiceSpec>>;
  /** A new weight for one backend (ADDR:PORT); 0 drains it: no new connections, established ones stay. */
  setBackendWeight(name: string, backend: string, weight: number): Promise<Written<ServiceSpec>>;
  listServices(): Promise<ServiceRow[]>;

  // ---- API insight (the daemon's counts only) ------------------------------------------------
  apiUsage(q: { by: UsageDimension[]; since: string }): Promise<ApiUsageReport>;
  apiVersions(q: { since: string }): Promise<ApiVersionsReport>;
  apiRecent(q: { limit: number }): Promise<{ transactions: RecentTransaction[] }>;

  // ---- insight -----------------------------------------------------------------------------
  stats(): Promise<StatsReport>;
  flows(q: { top: number; sort: FlowSort }): Promise<FlowsReport>;
  talkers(q: { by: TalkerBy; top: number }): Promise<TalkersReport>;
  summary(): Promise<SummaryReport>;
  neighbors(): Promise<NeighborRow[]>;
  /** Resolves the routes' gateways and copies the kernel's neighbours into the data plane. */
  syncNeighbors(): Promise<NeighborSyncResult>;
  /** Follows the kernel's neighbours until `signal` (local only; a daemon always does). */
  watchNeighbors(report: (r: { set: number; removed: number }) => void, signal: AbortSignal): Promise<void>;
  capture(req: CaptureRequest, hooks: StreamHooks<CapturedRecord>): Promise<{ captured: number; lost: number }>;
  events(req: EventsRequest, hooks: StreamHooks<PacketEvent>): Promise<{ lost: number }>;

  // ---- the daemon's own (a local backend says none runs) -----------------------------------
  status(): Promise<StatusReport>;
  /** A whole config (its text), with the contents of the files it names (`files`, by name as written). */
  proposeConfig(text: string, file: string, dryRun: boolean, files?: Record<string, string>): Promise<ProposeResult>;
  history(limit: number): Promise<HistoryEntry[]>;
  /** Steered nexthop groups (config `paths:`): each path's measured quality and share. */
  paths(): Promise<PathGroupView[]>;
  /** Path decisions, newest first (their own audit table, not config versions). */
  pathDecisions(q: { group?: string; limit: number }): Promise<PathDecisionRecord[]>;
  /** Blocks and seals from gateways, operators and detectors (operational state, audited). */
  submitDecisions(batch: DecisionBatch): Promise<{ results: DecisionResult[] }>;
  decisions(q: DecisionQuery): Promise<Decision[]>;
  revokeDecision(id: string): Promise<Decision>;
  /** The audit log, oldest first. */
  audit(q: AuditRequest): Promise<AuditRecord[]>;
  rollback(version: number): Promise<ProposeResult>;
  /** The config in force (tokens redacted), or that of an earlier version. */
  config(at?: number): Promise<Config>;
}
