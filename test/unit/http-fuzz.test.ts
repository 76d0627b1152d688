/**
 * The HTTP tracker under mutated conversations: what the data plane hands the daemon is
 * whatever crossed the wire, so no segment (bytes flipped or cut, lengths that disagree with
 * the data, sequence numbers anywhere, flags in any mix, segments lost, repeated or out of
 * order) may throw, and what it reports stays within what it was given. The same for the TLS
 * ClientHello parser, on mutants of one Node's TLS client wrote.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { HttpTracker, type HttpTransaction, type TcpSegment } from '../../src/insight/http-tracker.js';
import { parseClientHello } from '../../src/insight/tls-hello.js';
import { captureClientHello } from '../helpers/client-hello.js';
import { rng } from '../helpers/rng.js';

type Rand = () => number;
const int = (rand: Rand, n: number) => Math.floor(rand() * n);

const SYN = 0x02;
const ACK = 0x10;
const FIN = 0x01;
const RST = 0x04;

/** Conversations as client and server byte strings, split into segments below. */
const CONVERSATIONS: [string, string][] = [
  ['GET /v1/users?id=7 HTTP/1.1\r\nHost: api\r\nAPI-Version: 2\r\n\r\n', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello'],
  [
    'POST /v2/orders HTTP/1.1\r\nHost: api\r\nContent-Length: 11\r\n\r\n{"item": 1}',
    'HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\nX-Trailer: 1\r\n\r\n',
  ],
  [
    'HEAD /health HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n',
  ],
  [
    'PUT /upload HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc',
    'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n',
  ],
  ['GET /old HTTP/1.0\r\n\r\n', 'HTTP/1.0 200 OK\r\n\r\nuntil the connection closes'],
  ['CONNECT db:5432 HTTP/1.1\r\nHost: db:5432\r\n\r\n\x00\x01binary', 'HTTP/1.1 200 Connection established\r\n\r\n\x02\x03'],
  // A TLS record's start: the ClientHello path, with whatever follows.
  ['\x16\x03\x01\x00\x40\x01\x00\x00\x3c\x03\x03' + 'r'.repeat(32) + '\x00\x00\x02\x13\x01\x01\x00', '\x16\x03\x03\x00\x02ok'],
];

function segmentsOf(rand: Rand, conv: [string, string], cport: number, t0: number): TcpSegment[] {
  const [req, res] = conv.map((s) => Buffer.from(s, 'latin1')) as [Buffer, Buffer];
  const segs: TcpSegment[] = [];
  let t = t0;
  const seq = { c: 1000 + int(rand, 1 << 30), s: 5000 + int(rand, 1 << 30) };
  const seg = (fromClient: boolean, flags: number, data: Buffer): TcpSegment => {
    const s: TcpSegment = {
      tsUs: (t += 1 + int(rand, 2000)),
      src: fromClient ? '192.0.2.1' : '192.0.2.2',
      dst: fromClient ? '192.0.2.2' : '192.0.2.1',
      sport: fromClient ? cport : 80,
      dport: fromClient ? 80 : cport,
      seq: fromClient ? seq.c : seq.s,
      flags,
      payloadLen: data.length,
      data,
    };
    const step = data.length + (flags & (SYN | FIN) ? 1 : 0);
    if (fromClient) seq.c = (seq.c + step) >>> 0;
    else seq.s = (seq.s + step) >>> 0;
    return s;
  };
  const split = (fromClient: boolean, b: Buffer) => {
    for (let at = 0; at < b.length;) {
      const n = 1 + int(rand, Math.min(b.length - at, 48));
      segs.push(seg(fromClient, ACK, b.subarray(at, at + n)));
      at += n;
    }
  };
  segs.push(seg(true, SYN, Buffer.alloc(0)), seg(false, SYN | ACK, Buffer.alloc(0)));
  split(true, req);
  split(false, res);
  segs.push(seg(true, FIN | ACK, Buffer.alloc(0)), seg(false, FIN | ACK, Buffer.alloc(0)));
  return segs;
}

/** One mutation of a segment: its bytes, its lengths, its sequence number or its flags. */
function mutate(rand: Rand, s: TcpSegment): TcpSegment {
  const data = Buffer.from(s.data);
  switch (int(rand, 8)) {
    case 0:
      if (data.length) data[int(rand, data.length)] = int(rand, 256);
      return { ...s, data };
    case 1:
      return { ...s, data: data.subarray(0, int(rand, data.length + 1)) }; // the copy cut short
    case 2:
      return { ...s, payloadLen: int(rand, 4) === 0 ? 0 : s.payloadLen + int(rand, 70_000) };
    case 3:
      return { ...s, seq: int(rand, 2) ? int(rand, 2 ** 32) : (s.seq + int(rand, 64) - 32) >>> 0 };
    case 4:
      return { ...s, flags: int(rand, 256) };
    case 5:
      return { ...s, flags: s.flags | RST };
    case 6:
      return { ...s, data: Buffer.concat([data, Buffer.from('\r\n\r\nHTTP/1.1 999 X\r\nContent-Length: -1\r\n\r\n')]) };
    default:
      return { ...s, sport: int(rand, 3) ? s.sport : int(rand, 65536) };
  }
}

describe('the HTTP tracker under mutated conversations', () => {
  it('never throws, and reports only what it was given (seed 1, 20,000 conversations)', () => {
    const rand = rng(1);
    const seen: HttpTransaction[] = [];
    const tracker = new HttpTracker({
      onTransaction: (t) => seen.push(t),
      onTls: () => {},
      versionField: 'api-version',
      maxConnections: 256,
    });
    let pushed = 0;
    let t = 0;
    for (let n = 0; n < 20_000; n++) {
      const segs = segmentsOf(rand, CONVERSATIONS[int(rand, CONVERSATIONS.length)]!, 1024 + (n % 4096), t);
      t = segs[segs.length - 1]!.tsUs;
      const stream: TcpSegment[] = [];
      for (const s of segs) {
        const r = rand();
        if (r < 0.05) continue; // lost
        const m = r < 0.3 ? mutate(rand, s) : s;
        stream.push(m);
        if (rand() < 0.05) stream.push(m); // repeated
      }
      for (let i = 0; i + 1 < stream.length; i++) {
        if (rand() < 0.05) [stream[i], stream[i + 1]] = [stream[i + 1]!, stream[i]!]; // out of order
      }
      for (const s of stream) {
        try {
          tracker.push(s);
        } catch (e) {
          assert.fail(
            `conversation ${n}: ${(e as Error).stack}\n${JSON.stringify({ ...s, data: Buffer.from(s.data).toString('latin1') })}`,
          );
        }
        pushed++;
      }
    }
    for (const [k, v] of Object.entries(tracker.stats)) assert.ok(Number.isInteger(v) && v >= 0, `${k}: ${v}`);
    const st = tracker.stats;
    assert.ok(st.transactions <= st.requests && st.transactions === seen.length, JSON.stringify(st));
    assert.ok(st.requests > 1000 && st.transactions > 1000 && st.unparsedRequests + st.unparsedResponses > 100, JSON.stringify(st));
    for (const x of seen) {
      // A method is an RFC 9110 token; a target has no spaces or controls.
      assert.ok(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(x.method) && /^[\x21-\x7e\x80-\xff]+$/.test(x.uri), JSON.stringify(x));
      if (x.status !== undefined) assert.ok(x.status >= 100 && x.status <= 999, JSON.stringify(x));
      if (x.latencyUs !== undefined) assert.ok(x.latencyUs >= 0, JSON.stringify(x));
      for (const b of [x.requestBytes, x.responseBytes]) if (b !== undefined) assert.ok(Number.isInteger(b) && b >= 0, JSON.stringify(x));
    }
    assert.ok(pushed > 200_000, `${pushed} segments`);
  });

  it("parses mutants of Node's own ClientHello without throwing (seed 2, 100,000 mutants)", async () => {
    const hello = await captureClientHello('api.example.test', ['h2', 'http/1.1']);
    assert.equal(parseClientHello(hello).state, 'complete');
    const rand = rng(2);
    const states: Record<string, number> = {};
    for (let n = 0; n < 100_000; n++) {
      const m = Buffer.from(hello);
      for (let k = 1 + int(rand, 4); k > 0; k--) {
        // Mostly the lengths and type bytes up front, sometimes anywhere.
        const at = int(rand, 3) ? int(rand, Math.min(m.length, 120)) : int(rand, m.length);
        m[at] = int(rand, 2) ? int(rand, 256) : m[at]! ^ (1 << int(rand, 8));
      }
      const cut = int(rand, 4) ? m : m.subarray(0, int(rand, m.length));
      let r: ReturnType<typeof parseClientHello>;
      try {
        r = parseClientHello(cut);
      } catch (e) {
        assert.fail(`mutant ${n}: ${(e as Error).stack}\n${cut.toString('hex')}`);
      }
      states[r.state] = (states[r.state] ?? 0) + 1;
      if (r.state === 'complete') {
        assert.ok(r.hello.sni === null || typeof r.hello.sni === 'string', JSON.stringify(r));
        assert.ok(
          r.hello.alpn.every((a) => typeof a === 'string'),
          JSON.stringify(r),
        );
      }
    }
    assert.ok((states.complete ?? 0) > 1000 && (states.malformed ?? 0) > 1000 && (states.incomplete ?? 0) > 100, JSON.stringify(states));
  });
});
