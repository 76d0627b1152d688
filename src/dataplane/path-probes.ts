/**
 * The data plane's side of path quality: probes out of each path (the addon's prober, given
 * the egress interface's MAC and address and the gateway's MAC from the kernel's neighbour
 * table), the bytes each nexthop carried (pw_nexthop_stats), and TCP handshake timings from
 * the flow table (SYN to SYN/ACK, per egress interface) as passive RTT samples.
 */
import {
  interfaceMac,
  kernelAddresses,
  kernelNeighbors,
  manageNeighbor,
  PathProber,
  type ProbeKind,
  type ProberStats,
  type ProbeTarget,
} from '../kernel/index.js';
import * as abi from '../generated/pathwise.js';
import type { Family } from '../util/ip.js';
import { PageTurns } from '../util/turn.js';
import type { PipelineMaps } from './pipeline.js';

export interface ProbePath {
  /** The caller's name for the path (a group and a member). */
  key: string;
  ifindex: number;
  family: Family;
  /** The gateway: the frame goes to its MAC. */
  gw: Uint8Array;
  /** What answers (default: the gateway). */
  target: Uint8Array | null;
  kind: ProbeKind;
  port: number;
  intervalMs: number;
  timeoutMs: number;
}

interface Entry {
  id: number;
  path: ProbePath;
  /** Why it is not probed yet (no MAC for the gateway, no address on the interface). */
  waiting: string | null;
  /** What the prober was given (null while waiting). */
  target: ProbeTarget | null;
}

export class PathProbes {
  private prober: PathProber | null = null;
  private readonly entries = new Map<string, Entry>();
  private readonly byId = new Map<number, Entry>();
  private nextId = 1;

  /** `onUrgent`: called when a result should be looked at before the next regular drain. */
  constructor(private readonly onUrgent?: () => void) {}

  /** Probes exactly these paths from now on (unchanged ones keep their schedule). */
  sync(paths: ProbePath[]): void {
    const want = new Map(paths.map((p) => [p.key, p]));
    for (const [key, e] of this.entries) {
      if (want.has(key)) continue;
      this.prober?.remove(e.id);
      this.entries.delete(key);
      this.byId.delete(e.id);
    }
    for (const p of paths) {
      const e = this.entries.get(p.key);
      if (e && samePath(e.path, p)) continue;
      // A changed path is not probed the old way while its new target waits to resolve.
      if (e?.target) this.prober?.remove(e.id);
      const entry = e ?? { id: this.nextId++, path: p, waiting: null, target: null };
      entry.path = p;
      entry.target = null;
      this.entries.set(p.key, entry);
      this.byId.set(entry.id, entry);
    }
    this.resolve(true);
  }

  /**
   * Gives the prober the targets whose gateway MAC and source address are known, and asks the
   * kernel to resolve the others. `all`: every target again (a gateway's MAC may have changed);
   * otherwise only those not probed yet. Two netlink dumps, so not on every tick.
   */
  resolve(all: boolean): void {
    const todo = [...this.entries.values()].filter((e) => all || !e.target);
    if (!todo.length) return;
    this.prober ??= new PathProber(this.onUrgent);
    const addrs = kernelAddresses();
    const neigh = new Map(kernelNeighbors().map((n) => [`${n.ifindex}|${Buffer.from(n.addr).toString('hex')}`, n]));
    const macs = new Map<number, Uint8Array>();
    const macOf = (ifindex: number) => {
      let m = macs.get(ifindex);
      if (!m) macs.set(ifindex, (m = interfaceMac(ifindex)));
      return m;
    };
    for (const e of todo) {
      const p = e.path;
      const src = addrs.find((a) => a.ifindex === p.ifindex && a.family === p.family && a.scope !== 253);
      const n = neigh.get(`${p.ifindex}|${Buffer.from(padded(p.gw)).toString('hex')}`);
      e.waiting = !src ? 'no address on its interface' : !n?.mac ? "the gateway's MAC is not known yet" : null;
      if (e.waiting) {
        if (!n) {
          try {
            manageNeighbor(p.family, p.ifindex, padded(p.gw));
          } catch {
            // the interface is gone: it stays waiting
          }
        }
        if (e.target) this.prober.remove(e.id);
        e.target = null;
        continue;
      }
      const target: ProbeTarget = {
        ifindex: p.ifindex,
        family: p.family,
        srcMac: macOf(p.ifindex),
        dstMac: n!.mac!,
        src: src!.addr.subarray(0, p.family === 4 ? 4 : 16),
        dst: (p.target ?? p.gw).subarray(0, p.family === 4 ? 4 : 16),
        kind: p.kind,
        port: p.port,
        intervalMs: p.intervalMs,
        timeoutMs: p.timeoutMs,
        jitter: 0.1,
      };
      if (!e.target || !sameTarget(e.target, target)) this.prober.set(e.id, target);
      e.target = target;
    }
  }

