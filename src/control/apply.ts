/**
 * Applies a plan (plan.ts) to the data plane, change by change, each by its reconciler, keeping
 * for each an undo step; a run of changes its reconciler makes at once (applyRun: blocklist
 * entries) is one step. When a change fails, the steps already taken are undone newest first,
 * so the maps return to the version that was running; the error says what failed and whether
 * the restore succeeded.
 */
import { PwError } from '../errors.js';
import { reconcilerOf, summarize, type Change } from './plan.js';
import { formatChange, type ApplyTarget, type Undo } from './reconcile.js';

export type { ApplyTarget };

export interface ApplyOptions {
  /**
   * Testing hook: fail after this many changes succeeded, as a kernel refusal would. Set by
   * PATHWISE_FAULT_INJECT=apply:N in the daemon's environment; the restore path is then
   * exercised for real.
   */
  failAfter?: number;
}

/** Refuses, before anything is applied, the changes no reconciler can make while the pipeline runs. */
export function checkChanges(changes: Change[]): void {
  for (const c of changes) reconcilerOf(c).check?.(c);
}

/** A step taken: its first change, how many it made (a run: many), and how to undo them. */
interface Step {
  change: Change;
  count: number;
  undo: Undo;
}

/** The end of the run of changes from `i` that its reconciler applies at once (i + 1: none). */
function runEnd(changes: Change[], i: number): number {
  const first = changes[i]!;
  const r = reconcilerOf(first);
  if (!r.applyRun || !r.runKinds?.includes(first.kind)) return i + 1;
  let end = i + 1;
  while (end < changes.length && changes[end]!.kind === first.kind && changes[end]!.phase === first.phase) end++;
  return end;
}

/** Characters of a change an error names: a rule set's summary is every rule (450 KB for 10,000). */
const STEP_TEXT_MAX = 300;

function stepText(s: { change: Change; count: number }): string {
  const text = formatChange(summarize(s.change));
  const cut = text.length > STEP_TEXT_MAX ? `${text.slice(0, STEP_TEXT_MAX)}… (${text.length - STEP_TEXT_MAX} characters more)` : text;
  return `${cut}${s.count > 1 ? ` (and ${s.count - 1} more in one run)` : ''}`;
}

export async function applyChanges(t: ApplyTarget, changes: Change[], opts: ApplyOptions = {}): Promise<void> {
  const steps: Step[] = [];
  let applied = 0;
  for (let i = 0; i < changes.length;) {
    const change = changes[i]!;
    let end = runEnd(changes, i);
    // An injected failure falls between the same two changes, runs or not.
    if (opts.failAfter !== undefined && opts.failAfter > i) end = Math.min(end, opts.failAfter);
    try {
      if (opts.failAfter !== undefined && applied >= opts.failAfter) {
        throw new PwError('PW_ERR_KERNEL', `injected failure after ${applied} change(s) (PATHWISE_FAULT_INJECT)`);
      }
      const r = reconcilerOf(change);
      // Most changes apply at once: awaited only when they return a promise (a microtask for
      // each of a million route deletions showed in a profile).
      const done = end - i > 1 ? r.applyRun!(changes.slice(i, end), t) : r.apply(change, t);
      steps.push({ change, count: end - i, undo: done instanceof Promise ? await done : done });
      applied += end - i;
      i = end;
    } catch (e) {
      const failed = stepText({ change, count: end - i });
      const restoreErrors: string[] = [];
      let unrestored = 0;
      for (const step of steps.reverse()) {
        try {
          await step.undo();
        } catch (u) {
          restoreErrors.push(`${stepText(step)}: ${(u as Error).message}`);
          unrestored += step.count;
        }
      }
      const cause = e instanceof PwError ? e : new PwError('PW_ERR_KERNEL', (e as Error).message, { cause: e });
      throw new PwError(
        cause.code,
        `applying failed at '${failed}': ${cause.message}; ${restoreErrors.length ? `restoring the previous version FAILED for ${unrestored} change(s)` : `the previous version was restored (${applied} change(s) undone)`}`,
        {
          where: cause.where,
          hint: cause.hint,
          details: { failedChange: failed, undone: applied, restored: restoreErrors.length === 0, restoreErrors },
          cause: e,
        },
      );
    }
  }
}
