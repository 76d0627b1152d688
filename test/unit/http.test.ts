/**
 * The HTTP parser and tracker on segments made here: what the data plane's copy leaves out
 * (holes), retransmissions, reordering, framing (length, chunked, until close, HEAD, 1xx),
 * heads cut short or malformed, pairing kept in step after a loss, and TLS ClientHellos as
 * Node's own TLS client writes them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { field, parseRequestHead, parseResponseHead, requestFraming, responseFraming } from '../../src/insight/http-head.js';
import { HttpTracker, type HttpTransaction, type TcpSegment, type TlsHello } from '../../src/insight/http-tracker.js';
import { parseClientHello } from '../../src/insight/tls-hello.js';
import { captureClientHello } from '../helpers/client-hello.js';

const SYN = 0x02;
const ACK = 0x10;
const FIN = 0x01;
const RST = 0x04;

/** One connection's two directions, with their own sequence numbers and a clock. */
class Conn {
  private cseq = 1000;
  private sseq = 5000;
  private t = 0;
  constructor(
    private readonly tracker: HttpTracker,
    readonly cport = 40000,
  ) {}
  private seg(fromClient: boolean, flags: number, payloadLen: number, data: Uint8Array, seq?: number): TcpSegment {
    this.t += 1000;
    return {
      tsUs: this.t,
      src: fromClient ? '192.0.2.1' : '192.0.2.2',
      dst: fromClient ? '192.0.2.2' : '192.0.2.1',
      sport: fromClient ? this.cport : 80,
      dport: fromClient ? 80 : this.cport,
      seq: seq ?? (fromClient ? this.cseq : this.sseq),
      flags,
      payloadLen,
      data,
    };
  }
  handshake(): this {
    this.tracker.push(this.seg(true, SYN, 0, new Uint8Array(0), this.cseq - 1));
    this.tracker.push(this.seg(false, SYN | ACK, 0, new Uint8Array(0), this.sseq - 1));
    return this;
  }
  /** Sends `text` (or `total` bytes of which only the first text.length were copied). */
  make(fromClient: boolean, text: string | Buffer, total?: number): TcpSegment {
    const data = typeof text === 'string' ? Buffer.from(text, 'latin1') : text;
    const len = total ?? data.length;
    const s = this.seg(fromClient, ACK, len, data);
    if (fromClient) this.cseq = (this.cseq + len) >>> 0;
    else this.sseq = (this.sseq + len) >>> 0;
    return s;
  }
  client(text: string | Buffer, total?: number): this {
    this.tracker.push(this.make(true, text, total));
    return this;
  }
  server(text: string | Buffer, total?: number): this {
    this.tracker.push(this.make(false, text, total));
    return this;
  }
  fin(fromClient: boolean): this {
    this.tracker.push(this.seg(fromClient, FIN | ACK, 0, new Uint8Array(0)));
    return this;
  }
  rst(): this {
    this.tracker.push(this.seg(true, RST, 0, new Uint8Array(0)));
    return this;
  }
  /** Lets `us` microseconds pass on this connection's clock. */
  wait(us: number): this {
    this.t += us;
    return this;
  }
}

function track(opts: { versionField?: string; maxConnections?: number } = {}) {
  const out: HttpTransaction[] = [];
  const hellos: TlsHello[] = [];
  const tracker = new HttpTracker({ onTransaction: (t) => out.push(t), onTls: (h) => hellos.push(h), ...opts });
  return { tracker, out, hellos };
}

const brief = (t: HttpTransaction) => [t.method, t.uri, t.status ?? null];

