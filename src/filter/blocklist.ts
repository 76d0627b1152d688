/** Blocklist files: one prefix (or address) per line, # comments. */
import { PwError } from '../errors.js';
import { parsePrefix, type Prefix } from '../util/ip.js';

/** A blocked prefix in force. */
export interface BlockEntry {
  prefix: string;
  /** Milliseconds left; null: no expiry. */
  expiresInMs: number | null;
  /** Who listed it: the control plane (config, API, CLI), or a rate limiter's escalation. */
  origin: 'config' | 'escalation';
  /** An escalation's limiter. */
  limiter?: string;
}

/** Parses a blocklist file; every bad line is reported (up to 20) and nothing is returned. */
export function parseBlockFile(text: string, file: string): Prefix[] {
  const out: Prefix[] = [];
  const errors: string[] = [];
  text.split(/\r?\n/).forEach((line, n) => {
    const s = line.replace(/#.*/, '').trim();
    if (!s) return;
    try {
      out.push(parsePrefix(s, `${file}:${n + 1}`));
    } catch (e) {
      if (errors.length < 20) errors.push(`${file}:${n + 1}: ${(e as Error).message}`);
    }
  });
  if (errors.length) throw new PwError('PW_ERR_INVALID', `bad lines in ${file}; nothing was blocked:\n  ${errors.join('\n  ')}`);
  return out;
}
