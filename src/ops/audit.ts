/** The audit log's questions as people ask them: times as durations back (10m) or ISO 8601. */
import { PwError } from '../errors.js';
import { AUDIT_KINDS, type AuditKind, type AuditQuery } from '../control/audit.js';
import { parseDuration } from '../util/duration.js';
import type { AuditRequest } from './operations.js';

/** A time: `10m` (that long ago) or an ISO 8601 date. */
export function timeOf(v: string, where: string, now = Date.now()): number {
  if (/^\d{4}-\d{2}-\d{2}/.test(v)) {
    const t = Date.parse(v);
    if (Number.isNaN(t)) throw new PwError('PW_ERR_INVALID', `${where}: '${v}' is not an ISO 8601 time`, { where });
    return t;
  }
  return now - parseDuration(v, where);
}

export function auditQueryOf(r: AuditRequest, now = Date.now()): AuditQuery {
  const kinds = r.kinds ?? [];
  for (const k of kinds)
    if (!AUDIT_KINDS.includes(k))
      throw new PwError('PW_ERR_INVALID', `kind: '${k}' is not one of ${AUDIT_KINDS.join(', ')}`, { where: 'kind' });
  return {
    ...(r.since !== undefined ? { since: timeOf(r.since, 'since', now) } : {}),
    ...(r.until !== undefined ? { until: timeOf(r.until, 'until', now) } : {}),
    ...(r.subject ? { subject: r.subject } : {}),
    ...(kinds.length ? { kinds: kinds as AuditKind[] } : {}),
    ...(r.afterId !== undefined ? { afterId: r.afterId } : {}),
    limit: r.limit ?? 1000,
    ...(r.last ? { last: true } : {}),
  };
}

export { AUDIT_KINDS, auditJsonLines } from '../control/audit.js';
