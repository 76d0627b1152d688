/**
 * What the pipeline counts besides flows: the packet-size and protocol histograms, the flow
 * table's pressure and evictions, and the ring buffers' sent and lost records.
 */
import type { PipelineMaps } from '../dataplane/pipeline.js';
import * as abi from '../generated/pathwise.js';
import { protocolName, SIZE_BUCKETS } from './names.js';

export interface RingCounters {
  eventsSent: number;
  eventsLost: number;
  captureSent: number;
  captureLost: number;
}

export interface FlowTablePressure {
  entries: number;
  max: number;
  /** Flows the pipeline created since it was loaded. */
  created: number;
  /** Created flows no longer in the table: the LRU evicted them (the control plane deletes none). */
  evicted: number;
  /** New flows the table refused. */
  insertFailed: number;
}

export interface InsightSummary {
  sizes: { bucket: string; packets: number }[];
  protocols: { proto: string; packets: number }[];
  flowTable: FlowTablePressure;
  rings: RingCounters;
}

const sum = <T>(per: T[] | undefined, pick: (v: T) => bigint) => Number((per ?? []).reduce((a, v) => a + pick(v), 0n));

export function ringCounters(maps: PipelineMaps): RingCounters {
  const per = maps.ringStats.get(0);
  return {
    eventsSent: sum(per, (v) => v.events_sent),
    eventsLost: sum(per, (v) => v.events_lost),
    captureSent: sum(per, (v) => v.capture_sent),
    captureLost: sum(per, (v) => v.capture_lost),
  };
}

/** `entries` is the flow count if the caller has it (a snapshot), else it is counted here. */
export function flowTablePressure(maps: PipelineMaps, entries?: number): FlowTablePressure {
  if (entries === undefined) {
    entries = 0;
    for (const page of maps.flows.lookupBatchRaw(65536)) entries += page.count;
  }
  const per = maps.flowStats.get(0);
  const created = sum(per, (v) => v.created);
  return {
    entries,
    max: maps.flows.info.maxEntries,
    created,
    evicted: Math.max(0, created - entries),
    insertFailed: sum(per, (v) => v.insert_failed),
  };
}

export function insightSummary(maps: PipelineMaps, flowEntries?: number): InsightSummary {
  const per = maps.histogram.get(0) ?? [];
  const sizes = SIZE_BUCKETS.map((bucket, i) => ({ bucket, packets: sum(per, (h) => h.size[i]!) }));
  const protocols: { proto: string; packets: number }[] = [];
  for (let p = 0; p < 256; p++) {
    const packets = sum(per, (h) => h.proto[p]!);
    if (packets) protocols.push({ proto: protocolName(p), packets });
  }
  protocols.sort((a, b) => b.packets - a.packets);
  return { sizes, protocols, flowTable: flowTablePressure(maps, flowEntries), rings: ringCounters(maps) };
}

export interface EventsControl {
  /** Send 1 packet in N as an event; 0: none. */
  sampleRate: number;
  /** Send every dropped packet as an event. */
  drops: boolean;
}

/** Turns events on or off (takes effect with the next packet; no reload). */
export function setEventsControl(maps: PipelineMaps, ctl: EventsControl): void {
  maps.eventsCtl.set(0, { sample_rate: ctl.sampleRate, drops: ctl.drops ? 1 : 0 });
}

export function eventsControl(maps: PipelineMaps): EventsControl {
  const c = maps.eventsCtl.get(0) ?? abi.PwEventsCtl.zero();
  return { sampleRate: c.sample_rate, drops: c.drops !== 0 };
}
