/**
 * What /metrics exports, read from the data plane at scrape time: plain numbers per interface,
 * route, rule and map. Cardinality is the caller's concern (api/metrics.ts keeps the busiest).
 */
import type { Dataplane, InterfaceStats } from '../dataplane/dataplane.js';
import { insightSummary, type InsightSummary } from '../dataplane/insight-tables.js';

export const interfaceStats = (dp: Dataplane): InterfaceStats[] => dp.interfaceStats();

/** Packets forwarded by the `n` busiest routes (by prefix), and by all the others together. A
 * counter whose route is gone (its id not reused yet) counts among the others. */
export async function routeTraffic(
  dp: Dataplane,
  n: number,
): Promise<{ top: { prefix: string; packets: number }[]; otherPackets: number }> {
  const { top, otherPackets } = await dp.busiestRoutes(n);
  const named: { prefix: string; packets: number }[] = [];
  let other = otherPackets;
  for (const { id, packets } of top) {
    const r = dp.routes.byId(id);
    if (r) named.push({ prefix: dp.view(r).prefix, packets });
    else other += packets;
  }
  return { top: named, otherPackets: other };
}

/** Packets matched per rule, busiest first. */
export function ruleTraffic(dp: Dataplane): { id: number; action: string | null; packets: number }[] {
  const rules = new Map(dp.filter.rules().map((r) => [r.id, r]));
  return [...dp.filter.ruleCounters()]
    .sort((a, b) => b[1].packets - a[1].packets)
    .map(([id, c]) => ({ id, action: rules.get(id)?.action ?? null, packets: c.packets }));
}

/** Entries and capacity of every map. */
export const mapPressure = (dp: Dataplane) => dp.mapPressure();

export const insightCounters = (dp: Dataplane, flowEntries: number): InsightSummary => insightSummary(dp.pipeline.maps, flowEntries);

/** The program that runs, and how it was loaded. */
export function pipelineInfo(dp: Dataplane): { progId: number; fib: string; objectHash: string | null; attached: number } {
  return {
    progId: dp.pipeline.xdp.info().id,
    fib: dp.pipeline.settings.fib,
    objectHash: dp.pipeline.loadedHash,
    attached: dp.attached().length,
  };
}

/** Routes by origin: the user's, the host's own, and those imported from the kernel's tables. */
export function routeCounts(dp: Dataplane): { user: number; kernel: number; imported: number } {
  const kernel = dp.routes.systemCount;
  const imported = dp.routes.importedRouteCount;
  return { user: dp.routes.size - kernel - imported, kernel, imported };
}
