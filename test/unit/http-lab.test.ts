/**
 * The load-balancing lab's held connections (`http-lab hold`) must report a reset as a reset,
 * also when it arrives right behind an answer: libuv then takes the hang-up for the end of the
 * stream, and test/e2e/balance's reset policy read as an orderly close (a CI run failed so).
 * On loopback, against a server that answers each connection once and resets it at once.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { describe, it } from 'node:test';

import type { Held } from '../../src/netlab/http-lab.js';
import { HTTP_LAB } from '../../src/netlab/lb-lab.js';

const ANSWER = 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nb2';

/** Runs `hold` for CONNS connections against `server` until all are closed; its report. */
async function holdAgainst(server: net.Server, conns: number): Promise<Held[]> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const child = spawn(process.execPath, [HTTP_LAB, 'hold', '127.0.0.1', String(port), String(conns)], { stdio: 'pipe' });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  let closed = 0;
  server.on('connection', (s) => s.on('close', () => closed++));
  try {
    for (let i = 0; i < 400 && closed < conns; i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal(closed, conns, 'every connection closed');
    await new Promise((r) => setTimeout(r, 200)); // the client's side of the last ones
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    server.close();
  }
  return JSON.parse(out.slice(out.indexOf('\n') + 1)) as Held[];
}

describe('http-lab hold', () => {
  it('reports a reset that comes right behind an answer as ECONNRESET, not as an end', async () => {
    const server = net.createServer((s) => s.once('data', () => s.write(ANSWER, () => s.resetAndDestroy())));
    const held = await holdAgainst(server, 40);
    for (const [i, c] of held.entries()) {
      assert.equal(c.answers, 1, `connection ${i}: ${JSON.stringify(c)}`);
      assert.equal(c.errors[0], 'ECONNRESET', `connection ${i}: ${JSON.stringify(c)}`);
    }
  });

  it('reports an orderly close by the server as closed, with no error', async () => {
    const server = net.createServer((s) => s.once('data', () => s.end(ANSWER)));
    const held = await holdAgainst(server, 40);
    for (const [i, c] of held.entries()) {
      assert.equal(c.answers, 1, `connection ${i}: ${JSON.stringify(c)}`);
      assert.deepEqual(c.errors, ['closed'], `connection ${i}: ${JSON.stringify(c)}`);
      assert.ok(c.at.end, `connection ${i} saw the FIN`);
    }
  });
});
