/**
 * The flow table (pw_flows, an LRU hash the pipeline updates per packet) as one snapshot: the
 * raw pages a batch read copied (src/dataplane/insight-tables.ts), decoded only when asked for,
 * so the top 20 of a million flows costs one pass over the numbers, not a million objects.
 */
import { encodeOne } from '../kernel/codec.js';
import * as abi from '../generated/pathwise.js';
import { reasonName, verdictName } from './verdicts.js';
import { formatAddress } from '../util/ip.js';
import { monoToEpochOffsetNs } from '../util/clock.js';
import { formatTcpFlagBits, protocolName } from './names.js';
import { FlowIndex, KEY_WORDS } from './flow-index.js';
import { Turns } from '../util/turn.js';
import { topIndexes } from '../util/top-indexes.js';

export type FlowSort = 'bytes' | 'packets' | 'rate' | 'rtt' | 'last';
export const FLOW_SORTS: FlowSort[] = ['bytes', 'packets', 'rate', 'rtt', 'last'];

export interface Handshake {
  /** SYN to the initiator's ACK, as the pipeline saw them. */
  rttMs: number;
  /** SYN to SYN/ACK: the responder's side of the pipeline. */
  responderMs: number;
  /** SYN/ACK to ACK: the initiator's side. */
  initiatorMs: number;
}

export interface FlowRecord {
  family: 4 | 6;
  src: string;
  dst: string;
  proto: string;
  sport: number;
  dport: number;
  vlan: number;
  packets: number;
  /** IP bytes (total length), as IPFIX counts octets. */
  bytes: number;
  /** Average bits per second over the flow's life (at least one second of it). */
  bps: number;
  firstSeen: string;
  lastSeen: string;
  durationSeconds: number;
  idleSeconds: number;
  tcpFlags: string;
  direction: 'initiator' | 'responder' | 'unknown';
  handshake: Handshake | null;
  iif: string;
  oif: string | null;
  routeId: number;
  verdict: string;
  reason: string;
}

export interface Talker {
  key: string;
  flows: number;
  packets: number;
  bytes: number;
}

export type TalkerBy = 'src' | 'dst' | 'prefix';

/** A flow's key and raw counters; `id` is the key's bytes, unique per flow. */
export interface FlowCounters {
  id: string;
  family: 4 | 6;
  src: Uint8Array;
  dst: Uint8Array;
  sport: number;
  dport: number;
  proto: number;
  vlan: number;
  packets: number;
  bytes: number;
  /** CLOCK_MONOTONIC ns (bpf_ktime_get_ns). */
  firstNs: number;
  lastNs: number;
  tcpFlags: number;
  ifindex: number;
  oif: number;
}

/** The flow-table key id of a packet's flow (the same bytes as FlowCounters.id). */
export function flowId(f: {
  family: 4 | 6;
  src: Uint8Array;
  dst: Uint8Array;
  sport: number;
  dport: number;
  proto: number;
  vlan: number;
}): string {
  const len = f.family === 6 ? 16 : 4;
  return encodeOne(K, { ...f, src: f.src.subarray(0, len), dst: f.dst.subarray(0, len) }).toString('latin1');
}

const K = abi.PwFlowKey;
const V = abi.PwFlow;
// Field offsets in the raw records, from the layout generated out of the object's BTF.
const { src: KEY_SRC, dst: KEY_DST, sport: KEY_SPORT, dport: KEY_DPORT, proto: KEY_PROTO, family: KEY_FAMILY, vlan: KEY_VLAN } = K.offsets;
const {
  packets: VAL_PACKETS,
  bytes: VAL_BYTES,
  first_ns: VAL_FIRST,
  last_ns: VAL_LAST,
  syn_ns: VAL_SYN,
  synack_ns: VAL_SYNACK,
  ack_ns: VAL_ACK,
} = V.offsets;
const {
  ifindex: VAL_IIF,
  egress_ifindex: VAL_OIF,
  route: VAL_ROUTE,
  tcp_flags: VAL_FLAGS,
  verdict: VAL_VERDICT,
  reason: VAL_REASON,
  direction: VAL_DIRECTION,
} = V.offsets;

/** A u64 as a double: exact below 2^53 (counters; ns timestamps up to 104 days of uptime). */
const u64 = (v: DataView, off: number) => v.getUint32(off + 4, true) * 4294967296 + v.getUint32(off, true);

/** bpf_ktime_get_ns() (CLOCK_MONOTONIC) as wall-clock ms. */
function monoToWallMs(): (ns: number) => number {
  const offsetMs = Number(monoToEpochOffsetNs()) / 1e6;
  return (ns) => offsetMs + ns / 1e6;
}

