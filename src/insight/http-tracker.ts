/**
 * HTTP/1.x transactions from TCP segments: each direction of a connection is reassembled by
 * sequence number (retransmissions dropped, reordering repaired within a small window), its
 * message heads parsed (http-head.ts), its bodies skipped by their framing, and each response
 * paired with the oldest unanswered request of its connection (HTTP/1.1 answers in order,
 * pipelined or not). The data plane copies only the first bytes of each segment: what it did
 * not copy is a hole of known length, which a body may cross but a head may not. A head cut
 * by a hole, a malformed head, or a stream whose framing was lost is counted as unparsed and
 * the stream waits for a segment that starts a message: nothing is guessed.
 */
import {
  field,
  looksLikeRequest,
  looksLikeResponse,
  parseRequestHead,
  parseResponseHead,
  requestFraming,
  responseFraming,
  MAX_HEAD_BYTES,
  type BodyFraming,
  type RequestHead,
} from './http-head.js';
import { looksLikeTlsHandshake, parseClientHello, type ClientHello } from './tls-hello.js';
import { OldestCursor } from '../util/recency-map.js';

/** One TCP segment as the data plane (or a capture) gave it. */
export interface TcpSegment {
  /** When it was seen, microseconds (any epoch, the same for every segment). */
  tsUs: number;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  seq: number;
  flags: number;
  /** Payload bytes the segment carried; `data` holds the first of them (maybe fewer). */
  payloadLen: number;
  /**
   * May be a view of a buffer its maker reuses (the ring's batch): it is read during push(),
   * and the tracker copies what it keeps (a segment held for reordering, a head not yet whole).
   */
  data: Uint8Array;
}

export interface HttpTransaction {
  client: string;
  clientPort: number;
  server: string;
  serverPort: number;
  method: string;
  /** The Host field, or null (HTTP/1.0 needs none). */
  host: string | null;
  uri: string;
  version: string;
  /** The configured version field's value (e.g. API-Version), or null. */
  apiVersion: string | null;
  /** Absent: no response was seen (the connection ended, or its stream was lost). */
  status?: number;
  requestUs: number;
  responseUs?: number;
  /** Request's first byte to response's first byte. */
  latencyUs?: number;
  /** Head and body, when the body's end was seen. */
  requestBytes?: number;
  responseBytes?: number;
}

export interface TlsHello extends ClientHello {
  client: string;
  clientPort: number;
  server: string;
  serverPort: number;
  tsUs: number;
}

export interface HttpTrackerStats {
  connections: number;
  requests: number;
  responses: number;
  /** Interim responses (100 Continue, 103 Early Hints): they answer no request. */
  informational: number;
  transactions: number;
  /** Heads that were malformed, cut short by what the data plane copied, or lost with their stream. */
  unparsedRequests: number;
  unparsedResponses: number;
  /** Responses with no request to pair with. */
  orphanResponses: number;
  tlsHellos: number;
  /** Connections dropped to stay within maxConnections. */
  evicted: number;
}

export interface HttpTrackerOptions {
  onTransaction: (t: HttpTransaction) => void;
  onTls?: (h: TlsHello) => void;
  /** The request field that names an API version (lower case), e.g. "api-version". */
  versionField?: string;
  maxConnections?: number;
}

const TCP_FIN = 0x01;
const TCP_SYN = 0x02;
const TCP_RST = 0x04;
const TCP_ACK = 0x10;
/** Segments held while waiting for a missing one; then the gap becomes a hole. */
const REORDER_WINDOW = 16;
const MAX_CHUNK_LINE = 1024;
/** How stale a connection's place in the recency order may be. */
const RECENCY_US = 1_000_000;
/** Slots of the tracker's table of recently seen connections (a power of two). */
const RECENT_SLOTS = 4096;

/* The states without data of their own are shared. */
const IDLE: StreamState = Object.freeze({ s: 'idle' });
const CLOSE: StreamState = Object.freeze({ s: 'close' });
const LOST_STREAM: StreamState = Object.freeze({ s: 'lost' });
const TUNNEL: StreamState = Object.freeze({ s: 'tunnel' });

type StreamState =
  | { s: 'idle' }
  /** `buf`: the head's bytes so far, a copy (segments' data is not the tracker's to keep). */
  | { s: 'head'; buf: Uint8Array }
  | { s: 'body'; left: number }
  | { s: 'chunk-size'; line: number[] }
  | { s: 'chunk-data'; left: number }
  | { s: 'trailers'; line: number[] }
  | { s: 'close' }
  | { s: 'lost' }
  | { s: 'tunnel' };

