/**
 * Rate limiters: a token bucket per source, with an optional escalation to a temporary block.
 * What a limiter is and how its text forms read; src/dataplane/filter-tables.ts installs them.
 */
import { PwError } from '../errors.js';

export interface Limiter {
  name: string;
  id: number;
  /** Packets per second per source. */
  rate: number;
  burst: number;
  /** A source is its address masked to these lengths. */
  per4: number;
  per6: number;
  /** Escalation: after this many limited packets in a row, block the source for blockForMs. */
  blockAfter: number;
  blockForMs: number;
}

export type LimiterSpec = Omit<Limiter, 'id'>;

/** Packets per second per source at most: the pipeline's refill arithmetic is sized for it. */
export const MAX_RATE = 1_000_000;

/**
 * What a source is: 'address', or prefix lengths like /24 (IPv4; IPv6 sources then by /64) or
 * /24,/56. The same for the CLI's --per and the config's `per`.
 */
export function parsePer(s: string, where = 'per'): { per4: number; per6: number } {
  if (s === 'address') return { per4: 32, per6: 128 };
  const m = /^\/(\d{1,2})(?:,\/(\d{1,3}))?$/.exec(s);
  if (!m || Number(m[1]) > 32 || (m[2] !== undefined && Number(m[2]) > 128)) {
    throw new PwError('PW_ERR_INVALID', `invalid ${where} '${s}': 'address', or prefix lengths like /24 or /24,/64`, { where });
  }
  return { per4: Number(m[1]), per6: m[2] ? Number(m[2]) : 64 };
}

/** A rate as people write it: 100 or 100/s (packets per second). */
export function parseRate(s: string, where = 'rate'): number {
  const m = /^(\d+(?:\.\d+)?)(?:\/s)?$/.exec(s);
  if (!m) throw new PwError('PW_ERR_INVALID', `invalid rate '${s}': packets per second, e.g. 100 or 100/s`, { where });
  return Number(m[1]);
}

/** Checks a limiter's numbers against what the pipeline can do. */
export function checkLimiter(l: Omit<Limiter, 'id'>): void {
  if (!(l.rate > 0 && l.rate <= MAX_RATE)) throw new PwError('PW_ERR_INVALID', `rate must be 1..${MAX_RATE} packets/s, got ${l.rate}`);
  if (!(l.burst >= 1 && l.burst <= 1e9)) throw new PwError('PW_ERR_INVALID', `burst must be at least 1 packet, got ${l.burst}`);
  if (!(l.per4 >= 0 && l.per4 <= 32 && l.per6 >= 0 && l.per6 <= 128))
    throw new PwError('PW_ERR_INVALID', 'per-source prefix lengths are 0-32 (IPv4) and 0-128 (IPv6)');
}
