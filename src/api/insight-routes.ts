/** The insight part of the API: flows, talkers, histograms (and the event stream, events.ts). */
import type { FastifyInstance } from 'fastify';

import type { Controller } from '../control/controller.js';
import { FLOW_SORTS, type FlowSort, type TalkerBy } from '../insight/flow-table.js';
import { flowsReport, summaryReport, talkersReport } from '../insight/reports.js';

export function registerInsightRoutes(app: FastifyInstance, ctrl: Controller): void {
  const maps = () => ctrl.dp().pipeline.maps;
  app.get(
    '/v1/flows',
    {
      schema: {
        tags: ['insight'],
        summary: 'The busiest flows (rate, TCP handshake RTT, path)',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { top: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 20 }, sort: { type: 'string', enum: FLOW_SORTS, default: 'bytes' } },
        },
      },
    },
    async (req) => flowsReport(maps(), req.query as { top: number; sort: FlowSort }),
  );
  app.get(
    '/v1/flows/talkers',
    {
      schema: {
        tags: ['insight'],
        summary: 'Traffic summed by source, destination or route prefix',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { by: { type: 'string', enum: ['src', 'dst', 'prefix'], default: 'src' }, top: { type: 'integer', minimum: 1, maximum: 100_000, default: 10 } },
        },
      },
    },
    async (req) => talkersReport(maps(), req.query as { by: TalkerBy; top: number }),
  );
  app.get('/v1/flows/summary', { schema: { tags: ['insight'], summary: 'Packet-size and protocol histograms, flow-table pressure, ring-buffer loss' } }, async () => summaryReport(maps()));
}