  /** Changes a path's timeout (as its RTT changes) without touching its schedule. */
  setTimeout(key: string, timeoutMs: number): void {
    const e = this.entries.get(key);
    // Small moves are not worth a change: within 1 ms or 10 %.
    if (!e || Math.abs(e.path.timeoutMs - timeoutMs) < Math.max(1, 0.1 * e.path.timeoutMs)) return;
    e.path = { ...e.path, timeoutMs };
    if (!e.target) return;
    e.target = { ...e.target, timeoutMs };
    this.prober!.set(e.id, e.target);
  }

  waiting(key: string): string | null {
    return this.entries.get(key)?.waiting ?? null;
  }

  /** Each result since the last call (rttMs NaN: lost), without an object per result; returns how many. */
  each(fn: (key: string, rttMs: number, late: boolean) => void): number {
    if (!this.prober) return 0;
    return this.prober.each((id, _seq, rttMs, _atMs, late) => {
      const e = this.byId.get(id);
      if (e) fn(e.path.key, rttMs, late);
    });
  }

  stats(): ProberStats {
    return this.prober?.stats() ?? { sent: 0, replies: 0, lost: 0, late: 0, sendErrors: 0, urgent: 0 };
  }

  close(): void {
    this.prober?.close();
    this.prober = null;
    this.entries.clear();
    this.byId.clear();
  }
}

function samePath(a: ProbePath, b: ProbePath): boolean {
  return (
    a.ifindex === b.ifindex &&
    a.family === b.family &&
    Buffer.compare(a.gw, b.gw) === 0 &&
    (a.target && b.target ? Buffer.compare(a.target, b.target) === 0 : a.target === b.target) &&
    a.kind === b.kind &&
    a.port === b.port &&
    a.intervalMs === b.intervalMs &&
    a.timeoutMs === b.timeoutMs
  );
}

function sameTarget(a: ProbeTarget, b: ProbeTarget): boolean {
  const eq = (x: Uint8Array, y: Uint8Array) => Buffer.compare(x, y) === 0;
  return (
    a.ifindex === b.ifindex &&
    eq(a.srcMac, b.srcMac) &&
    eq(a.dstMac, b.dstMac) &&
    eq(a.src, b.src) &&
    eq(a.dst, b.dst) &&
    a.kind === b.kind &&
    a.port === b.port &&
    a.intervalMs === b.intervalMs &&
    a.timeoutMs === b.timeoutMs
  );
}

/** Addresses as the kernel's tables key them: 16 bytes, IPv4 in the first 4. */
function padded(a: Uint8Array): Uint8Array {
  if (a.length === 16) return a;
  const out = new Uint8Array(16);
  out.set(a.subarray(0, 4));
  return out;
}

/** Bytes each nexthop has carried (pw_nexthop_stats, a slot per CPU), by nexthop id. */
export function nexthopBytes(maps: PipelineMaps, ids: number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const id of ids) {
    const perCpu = maps.nexthopStats.get(id) ?? [];
    out.set(id, Number(perCpu.reduce((a, c) => a + c.bytes, 0n)));
  }
  return out;
}

/**
 * TCP handshakes the pipeline timed (SYN to SYN/ACK, in the initiator's flow record) that
 * completed after `sinceNs` (bpf_ktime_get_ns), by the interface the SYN left through: passive
 * RTT samples, in ms. Reads the flow table a page at a time, each on a worker thread, and
 * decodes three fields, with a turn of the event loop every 10 ms: a full table (a million
 * flows) held the loop ~0.5 s every five seconds, the probes' answers waiting meanwhile.
 */
export async function handshakeRtts(
  maps: PipelineMaps,
  sinceNs: bigint,
  ifindexes: Set<number>,
): Promise<{ samples: Map<number, number[]>; newest: bigint }> {
  const o = abi.PwFlow.offsets;
  const size = abi.PwFlow.size;
  const samples = new Map<number, number[]>();
  let newest = sinceNs;
  const turns = new PageTurns();
  for await (const page of maps.flows.entriesRawAsync(16384)) {
    await turns.afterPage();
    const v = new DataView(page.values.buffer, page.values.byteOffset, page.values.byteLength);
    for (let i = 0; i < page.count; i++) {
      const at = i * size;
      const egress = v.getUint32(at + o.egress_ifindex, true);
      if (!ifindexes.has(egress)) continue;
      const synack = v.getBigUint64(at + o.synack_ns, true);
      if (synack <= sinceNs) continue;
      const syn = v.getBigUint64(at + o.syn_ns, true);
      if (!syn || synack < syn) continue;
      if (synack > newest) newest = synack;
      let list = samples.get(egress);
      if (!list) samples.set(egress, (list = []));
      list.push(Number(synack - syn) / 1e6);
    }
  }
  return { samples, newest };
}
