/**
 * Packet events from the pipeline's pw_events ring buffer (rule log action, 1-in-N samples,
 * drops), decoded for people and JSON. One process reads a ring: the daemon when it runs
 * (and streams to WebSocket clients, api/event-stream.ts), else `pathwise events` itself.
 */
import { reasonName, verdictName } from './verdicts.js';
import * as abi from '../generated/pathwise.js';
import { monoToEpochOffsetNs } from '../util/clock.js';
import { summarizePacket, type PacketSummary } from './packet-summary.js';

export type EventKind = 'log' | 'sample' | 'drop';
export const EVENT_KINDS: EventKind[] = ['log', 'sample', 'drop'];

export interface PacketEvent {
  time: string;
  kind: EventKind;
  iif: string;
  oif: string | null;
  /** The packet's length; `head` holds its first bytes (up to 256). */
  len: number;
  verdict: string;
  reason: string;
  rule: number;
  route: number;
  packet: PacketSummary;
  /** The first bytes, base64. */
  head: string;
}

const KIND: Record<number, EventKind> = {
  [abi.PwEventKind.RULE_LOG]: 'log',
  [abi.PwEventKind.SAMPLE]: 'sample',
  [abi.PwEventKind.DROP]: 'drop',
};

const E = abi.PwEvent.offsets;

/** A record's fields, for a record too short to hold them all (read as zeros past its end). */
const scratch = Buffer.alloc(E.head);

/**
 * Decodes one record of the event ring; `ifName` names interfaces, `offsetNs` makes the data
 * plane's clock wall-clock time (a reader of many records passes it, see eventDecoder).
 * Records come in three sizes (insight.bpf.h): the fields, then as much of the packet's head as
 * the size holds. The fields are read where they lie: the generated decoder also copies a whole
 * event's room of head, and with the time's text that was most of an event's cost.
 */
export function decodeEvent(rec: Buffer, ifName: (ifindex: number) => string, offsetNs = monoToEpochOffsetNs()): PacketEvent {
  let f = rec;
  if (rec.byteLength < E.head) {
    scratch.fill(0);
    rec.copy(scratch);
    f = scratch;
  }
  const len = f.readUInt32LE(E.len);
  const egress = f.readUInt32LE(E.egress_ifindex);
  const head = Buffer.from(rec.subarray(E.head, E.head + Math.max(0, Math.min(len, rec.byteLength - E.head, abi.PwLimit.EVENT_BYTES))));
  return {
    time: isoTime(Number((f.readBigUInt64LE(E.ts_ns) + offsetNs) / 1_000_000n)),
    kind: KIND[f[E.kind]!] ?? 'sample',
    iif: ifName(f.readUInt32LE(E.ifindex)),
    oif: egress ? ifName(egress) : null,
    len,
    verdict: verdictName(f[E.verdict]!),
    reason: reasonName(f[E.reason]!),
    rule: f.readUInt32LE(E.rule),
    route: f.readUInt32LE(E.route),
    packet: summarizePacket(head),
    head: head.toString('base64'),
  };
}

/** The last millisecond made text, and its text: a flood's events share their milliseconds. */
const lastIso = { ms: NaN, text: '' };

function isoTime(ms: number): string {
  if (ms !== lastIso.ms) {
    lastIso.ms = ms;
    lastIso.text = new Date(ms).toISOString();
  }
  return lastIso.text;
}
