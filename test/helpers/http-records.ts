/**
 * Records of the HTTP stage's ring (http.bpf.h's layout, the fields as the data plane writes
 * them), crafted: for driving the daemon's HTTP service without a data plane (its unit test,
 * bench/http-path.ts).
 */
import * as abi from '../../src/generated/pathwise.js';
import { TCP } from './craft.js';

const SEG = abi.PwHttpSegment.offsets;

export interface Endpoint {
  addr: number[];
  port: number;
}

/** One ring record: the fixed part and the payload's first bytes, sized as http.bpf.h's classes. */
export function httpRecord(tsNs: bigint, from: Endpoint, to: Endpoint, seq: number, flags: number, payload: Buffer): Buffer {
  const cap = payload.length <= 256 ? 256 : 1024;
  const r = Buffer.alloc(SEG.data + cap);
  r.writeBigUInt64LE(tsNs, SEG.ts_ns);
  r.writeUInt32LE(seq >>> 0, SEG.seq);
  r.writeUInt32LE(payload.length, SEG.payload_len);
  r.writeUInt16LE(payload.length, SEG.caplen);
  r[SEG.family] = 4;
  r[SEG.tcp_flags] = flags;
  r.writeUInt16BE(from.port, SEG.sport);
  r.writeUInt16BE(to.port, SEG.dport);
  Buffer.from(from.addr).copy(r, SEG.src);
  Buffer.from(to.addr).copy(r, SEG.dst);
  payload.copy(r, SEG.data);
  return r;
}

/** A client of crafted traffic: its endpoint and each direction's next sequence number. */
export interface HttpClient {
  ep: Endpoint;
  cseq: number;
  sseq: number;
}

/**
 * Each client's handshake with `server` (SYN, then SYN-ACK) added to `recs`, `stepNs` apart from
 * `ns`, and its sequence numbers advanced past it; returns the clock after the last.
 */
export function httpHandshakes(recs: Buffer[], clients: HttpClient[], server: Endpoint, ns: bigint, stepNs: bigint): bigint {
  for (const c of clients) {
    recs.push(httpRecord((ns += stepNs), c.ep, server, c.cseq++, TCP.SYN, Buffer.alloc(0)));
    recs.push(httpRecord((ns += stepNs), server, c.ep, c.sseq++, TCP.SYN | TCP.ACK, Buffer.alloc(0)));
  }
  return ns;
}

/** Records in batches of `size`, as the ring reader hands them over (data, and each record's end). */
export function httpBatches(recs: Buffer[], size: number): { data: Buffer; ends: Uint32Array }[] {
  const batches: { data: Buffer; ends: Uint32Array }[] = [];
  for (let i = 0; i < recs.length; i += size) {
    const part = recs.slice(i, i + size);
    const ends = new Uint32Array(part.length);
    let end = 0;
    part.forEach((r, j) => (ends[j] = end += r.length));
    batches.push({ data: Buffer.concat(part), ends });
  }
  return batches;
}
