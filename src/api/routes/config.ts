/** Status, the config in force, applying a whole config, the history and rollback. */
import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';

import { inlineFiles, noFiles } from '../../control/config/files.js';
import { parseConfig } from '../../control/config/load.js';
import type { ApiToken, Config } from '../../control/config/schema.js';
import type { Controller } from '../../control/controller.js';
import { PwError } from '../../errors.js';
import type { StatusReport } from '../../ops/operations.js';
import { CONFIG_BODY_LIMIT } from '../limits.js';
import { tag, who } from './common.js';

/** The config without secrets, for reading back. */
export function redact(cfg: Config): Config {
  return { ...cfg, api: { ...cfg.api, tokens: cfg.api.tokens.map((t: z.infer<typeof ApiToken>) => ({ ...t, token: '<redacted>' })) } };
}

export function registerConfigRoutes(app: FastifyInstance, ctrl: Controller): void {
  app.get('/v1/status', tag('status', 'Instance, config version, program and interfaces'), async (): Promise<StatusReport> => {
    const dp = ctrl.dp();
    return {
      instance: ctrl.instance,
      version: ctrl.version(),
      progId: dp.pipeline.xdp.info().id,
      objectHash: dp.pipeline.loadedHash,
      settings: dp.pipeline.settings,
      interfaces: dp.attached(),
      routes: dp.routes.size,
      imports: ctrl.imports.stats,
      paths: ctrl.paths.stats(),
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
          properties: {
            text: { type: 'string' },
            file: { type: 'string', description: 'name used in error positions' },
            files: {
              type: 'object',
              additionalProperties: { type: 'string' },
              description: 'the contents of the files the config names, by name as written (the daemon reads no file for an API config)',
            },
            dryRun: { type: 'boolean' },
          },
          required: ['text'],
          additionalProperties: false,
        },
      }),
    },
    async (req) => {
      const body = req.body as { text: string; file?: string; files?: Record<string, string>; dryRun?: boolean };
      const file = body.file ?? 'request';
      const cfg = inlineFiles(parseConfig(body.text, file), body.files ?? {});
      if (cfg.instance !== ctrl.instance)
        throw new PwError('PW_ERR_INVALID', `the config is for instance '${cfg.instance}'; this daemon runs '${ctrl.instance}'`, {
          where: `${file}: instance`,
        });
      return ctrl.propose(cfg, { actor: req.principal.name, source: `apply ${file}` }, { dryRun: body.dryRun, files: noFiles });
    },
  );
  app.get(
    '/v1/history',
    tag('config', 'Versions, newest first', {
      querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 10000 } } },
    }),
    async (req) => ctrl.history.list((req.query as { limit?: number }).limit ?? 50),
  );
  app.get(
    '/v1/history/:version',
    tag('config', 'One version, with its config', {
      params: { type: 'object', properties: { version: { type: 'integer', minimum: 1 } }, required: ['version'] },
    }),
    async (req) => {
      const v = ctrl.history.get((req.params as { version: number }).version);
      return { ...v, config: redact(v.config) };
    },
  );
  app.post(
    '/v1/rollback',
    tag('config', 'Apply the config of an earlier version (recorded as a new version)', {
      body: {
        type: 'object',
        properties: { version: { type: 'integer', minimum: 1 } },
        required: ['version'],
        additionalProperties: false,
      },
    }),
    async (req) => ctrl.rollback((req.body as { version: number }).version, who(req)),
  );
}
