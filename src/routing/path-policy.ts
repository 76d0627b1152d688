/**
 * Path selection for a nexthop group: from the members' measured quality (path-quality.ts),
 * the share of new flows each member gets, under one of four policies:
 *
 * - weighted: the configured weights, over the members that are not down.
 * - lowest-latency: everything on the member with the lowest RTT (up before degraded); the
 *   others stand by.
 * - latency-weighted: shares in proportion to weight / RTT, cut by loss ((1 - loss)^2) and
 *   halved for a degraded member.
 * - load-aware: members in order of RTT, each filled up to `targetUtilisation` of its
 *   capacity with the group's measured demand, the rest spilling to the next; beyond every
 *   capacity, in proportion to capacity.
 *
 * Hysteresis: a change that no failure forces (a member down, or back from down under the
 * `weighted` policy) waits for evidence. The candidate must beat what is in force by a margin
 * — the larger of `relative` × the current RTT, `absoluteMs`, and `noise` × the two paths'
 * spreads combined (each its RTT estimate's deviation or its jitter, whichever is larger: see
 * spread(); paths that jitter need a larger lead) — and keep
 * beating it: the lead, in margins, is integrated over time until it reaches `holdMs`. A lead
 * of one margin switches after holdMs; a path that got 50 ms worse (50 margins) switches on
 * the next probe. A lead that lapses starts over.
 */
import type { PathState } from './path-quality.js';

export type PolicyName = 'weighted' | 'lowest-latency' | 'latency-weighted' | 'load-aware';

export interface Hysteresis {
  relative: number;
  absoluteMs: number;
  holdMs: number;
  noise: number;
}

export const DEFAULT_HYSTERESIS: Hysteresis = { relative: 0.1, absoluteMs: 1, holdMs: 500, noise: 1.5 };

export interface MemberInput {
  /** Configured weight (1..256). */
  weight: number;
  state: PathState;
  /** Smoothed RTT (ms), NaN while unknown. */
  rtt: number;
  rttvar: number;
  /** Mean difference between successive RTT samples (ms): unlike rttvar, not reset when the
   * RTT estimate follows a level shift. 0 when unknown. */
  jitter?: number;
  loss: number;
  /** Measured load, bits/s. */
  loadBps: number;
  /** Configured capacity, bits/s (0: unknown). */
  capacityBps: number;
}

export interface Decision {
  /** Shares per member (sum 1), or null when every member is down (the fallback applies). */
  shares: number[] | null;
  /** Why, in words, when the shares changed. */
  reason: string;
}

const RANK: Record<PathState, number> = { up: 0, degraded: 1, down: 2 };

export class PathSelector {
  /** The shares in force (null: fallback); undefined before the first decision. */
  private current: number[] | null | undefined;
  private evidence = 0;
  private lastAt = NaN;
  private lastLead = 0;

  constructor(
    readonly policy: PolicyName,
    private readonly h: Hysteresis = DEFAULT_HYSTERESIS,
    private readonly targetUtilisation = 0.8,
  ) {}

  get shares(): number[] | null | undefined {
    return this.current;
  }

  /** Returns a decision when the shares in force should change, else null. */
  decide(members: MemberInput[], now: number): Decision | null {
    const dt = Number.isNaN(this.lastAt) ? 0 : Math.max(0, now - this.lastAt);
    this.lastAt = now;
    const usable = members.map((m) => m.state !== 'down');
    if (!usable.some(Boolean)) {
      this.evidence = 0;
      if (this.current === null) return null;
      this.current = null;
      return { shares: null, reason: 'every path is down' };
    }
    const wanted = this.wanted(members);
    const cur = this.current;
    // Forced: the first decision, coming back from the fallback, or a member in force is down.
    const forced =
      cur === undefined ||
      cur === null ||
      cur.some((s, i) => s > 0 && !usable[i]) ||
      (this.policy === 'weighted' && !sameShares(cur, wanted));
    if (forced) {
      this.evidence = 0;
      if (cur && sameShares(cur, wanted)) return null;
      this.current = wanted;
      const reason =
        cur === undefined
          ? 'first decision'
          : cur === null
            ? 'a path is back'
            : cur.some((s, i) => s > 0 && !usable[i])
              ? `${describeDown(members, cur)} down`
              : 'paths changed state';
      return { shares: wanted, reason };
    }
    const lead = this.lead(members, cur, wanted);
    this.lastLead = lead;
    if (lead <= 1) {
      this.evidence = 0;
      return null;
    }
    this.evidence += lead * dt;
    if (this.evidence < this.h.holdMs) return null;
    this.evidence = 0;
    this.current = wanted;
    return { shares: wanted, reason: `better by ${lead.toFixed(1)} margins` };
  }

