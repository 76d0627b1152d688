/**
 * `make fuzz`: the fuzz harness for longer than the test runs it, with a new seed each time
 * (or FUZZ_SEED), FUZZ_ITERATIONS mutants (default 1,000,000). Findings are written to
 * build/fuzz/findings-SEED.pcap (open them with tcpdump, or replay them with pathwise replay)
 * and the exit status is 1.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { Pipeline } from '../../src/dataplane/pipeline.js';
import { inNetns, writeCapture } from '../../src/kernel/index.js';
import { repoRoot } from '../../src/util/paths.js';
import { fuzzSeeds, openFuzzLab, runFuzz, setFuzzFilter, setFuzzServices, type Finding } from './harness.js';
import { serviceSeeds } from './services.js';
import { Topology } from '../helpers/topology.js';

const iterations = Number(process.env.FUZZ_ITERATIONS ?? 1_000_000);
const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const CHUNK = 100_000;

const topo = new Topology('fz');
const instance = topo.prefix;
const lab = await openFuzzLab(topo, instance);
const findings: Finding[] = [];
const totals: Record<string, number> = {};
const tcTotals: Record<string, number> = {};
const started = Date.now();
try {
  const seeds = fuzzSeeds();
  const natSeeds = serviceSeeds();
  console.log(`fuzzing with seed ${seed}: ${iterations.toLocaleString('en')} mutants of ${seeds.length} frames`);
  for (let done = 0, chunk = 0; done < iterations && !findings.length; chunk++) {
    const n = Math.min(CHUNK, iterations - done);
    // Three labs in turn (harness.ts): the corpus filter, which sends every packet into the
    // guard; the lean one, which lets the pipeline skip it; NAT services, with seeds that
    // reach them (services.ts).
    const phase = chunk % 3;
    setFuzzFilter(lab, phase === 1 ? 'lean' : 'full');
    setFuzzServices(lab, phase === 2);
    const r = runFuzz(lab, phase === 2 ? natSeeds : seeds, { seed: seed + chunk, iterations: n });
    findings.push(...r.findings);
    for (const [k, v] of Object.entries(r.verdicts)) totals[k] = (totals[k] ?? 0) + v;
    for (const [k, v] of Object.entries(r.tcVerdicts)) tcTotals[k] = (tcTotals[k] ?? 0) + v;
    done += r.iterations;
    console.log(
      `  ${done.toLocaleString('en')} mutants (${lab.services ? 'services, ' : ''}${lab.filter} filter: ${r.covered} covered by a drop${lab.services ? `, ${r.nat} translated, ${r.replies} replies, ${r.fragments} later fragments among both` : ''}), ${((Date.now() - started) / 1000).toFixed(0)} s: XDP ${JSON.stringify(totals)}, TC ${JSON.stringify(tcTotals)}`,
    );
  }
} finally {
  lab.dp.close();
  inNetns(lab.ns, () => Pipeline.down(instance));
  topo.destroy();
}
if (findings.length) {
  const dir = join(repoRoot, 'build', 'fuzz');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `findings-${seed}.pcap`);
  writeCapture(
    file,
    findings.filter((f) => f.frame.length).map((f) => ({ data: f.frame })),
  );
  for (const f of findings) console.log(`#${f.iteration}: ${f.problem}`);
  console.log(`${findings.length} finding(s); the frames are in ${file}`);
  process.exitCode = 1;
} else console.log('no findings');
