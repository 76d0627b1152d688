/**
 * The pipeline's cost per packet, stage by stage or object against object, in one process:
 * a development tool beside `make bench` (§3 there is the reference figure).
 *
 *   [ROUNDS=1000] node dist/bench/ab-stages.js
 *       each stage turned off in turn, beside an empty program and the minimal forwarder over
 *       the same tables, all loaded at once and run side by side (pipeline-kit.ts alternate):
 *       ns per packet (median of ROUNDS runs of 200) and the median per-round ratio to the floor
 *   OBJS=/tmp/a.bpf.o,/tmp/b.bpf.o [VARIANT=all|noflows|nostats|nofilter|none] [ROUNDS=2000] node dist/bench/ab-stages.js
 *       the given pipeline objects, all loaded at once, run in turn one run (200 repetitions) at
 *       a time, ROUNDS times: on a VM whose speed drifts by tens of percent within seconds, only
 *       runs side by side tell a 10 % change. Prints each object's median, its mean (runs are
 *       whole ns: the mean shows what moves less) and the median of its per-round ratio to the
 *       first object. The objects are copied over build/pathwise.bpf.o
 *       in turn to be loaded, and the built one is put back at the end. PASSES=2 measures the
 *       same loaded objects again (the same object given twice shows what where each instance
 *       lies in memory costs it).
 *   SPIN=VARIANT  runs that variant for 8 s (SPIN_MS) first, for perf record -a; it says on
 *       stderr when it starts.
 *   PROFILE=VARIANT  profiles that variant by source line for 5 s (PROFILE_S) first
 *       (bench/line-profile.ts) and prints the 30 lines (PROFILE_TOP) with the most samples.
 *   COLD=RUNS  also prints each program's cost with cold caches (pipeline-kit.ts coldRun): the
 *       median of RUNS single runs, each after writing COLD_MB (default 64) MiB elsewhere.
 *
 * RULES (default 10): the rules in the guard's bank, as in make bench.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { BpfObject, inNetns, resolveIfindex, xdpMd } from '../src/kernel/index.js';
import * as benchAbi from './generated/bench.js';
import { repoRoot } from '../src/util/paths.js';
import { Dataplane } from '../src/dataplane/dataplane.js';
import { Pipeline } from '../src/dataplane/pipeline.js';
import type { PipelineSettings } from '../src/dataplane/pipeline-object.js';
import { parseRouteTokens } from '../src/routing/route-syntax.js';
import { ipv4Packet } from '../test/helpers/packets.js';
import { Topology } from '../test/helpers/topology.js';
import { lineProfile } from './line-profile.js';
import { loadBenchOnFib } from './fib-lookups.js';
import {
  alternate,
  BENCH_OBJECT,
  benchRules,
  coldRun,
  median,
  perRound,
  ROUTER_MAC,
  setRouterMac,
  STAGE_VARIANTS,
  testRun,
  type TestRunnable,
} from './pipeline-kit.js';

async function main() {
  const built = join(repoRoot, 'build', 'pathwise.bpf.o');
  const saved = join(mkdtempSync(join(tmpdir(), 'pw-ab-')), 'pathwise.bpf.o');
  copyFileSync(built, saved);
  const topo = new Topology('p');
  const names: string[] = [];
  try {
    const ns = topo.addNamespace('K');
    topo.addVeth({ ns, name: 'k0', addr: '100.64.0.1/16' }, { ns, name: 'k1' });
    const routerMac = setRouterMac(topo, ns, 'k0');
    topo.exec(ns, 'ip', ['neigh', 'replace', '100.64.0.2', 'lladdr', ROUTER_MAC, 'dev', topo.name('k0'), 'nud', 'permanent']);
    const ifK0 = inNetns(ns, () => resolveIfindex(topo.name('k0')));
    const pkt = ipv4Packet({
      src: '100.64.0.7',
      dst: '9.9.9.9',
      proto: 'tcp',
      sport: 40000,
      dport: 443,
      tcpFlags: 0x10,
      ttl: 255,
      dstMac: routerMac,
    });
    const ctx = xdpMd(pkt.length, ifK0);
    const coldRuns = Number(process.env.COLD ?? 0);
    const scratch = coldRuns ? Buffer.alloc(Number(process.env.COLD_MB ?? 64) << 20, 1) : Buffer.alloc(0);
    const out: string[] = [];
    const nrules = Number(process.env.RULES ?? 10);
    const objs = (process.env.OBJS ?? '').split(',').filter(Boolean);
    // A pipeline instance with one route to the packet's destination, resolved, and the rules.
    const openPipeline = async (i: number, settings: Partial<PipelineSettings>, obj: string) => {
      if (obj) copyFileSync(obj, built);
      const name = `${topo.prefix}s${i}`;
      topo.recordInstance(name);
      names.push(name);
      // 10,000 rules need more classifier bitmaps than the default (as in make bench).
      const dp = await Dataplane.open(name, nrules > 1000 ? { ...settings, ruleBitmaps: 32768 } : settings);
      inNetns(ns, () => {
        dp.syncHostRoutes();
        dp.addRoute(parseRouteTokens(['9.9.9.9/32', 'via', '100.64.0.2'], () => 'bench'));
        dp.enableEgress(topo.name('k0'));
        dp.syncNeighbors();
      });
      if (settings.filter !== false && nrules) dp.filter.setRules(benchRules(nrules));
      return { dp, name };
    };
    if (objs.length) {
      const key = process.env.VARIANT ?? 'all';
      const variant = STAGE_VARIANTS.find((v) => v.key === key);
      if (!variant) throw new Error(`VARIANT=${key}: not one of ${STAGE_VARIANTS.map((v) => v.key).join(', ')}`);
      const opened: { dp: Dataplane; name: string }[] = [];
      for (const [i, o] of objs.entries()) opened.push(await openPipeline(i, variant.settings, o));
      const rounds = Number(process.env.ROUNDS ?? 2000);
      // PASSES=2 measures the same loaded instances again: an instance that stays slower in
      // every pass is slower for where it lies (its code, its maps), not for the VM's drift.
      const passes = Number(process.env.PASSES ?? 1);
      for (let pass = 1; pass <= passes; pass++) {
        const runs = inNetns(ns, () =>
          alternate(
            opened.map(({ dp }, j) => {
              const run = testRun(dp.pipeline.xdp, pkt, ctx, 4);
              return () => {
                try {
                  return run();
                } catch (e) {
                  const t = dp.trace(pkt, ifK0);
                  throw new Error(`${objs[j]}: ${(e as Error).message} (trace: verdict ${t.verdict}, reason ${t.reason})`);
                }
              };
            }),
            rounds,
          ),
        );
        if (passes > 1) out.push(`pass ${pass}:`);
        for (const [j, o] of objs.entries()) {
          const ratio = perRound(rounds, (r) => runs[j]![r]! / runs[0]![r]!);
          // The kernel gives a run's time per repetition in whole ns: a change under 1 ns moves
          // the medians by nothing, and only the means over the rounds show it.
          const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
          out.push(
            `${o.split('/').pop()}:${key} median ${median(runs[j]!)} ns, mean ${mean(runs[j]!).toFixed(2)} ns (${(mean(runs[j]!) / mean(runs[0]!)).toFixed(3)}× the first's), per-round ratio to the first: median ${ratio.toFixed(3)}`,
          );
        }
      }
      for (const { dp, name } of opened) {
        dp.close();
        inNetns(ns, () => Pipeline.down(name));
      }
    } else {
      // Every variant open at once, then all run side by side in rounds (as make bench §3).
      const opened: { key: string; dp: Dataplane }[] = [];
      for (const [i, v] of STAGE_VARIANTS.entries()) {
        const { dp } = await openPipeline(i, v.settings, '');
        // The variant's program on the frame, over and over for `ms`.
        const spin = (ms: number) => {
          const end = Date.now() + ms;
          inNetns(ns, () => {
            while (Date.now() < end) dp.pipeline.xdp.testRunSync({ data: pkt, ctx, repeat: 100000 });
          });
        };
        if (process.env.PROFILE === v.key) {
          const p = await lineProfile(dp.pipeline.xdp.fd, Number(process.env.PROFILE_S ?? 5), spin);
          console.log(`${v.key}: ${p.samples} samples in the program, by source line`);
          for (const l of p.lines.slice(0, Number(process.env.PROFILE_TOP ?? 30)))
            console.log(`${(100 * l.share).toFixed(1).padStart(5)}%  ${l.where}`);
        }
        if (process.env.SPIN === v.key) {
          const ms = Number(process.env.SPIN_MS ?? 8000);
          console.error(`spinning ${v.key} for ${ms} ms`);
          spin(ms);
        }
        opened.push({ key: v.key, dp });
      }
      const empty = await BpfObject.load(BENCH_OBJECT, { spec: benchAbi });
      // The floor over the tables of the last variant (one route, as every variant has).
      const floor = await loadBenchOnFib(opened.at(-1)!.dp);
      const fp = floor.map(benchAbi.maps.bench_fwd_ports);
      fp.set(ifK0, ifK0);
      fp.close();
      const rounds = Number(process.env.ROUNDS ?? 1000);
      const progs: [string, TestRunnable, number][] = [
        ['empty', empty.program('bench_empty'), 2],
        ['floor', floor.program('bench_fwd'), 4],
        ...opened.map(({ key, dp }) => [key, dp.pipeline.xdp, 4] as [string, TestRunnable, number]),
      ];
      const runs = inNetns(ns, () =>
        alternate(
          progs.map(([, prog, verdict]) => testRun(prog, pkt, ctx, verdict)),
          rounds,
        ),
      );
      for (const [i, [label, prog, verdict]] of progs.entries()) {
        const vsFloor = perRound(rounds, (r) => runs[i]![r]! / runs[1]![r]!);
        const cold = coldRuns ? ` cold ${inNetns(ns, () => coldRun(prog, pkt, ctx, verdict, coldRuns, scratch))}` : '';
        out.push(`${label} ${median(runs[i]!)} (${vsFloor.toFixed(3)}x the floor)${cold}`);
      }
      empty.close();
      floor.close();
      for (const { dp } of opened) dp.close();
    }
    console.log(out.join('\n'));
  } finally {
    for (const n of names)
      try {
        Pipeline.down(n);
      } catch {
        // already down
      }
    topo.destroy();
    // Put the built object back (a copy would look newer than its sources to make).
    copyFileSync(saved, built);
    rmSync(join(saved, '..'), { recursive: true });
  }
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
