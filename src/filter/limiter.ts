/**
 * Rate limiters: a token bucket per source (run as GCRA, see guard.bpf.h), with an optional
 * escalation to a temporary block. What a limiter is and how its text forms read;
 * src/dataplane/filter-tables.ts installs them.
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

/** Packets per second per source at most (one packet per microsecond). */
export const MAX_RATE = 1_000_000;
/**
 * Packets per second per source at least: one packet in 1000 s. Below it the burst arithmetic
 * (burst x interval in nanoseconds) leaves 64 bits; a smaller rate is refused, never rounded
 * to "unlimited".
 */
export const MIN_RATE = 0.001;
/** The largest burst: a million packets ahead of schedule. */
export const MAX_BURST = 1_000_000;

/** GCRA's emission interval: the nanoseconds between two packets of a source at `rate`. */
export function gcraInterval(rate: number): bigint {
  return BigInt(Math.max(1, Math.round(1e9 / rate)));
}

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
  if (!(l.rate >= MIN_RATE && l.rate <= MAX_RATE))
    throw new PwError('PW_ERR_INVALID', `rate must be ${MIN_RATE}..${MAX_RATE} packets/s, got ${l.rate}`, {
      hint: l.rate > 0 && l.rate < MIN_RATE ? 'a slower rate is not resolved; block the source instead' : undefined,
    });
  if (!(l.burst >= 1 && l.burst <= MAX_BURST)) throw new PwError('PW_ERR_INVALID', `burst must be 1..${MAX_BURST} packets, got ${l.burst}`);
  if (!(l.per4 >= 0 && l.per4 <= 32 && l.per6 >= 0 && l.per6 <= 128))
    throw new PwError('PW_ERR_INVALID', 'per-source prefix lengths are 0-32 (IPv4) and 0-128 (IPv6)');
  if (!(Number.isInteger(l.blockAfter) && l.blockAfter >= 0))
    throw new PwError('PW_ERR_INVALID', `blockAfter must be a whole number of packets (0: never block), got ${l.blockAfter}`);
  if (l.blockAfter && !(l.blockForMs >= 1))
    throw new PwError('PW_ERR_INVALID', `a limiter that blocks needs a block duration, got ${l.blockForMs} ms`);
}
