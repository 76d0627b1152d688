/**
 * Fuzzing the pipeline with mutants of real captures (test/fuzz/harness.ts says what is
 * checked). Fixed seeds and 100,000 + 50,000 + 50,000 mutants here; `make fuzz` runs far
 * more with a new seed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Pipeline } from '../../src/dataplane/pipeline.js';
import { inNetns } from '../../src/kernel/index.js';
import { fuzzSeeds, openFuzzLab, runFuzz, setFuzzFilter, setFuzzServices, type FuzzLab } from '../fuzz/harness.js';
import { serviceSeeds } from '../fuzz/services.js';
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

  it('accounts for every verdict, never aborts, routes only what parses, lets nothing past a rule (seed 1, 100,000 mutants)', () => {
    const seeds = fuzzSeeds();
    assert.ok(seeds.length > 50, `${seeds.length} seeds`);
    const r = runFuzz(lab!, seeds, { seed: 1, iterations: 100_000 });
    assert.deepEqual(
      r.findings.map((f) => `#${f.iteration} ${f.problem} ${f.frame.subarray(0, 80).toString('hex')}`),
      [],
    );
    assert.equal(r.iterations, 100_000);
    // The mutants reached every stage: some were routed, some dropped by the rules, some malformed.
    assert.ok((r.verdicts.redirect ?? 0) > 1000, JSON.stringify(r.verdicts));
    assert.ok(
      (r.reasons.rule_drop ?? 0) > 10 && (r.reasons.truncated_l4 ?? 0) + (r.reasons.truncated_ip ?? 0) > 100,
      JSON.stringify(r.reasons),
    );
    // The drop check judged mutants: blocked sources and the ports the rules drop.
    assert.ok(r.covered > 100 && (r.reasons.blocked ?? 0) > 10, `${r.covered} covered, ${JSON.stringify(r.reasons)}`);
    // Every mutant the kernel took also went through the TC build.
    const tcRuns = Object.values(r.tcVerdicts).reduce((a, b) => a + b, 0);
    assert.ok(tcRuns > 90_000 && (r.tcVerdicts.drop ?? 0) > 1000 && (r.tcVerdicts.redirect ?? 0) > 500, JSON.stringify(r.tcVerdicts));
  });

  it('the same with the drop rules alone and no blocklist, where the guard stage is skipped when it has nothing to do (seed 2, 50,000 mutants)', () => {
    setFuzzFilter(lab!, 'lean');
    try {
      const r = runFuzz(lab!, fuzzSeeds(), { seed: 2, iterations: 50_000 });
      assert.deepEqual(
        r.findings.map((f) => `#${f.iteration} ${f.problem} ${f.frame.subarray(0, 80).toString('hex')}`),
        [],
      );
      assert.equal(r.iterations, 50_000);
      assert.equal(r.reasons.blocked ?? 0, 0, JSON.stringify(r.reasons));
      assert.ok(r.covered > 50 && (r.reasons.rule_drop ?? 0) > 10, `${r.covered} covered, ${JSON.stringify(r.reasons)}`);
      assert.ok((r.verdicts.redirect ?? 0) > 500, JSON.stringify(r.verdicts));
    } finally {
      setFuzzFilter(lab!, 'full');
    }
  });

  it('the same through NAT services: connections, replies and ICMP errors about them, translated with their checksums kept (seed 3, 50,000 mutants)', () => {
    setFuzzServices(lab!, true);
    try {
      const r = runFuzz(lab!, serviceSeeds(), { seed: 3, iterations: 50_000 });
      assert.deepEqual(
        r.findings.map((f) => `#${f.iteration} ${f.problem} ${f.frame.subarray(0, 80).toString('hex')}`),
        [],
      );
      assert.equal(r.iterations, 50_000);
      // Mutants reached the balance stage and left it translated (the harness checks each
      // one to a service against its backend), or were dropped as fragments of a service.
      assert.ok(r.nat > 2_000 && (r.reasons.lb_fragment ?? 0) > 100, `${r.nat} translated, ${JSON.stringify(r.reasons)}`);
      // and replies of those connections came back through it, checked to leave from the service.
      assert.ok(r.replies > 100, `${r.replies} replies`);
      // Later fragments whose first fragment left translated were checked to follow it.
      assert.ok(r.fragments > 0, `${r.fragments} later fragments`);
    } finally {
      setFuzzServices(lab!, false);
    }
  });
});
