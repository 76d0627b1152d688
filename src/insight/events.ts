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

/** A whole event's room, for decoding a short record without a buffer per event. */
const scratch = Buffer.alloc(abi.PwEvent.size);

/** Decodes one record of the event ring; `ifName` names interfaces. */
export function decodeEvent(rec: Buffer, ifName: (ifindex: number) => string): PacketEvent {
  // Records come in three sizes (insight.bpf.h): a short one holds the head of a short packet.
  // The fields are decoded from a whole event's room; the head is copied from the record.
  let full = rec;
  if (rec.byteLength < abi.PwEvent.size) {
    rec.copy(scratch);
    scratch.fill(0, rec.byteLength);
    full = scratch;
  }
  const e = abi.PwEvent.decode(new DataView(full.buffer, full.byteOffset, full.byteLength), 0);
  const at = abi.PwEvent.offsets.head;
  const head = Buffer.from(rec.subarray(at, at + Math.min(e.len, rec.byteLength - at, abi.PwLimit.EVENT_BYTES)));
  return {
    time: new Date(Number((e.ts_ns + monoToEpochOffsetNs()) / 1_000_000n)).toISOString(),
    kind: KIND[e.kind] ?? 'sample',
    iif: ifName(e.ifindex),
    oif: e.egress_ifindex ? ifName(e.egress_ifindex) : null,
    len: e.len,
    verdict: verdictName(e.verdict),
    reason: reasonName(e.reason),
    rule: e.rule,
    route: e.route,
    packet: summarizePacket(head),
    head: head.toString('base64'),
  };
}
