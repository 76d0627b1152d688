/** Blocklist files: one prefix (or address) per line, # comments. */
import { PwError } from '../errors.js';
import { parsePrefix, type Prefix } from '../util/ip.js';

/** A blocked prefix in force. */
export interface BlockEntry {
  prefix: string;
  /** Milliseconds left; null: no expiry. */
  expiresInMs: number | null;
  /**
   * Who listed it: the control plane's config (config, API, CLI), a rate limiter's escalation,
   * or an operational decision (POST /v1/decisions, a gateway adapter, an anomaly seal).
   */
  origin: 'config' | 'escalation' | 'decision';
  /** An escalation's limiter. */
  limiter?: string;
  /** A decision that holds the prefix to a rate rather than blocking it. */
  sealed?: true;
}

/**
 * Parses a blocklist file; every bad line is reported by number (up to 20) and nothing is
 * returned. The lines themselves are never repeated: the file may not be a blocklist at all,
 * and the error may travel to whoever asked.
 */
export function parseBlockFile(text: string, file: string): Prefix[] {
  const out: Prefix[] = [];
  const bad: number[] = [];
  let badCount = 0;
  text.split(/\r?\n/).forEach((line, n) => {
    const s = line.replace(/#.*/, '').trim();
    if (!s) return;
    try {
      out.push(parsePrefix(s, `${file}:${n + 1}`));
    } catch {
      badCount++;
      if (bad.length < 20) bad.push(n + 1);
    }
  });
  if (badCount) {
    throw new PwError(
      'PW_ERR_INVALID',
      `${badCount} line(s) of ${file} are not an address or prefix (line ${bad.join(', ')}${badCount > bad.length ? ', ...' : ''}); nothing was blocked`,
      { where: `${file}:${bad[0]}`, hint: 'one address or CIDR prefix per line; # starts a comment' },
    );
  }
  return out;
}

/**
 * An IPv4 prefix as one number: its address (bits past the length cleared) × 64 + its length,
 * exact in a double (< 2^38). The reconciler compares a million-entry blocklist with the
 * config as two sorted arrays of these: no string and no hash lookup per entry.
 */
export function prefix4Code(addr: number, plen: number): number {
  return (plen ? (addr & (-1 << (32 - plen))) >>> 0 : 0) * 64 + plen;
}

/** A prefix4Code's canonical text (formatPrefix's). */
export function code4Text(code: number): string {
  const plen = code % 64;
  const a = (code - plen) / 64;
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}/${plen}`;
}

/** The prefix4Code of a canonical IPv4 prefix text (formatPrefix's); undefined for IPv6. */
export function code4OfText(text: string): number | undefined {
  let addr = 0;
  let part = 0;
  let i = 0;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) {
      addr = addr * 256 + part;
      part = 0;
    } else if (c === 0x2f) break;
    else if (c >= 0x30 && c <= 0x39) part = part * 10 + c - 0x30;
    else return undefined; // ':' or a hex digit: IPv6
  }
  return prefix4Code(addr * 256 + part, Number(text.slice(i + 1)));
}
