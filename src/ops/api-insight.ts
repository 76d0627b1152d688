/**
 * API usage as the operations report it: what the daemon's HTTP insight counted
 * (daemon/http-service.ts), grouped and windowed. Only the daemon holds these counts: with no
 * daemon there is nothing to report (the CLI says so).
 */
import { PwError } from '../errors.js';
import type { ApiUsage, RecentTransaction, UsageDimension, UsageRow, VersionRow } from '../insight/api-usage.js';
import type { HttpTrackerStats } from '../insight/http-tracker.js';

export interface HttpInsightStats extends HttpTrackerStats {
  enabled: boolean;
  ports: number[];
  /** Segments the data plane copied, and those the full ring could not take. */
  segmentsSent: number;
  segmentsLost: number;
  /** Requests named "other": the automatic template cap was reached. */
  otherApis: number;
  apis: number;
}

/** What the daemon's HTTP insight offers the API. */
export interface ApiInsightSource {
  readonly usage: ApiUsage;
  stats(): HttpInsightStats;
}

export const USAGE_DIMENSIONS: UsageDimension[] = ['api', 'version', 'method', 'status', 'host', 'source'];

export interface ApiUsageReport {
  sinceSeconds: number;
  by: UsageDimension[];
  rows: UsageRow[];
  insight: HttpInsightStats;
}

export interface ApiVersionsReport {
  sinceSeconds: number;
  versions: VersionRow[];
}

export function apiUsageReport(src: ApiInsightSource, q: { by: UsageDimension[]; sinceMs: number }): ApiUsageReport {
  if (q.by.includes('source') && q.by.some((d) => d !== 'source' && d !== 'api' && d !== 'version'))
    throw new PwError('PW_ERR_INVALID', `by: source goes with api and version only, not ${q.by.join(',')}`, {
      hint: 'callers are counted per API and version',
    });
  // Grouping by version, method or status is within an API; by source or host alone is not.
  const alone = q.by.length === 1 && (q.by[0] === 'source' || q.by[0] === 'host');
  const by = alone || q.by.includes('api') ? q.by : (['api', ...q.by] as UsageDimension[]);
  return { sinceSeconds: q.sinceMs / 1000, by, rows: src.usage.usage(by, q.sinceMs), insight: src.stats() };
}

export function apiVersionsReport(src: ApiInsightSource, q: { sinceMs: number }): ApiVersionsReport {
  return { sinceSeconds: q.sinceMs / 1000, versions: src.usage.versionsView(q.sinceMs) };
}

export function apiRecentReport(src: ApiInsightSource, q: { limit: number }): { transactions: RecentTransaction[] } {
  return { transactions: src.usage.recent(q.limit) };
}
