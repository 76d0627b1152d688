/**
 * pw_guard_state, the one-entry value the pipeline reads with every packet, as the control
 * plane writes it: word by word, in place, through the mmap-ed map. Never with a whole-value
 * update, which would write back words that the pipeline (escalations, listing marks) and
 * other processes (a capture's feature byte, a command's rule flip) change meanwhile. The map
 * is mapped for each call: a few microseconds, and none of these writes is per packet.
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

export function withGuardState<T>(maps: GuardStateMaps, fn: (mem: GuardStateMemory) => T): T {
  const mapped = maps.guardState.mmap();
  try {
    const buf = mapped.view.buffer;
    return fn({
      u8: new Uint8Array(buf, 0, mapped.stride),
      u32: new Uint32Array(buf, 0, mapped.stride >>> 2),
      u64: new BigUint64Array(buf, 0, mapped.stride >>> 3),
    });
  } finally {
    mapped.close();
  }
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
