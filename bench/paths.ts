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
 *   the same daemon with none, 30 s each.
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
    /** Of cpuWithPercent: the probe thread's share (sends, replies, and the kernel work they cause here). */
    proberThreadPercent: number;
    /** The baseline: one `ping -i 0.1` per gateway, the same probes from 64 processes (% of one core, all of them). */
    pingPercent: number;
  };
}

const RUNS = Number(process.env.BENCH_PATH_RUNS ?? 20);
/** How long each CPU figure is taken over. */
const SECONDS = 30;
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

/** CPU time (user + system, s) of a process's threads so far, by thread name, from /proc. */
function threadCpu(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
    } catch {
      continue; // the thread ended
    }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.set(name, (out.get(name) ?? 0) + (Number(f[11]) + Number(f[12])) / 100); // utime, stime (USER_HZ)
  }
  return out;
}

const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

async function probingCost(topo: Topology, lab: PathLab, instance: string, dir: string): Promise<PathResults['probeCost']> {
  const N = 64;
  // The gateways on a plain link of their own (no emulator: its copying would be counted too).
  const gwns = topo.addNamespace('P');
  topo.addVeth({ ns: lab.router, name: 'rp', addr: '10.212.0.1/24' }, { ns: gwns, name: 'pp', addr: '10.212.0.10/24' });
  for (let i = 1; i < N; i++) topo.exec(gwns, 'ip', ['addr', 'add', `10.212.0.${10 + i}/24`, 'dev', topo.name('pp')]);
  const groups: Record<string, { gateway: string }[]> = {};
  const paths: Record<string, object> = {};
  for (let g = 0; g < N / 16; g++) {
    groups[`g${g}`] = Array.from({ length: 16 }, (_, i) => ({ gateway: `10.212.0.${10 + g * 16 + i}` }));
    paths[`g${g}`] = { policy: 'lowest-latency' };
  }
  const base = { instance, interfaces: lab.routerPorts.map((name) => ({ name })) };
  const measure = async (cfg: object): Promise<{ all: number; prober: number }> => {
    const file = join(dir, 'probes.yaml');
    writeFileSync(file, JSON.stringify(cfg));
    const d = await startDaemon(lab.router, file, join(dir, 'state-probes'));
    try {
      await sleep(5000); // settled: gateways resolved, probes running
      const pid = d.child.pid!; // the daemon itself: --netns enters the namespace in-process
      const c0 = threadCpu(pid);
      const t0 = performance.now();
      await sleep(SECONDS * 1000);
      const c1 = threadCpu(pid);
      const s = (performance.now() - t0) / 1000;
      return { all: ((total(c1) - total(c0)) / s) * 100, prober: (((c1.get('pw-prober') ?? 0) - (c0.get('pw-prober') ?? 0)) / s) * 100 };
    } finally {
      await stopDaemon(d);
    }
  };
  const without = await measure(base);
  const withPaths = await measure({ ...base, nexthopGroups: groups, paths });
  // The baseline: the same 64 gateways pinged every 100 ms by 64 ping processes.
  const pings = Array.from({ length: N }, (_, i) => topo.spawn(lab.router, 'ping', ['-q', '-i', '0.1', `10.212.0.${10 + i}`]));
  await sleep(3000);
  const pingCpu = () =>
    pings.reduce((a, p) => {
      try {
        // `ip netns exec` execs ping: the child's pid is ping's.
        return a + total(threadCpu(p.pid!));
      } catch {
        return a;
      }
    }, 0);
  const p0 = pingCpu();
  const t0 = performance.now();
  await sleep(SECONDS * 1000);
  const pingPercent = ((pingCpu() - p0) / ((performance.now() - t0) / 1000)) * 100;
  for (const p of pings) p.kill('SIGKILL');
  return {
    paths: N,
    seconds: SECONDS,
    cpuWithPercent: withPaths.all,
    cpuWithoutPercent: without.all,
    proberThreadPercent: withPaths.prober,
    pingPercent,
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
  const cost = p.probeCost.cpuWithPercent - p.probeCost.cpuWithoutPercent;
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

Probing cost, ${p.probeCost.paths} paths probed every 100 ms (ICMP, gateways on a plain veth, no emulator),
CPU over ${p.probeCost.seconds} s in % of one core:

| | % of a core |
| --- | ---: |
| the daemon probing ${p.probeCost.paths} paths | ${p.probeCost.cpuWithPercent.toFixed(2)} |
| of which the probe thread | ${p.probeCost.proberThreadPercent.toFixed(2)} |
| the same daemon probing none | ${p.probeCost.cpuWithoutPercent.toFixed(2)} |
| **probing's cost** (difference; target <= 1 %: ${check(cost <= 1)}) | **${cost.toFixed(2)}** |
| baseline: ${p.probeCost.paths} \`ping -i 0.1\` processes, the same probes | ${p.probeCost.pingPercent.toFixed(2)} |

On veth the gateways' kernel work (receiving a probe, answering it) runs in the softirq of
whoever sent the frame, so it is counted in the sender's CPU time here, ours and ping's alike;
on a NIC it would be the gateways' own.

`;
}
