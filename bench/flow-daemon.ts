/**
 * The daemon over a full flow table (`make bench-flows`, and part of `make bench`): a million
 * flows in pw_flows, all idle (so IPFIX's first pass reports them all), and the daemon's API
 * asked for its status every 100 ms, side by side in one run:
 *
 *  - baseline: IPFIX and anomaly detection off (nothing walks the table);
 *  - walked: IPFIX to nfcapd (a pass every 7.5 s) and the flow detectors on (a look every 5 s).
 *
 * Reported: the status requests' latency (p50, p99, max), the daemon's CPU share, and the
 * records nfcapd received of those the daemon sent. The same daemon restarts between the two
 * (the table is pinned and stays as it was filled).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Dataplane } from '../src/dataplane/dataplane.js';
import { monoNowNs } from '../src/util/clock.js';
import { request, socketOf, startDaemon, stopDaemon, type RunningDaemon } from '../test/helpers/daemon.js';
import { startNfcapd } from '../test/helpers/nfdump.js';
import type { Topology } from '../test/helpers/topology.js';
import { fillFlows } from './insight.js';
import { processCpuSeconds } from './cpu-times.js';

const FLOWS = 1_000_000;
const SAMPLE_SECONDS = 40;
const COLLECTOR_PORT = 9995;

export interface FlowDaemonPhase {
  requests: number;
  latencyMs: { p50: number; p99: number; max: number };
  /** The daemon's CPU time over the sampling, as a share of one core. */
  cpuShare: number;
}

export interface FlowDaemonResults {
  flows: number;
  seconds: number;
  baseline: FlowDaemonPhase;
  walked: FlowDaemonPhase & { recordsSent: number; recordsReceived: number; sequenceErrors: number };
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Asks for the status every 100 ms for `seconds`, timing each answer, and the daemon's CPU meanwhile. */
async function sample(instance: string, d: RunningDaemon, seconds: number): Promise<FlowDaemonPhase> {
  const latencies: number[] = [];
  const cpu0 = processCpuSeconds(d.child.pid!);
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    const started = performance.now();
    const r = await request({ socketPath: socketOf(instance) }, 'GET', '/v1/status');
    if (r.status !== 200) throw new Error(`GET /v1/status: ${r.status} ${r.text}`);
    latencies.push(performance.now() - started);
    await sleep(100);
  }
  const wall = (performance.now() - t0) / 1000;
  return {
    requests: latencies.length,
    latencyMs: { p50: pct(latencies, 0.5), p99: pct(latencies, 0.99), max: Math.max(...latencies) },
    cpuShare: (processCpuSeconds(d.child.pid!) - cpu0) / wall,
  };
}

const metric = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);

export async function flowDaemonBench(topo: Topology, log: (s: string) => void): Promise<FlowDaemonResults> {
  const ns = topo.addNamespace('F');
  const instance = topo.name('fd');
  topo.recordInstance(instance);
  const dir = mkdtempSync(join(tmpdir(), 'pw-flowd-'));
  let daemon: RunningDaemon | undefined;
  try {
    const base = `instance: ${instance}\n`;
    writeFileSync(join(dir, 'baseline.yaml'), base);
    writeFileSync(
      join(dir, 'walked.yaml'),
      `${base}insight: { ipfix: { collectors: [ { host: 127.0.0.1, port: ${COLLECTOR_PORT} } ] } }\nanomalies: { enabled: true, interval: 5s }\n`,
    );
    daemon = await startDaemon(ns, join(dir, 'baseline.yaml'), join(dir, 'state'));
    log(`flow daemon: filling the flow table with ${FLOWS.toLocaleString('en')} flows, idle for 20 s`);
    const dp = await Dataplane.open(instance, {}, { create: false });
    try {
      fillFlows(dp, FLOWS, monoNowNs() - 20_000_000_000n);
    } finally {
      dp.close();
    }
    log(`flow daemon: baseline (IPFIX and anomalies off), ${SAMPLE_SECONDS} s`);
    const baseline = await sample(instance, daemon, SAMPLE_SECONDS);
    await stopDaemon(daemon);

    const nfcapd = await startNfcapd(topo, ns, join(dir, 'nf'), COLLECTOR_PORT);
    daemon = await startDaemon(ns, join(dir, 'walked.yaml'), join(dir, 'state'));
    log(`flow daemon: IPFIX to nfcapd and the flow detectors on, ${SAMPLE_SECONDS} s`);
    const walked = await sample(instance, daemon, SAMPLE_SECONDS);
    const metrics = (await request({ socketPath: socketOf(instance) }, 'GET', '/metrics')).text;
    await stopDaemon(daemon);
    daemon = undefined;
    const nfLog = await nfcapd.stop();
    // nfcapd's summary at exit: "Ident: 'none' Flows: N, ..., Sequence Errors: M, ..." per file.
    const totals = [...nfLog.matchAll(/Flows: (\d+),.*Sequence Errors: (\d+)/g)].map((m) => [Number(m[1]), Number(m[2])] as const);
    return {
      flows: FLOWS,
      seconds: SAMPLE_SECONDS,
      baseline,
      walked: {
        ...walked,
        recordsSent: metric(metrics, 'pathwise_ipfix_records_total'),
        recordsReceived: totals.reduce((n, [f]) => n + f, 0),
        sequenceErrors: totals.reduce((n, [, e]) => n + e, 0),
      },
    };
  } finally {
    await stopDaemon(daemon);
    rmSync(dir, { recursive: true, force: true });
  }
}

export function flowDaemonReport(r: FlowDaemonResults, date?: string): string {
  const f = (n: number, d = 0) => n.toFixed(d);
  const row = (name: string, p: FlowDaemonPhase) =>
    `| ${name} | ${p.requests} | ${f(p.latencyMs.p50, 1)} | ${f(p.latencyMs.p99, 1)} | ${f(p.latencyMs.max, 1)} | ${f(p.cpuShare * 100)} % |`;
  const w = r.walked;
  return `## The daemon over a full flow table${date ? ` (make bench-flows, ${date.slice(0, 10)})` : ''}

${r.flows.toLocaleString('en')} flows in the table, idle (IPFIX's first pass reports them all). \`GET /v1/status\`
every 100 ms for ${r.seconds} s, first with nothing walking the table (baseline), then with IPFIX to
nfcapd (a pass every 7.5 s) and the flow detectors (a look every 5 s) on. The table is read on a
worker thread, and the walks over it give the event loop a turn every 10 ms (src/util/turn.ts):
a request waits for the turn in progress.

| daemon | requests | p50 (ms) | p99 (ms) | max (ms) | CPU (of a core) |
| --- | ---: | ---: | ---: | ---: | ---: |
${row('baseline: IPFIX and anomalies off', r.baseline)}
${row('IPFIX and flow detectors on', w)}

IPFIX records sent ${w.recordsSent.toLocaleString('en')}, received by nfcapd ${w.recordsReceived.toLocaleString('en')}
(${f((100 * w.recordsReceived) / Math.max(1, w.recordsSent), 1)} %; its sequence errors: ${w.sequenceErrors}): UDP has no flow control, and the
collector runs on the same machine.

`;
}
