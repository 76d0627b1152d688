/**
 * Health checks (control/service-health.ts) against a real listener on loopback: a check
 * whose answer came while the event loop was held up passes, rather than timing out. And the
 * warning when the config asks more checks than the daemon runs on time.
 */
import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import { describe, it } from 'node:test';

import pino from 'pino';
import { Writable } from 'node:stream';

import { parseConfig } from '../../src/control/config/load.js';
import { ServiceHealth, tcpCheck } from '../../src/control/service-health.js';
import type { Dataplane } from '../../src/dataplane/dataplane.js';

/** Holds the event loop for `ms`, as a large apply does. */
function holdLoop(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe('service health checks', () => {
  it('a TCP check accepted while the loop was held passes (its timeout waits for the I/O already there)', async () => {
    const server = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const check = tcpCheck('127.0.0.1', port, 20);
      // The kernel completes the handshake at once; the loop sees it only after the hold,
      // when the 20 ms timer is long due.
      holdLoop(200);
      assert.equal(await check, null);
    } finally {
      server.close();
    }
  });

  it('a TCP check nobody answers still fails, naming why', async () => {
    // A listener closed: its port refuses.
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((r) => server.close(() => r()));
    assert.equal(await tcpCheck('127.0.0.1', port, 1000), 'ECONNREFUSED');
  });

  it('warns when the checks ask more than ~5,000 a second, once per rate', () => {
    const lines: { msg: string; perSecond?: number }[] = [];
    const log = pino({ level: 'info' }, new Writable({ write: (c, _e, done) => (lines.push(JSON.parse(String(c))), done()) }));
    // No data plane behind it: the checks are stopped before any runs.
    const dp = { services: { health: () => new Map(), setHealth: () => false, setRamp: () => false } } as unknown as Dataplane;
    const health = new ServiceHealth(() => dp, log);
    /** `backends` in services of up to 1,000 (a service takes 1,024 at most). */
    const config = (backends: number, interval: string) => {
      let yaml = 'services:\n';
      for (let s = 0; s * 1000 < backends; s++) {
        const n = Math.min(1000, backends - s * 1000);
        const list = Array.from({ length: n }, (_, i) => `'10.${1 + s}.${i >> 8}.${i & 255}:80'`).join(', ');
        yaml += `  web${s}:\n    address: '198.18.0.${1 + s}:80/tcp'\n    backends: [${list}]\n    health: { interval: ${interval} }\n`;
      }
      return parseConfig(yaml, 'c.yaml');
    };
    const warnings = () => lines.filter((l) => l.msg.startsWith('the health checks ask'));
    try {
      health.configure(config(900, '200ms')); // 4,500 a second: no warning
      assert.equal(warnings().length, 0);
      health.configure(config(2000, '200ms')); // 10,000 a second
      health.configure(config(2000, '200ms')); // the same again: said once
      assert.deepEqual(
        warnings().map((l) => l.perSecond),
        [10000],
      );
      health.configure(config(2000, '1s')); // 2,000 a second
      assert.equal(warnings().length, 1);
    } finally {
      health.close();
    }
  });
});
