/**
 * How every command prints: human text by default, one JSON document with --json. Errors go
 * to stderr (as JSON with --json) and set the exit code from the error catalog.
 */
import { CommanderError } from 'commander';

import { ErrorCatalog, PwError } from '../errors.js';

export interface OutputOptions {
  json?: boolean;
}

const tty = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: number) => (s: string) => (tty ? `\x1b[${code}m${s}\x1b[0m` : s);
export const color = { green: paint(32), yellow: paint(33), red: paint(31), bold: paint(1), dim: paint(2) };

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? Number(v) : v), 2)}\n`);
}

export function toPwError(e: unknown): PwError {
  if (e instanceof PwError) return e;
  if (e instanceof CommanderError) return new PwError('PW_ERR_USAGE', e.message.replace(/^error: /, ''), { hint: "see 'pathwise --help'" });
  const err = e as Error;
  return new PwError('PW_ERR_INTERNAL', err?.message ?? String(e), { details: { stack: err?.stack } });
}

/** Prints an error the way the user asked for and returns the exit code. */
export function reportError(e: unknown, json: boolean): number {
  const err = toPwError(e);
  if (json) {
    process.stderr.write(`${JSON.stringify({ error: err.toJSON() }, null, 2)}\n`);
  } else {
    process.stderr.write(`${color.red('error')}: ${err.message}\n`);
    if (err.where && !err.message.includes(err.where)) process.stderr.write(`  where: ${err.where}\n`);
    if (err.hint) process.stderr.write(`  hint: ${err.hint}\n`);
    if (err.code === 'PW_ERR_VERIFIER' && err.details?.verifierLog && process.env.PATHWISE_VERBOSE) {
      process.stderr.write(`${err.details.verifierLog}\n`);
    }
    if (err.code === 'PW_ERR_INTERNAL' && process.env.PATHWISE_VERBOSE) process.stderr.write(`${err.details?.stack}\n`);
  }
  return ErrorCatalog[err.code].exit;
}

/**
 * Lines to stdout, many to a write: a million console.log calls (a full blocklist) are a
 * million writes, ~5 s of the listing.
 */
export function printLines(lines: Iterable<string>): void {
  let chunk: string[] = [];
  for (const l of lines) {
    chunk.push(l);
    if (chunk.length === 4096) {
      process.stdout.write(`${chunk.join('\n')}\n`);
      chunk = [];
    }
  }
  if (chunk.length) process.stdout.write(`${chunk.join('\n')}\n`);
}

/**
 * The first `max` of a list of names, then how many more: a host with 200 veths attached is
 * not one 3,000-character line (`--json` has them all).
 */
export function someOf(names: string[], max = 8): string {
  if (names.length <= max) return names.join(', ');
  return `${names.slice(0, max).join(', ')} and ${names.length - max} more (--json lists them all)`;
}

/** Rows under a bold header, columns padded to their widest cell. */
export function printTable(head: string[], rows: string[][]): void {
  // Looped, not spread into Math.max(): a table may have more rows than a call takes arguments.
  const widths = head.map((h, i) => rows.reduce((w, r) => Math.max(w, r[i]!.length), h.length));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  printLines([color.bold(line(head)), ...rows.map(line)]);
}
