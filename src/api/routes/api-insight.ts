/** API usage seen in the packets (HTTP insight): by API, version, status, caller; versions; recent transactions. */
import type { FastifyInstance } from 'fastify';

import { PwError } from '../../errors.js';
import type { UsageDimension } from '../../insight/api-usage.js';
import { KEEP_MS } from '../../insight/api-usage.js';
import { apiRecentReport, apiUsageReport, apiVersionsReport, USAGE_DIMENSIONS, type ApiInsightSource } from '../../ops/api-insight.js';
import { parseDuration } from '../../util/duration.js';
import { tag } from './common.js';

const since = { type: 'string', pattern: '^[0-9a-z]+$', default: '1h', description: 'a window up to 1h: 30s, 10m, 1h' };

function sinceMs(v: string): number {
  const ms = parseDuration(v, 'since');
  if (ms <= 0 || ms > KEEP_MS) throw new PwError('PW_ERR_INVALID', `since: ${v} is not within 1s..1h (usage is kept for an hour)`);
  return ms;
}

export function registerApiInsightRoutes(app: FastifyInstance, src: ApiInsightSource): void {
  app.get(
    '/v1/api/usage',
    tag('api insight', 'Requests, rate, status classes, latency percentiles, bytes and top callers, grouped', {
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          by: { type: 'string', pattern: `^(${USAGE_DIMENSIONS.join('|')})(,(${USAGE_DIMENSIONS.join('|')}))*$`, default: 'api' },
          since,
        },
      },
    }),
    async (req) => {
      const q = req.query as { by: string; since: string };
      return apiUsageReport(src, { by: [...new Set(q.by.split(','))] as UsageDimension[], sinceMs: sinceMs(q.since) });
    },
  );
  app.get(
    '/v1/api/versions',
    tag('api insight', 'Who calls which version of each API, and how often', {
      querystring: { type: 'object', additionalProperties: false, properties: { since } },
    }),
    async (req) => apiVersionsReport(src, { sinceMs: sinceMs((req.query as { since: string }).since) }),
  );
  app.get(
    '/v1/api/recent',
    tag('api insight', 'The latest HTTP transactions seen, oldest first', {
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: { limit: { type: 'integer', minimum: 1, maximum: 2000, default: 100 } },
      },
    }),
    async (req) => apiRecentReport(src, req.query as { limit: number }),
  );
  app.get('/v1/api/status', tag('api insight', 'HTTP insight: ports followed, segments, parsed and unparsed counts'), async () =>
    src.stats(),
  );
}