interface PendingRequest {
  t: HttpTransaction;
  /** Set once the response's end (or the connection's) was seen. */
  done: boolean;
}

class Connection {
  /** Its streams in the order they were first seen; `lo` and `hi` are the same two, by sender. */
  readonly streams: Stream[] = [];
  /** The stream the lower endpoint sends (push's order of endpoints), and the other. */
  lo: Stream | null = null;
  hi: Stream | null = null;
  /** The client's endpoint key ("addr|port"), once known. */
  client: string | null = null;
  /**
   * Requests in order; the front one is answered next. LOST stands for requests the client
   * sent that could not be read: the response to it answers nothing we know.
   */
  readonly waiting: (PendingRequest | typeof LOST)[] = [];
  /** The response being read, with its request. */
  answering: PendingRequest | null = null;
  tls = false;
  lastUs = 0;
  /** When the connection last moved to the end of the tracker's map (its recency order). */
  placedUs = 0;
  /** Streams that have ended (FIN): both, and the connection is over. */
  finished = 0;
  carriedData = false;
  constructor(
    readonly key: string,
    /** Its two endpoints, the lower first (push's order). */
    readonly loAddr: string,
    readonly loPort: number,
    readonly hiAddr: string,
    readonly hiPort: number,
  ) {}
}

const endpointKey = (addr: string, port: number) => `${addr}|${port}`;

/** A connection's key in the tracker's map: both endpoints, the lower first. */
const connectionKey = (seg: TcpSegment, fromLo: boolean) =>
  fromLo ? `${seg.src}|${seg.sport}/${seg.dst}|${seg.dport}` : `${seg.dst}|${seg.dport}/${seg.src}|${seg.sport}`;

/** One direction's byte stream. */
class Stream {
  nextSeq: number | null = null;
  readonly reorder: TcpSegment[] = [];
  state: StreamState = IDLE;
  msgStartUs = 0;
  msgBytes = 0;
  finished = false;
  /** The request this (client) stream is reading the body of: its size is filled in at its end. */
  reading: PendingRequest | null = null;
  constructor(
    readonly from: string,
    readonly fromPort: number,
    readonly to: string,
    readonly toPort: number,
  ) {
    this.key = endpointKey(from, fromPort);
  }
  /** The sending endpoint's key (endpointKey). */
  readonly key: string;
}

const LOST = 'lost' as const;
const NO_BYTES = new Uint8Array(0);

function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

export class HttpTracker {
  private readonly conns = new Map<string, Connection>();
  /**
   * Connections by the sum of their ports, the last one seen in each slot: a segment of one
   * finds it by comparing its endpoints, without making the key string and hashing it into
   * `conns` (the largest cost of a segment after its head's parse). Every connection here is
   * in `conns`; endConnection takes it out of both.
   */
  private readonly recent: (Connection | null)[] = new Array<Connection | null>(RECENT_SLOTS).fill(null);
  /** The least recently active connection, when one must go (maxConnections). */
  private readonly oldest = new OldestCursor(this.conns);
  private readonly maxConnections: number;
  readonly stats: HttpTrackerStats = {
    connections: 0,
    requests: 0,
    responses: 0,
    informational: 0,
    transactions: 0,
    unparsedRequests: 0,
    unparsedResponses: 0,
    orphanResponses: 0,
    tlsHellos: 0,
    evicted: 0,
  };

  constructor(private readonly opts: HttpTrackerOptions) {
    this.maxConnections = opts.maxConnections ?? 65536;
  }

  /** Connections followed now. */
  get size(): number {
    return this.conns.size;
  }

