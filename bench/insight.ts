/**
 * Insight benchmarks, each side by side with its baseline in the same run:
 * - dumping a flow table of 1M flows: batch lookups (readFlows) vs the per-key
 *   get-next-key + lookup walk, and the top-20 report on the snapshot;
 * - events from the ring buffer into TypeScript: BPF_PROG_TEST_RUN makes the pipeline send
 *   one event per packet (sampling 1 in 1), two runs at a time off the JS thread, while the
 *   reader consumes; records delivered per second and records lost (counted by the producer)
 *   vs the rate produced;
 * - the pipeline's cost per packet with flow accounting off and on, and with sampling off,
 *   1 in 100, and 1 in 1; beside it, the floor of any flow table (bench_flow_floor: a clock
 *   read, one lookup in the pipeline's flow table definition, two atomic adds) over an empty
 *   program.
 */
import * as abi from '../src/generated/pathwise.js';
import type { BpfObject } from '../src/kernel/index.js';
import type { Dataplane } from '../src/dataplane/dataplane.js';
import { openEventRing, readFlows, ringCounters, setEventsControl } from '../src/dataplane/insight-tables.js';
import { native } from '../src/kernel/native.js';
import { monoNowNs } from '../src/util/clock.js';
import { ipv4Packet } from '../test/helpers/packets.js';