/** What a snapshot needs besides the raw pages: names for interfaces and route ids. */
export interface FlowNames {
  ifName(ifindex: number): string;
  /** A route id's prefix, null when no route has it. */
  routePrefix(id: number): string | null;
}

/** What sources did between two looks at the flow table (FlowSnapshot.activity). */
export interface FlowActivity {
  /** Packets per source address. */
  packets: Map<string, number>;
  /** Per source, the destinations ("addr:port", IPv6 "addr.port") of its flows that began. */
  newDestinations: Map<string, Set<string>>;
  /** Per destination, the handshakes each source left half-open. */
  halfOpen: Map<string, Map<string, number>>;
}

/** Each flow's packets at one look (FlowSnapshot.counts), found by key at the next. */
export class FlowCounts {
  constructor(
    private readonly index: FlowIndex,
    private readonly packets: Float64Array,
  ) {}

  /** Where the last `of` found its flow: the next is likely just after it (FlowIndex.find). */
  private last = -1;

  /** The packets the flow with the key at `w[at ...]` had then; 0 when it was not in the table. */
  of(w: Uint32Array, at: number): number {
    const j = this.index.find(w, at, this.last + 1);
    if (j < 0) return 0;
    this.last = j;
    return this.packets[j]!;
  }
}

export class FlowSnapshot {
  private flowIndex: Promise<FlowIndex> | null = null;
  private readonly kv: DataView;
  private readonly vv: DataView;

  /**
   * @param keys, values the table's raw entries, back to back (count of each)
   * @param takenNs CLOCK_MONOTONIC when the snapshot was taken, in ns
   */
  constructor(
    private readonly keys: Buffer,
    private readonly values: Buffer,
    readonly count: number,
    private readonly takenNs: number,
    private readonly names: FlowNames,
  ) {
    this.kv = new DataView(keys.buffer, keys.byteOffset, keys.byteLength);
    this.vv = new DataView(values.buffer, values.byteOffset, values.byteLength);
  }

  /** The snapshot's keys, indexed (built at the first use). */
  index(): Promise<FlowIndex> {
    return (this.flowIndex ??= FlowIndex.build(this.keys, this.count));
  }

  /** Each flow's packets now: what the next look's `activity` compares with. */
  async counts(): Promise<FlowCounts> {
    const vv = this.vv;
    const packets = new Float64Array(this.count);
    const turns = new Turns();
    for (let i = 0; i < this.count; i++) {
      if (turns.due(i)) await turns.take();
      packets[i] = u64(vv, i * V.size + VAL_PACKETS);
    }
    return new FlowCounts(await this.index(), packets);
  }

  /** Flow i's packets, first and last packet's times (CLOCK_MONOTONIC ns), without decoding the rest. */
  packetsAt(i: number): number {
    return u64(this.vv, i * V.size + VAL_PACKETS);
  }

  firstNsAt(i: number): number {
    return u64(this.vv, i * V.size + VAL_FIRST);
  }

  lastNsAt(i: number): number {
    return u64(this.vv, i * V.size + VAL_LAST);
  }

  private routePrefix(id: number): string | null {
    return id ? this.names.routePrefix(id) : null;
  }

  /** One flow, decoded. */
  record(i: number, wall = monoToWallMs()): FlowRecord {
    const vv = this.vv;
    const v = i * V.size;
    const f = this.counters(i);
    const syn = u64(vv, v + VAL_SYN),
      synack = u64(vv, v + VAL_SYNACK),
      ack = u64(vv, v + VAL_ACK);
    const dir = vv.getUint8(v + VAL_DIRECTION);
    const duration = Math.max(0, f.lastNs - f.firstNs) / 1e9;
    return {
      family: f.family,
      src: formatAddress(f.family, f.src),
      dst: formatAddress(f.family, f.dst),
      proto: protocolName(f.proto),
      sport: f.sport,
      dport: f.dport,
      vlan: f.vlan,
      packets: f.packets,
      bytes: f.bytes,
      bps: Math.round((f.bytes * 8) / Math.max(duration, 1)),
      firstSeen: new Date(wall(f.firstNs)).toISOString(),
      lastSeen: new Date(wall(f.lastNs)).toISOString(),
      durationSeconds: duration,
      idleSeconds: Math.max(0, this.takenNs - f.lastNs) / 1e9,
      tcpFlags: formatTcpFlagBits(f.tcpFlags),
      direction: dir === abi.PwFlowDirection.INITIATOR ? 'initiator' : dir === abi.PwFlowDirection.RESPONDER ? 'responder' : 'unknown',
      handshake:
        syn && synack && ack ? { rttMs: (ack - syn) / 1e6, responderMs: (synack - syn) / 1e6, initiatorMs: (ack - synack) / 1e6 } : null,
      iif: this.names.ifName(f.ifindex),
      oif: f.oif ? this.names.ifName(f.oif) : null,
      routeId: vv.getUint32(v + VAL_ROUTE, true),
      verdict: verdictName(vv.getUint8(v + VAL_VERDICT)),
      reason: reasonName(vv.getUint8(v + VAL_REASON)),
    };
  }

