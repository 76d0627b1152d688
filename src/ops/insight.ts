/**
 * What the data plane has seen, as reports: traffic counters per interface (`pathwise stats`),
 * the busiest flows, talkers, histograms and table pressure (`pathwise flows …`). The same for
 * the CLI run locally and for the REST API: plain JSON from one read of the maps.
 */
import type { Dataplane, InterfaceStats } from '../dataplane/dataplane.js';
import { insightSummary, readFlows, type InsightSummary } from '../dataplane/insight-tables.js';
import type { PipelineSettings } from '../dataplane/pipeline.js';
import type { FlowRecord, FlowSort, Talker, TalkerBy } from '../insight/flow-table.js';

export interface FlowsReport {
  /** Flows in the table. */
  total: number;
  sort: FlowSort;
  flows: (FlowRecord & { prefix: string | null })[];
}

export function flowsReport(dp: Dataplane, q: { top?: number; sort?: FlowSort } = {}): FlowsReport {
  const snap = readFlows(dp.pipeline.maps);
  const sort = q.sort ?? 'bytes';
  const flows = snap.top(q.top ?? 20, sort).map((f) => ({ ...f, prefix: snap.prefixOf(f) }));
  return { total: snap.count, sort, flows };
}

export interface TalkersReport {
  total: number;
  by: TalkerBy;
  talkers: Talker[];
}

export function talkersReport(dp: Dataplane, q: { by?: TalkerBy; top?: number } = {}): TalkersReport {
  const snap = readFlows(dp.pipeline.maps);
  const by = q.by ?? 'src';
  return { total: snap.count, by, talkers: snap.talkers(by, q.top ?? 10) };
}

export type SummaryReport = InsightSummary;

export function summaryReport(dp: Dataplane): SummaryReport {
  return insightSummary(dp.pipeline.maps);
}

export interface StatsReport {
  instance: string;
  settings: PipelineSettings;
  attached: { name: string; ifindex: number; mode: string }[];
  routes: Dataplane['routes']['counts'];
  nexthops: Dataplane['nexthops']['counts'];
  interfaces: InterfaceStats[];
}

/** Settings, attachments, table use and interface counters: what `pathwise stats` prints. */
export function statsReport(dp: Dataplane): StatsReport {
  return {
    instance: dp.instance,
    settings: dp.pipeline.settings,
    attached: dp.attached(),
    routes: dp.routes.counts,
    nexthops: dp.nexthops.counts,
    interfaces: dp.interfaceStats(),
  };
}