export interface InsightResults {
  flowDump: { flows: number; batchSeconds: number; perKeySeconds: number; topSeconds: number };
  events: {
    produced: number;
    delivered: number;
    lost: number;
    producedPerSecond: number;
    deliveredPerSecond: number;
    /** The reader alone: a full ring drained, events per second (from 2026-12-02). */
    readerPerSecond?: number;
    readerEvents?: number;
    /** The packet's length: its event record's size follows from it (insight.bpf.h). */
    packetBytes?: number;
    /** The stages the producing pipeline ran besides parse, route and events (from
     * 2026-12-02 none: the full pipeline produced ~1.7 M/s, below the rate to show). */
    producerStages?: string;
    /** Test runs producing at once, each on its own thread (from 2026-12-05 two, one per core;
     * before, one at a time, whose rate bounded what the reader was given). */
    producers?: number;
  };
  perPacket: { noFlowsNs: number; flowsNs: number; sample100Ns: number; sample1Ns: number; emptyNs?: number; flowFloorNs?: number };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/** Rounds of each per-packet variant (interleaved). */
const ROUNDS = 15;

/**
 * Fills pw_flows with `n` distinct flows (batch updates), as the pipeline would lay them out,
 * each last seen at `atNs` (CLOCK_MONOTONIC).
 */
export function fillFlows(dp: Dataplane, n: number, atNs = monoNowNs()): void {
  const K = abi.PwFlowKey;
  const V = abi.PwFlow;
  const keys = Buffer.alloc(n * K.size);
  const values = Buffer.alloc(n * V.size);
  const now = atNs;
  for (let i = 0; i < n; i++) {
    const k = i * K.size;
    keys.writeUInt32BE(0x0a000000 + (i >>> 8), k + K.offsets.src);
    keys.writeUInt32BE(0xc0a80000 + (i & 0xff), k + K.offsets.dst);
    keys.writeUInt16BE(1024 + (i % 60000), k + K.offsets.sport);
    keys.writeUInt16BE(443, k + K.offsets.dport);
    keys.writeUInt8(6, k + K.offsets.proto);
    keys.writeUInt8(4, k + K.offsets.family);
    const v = i * V.size;
    values.writeBigUInt64LE(BigInt(1 + (i % 1000)), v + V.offsets.packets);
    values.writeBigUInt64LE(BigInt(1500 * (1 + (i % 1000))), v + V.offsets.bytes);
    values.writeBigUInt64LE(now, v + V.offsets.first_ns);
    values.writeBigUInt64LE(now, v + V.offsets.last_ns);
  }
  dp.pipeline.maps.flows.updateBatchRaw(keys, values, n);
}

/**
 * `bench` is bench/progs/bench.bpf.o loaded with bench_empty and bench_flow_floor. `open`
 * loads a pipeline instance that the caller takes down afterwards.
 */
export async function insightBench(
  open: (name: string, settings?: object) => Promise<Dataplane>,
  bench: BpfObject,
  prefix: string,
  log: (s: string) => void,
): Promise<InsightResults> {
  // ---- flow dump ------------------------------------------------------------------------
  const dump = await open(`${prefix}flows`);
  log('filling the flow table with 1,000,000 flows');
  fillFlows(dump, 1_000_000);
  let t0 = performance.now();
  const snap = await readFlows(dump.pipeline);
  const batchSeconds = (performance.now() - t0) / 1000;
  t0 = performance.now();
  await snap.top(20, 'bytes');
  const topSeconds = (performance.now() - t0) / 1000;
  log(`batch dump: ${snap.count} flows in ${batchSeconds.toFixed(3)} s; walking them key by key`);
  t0 = performance.now();
  const fd = dump.pipeline.maps.flows.fd;
  const value = Buffer.alloc(abi.PwFlow.size);
  let key: Buffer | null = null;
  let walked = 0;
  for (let next = Buffer.alloc(abi.PwFlowKey.size); native().mapGetNextKey(fd, key, next); next = Buffer.alloc(abi.PwFlowKey.size)) {
    native().mapLookup(fd, next, value);
    key = next;
    walked++;
  }
  const perKeySeconds = (performance.now() - t0) / 1000;
  if (walked !== snap.count) log(`note: the walk saw ${walked} flows, the batch ${snap.count}`);

  // ---- per-packet cost, and events -------------------------------------------------------
  const dp = await open(`${prefix}ins`);
  const pkt = ipv4Packet({ src: '198.51.100.7', dst: '203.0.113.9', proto: 'tcp', sport: 40000, dport: 443, tcpFlags: 0x10 });
  const repeat = 200_000;
  // The same pipeline loaded without flow accounting (settings are load-time constants).
  const noFlows = await open(`${prefix}nofl`, { flows: false });
  // Rounds on this kind of VM spread by tens of ns: every variant runs once per round, in
  // turn, so that drift hits them alike, and each figure is the median of its rounds.
  const sampling = (sampleRate: number) => () => setEventsControl(dp.pipeline.maps, { sampleRate, drops: false });
  const variants: { name: keyof InsightResults['perPacket']; before?: () => void; run: () => number }[] = [
    { name: 'noFlowsNs', run: () => noFlows.pipeline.xdp.testRunSync({ data: pkt, repeat }).duration },
    { name: 'flowsNs', before: sampling(0), run: () => dp.pipeline.xdp.testRunSync({ data: pkt, repeat }).duration },
    { name: 'sample100Ns', before: sampling(100), run: () => dp.pipeline.xdp.testRunSync({ data: pkt, repeat }).duration },
    { name: 'sample1Ns', before: sampling(1), run: () => dp.pipeline.xdp.testRunSync({ data: pkt, repeat }).duration },
    { name: 'emptyNs', run: () => bench.program('bench_empty').testRunSync({ data: pkt, repeat }).duration },
    { name: 'flowFloorNs', run: () => bench.program('bench_flow_floor').testRunSync({ data: pkt, repeat }).duration },
  ];
  const rounds = new Map(variants.map((v) => [v.name, [] as number[]]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const v of variants) {
      v.before?.();
      rounds.get(v.name)!.push(v.run());
    }
  }
  const [noFlowsNs, flowsNs, sample100Ns, sample1Ns, emptyNs, flowFloorNs] = variants.map((v) => median(rounds.get(v.name)!));
  setEventsControl(dp.pipeline.maps, { sampleRate: 1, drops: false });

  // Events into TypeScript: the ring is read while test runs (off the JS thread) fill it. The
  // producer is the pipeline without the guard, flows and route counters: with them it makes
  // fewer events per second than the reader is to show it takes (the reader's work per event
  // is the same either way).
  const producer = await open(`${prefix}evt`, { flows: false, filter: false, routeStats: false });
  setEventsControl(producer.pipeline.maps, { sampleRate: 1, drops: false });
  const ring = openEventRing(producer.pipeline.instance);
  for (const _ of ring.takeAll()) void _; // what the per-packet runs left
  const before = ringCounters(producer.pipeline.maps);
  let delivered = 0;
  const batches = 20;
  const perBatch = 100_000;
  const PRODUCERS = 2;
  // 1 in 1: every packet of the test runs is an event.
  t0 = performance.now();
  let produceMs = 0;
  // A batch at a time, as the daemon's readers take them (no promise per event).
  let lastDelivery = performance.now();
  ring.onRecords((records) => {
    delivered += records.length;
    lastDelivery = performance.now();
  });
  // Two test runs at a time, each on a thread of libuv's pool: events come from both cores, as
  // from a router's CPUs under load, and the reader (this thread) shares the cores with them.
  for (let b = 0; b < batches; b += PRODUCERS) {
    const s = performance.now();
    await Promise.all(
      Array.from({ length: Math.min(PRODUCERS, batches - b) }, () => producer.pipeline.xdp.testRun({ data: pkt, repeat: perBatch })),
    );
    produceMs += performance.now() - s;
  }
  // Let the reader catch up with what the ring still holds.
  for (let idle = 0; idle < 20;) {
    const had = delivered;
    await new Promise((r) => setTimeout(r, 50));
    idle = delivered === had ? idle + 1 : 0;
  }
  // Up to the last delivery: the idle wait that confirmed the end is not reading time.
  const elapsed = (lastDelivery - t0) / 1000;
  ring.close();
  const after = ringCounters(producer.pipeline.maps);

  // The reader alone (the rate above is bounded by the producer as much): the ring filled while
  // nobody reads it (what does not fit is lost, counted), then a reader opened on it drains it
  // at once, timed; 20 rounds.
  let readerEvents = 0;
  let readerMs = 0;
  for (let round = 0; round < 20; round++) {
    producer.pipeline.xdp.testRunSync({ data: pkt, repeat: 60_000 }); // more than the 4 MiB ring holds
    const reader = openEventRing(producer.pipeline.instance);
    let got = 0;
    reader.onRecords((records) => (got += records.length));
    const s = performance.now();
    reader.drain();
    readerMs += performance.now() - s;
    readerEvents += got;
    reader.close();
  }
  dump.close();
  producer.close();
  noFlows.close();
  dp.close();
  const produced = batches * perBatch;
  return {
    flowDump: { flows: snap.count, batchSeconds, perKeySeconds, topSeconds },
    events: {
      produced,
      delivered,
      lost: Number(after.eventsLost - before.eventsLost),
      producedPerSecond: produced / (produceMs / 1000),
      deliveredPerSecond: delivered / elapsed,
      readerPerSecond: readerEvents / (readerMs / 1000),
      readerEvents,
      packetBytes: pkt.length,
      producerStages: 'none (no guard, flows or route counters)',
      producers: PRODUCERS,
    },
    perPacket: { noFlowsNs: noFlowsNs!, flowsNs: flowsNs!, sample100Ns: sample100Ns!, sample1Ns: sample1Ns!, emptyNs, flowFloorNs },
  };
}
