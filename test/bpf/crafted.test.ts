/**
 * The crafted-packet corpus (test/helpers/corpus.ts) through the real pipeline with
 * BPF_PROG_TEST_RUN, frame by frame in order (fragments meet the fragment-tracking map as they
 * would on a wire): every frame of an attack is dropped, no frame of legitimate traffic is,
 * however many count rules match first. What the kernel makes of the frames the pipeline lets
 * through is the e2e test's business (test/e2e/crafted.test.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Dataplane } from '../../src/dataplane/dataplane.js';
import { Pipeline } from '../../src/dataplane/pipeline.js';
import { parseRuleTokens } from '../../src/filter/rule.js';
import { reasonName } from '../../src/insight/verdicts.js';
import { XdpAction } from '../../src/kernel/index.js';
import { parsePrefix } from '../../src/util/ip.js';
import { buildCorpus, CORPUS_BLOCKED, CORPUS_RULES, type CorpusCase } from '../helpers/corpus.js';
import { MAC_A, MAC_B } from '../helpers/packets.js';
import { privilegedSkip } from '../helpers/privileged.js';
import { TcAction, tcRun } from '../helpers/tc-run.js';
import { Topology } from '../helpers/topology.js';

const skip = privilegedSkip();

const corpus = buildCorpus({
  client4: '10.231.1.2',
  server4: '10.231.2.2',
  client6: 'fd31:1::2',
  server6: 'fd31:2::2',
  routerMac: MAC_B,
  clientMac: MAC_A,
});

/** A pipeline program run on one frame: whether it dropped it, and its action. */
type Judge = (data: Buffer) => { dropped: boolean; action: number };
const xdpJudge =
  (dp: Dataplane): Judge =>
  (data) => {
    const action = dp.pipeline.xdp.testRunSync({ data }).retval;
    return { dropped: action === XdpAction.DROP, action };
  };

/** Runs each case's frames through the pipeline (pw_xdp unless `judge` says) in order;
 * returns the cases whose verdicts break their class. */
function misjudged(dp: Dataplane, cases: CorpusCase[], judge: Judge = xdpJudge(dp)): string[] {
  const out: string[] = [];
  for (const c of cases) {
    const results = c.frames.map((data) => ({ data, ...judge(data) }));
    const dropped = results.map((r) => r.dropped);
    // An attack fails if the kernel can get the whole datagram: a fragment dropped is enough
    // (the kernel's reassembly never completes), an overlapping one excepted (the datagram
    // without it is whole); the e2e test asks the kernel itself.
    const wrong = c.class === 'drop' ? !dropped.some(Boolean) : c.class === 'pass' ? dropped.some(Boolean) : false;
    if (wrong) {
      // The reasons, for the message: a trace changes nothing (no fragment state either).
      const reasons = results.map((r) => `${r.dropped ? 'drop' : r.action}/${reasonName(dp.trace(r.data).reason)}`);
      out.push(`${c.class}: ${c.name}: ${reasons.join(', ')}`);
    }
  }
  return out;
}

describe('the crafted-packet corpus through the pipeline', { skip, timeout: 5 * 60_000 }, () => {
  let topo: Topology;
  let dp: Dataplane;
  let relaxed: Dataplane;
  let tcOnly: Dataplane; // its own fragment state: the TC pipeline meets each fragment first
  const instances: string[] = [];

  const protect = (d: Dataplane) => {
    d.filter.setRules(CORPUS_RULES.map((r, i) => parseRuleTokens(r.split(' '), (k) => `rule ${i + 1} token ${k}`)));
    d.filter.block(CORPUS_BLOCKED.map((p) => parsePrefix(p)));
  };

  before(async () => {
    topo = new Topology('cr');
    for (const suffix of ['', 'x', 't']) {
      instances.push(topo.prefix + suffix);
      topo.recordInstance(topo.prefix + suffix);
    }
    dp = await Dataplane.open(instances[0]);
    relaxed = await Dataplane.open(instances[1], { unclassified: 'pass' });
    tcOnly = await Dataplane.open(instances[2]);
    protect(dp);
    protect(relaxed);
    protect(tcOnly);
  });
  after(() => {
    dp?.close();
    relaxed?.close();
    tcOnly?.close();
    for (const i of instances) Pipeline.down(i);
    topo?.destroy();
  });

  it(`drops every frame of each attack and none of legitimate traffic (${corpus.length} cases)`, () => {
    assert.ok(corpus.filter((c) => c.class === 'drop').length >= 30 && corpus.some((c) => c.class === 'pass'));
    assert.deepEqual(misjudged(dp, corpus), []);
  });

  it('drops the same through the TC pipeline, on socket buffers', () => {
    const tc = tcOnly.pipeline.tc!;
    const refused: Buffer[] = []; // frames the kernel's test run makes no socket buffer of
    const judge: Judge = (data) => {
      try {
        const action = tcRun(tc, data);
        return { dropped: action === TcAction.SHOT, action };
      } catch (e) {
        if ((e as { code?: string }).code !== 'PW_ERR_INVALID') throw e;
        refused.push(data);
        return { dropped: false, action: -1 };
      }
    };
    assert.deepEqual(misjudged(tcOnly, corpus, judge), []);
    // Only frames whose fate is the kernel's anyway (an IPv4 header cut short, which its test
    // run refuses to build a socket buffer from).
    const classes = new Set(refused.map((f) => corpus.find((c) => c.frames.includes(f))!.class));
    assert.ok(refused.length <= 2 && [...classes].every((c) => c === 'kernel'), `${refused.length} refused: ${[...classes]}`);
  });

  it("drops a dropped first fragment's later fragments, and later fragments that come first", () => {
    const cases = corpus.filter((c) =>
      /whole TCP header in the first fragment|reverse order|behind hop-by-hop \(unfragmentable\)/.test(c.name),
    );
    assert.equal(cases.length, 5);
    for (const c of cases) {
      const actions = c.frames.map((data) => dp.pipeline.xdp.testRunSync({ data }).retval);
      assert.deepEqual(actions, Array(c.frames.length).fill(XdpAction.DROP), c.name);
    }
  });

  it('counts every count rule a packet matches before the rule that drops it', () => {
    const counters = dp.filter.ruleCounters();
    const rules = dp.filter.rules();
    const counts = rules.slice(0, 10).map((r) => counters.get(r.id)!.packets);
    assert.ok(counts[0]! > 0, 'the count rules saw TCP');
    assert.deepEqual(counts, Array(10).fill(counts[0]), 'each of the ten count rules counted the same packets');
    assert.ok(counters.get(rules[10]!.id)!.packets > 0, 'and the drop rule after them still decided');
  });

  it('with pipeline.unclassified: pass, passes what it cannot classify but still drops fragment attacks', () => {
    const byName = (s: string) => corpus.filter((c) => c.name.includes(s));
    const unclassifiable = byName('beyond the parser');
    assert.equal(unclassifiable.length, 1);
    assert.deepEqual(
      misjudged(
        relaxed,
        unclassifiable.map((c) => ({ ...c, class: 'pass' as const })),
      ),
      [],
    );
    // A tiny first fragment and an RFC 7112 first fragment are attacks, whatever the setting.
    const tiny = byName('tiny first fragment').map((c) => ({ ...c, frames: c.frames.slice(0, 1) }));
    const rfc7112 = byName('RFC 7112').map((c) => ({ ...c, frames: c.frames.slice(0, 1) }));
    assert.equal(tiny.length + rfc7112.length, 3);
    assert.deepEqual(misjudged(relaxed, [...tiny, ...rfc7112]), []);
  });
});
