/**
 * What the pipeline benchmarks share (bench/run.ts §3, bench/ab-stages.ts): the rule set the
 * guard holds, programs run side by side on one frame, and the MAC such a frame is addressed to.
 */
import { join } from 'node:path';

import type { PipelineSettings } from '../src/dataplane/pipeline-object.js';
import type { RuleSpec } from '../src/filter/rule.js';
import { formatIpv4, parsePrefix } from '../src/util/ip.js';
import { repoRoot } from '../src/util/paths.js';
import { rng } from '../test/helpers/rng.js';
import type { Topology } from '../test/helpers/topology.js';

/** The benchmarks' own BPF programs (bench/progs/bench.bpf.c), on the pipeline's map definitions. */
export const BENCH_OBJECT = join(repoRoot, 'build', 'bench', 'bench.bpf.o');

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The MAC the pipeline benchmarks give the router's interface and its gateway alike. */
export const ROUTER_MAC = '02:00:00:00:00:02';

/**
 * Gives the topology's interface `iface` in `ns` ROUTER_MAC and returns it: a frame the
 * pipeline forwards arrives addressed to it (others' frames go to the kernel untouched). The
 * gateway has the same MAC, so a frame forwarded in place (each repetition of a test run sees
 * the frame as the last one left it) arrives addressed to the router again. Set, not read:
 * udev may still replace a new veth's random MAC after it is read. Before any neighbour entry
 * on it: a new MAC flushes them.
 */
export function setRouterMac(topo: Topology, ns: string, iface: string): Buffer {
  topo.exec(ns, 'ip', ['link', 'set', topo.name(iface), 'address', ROUTER_MAC]);
  return Buffer.from(ROUTER_MAC.split(':').map((x) => parseInt(x, 16)));
}

/** `n` rules on random /24 sources, TCP, one destination port each: half drop, half count. */
export function benchRules(n: number): RuleSpec[] {
  const r = rng(n);
  const rules: RuleSpec[] = [];
  for (let i = 0; i < n; i++) {
    const a = Math.floor(r() * 2 ** 24) * 256;
    rules.push({
      action: r() < 0.5 ? 'drop' : 'count',
      src: parsePrefix(`${formatIpv4(a >>> 0)}/24`),
      proto: 6,
      dport: [1 + (i % 1000), 1 + (i % 1000)],
    });
  }
  return rules;
}

export type TestRunnable = { testRunSync(o: object): { duration: number; retval: number } };

/**
 * Each of `runs` once per round, in turn, `rounds` times; what each returned, by run then round.
 * Measured one after the other, a figure takes whatever the machine did meanwhile: on this
 * 2-core VM the same pipeline took 137 ns in one pass and 199 in the next (ab-stages, before it
 * ran its variants this way). Side by side in rounds, the programs of one round share its
 * conditions, so ratios taken round by round (see perRound) keep what the medians of whole
 * passes lose.
 */
export function alternate(runs: (() => number)[], rounds: number): number[][] {
  const out: number[][] = runs.map(() => []);
  for (let r = 0; r < rounds; r++) for (const [i, run] of runs.entries()) out[i]!.push(run());
  return out;
}

/** The median, over the rounds of `alternate`, of a figure each round gives (a ratio, a
 * difference) from its own values. */
export function perRound(rounds: number, of: (r: number) => number): number {
  return median(Array.from({ length: rounds }, (_, r) => of(r)));
}

/** A run of `prog` for `alternate`: ns per repetition of one run of `repeat` repetitions on a
 * frame it forwards in place, checked to end in `verdict` (so no run measures another path). */
export function testRun(prog: TestRunnable, data: Buffer, ctx: Buffer, verdict: number, repeat = 200): () => number {
  return () => checkedRun(prog, data, ctx, verdict, repeat);
}

/** One test run of `repeat` repetitions, its ns per repetition; throws unless it ended in
 * `verdict` (so no run measures another path). */
function checkedRun(prog: TestRunnable, data: Buffer, ctx: Buffer, verdict: number, repeat: number): number {
  const r = prog.testRunSync({ data, ctx, repeat });
  if (r.retval !== verdict) throw new Error(`a benchmark run ended in XDP action ${r.retval}, not ${verdict}`);
  return r.duration;
}

/**
 * ns for one run of `prog` on the frame after `scratch` (larger than the CPU's caches) was
 * written over, so the program's maps and code come from memory and its pages miss the TLB:
 * what a packet costs when other work ran since the last one, as between the packets of a
 * short connection. The median of `runs` such runs, each checked to end in `verdict`. One run
 * also carries the test run's own setup, which an empty program shows.
 */
export function coldRun(prog: TestRunnable, data: Buffer, ctx: Buffer, verdict: number, runs: number, scratch: Buffer): number {
  const ds: number[] = [];
  for (let i = 0; i < runs; i++) {
    scratch.fill(i & 0xff);
    ds.push(checkedRun(prog, data, ctx, verdict, 1));
  }
  return median(ds);
}

/** The pipelines of the stage-by-stage figures: everything on, then one stage off each. */
export const STAGE_VARIANTS: { key: string; label: string; settings: Partial<PipelineSettings> }[] = [
  { key: 'all', label: 'everything on (10 rules, flows, route counters)', settings: {} },
  { key: 'noflows', label: 'without the flow table', settings: { flows: false } },
  { key: 'nostats', label: 'without route and nexthop counters', settings: { routeStats: false } },
  { key: 'nofilter', label: 'without the guard (rules, blocklists)', settings: { filter: false } },
  {
    key: 'none',
    label: 'without all three: parse, route, interface counters',
    settings: { flows: false, routeStats: false, filter: false },
  },
];
