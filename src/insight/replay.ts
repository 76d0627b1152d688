/**
 * Replay reports: what each packet of a capture met in the pipeline (src/dataplane/
 * replay-run.ts runs them), summed up, and compared between two configs. The 5-tuple reported
 * is the pipeline's own parse, not a user-space decoder's.
 */
import { LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_RAW } from '../util/linktypes.js';

/** One packet's fate. */
export interface ReplayedPacket {
  /** Position in the capture, from 1 (as tcpdump -# numbers them). */
  n: number;
  /** Capture timestamp, "seconds.microseconds" (as tcpdump -tt prints it). */
  time: string;
  /** Length on the wire, and bytes present in the capture. */
  len: number;
  caplen: number;
  /** What the pipeline parsed (null for what is not IP or is cut short before the addresses). */
  family: 4 | 6 | null;
  proto: string | null;
  src: string | null;
  dst: string | null;
  sport: number | null;
  dport: number | null;
  tcpFlags: string | null;
  vlan: number | null;
  verdict: string;
  reason: string;
  /** The packet is malformed (cut short, bad header): the pipeline never routes those. */
  malformed: boolean;
  /**
   * Longer than one XDP buffer: a test run, like a driver without multi-buffer XDP, gives the
   * program only the first XDP_LINEAR_MAX bytes, so its IP length looks cut short.
   */
  beyondBuffer: boolean;
  route: string | null;
  via: string | null;
  egress: string | null;
  rule: { id: number; text: string } | null;
}

export interface ReplaySummary {
  packets: number;
  verdicts: Record<string, number>;
  reasons: Record<string, number>;
  malformed: number;
  /** Packets by matching route prefix, by egress interface, and by deciding rule. */
  routes: Record<string, number>;
  egress: Record<string, number>;
  rules: Record<string, number>;
}

export interface ReplayOptions {
  /** The interface the packets arrive on (rules matching `iface` see it); 0: loopback. */
  ingressIfindex?: number;
  /** Stops between packets (the packets replayed so far are returned). */
  signal?: AbortSignal;
  /**
   * Filled with each flow's first and last capture time (ms since the epoch), by flow-table
   * key: the table itself times packets by when they were replayed.
   */
  flowTimes?: Map<string, { firstMs: number; lastMs: number }>;
}

/** Bytes of a frame in the XDP buffer of a test run: a page less headroom and shared info. */
export const XDP_LINEAR_MAX = 4096 - 256 - 320;

/** Link types replay accepts: the pipeline reads Ethernet; the others get an Ethernet header. */
export function replayableLinktype(linktype: number): boolean {
  return (
    linktype === LINKTYPE_ETHERNET ||
    (LINKTYPE_RAW as readonly number[]).includes(linktype) ||
    linktype === LINKTYPE_LINUX_SLL ||
    linktype === LINKTYPE_LINUX_SLL2
  );
}

const ethernet = (ethertype: number, payload: Uint8Array): Buffer => {
  const b = Buffer.alloc(14 + payload.length);
  b.set([0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01], 0);
  b.writeUInt16BE(ethertype, 12);
  b.set(payload, 14);
  return b;
};

/**
 * The frame as XDP would see it. Raw IP and Linux "cooked" captures (tcpdump -i any) carry no
 * Ethernet header; one is put in front with the packet's EtherType, so the addresses, ports
 * and decisions are those of the packet itself.
 */
export function asEthernet(linktype: number, data: Buffer): Buffer {
  if (linktype === LINKTYPE_ETHERNET) return data;
  if ((LINKTYPE_RAW as readonly number[]).includes(linktype)) {
    const version = data.length ? data[0]! >> 4 : 0;
    return ethernet(version === 6 ? 0x86dd : 0x0800, data);
  }
  if (linktype === LINKTYPE_LINUX_SLL && data.length >= 16) return ethernet(data.readUInt16BE(14), data.subarray(16));
  if (linktype === LINKTYPE_LINUX_SLL2 && data.length >= 20) return ethernet(data.readUInt16BE(0), data.subarray(20));
  // A cooked header cut short: an empty frame, which the pipeline reports as truncated.
  return Buffer.alloc(0);
}

const bump = (m: Record<string, number>, k: string | null) => {
  if (k !== null) m[k] = (m[k] ?? 0) + 1;
};

export function summarizeReplay(packets: ReplayedPacket[]): ReplaySummary {
  const s: ReplaySummary = { packets: packets.length, verdicts: {}, reasons: {}, malformed: 0, routes: {}, egress: {}, rules: {} };
  for (const p of packets) {
    bump(s.verdicts, p.verdict);
    bump(s.reasons, p.reason);
    if (p.malformed) s.malformed++;
    bump(s.routes, p.route);
    bump(s.egress, p.egress);
    bump(s.rules, fateOf(p).rule);
  }
  return s;
}

/** A packet's fate: a difference in any of these between two configs is a changed fate. */
export interface Fate {
  verdict: string;
  reason: string;
  route: string | null;
  egress: string | null;
  via: string | null;
  /** "id: rule text" */
  rule: string | null;
}

export const fateOf = (p: ReplayedPacket): Fate => ({
  verdict: p.verdict,
  reason: p.reason,
  route: p.route,
  egress: p.egress,
  via: p.via,
  rule: p.rule ? `${p.rule.id}: ${p.rule.text}` : null,
});

export interface FateChange {
  n: number;
  packet: Pick<ReplayedPacket, 'family' | 'proto' | 'src' | 'dst' | 'sport' | 'dport'>;
  before: Fate;
  after: Fate;
}

/** The packets whose fate differs between two replays of the same capture. */
export function diffReplays(before: ReplayedPacket[], after: ReplayedPacket[]): FateChange[] {
  const changes: FateChange[] = [];
  for (let i = 0; i < Math.min(before.length, after.length); i++) {
    const a = fateOf(before[i]!);
    const b = fateOf(after[i]!);
    if (JSON.stringify(a) === JSON.stringify(b)) continue;
    const { family, proto, src, dst, sport, dport } = before[i]!;
    changes.push({ n: before[i]!.n, packet: { family, proto, src, dst, sport, dport }, before: a, after: b });
  }
  return changes;
}

/** "tcp 10.0.0.1.1234 > 10.0.0.2.80" in tcpdump's notation, or what the packet is when not IP. */
export function formatEndpoints(
  p: Pick<ReplayedPacket, 'family' | 'proto' | 'src' | 'dst' | 'sport' | 'dport'> & { malformed?: boolean },
): string {
  if (!p.family) return p.malformed ? 'unparsed' : 'not IP';
  const ep = (a: string | null, port: number | null) => (port === null ? a : `${a}.${port}`);
  return `${p.proto} ${ep(p.src, p.sport)} > ${ep(p.dst, p.dport)}`;
}
