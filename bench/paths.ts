/**
 * Path selection under impairment, in the path lab (src/netlab/path-lab.ts): the daemon steers a
 * route over two paths through link emulators, policy lowest-latency, defaults (100 ms ICMP
 * probes, 3 lost for down, margins 10 % / 1 ms / 1.5 x noise, hold 500 ms). A client sends
 * UDP at 1,000 pps stamped with its clock; the server tells which path each datagram took.
 *
 * - latency step: +50 ms one way on the path in use; the time until >= 99 % of new packets
 *   take the other path (netlab failoverMs), over RUNS steps;
 * - path death: 100 % loss on the path in use; the same, lost packets counted as not moved;
 * - jitter: both paths 20 +- 4 ms (uniform) for JITTER_SECONDS: decisions counted;
 * - probing cost: the daemon's CPU time with 64 probed paths (4 groups of 16 gateways) beside
 *   the same daemon with none, 45 s each after 45 s of warm-up, plus the router's kernel
 *   receiving the replies (each veth end gets a NAPI thread, as a NIC's softirq).
 *
 * BFD's default detection (3 x 300 ms = 900 ms) and Envoy's outlier sweep (10 s) are the
 * figures the issue names; they are configuration defaults from their documentation, not
 * measured here.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { buildPathLab, failoverMs, pathLabConfig, PathTraffic, type PathLab } from '../src/netlab/path-lab.js';
import { cli, request, socketOf, startDaemon, stopDaemon, type RunningDaemon } from '../test/helpers/daemon.js';
import type { Topology } from '../test/helpers/topology.js';

export interface PathResults {
  latencyStepMs: number[];
  deathMs: number[];
  jitter: { seconds: number; decisions: number };
  probeCost: {
    paths: number;
    seconds: number;
    /** The daemon with the paths probed, and without any (% of one core). */
    cpuWithPercent: number;
    cpuWithoutPercent: number;
    /** Of cpuWithPercent: the probe thread's share (building, sending and reading). */
    proberThreadPercent: number;
    /** The router's kernel receiving the replies (its NAPI thread), over the same without probes. */
    routerRxPercent?: number;
    /** The gateways answering (their NAPI thread): another machine's work on a real network. */
    gatewaysPercent?: number;
    /** The baseline: one `ping -i 0.1` per gateway, the same probes from 64 processes (% of one core, all of them). */
    pingPercent: number;
    pingRouterRxPercent?: number;
    pingGatewaysPercent?: number;
    warmupSeconds?: number;
  };
}

const RUNS = Number(process.env.BENCH_PATH_RUNS ?? 20);
/** How long each CPU figure is taken over, after how long a warm-up. */
const SECONDS = 45;
const WARMUP_SECONDS = 45;
const JITTER_SECONDS = Number(process.env.BENCH_JITTER_SECONDS ?? 300);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface PathRow {
  state: string;
  share: number;
  srtt: number | null;
}
interface GroupRow {
  active: string;
  decisions: number;
  paths: PathRow[];
}

