/**
 * Whether each blocklist is empty, as the pipeline reads it: the `listing` words of
 * pw_guard_state (one per family; see struct pw_guard_state). A blocklist known to be empty is
 * not looked up: an LPM lookup on an empty trie still cost ~7 ns of a forwarded packet's ~70
 * (alternated A/B, BENCHMARKS.md §3).
 *
 * The rule that keeps a listed source from ever being skipped: every insert (the pipeline's
 * rate-limit escalations, the control plane's blocks and seals) adds 2 to the word and clears
 * bit 0 ("empty") once its entry is in, and bit 0 is set only by compare-and-swap from the word
 * read *before* the blocklist was found empty. An insert that finished while a process looked
 * changed the word, so the swap fails; one that finished before it looked is in what it read.
 * That holds whoever marks (the daemon at its sweeps, a command that unblocks, the open that
 * makes a pipeline). The words are updated in place with atomic operations (guard-state.ts).
 */
import * as abi from '../generated/pathwise.js';
import { withGuardState, type GuardStateMaps as Maps } from './guard-state.js';

const LISTING = abi.PwGuardState.offsets.listing >>> 3; // the IPv4 word's index in 64-bit words
const word = (family: 4 | 6) => LISTING + (family === 6 ? 1 : 0);

const withWords = <T>(maps: Maps, fn: (words: BigUint64Array) => T): T => withGuardState(maps, (m) => fn(m.u64));

/** After an entry went into the family's blocklist: it is not empty. */
export function markListed(maps: Maps, family: 4 | 6): void {
  withWords(maps, (w) => {
    Atomics.add(w, word(family), 2n);
    Atomics.and(w, word(family), ~1n);
  });
}

/**
 * Marks each blocklist the pipeline may skip: `count(family)` reads the blocklist (after this
 * took the word it compares against) and says how many entries it holds. Returns the families
 * marked empty.
 */
export function markEmptyBlocklists(maps: Maps, count: (family: 4 | 6) => number): (4 | 6)[] {
  return withWords(maps, (w) => {
    const marked: (4 | 6)[] = [];
    for (const family of [4, 6] as const) {
      const seen = Atomics.load(w, word(family));
      if (count(family) > 0) continue;
      // Also when it was marked already: the swap then only confirms that nothing changed.
      if (Atomics.compareExchange(w, word(family), seen, seen | 1n) === seen) marked.push(family);
    }
    return marked;
  });
}

/** Whether the pipeline skips the family's blocklist (for tests). */
export function blocklistSkipped(maps: Maps, family: 4 | 6): boolean {
  return withWords(maps, (w) => (Atomics.load(w, word(family)) & 1n) === 1n);
}
