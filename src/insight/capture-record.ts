/**
 * Captured packets as the pipeline hands them over (struct pw_capture_record) and in the forms
 * Pathwise writes them: one JSON object per packet (`capture --json`, the daemon's NDJSON
 * stream), and pcapng blocks with the verdict. The capture itself runs in the pipeline
 * (src/dataplane/capture-slot.ts).
 */
import * as abi from '../generated/pathwise.js';
import { summarizePacket, type PacketSummary } from './packet-summary.js';
import type { PcapngPacket } from './pcapng.js';
import { reasonName, verdictName } from './verdicts.js';

export type CapturePoint = 'ingress' | 'verdict';

export interface CaptureOptions {
  /** Only packets arriving on this interface (it must run the pipeline); all when absent. */
  iface?: string;
  point: CapturePoint;
  /** Bytes kept of each packet (at most 2048, PW_CAPTURE_BYTES). */
  snap: number;
  /** A tcpdump filter expression; empty: every packet. */
  expression: string;
}

export interface CapturedRecord {
  /** Nanoseconds since the epoch. */
  tsNs: bigint;
  iif: string;
  len: number;
  data: Buffer;
  point: CapturePoint;
  /** At the verdict point: what the pipeline decided. */
  verdict?: string;
  reason?: string;
  xdpAction?: number;
  rule?: number;
  route?: number;
  oif?: string | null;
}

/** XDP's return codes, as pcapng's epb_verdict records them (linux/bpf.h enum xdp_action). */
const XdpAction = { ABORTED: 0, DROP: 1, PASS: 2, TX: 3, REDIRECT: 4 } as const;

const XDP_OF_VERDICT: Record<number, number> = {
  [abi.PwVerdict.PASS]: XdpAction.PASS,
  [abi.PwVerdict.DROP]: XdpAction.DROP,
  [abi.PwVerdict.REDIRECT]: XdpAction.REDIRECT,
  [abi.PwVerdict.TX]: XdpAction.TX,
  [abi.PwVerdict.ABORTED]: XdpAction.ABORTED,
};

const C = abi.PwCaptureRecord.offsets;

/**
 * Decodes one record of the capture ring; `ifName` names interfaces. The fields are read where
 * they lie and only the captured bytes copied (the generated decoder copies the record's whole
 * room for data, 2 KiB, for every packet).
 */
export function decodeCaptureRecord(rec: Buffer, monoToEpochNs: bigint, ifName: (ifindex: number) => string): CapturedRecord {
  if (rec.byteLength < C.data) throw new RangeError(`a capture record of ${rec.byteLength} bytes, shorter than its ${C.data} of fields`);
  const caplen = Math.min(rec.readUInt32LE(C.caplen), rec.byteLength - C.data);
  const point: CapturePoint = rec[C.point] === abi.PwCapturePoint.VERDICT ? 'verdict' : 'ingress';
  const out: CapturedRecord = {
    tsNs: rec.readBigUInt64LE(C.ts_ns) + monoToEpochNs,
    iif: ifName(rec.readUInt32LE(C.ifindex)),
    len: rec.readUInt32LE(C.len),
    data: Buffer.from(rec.subarray(C.data, C.data + caplen)),
    point,
  };
  if (point === 'verdict') {
    const verdict = rec[C.verdict]!;
    const egress = rec.readUInt32LE(C.egress_ifindex);
    Object.assign(out, {
      verdict: verdictName(verdict),
      reason: reasonName(rec[C.reason]!),
      xdpAction: XDP_OF_VERDICT[verdict],
      rule: rec.readUInt32LE(C.rule),
      route: rec.readUInt32LE(C.route),
      oif: egress ? ifName(egress) : null,
    });
  }
  return out;
}

/**
 * A captured packet as one JSON object: what `capture --json` prints and the daemon's
 * /v1/capture streams as NDJSON. `timeNs` (a decimal string) keeps the nanoseconds that
 * `time` rounds away, so a remote client writes the same capture file a local one would.
 */
export interface CapturedRecordJson extends Omit<CapturedRecord, 'tsNs' | 'data'> {
  time: string;
  timeNs: string;
  packet: PacketSummary;
  /** The captured bytes, base64. */
  data: string;
}

export function captureRecordToJson(r: CapturedRecord): CapturedRecordJson {
  const { data, tsNs, ...rest } = r;
  return {
    ...rest,
    time: new Date(Number(tsNs / 1_000_000n)).toISOString(),
    timeNs: String(tsNs),
    packet: summarizePacket(data),
    data: data.toString('base64'),
  };
}

export function captureRecordFromJson(j: CapturedRecordJson): CapturedRecord {
  const { time: _time, timeNs, packet: _packet, data, ...rest } = j;
  return { ...rest, tsNs: BigInt(timeNs), data: Buffer.from(data, 'base64') };
}

/** A captured packet as a pcapng block: at the verdict point, the XDP action and a comment. */
export function pcapngPacketOf(r: CapturedRecord): PcapngPacket {
  const comment = r.verdict
    ? `pathwise: ${r.verdict} (${r.reason})${r.oif ? ` via ${r.oif}` : ''}${r.route ? ` route ${r.route}` : ''}${r.rule ? ` rule ${r.rule}` : ''}`
    : undefined;
  return { tsNs: r.tsNs, interfaceName: r.iif, data: r.data, len: r.len, xdpAction: r.xdpAction, comment };
}
