/**
 * What the data plane has seen, as reports: traffic counters per interface (`pathwise stats`),
 * the busiest flows, talkers, histograms and table pressure (`pathwise flows …`). The same for
 * the CLI run locally and for the REST API: plain JSON from one read of the maps.
 */
import type { Dataplane, InterfaceStats } from '../dataplane/dataplane.js';
import { countFlows, insightSummary, readFlows, type InsightSummary } from '../dataplane/insight-tables.js';
import type { PipelineSettings } from '../dataplane/pipeline.js';
import type { FlowRecord, FlowSort, Talker, TalkerBy } from '../insight/flow-table.js';
import { backendKey, type ServiceSpec } from '../lb/service.js';
import { formatAddress } from '../util/ip.js';

export interface FlowsReport {
  /** Flows in the table. */
  total: number;
  sort: FlowSort;
  flows: (FlowRecord & { prefix: string | null; service?: string; backend?: string })[];
}

export async function flowsReport(dp: Dataplane, q: { top?: number; sort?: FlowSort } = {}): Promise<FlowsReport> {
  const snap = await readFlows(dp.pipeline);
  const sort = q.sort ?? 'bytes';
  const balanced = serviceOfFlow(dp.services.specs());
  const flows = (await snap.top(q.top ?? 20, sort)).map((f) => ({ ...f, prefix: snap.prefixOf(f), ...balanced(f) }));
  return { total: snap.count, sort, flows };
}

/**
 * The service (and backend) a flow belongs to. The flow table sees packets as they leave the
 * balance stage: a NAT connection as client → backend, and its replies as service → client
 * (translated back); a DSR connection as client → service.
 */
function serviceOfFlow(specs: ServiceSpec[]): (f: FlowRecord) => { service?: string; backend?: string } {
  const backends = new Map<string, { service: string; backend: string }>();
  const vips = new Map<string, string>();
  const key = (addr: string, port: number, proto: string) => `${addr}|${port}|${proto}`;
  for (const s of specs) {
    const vip = formatAddress(s.vip.family, s.vip.addr);
    vips.set(key(vip, s.vip.port, s.proto), s.name);
    for (const b of s.backends)
      if (s.mode === 'nat')
        backends.set(key(formatAddress(b.family, b.addr), b.port || s.vip.port, s.proto), { service: s.name, backend: backendKey(b) });
  }
  return (f) => {
    const to = backends.get(key(f.dst, f.dport, f.proto)) ?? backends.get(key(f.dst, 0, f.proto));
    if (to) return to;
    const service =
      vips.get(key(f.dst, f.dport, f.proto)) ??
      vips.get(key(f.dst, 0, f.proto)) ??
      vips.get(key(f.src, f.sport, f.proto)) ??
      vips.get(key(f.src, 0, f.proto));
    return service ? { service } : {};
  };
}

export interface TalkersReport {
  total: number;
  by: TalkerBy;
  talkers: Talker[];
}

export async function talkersReport(dp: Dataplane, q: { by?: TalkerBy; top?: number } = {}): Promise<TalkersReport> {
  const snap = await readFlows(dp.pipeline);
  const by = q.by ?? 'src';
  return { total: snap.count, by, talkers: await snap.talkers(by, q.top ?? 10) };
}

export type SummaryReport = InsightSummary;

export async function summaryReport(dp: Dataplane): Promise<SummaryReport> {
  return insightSummary(dp.pipeline.maps, await countFlows(dp.pipeline.maps));
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
