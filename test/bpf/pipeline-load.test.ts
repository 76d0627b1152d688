/**
 * The pipeline object loads under every combination of its load-time settings, each program
 * with room to grow under the verifier's limit of 1,000,000 processed instructions. (With
 * every stage inlined into one function, filtering plus flows once reached 910,000: one more
 * lookup in the rule walk pushed it over. The guard, routing and flow stages are now global
 * functions, verified once each.) The same for the pipeline built for TC ingress.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { BpfObject, MAX_BPF_STACK } from '../../src/kernel/index.js';
import * as abi from '../../src/generated/pathwise.js';
import { pipelineObject, tcPipelineObject } from '../helpers/paths.js';
import { privilegedSkip } from '../helpers/privileged.js';

const skip = privilegedSkip();
const VERIFIER_LIMIT = 1_000_000;
/** Half the limit: a change that needs more should split a stage rather than creep up. */
const HEADROOM = VERIFIER_LIMIT / 2;

const FLAGS = Object.entries(abi.PwSetting) as [string, number][];
/** Smaller preallocated tables load 32 times faster; what the verifier checks is the same. */
const SMALL = {
  pw_flows: 1024,
  pw_ratelimit_state: 1024,
  pw_neigh: 1024,
  pw_fib4_tbl8: 16,
  pw_fib4_tbl24: 16,
  pw_routes: 1024,
  pw_route_stats: 1024,
};

describe('the pipeline under the verifier', { skip }, () => {
  it(`loads with every combination of settings, each program under ${HEADROOM} verified instructions`, async () => {
    const worst: { program: string; settings: string; insns: number; stack: number }[] = [];
    for (let mask = 0; mask < 1 << FLAGS.length; mask++) {
      const flags = FLAGS.reduce((a, [, bit], i) => (mask & (1 << i) ? a | bit : a), 0);
      const names = FLAGS.filter((_, i) => mask & (1 << i)).map(([n]) => n.toLowerCase());
      const settings = names.join('+') || 'none';
      for (const [path, programs] of [
        [pipelineObject, abi.programs],
        [tcPipelineObject, ['pw_tc']],
      ] as const) {
        const obj = await BpfObject.load(path, {
          spec: { ...abi, programs },
          rodata: { pw_settings: { flags } },
          maxEntries: SMALL,
          verifierStats: true,
        });
        try {
          for (const program of programs) {
            const insns = obj.program(program).info().verifiedInsns;
            assert.ok(insns > 0, `${program} (${settings}): the kernel reports no verified instruction count`);
            assert.ok(insns < HEADROOM, `${program} with ${settings}: ${insns} verified instructions, over the ${HEADROOM} budget`);
            // The statistics log agrees with the program's info, and the deepest chain of calls
            // found from it fits the stack the verifier allowed (bench/verifier.ts reports both).
            const stats = obj.verifierStats(program);
            assert.equal(stats.processed, insns, `${program} (${settings}): the statistics log and bpf_prog_info disagree`);
            const chain = stats.deepestChain;
            assert.ok(
              chain.functions[0] === 0 && chain.bytes <= MAX_BPF_STACK,
              `${program} (${settings}): a chain of ${chain.bytes} stack bytes`,
            );
            worst.push({ program, settings, insns, stack: chain.bytes });
          }
        } finally {
          obj.close();
        }
      }
    }
    worst.sort((a, b) => b.insns - a.insns);
    console.log(
      `most verified instructions: ${worst
        .slice(0, 3)
        .map((w) => `${w.program} (${w.settings}) ${w.insns}`)
        .join(', ')}`,
    );
    const deepest = worst.reduce((a, w) => (w.stack > a.stack ? w : a));
    console.log(`deepest stack: ${deepest.program} (${deepest.settings}) ${deepest.stack} of ${MAX_BPF_STACK} bytes`);
  });
});
