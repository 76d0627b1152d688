/** Load-balanced services. Reads are the operations' (src/ops/), with the daemon's health checks; writes edit the config. */
import type { FastifyInstance } from 'fastify';

import { Service } from '../../control/config/schema.js';
import type { Controller } from '../../control/controller.js';
import { MAX_WEIGHT } from '../../lb/service.js';
import * as edits from '../../ops/edits.js';
import { listServices } from '../../ops/services.js';
import { jsonSchema } from '../validate.js';
import { params, tag, who } from './common.js';

const NAME = '^[A-Za-z0-9_.-]{1,64}$';

export function registerServiceRoutes(app: FastifyInstance, ctrl: Controller): void {
  app.get(
    '/v1/services',
    tag('services', 'Services and their backends: state, weight, table share, connections, health check RTT'),
    async () => {
      const checks = ctrl.health.view();
      return listServices(ctrl.dp()).map((s) => ({
        ...s,
        backends: s.backends.map((b) => {
          const c = checks.get(s.name)?.get(b.backend);
          return { ...b, ...(c?.rttMs !== undefined ? { checkRttMs: c.rttMs } : {}), ...(c?.lastError ? { checkError: c.lastError } : {}) };
        }),
      }));
    },
  );
  app.post(
    '/v1/services',
    tag('services', 'Add a service (replace: true changes the one of that name)', {
      body: {
        type: 'object',
        properties: { name: { type: 'string', pattern: NAME }, service: jsonSchema(Service), replace: { type: 'boolean' } },
        required: ['name', 'service'],
        additionalProperties: false,
      },
    }),
    async (req) => {
      const { name, service, replace } = req.body as { name: string; service: unknown; replace?: boolean };
      return ctrl.edit(edits.addService(name, service, !!replace), who(req));
    },
  );
  app.delete('/v1/services/:name', tag('services', 'Delete a service', { params: params(['name']) }), async (req) =>
    ctrl.edit(edits.deleteService((req.params as { name: string }).name), who(req)),
  );
  app.post(
    '/v1/services/:name/drain',
    tag('services', 'Drain a backend (weight 0): no new connections, established ones stay', {
      params: params(['name']),
      body: {
        type: 'object',
        properties: { backend: { type: 'string', minLength: 1 } },
        required: ['backend'],
        additionalProperties: false,
      },
    }),
    async (req) =>
      ctrl.edit(edits.setBackendWeight((req.params as { name: string }).name, (req.body as { backend: string }).backend, 0), who(req)),
  );
  app.post(
    '/v1/services/:name/weight',
    tag(
      'services',
      "Set a backend's weight: 0 drains it, more gives it its share of new connections again (with the service's slow start)",
      {
        params: params(['name']),
        body: {
          type: 'object',
          properties: { backend: { type: 'string', minLength: 1 }, weight: { type: 'integer', minimum: 0, maximum: MAX_WEIGHT } },
          required: ['backend', 'weight'],
          additionalProperties: false,
        },
      },
    ),
    async (req) => {
      const { backend, weight } = req.body as { backend: string; weight: number };
      return ctrl.edit(edits.setBackendWeight((req.params as { name: string }).name, backend, weight), who(req));
    },
  );
}