export async function pathsBench(topo: Topology, log: (s: string) => void): Promise<PathResults> {
  const lab = await buildPathLab(topo);
  const instance = topo.prefix;
  topo.recordInstance(instance);
  const dir = mkdtempSync(join(tmpdir(), 'pw-bench-paths-'));
  const config = join(dir, 'pathwise.yaml');
  writeFileSync(config, pathLabConfig(lab, instance));
  let daemon: RunningDaemon | undefined;
  let traffic: PathTraffic | undefined;
  const groups = async () => (await request({ socketPath: socketOf(instance) }, 'GET', '/v1/paths')).json as GroupRow[];
  const until = async (cond: (g: GroupRow[]) => boolean, ms = 60_000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const g = await groups();
      if (cond(g)) return g;
      if (Date.now() > deadline) throw new Error(`paths bench: a state not reached within ${ms} ms: ${JSON.stringify(g)}`);
      await sleep(20);
    }
  };
  const active = async () => ((await groups())[0]!.paths[0]!.share === 1 ? 0 : 1);
  try {
    daemon = await startDaemon(lab.router, config, join(dir, 'state'));
    await until((g) => g[0]?.paths.every((p) => p.srtt !== null && p.state === 'up') ?? false);
    traffic = await PathTraffic.start(topo, lab);
    await sleep(500);

    const measure = async (impair: (k: 0 | 1) => Promise<void>, restore: (k: 0 | 1) => Promise<void>, what: string) => {
      const out: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const k = await active();
        const other = (1 - k) as 0 | 1;
        // The other path must be up (damping may hold it down after earlier falls).
        await until((g) => g[0]!.paths[other]!.state === 'up', 120_000);
        await traffic!.dump();
        const step = PathTraffic.now();
        await impair(k);
        await until((g) => g[0]!.paths[other]!.share === 1, 10_000);
        await sleep(700);
        const ms = failoverMs(await traffic!.dump(), step, (other + 1) as 1 | 2);
        out.push(ms);
        log(`  ${what} ${i + 1}/${RUNS}: ${ms.toFixed(0)} ms`);
        await restore(k);
        await until((g) => (g[0]!.paths[k]!.srtt ?? 99) < 5 && g[0]!.paths[k]!.state !== 'down', 120_000);
      }
      return out;
    };
    log('latency steps (+50 ms on the path in use)');
    const latencyStepMs = await measure(
      (k) => lab.links[k].set('a2b', { delay: 50 }),
      (k) => lab.links[k].set('a2b', { delay: 0 }),
      'step',
    );
    log('path deaths (100 % loss on the path in use)');
    const deathMs = await measure(
      (k) => lab.links[k].set('a2b', { loss: 100 }),
      (k) => lab.links[k].set('a2b', { loss: 0 }),
      'death',
    );

    log(`jitter: both paths 20 +- 4 ms for ${JITTER_SECONDS} s`);
    for (const l of lab.links) await l.set('a2b', { delay: 20, jitter: 4 });
    await until((g) => g[0]!.paths.every((p) => Math.abs((p.srtt ?? 0) - 20) < 3), 30_000);
    const before = (await groups())[0]!.decisions;
    await sleep(JITTER_SECONDS * 1000);
    const decisions = (await groups())[0]!.decisions - before;
    for (const l of lab.links) await l.set('a2b', { delay: 0, jitter: 0 });
    await traffic.stop();
    traffic = undefined;
    await stopDaemon(daemon);
    daemon = undefined;

    log('probing cost: 64 paths beside none');
    const probeCost = await probingCost(topo, lab, instance, dir);
    return { latencyStepMs, deathMs, jitter: { seconds: JITTER_SECONDS, decisions }, probeCost };
  } finally {
    await traffic?.stop().catch(() => undefined);
    await stopDaemon(daemon);
    cli(['--netns', lab.router, 'down', '--instance', instance]);
    for (const l of lab.links) await l.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * CPU time (s) of a process's threads so far, by thread name: the scheduler's own sum
 * (/proc/.../schedstat), exact for a thread that runs in short bursts, where the tick-sampled
 * utime/stime miss most of them.
 */
function threadCpu(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    let name: string, ns: number;
    try {
      name = readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim();
      ns = Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      continue; // the thread ended
    }
    out.set(name, (out.get(name) ?? 0) + ns / 1e9);
  }
  return out;
}

const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

/**
 * Gives veth `dev` in `ns` a NAPI thread of its own (GRO on, TSO off so that frames qualify,
 * threaded NAPI): what it receives is then processed in that kernel thread, as a NIC's
 * softirq would be, instead of in the softirq of whoever sent the frame. Returns the thread's
 * CPU time so far (s).
 */
function ownNapiThread(topo: Topology, ns: string, dev: string): () => number {
  topo.exec(ns, 'ethtool', ['-K', dev, 'gro', 'on', 'tso', 'off']);
  topo.exec(ns, 'sh', ['-c', `echo 1 > /sys/class/net/${dev}/threaded`]);
  const comm = `napi/${dev}-`.slice(0, 15); // kernel thread names are cut at 15 characters
  const pids = readdirSync('/proc').filter((p) => {
    try {
      return /^\d+$/.test(p) && readFileSync(`/proc/${p}/comm`, 'utf8').startsWith(comm);
    } catch {
      return false;
    }
  });
  if (pids.length !== 1) throw new Error(`paths bench: ${pids.length} NAPI threads named ${comm}*, not one`);
  return () => Number(readFileSync(`/proc/${pids[0]}/schedstat`, 'utf8').split(' ')[0]) / 1e9;
}

