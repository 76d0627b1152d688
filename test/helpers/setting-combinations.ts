/**
 * The pipeline's load-time settings in every combination, and its tables at their smallest:
 * what the verifier walks does not depend on the tables' sizes, and small preallocated tables
 * load 32 times faster. For test/bpf/pipeline-load.test.ts and bench/verifier.ts.
 */
import * as abi from '../../src/generated/pathwise.js';

export const SMALL_TABLES = {
  pw_flows: 1024,
  pw_ratelimit_state: 1024,
  pw_neigh: 1024,
  pw_fib4_tbl8: 16,
  pw_fib4_tbl24: 16,
  pw_routes: 1024,
  pw_route_stats: 1024,
};

const FLAGS = Object.entries(abi.PwSetting) as [string, number][];

/** Each combination: its pw_settings flags, its name (the settings on, joined by +), and whether every setting is on. */
export function settingCombinations(): { flags: number; settings: string; every: boolean }[] {
  const all = (1 << FLAGS.length) - 1;
  return Array.from({ length: all + 1 }, (_, mask) => ({
    flags: FLAGS.reduce((a, [, bit], i) => (mask & (1 << i) ? a | bit : a), 0),
    settings:
      FLAGS.filter((_, i) => mask & (1 << i))
        .map(([n]) => n.toLowerCase())
        .join('+') || 'none',
    every: mask === all,
  }));
}