  /** One flow's numbers as the table holds them, for export (ipfix-exporter.ts). */
  counters(i: number): FlowCounters {
    const kv = this.kv,
      vv = this.vv;
    const k = i * K.size,
      v = i * V.size;
    const family = kv.getUint8(k + KEY_FAMILY) === 6 ? 6 : 4;
    const alen = family === 6 ? 16 : 4;
    return {
      id: this.keys.toString('latin1', k, k + K.size),
      family,
      src: this.keys.subarray(k + KEY_SRC, k + KEY_SRC + alen),
      dst: this.keys.subarray(k + KEY_DST, k + KEY_DST + alen),
      sport: kv.getUint16(k + KEY_SPORT, false),
      dport: kv.getUint16(k + KEY_DPORT, false),
      proto: kv.getUint8(k + KEY_PROTO),
      vlan: kv.getUint16(k + KEY_VLAN, true),
      packets: u64(vv, v + VAL_PACKETS),
      bytes: u64(vv, v + VAL_BYTES),
      firstNs: u64(vv, v + VAL_FIRST),
      lastNs: u64(vv, v + VAL_LAST),
      tcpFlags: vv.getUint8(v + VAL_FLAGS),
      ifindex: vv.getUint32(v + VAL_IIF, true),
      oif: vv.getUint32(v + VAL_OIF, true),
    };
  }

  /**
   * What each source did since the last look (anomaly detection): packets since then (from
   * `prev`, each flow's packets at the last look: that snapshot's `counts()`), the destinations
   * (address and port) of flows that began since `sinceNs`, and TCP handshakes left half-open:
   * initiated flows whose SYN went between `halfOpenNs` before `sinceNs` and `halfOpenNs`
   * before now with no SYN/ACK or no final ACK by now (each flow counted in one look). Replies
   * (a TCP responder's flow; otherwise a flow whose reverse began first) are nobody's activity.
   */
  async activity(prev: FlowCounts | null, sinceNs: number, halfOpenNs: number): Promise<FlowActivity> {
    const kv = this.kv,
      vv = this.vv;
    const index = await this.index();
    const words = index.words;
    const out: FlowActivity = { packets: new Map(), newDestinations: new Map(), halfOpen: new Map() };
    const turns = new Turns();
    const addr = (off: number, family: number) =>
      formatAddress(family === 6 ? 6 : 4, this.keys.subarray(off, off + (family === 6 ? 16 : 4)));
    // A source has many flows: its name is made once (keyed by its IPv4 word, or its IPv6 bytes).
    const sourceNames = new Map<number | string, string>();
    const sourceOf = (i: number, k: number, family: number) => {
      const raw = family === 6 ? this.keys.toString('latin1', k + KEY_SRC, k + KEY_SRC + 16) : words[i * KEY_WORDS]!;
      let name = sourceNames.get(raw);
      if (name === undefined) sourceNames.set(raw, (name = addr(k + KEY_SRC, family)));
      return name;
    };
    for (let i = 0; i < this.count; i++) {
      if (turns.due(i)) await turns.take();
      const k = i * K.size,
        v = i * V.size;
      // Asked of every flow, replies too: each lookup's hint is the last one's next position.
      const delta = u64(vv, v + VAL_PACKETS) - (prev ? prev.of(words, i * KEY_WORDS) : 0);
      const direction = vv.getUint8(v + VAL_DIRECTION);
      if (direction === abi.PwFlowDirection.RESPONDER) continue;
      const first = u64(vv, v + VAL_FIRST);
      const fresh = first > sinceNs;
      const syn = u64(vv, v + VAL_SYN);
      const halfOpen =
        syn > sinceNs - halfOpenNs &&
        syn <= this.takenNs - halfOpenNs &&
        direction === abi.PwFlowDirection.INITIATOR &&
        (!u64(vv, v + VAL_SYNACK) || !u64(vv, v + VAL_ACK));
      if (delta <= 0 && !fresh && !halfOpen) continue;
      // A reply is its peer's doing, not its source's: a server answering a flood or a scan
      // is neither. TCP says which side answered (above); otherwise, the flow whose reverse
      // began first. (Asked only of flows that did something: a probe at random each.)
      if (direction === abi.PwFlowDirection.UNKNOWN) {
        const r = index.findReverse(i);
        if (r >= 0 && u64(vv, r * V.size + VAL_FIRST) <= first) continue;
      }
      const family = kv.getUint8(k + KEY_FAMILY);
      const src = sourceOf(i, k, family);
      if (delta > 0) out.packets.set(src, (out.packets.get(src) ?? 0) + delta);
      if (!fresh && !halfOpen) continue;
      const dst = `${addr(k + KEY_DST, family)}${family === 6 ? '.' : ':'}${kv.getUint16(k + KEY_DPORT, false)}`;
      if (fresh) {
        let set = out.newDestinations.get(src);
        if (!set) out.newDestinations.set(src, (set = new Set()));
        set.add(dst);
      }
      if (halfOpen) {
        let bySrc = out.halfOpen.get(dst);
        if (!bySrc) out.halfOpen.set(dst, (bySrc = new Map()));
        bySrc.set(src, (bySrc.get(src) ?? 0) + 1);
      }
    }
    return out;
  }

