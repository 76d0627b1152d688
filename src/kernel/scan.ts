/**
 * Scans the addon does at memory speed, where a JavaScript loop costs a few ns an element:
 * the lines of a route file (native/src/scan.cc), the flagged words of a big table, and the
 * walks that fill a Maglev table (native/src/maglev.cc). No I/O: pure computation over memory
 * the caller holds.
 */
import { native, type RouteTextScan } from './native.js';

export type { RouteTextScan };

/**
 * Lines end at '\n' (a '\r' before it is a space); '#' starts a comment. Per family, the lines
 * that start with a prefix in plain form (host bits clear) with the index of their nexthop text
 * in `texts` (each distinct text once per family, with the first line that has it: 0-based, and
 * that line's bytes without its comment); line numbers in the arrays are 1-based. Any other
 * line with more than spaces, tabs and CRs is in `others` as [0-based line, start, end].
 */
export function scanRouteText(bytes: Uint8Array): RouteTextScan {
  return native().scanRouteText(bytes);
}

/** The indices of the words of `words` that have a bit of `mask` set, in order. */
export function flaggedWords(words: Uint32Array, mask: number): Uint32Array {
  return native().flaggedWords(words, mask);
}

/** The indices of the records (`stride` words each) whose word at `offset` has a bit of
 * `mask` set, in order. */
export function flaggedRecords(words: Uint32Array, mask: number, stride: number, offset: number): Uint32Array {
  return native().flaggedWords(words, mask, stride, offset);
}

/**
 * Fills `table` by Maglev's walks (src/lb/maglev.ts decides them): per backend in turn order,
 * its walk's first slot, its step (coprime with the table's length), its turns per round, and
 * the value written into the slots it takes.
 */
export function maglevFill(table: Uint32Array, offset: Uint32Array, skip: Uint32Array, turns: Uint32Array, ids: Uint32Array): void {
  native().maglevFill(table, offset, skip, turns, ids);
}
