/**
 * What the pipeline benchmarks share (bench/run.ts §3, bench/ab-stages.ts): the rule set the
 * guard holds, and the per-packet figure of a program on one frame.
 */
import type { PipelineSettings } from '../src/dataplane/pipeline-object.js';
import type { RuleSpec } from '../src/filter/rule.js';
import { formatIpv4, parsePrefix } from '../src/util/ip.js';
import { rng } from '../test/helpers/rng.js';

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

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

/**
 * ns per repetition of `prog` on a frame it forwards in place: the median of 1,000 runs of 200
 * repetitions, each run checked to end in `verdict` (so no run measures another path).
 */
export function perRepetition(
  prog: { testRunSync(o: object): { duration: number; retval: number } },
  data: Buffer,
  ctx: Buffer,
  verdict: number,
): number {
  const ds: number[] = [];
  for (let i = 0; i < 1000; i++) {
    const r = prog.testRunSync({ data, ctx, repeat: 200 });
    if (r.retval !== verdict) throw new Error(`a benchmark run ended in XDP action ${r.retval}, not ${verdict}`);
    ds.push(r.duration);
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
