/**
 * When each config-blocked prefix was first applied, kept in the instance's run directory so
 * that a `ttl` counts from there across daemon restarts.
 *
 * The file groups the prefixes by time: { "v": 2, "since": { "<ms>": ["prefix", …] } }. A
 * million-prefix list applied at once is one group, read with its map built in ~1.4 s; the
 * first form, an object with a key per prefix, took ~4.5 s of every start (V8 builds such an
 * object as a dictionary). That form is still read.
 */
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../util/fs.js';

export function readBlockedSince(file: string): Map<string, number> {
  const out = new Map<string, number>();
  if (!existsSync(file)) return out;
  const data = JSON.parse(readFileSync(file, 'utf8')) as { v?: number; since?: Record<string, string[]> } & Record<string, unknown>;
  if (data.v === 2 && data.since) {
    for (const [ms, prefixes] of Object.entries(data.since)) for (const p of prefixes) out.set(p, Number(ms));
    return out;
  }
  for (const [p, ms] of Object.entries(data)) if (typeof ms === 'number') out.set(p, ms);
  return out;
}

export function writeBlockedSince(file: string, since: ReadonlyMap<string, number>): void {
  const groups: Record<string, string[]> = {};
  for (const [p, ms] of since) (groups[ms] ??= []).push(p);
  writeFileAtomic(file, JSON.stringify({ v: 2, since: groups }));
}