  /** If a lead is building up: in how many ms it switches, should it hold (else null). */
  dueInMs(): number | null {
    return this.lastLead > 1 ? Math.max(0, (this.h.holdMs - this.evidence) / this.lastLead) : null;
  }

  /** What the policy would put in force now, without hysteresis. */
  wanted(members: MemberInput[]): number[] {
    const n = members.length;
    const usable = members.map((m) => m.state !== 'down');
    switch (this.policy) {
      case 'weighted':
        return normalize(members.map((m, i) => (usable[i] ? m.weight : 0)));
      case 'lowest-latency': {
        const best = ranked(members)[0]!;
        return Array.from({ length: n }, (_, i) => (i === best ? 1 : 0));
      }
      case 'latency-weighted': {
        const known = members.filter((m, i) => usable[i] && !Number.isNaN(m.rtt)).map((m) => m.rtt);
        const typical = known.length ? known.reduce((a, b) => a + b, 0) / known.length : 1;
        return normalize(
          members.map((m, i) => {
            if (!usable[i]) return 0;
            const rtt = Math.max(0.05, Number.isNaN(m.rtt) ? typical : m.rtt);
            return ((m.weight / rtt) * (1 - m.loss) ** 2) / (m.state === 'degraded' ? 2 : 1);
          }),
        );
      }
      case 'load-aware': {
        const demand = members.reduce((a, m) => a + m.loadBps, 0);
        const order = ranked(members);
        const out = new Array<number>(n).fill(0);
        if (!(demand > 0)) {
          out[order[0]!] = 1;
          return out;
        }
        let left = demand;
        for (const i of order) {
          const room = members[i]!.capacityBps > 0 ? members[i]!.capacityBps * this.targetUtilisation : Infinity;
          const take = Math.min(room, left);
          out[i] = take;
          left -= take;
          if (left <= 0) break;
        }
        // Beyond every capacity: the excess in proportion to capacity.
        if (left > 0) {
          const cap = order.reduce((a, i) => a + members[i]!.capacityBps, 0);
          for (const i of order) out[i]! += (left * members[i]!.capacityBps) / cap;
        }
        return normalize(out);
      }
    }
  }

  /**
   * How far `wanted` beats `current`, in margins (above 1: it does). lowest-latency compares
   * the two members' RTTs; the weighted policies compare how much traffic would move with the
   * relative margin.
   */
  private lead(members: MemberInput[], current: number[], wanted: number[]): number {
    if (sameShares(current, wanted)) return 0;
    if (this.policy === 'lowest-latency') {
      const a = members[current.indexOf(Math.max(...current))]!;
      const b = members[wanted.indexOf(1)]!;
      // Up beats degraded whatever the RTTs, after 100 ms of it.
      if (RANK[b.state] < RANK[a.state]) return this.h.holdMs / 100;
      if (Number.isNaN(b.rtt)) return 0;
      if (Number.isNaN(a.rtt)) return 1.01;
      const margin = Math.max(this.h.relative * a.rtt, this.h.absoluteMs, this.h.noise * Math.hypot(spread(a), spread(b)));
      return (a.rtt - b.rtt) / margin;
    }
    const moved = current.reduce((acc, s, i) => acc + Math.abs(s - wanted[i]!), 0) / 2;
    return moved / this.h.relative;
  }
}

/**
 * Member indexes, best first: usable before down, up before degraded, then by RTT, then in
 * configured order. Until both RTTs are known, configured order decides: a path is not
 * preferred for having been probed first.
 */
function ranked(members: MemberInput[]): number[] {
  return members
    .map((_, i) => i)
    .sort((x, y) => {
      const a = members[x]!;
      const b = members[y]!;
      return RANK[a.state] - RANK[b.state] || (Number.isNaN(a.rtt) || Number.isNaN(b.rtt) ? 0 : a.rtt - b.rtt) || x - y;
    });
}

function normalize(w: number[]): number[] {
  const t = w.reduce((a, b) => a + b, 0);
  return w.map((x) => (t > 0 ? x / t : 0));
}

/** Equal to 1/128 (half a bucket). */
function sameShares(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((x, i) => Math.abs(x - b[i]!) < 1 / 128);
}

function describeDown(members: MemberInput[], cur: number[]): string {
  const down = cur.map((s, i) => (s > 0 && members[i]!.state === 'down' ? i : -1)).filter((i) => i >= 0);
  return `member${down.length > 1 ? 's' : ''} ${down.join(', ')}`;
}

/**
 * How much a member's RTT estimate wanders: its deviation, or its jitter when that is larger.
 * A level shift restarts the estimate with a deviation of the two samples that made it (often
 * ~0), so a short spike on a jittering path would otherwise be judged against a margin as if the
 * path were steady, and win a switch before the path's RTT came back down.
 */
function spread(m: MemberInput): number {
  return Math.max(m.rttvar, m.jitter ?? 0);
}