  /** The route prefix a flow's last packet took, for display. */
  prefixOf(rec: FlowRecord): string | null {
    return this.routePrefix(rec.routeId);
  }

  private sortKey(sort: FlowSort): (i: number) => number {
    const vv = this.vv;
    switch (sort) {
      case 'packets':
        return (i) => u64(vv, i * V.size + VAL_PACKETS);
      case 'rate':
        return (i) => {
          const v = i * V.size;
          return u64(vv, v + VAL_BYTES) / Math.max(u64(vv, v + VAL_LAST) - u64(vv, v + VAL_FIRST), 1e9);
        };
      case 'rtt':
        return (i) => {
          const v = i * V.size;
          const syn = u64(vv, v + VAL_SYN),
            ack = u64(vv, v + VAL_ACK);
          return syn && ack && u64(vv, v + VAL_SYNACK) ? ack - syn : -1;
        };
      case 'last':
        return (i) => u64(vv, i * V.size + VAL_LAST);
      default:
        return (i) => u64(vv, i * V.size + VAL_BYTES);
    }
  }

  /** The `n` flows first by `sort` (descending), in one pass with a bounded heap, in turns of
   * the event loop (a million flows: ~0.1 s). */
  async top(n: number, sort: FlowSort = 'bytes'): Promise<FlowRecord[]> {
    const key = this.sortKey(sort);
    const idx = await topIndexes(this.count, Math.min(n, this.count), key, sort === 'rtt' ? (i) => key(i) >= 0 : () => true);
    const wall = monoToWallMs();
    return idx.map((i) => this.record(i, wall));
  }

  /** Traffic summed by source address, destination address or route prefix. */
  async talkers(by: TalkerBy, n: number): Promise<Talker[]> {
    const kv = this.kv,
      vv = this.vv;
    const groups = new Map<string | number, Talker>();
    const turns = new Turns();
    for (let i = 0; i < this.count; i++) {
      if (turns.due(i)) await turns.take();
      const k = i * K.size,
        v = i * V.size;
      let g: string | number;
      if (by === 'prefix') g = vv.getUint32(v + VAL_ROUTE, true);
      else {
        const off = k + (by === 'src' ? KEY_SRC : KEY_DST);
        const family = kv.getUint8(k + KEY_FAMILY);
        g = String.fromCharCode(family) + this.keys.toString('latin1', off, off + (family === 6 ? 16 : 4));
      }
      let t = groups.get(g);
      if (!t) groups.set(g, (t = { key: '', flows: 0, packets: 0, bytes: 0 }));
      t.flows++;
      t.packets += u64(vv, v + VAL_PACKETS);
      t.bytes += u64(vv, v + VAL_BYTES);
    }
    const ranked = [...groups.entries()].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, n);
    return ranked.map(([g, t]) => {
      if (typeof g === 'number') t.key = this.routePrefix(g) ?? (g ? `route ${g}` : 'no route');
      else t.key = formatAddress(g.charCodeAt(0) === 6 ? 6 : 4, Buffer.from(g.slice(1).padEnd(16, '\0'), 'latin1'));
      return t;
    });
  }
}
