/**
 * Fuzzing the pipeline with mutants of real captures (test/fuzz/harness.ts says what is
 * checked). A fixed seed and 20,000 mutants here; `make fuzz` runs far more with a new seed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Pipeline } from '../../src/dataplane/pipeline.js';
import { inNetns } from '../../src/kernel/index.js';
import { fuzzSeeds, openFuzzLab, runFuzz, type FuzzLab } from '../fuzz/harness.js';
import { privilegedSkip } from '../helpers/privileged.js';
import { Topology } from '../helpers/topology.js';

const skip = privilegedSkip();

describe('the pipeline under mutated captures', { skip, timeout: 5 * 60_000 }, () => {
  let topo: Topology;
  let lab: FuzzLab | undefined;
  let instance = '';

  before(async () => {
    topo = new Topology('fz');
    instance = topo.prefix;
    lab = await openFuzzLab(topo, instance);
  });
  after(() => {
    lab?.dp.close();
    if (instance) inNetns(lab?.ns, () => Pipeline.down(instance));
    topo?.destroy();
  });

  it('accounts for every verdict, never aborts, and routes only what parses (seed 1, 20,000 mutants)', () => {
    const seeds = fuzzSeeds();
    assert.ok(seeds.length > 50, `${seeds.length} seeds`);
    const r = runFuzz(lab!, seeds, { seed: 1, iterations: 20_000 });
    assert.deepEqual(
      r.findings.map((f) => `#${f.iteration} ${f.problem} ${f.frame.subarray(0, 80).toString('hex')}`),
      [],
    );
    assert.equal(r.iterations, 20_000);
    // The mutants reached every stage: some were routed, some dropped by the rules, some malformed.
    assert.ok((r.verdicts.redirect ?? 0) > 1000, JSON.stringify(r.verdicts));
    assert.ok(
      (r.reasons.rule_drop ?? 0) > 10 && (r.reasons.truncated_l4 ?? 0) + (r.reasons.truncated_ip ?? 0) > 100,
      JSON.stringify(r.reasons),
    );
  });
});
