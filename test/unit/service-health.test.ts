/**
 * Health checks (control/service-health.ts) against a real listener on loopback: a check
 * whose answer came while the event loop was held up passes, rather than timing out.
 */
import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import { describe, it } from 'node:test';

import { tcpCheck } from '../../src/control/service-health.js';

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
});
