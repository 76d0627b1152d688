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
