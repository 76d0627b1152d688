/**
 * The API's routes. Reads come from the maps; every write is an edit of the running config
 * proposed to the Controller (validated, diffed, applied, recorded as a version), so API
 * changes, file reloads and rollbacks share one path and one history.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';

import { PwError } from '../errors.js';
import { parseConfig } from '../control/config/load.js';
import { ApiToken, RateLimit, Route, Rule, type Config } from '../control/config/schema.js';
import type { Actor, Controller } from '../control/controller.js';
import { formatRule } from '../filter/rule.js';
import { formatPrefix, parsePrefix } from '../util/ip.js';
import { parseDuration } from '../util/duration.js';
import { CONFIG_BODY_LIMIT } from './limits.js';

/** JSON Schema (draft 7, what fastify's ajv speaks) of a zod schema, as the request sees it. */
const jsonSchema = (s: z.ZodType) => {
  const out = z.toJSONSchema(s, { io: 'input', target: 'draft-7', unrepresentable: 'any' }) as Record<string, unknown>;
  delete out.$schema;
  return out;
};

const who = (req: FastifyRequest): Actor => ({ actor: req.principal.name, source: `api: ${req.method} ${req.routeOptions.url}` });

/** The config without secrets, for reading back. */
export function redact(cfg: Config): Config {
  return { ...cfg, api: { ...cfg.api, tokens: cfg.api.tokens.map((t: z.infer<typeof ApiToken>) => ({ ...t, token: '<redacted>' })) } };
}

const prefixKey = (s: string, where: string) => formatPrefix(parsePrefix(s === 'default' ? '0.0.0.0/0' : s, where));

