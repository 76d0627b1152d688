/** What the data plane has seen: counters, flows, talkers, histograms (events and capture: their own modules). */
import type { FastifyInstance } from 'fastify';

import type { Controller } from '../../control/controller.js';
import { FLOW_SORTS, type FlowSort, type TalkerBy } from '../../insight/flow-table.js';
import { flowsReport, statsReport, summaryReport, talkersReport } from '../../ops/insight.js';
import { tag } from './common.js';

export function registerInsightRoutes(app: FastifyInstance, ctrl: Controller): void {
  app.get(
    '/v1/stats/summary',
    tag('insight', 'Settings, attachments, table use and interface counters (what pathwise stats prints)'),
    async () => statsReport(ctrl.dp()),
  );
  app.get('/v1/stats', tag('insight', 'Packets, bytes and reasons per ingress interface'), async () => ctrl.dp().interfaceStats());
  app.get(
    '/v1/flows',
    tag('insight', 'The busiest flows (rate, TCP handshake RTT, path)', {
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          top: { type: 'integer', minimum: 1, maximum: 10_000, default: 20 },
          sort: { type: 'string', enum: FLOW_SORTS, default: 'bytes' },
        },
      },
    }),
    async (req) => flowsReport(ctrl.dp(), req.query as { top: number; sort: FlowSort }),
  );
  app.get(
    '/v1/flows/talkers',
    tag('insight', 'Traffic summed by source, destination or route prefix', {
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          by: { type: 'string', enum: ['src', 'dst', 'prefix'], default: 'src' },
          top: { type: 'integer', minimum: 1, maximum: 10_000, default: 10 },
        },
      },
    }),
    async (req) => talkersReport(ctrl.dp(), req.query as { by: TalkerBy; top: number }),
  );
  app.get('/v1/flows/summary', tag('insight', 'Packet-size and protocol histograms, flow-table pressure, ring-buffer loss'), async () =>
    summaryReport(ctrl.dp()),
  );
}
