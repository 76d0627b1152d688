/**
 * Reconciling what runs with what a config asks, one reconciler per feature (reconcilers/):
 * each compiles its part of the config into data-plane terms, reads its part back from the
 * data plane, plans the minimal changes, and knows how to perform and undo each of them. A new
 * feature adds a reconciler to RECONCILERS; nothing here grows a case for it.
 *
 * Changes from all features run in the order of their phase, which keeps every packet on the
 * old state or the new one, never a mix that drops it:
 *
 *   settings (program swap) → attach interfaces → add/update rate limiters → flip the rule
 *   bank → delete unused limiters → add/replace routes → delete routes → services → add blocks
 *   → delete blocks → events (sampling, drop events) → detach interfaces
 *
 * Egress ports exist before routes use them and go after the last route to them is gone; a
 * limiter exists before a rule names it; replaced routes change with one store.
 */
import type { Dataplane } from '../dataplane/dataplane.js';
import type { PipelineSettings } from '../dataplane/pipeline.js';
import type { FileSource } from './config/files.js';
import type { HostRoute } from '../routing/host-routes.js';
import type { RouteSpec } from '../routing/route.js';
import type { Config } from './config/schema.js';

/** When a change runs, relative to the others (see above). */
export const Phase = {
  SETTINGS: 0,
  ATTACH: 10,
  LIMITERS: 20,
  RULES: 30,
  LIMITER_DELETE: 40,
  ROUTES: 50,
  ROUTE_DELETE: 60,
  SERVICES: 65,
  BLOCKS: 70,
  UNBLOCK: 80,
  EVENTS: 90,
  DETACH: 100,
} as const;

export interface CompileContext {
  /** Reads the files the config names (config/files.ts). */
  files: FileSource;
  now: number;
  /** When each blocked prefix was first applied (ms since the epoch): `ttl` counts from there. */
  blockedSince: ReadonlyMap<string, number>;
  /** The host's own routes (from its addresses), which the RIB merges with the config's. */
  hostRoutes: HostRoute[];
  /** Compiled config routes by object, kept across proposals (see routing reconciler). */
  routeCache?: WeakMap<object, RouteSpec>;
}

export interface PlanContext {
  /** A desired route's canonical text, resolving gateways as installing it would. */
  describeRoute(spec: RouteSpec): string;
}

/** What applying needs from its owner: the data plane (which a program upgrade replaces). */
export interface ApplyTarget {
  dp(): Dataplane;
  /** Swaps the program for one with these settings, carrying the maps over (Pipeline.upgrade). */
  upgrade(settings: PipelineSettings): Promise<void>;
  /** Something the operator should know about a change that was made (logged by the daemon). */
  note?(text: string): void;
}

/** A change for people and JSON: what, which, and the before/after texts. */
export interface ChangeSummary {
  kind: string;
  op: string;
  key: string;
  before?: string;
  after?: string;
}

/** A planned change: its kind (which reconciler performs it), its phase, and its details. */
export interface PlannedChange {
  kind: string;
  phase: number;
}

export type Undo = () => Promise<void> | void;

export interface Reconciler<D, R, C extends PlannedChange> {
  /** The change kinds this reconciler plans and performs. */
  readonly kinds: readonly C['kind'][];
  desired(cfg: Config, ctx: CompileContext): D;
  /** What runs; a promise when it is read in turns of the event loop (a big blocklist). */
  running(dp: Dataplane): R | Promise<R>;
  plan(running: R, desired: D, ctx: PlanContext): C[];
  /** Refuses, before anything is applied, a change that cannot be made while the pipeline runs. */
  check?(c: C): void;
  /** Performs the change; returns how to undo it. */
  apply(c: C, t: ApplyTarget): Promise<Undo> | Undo;
  /** Kinds of change applyRun performs a run of at once. */
  readonly runKinds?: readonly C['kind'][];
  /**
   * Performs a run of consecutive changes of one of runKinds and one phase at once (a
   * million-prefix blocklist written in batches, not a syscall each); returns how to undo the
   * whole run. When it throws, it has undone its own part.
   */
  applyRun?(cs: C[], t: ApplyTarget): Promise<Undo> | Undo;
  summarize(c: C): ChangeSummary;
}

/** One line per change, diff-style: + added, - removed, ~ changed. */
export function formatChange(s: ChangeSummary): string {
  const sign = /add|attach/.test(s.op) ? '+' : /delete|detach/.test(s.op) ? '-' : '~';
  const body =
    sign === '+'
      ? `${s.key}${s.after ? ` ${s.after}` : ''}`
      : sign === '-'
        ? `${s.key}${s.before ? ` ${s.before}` : ''}`
        : `${s.key}: ${s.before ?? ''} → ${s.after ?? ''}`;
  return `${sign} ${s.kind} ${body}`;
}
