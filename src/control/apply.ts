/**
 * Applies a plan (plan.ts) to the data plane, change by change, each by its reconciler, keeping
 * for each an undo step. When a change fails, the steps already taken are undone newest first,
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

export async function applyChanges(t: ApplyTarget, changes: Change[], opts: ApplyOptions = {}): Promise<void> {
  const undo: { change: Change; fn: Undo }[] = [];
  for (const change of changes) {
    try {
      if (opts.failAfter !== undefined && undo.length >= opts.failAfter) {
        throw new PwError('PW_ERR_KERNEL', `injected failure after ${undo.length} change(s) (PATHWISE_FAULT_INJECT)`);
      }
      // Most changes apply at once: awaited only when they return a promise (a microtask for
      // each of a million route deletions showed in a profile).
      const done = reconcilerOf(change).apply(change, t);
      undo.push({ change, fn: done instanceof Promise ? await done : done });
    } catch (e) {
      const failed = formatChange(summarize(change));
      const restoreErrors: string[] = [];
      for (const step of undo.reverse()) {
        try {
          await step.fn();
        } catch (u) {
          restoreErrors.push(`${formatChange(summarize(step.change))}: ${(u as Error).message}`);
        }
      }
      const cause = e instanceof PwError ? e : new PwError('PW_ERR_KERNEL', (e as Error).message, { cause: e });
      throw new PwError(
        cause.code,
        `applying failed at '${failed}': ${cause.message}; ${restoreErrors.length ? `restoring the previous version FAILED for ${restoreErrors.length} change(s)` : `the previous version was restored (${undo.length} change(s) undone)`}`,
        {
          where: cause.where,
          hint: cause.hint,
          details: { failedChange: failed, undone: undo.length, restored: restoreErrors.length === 0, restoreErrors },
          cause: e,
        },
      );
    }
  }
}