  push(seg: TcpSegment): void {
    const slot = (seg.sport + seg.dport) & (RECENT_SLOTS - 1);
    const r = this.recent[slot];
    let c: Connection | undefined;
    let fromLo: boolean;
    if (r && r.loPort === seg.sport && r.hiPort === seg.dport && r.loAddr === seg.src && r.hiAddr === seg.dst) {
      c = r;
      fromLo = true;
    } else if (r && r.hiPort === seg.sport && r.loPort === seg.dport && r.hiAddr === seg.src && r.loAddr === seg.dst) {
      c = r;
      fromLo = false;
    } else {
      // One key for both directions, the lower endpoint first.
      fromLo = seg.src < seg.dst || (seg.src === seg.dst && seg.sport <= seg.dport);
      c = this.conns.get(connectionKey(seg, fromLo));
      if (c) this.recent[slot] = c;
    }
    // A new SYN on a connection that carried data: the port was reused, the old one is over
    // (its FIN or RST went unseen).
    if (c && seg.flags & TCP_SYN && !(seg.flags & TCP_ACK) && c.carriedData) {
      this.endConnection(c, seg.tsUs);
      c = undefined;
    }
    if (!c) {
      // A connection is followed from its SYN, or from any data (a stream joined mid-way
      // waits for a segment that starts a message).
      if (!(seg.flags & TCP_SYN) && !seg.data.length) return;
      c = fromLo
        ? new Connection(connectionKey(seg, fromLo), seg.src, seg.sport, seg.dst, seg.dport)
        : new Connection(connectionKey(seg, fromLo), seg.dst, seg.dport, seg.src, seg.sport);
      c.placedUs = seg.tsUs;
      this.conns.set(c.key, c);
      this.recent[slot] = c;
      this.stats.connections++;
      if (this.conns.size > this.maxConnections) this.evictOldest();
    } else if (seg.tsUs - c.placedUs >= RECENCY_US || seg.tsUs < c.placedUs) {
      // Map order is the eviction order: the least recently active first, to within
      // RECENCY_US (moving the connection at every segment cost a tenth of following it).
      this.conns.delete(c.key);
      this.conns.set(c.key, c);
      c.placedUs = seg.tsUs;
    }
    c.lastUs = seg.tsUs;
    let st = fromLo ? c.lo : c.hi;
    if (!st) {
      st = new Stream(seg.src, seg.sport, seg.dst, seg.dport);
      c.streams.push(st);
      if (fromLo) c.lo = st;
      else c.hi = st;
    }
    if (seg.flags & TCP_SYN) {
      // The SYN's sender is the client; its sequence number starts the stream.
      if (!(seg.flags & TCP_ACK) && c.client === null) c.client = st.key;
      st.nextSeq = (seg.seq + 1) >>> 0;
      st.reorder.length = 0;
      return;
    }
    if (seg.flags & TCP_RST) {
      this.endConnection(c, seg.tsUs);
      return;
    }
    this.deliver(c, st, seg);
    if (seg.flags & TCP_FIN) this.endStream(c, st, seg.tsUs);
    if (c.finished === 2) this.endConnection(c, seg.tsUs);
  }

  /** Ends every connection (the capture is over): unanswered requests are reported without a status. */
  flush(nowUs = 0): void {
    for (const c of [...this.conns.values()]) this.endConnection(c, nowUs);
  }

  /**
   * Ends connections with no segment since `idleUs` before `nowUs` (their FIN or RST was
   * missed). One idle for less than RECENCY_US more may wait for the next call.
   */
  expire(nowUs: number, idleUs: number): void {
    // Map order is activity order (to within RECENCY_US): the idle ones are first.
    for (const c of [...this.conns.values()]) {
      if (c.lastUs >= nowUs - idleUs) break;
      this.endConnection(c, nowUs);
    }
  }

  private evictOldest(): void {
    const c = this.oldest.next();
    if (!c) return;
    this.stats.evicted++;
    this.endConnection(c, 0);
  }

  /** Puts a segment's payload in sequence order into its stream. */
  private deliver(c: Connection, st: Stream, seg: TcpSegment): void {
    if (!seg.payloadLen) return;
    c.carriedData = true;
    if (st.nextSeq === null) {
      // Joined mid-connection: the stream starts here, in sync only if a message starts here.
      st.nextSeq = seg.seq;
      if (!this.startsMessage(c, st, seg.data)) st.state = LOST_STREAM;
    }
    const ahead = (seg.seq - st.nextSeq) | 0;
    if (ahead > 0) {
      st.reorder.push({ ...seg, data: new Uint8Array(seg.data) });
      if (st.reorder.length <= REORDER_WINDOW) return;
      // The missing bytes are not coming: they become a hole.
      st.reorder.sort((x, y) => (x.seq - y.seq) | 0);
      const first = st.reorder.shift()!;
      this.feedHole(c, st, (first.seq - st.nextSeq) | 0, first.tsUs);
      st.nextSeq = first.seq;
      this.consume(c, st, first);
    } else {
      this.consume(c, st, seg);
    }
    // Held segments that now follow on.
    for (let again = true; again && st.reorder.length;) {
      again = false;
      for (let i = 0; i < st.reorder.length; i++) {
        const s = st.reorder[i]!;
        if (((s.seq - st.nextSeq!) | 0) <= 0) {
          st.reorder.splice(i, 1);
          this.consume(c, st, s);
          again = true;
          break;
        }
      }
    }
  }