async function probingCost(topo: Topology, lab: PathLab, instance: string, dir: string): Promise<PathResults['probeCost']> {
  const N = 64;
  // The gateways on a plain link of their own (no emulator: its copying would be counted too).
  const gwns = topo.addNamespace('P');
  topo.addVeth({ ns: lab.router, name: 'rp', addr: '10.212.0.1/24' }, { ns: gwns, name: 'pp', addr: '10.212.0.10/24' });
  for (let i = 1; i < N; i++) topo.exec(gwns, 'ip', ['addr', 'add', `10.212.0.${10 + i}/24`, 'dev', topo.name('pp')]);
  // On a veth, the receiver's work runs in the sender's softirq: the gateways' answers would be
  // charged to whoever probes them, and the router's receiving of the replies to the gateways.
  // A NAPI thread on each end separates them, as two machines' NICs would: the router's receive
  // side is counted as probing's cost, the gateways' side is shown apart.
  const routerRx = ownNapiThread(topo, lab.router, topo.name('rp'));
  const gatewaysRx = ownNapiThread(topo, gwns, topo.name('pp'));
  const groups: Record<string, { gateway: string }[]> = {};
  const paths: Record<string, object> = {};
  for (let g = 0; g < N / 16; g++) {
    groups[`g${g}`] = Array.from({ length: 16 }, (_, i) => ({ gateway: `10.212.0.${10 + g * 16 + i}` }));
    paths[`g${g}`] = { policy: 'lowest-latency' };
  }
  const base = { instance, interfaces: lab.routerPorts.map((name) => ({ name })) };
  /** % of one core over the window, of the counters' sum. */
  const window = async (counters: Record<string, () => number>): Promise<Record<string, number>> => {
    const c0 = Object.fromEntries(Object.entries(counters).map(([k, f]) => [k, f()]));
    const t0 = performance.now();
    await sleep(SECONDS * 1000);
    const s = (performance.now() - t0) / 1000;
    return Object.fromEntries(Object.entries(counters).map(([k, f]) => [k, ((f() - c0[k]!) / s) * 100]));
  };
  const measure = async (cfg: object) => {
    const file = join(dir, 'probes.yaml');
    writeFileSync(file, JSON.stringify(cfg));
    const d = await startDaemon(lab.router, file, join(dir, 'state-probes'));
    try {
      // Settled: gateways resolved, probes running, and the JIT done with the code they run
      // (V8 optimises a function called twice a second only after a while).
      await sleep(WARMUP_SECONDS * 1000);
      const pid = d.child.pid!; // the daemon itself: --netns enters the namespace in-process
      return await window({
        daemon: () => total(threadCpu(pid)),
        prober: () => threadCpu(pid).get('pw-prober') ?? 0,
        routerRx,
        gatewaysRx,
      });
    } finally {
      await stopDaemon(d);
    }
  };
  const without = await measure(base);
  const withPaths = await measure({ ...base, nexthopGroups: groups, paths });
  // The baseline: the same 64 gateways pinged every 100 ms by 64 ping processes.
  const pings = Array.from({ length: N }, (_, i) => topo.spawn(lab.router, 'ping', ['-q', '-i', '0.1', `10.212.0.${10 + i}`]));
  await sleep(3000);
  // `ip netns exec` execs ping: each child's pid is ping's.
  const pingCpu = () => pings.reduce((a, p) => (p.exitCode === null ? a + total(threadCpu(p.pid!)) : a), 0);
  const ping = await window({ pings: pingCpu, routerRx, gatewaysRx });
  for (const p of pings) p.kill('SIGKILL');
  return {
    paths: N,
    seconds: SECONDS,
    warmupSeconds: WARMUP_SECONDS,
    cpuWithPercent: withPaths.daemon!,
    cpuWithoutPercent: without.daemon!,
    proberThreadPercent: withPaths.prober!,
    routerRxPercent: withPaths.routerRx! - without.routerRx!,
    gatewaysPercent: withPaths.gatewaysRx! - without.gatewaysRx!,
    pingPercent: ping.pings!,
    pingRouterRxPercent: ping.routerRx!,
    pingGatewaysPercent: ping.gatewaysRx!,
  };
}

const pctl = (xs: number[], p: number) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]! : NaN;
};