export function registerRoutes(app: FastifyInstance, ctrl: Controller): void {
  const tag = (t: string, summary: string, extra: Record<string, unknown> = {}) => ({ schema: { tags: [t], summary, ...extra } });
  const params = (names: string[]) => ({ type: 'object', properties: Object.fromEntries(names.map((n) => [n, { type: 'string' }])), required: names });

  // ---- status, config, history ------------------------------------------------------------
  app.get('/v1/status', tag('status', 'Instance, config version, program and interfaces'), async () => {
    const dp = ctrl.dp();
    return {
      instance: ctrl.instance,
      version: ctrl.version(),
      progId: dp.pipeline.xdp.info().id,
      objectHash: dp.pipeline.loadedHash,
      settings: dp.pipeline.settings,
      interfaces: dp.attached(),
      routes: dp.listRoutes().length,
      rules: dp.filter.rules().length,
      stats: ctrl.stats,
      pid: process.pid,
      uptimeSeconds: Math.round(process.uptime()),
    };
  });
  app.get('/v1/config', tag('config', 'The config in force (tokens redacted)'), async () => redact(ctrl.config()));
  app.post(
    '/v1/config',
    {
      bodyLimit: CONFIG_BODY_LIMIT,
      ...tag('config', 'Apply a whole config (YAML or JSON text); with dryRun, only show what would change', {
        body: {
          type: 'object',
          properties: { text: { type: 'string' }, file: { type: 'string', description: 'name used in error positions; relative paths in the config resolve against its directory' }, dryRun: { type: 'boolean' } },
          required: ['text'],
          additionalProperties: false,
        },
      }),
    },
    async (req) => {
      const body = req.body as { text: string; file?: string; dryRun?: boolean };
      const file = body.file ?? 'request';
      const cfg = parseConfig(body.text, file);
      if (cfg.instance !== ctrl.instance) throw new PwError('PW_ERR_INVALID', `the config is for instance '${cfg.instance}'; this daemon runs '${ctrl.instance}'`, { where: `${file}: instance` });
      const baseDir = body.file?.startsWith('/') ? body.file.replace(/\/[^/]*$/, '') || '/' : undefined;
      return ctrl.propose(cfg, { actor: req.principal.name, source: `apply ${file}` }, { dryRun: body.dryRun, baseDir });
    },
  );
  app.get('/v1/history', tag('config', 'Versions, newest first', { querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 10000 } } } }), async (req) =>
    ctrl.history.list((req.query as { limit?: number }).limit ?? 50),
  );
  app.get('/v1/history/:version', tag('config', 'One version, with its config', { params: { type: 'object', properties: { version: { type: 'integer', minimum: 1 } }, required: ['version'] } }), async (req) => {
    const v = ctrl.history.get((req.params as { version: number }).version);
    return { ...v, config: redact(v.config) };
  });
  app.post(
    '/v1/rollback',
    tag('config', 'Apply the config of an earlier version (recorded as a new version)', {
      body: { type: 'object', properties: { version: { type: 'integer', minimum: 1 } }, required: ['version'], additionalProperties: false },
    }),
    async (req) => ctrl.rollback((req.body as { version: number }).version, who(req)),
  );

  // ---- interfaces ------------------------------------------------------------------------
  app.get('/v1/interfaces', tag('interfaces', 'Interfaces running the pipeline'), async () => ctrl.dp().attached());
  app.post(
    '/v1/interfaces',
    tag('interfaces', 'Attach the pipeline to an interface', {
      body: { type: 'object', properties: { name: { type: 'string', minLength: 1, maxLength: 15 }, mode: { enum: ['native', 'generic', 'auto'] } }, required: ['name'], additionalProperties: false },
    }),
    async (req) => {
      const { name, mode = 'auto' } = req.body as { name: string; mode?: 'native' | 'generic' | 'auto' };
      return ctrl.edit((cfg) => {
        const at = cfg.interfaces.findIndex((i) => i.name === name);
        if (at >= 0) cfg.interfaces[at] = { name, mode };
        else cfg.interfaces.push({ name, mode });
      }, who(req));
    },
  );
  app.delete('/v1/interfaces/:name', tag('interfaces', 'Detach the pipeline from an interface', { params: params(['name']) }), async (req) => {
    const { name } = req.params as { name: string };
    return ctrl.edit((cfg) => {
      const at = cfg.interfaces.findIndex((i) => i.name === name);
      if (at < 0) throw new PwError('PW_ERR_NOT_FOUND', `the pipeline is not attached to ${name}`, { where: name });
      cfg.interfaces.splice(at, 1);
    }, who(req));
  });

  // ---- routes ----------------------------------------------------------------------------
  app.get(
    '/v1/routes',
    tag('routes', 'Routes in the data plane (with the host\'s own, origin kernel)', {
      querystring: { type: 'object', properties: { family: { enum: [4, 6] }, user: { type: 'boolean' }, stats: { type: 'boolean' } } },
    }),
    async (req) => {
      const q = req.query as { family?: 4 | 6; user?: boolean; stats?: boolean };
      const dp = ctrl.dp();
      const list = dp.listRoutes().filter((r) => (!q.family || r.family === q.family) && (!q.user || r.origin === 'user'));
      if (!q.stats) return list;
      const counters = dp.routeCounters();
      return list.map((r) => ({ ...r, ...(counters.get(r.id) ?? { packets: 0, bytes: 0 }) }));
    },
  );
  app.post(
    '/v1/routes',
    tag('routes', 'Add a route (replace: change it if it exists)', {
      body: { type: 'object', properties: { route: jsonSchema(Route), replace: { type: 'boolean' } }, required: ['route'], additionalProperties: false },
    }),
    async (req) => {
      const { route, replace } = req.body as { route: z.input<typeof Route>; replace?: boolean };
      const key = prefixKey(route.prefix, 'body.route.prefix');
      return ctrl.edit((cfg) => {
        const at = cfg.routes.findIndex((r) => prefixKey(r.prefix, r.prefix) === key);
        if (at >= 0 && !replace) throw new PwError('PW_ERR_EXISTS', `a route to ${key} exists`, { where: 'body.route.prefix', hint: 'send replace: true to change it' });
        // Validated with the whole edited config (parseConfig), which names the field at fault.
        const next = route as Config['routes'][number];
        if (at >= 0) cfg.routes[at] = next;
        else cfg.routes.push(next);
      }, who(req));
    },
  );
  app.delete('/v1/routes/:prefix', tag('routes', 'Delete the route to a prefix (URL-encode the slash: 10.0.0.0%2F8)', { params: params(['prefix']) }), async (req) => {
    const key = prefixKey((req.params as { prefix: string }).prefix, 'prefix');
    return ctrl.edit((cfg) => {
      const at = cfg.routes.findIndex((r) => prefixKey(r.prefix, r.prefix) === key);
      if (at < 0) {
        const kernel = ctrl.dp().listRoutes().some((r) => r.prefix === key && r.origin === 'kernel');
        throw new PwError('PW_ERR_NOT_FOUND', kernel ? `${key} is one of the host's own routes (from its addresses)` : `no route to ${key}`, { where: key });
      }
      cfg.routes.splice(at, 1);
    }, who(req));
  });
  app.get(
    '/v1/lookup',
    tag('routes', 'Which route the data plane uses for addresses (runs the XDP program on a synthesized packet)', {
      querystring: { type: 'object', properties: { addr: { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: 10000 } }, required: ['addr'] },
    }),
    async (req) => ctrl.dp().lookup((req.query as { addr: string[] }).addr),
  );

  // ---- filtering -------------------------------------------------------------------------
  app.get('/v1/rules', tag('filter', 'Rules in order, with hit counters'), async () => {
    const f = ctrl.dp().filter;
    const counters = f.ruleCounters();
    return f.rules().map((r, i) => ({ position: i + 1, id: r.id, text: formatRule(r), ...(counters.get(r.id) ?? { packets: 0, bytes: 0 }) }));
  });
  app.post(
    '/v1/rules',
    tag('filter', 'Insert a rule (at position, 1-based; default: last)', {
      body: { type: 'object', properties: { rule: jsonSchema(Rule), position: { type: 'integer', minimum: 1 } }, required: ['rule'], additionalProperties: false },
    }),
    async (req) => {
      const { rule, position } = req.body as { rule: z.input<typeof Rule>; position?: number };
      return ctrl.edit((cfg) => {
        const at = position === undefined ? cfg.rules.length : Math.min(cfg.rules.length, position - 1);
        cfg.rules.splice(at, 0, rule as Config['rules'][number]);
      }, who(req));
    },
  );
  app.delete('/v1/rules/:id', tag('filter', 'Delete a rule by id', { params: { type: 'object', properties: { id: { type: 'integer', minimum: 1 } }, required: ['id'] } }), async (req) => {
    const id = (req.params as { id: number }).id;
    const pos = ctrl.dp().filter.rules().findIndex((r) => r.id === id);
    if (pos < 0) throw new PwError('PW_ERR_NOT_FOUND', `no rule with id ${id}`, { where: `rule ${id}` });
    return ctrl.edit((cfg) => void cfg.rules.splice(pos, 1), who(req));
  });
  app.get('/v1/ratelimits', tag('filter', 'Rate limiters'), async () => ctrl.dp().filter.limiters());
  app.post(
    '/v1/ratelimits',
    tag('filter', 'Add or change a rate limiter', {
      body: { type: 'object', properties: { name: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' }, limiter: jsonSchema(RateLimit) }, required: ['name', 'limiter'], additionalProperties: false },
    }),
    async (req) => {
      const { name, limiter } = req.body as { name: string; limiter: z.input<typeof RateLimit> };
      return ctrl.edit((cfg) => void (cfg.ratelimits[name] = limiter as Config['ratelimits'][string]), who(req));
    },
  );
  app.delete('/v1/ratelimits/:name', tag('filter', 'Delete a rate limiter (no rule may use it)', { params: params(['name']) }), async (req) => {
    const { name } = req.params as { name: string };
    return ctrl.edit((cfg) => {
      if (!cfg.ratelimits[name]) throw new PwError('PW_ERR_NOT_FOUND', `no rate limiter named '${name}'`, { where: name });
      delete cfg.ratelimits[name];
    }, who(req));
  });
  app.get('/v1/blocklist', tag('filter', 'Blocked prefixes in force'), async () => ctrl.dp().filter.blocklist());
  app.post(
    '/v1/blocklist',
    tag('filter', 'Block prefixes (ttl: expire after a duration like 10m)', {
      body: {
        type: 'object',
        properties: { prefixes: { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: 100000 }, ttl: { type: 'string' } },
        required: ['prefixes'],
        additionalProperties: false,
      },
    }),
    async (req) => {
      const { prefixes, ttl } = req.body as { prefixes: string[]; ttl?: string };
      const list = prefixes.map((p, i) => prefixKey(p, `body.prefixes[${i}]`));
      const until = ttl ? new Date(Date.now() + parseDuration(ttl, 'body.ttl')).toISOString() : undefined;
      return ctrl.edit((cfg) => void cfg.blocklists.push({ prefixes: list, ...(until ? { until } : {}) }), who(req));
    },
  );
  app.delete('/v1/blocklist/:prefix', tag('filter', 'Unblock a prefix (URL-encode the slash)', { params: params(['prefix']) }), async (req) => {
    const key = prefixKey((req.params as { prefix: string }).prefix, 'prefix');
    return ctrl.edit((cfg) => {
      let found = false;
      for (const b of cfg.blocklists) {
        const before = b.prefixes.length;
        b.prefixes = b.prefixes.filter((p) => prefixKey(p, p) !== key);
        found ||= b.prefixes.length !== before;
      }
      if (!found) {
        const fromFile = cfg.blocklists.find((b) => b.file);
        throw new PwError('PW_ERR_NOT_FOUND', `${key} is not in the config's blocklists`, { where: key, hint: fromFile ? `entries from files (${fromFile.file}) are removed by editing the file` : undefined });
      }
      cfg.blocklists = cfg.blocklists.filter((b) => b.prefixes.length || b.file);
    }, who(req));
  });

  // ---- insight ---------------------------------------------------------------------------
  app.get('/v1/stats/summary', tag('insight', 'Settings, attachments, table use and interface counters (what pathwise stats prints)'), async () => {
    const dp = ctrl.dp();
    return { instance: ctrl.instance, settings: dp.pipeline.settings, attached: dp.attached(), routes: dp.routes.counts, nexthops: dp.nexthops.counts, interfaces: dp.interfaceStats() };
  });
  app.get('/v1/stats', tag('insight', 'Packets, bytes and reasons per ingress interface'), async () => ctrl.dp().interfaceStats());
  app.get('/v1/neighbors', tag('routes', "The data plane's neighbour table (next-hop MACs)"), async () => ctrl.dp().neighbors());
}
