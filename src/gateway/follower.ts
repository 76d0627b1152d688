/**
 * What Pathwise makes of a gateway's rejections: a source (an address, or its prefix) the
 * gateway answered with a rejecting status (429, 403 by default) `threshold` times within
 * `window` is sealed — blocked, or held to a rate — for `ttl`; each new offense doubles the TTL
 * up to `maxTtl` (escalation). While a seal holds, rejections of that source are requests that
 * were in flight before it: counted, never acted on. The gateway's decision thus moves down to
 * XDP, and the flood stops reaching the gateway.
 *
 * The follower only decides; it does not apply. Its decisions carry ids made of the source,
 * the offense and the follower's start, so sending one again (a retry after a failed POST) is
 * answered as a duplicate rather than applied twice.
 */
import type { DecisionInput } from '../filter/decision.js';
import { formatPrefix, maskAddr, parseAddress } from '../util/ip.js';
import { capOldest } from '../util/recency-map.js';
import type { GatewayLogEntry } from './adapters.js';

export interface FollowPolicy {
  /** Statuses that mean "rejected". */
  statuses: number[];
  threshold: number;
  windowMs: number;
  ttlMs: number;
  maxTtlMs: number;
  action: 'block' | 'limit';
  /** limit: packets per second for the source as a whole, and the burst. */
  rate?: number;
  burst?: number;
  /** A source is its address masked to these lengths (32 and 128: each address alone). */
  per4: number;
  per6: number;
}

export const DEFAULT_POLICY: FollowPolicy = {
  statuses: [429, 403],
  threshold: 20,
  windowMs: 10_000,
  ttlMs: 5 * 60_000,
  maxTtlMs: 60 * 60_000,
  action: 'block',
  per4: 32,
  per6: 128,
};

/** Sources followed at once; the least recently seen go first beyond it. */
const MAX_SOURCES = 100_000;
/** Distinct paths counted per source (to name the API a seal is about). */
const MAX_PATHS = 64;

interface SourceState {
  /** Times of rejections within the window, oldest first. */
  hits: number[];
  sealedUntil: number;
  offenses: number;
  /** Rejected paths, to name the API the decision is about. */
  paths: Map<string, number>;
}

export interface FollowerStats {
  entries: number;
  rejections: number;
  /** Rejections of a source while its seal held (requests in flight before it). */
  whileSealed: number;
  decisions: number;
  sources: number;
}

export class RejectionFollower {
  private readonly sources = new Map<string, SourceState>();
  private readonly started: number;
  readonly stats: FollowerStats = { entries: 0, rejections: 0, whileSealed: 0, decisions: 0, sources: 0 };

  constructor(
    readonly policy: FollowPolicy,
    /** Names the follower in decision ids (the gateway's source tag). */
    private readonly tag: string,
    now = Date.now(),
  ) {
    this.started = now;
  }

  /** Takes one log entry; returns the decision it leads to, if any. */
  see(e: GatewayLogEntry, now = Date.now()): DecisionInput | null {
    this.stats.entries++;
    if (!this.policy.statuses.includes(e.status)) return null;
    this.stats.rejections++;
    const key = this.keyOf(e.source);
    if (!key) return null;
    let s = this.sources.get(key);
    if (s)
      this.sources.delete(key); // re-inserted below: the map's order is recency
    else s = { hits: [], sealedUntil: 0, offenses: 0, paths: new Map() };
    this.sources.set(key, s);
    capOldest(this.sources, MAX_SOURCES);
    this.stats.sources = this.sources.size;

    if (now < s.sealedUntil) {
      this.stats.whileSealed++;
      return null;
    }
    s.hits.push(now);
    while (s.hits.length && s.hits[0]! <= now - this.policy.windowMs) s.hits.shift();
    // Paths are kept until the source is sealed, and a source that stays under the threshold
    // is never sealed: a bound keeps one that asks for a new path each time from growing its map.
    const path = e.uri?.split('?')[0];
    if (path && (s.paths.size < MAX_PATHS || s.paths.has(path))) s.paths.set(path, (s.paths.get(path) ?? 0) + 1);
    if (s.hits.length < this.policy.threshold) return null;

    s.offenses++;
    const ttlMs = Math.min(this.policy.maxTtlMs, this.policy.ttlMs * 2 ** (s.offenses - 1));
    s.sealedUntil = now + ttlMs;
    const count = s.hits.length;
    s.hits = [];
    const top = [...s.paths].sort((a, b) => b[1] - a[1])[0]?.[0];
    s.paths.clear();
    this.stats.decisions++;
    return {
      id: `${this.tag}:${key}:${s.offenses}:${this.started}`,
      action: this.policy.action,
      target: key,
      ttl: ttlMs / 1000,
      ...(this.policy.action === 'limit' ? { rate: this.policy.rate, burst: this.policy.burst } : {}),
      ...(top ? { api: apiName(top) } : {}),
      reason: `${count} answers of ${this.policy.statuses.join('/')} within ${this.policy.windowMs / 1000}s${s.offenses > 1 ? ` (offense ${s.offenses})` : ''}`,
    };
  }

  /** A seal the follower made did not take (its POST failed for good): the source may be decided again. */
  forget(target: string): void {
    const s = this.sources.get(target);
    if (s) s.sealedUntil = 0;
  }

  private keyOf(source: string): string | null {
    try {
      const a = parseAddress(source);
      const plen = a.family === 4 ? this.policy.per4 : this.policy.per6;
      return formatPrefix({ family: a.family, addr: maskAddr(a.addr, plen), plen });
    } catch {
      return null;
    }
  }
}

/** A path as decisions name APIs (letters, digits and _.:/{}-, at most 128). */
function apiName(path: string): string {
  return path.replace(/[^A-Za-z0-9_.:/{}-]/g, '_').slice(0, 128) || '/';
}
