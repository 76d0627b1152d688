/**
 * The insight stage's tables, read and controlled: the flow table as a snapshot, the
 * packet-size and protocol histograms, the flow table's pressure and evictions, the ring
 * buffers' sent and lost records, the event ring and the event controls.
 */
import { join } from 'node:path';

import { ifNameCache, openPinned, RingBufferReader } from '../kernel/index.js';
import { decodeEvent, type PacketEvent } from '../insight/events.js';
import { FlowSnapshot } from '../insight/flow-table.js';
import { formatAddress } from '../util/ip.js';
import { monoNowNs, monoToEpochOffsetNs } from '../util/clock.js';
import { pinDirOf } from '../util/instance.js';
import type { Pipeline, PipelineMaps } from './pipeline.js';
import { switchFeature } from './feature-bytes.js';
import * as abi from '../generated/pathwise.js';
import { protocolName, SIZE_BUCKETS } from '../insight/names.js';

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

export function ringCounters(maps: Pick<PipelineMaps, 'ringStats'>): RingCounters {
  const per = maps.ringStats.get(0);
  return {
    eventsSent: sum(per, (v) => v.events_sent),
    eventsLost: sum(per, (v) => v.events_lost),
    captureSent: sum(per, (v) => v.capture_sent),
    captureLost: sum(per, (v) => v.capture_lost),
  };
}

/** The flow table's pressure, `entries` counted by the caller (countFlows, a snapshot, or a sample). */
export function flowTablePressure(maps: PipelineMaps, entries: number): FlowTablePressure {
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

/**
 * The flows in the table, counted exactly, each batch read on a worker thread: a million take
 * the kernel ~0.35 s to copy out, which held the event loop as long when read on it.
 */
export async function countFlows(maps: PipelineMaps): Promise<number> {
  let entries = 0;
  for await (const page of maps.flows.entriesRawAsync(65536)) entries += page.count;
  return entries;
}

export function insightSummary(maps: PipelineMaps, flowEntries: number): InsightSummary {
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
  switchFeature(maps, abi.PwFeature.EVENTS, ctl.sampleRate > 0 || ctl.drops, () =>
    maps.eventsCtl.set(0, { sample_rate: ctl.sampleRate, drops: ctl.drops ? 1 : 0 }),
  );
}

export function eventsControl(maps: PipelineMaps): EventsControl {
  const c = maps.eventsCtl.get(0) ?? abi.PwEventsCtl.zero();
  return { sampleRate: c.sample_rate, drops: c.drops !== 0 };
}

/** A frame for pw_xdp_flush's test runs: the program reads no packet, the kernel wants one. */
const FLUSH_FRAME = new Uint8Array(64);

/**
 * Moves every CPU's flow cache into the flow table: the pipeline counts a flow's common packet
 * in a per-CPU slot (account.bpf.h), so the table alone lags by what the slots hold. Runs
 * pw_xdp_flush on each CPU; a CPU this process may not run on keeps its slots' packets until
 * another flow takes the slot, and is returned.
 */
export function flushFlowCache(pipeline: Pick<Pipeline, 'flush'>): { skippedCpus: number[] } {
  if (!pipeline.flush) return { skippedCpus: [] };
  return { skippedCpus: pipeline.flush.testRunOnCpus({ data: FLUSH_FRAME }).skipped };
}

/** Reads the whole flow table with batch lookups, as one snapshot, the flow cache flushed first. */
export async function readFlows(pipeline: Pick<Pipeline, 'maps' | 'flush'>, chunk = 65536): Promise<FlowSnapshot> {
  const maps = pipeline.maps;
  flushFlowCache(pipeline);
  const { keys, values, count } = await maps.flows.readAllRaw(chunk);
  const prefixes = new Map<number, string | null>();
  const routePrefix = (id: number) => {
    let p = prefixes.get(id);
    if (p === undefined) {
      const r = maps.routes.get(id);
      p = r && r.flags & abi.PwRouteFlag.VALID ? `${formatAddress(r.family === 6 ? 6 : 4, r.prefix)}/${r.plen}` : null;
      prefixes.set(id, p);
    }
    return p;
  };
  // Names as the snapshot is taken: a table of a million flows names its interfaces once each.
  return new FlowSnapshot(keys, values, count, Number(monoNowNs()), { ifName: ifNameCache(Infinity), routePrefix });
}

/** Reads the instance's event ring (only one reader should: records go to whoever reads first). */
export function openEventRing(instance: string): RingBufferReader {
  return new RingBufferReader(openPinned(join(pinDirOf(instance), abi.maps.pw_events.name), 'map'), { drainMs: abi.PwLimit.RING_DRAIN_MS });
}

/**
 * A decoder of the event ring's records, naming interfaces in this thread's namespace; each
 * reader makes its own, which keeps names for a second (thousands of drop events a second in
 * a flood).
 */
export function eventDecoder(): (rec: Buffer) => PacketEvent {
  const names = ifNameCache(1000);
  // The clock offset checked for a step of the wall clock every 100 ms, not at every event.
  let offsetNs = 0n;
  let offsetAt = -Infinity;
  return (rec) => {
    const now = Date.now();
    if (now - offsetAt >= 100 || now < offsetAt) {
      offsetNs = monoToEpochOffsetNs();
      offsetAt = now;
    }
    return decodeEvent(rec, names, offsetNs);
  };
}
