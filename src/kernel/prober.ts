/**
 * Path probes sent and timed by the addon's probe thread (native/src/prober.cc): each target
 * is an egress interface, a gateway's MAC and an address to ask (the gateway, or something
 * beyond it), so a probe takes the path it measures whatever the routing table would pick.
 * Send times are read just before the frame goes to the kernel, reply times are the kernel's
 * receive timestamps, and the schedule runs in that thread: neither depends on the event loop.
 */
import { native } from './native.js';
import type { NativePathProber, NativeProberStats, NativeProbeTarget } from './native.js';

export type ProbeKind = 'icmp' | 'udp' | 'tcp';
const KIND: Record<ProbeKind, number> = { icmp: 0, udp: 1, tcp: 2 };

/** A probe target as the addon takes it (native.ts), its kind by name. */
export interface ProbeTarget extends Omit<NativeProbeTarget, 'kind'> {
  kind: ProbeKind;
}

/**
 * One probe's outcome: `rttMs` NaN when lost. A reply that comes after its probe was reported
 * lost is reported again with `late` set and its RTT. `atMs` is CLOCK_MONOTONIC.
 */
export interface ProbeResult {
  id: number;
  seq: number;
  rttMs: number;
  atMs: number;
  late: boolean;
}

export type ProberStats = NativeProberStats;

export class PathProber {
  private readonly p: NativePathProber;

  /**
   * `onUrgent` is called (on the event loop) when a result should not wait for the next drain:
   * a probe lost, a reply late, an RTT that jumped by more than 2 ms and 25 %.
   */
  constructor(onUrgent?: () => void) {
    this.p = new (native().PathProber)(onUrgent);
  }

  /** Adds or changes target `id` (a change keeps its schedule). */
  set(id: number, t: ProbeTarget): void {
    this.p.set(id, { ...t, kind: KIND[t.kind] });
  }

  remove(id: number): void {
    this.p.remove(id);
  }

  /** The outcomes since the last drain, oldest first. */
  drain(): ProbeResult[] {
    const out: ProbeResult[] = [];
    this.each((id, seq, rttMs, atMs, late) => out.push({ id, seq, rttMs, atMs, late }));
    return out;
  }

  /** The outcomes since the last drain, oldest first, handed over without an object each. */
  each(fn: (id: number, seq: number, rttMs: number, atMs: number, late: boolean) => void): number {
    const a = this.p.drain();
    for (let i = 0; i + 4 < a.length; i += 5) fn(a[i]!, a[i + 1]!, a[i + 2]!, a[i + 3]!, a[i + 4] === 1);
    return a.length / 5;
  }

  stats(): ProberStats {
    return this.p.stats();
  }

  close(): void {
    this.p.close();
  }
}
