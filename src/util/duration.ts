/** Durations as people write them: "90s", "5m", "1h30m", "2d", or plain seconds. */
import { PwError } from '../errors.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** The longest duration taken: a time that far ahead is still a date (an expiry, a window). */
export const MAX_DURATION_MS = 36_500 * UNIT_MS.d!;

export function parseDuration(s: string, where = s): number {
  let total = 0;
  if (/^\d+$/.test(s)) total = Number(s) * 1000;
  else {
    const re = /(\d+)(ms|s|m|h|d)/gy;
    let matched = 0;
    for (let m = re.exec(s); m; m = re.exec(s)) {
      total += Number(m[1]) * UNIT_MS[m[2]!]!;
      matched = re.lastIndex;
    }
    if (matched !== s.length || s.length === 0) {
      throw new PwError('PW_ERR_INVALID', `invalid duration '${s}'`, { where, hint: 'use e.g. 30s, 5m, 1h30m, 2d' });
    }
  }
  if (!(total <= MAX_DURATION_MS))
    throw new PwError('PW_ERR_INVALID', `duration '${s.length > 40 ? `${s.slice(0, 40)}…` : s}' is longer than 36500d (100 years)`, {
      where,
    });
  return total;
}

/** A TTL or a window: a duration of at least 1 s (what a shorter one times would end at once). */
export function parseTtl(s: string, where = s): number {
  const ms = parseDuration(s, where);
  if (ms < 1000) throw new PwError('PW_ERR_INVALID', `'${s}' is under 1s: what it times would end at once`, { where });
  return ms;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  let s = Math.round(ms / 1000);
  const parts: string[] = [];
  for (const [unit, secs] of [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
  ] as const) {
    if (s >= secs) {
      parts.push(`${Math.floor(s / secs)}${unit}`);
      s %= secs;
    }
  }
  if (s || parts.length === 0) parts.push(`${s}s`);
  return parts.join('');
}

const BANDWIDTH_UNIT: Record<string, number> = { '': 1, bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9, tbit: 1e12 };

/** Bandwidths as tc writes them: "10Gbit", "500Mbit", "64kbit", or plain bits per second. */
export function parseBandwidth(s: string, where = s): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?bit)?$/i.exec(s.trim());
  const v = m ? Number(m[1]) * BANDWIDTH_UNIT[(m[2] ?? '').toLowerCase()]! : NaN;
  if (!(v > 0)) throw new PwError('PW_ERR_INVALID', `invalid bandwidth '${s}'`, { where, hint: 'use e.g. 10Gbit, 500Mbit, 64kbit' });
  return v;
}
