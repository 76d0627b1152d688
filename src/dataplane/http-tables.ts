/**
 * The HTTP stage's tables: its switch and monitored ports (written here, read by the pipeline
 * with the next packet; no reload), its counters, and its segment ring, decoded into the
 * segments src/insight/http-tracker.ts follows.
 */
import { join } from 'node:path';

import { openPinned, RingBufferReader } from '../kernel/index.js';
import * as abi from '../generated/pathwise.js';
import type { TcpSegment } from '../insight/http-tracker.js';
import { monoToEpochOffsetNs } from '../util/clock.js';
import { formatAddress } from '../util/ip.js';
import { pinDirOf } from '../util/instance.js';
import type { PipelineMaps } from './pipeline.js';
import { switchFeature } from './feature-bytes.js';

export interface HttpControl {
  enabled: boolean;
  /** Every TCP port (replay, or a host that serves HTTP on ports not listed). */
  allPorts: boolean;
  /** TCP ports whose segments are followed (either end of the connection). */
  ports: readonly number[];
  /** Payload bytes copied per segment, 1..HTTP_BYTES. */
  snap: number;
}

export const HTTP_SNAP_MAX = abi.PwLimit.HTTP_BYTES;

/** Writes the port bitmap, then the switch: a packet never sees the switch on with old ports. */
export function setHttpControl(maps: Pick<PipelineMaps, 'httpCtl' | 'httpPorts' | 'guardState'>, ctl: HttpControl): void {
  const words = new Array<bigint>(abi.PwLimit.HTTP_PORT_WORDS).fill(0n);
  for (const p of ctl.ports) words[p >> 6]! |= 1n << BigInt(p & 63);
  const current = maps.httpPorts.get.bind(maps.httpPorts);
  words.forEach((w, i) => {
    if ((current(i) ?? 0n) !== w) maps.httpPorts.set(i, w);
  });
  switchFeature(maps, abi.PwFeature.HTTP, ctl.enabled, () =>
    maps.httpCtl.set(0, {
      enabled: ctl.enabled ? 1 : 0,
      all_ports: ctl.allPorts ? 1 : 0,
      snap: Math.max(1, Math.min(HTTP_SNAP_MAX, ctl.snap)),
    }),
  );
}

export function httpCounters(maps: Pick<PipelineMaps, 'httpStats'>): { segmentsSent: number; segmentsLost: number } {
  const per = maps.httpStats.get(0) ?? [];
  return {
    segmentsSent: Number(per.reduce((a, v) => a + v.segments_sent, 0n)),
    segmentsLost: Number(per.reduce((a, v) => a + v.segments_lost, 0n)),
  };
}

const SEG = abi.PwHttpSegment.offsets;

/**
 * One record of the ring. Its time is the data plane's clock made wall-clock microseconds,
 * unless `tsUs` gives another (a replayed capture's own time); a reader of a batch passes the
 * clock offset once for all of it (`offsetNs`). Records are as long as their
 * size class (http.bpf.h): the fixed part, then up to `caplen` bytes of data. Read field by
 * field, without a Buffer made for any part: tens of thousands of them a second come through
 * here. The segment's data is a view into `rec` (TcpSegment: the tracker copies what it keeps).
 */
export function decodeHttpSegment(rec: Buffer, tsUs?: number, offsetNs?: bigint): TcpSegment {
  return decodeHttpSegmentAt(rec, 0, rec.length, tsUs, offsetNs);
}