export function pathsReport(p: PathResults, measuredOn?: string): string {
  const check = (ok: boolean) => (ok ? 'met' : '**not met**');
  const row = (name: string, xs: number[], target: number, ref: string) => {
    const failed = xs.filter((x) => !Number.isFinite(x)).length;
    const p95 = pctl(xs, 0.95);
    return `| ${name} | ${xs.length} | ${pctl(xs, 0.5).toFixed(0)} | ${p95.toFixed(0)} | ${Math.max(...xs.filter(Number.isFinite)).toFixed(0)} | ${failed} | <= ${target} ms p95: ${check(p95 <= target && !failed)} | ${ref} |`;
  };
  const pc = p.probeCost;
  // Older stored runs had no NAPI threads: the receivers' work was inside the senders' time.
  const cost = pc.cpuWithPercent - pc.cpuWithoutPercent + (pc.routerRxPercent ?? 0);
  const per10min = (p.jitter.decisions / p.jitter.seconds) * 600;
  return `## 6. Paths chosen by measured quality

The path lab (src/netlab/path-lab.ts): a route steered over two paths through link emulators
(tools/linkem), policy lowest-latency with the defaults (100 ms ICMP probes, down after 3
lost, margins 10 % / 1 ms / 1.5 x the estimates' noise, hold 500 ms). A client sends UDP at
1,000 pps stamped with its own clock; the time is until >= 99 % of new packets take the other
path, lost packets counting as not moved (bench/paths.ts).${measuredOn ? ` Measured on its own (\`make bench-paths\`) on ${measuredOn.slice(0, 10)}, same machine kind.` : ''}

| event | runs | p50 (ms) | p95 (ms) | max (ms) | never moved | target | for comparison (not measured) |
| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |
${row('+50 ms on the path in use', p.latencyStepMs, 300, "Kong's latency balancer: peak EWMA, 10 s decay (L7)")}
${row('the path in use dies (100 % loss)', p.deathMs, 350, 'BFD default detection 900 ms; Envoy outlier sweep 10 s')}

Equal paths jittering 20 +- 4 ms (each frame's delay drawn on its own, as netem) for
${p.jitter.seconds} s: **${p.jitter.decisions} decisions** (${per10min.toFixed(2)} per 10 minutes; target <= 1: ${check(per10min <= 1)}).

Probing cost, ${pc.paths} paths probed every 100 ms (ICMP, gateways on a plain veth, no emulator),
CPU over ${pc.seconds} s${pc.warmupSeconds ? ` after a ${pc.warmupSeconds} s warm-up` : ''}, in % of one core, from the scheduler's
own accounting (schedstat):

| | % of a core |
| --- | ---: |
| the daemon probing ${pc.paths} paths | ${pc.cpuWithPercent.toFixed(2)} |
| of which the probe thread | ${pc.proberThreadPercent.toFixed(2)} |
| the same daemon probing none | ${pc.cpuWithoutPercent.toFixed(2)} |
${pc.routerRxPercent !== undefined ? `| the router's kernel receiving the replies (its NAPI thread) | ${pc.routerRxPercent.toFixed(2)} |\n` : ''}| **probing's cost** (${pc.routerRxPercent !== undefined ? 'difference + receiving' : 'difference'}; target <= 1 %: ${check(cost <= 1)}) | **${cost.toFixed(2)}** |
${pc.gatewaysPercent !== undefined ? `| not counted: the gateways answering (their NAPI thread; another machine on a real network) | ${pc.gatewaysPercent.toFixed(2)} |\n` : ''}| baseline: ${pc.paths} \`ping -i 0.1\` processes, the same probes | ${pc.pingPercent.toFixed(2)} |
${pc.pingRouterRxPercent !== undefined ? `| baseline + the router's kernel receiving their replies | ${(pc.pingPercent + pc.pingRouterRxPercent).toFixed(2)} |\n` : ''}
${
  pc.routerRxPercent !== undefined
    ? `Each veth end has a NAPI thread of its own (threaded NAPI), so what a side receives is processed
in its own kernel thread, as behind a NIC, and not in the softirq of whoever sent the frame.`
    : `On veth the gateways' kernel work (receiving a probe, answering it) runs in the softirq of
whoever sent the frame, so it is counted in the sender's CPU time here, ours and ping's alike;
on a NIC it would be the gateways' own.`
}

`;
}
