/** Interfaces, routes, lookups and neighbours. Reads are the operations' (src/ops/); writes edit the config. */
import { Readable } from 'node:stream';
import { setImmediate as turn } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';

import { PAGE } from '../paging.js';

import { PwError } from '../../errors.js';
import { Route } from '../../control/config/schema.js';
import type { Controller } from '../../control/controller.js';
import * as edits from '../../ops/edits.js';
import { listNeighbors, syncNeighbors } from '../../ops/neighbors.js';
import { lookup, ROUTE_CHUNK, routeIds, routeRows, routeRowsJson, type RouteCounters } from '../../ops/routes.js';
import { parsePrefix } from '../../util/ip.js';
import { jsonSchema } from '../validate.js';
import { keyOf, params, tag, who } from './common.js';
import type { AttachMode } from '../../dataplane/dataplane.js';

/** An interface's name as the kernel allows it (IFNAMSIZ less its NUL), alone or in a list. */
const IFNAME = { type: 'string', minLength: 1, maxLength: 15 };
const IFNAMES = { type: 'array', items: IFNAME, minItems: 1, maxItems: 256 };

export function registerRoutingRoutes(app: FastifyInstance, ctrl: Controller): void {
  // ---- interfaces ------------------------------------------------------------------------
  app.get('/v1/interfaces', tag('interfaces', 'Interfaces running the pipeline'), async () => ctrl.dp().attached());
  app.post(
    '/v1/interfaces',
    tag('interfaces', 'Attach the pipeline to an interface (name), or to several at once (names: all or none)', {
      body: {
        type: 'object',
        properties: { name: IFNAME, names: IFNAMES, mode: { enum: ['native', 'generic', 'auto', 'tc'] } },
        additionalProperties: false,
      },
    }),
    async (req) => {
      const { name, names, mode = 'auto' } = req.body as { name?: string; names?: string[]; mode?: AttachMode };
      if ((name === undefined) === (names === undefined))
        throw new PwError('PW_ERR_INVALID', 'give the interface as name, or several as names (not both)', { where: 'body' });
      return ctrl.edit(edits.all((names ?? [name!]).map((n) => edits.attachInterface(n, mode))), who(req));
    },
  );
  app.delete(
    '/v1/interfaces',
    tag('interfaces', 'Detach the pipeline from several interfaces, all or none', {
      body: { type: 'object', properties: { names: IFNAMES }, required: ['names'], additionalProperties: false },
    }),
    async (req) => {
      const names = new Set((req.body as { names: string[] }).names);
      return ctrl.edit(edits.all([...names].map(edits.detachInterface)), who(req));
    },
  );
  app.delete(
    '/v1/interfaces/:name',
    tag('interfaces', 'Detach the pipeline from an interface', { params: params(['name']) }),
    async (req) => ctrl.edit(edits.detachInterface((req.params as { name: string }).name), who(req)),
  );

  // ---- routes ----------------------------------------------------------------------------
  app.get(
    '/v1/routes',
    tag(
      'routes',
      "Routes in the data plane (with the host's own, origin kernel): a page at a time, or with stream=true all of them as NDJSON, written as they are read",
      {
        querystring: {
          type: 'object',
          properties: {
            family: { enum: [4, 6] },
            user: { type: 'boolean' },
            stats: { type: 'boolean' },
            stream: { type: 'boolean' },
            ...PAGE,
          },
        },
      },
    ),
    async (req, reply) => {
      const q = req.query as { family?: 4 | 6; user?: boolean; stats?: boolean; stream?: boolean; offset: number; limit: number };
      // The ids are a snapshot; rows are built only for the ids served (a page of a full table
      // does not build the other 900,000).
      const ids = routeIds(ctrl.dp(), q);
      const counters = q.stats ? await ctrl.dp().routeCounters() : undefined;
      void reply.header('pathwise-total', String(ids.length));
      if (!q.stream) return routeRows(ctrl.dp(), ids.subarray(q.offset, q.offset + q.limit), counters);
      void reply.type('application/x-ndjson');
      return reply.send(Readable.from(routeLines(ctrl, ids, counters)));
    },
  );
  app.post(
    '/v1/routes',
    tag('routes', 'Add a route (replace: change it if it exists)', {
      body: {
        type: 'object',
        properties: { route: jsonSchema(Route), replace: { type: 'boolean' } },
        required: ['route'],
        additionalProperties: false,
      },
    }),
    async (req) => {
      const { route, replace } = req.body as { route: { prefix: string }; replace?: boolean };
      const key = keyOf(route.prefix, 'body.route.prefix');
      return ctrl.edit(edits.addRoute(key, route, !!replace, 'body.route.prefix'), who(req));
    },
  );
  app.delete(
    '/v1/routes/:prefix',
    tag('routes', 'Delete the route to a prefix (URL-encode the slash: 10.0.0.0%2F8)', { params: params(['prefix']) }),
    async (req) => {
      const key = keyOf((req.params as { prefix: string }).prefix, 'prefix');
      const hostRoute = () => ctrl.dp().routeAt(parsePrefix(key))?.origin === 'kernel';
      return ctrl.edit(edits.deleteRoute(key, hostRoute), who(req));
    },
  );
  app.get(
    '/v1/lookup',
    tag('routes', 'Which route the data plane uses for addresses (runs the XDP program on a synthesized packet)', {
      querystring: {
        type: 'object',
        properties: { addr: { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: 10000 } },
        required: ['addr'],
      },
    }),
    async (req) => lookup(ctrl.dp(), (req.query as { addr: string[] }).addr),
  );

  // ---- paths (config `paths:`) ---------------------------------------------------------
  app.get('/v1/paths', tag('paths', "Steered nexthop groups: each path's RTT, jitter, loss, load, state and share"), async () =>
    ctrl.paths.groupsView(),
  );
  app.get(
    '/v1/paths/decisions',
    tag('paths', 'Path decisions, newest first: when, from what to what, why, and the measurements', {
      querystring: {
        type: 'object',
        properties: { group: { type: 'string', maxLength: 256 }, limit: { type: 'integer', minimum: 1, maximum: 10000, default: 100 } },
        additionalProperties: false,
      },
    }),
    async (req) => {
      const q = req.query as { group?: string; limit: number };
      return ctrl.history.decisions({ group: q.group, limit: q.limit });
    },
  );

  // ---- neighbours ------------------------------------------------------------------------
  app.get('/v1/neighbors', tag('routes', "The data plane's neighbour table (next-hop MACs)"), async () => listNeighbors(ctrl.dp()));
  app.post(
    '/v1/neighbors/sync',
    tag('routes', "Resolve the gateways and copy the kernel's neighbours into the data plane now (the daemon also follows them by itself)"),
    async () => syncNeighbors(ctrl.dp()),
  );
}

/** A streamed listing: NDJSON a chunk of routes at a time, the event loop turning between
 * chunks (the daemon keeps answering and forwarding state follows while a million rows go out). */
async function* routeLines(ctrl: Controller, ids: Uint32Array, counters: RouteCounters | undefined): AsyncGenerator<Buffer> {
  for (let i = 0; i < ids.length; i += ROUTE_CHUNK) {
    const { bytes, rows } = routeRowsJson(ctrl.dp(), ids.subarray(i, i + ROUTE_CHUNK), counters, '\n', '\n');
    if (rows) yield bytes;
    await turn();
  }
}
