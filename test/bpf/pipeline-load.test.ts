/**
 * The pipeline object loads under every combination of its load-time settings, each program
 * with room to grow under the verifier's limit of 1,000,000 processed instructions. (With
 * every stage inlined into one function, filtering plus flows once reached 910,000: one more
 * lookup in the rule walk pushed it over. The guard, routing and flow stages are now global
 * functions, verified once each.) The same for the pipeline built for TC ingress. Its stack,
 * the other limit, has little room to spare (16 bytes: BENCHMARKS.md §3b): the verifier enforces it, and the
 * test checks that the deepest chain computed from the verifier's statistics fits it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { BpfObject, MAX_BPF_STACK, VERIFIER_INSN_LIMIT } from '../../src/kernel/index.js';
import * as abi from '../../src/generated/pathwise.js';
import { pipelineObject, tcPipelineObject } from '../helpers/paths.js';
import { privilegedSkip } from '../helpers/privileged.js';
import { settingCombinations, SMALL_TABLES } from '../helpers/setting-combinations.js';

const skip = privilegedSkip();
/** Half the limit: a change that needs more should split a stage rather than creep up. */
const HEADROOM = VERIFIER_INSN_LIMIT / 2;

describe('the pipeline under the verifier', { skip }, () => {
  it(`loads with every combination of settings, each program under ${HEADROOM} verified instructions`, async () => {
    const worst: { program: string; settings: string; insns: number; stack: number }[] = [];
    for (const { flags, settings } of settingCombinations()) {
      for (const [path, programs] of [
        [pipelineObject, abi.programs],
        [tcPipelineObject, ['pw_tc']],
      ] as const) {
        const obj = await BpfObject.load(path, {
          spec: { ...abi, programs },
          rodata: { pw_settings: { flags } },
          maxEntries: SMALL_TABLES,
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