  /** Feeds the part of `seg` beyond what the stream has (retransmitted bytes are skipped). */
  private consume(c: Connection, st: Stream, seg: TcpSegment): void {
    const behind = (st.nextSeq! - seg.seq) | 0;
    if (behind >= seg.payloadLen) return;
    const skip = Math.max(0, behind);
    const known = skip ? seg.data.subarray(Math.min(skip, seg.data.length)) : seg.data;
    const hole = seg.payloadLen - Math.max(skip, seg.data.length);
    st.nextSeq = (seg.seq + seg.payloadLen) >>> 0;
    if (known.length) this.feedBytes(c, st, known, seg.tsUs, skip === 0);
    if (hole > 0) this.feedHole(c, st, hole, seg.tsUs);
  }

  private isClient(c: Connection, st: Stream): boolean | null {
    return c.client === null ? null : c.client === st.key;
  }

  /** At a message boundary: does `data` start something this stream can parse? Sets roles. */
  private startsMessage(c: Connection, st: Stream, data: Uint8Array): boolean {
    const client = this.isClient(c, st);
    if (client !== false && looksLikeTlsHandshake(data)) {
      c.client ??= st.key;
      return true;
    }
    if (client !== false && looksLikeRequest(data) && !looksLikeResponse(data)) {
      c.client ??= st.key;
      return true;
    }
    if (client !== true && looksLikeResponse(data)) {
      if (c.client === null) c.client = c.streams.find((s) => s !== st)?.key ?? `peer-of-${st.key}`;
      return true;
    }
    return false;
  }

  private feedBytes(c: Connection, st: Stream, b: Uint8Array, tsUs: number, atSegmentStart: boolean): void {
    while (b.length) {
      const state = st.state;
      switch (state.s) {
        case 'idle': {
          // Line ends between messages are tolerated (RFC 9112 §2.2).
          let i = 0;
          while (i < b.length && (b[i] === 0x0d || b[i] === 0x0a)) i++;
          if (i === b.length) return;
          if (i) b = b.subarray(i);
          if (c.tls) return;
          if (c.client === null && !this.startsMessage(c, st, b)) {
            st.state = LOST_STREAM;
            break;
          }
          st.state = { s: 'head', buf: NO_BYTES };
          st.msgStartUs = tsUs;
          st.msgBytes = i;
          break;
        }
        case 'head': {
          // Most heads come whole in one segment: parsed where they lie, copied only when a
          // head goes on in the next segment.
          const before = state.buf.length;
          const take = before + b.length <= MAX_HEAD_BYTES ? b : b.subarray(0, Math.max(0, MAX_HEAD_BYTES - before));
          const whole = before ? concatBytes(state.buf, take) : take;
          const used = this.tryHead(c, st, whole, tsUs);
          if (used === null) {
            state.buf = before ? whole : new Uint8Array(take);
            return; // needs more
          }
          st.msgBytes += used - before;
          if (used - before >= b.length) return;
          b = b.subarray(used - before);
          break;
        }
        case 'body':
        case 'chunk-data': {
          // Bytes skipped by count; what ends decides what comes next.
          const n = Math.min(state.left, b.length);
          state.left -= n;
          st.msgBytes += n;
          if (!state.left) {
            if (state.s === 'body') this.endMessage(c, st, tsUs);
            else st.state = { s: 'chunk-size', line: [] };
          }
          if (n === b.length) return;
          b = b.subarray(n);
          break;
        }
        case 'chunk-size':
        case 'trailers': {
          const lf = b.indexOf(0x0a);
          const part = lf < 0 ? b : b.subarray(0, lf + 1);
          st.msgBytes += part.length;
          b = b.subarray(part.length);
          for (const x of part) state.line.push(x);
          if (state.line.length > MAX_CHUNK_LINE) {
            this.lose(c, st);
            break;
          }
          if (lf < 0) return;
          const line = Buffer.from(state.line)
            .toString('latin1')
            .replace(/\r?\n$/, '');
          state.line.length = 0;
          if (state.s === 'trailers') {
            if (line === '') this.endMessage(c, st, tsUs);
            break;
          }
          const m = /^([0-9a-fA-F]{1,8})[ \t]*(?:;.*)?$/.exec(line);
          if (!m) {
            this.lose(c, st);
            break;
          }
          const size = parseInt(m[1]!, 16);
          st.state = size === 0 ? { s: 'trailers', line: [] } : { s: 'chunk-data', left: size + 2 };
          break;
        }
        case 'close':
          st.msgBytes += b.length;
          return;
        case 'tunnel':
          return;
        case 'lost':
          // Back in step only where a segment starts a message.
          if (atSegmentStart && !c.tls && this.startsMessage(c, st, b)) {
            st.state = IDLE;
            break;
          }
          return;
      }
      atSegmentStart = false;
    }
  }

