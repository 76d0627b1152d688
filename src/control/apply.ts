/**
 * Applies a plan (plan.ts) to the data plane, change by change, keeping for each an undo step.
 * When a change fails, the steps already taken are undone newest first, so the maps return to
 * the version that was running; the error says what failed and whether the restore succeeded.
 */
import type { XdpModeRequest } from '../bpf/index.js';
import type { Dataplane, RouteView } from '../dataplane/dataplane.js';
import type { PipelineSettings } from '../dataplane/pipeline.js';
import type { RouteSpec } from '../dataplane/route-syntax.js';
import { PwError } from '../errors.js';
import { setEventsControl } from '../insight/summary.js';
import { parsePrefix } from '../util/ip.js';
import { formatChange, summarize, type Change } from './plan.js';

/** What applying needs from its owner: the data plane (which a program upgrade replaces). */
export interface ApplyTarget {
  dp(): Dataplane;
  /** Swaps the program for one with these settings, carrying the maps over (Pipeline.upgrade). */
  upgrade(settings: PipelineSettings): Promise<void>;
}

export interface ApplyOptions {
  /**
   * Testing hook: fail after this many changes succeeded, as a kernel refusal would. Set by
   * PATHWISE_FAULT_INJECT=apply:N in the daemon's environment; the restore path is then
   * exercised for real.
   */
  failAfter?: number;
}

const routeSpecFromView = (v: RouteView): RouteSpec => ({
  prefix: parsePrefix(v.prefix),
  type: v.type,
  metric: v.metric,
  nexthops: v.nexthops.map((n) => ({ via: n.via ?? undefined, dev: n.dev, weight: n.weight })),
  where: `route ${v.prefix} (restore)`,
});

/** Performs one change; returns its undo. */
async function perform(t: ApplyTarget, c: Change): Promise<() => Promise<void> | void> {
  const dp = t.dp();
  switch (c.kind) {
    case 'settings':
      await t.upgrade(c.after);
      return () => t.upgrade(c.before);
    case 'interface': {
      if (c.op === 'attach') {
        dp.attach([c.name], c.mode);
        return () => void t.dp().detach([c.name]);
      }
      dp.detach([c.name]);
      const back = (c.before ?? 'auto') as XdpModeRequest;
      if (c.op === 'reattach') {
        dp.attach([c.name], c.mode);
        return () => {
          t.dp().detach([c.name]);
          t.dp().attach([c.name], back);
        };
      }
      return () => void t.dp().attach([c.name], back);
    }
    case 'limiter': {
      const f = dp.filter;
      if (c.op === 'add') {
        f.addLimiter(c.spec!);
        return () => void t.dp().filter.deleteLimiter(c.name);
      }
      if (c.op === 'update') {
        f.updateLimiter(c.spec!);
        return () => void t.dp().filter.updateLimiter(c.old!);
      }
      f.deleteLimiter(c.name);
      return () => void t.dp().filter.addLimiter(c.old!);
    }
    case 'rules':
      dp.filter.setRules(c.after);
      return () => void t.dp().filter.setRules(c.before);
    case 'route': {
      if (c.op === 'add') {
        dp.addRoute(c.spec!);
        return () => void t.dp().deleteRoute(c.spec!.prefix);
      }
      if (c.op === 'replace') {
        dp.replaceRoute(c.spec!);
        return () => void t.dp().replaceRoute(routeSpecFromView(c.old!));
      }
      dp.deleteRoute(parsePrefix(c.prefix));
      return () => void t.dp().addRoute(routeSpecFromView(c.old!));
    }
    case 'events':
      setEventsControl(dp.pipeline.maps, c.after);
      return () => setEventsControl(t.dp().pipeline.maps, c.before);
    case 'block': {
      const prefix = parsePrefix(c.prefix);
      if (c.op === 'add') {
        const ttl = c.block!.expiresAt === null ? undefined : Math.max(0, c.block!.expiresAt - Date.now());
        dp.filter.block([prefix], ttl);
        return () => void t.dp().filter.unblock(prefix);
      }
      dp.filter.unblock(prefix);
      return () => void t.dp().filter.block([prefix], c.old!.expiresInMs ?? undefined);
    }
  }
}

export async function applyChanges(t: ApplyTarget, changes: Change[], opts: ApplyOptions = {}): Promise<void> {
  const undo: { change: Change; fn: () => Promise<void> | void }[] = [];
  for (const change of changes) {
    try {
      if (opts.failAfter !== undefined && undo.length >= opts.failAfter) {
        throw new PwError('PW_ERR_KERNEL', `injected failure after ${undo.length} change(s) (PATHWISE_FAULT_INJECT)`);
      }
      undo.push({ change, fn: await perform(t, change) });
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