describe('HTTP heads', () => {
  it('parses request and status lines and fields, and says when a head is not complete', () => {
    const r = parseRequestHead(
      Buffer.from('POST /v1/x?y=1 HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\nX-A: 1\r\nx-a: 2\r\n\r\nhello'),
    );
    assert.equal(r.state, 'complete');
    if (r.state !== 'complete') return;
    assert.equal(r.head.method, 'POST');
    assert.equal(r.head.target, '/v1/x?y=1');
    assert.deepEqual(r.head.fields.get('x-a'), ['1', '2']);
    // Read by name without case; a repeated field's values joined; an absent one null.
    assert.equal(field(r.head, 'x-a'), '1, 2');
    assert.equal(field(r.head, 'host'), 'a.example');
    assert.equal(field(r.head, 'x-b'), null);
    assert.equal(r.head.length, 79);
    assert.deepEqual(requestFraming(r.head), { kind: 'length', bytes: 5 });
    assert.deepEqual(parseRequestHead(Buffer.from('GET / HTTP/1.1\r\nHost: a')), { state: 'incomplete' });
    // A value continued on the next line (obsolete folding) is one value.
    const folded = parseRequestHead(Buffer.from('GET / HTTP/1.1\r\nX-Long: a\r\n  b\r\n\tc\r\nHost: h\r\n\r\n'));
    assert.equal(folded.state === 'complete' && field(folded.head, 'x-long'), 'a b c');
    assert.equal(folded.state === 'complete' && field(folded.head, 'host'), 'h');
    assert.equal(parseRequestHead(Buffer.from('GET / HTTP/1.1\r\n folded first\r\n\r\n')).state, 'malformed');
    // Bare LF line ends are accepted, as servers accept them.
    assert.equal(parseRequestHead(Buffer.from('GET / HTTP/1.0\n\n')).state, 'complete');
    // The head ends at its first empty line, whatever follows: a body, another head, or more
    // than 16 KiB; what follows is not part of it.
    for (const [bytes, length, host] of [
      ['GET / HTTP/1.1\r\nHost: a\r\n\r\nHost: b\r\n\r\n', 27, 'a'],
      ['GET / HTTP/1.1\nHost: a\n\nGET /2 HTTP/1.1\n\n', 24, 'a'],
      ['GET / HTTP/1.1\r\nHost: a\r\n\r\n' + 'x'.repeat(20000), 27, 'a'],
      ['\r\nGET / HTTP/1.1\r\nHost: a\n\r\n', 28, 'a'],
    ] as const) {
      const r = parseRequestHead(Buffer.from(bytes));
      assert.equal(
        r.state === 'complete' && `${r.head.length} ${field(r.head, 'host')}`,
        `${length} ${host}`,
        JSON.stringify(bytes.slice(0, 40)),
      );
    }
    // Heads of every length around the first bytes decoded alone (512), with a body after them:
    // an end cut by that edge is found whole, and no earlier end is made up.
    for (let len = 500; len <= 530; len++) {
      for (const eol of ['\r\n', '\n']) {
        const top = `GET / HTTP/1.1${eol}Host: a${eol}X-Pad: `;
        const head = top + 'p'.repeat(len - top.length - 2 * eol.length) + eol + eol;
        assert.equal(head.length, len);
        const r = parseRequestHead(Buffer.from(head + 'b'.repeat(600)));
        assert.equal(
          r.state === 'complete' && `${r.head.length} ${field(r.head, 'host')}`,
          `${head.length} a`,
          `${len} ${JSON.stringify(eol)}`,
        );
      }
    }
    // Two empty lines first: the head ends there, empty (the request after it is not taken for it).
    assert.deepEqual(parseRequestHead(Buffer.from('\r\n\r\nGET / HTTP/1.1\r\n\r\n')), { state: 'malformed', why: 'an empty request' });
    // No end within 16 KiB: refused; within fewer bytes: not yet whole.
    const long = Buffer.from('GET / HTTP/1.1\r\nX-Pad: ' + 'p'.repeat(17000) + '\r\n\r\n');
    assert.deepEqual(parseRequestHead(long), { state: 'malformed', why: 'a head over 16 KiB' });
    assert.deepEqual(parseRequestHead(long.subarray(0, 16383)), { state: 'incomplete' });
    assert.deepEqual(parseResponseHead(Buffer.from('HTTP/1.1 200 OK\r\nA: ' + 'p'.repeat(17000))), {
      state: 'malformed',
      why: 'a head over 16 KiB',
    });
    for (const bad of [
      'GET /\r\n\r\n',
      'GET / HTTP/2.0\r\n\r\n',
      'G(T / HTTP/1.1\r\n\r\n',
      'GET / HTTP/1.1\r\nNo colon\r\n\r\n',
      'GET  / HTTP/1.1\r\n\r\n',
    ]) {
      assert.equal(parseRequestHead(Buffer.from(bad)).state, 'malformed', bad);
    }
    const s = parseResponseHead(Buffer.from('HTTP/1.1 404 Not Found\r\nTransfer-Encoding: gzip, chunked\r\n\r\n'));
    assert.equal(s.state === 'complete' && s.head.status, 404);
    if (s.state === 'complete') {
      assert.deepEqual(responseFraming(s.head, 'GET'), { kind: 'chunked' });
      assert.deepEqual(responseFraming(s.head, 'HEAD'), { kind: 'none' });
    }
    assert.equal(parseResponseHead(Buffer.from('HTTP/1.1 20 OK\r\n\r\n')).state, 'malformed');
    // Found by test/unit/http-fuzz.test.ts: a mutated "100" read as status 0.
    assert.equal(parseResponseHead(Buffer.from('HTTP/1.1 000 Continue\r\n\r\n')).state, 'malformed');
    assert.equal(parseResponseHead(Buffer.from('HTTP/1.1 099 X\r\n\r\n')).state, 'malformed');
  });

  it('reads body lengths as RFC 9112 says: conflicting lengths are invalid, a response without one runs to the close', () => {
    const req = (h: string) => {
      const r = parseRequestHead(Buffer.from(`POST / HTTP/1.1\r\n${h}\r\n`));
      assert.equal(r.state, 'complete');
      return r.state === 'complete' ? requestFraming(r.head) : null;
    };
    assert.equal(req('Content-Length: 5\r\nContent-Length: 6\r\n')?.kind, 'invalid');
    assert.deepEqual(req('Content-Length: 5, 5\r\n'), { kind: 'length', bytes: 5 });
    assert.equal(req('Transfer-Encoding: gzip\r\n')?.kind, 'invalid');
    assert.deepEqual(req(''), { kind: 'none' });
    const res = parseResponseHead(Buffer.from('HTTP/1.0 200 OK\r\n\r\n'));
    assert.deepEqual(res.state === 'complete' && responseFraming(res.head, 'GET'), { kind: 'close' });
  });
});

