/** Rules, rate limiters and blocklists. Reads are the operations' (src/ops/); writes edit the config. */
import type { FastifyInstance } from 'fastify';

import { BATCH_BODY_LIMIT } from '../limits.js';
import { page, PAGE } from '../paging.js';

import { RateLimit, Rule } from '../../control/config/schema.js';
import type { Controller } from '../../control/controller.js';
import type { BlockEntry } from '../../filter/blocklist.js';
import * as edits from '../../ops/edits.js';
import { listBlocks, listLimiters, listRules } from '../../ops/filter.js';
import { parseTtl } from '../../util/duration.js';
import { jsonSchema } from '../validate.js';
import { keyOf, params, tag, who } from './common.js';

/** How long a blocklist listing serves the pages after its first. */
const LISTING_KEPT_MS = 10_000;

export function registerFilterRoutes(app: FastifyInstance, ctrl: Controller): void {
  let listing: { at: number; rows: BlockEntry[] } | undefined;
  app.get('/v1/rules', tag('filter', 'Rules in order, with hit counters'), async () => listRules(ctrl.dp()));
  app.post(
    '/v1/rules',
    tag('filter', 'Insert a rule (at position, 1-based; default: last)', {
      body: {
        type: 'object',
        properties: { rule: jsonSchema(Rule), position: { type: 'integer', minimum: 1 } },
        required: ['rule'],
        additionalProperties: false,
      },
    }),
    async (req) => {
      const { rule, position } = req.body as { rule: unknown; position?: number };
      return ctrl.edit(edits.insertRule(rule, position), who(req));
    },
  );
  app.delete(
    '/v1/rules/:id',
    tag('filter', 'Delete a rule by id', {
      params: { type: 'object', properties: { id: { type: 'integer', minimum: 1 } }, required: ['id'] },
    }),
    async (req) => {
      const id = (req.params as { id: number }).id;
      return ctrl.edit(
        edits.deleteRule(id, (rid) =>
          ctrl
            .dp()
            .filter.rules()
            .findIndex((r) => r.id === rid),
        ),
        who(req),
      );
    },
  );
  app.get('/v1/ratelimits', tag('filter', 'Rate limiters'), async () => listLimiters(ctrl.dp()));
  app.post(
    '/v1/ratelimits',
    tag('filter', 'Add or change a rate limiter', {
      body: {
        type: 'object',
        properties: { name: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' }, limiter: jsonSchema(RateLimit) },
        required: ['name', 'limiter'],
        additionalProperties: false,
      },
    }),
    async (req) => {
      const { name, limiter } = req.body as { name: string; limiter: unknown };
      return ctrl.edit(edits.setLimiter(name, limiter), who(req));
    },
  );
  app.delete(
    '/v1/ratelimits/:name',
    tag('filter', 'Delete a rate limiter (no rule may use it)', { params: params(['name']) }),
    async (req) => ctrl.edit(edits.deleteLimiter((req.params as { name: string }).name), who(req)),
  );
  app.get(
    '/v1/blocklist',
    tag(
      'filter',
      "Blocked prefixes in force (the config's and rate-limit escalations), a page at a time; the pages after the first, within 10 s, are cut from the first one's listing",
      {
        querystring: { type: 'object', properties: { ...PAGE } },
      },
    ),
    async (req, reply) => {
      const q = req.query as { offset: number; limit: number };
      // A million-entry listing costs ~1.5 s to walk (in turns of the event loop): the first
      // page walks it, and the pages after it within LISTING_KEPT_MS are cut from that walk
      // (also consistent with it, where a walk for each page could shift entries from one page
      // to the next).
      if (q.offset === 0 || !listing || Date.now() - listing.at > LISTING_KEPT_MS)
        listing = { at: Date.now(), rows: await listBlocks(ctrl.dp()) };
      return page(reply, listing.rows, q);
    },
  );
  app.post(
    '/v1/blocklist',
    {
      bodyLimit: BATCH_BODY_LIMIT,
      ...tag('filter', 'Block prefixes (ttl: expire after a duration like 10m)', {
        body: {
          type: 'object',
          properties: { prefixes: { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: 100000 }, ttl: { type: 'string' } },
          required: ['prefixes'],
          additionalProperties: false,
        },
      }),
    },
    async (req) => {
      const { prefixes, ttl } = req.body as { prefixes: string[]; ttl?: string };
      const list = prefixes.map((p, i) => keyOf(p, `body.prefixes[${i}]`));
      const until = ttl !== undefined ? new Date(Date.now() + parseTtl(ttl, 'body.ttl')).toISOString() : undefined;
      return ctrl.edit(edits.addBlocks(list, until), who(req));
    },
  );
  app.delete(
    '/v1/blocklist',
    {
      bodyLimit: BATCH_BODY_LIMIT,
      ...tag('filter', "Unblock prefixes, all or none: one not in the config's blocklists changes nothing", {
        body: {
          type: 'object',
          properties: { prefixes: { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: 100000 } },
          required: ['prefixes'],
          additionalProperties: false,
        },
      }),
    },
    async (req) => {
      const { prefixes } = req.body as { prefixes: string[] };
      return ctrl.edit(edits.deleteBlocks(prefixes.map((p, i) => keyOf(p, `body.prefixes[${i}]`))), who(req));
    },
  );
  app.delete(
    '/v1/blocklist/:prefix',
    tag('filter', 'Unblock a prefix (URL-encode the slash)', { params: params(['prefix']) }),
    async (req) => ctrl.edit(edits.deleteBlock(keyOf((req.params as { prefix: string }).prefix, 'prefix')), who(req)),
  );
}
