/**
 * GET /v1/capture: a capture inside the daemon's pipeline, streamed as the response body —
 * pcapng (verdicts included at the verdict point) that `tcpdump -r -` and Wireshark read as
 * it comes, or NDJSON (one `capture --json` object per line). It ends after `count` packets,
 * after `duration` seconds, when the client goes away, or when the daemon stops; whichever
 * comes first. HTTP trailers give the totals when the stream ends: `pathwise-captured` and
 * `pathwise-lost` (records the capture ring had no room for). The pipeline has one capture
 * slot, so one capture runs at a time. Admin tokens only: a capture changes the pipeline and
 * reveals payloads.
 */
import type { FastifyInstance } from 'fastify';

import type { Controller } from '../control/controller.js';
import { PwError } from '../errors.js';
import * as abi from '../generated/pathwise.js';
import { captureRecordToJson, pcapngPacketOf, type CapturePoint } from '../insight/capture-record.js';
import { PcapngEncoder } from '../insight/pcapng.js';
import { startCapture, type CaptureSession } from '../ops/capture.js';
import { LINKTYPE_ETHERNET } from '../util/linktypes.js';

export interface CaptureQuery {
  filter: string;
  interface?: string;
  point: CapturePoint;
  count?: number;
  duration?: number;
  snaplen: number;
  format: 'pcapng' | 'ndjson';
}

export const CAPTURE_CONTENT_TYPES = { pcapng: 'application/x-pcapng', ndjson: 'application/x-ndjson' } as const;

export function registerCaptureRoute(app: FastifyInstance, ctrl: Controller): void {
  // This listener's capture, if one runs (CaptureSession allows one per instance).
  let running: { session: CaptureSession; stop: () => void } | null = null;
  // A streaming response would keep the server from closing: end the capture first.
  app.addHook('preClose', (done) => {
    running?.stop();
    done();
  });

  app.get(
    '/v1/capture',
    {
      schema: {
        tags: ['insight'],
        summary: 'Capture packets in the pipeline with a tcpdump filter; the body streams pcapng or NDJSON',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            filter: {
              type: 'string',
              maxLength: 8192,
              default: '',
              description: 'tcpdump filter expression (man pcap-filter); empty: every packet',
            },
            interface: { type: 'string', minLength: 1, maxLength: 15, description: 'only packets arriving on this interface' },
            point: { type: 'string', enum: ['ingress', 'verdict'], default: 'ingress' },
            count: { type: 'integer', minimum: 1, maximum: 100_000_000, description: 'stop after this many packets' },
            duration: { type: 'number', exclusiveMinimum: 0, maximum: 7 * 86400, description: 'stop after this many seconds' },
            snaplen: { type: 'integer', minimum: 1, maximum: abi.PwLimit.CAPTURE_BYTES, default: abi.PwLimit.CAPTURE_BYTES },
            format: { type: 'string', enum: ['pcapng', 'ndjson'], default: 'pcapng' },
          },
        },
      },
    },
    async (req, reply) => {
      const q = req.query as CaptureQuery;
      // A capture loads a program into the pipeline and hands out whole packets: admin only.
      if (req.principal.role !== 'admin') {
        throw new PwError('PW_ERR_FORBIDDEN', `token '${req.principal.name}' is read-only; a capture needs an admin token`);
      }
      const session = startCapture(ctrl.dp(), { iface: q.interface, point: q.point, snap: q.snaplen, expression: q.filter });
      const lostAtStart = session.lost();
      let captured = 0;
      let lost = 0;
      let timer: NodeJS.Timeout | null = null;
      const stop = () => {
        if (running?.session !== session) return;
        running = null;
        if (timer) clearTimeout(timer);
        lost = session.lost() - lostAtStart;
        session.stop();
        req.log.info({ filter: q.filter, interface: q.interface ?? null, point: q.point, captured, lost }, 'capture ended');
      };
      running = { session, stop };
      if (q.duration) timer = setTimeout(stop, q.duration * 1000);
      // The client hung up (or the response ended): free the capture slot at once, even if no
      // packet comes to wake the stream.
      reply.raw.once('close', stop);
      req.log.info({ filter: q.filter, interface: q.interface ?? null, point: q.point }, 'capture started');

      // The response is written by hand: its headers must go out before the first packet (a
      // quiet filter would otherwise leave the client waiting for them), and its totals after
      // the last, as trailers.
      void reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': CAPTURE_CONTENT_TYPES[q.format],
        'cache-control': 'no-store',
        trailer: 'pathwise-captured, pathwise-lost',
      });
      res.flushHeaders();
      const encoder = new PcapngEncoder(LINKTYPE_ETHERNET, q.snaplen);
      // Resolves when the client has taken what was written, or has gone.
      const drained = () =>
        new Promise<void>((resolve) => {
          const done = () => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        });
      void (async () => {
        try {
          if (q.format === 'pcapng') res.write(encoder.header());
          for await (const r of session.records()) {
            const more = res.write(
              q.format === 'pcapng' ? encoder.packet(pcapngPacketOf(r)) : `${JSON.stringify(captureRecordToJson(r))}\n`,
            );
            if (++captured === q.count) break;
            // A slow client: stop reading the ring until it catches up (the kernel counts
            // what the ring then has no room for).
            if (!more && !res.destroyed) await drained();
          }
        } catch (e) {
          req.log.error({ err: e }, 'capture stream failed');
          res.destroy();
        } finally {
          stop();
          if (!res.destroyed) {
            res.addTrailers({ 'pathwise-captured': String(captured), 'pathwise-lost': String(lost) });
            res.end();
          }
        }
      })();
      return reply;
    },
  );
}
