/**
 * GET /v1/events (WebSocket): the pipeline's packet events as JSON messages,
 *   { "type": "event", "event": { ... } }
 * and, every second while any were lost, { "type": "lost", "client": N, "ring": M }: events
 * this client was too slow for, and events the kernel ring had no room for (since it started).
 * ?kind=log,sample,drop picks kinds (default all three); ?kind=backend (alone or with others) adds
 * { "type": "backend", "backend": { service, backend, state, detail, time } } when the daemon's
 * health checks take a backend down or bring it back; ?kind=decision,anomaly,path adds the control
 * plane's notices of those kinds as { "type": "notice", "notice": { kind, event, subject, ... } }
 * (decisions applied, revoked, expired; anomalies and their seals; path changes). Only admin tokens get the packets' bytes
 * (`head`); at most MAX_SUBSCRIBERS streams at once; a stream that stops answering pings is
 * closed.
 */
import websocket from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';

import type { Controller } from '../control/controller.js';
import { EVENT_KINDS, type EventKind } from '../insight/events.js';
import { eventsLost, type EventSource } from '../ops/events.js';

/** What ?kind= takes: packet events, backend states, and notices. */
const STREAM_KINDS = 'log|sample|drop|backend|decision|anomaly|path';

/** Bytes queued on a socket beyond which events for it are dropped (and counted). */
const MAX_BUFFERED = 4 << 20;
/** Subscribers at once, over every listener of the daemon. */
export const MAX_SUBSCRIBERS = 64;
/** A subscriber that has not answered the last ping by the next is gone. */
const PING_MS = 15_000;

export async function registerEventStream(app: FastifyInstance, ctrl: Controller, hub: EventSource): Promise<void> {
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });
  app.get(
    '/v1/events',
    {
      websocket: true,
      schema: {
        tags: ['insight'],
        summary: 'Packet events (rule log, samples, drops) as a WebSocket stream of JSON messages',
        querystring: {
          type: 'object',
          properties: { kind: { type: 'string', pattern: `^(${STREAM_KINDS})(,(${STREAM_KINDS}))*$` } },
        },
      },
    },
    (socket, req) => {
      if (hub.subscribers >= MAX_SUBSCRIBERS) {
        // 1013: try again later (RFC 6455 registry).
        socket.close(1013, `at most ${MAX_SUBSCRIBERS} event subscribers at once`);
        return;
      }
      const q = req.query as { kind?: string };
      const asked = q.kind ? q.kind.split(',') : EVENT_KINDS;
      const kinds = new Set<EventKind>(asked.filter((k): k is EventKind => (EVENT_KINDS as string[]).includes(k)));
      const noticeKinds = new Set<string>(asked.filter((k) => k === 'decision' || k === 'anomaly' || k === 'path'));
      // Packet bytes are for admins only, as captures are: a read-only token gets the summary.
      const withBytes = req.principal.role === 'admin';
      let lost = 0;
      let reported = 0;
      const ringLostAtStart = eventsLost(ctrl.dp());
      let ringReported = 0;
      let alive = true;
      const unsubscribe = hub.subscribe({
        kinds,
        deliver(e) {
          if (socket.bufferedAmount > MAX_BUFFERED) lost++;
          else socket.send(JSON.stringify({ type: 'event', event: withBytes ? e : { ...e, head: undefined } }));
        },
      });
      socket.on('pong', () => {
        alive = true;
      });
      const pinger = setInterval(() => {
        if (!alive) return socket.terminate(); // the close handler below cleans up
        alive = false;
        try {
          socket.ping();
        } catch {
          socket.terminate();
        }
      }, PING_MS);
      const timer = setInterval(() => {
        try {
          const ring = eventsLost(ctrl.dp()) - ringLostAtStart;
          if (lost !== reported || ring !== ringReported) {
            reported = lost;
            ringReported = ring;
            socket.send(JSON.stringify({ type: 'lost', client: lost, ring }));
          }
        } catch (err) {
          req.log.warn({ err }, 'events: reporting losses failed');
        }
      }, 1000);
      // Backends going down and up (the daemon's health checks), when asked for by name.
      const unsubscribeHealth = asked.includes('backend')
        ? ctrl.health.onChange((e) => {
            if (socket.bufferedAmount > MAX_BUFFERED) lost++;
            else socket.send(JSON.stringify({ type: 'backend', backend: e }));
          })
        : () => {};
      const unsubscribeNotices = noticeKinds.size
        ? ctrl.notices.subscribe((n) => {
            if (!noticeKinds.has(n.kind)) return;
            if (socket.bufferedAmount > MAX_BUFFERED) lost++;
            else socket.send(JSON.stringify({ type: 'notice', notice: n }));
          })
        : () => {};
      socket.on('close', () => {
        unsubscribeNotices();
        clearInterval(timer);
        clearInterval(pinger);
        unsubscribe();
        unsubscribeHealth();
      });
      socket.on('message', () => {
        // The stream is one-way; anything sent to it is ignored.
      });
    },
  );
}
