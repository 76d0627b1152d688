/**
 * Webhook deliveries (daemon/webhooks.ts) against a real HTTP receiver on loopback: a queue
 * that overflows makes dead letters, each audited, logged together rather than one line each.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import pino from 'pino';

import { AuditLog } from '../../src/control/audit.js';
import { parseConfig } from '../../src/control/config/load.js';
import { Notices } from '../../src/control/notices.js';
import { WebhookService } from '../../src/daemon/webhooks.js';

describe('webhooks', () => {
  it('audits each dead letter of an overflowing queue and logs them in one line, not one each', async () => {
    // A receiver that holds every request: the first delivery stays in flight, the rest queue.
    const held: http.ServerResponse[] = [];
    const server = http.createServer((_req, res) => held.push(res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const dir = mkdtempSync(join(tmpdir(), 'pw-webhooks-'));
    const audit = new AuditLog(join(dir, 'audit.db'));
    const lines: { msg: string; deadLetters?: number }[] = [];
    const log = pino(
      { level: 'warn' },
      new Writable({
        write(chunk: Buffer, _enc, done) {
          lines.push(JSON.parse(chunk.toString()));
          done();
        },
      }),
    );
    const cfg = parseConfig(
      `webhooks: [{ name: gw, url: "http://127.0.0.1:${port}/hook", secret: abcdefghijklmnopqrstuvwxyz123456, kinds: [decision], timeout: 30s }]`,
      't',
    );
    const notices = new Notices();
    const hooks = new WebhookService(() => cfg, notices, audit, log);
    hooks.start();
    try {
      for (let i = 0; i < 10_005; i++)
        notices.publish({ kind: 'decision', event: 'applied', subject: `192.0.2.${i & 255}/32`, actor: 't', summary: 's', details: {} });
      assert.equal(hooks.stats().total.deadLetters, 5, '10,000 wait, one of them in flight');
      hooks.stop();
      const dead = lines.filter((l) => /dead letter/.test(l.msg));
      assert.deepEqual(
        dead.map((l) => l.deadLetters),
        [1, 4],
        'the first at once, the four after it in one line',
      );
      assert.match(dead[1]!.msg, /^4 webhook deliveries are dead letters .*the queue is full/);
      assert.equal(audit.query({ kinds: ['webhook'] }).filter((r) => r.event === 'failed').length, 5, 'each one audited');
    } finally {
      hooks.stop();
      for (const res of held) res.destroy();
      server.closeAllConnections();
      server.close();
      audit.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
