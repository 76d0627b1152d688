/**
 * The whole plan: every reconciler's part of the config compiled (compileDesired), what runs
 * read back (readRunning), and their differences as one list of changes in phase order
 * (planChanges). The reconcilers are listed once, here.
 */
import type { Dataplane } from '../dataplane/dataplane.js';
import type { Config } from './config/schema.js';
import { type ChangeSummary, type CompileContext, type PlanContext, type Reconciler } from './reconcile.js';
import { filterReconciler, type FilterChange } from './reconcilers/filter.js';
import { httpReconciler, type HttpChange } from './reconcilers/http.js';
import { insightReconciler, type EventsChange } from './reconcilers/insight.js';
import { interfacesReconciler, type InterfaceChange } from './reconcilers/interfaces.js';
import { pipelineReconciler, type SettingsChange } from './reconcilers/pipeline.js';
import { routingReconciler, type RoutingChange } from './reconcilers/routing.js';
import { servicesReconciler, type ServiceChange } from './reconcilers/services.js';

/** One reconciler per feature. A feature adds itself here. */
export const RECONCILERS = {
  pipeline: pipelineReconciler,
  interfaces: interfacesReconciler,
  filter: filterReconciler,
  routing: routingReconciler,
  services: servicesReconciler,
  insight: insightReconciler,
  http: httpReconciler,
} as const;

type Feature = keyof typeof RECONCILERS;
type DesiredOf<R> = R extends Reconciler<infer D, any, any> ? D : never;
type RunningOf<R> = R extends Reconciler<any, infer S, any> ? S : never;

/** What a config asks of the data plane, per feature. */
export type DesiredState = { [F in Feature]: DesiredOf<(typeof RECONCILERS)[F]> };
/** What runs, read back from the data plane, per feature. */
export type RunningState = { [F in Feature]: RunningOf<(typeof RECONCILERS)[F]> };
export type Change = SettingsChange | InterfaceChange | FilterChange | RoutingChange | ServiceChange | EventsChange | HttpChange;

const features = Object.keys(RECONCILERS) as Feature[];
const anyReconciler = (f: Feature) => RECONCILERS[f] as unknown as Reconciler<unknown, unknown, Change>;

/** Each kind of change's reconciler (asked once per change: a plan can hold a million). */
const byKind = new Map<string, Reconciler<unknown, unknown, Change>>(
  features.flatMap((f) => (anyReconciler(f).kinds as string[]).map((k) => [k, anyReconciler(f)] as const)),
);

/** The reconciler that plans and performs changes of this kind. */
export function reconcilerOf(c: Change): Reconciler<unknown, unknown, Change> {
  const r = byKind.get(c.kind);
  if (!r) throw new Error(`no reconciler performs changes of kind '${c.kind}'`);
  return r;
}

export function compileDesired(cfg: Config, ctx: CompileContext): DesiredState {
  return Object.fromEntries(features.map((f) => [f, anyReconciler(f).desired(cfg, ctx)])) as DesiredState;
}

export async function readRunning(dp: Dataplane): Promise<RunningState> {
  const out: Partial<Record<Feature, unknown>> = {};
  // One after the other: each reads maps the others' changes do not touch, and none is applied
  // before all are read (the controller's queue holds every other change meanwhile).
  for (const f of features) out[f] = await anyReconciler(f).running(dp);
  return out as RunningState;
}

/**
 * The changes that turn `running` into `desired`, in phase order (within a phase, in the order
 * each reconciler planned them). A route that cannot be installed fails the whole plan, before
 * anything is applied.
 */
export function planChanges(running: RunningState, desired: DesiredState, ctx: PlanContext): Change[] {
  const all = features.flatMap((f) => anyReconciler(f).plan(running[f], desired[f], ctx));
  // Array.prototype.sort is stable: equal phases keep their planned order.
  return all.sort((a, b) => a.phase - b.phase);
}

export const summarize = (c: Change): ChangeSummary => reconcilerOf(c).summarize(c);

export { formatChange, type ChangeSummary } from './reconcile.js';
