/**
 * The pipeline's feature bytes: pw_guard_state.features holds one byte per optional stage
 * (enum pw_feature: capture, events, balance, HTTP), and the pipeline reads that one word
 * instead of each stage's control map. With all four idle, a forwarded packet took 69 ns
 * instead of 72 (alternated A/B, 1,000 rules; BENCHMARKS.md §3).
 *
 * The rule that keeps a stage from ever being skipped while it has work: a clear byte means the
 * stage is idle. Whoever writes a stage's control sets its byte *before* the write that turns
 * the stage on, and clears it only *after* the write that turned it off (switchFeature). Opening
 * a data plane sets the byte of each stage whose control is on (a map pinned by a version
 * without the bytes holds zeros there) and never clears one: a clear racing with a writer
 * that turns its stage on could leave a busy stage skipped. A byte left set over an idle stage
 * (a capture killed with -9) costs only the control map's read.
 *
 * One byte per stage because the writers live in different processes (the daemon, a capture
 * or a `service` command in the CLI): a byte store never rewrites another stage's byte. The
 * bytes are written in place (guard-state.ts).
 */
import * as abi from '../generated/pathwise.js';
import { withGuardState, type GuardStateMaps as Maps } from './guard-state.js';
import type { PipelineMaps } from './pipeline.js';

type ControlMaps = Pick<PipelineMaps, 'guardState' | 'captureCtl' | 'eventsCtl' | 'lbCtl' | 'httpCtl'>;

export type Feature = Exclude<abi.PwFeature, typeof abi.PwFeature.COUNT>;

/**
 * The byte's offset in the value: byte i of the word as it sits in memory, as the pipeline reads
 * it (PW_FEATURE_MASK).
 */
const byteOffset = (feature: Feature) => abi.PwGuardState.offsets.features + feature;

function storeFeature(maps: Maps, feature: Feature, on: boolean): void {
  withGuardState(maps, (m) => void Atomics.store(m.u8, byteOffset(feature), on ? 1 : 0));
}

/**
 * Runs `write` (the write of the stage's control) with the byte set before it when the stage
 * will be on, and cleared after it when the stage will be off.
 */
export function switchFeature(maps: Maps, feature: Feature, on: boolean, write: () => void): void {
  if (on) storeFeature(maps, feature, true);
  write();
  if (!on) storeFeature(maps, feature, false);
}

/** Whether the pipeline reads the stage's control (for tests). */
export function featureOn(maps: Maps, feature: Feature): boolean {
  return withGuardState(maps, (m) => Atomics.load(m.u8, byteOffset(feature)) !== 0);
}

/** The stages whose control is on, by their controls as they are now. */
export function featuresInUse(maps: Omit<ControlMaps, 'guardState'>): Feature[] {
  const on: Feature[] = [];
  if (maps.captureCtl.get(0)?.active) on.push(abi.PwFeature.CAPTURE);
  const ev = maps.eventsCtl.get(0);
  if (ev && (ev.sample_rate || ev.drops)) on.push(abi.PwFeature.EVENTS);
  if (maps.lbCtl.get(0)?.services) on.push(abi.PwFeature.BALANCE);
  if (maps.httpCtl.get(0)?.enabled) on.push(abi.PwFeature.HTTP);
  return on;
}

/** Sets the byte of every stage whose control is on; clears none (see above). */
export function markFeaturesInUse(maps: ControlMaps): Feature[] {
  const on = featuresInUse(maps);
  for (const f of on) storeFeature(maps, f, true);
  return on;
}