/** decodeHttpSegment of the record at buf[at, end) (a ring batch read in place: RingBufferReader.onBatches). */
export function decodeHttpSegmentAt(buf: Buffer, at: number, end: number, tsUs: number | undefined, offsetNs?: bigint): TcpSegment {
  if (end - at < SEG.data) throw new RangeError(`an HTTP segment record of ${end - at} bytes, shorter than its ${SEG.data} of fields`);
  const family = buf[at + SEG.family] === 6 ? 6 : 4;
  const caplen = Math.min(buf.readUInt16LE(at + SEG.caplen), end - at - SEG.data);
  const payloadLen = buf.readUInt32LE(at + SEG.payload_len);
  return {
    // The clock offset is asked for only when the record's own time is used (not in a replay).
    tsUs: tsUs ?? epochUs(buf, at, offsetNs ?? monoToEpochOffsetNs()),
    src: family === 4 ? ipv4At(buf, at + SEG.src) : formatAddress(6, new Uint8Array(buf.buffer, buf.byteOffset + at + SEG.src, 16)),
    dst: family === 4 ? ipv4At(buf, at + SEG.dst) : formatAddress(6, new Uint8Array(buf.buffer, buf.byteOffset + at + SEG.dst, 16)),
    sport: buf.readUInt16BE(at + SEG.sport),
    dport: buf.readUInt16BE(at + SEG.dport),
    seq: buf.readUInt32LE(at + SEG.seq),
    flags: buf[at + SEG.tcp_flags]!,
    payloadLen,
    data: new Uint8Array(buf.buffer, buf.byteOffset + at + SEG.data, Math.min(caplen, payloadLen)),
  };
}

/**
 * IPv4 addresses as text, the same string for an address seen again (a busy server's
 * segments come from and go to few addresses; text made anew was a third of what decoding a
 * segment allocated). Emptied when it holds ADDRESS_CACHE_MAX.
 */
const ipv4Text = new Map<number, string>();
const ADDRESS_CACHE_MAX = 4096;

function ipv4At(rec: Buffer, o: number): string {
  const n = rec.readInt32BE(o);
  let text = ipv4Text.get(n);
  if (text === undefined) {
    if (ipv4Text.size >= ADDRESS_CACHE_MAX) ipv4Text.clear();
    text = `${rec[o]}.${rec[o + 1]}.${rec[o + 2]}.${rec[o + 3]}`;
    ipv4Text.set(n, text);
  }
  return text;
}

/** The clock offset last used, split into microseconds and nanoseconds (it changes rarely). */
const offsetMemo = { ns: 0n, us: 0, rem: 0 };

/**
 * The record's time in wall-clock microseconds, floor((monotonic ns + offset) / 1000) as the
 * BigInt sum would give it, in doubles: BigInt arithmetic cost more per record than all its
 * other fields. The monotonic nanoseconds are exact in a double for 104 days of uptime and
 * within a few ns after, far below the microsecond kept. The offset (wall clock minus
 * monotonic) is positive.
 */
function epochUs(rec: Buffer, at: number, offsetNs: bigint): number {
  if (offsetNs !== offsetMemo.ns) {
    offsetMemo.ns = offsetNs;
    offsetMemo.us = Number(offsetNs / 1000n);
    offsetMemo.rem = Number(offsetNs % 1000n);
  }
  const monoNs = rec.readUInt32LE(at + SEG.ts_ns + 4) * 4294967296 + rec.readUInt32LE(at + SEG.ts_ns);
  const monoUs = Math.floor(monoNs / 1000);
  return monoUs + offsetMemo.us + Math.floor((monoNs - monoUs * 1000 + offsetMemo.rem) / 1000);
}

/** Reads the instance's HTTP segment ring (one reader: the daemon). */
export function openHttpRing(instance: string): RingBufferReader {
  return new RingBufferReader(openPinned(join(pinDirOf(instance), abi.maps.pw_http.name), 'map'), {
    highWaterMark: 32768,
    drainMs: abi.PwLimit.RING_DRAIN_MS,
  });
}

/** What the stage is set to now (ports read back from the bitmap). */
export function httpControl(maps: Pick<PipelineMaps, 'httpCtl' | 'httpPorts'>): HttpControl {
  const c = maps.httpCtl.get(0) ?? abi.PwHttpCtl.zero();
  const ports: number[] = [];
  // Switched off, the ports do not matter (reconcilers/http.ts compares 'off' alone): the
  // bitmap's 1024 lookups are spared on every plan of a config without HTTP insight.
  if (!c.enabled) return { enabled: false, allPorts: c.all_ports !== 0, ports, snap: c.snap };
  for (let w = 0; w < abi.PwLimit.HTTP_PORT_WORDS; w++) {
    const bits = maps.httpPorts.get(w) ?? 0n;
    if (!bits) continue;
    for (let b = 0; b < 64; b++) if ((bits >> BigInt(b)) & 1n) ports.push(w * 64 + b);
  }
  return { enabled: c.enabled !== 0, allPorts: c.all_ports !== 0, ports, snap: c.snap };
}