describe('HTTP tracker', () => {
  it('pairs a request and its response, times them and sizes them, across copy holes in the bodies', () => {
    const { tracker, out } = track({ versionField: 'api-version' });
    const c = new Conn(tracker).handshake();
    // A head of 77 bytes and a body of 3000, in three segments of which the first bytes were copied.
    c.client('POST /v2/orders HTTP/1.1\r\nHost: api\r\nAPI-Version: 7\r\nContent-Length: 3000\r\n\r\n' + 'x'.repeat(100), 1448);
    c.client('y'.repeat(50), 1448);
    c.client('z', 3077 - 2896);
    const head = 'HTTP/1.1 201 Created\r\nContent-Length: 5000\r\n\r\n';
    c.server(head + 'abc', 1448)
      .server('', 1448)
      .server('', 1448);
    // The last segment runs past the body: a next answer would start in the hole, unseen.
    c.server('q', head.length + 5000 - 3 * 1448 + 10);
    c.fin(true).fin(false);
    assert.equal(out.length, 1);
    const t = out[0]!;
    assert.deepEqual(brief(t), ['POST', '/v2/orders', 201]);
    assert.equal(t.host, 'api');
    assert.equal(t.apiVersion, '7');
    assert.equal(t.requestBytes, 3077);
    assert.equal(t.responseBytes, 5046);
    assert.equal(t.latencyUs, t.responseUs! - t.requestUs);
    assert.ok(t.latencyUs! > 0);
    assert.equal(tracker.size, 0, 'both FINs end the connection');
  });

  it('reassembles a head split over segments, also when they arrive out of order, and skips retransmissions', () => {
    const { tracker, out } = track();
    const c = new Conn(tracker).handshake();
    const a = c.make(true, 'GET /v1/a');
    const b = c.make(true, 'bc HTTP/1.1\r\nHo');
    const d = c.make(true, 'st: h\r\n\r\n');
    tracker.push(a);
    tracker.push(d); // ahead of b: held
    tracker.push(b);
    tracker.push(b); // a retransmission
    c.server('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    c.server('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'); // answers nothing
    c.rst();
    assert.deepEqual(out.map(brief), [['GET', '/v1/abc', 200]]);
    assert.equal(out[0]!.host, 'h');
    assert.equal(tracker.stats.orphanResponses, 1);
  });

  it('pairs pipelined requests in order; HEAD and 1xx answers have no body; 100-continue pairs with nothing', () => {
    const { tracker, out } = track();
    const c = new Conn(tracker).handshake();
    c.client(
      'GET /1 HTTP/1.1\r\nHost: h\r\n\r\nHEAD /2 HTTP/1.1\r\nHost: h\r\n\r\nPOST /3 HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n',
    );
    c.server('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n');
    c.client('body');
    c.server('HTTP/1.1 204 No Content\r\n\r\n');
    c.fin(false).fin(true);
    assert.deepEqual(out.map(brief), [
      ['GET', '/1', 200],
      ['HEAD', '/2', 200],
      ['POST', '/3', 204],
    ]);
    assert.equal(tracker.stats.informational, 1);
  });

  it('follows chunked bodies and bodies read until the close', () => {
    const { tracker, out } = track();
    const c = new Conn(tracker).handshake();
    c.client('GET /c HTTP/1.1\r\nHost: h\r\n\r\nGET /d HTTP/1.1\r\nHost: h\r\n\r\n');
    c.server('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n');
    c.server('3\r\nabc\r\n0\r\nTrailer: x\r\n\r\nHTTP/1.0 200 OK\r\n\r\nuntil the end');
    c.fin(false);
    assert.deepEqual(out.map(brief), [
      ['GET', '/c', 200],
      ['GET', '/d', 200],
    ]);
    assert.equal(out[1]!.responseBytes, 19 + 13);
  });

  it('counts a head cut by a copy hole as unparsed and keeps pairing in step', () => {
    const { tracker, out } = track();
    const c = new Conn(tracker).handshake();
    // A long head of which only 30 bytes were copied: method and target seen, the rest not.
    c.client('GET /v1/cut HTTP/1.1\r\nHost: h\r\n', 2000);
    c.client('GET /v1/next HTTP/1.1\r\nHost: h\r\n\r\n');
    c.server('HTTP/1.1 431 Too Large\r\nContent-Length: 0\r\n\r\n');
    c.server('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    c.fin(true).fin(false);
    assert.deepEqual(out.map(brief), [['GET', '/v1/next', 200]], 'the 431 answers the unparsed request, not the next one');
    assert.equal(tracker.stats.unparsedRequests, 1);
  });

  it('reports waiting requests unanswered when the server stream loses its framing, and pairs again after', () => {
    const { tracker, out } = track();
    const c = new Conn(tracker).handshake();
    c.client('GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n');
    // A chunked body whose next size line fell in a hole: where /a's answer ends is unknown.
    c.server('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n', 3000);
    c.server('1\r\nx\r\n0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'); // /b's answer, mid-segment: not trusted
    c.client('GET /c HTTP/1.1\r\nHost: h\r\n\r\n');
    c.server('HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n'); // starts a segment: back in step
    c.fin(true).fin(false);
    assert.deepEqual(out.map(brief), [
      ['GET', '/a', 200],
      ['GET', '/b', null],
      ['GET', '/c', 202],
    ]);
  });

  it('counts malformed requests as unparsed, and joins a connection mid-way only at a message start', () => {
    const { tracker, out } = track();
    const c = new Conn(tracker).handshake();
    c.client('NOT HTTP\r\n\r\n');
    c.server('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    c.fin(false).fin(true);
    assert.equal(out.length, 0);
    assert.equal(tracker.stats.unparsedRequests, 1);
    // No SYN seen: a body's tail first, then a request at a segment's start.
    const m = new Conn(tracker, 40001);
    m.client('tail of something\r\n\r\n');
    m.client('DELETE /v1/x/9 HTTP/1.1\r\nHost: h\r\n\r\n');
    m.server('HTTP/1.1 204 No Content\r\n\r\n');
    m.rst();
    assert.deepEqual(out.map(brief), [['DELETE', '/v1/x/9', 204]]);
  });

  it('starts over when a SYN reuses the ports of a connection whose end was not seen', () => {
    const { tracker, out } = track();
    const c = new Conn(tracker).handshake();
    c.client('GET /old HTTP/1.1\r\nHost: h\r\n\r\n');
    const again = new Conn(tracker).handshake();
    again.client('GET /new HTTP/1.1\r\nHost: h\r\n\r\n');
    again.server('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    tracker.flush();
    assert.deepEqual(out.map(brief), [
      ['GET', '/old', null],
      ['GET', '/new', 200],
    ]);
  });

  it('ends the least recently active connection beyond maxConnections, reporting what it waited for', () => {
    const { tracker, out } = track({ maxConnections: 2 });
    for (const port of [1, 2, 3]) new Conn(tracker, port).handshake().client(`GET /${port} HTTP/1.1\r\nHost: h\r\n\r\n`);
    assert.equal(tracker.size, 2);
    assert.equal(tracker.stats.evicted, 1);
    assert.deepEqual(out.map(brief), [['GET', '/1', null]]);
    tracker.flush();
    assert.equal(out.length, 3);
  });

  it('keeps apart interleaved connections whose ports share a slot of its table of recent ones', () => {
    const { tracker, out } = track();
    // 40000 + 80 and 44096 + 80 are 4,096 apart: the same slot.
    const a = new Conn(tracker, 40000).handshake();
    const b = new Conn(tracker, 44096).handshake();
    a.client('GET /a HTTP/1.1\r\nHost: h\r\n\r\n');
    b.client('GET /b HTTP/1.1\r\nHost: h\r\n\r\n');
    a.server('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    b.server('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
    b.rst();
    a.client('GET /a2 HTTP/1.1\r\nHost: h\r\n\r\n').server('HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n');
    // The ended one's ports, used again by a new connection, and again after one that carried
    // nothing (a new SYN on it does not end it): what it was asked is still reported at the end.
    new Conn(tracker, 44096).handshake().client('GET /b2 HTTP/1.1\r\nHost: h\r\n\r\n').server('HTTP/1.1 204 No Content\r\n\r\n').rst();
    new Conn(tracker, 44096).handshake().rst();
    new Conn(tracker, 44096).handshake().client('GET /b3 HTTP/1.1\r\nHost: h\r\n\r\n');
    tracker.flush();
    assert.deepEqual(out.map(brief), [
      ['GET', '/a', 200],
      ['GET', '/b', 404],
      ['GET', '/a2', 201],
      ['GET', '/b2', 204],
      ['GET', '/b3', null],
    ]);
    assert.equal(tracker.stats.connections, 5);
  });

  it('counts a connection active again after a second as recent, for eviction', () => {
    const { tracker, out } = track({ maxConnections: 2 });
    const a = new Conn(tracker, 1).handshake();
    new Conn(tracker, 2).wait(5_000).handshake();
    // Two seconds on, the first connection sends a request: the second is now the oldest.
    a.wait(2_000_000).client('GET /a HTTP/1.1\r\nHost: h\r\n\r\n');
    new Conn(tracker, 3).wait(3_000_000).handshake();
    assert.equal(tracker.stats.evicted, 1);
    a.server('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    assert.deepEqual(out.map(brief), [['GET', '/a', 200]]);
  });

  it("reads the server name and ALPN of Node's own TLS ClientHello", async () => {
    const hello = await captureClientHello('api.example.test', ['h2', 'http/1.1']);
    assert.deepEqual(parseClientHello(hello), { state: 'complete', hello: { sni: 'api.example.test', alpn: ['h2', 'http/1.1'] } });
    assert.deepEqual(parseClientHello(hello.subarray(0, 60)), { state: 'incomplete' });
    const { tracker, hellos } = track();
    const c = new Conn(tracker, 40443).handshake();
    c.client(hello.subarray(0, 100));
    c.client(hello.subarray(100));
    assert.deepEqual(
      hellos.map((h) => [h.sni, h.clientPort]),
      [['api.example.test', 40443]],
    );
  });
});
