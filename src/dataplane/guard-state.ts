/**
 * pw_guard_state, the one-entry value the pipeline reads with every packet, as the control
 * plane writes it: word by word, in place, through the mmap-ed map. Never with a whole-value
 * update, which would write back words that the pipeline (escalations, listing marks) and
 * other processes (a capture's feature byte, a command's rule flip) change meanwhile. The map
 * is mapped once per map object (below).
 *
 * Its words, and who keeps them: the blocklists' listing marks (blocklist-listing.ts), the
 * optional stages' feature bytes (feature-bytes.ts), the escalation count and the live rule
 * bank (below, for filter-tables.ts).
 */
import * as abi from '../generated/pathwise.js';
import type { PipelineMaps } from './pipeline.js';

export type GuardStateMaps = Pick<PipelineMaps, 'guardState'>;

/** The mapped value, seen as bytes, 32-bit and 64-bit words (each indexed in its own unit). */
export interface GuardStateMemory {
  u8: Uint8Array;
  u32: Uint32Array;
  u64: BigUint64Array;
}

/**
 * Each guard-state map's mapping, kept while its map object lives (the mapping is unmapped when
 * both are collected). Mapping it at each call took ~25 µs on a VM that isolates the kernel's
 * page tables (PTI), and every blocklist insert marks the list: a million-prefix list applied
 * one change at a time paid 25 s for the marks alone.
 */
const memories = new WeakMap<GuardStateMaps['guardState'], GuardStateMemory>();

export function withGuardState<T>(maps: GuardStateMaps, fn: (mem: GuardStateMemory) => T): T {
  let mem = memories.get(maps.guardState);
  if (!mem) {
    const mapped = maps.guardState.mmap();
    const buf = mapped.view.buffer;
    mem = {
      u8: new Uint8Array(buf, 0, mapped.stride),
      u32: new Uint32Array(buf, 0, mapped.stride >>> 2),
      u64: new BigUint64Array(buf, 0, mapped.stride >>> 3),
    };
    memories.set(maps.guardState, mem);
  }
  return fn(mem);
}

/** Sets the escalation count the pipeline caps at (one 32-bit store: the pipeline adds to it
 * atomically). */
export function storeEscalations(maps: GuardStateMaps, n: number): void {
  withGuardState(maps, (m) => void Atomics.store(m.u32, abi.PwGuardState.offsets.escalations >>> 2, n));
}

/** Flips the classifier to a bank of rules (one 32-bit store). */
export function storeRuleBank(maps: GuardStateMaps, bank: number): void {
  withGuardState(maps, (m) => void Atomics.store(m.u32, abi.PwGuardState.offsets.rule_bank >>> 2, bank & 1));
}
