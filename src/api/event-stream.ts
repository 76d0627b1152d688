/**
 * GET /v1/events (WebSocket): the pipeline's packet events as JSON messages,
 *   { "type": "event", "event": { ... } }
 * and, every second while any were lost, { "type": "lost", "client": N, "ring": M }: events
 * this client was too slow for, and events the kernel ring had no room for (since it started).
 * ?kind=log,sample,drop picks kinds (default all).
 */
import websocket from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';

import type { Controller } from '../control/controller.js';
import { EVENT_KINDS, type EventKind } from '../insight/events.js';
import { eventsLost, type EventSource } from '../ops/events.js';

/** Bytes queued on a socket beyond which events for it are dropped (and counted). */
const MAX_BUFFERED = 4 << 20;

export async function registerEventStream(app: FastifyInstance, ctrl: Controller, hub: EventSource): Promise<void> {
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });
  app.get(
    '/v1/events',
    {
      websocket: true,
      schema: {
        tags: ['insight'],
        summary: 'Packet events (rule log, samples, drops) as a WebSocket stream of JSON messages',
        querystring: { type: 'object', properties: { kind: { type: 'string', pattern: '^(log|sample|drop)(,(log|sample|drop))*$' } } },
      },
    },
    (socket, req) => {
      const q = req.query as { kind?: string };
      const kinds = new Set<EventKind>(q.kind ? (q.kind.split(',') as EventKind[]) : EVENT_KINDS);
      let lost = 0;
      let reported = 0;
      const ringLostAtStart = eventsLost(ctrl.dp());
      let ringReported = 0;
      const unsubscribe = hub.subscribe({
        kinds,
        deliver(e) {
          if (socket.bufferedAmount > MAX_BUFFERED) lost++;
          else socket.send(JSON.stringify({ type: 'event', event: e }));
        },
      });
      const timer = setInterval(() => {
        const ring = eventsLost(ctrl.dp()) - ringLostAtStart;
        if (lost !== reported || ring !== ringReported) {
          reported = lost;
          ringReported = ring;
          socket.send(JSON.stringify({ type: 'lost', client: lost, ring }));
        }
      }, 1000);
      socket.on('close', () => {
        clearInterval(timer);
        unsubscribe();
      });
      socket.on('message', () => {
        // The stream is one-way; anything sent to it is ignored.
      });
    },
  );
}