  /** Bytes that passed but were not copied. */
  private feedHole(c: Connection, st: Stream, n: number, tsUs: number): void {
    if (n <= 0) return;
    const state = st.state;
    switch (state.s) {
      case 'body':
      case 'chunk-data': {
        // The hole covers the rest of the body (or chunk), maybe more: what follows it is unseen.
        const used = Math.min(n, state.left);
        state.left -= used;
        st.msgBytes += used;
        if (!state.left) {
          if (state.s === 'body') this.endMessage(c, st, tsUs);
          else st.state = { s: 'chunk-size', line: [] };
        }
        this.feedHole(c, st, n - used, tsUs);
        return;
      }
      case 'close':
        st.msgBytes += n;
        return;
      case 'head':
        // A head cut short: its fields are not all known, so none is reported.
        this.countUnparsed(c, st);
        this.lose(c, st);
        return;
      case 'idle':
      case 'chunk-size':
      case 'trailers':
        this.lose(c, st);
        return;
      case 'lost':
      case 'tunnel':
        return;
    }
  }

  /**
   * Parses the head buffered so far. Returns the head's length once complete, null while it
   * needs more bytes; a malformed head loses the stream (and returns the bytes as used).
   */
  private tryHead(c: Connection, st: Stream, buf: Uint8Array, tsUs: number): number | null {
    const client = this.isClient(c, st);
    if (client && looksLikeTlsHandshake(buf)) {
      const h = parseClientHello(buf);
      if (h.state === 'incomplete' && buf.length < MAX_HEAD_BYTES) return null;
      c.tls = true;
      st.state = TUNNEL;
      for (const s of c.streams) s.state = TUNNEL;
      if (h.state === 'complete') {
        this.stats.tlsHellos++;
        this.opts.onTls?.({ ...h.hello, ...this.endpoints(c, st), tsUs });
      }
      return buf.length;
    }
    if (client) {
      const r = parseRequestHead(buf);
      if (r.state === 'incomplete') return null;
      if (r.state === 'malformed') {
        this.countUnparsed(c, st);
        this.lose(c, st);
        return buf.length;
      }
      this.onRequest(c, st, r.head);
      return r.head.length;
    }
    const r = parseResponseHead(buf);
    if (r.state === 'incomplete') return null;
    if (r.state === 'malformed') {
      this.countUnparsed(c, st);
      this.lose(c, st);
      return buf.length;
    }
    this.stats.responses++;
    const head = r.head;
    if (head.status >= 100 && head.status < 200 && head.status !== 101) {
      this.stats.informational++;
      st.state = IDLE;
      return head.length;
    }
    const front = c.waiting.shift() ?? null;
    const req = front === LOST ? null : front;
    if (!front) this.stats.orphanResponses++;
    else if (req) {
      req.t.status = head.status;
      req.t.responseUs = st.msgStartUs;
      req.t.latencyUs = st.msgStartUs - req.t.requestUs;
      c.answering = req;
    }
    this.frame(c, st, responseFraming(head, req?.t.method ?? null));
    return head.length;
  }

  private endpoints(c: Connection, clientStream: Stream) {
    return {
      client: clientStream.from,
      clientPort: clientStream.fromPort,
      server: clientStream.to,
      serverPort: clientStream.toPort,
    };
  }

