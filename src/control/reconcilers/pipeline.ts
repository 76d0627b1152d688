/** The pipeline's settings: a change replaces the program, carrying the maps over. */
import type { Dataplane } from '../../dataplane/dataplane.js';
import { checkUpgradable, type PipelineSettings } from '../../dataplane/pipeline.js';
import type { Config } from '../config/schema.js';
import { Phase, type Reconciler } from '../reconcile.js';

export type SettingsChange = { kind: 'settings'; phase: number; before: PipelineSettings; after: PipelineSettings };

export function settingsOf(cfg: Config): PipelineSettings {
  return {
    fib: cfg.fib,
    flows: cfg.pipeline.flows,
    routeStats: cfg.pipeline.routeStats,
    dropMalformed: cfg.pipeline.dropMalformed,
    unclassified: cfg.pipeline.unclassified,
    ipv4Groups: cfg.pipeline.ipv4Groups,
    ipv6Nodes: cfg.pipeline.ipv6Nodes,
    ruleBitmaps: cfg.pipeline.ruleBitmaps,
    connections: cfg.pipeline.connections,
    flowEntries: cfg.pipeline.flowEntries,
    serviceSlots: cfg.pipeline.serviceSlots,
    filter: true,
  };
}

const KEYS: (keyof PipelineSettings)[] = [
  'fib',
  'flows',
  'routeStats',
  'dropMalformed',
  'unclassified',
  'ipv4Groups',
  'ipv6Nodes',
  'ruleBitmaps',
  'connections',
  'flowEntries',
  'serviceSlots',
];

const settingsText = (s: PipelineSettings) =>
  `fib ${s.fib}, flows ${s.flows ? 'on' : 'off'}, routeStats ${s.routeStats ? 'on' : 'off'}, dropMalformed ${s.dropMalformed ? 'on' : 'off'}, unclassified ${s.unclassified}, ipv4Groups ${s.ipv4Groups}, ipv6Nodes ${s.ipv6Nodes}, ruleBitmaps ${s.ruleBitmaps}, connections ${s.connections}, flowEntries ${s.flowEntries}, serviceSlots ${s.serviceSlots}`;

export const pipelineReconciler: Reconciler<PipelineSettings, PipelineSettings, SettingsChange> = {
  kinds: ['settings'],
  desired: settingsOf,
  running: (dp: Dataplane) => dp.pipeline.settings,
  plan(r, d) {
    return KEYS.some((k) => r[k] !== d[k]) ? [{ kind: 'settings', phase: Phase.SETTINGS, before: r, after: d }] : [];
  },
  check: (c) => checkUpgradable(c.before, c.after),
  async apply(c, t) {
    await t.upgrade(c.after);
    return () => t.upgrade(c.before);
  },
  summarize: (c) => ({ kind: c.kind, op: 'replace', key: 'pipeline', before: settingsText(c.before), after: settingsText(c.after) }),
};
