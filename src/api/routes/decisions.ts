/**
 * The gateway loop's way in: decisions (block, limit, unblock) applied to the pipeline before
 * the answer, listed and revoked; and the audit log, as JSON or JSON lines.
 */
import type { FastifyInstance } from 'fastify';

import { AUDIT_KINDS, auditJsonLines, type AuditKind } from '../../control/audit.js';
import type { Controller } from '../../control/controller.js';
import type { DecisionBatch, DecisionFilter } from '../../control/decisions.js';
import { DECISION_ACTIONS } from '../../filter/decision.js';
import { ADAPTER_NAMES } from '../../gateway/adapters.js';
import { PwError } from '../../errors.js';
import { auditQueryOf } from '../../ops/audit.js';
import { tag } from './common.js';
import { PAGE } from '../paging.js';
import { BATCH_BODY_LIMIT, LOG_BODY_LIMIT } from '../limits.js';

/** Decisions in one batch at most (a gateway's backlog goes in several). */
export const MAX_BATCH = 10_000;

const decision = {
  type: 'object',
  additionalProperties: false,
  required: ['action', 'target'],
  properties: {
    id: { type: 'string', description: 'idempotency id: the same id again is answered, not applied twice' },
    action: { type: 'string', enum: DECISION_ACTIONS },
    target: { type: 'string', description: 'an address or CIDR prefix' },
    ttl: { type: ['string', 'number'], description: 'a duration (10m) or seconds; default decisions.defaultTtl' },
    rate: { type: 'number', description: 'limit: packets per second for the target as a whole' },
    burst: { type: 'integer', description: 'limit: packets above the rate at once (default: one second of the rate)' },
    api: { type: 'string', description: 'the API it is about (recorded; the pipeline holds the whole source)' },
    reason: { type: 'string', maxLength: 512 },
  },
};

export function registerDecisionRoutes(app: FastifyInstance, ctrl: Controller): void {
  app.post(
    '/v1/decisions',
    {
      bodyLimit: BATCH_BODY_LIMIT,
      ...tag('decisions', 'Apply a batch of block / limit / unblock decisions (all checked first; applied before the answer)', {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['decisions'],
          properties: {
            source: { type: 'string', description: 'which gateway or tool (default: the token name)' },
            decisions: { type: 'array', minItems: 1, maxItems: MAX_BATCH, items: decision },
          },
        },
      }),
    },
    async (req) => ({ results: ctrl.decisions.submit(req.body as DecisionBatch, req.principal.name) }),
  );
  app.get(
    '/v1/decisions',
    tag('decisions', 'Decisions in force, newest first, a page at a time (all=true: ended ones too, kept 7 days)', {
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: { all: { type: 'boolean', default: false }, source: { type: 'string' }, target: { type: 'string' }, ...PAGE },
      },
    }),
    async (req, reply) => {
      const q = req.query as DecisionFilter & { offset: number; limit: number };
      void reply.header('pathwise-total', String(ctrl.decisions.count(q)));
      return ctrl.decisions.list(q);
    },
  );
  app.get(
    '/v1/decisions/:id',
    tag('decisions', 'One decision', { params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] } }),
    async (req) => ctrl.decisions.get((req.params as { id: string }).id),
  );
  app.delete(
    '/v1/decisions/:id',
    tag('decisions', 'Revoke a decision now', { params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] } }),
    async (req) => ctrl.decisions.revoke((req.params as { id: string }).id, req.principal.name),
  );

  // Gateways' HTTP loggers post JSON (an entry, or a batch as an array); log lines come as NDJSON.
  app.addContentTypeParser('application/x-ndjson', { parseAs: 'string' }, (_req, body, done) => done(null, body));
  app.post(
    '/v1/gateway/logs',
    {
      bodyLimit: LOG_BODY_LIMIT,
      ...tag(
        'decisions',
        "A gateway's access log entries (Kong http-log, APISIX http-logger, nginx JSON lines): its rejections become seals",
        {
          querystring: {
            type: 'object',
            additionalProperties: false,
            required: ['format'],
            properties: {
              format: { type: 'string', enum: ADAPTER_NAMES },
              source: { type: 'string', description: 'the gateway (default: the format name)' },
            },
          },
        },
      ),
    },
    async (req) => {
      const q = req.query as { format: string; source?: string };
      const body = req.body;
      const entries = typeof body === 'string' ? body.split('\n').filter((l) => l.trim()) : Array.isArray(body) ? body : [body];
      if (entries.length > MAX_BATCH)
        throw new PwError('PW_ERR_TOO_LARGE', `${entries.length} entries: at most ${MAX_BATCH} per request`, {
          hint: 'post the log in batches',
        });
      return ctrl.gateway.take(q.format, q.source ?? q.format, entries, req.principal.name);
    },
  );
  app.get('/v1/gateway/status', tag('decisions', 'What each gateway posting logs has sent and what it led to'), async () =>
    ctrl.gateway.stats(),
  );

  app.get(
    '/v1/audit',
    tag('audit', 'The audit log, oldest first: decisions, anomalies, config versions, path and backend changes, webhook deliveries', {
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          since: { type: 'string', description: 'a duration back (10m) or an ISO 8601 time' },
          until: { type: 'string' },
          subject: { type: 'string', description: 'a subject, or the start of one' },
          kind: { type: 'string', pattern: `^(${AUDIT_KINDS.join('|')})(,(${AUDIT_KINDS.join('|')}))*$` },
          after: { type: 'integer', minimum: 0, description: 'records after this id' },
          limit: { type: 'integer', minimum: 1, maximum: 100_000, default: 1000 },
          format: { type: 'string', enum: ['json', 'jsonl'], default: 'json' },
        },
      },
    }),
    async (req, reply) => {
      const q = req.query as {
        since?: string;
        until?: string;
        subject?: string;
        kind?: string;
        after?: number;
        limit: number;
        last: boolean;
        format: string;
      };
      const records = ctrl.audit.query(
        auditQueryOf({
          since: q.since,
          until: q.until,
          subject: q.subject,
          kinds: q.kind ? (q.kind.split(',') as AuditKind[]) : undefined,
          afterId: q.after,
          limit: q.limit,
          last: q.last,
        }),
      );
      if (q.format !== 'jsonl') return records;
      return reply.type('application/x-ndjson').send(auditJsonLines(records));
    },
  );
}