  private onRequest(c: Connection, st: Stream, head: RequestHead): void {
    this.stats.requests++;
    // Written out, not spread from endpoints(): one object shape for every transaction, made
    // tens of thousands of times a second.
    const t: HttpTransaction = {
      client: st.from,
      clientPort: st.fromPort,
      server: st.to,
      serverPort: st.toPort,
      method: head.method,
      host: field(head, 'host'),
      uri: head.target,
      version: head.version,
      apiVersion: this.opts.versionField ? field(head, this.opts.versionField) : null,
      requestUs: st.msgStartUs,
    };
    const p: PendingRequest = { t, done: false };
    c.waiting.push(p);
    st.reading = p;
    this.frame(c, st, requestFraming(head));
  }

  /** Moves a stream past a head by the body's framing. */
  private frame(c: Connection, st: Stream, f: BodyFraming): void {
    switch (f.kind) {
      case 'none':
        this.endMessage(c, st, st.msgStartUs);
        return;
      case 'length':
        st.state = { s: 'body', left: f.bytes };
        return;
      case 'chunked':
        st.state = { s: 'chunk-size', line: [] };
        return;
      case 'close':
        st.state = CLOSE;
        return;
      case 'tunnel':
        this.endMessage(c, st, st.msgStartUs);
        st.state = TUNNEL;
        return;
      case 'invalid':
        // The head was read; where its body ends is not known.
        this.lose(c, st);
        return;
    }
  }

  /** A message ended: its size is known; a response completes its transaction. */
  private endMessage(c: Connection, st: Stream, _tsUs: number): void {
    if (this.isClient(c, st)) {
      if (st.reading) st.reading.t.requestBytes = st.msgBytes;
      st.reading = null;
    } else if (c.answering) {
      c.answering.t.responseBytes = st.msgBytes;
      this.report(c.answering);
      c.answering = null;
    }
    st.state = IDLE;
    st.msgBytes = 0;
  }

  /**
   * The stream's framing is lost: what was being read ends without its size, and until a
   * segment starts a message again, the stream's messages go unread. Pairing must not shift:
   * a lost client stream leaves a LOST in the queue (one, however many requests it hid); a lost
   * server stream may have answered any waiting request, so those are reported unanswered.
   */
  private lose(c: Connection, st: Stream): void {
    if (st.state.s === 'lost') return;
    if (this.isClient(c, st)) {
      st.reading = null;
      if (c.waiting[c.waiting.length - 1] !== LOST) c.waiting.push(LOST);
    } else {
      if (c.answering) this.report(c.answering);
      c.answering = null;
      this.unanswered(c);
    }
    st.state = LOST_STREAM;
  }

  private countUnparsed(c: Connection, st: Stream): void {
    if (this.isClient(c, st)) this.stats.unparsedRequests++;
    else this.stats.unparsedResponses++;
  }

  private endStream(c: Connection, st: Stream, tsUs: number): void {
    if (st.finished) return;
    st.finished = true;
    c.finished++;
    // A body read until close ends here; anything else cut short is lost.
    if (st.state.s === 'close') this.endMessage(c, st, tsUs);
    else if (st.state.s === 'head') {
      this.countUnparsed(c, st);
      this.lose(c, st);
    } else if (st.state.s !== 'idle') this.lose(c, st);
    // The server is done: what it did not answer stays unanswered.
    if (this.isClient(c, st) === false) this.unanswered(c);
  }

  private endConnection(c: Connection, tsUs: number): void {
    if (!this.conns.has(c.key)) return;
    for (const st of c.streams) {
      if (st.reorder.length) {
        // Held segments, in order, with holes between them.
        st.reorder.sort((x, y) => (x.seq - y.seq) | 0);
        for (const s of st.reorder.splice(0)) {
          this.feedHole(c, st, (s.seq - st.nextSeq!) | 0, s.tsUs);
          st.nextSeq = s.seq;
          this.consume(c, st, s);
        }
      }
    }
    for (const st of c.streams) this.endStream(c, st, tsUs);
    if (c.answering) this.report(c.answering);
    c.answering = null;
    this.unanswered(c);
    this.conns.delete(c.key);
    const slot = (c.loPort + c.hiPort) & (RECENT_SLOTS - 1);
    if (this.recent[slot] === c) this.recent[slot] = null;
  }

  private unanswered(c: Connection): void {
    for (const p of c.waiting.splice(0)) if (p !== LOST) this.report(p);
  }

  private report(p: PendingRequest): void {
    if (p.done) return;
    p.done = true;
    this.stats.transactions++;
    this.opts.onTransaction(p.t);
  }
}
