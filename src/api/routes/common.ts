/** What the API's route modules share: who asks, and the OpenAPI tags of a route. */
import type { FastifyRequest } from 'fastify';

import type { Actor } from '../../control/controller.js';
import { prefixKey } from '../../util/ip.js';

export const who = (req: FastifyRequest): Actor => ({ actor: req.principal.name, source: `api: ${req.method} ${req.routeOptions.url}` });

export const tag = (t: string, summary: string, extra: Record<string, unknown> = {}) => ({ schema: { tags: [t], summary, ...extra } });

export const params = (names: string[]) => ({
  type: 'object',
  properties: Object.fromEntries(names.map((n) => [n, { type: 'string' }])),
  required: names,
});

/** A prefix as the API takes it: CIDR, an address, or `default` (0.0.0.0/0); its canonical text. */
export const keyOf = (s: string, where: string) => prefixKey(s === 'default' ? '0.0.0.0/0' : s, where);
