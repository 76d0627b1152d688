/**
 * The insight reports, the same for `pathwise flows …` run locally and for the REST API: each
 * is plain JSON computed from one read of the maps.
 */
import type { PipelineMaps } from '../dataplane/pipeline.js';
import { FlowSnapshot, type FlowRecord, type FlowSort, type Talker, type TalkerBy } from './flow-table.js';
import { insightSummary, type InsightSummary } from './summary.js';

export interface FlowsReport {
  /** Flows in the table. */
  total: number;
  sort: FlowSort;
  flows: (FlowRecord & { prefix: string | null })[];
}

export function flowsReport(maps: PipelineMaps, q: { top?: number; sort?: FlowSort } = {}): FlowsReport {
  const snap = FlowSnapshot.read(maps);
  const sort = q.sort ?? 'bytes';
  const flows = snap.top(q.top ?? 20, sort).map((f) => ({ ...f, prefix: snap.prefixOf(f) }));
  return { total: snap.count, sort, flows };
}

export interface TalkersReport {
  total: number;
  by: TalkerBy;
  talkers: Talker[];
}

export function talkersReport(maps: PipelineMaps, q: { by?: TalkerBy; top?: number } = {}): TalkersReport {
  const snap = FlowSnapshot.read(maps);
  const by = q.by ?? 'src';
  return { total: snap.count, by, talkers: snap.talkers(by, q.top ?? 10) };
}

export function summaryReport(maps: PipelineMaps): InsightSummary {
  return insightSummary(maps);
}
