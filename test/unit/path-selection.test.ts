/**
 * Path quality and selection as pure logic, on simulated probe streams (seeded): what the
 * estimators report, when a path falls and comes back, and whether the policies switch when
 * they should and only then. The same logic runs on real probes in test/e2e/path-failover.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { bucketCounts, resilientBuckets } from '../../src/routing/ecmp.js';
import { PathSelector, type MemberInput } from '../../src/routing/path-policy.js';
import { DEFAULT_QUALITY, PathQuality } from '../../src/routing/path-quality.js';
import { rng } from '../helpers/rng.js';

const input = (q: PathQuality, extra: Partial<MemberInput> = {}): MemberInput => ({
  weight: 1,
  state: q.state,
  rtt: q.rtt,
  rttvar: q.rttvar,
  jitter: q.jitter,
  loss: q.lossRatio,
  loadBps: 0,
  capacityBps: 0,
  ...extra,
});

/** Runs two paths probed every 100 ms (±10 %) for `ms`; rtt(i, t) gives each probe's RTT (NaN: lost). */
function simulate(
  sel: PathSelector,
  ms: number,
  rtt: (path: number, t: number) => number,
  seed = 1,
): { switches: { at: number; to: number[] | null }[]; qs: PathQuality[] } {
  const r = rng(seed);
  const qs = [new PathQuality(DEFAULT_QUALITY, 0), new PathQuality(DEFAULT_QUALITY, 0)];
  const next = [r() * 100, r() * 100];
  const switches: { at: number; to: number[] | null }[] = [];
  for (let t = 0; t < ms; t += 1) {
    for (let i = 0; i < 2; i++) {
      if (t < next[i]!) continue;
      const v = rtt(i, t);
      if (Number.isNaN(v)) qs[i]!.loss(t);
      else qs[i]!.answer(v, t);
      next[i] = t + 100 * (0.9 + 0.2 * r());
      const d = sel.decide(
        qs.map((q) => input(q)),
        t,
      );
      if (d) switches.push({ at: t, to: d.shares });
    }
  }
  return { switches, qs };
}

describe('path quality', () => {
  it('smooths RTT, tracks jitter and loss, and reports percentiles', () => {
    const q = new PathQuality();
    const r = rng(7);
    for (let i = 0; i < 200; i++) {
      if (i % 10 === 9) q.loss(i * 100);
      else q.answer(20 + (r() * 8 - 4), i * 100);
    }
    const v = q.view(20_000);
    assert.ok(Math.abs(v.srtt - 20) < 1.5, `srtt ${v.srtt}`);
    assert.ok(v.p50 > 18 && v.p50 < 22 && v.p95 > 22 && v.p95 <= 24, `p50 ${v.p50} p95 ${v.p95}`);
    assert.ok(v.jitter > 1.5 && v.jitter < 4, `jitter ${v.jitter}`);
    assert.ok(Math.abs(v.loss - 0.1) < 0.03, `loss ${v.loss}`);
    assert.equal(v.state, 'degraded', '10 % loss degrades the path');
    assert.equal(v.shifts, 0, 'jitter within its band is no level shift');
  });

  it('follows a level shift after two samples, not after one outlier', () => {
    const q = new PathQuality();
    for (let i = 0; i < 50; i++) q.answer(1, i * 100);
    q.answer(40, 5000);
    q.answer(1, 5100);
    assert.ok(q.srtt < 10 && q.srtt > 1, `one outlier counts, and moves little: ${q.srtt}`);
    q.answer(51, 5200);
    q.answer(51, 5300);
    assert.equal(q.srtt, 51, 'two in a row: reset to the new level');
    assert.equal(q.shifts, 1);
  });

  it('falls after 3 losses, recovers only after 10 answers, and a late answer takes a loss back', () => {
    const q = new PathQuality();
    q.answer(1, 0);
    q.loss(100);
    q.loss(200);
    q.lateAnswer(150, 260);
    q.loss(300);
    assert.equal(q.state, 'degraded', 'a late answer breaks the run of losses');
    q.loss(400);
    q.loss(500);
    q.loss(600);
    assert.equal(q.state, 'down');
    for (let i = 0; i < 9; i++) q.answer(1, 700 + i * 100);
    assert.equal(q.state, 'down', 'nine answers are not enough');
    q.answer(1, 1600);
    assert.notEqual(q.state, 'down');
  });

  it('damps a flapping path: suppressed after repeated falls until the penalty decays', () => {
    const q = new PathQuality();
    let t = 0;
    const flap = () => {
      for (let i = 0; i < 3; i++) q.loss((t += 100));
      for (let i = 0; i < 10; i++) q.answer(1, (t += 100));
    };
    flap();
    flap();
    assert.notEqual(q.state, 'down', 'two falls: not suppressed yet');
    flap();
    assert.equal(q.state, 'down', 'the third fall within a half-life suppresses');
    assert.ok(q.view(t).suppressed);
    // Answers keep coming; it stays down until the penalty halves below reuse.
    for (let i = 0; i < 100; i++) q.answer(1, (t += 100));
    assert.equal(q.state, 'down', `still suppressed 10 s later (penalty ${q.penaltyAtTime(t).toFixed(0)})`);
    for (let i = 0; i < 200; i++) q.answer(1, (t += 100));
    assert.equal(q.state, 'up', `reused once the penalty decayed (${q.penaltyAtTime(t).toFixed(0)})`);
  });
});

describe('path selection', () => {
  it('lowest-latency: a 50 ms step on the active path moves traffic within two probes', () => {
    const sel = new PathSelector('lowest-latency');
    const stepAt = 10_000;
    const { switches } = simulate(sel, 20_000, (i, t) => (i === 0 ? (t >= stepAt ? 51 : 1) : 2));
    assert.deepEqual(switches[0]!.to, [1, 0], 'starts on the faster path');
    const moved = switches.find((s) => s.at >= stepAt);
    assert.ok(moved, 'switched after the step');
    assert.deepEqual(moved.to, [0, 1]);
    assert.ok(moved.at - stepAt <= 250, `within ~2 probes: ${moved.at - stepAt} ms`);
    assert.equal(switches.length, 2, 'and no other switch');
  });

  it('lowest-latency: a dead path is left after 3 lost probes; it must recover before it gets traffic back', () => {
    const sel = new PathSelector('lowest-latency');
    const { switches } = simulate(sel, 30_000, (i, t) => (i === 0 ? (t >= 10_000 && t < 20_000 ? NaN : 1) : 3));
    const left = switches.find((s) => s.at >= 10_000)!;
    assert.deepEqual(left.to, [0, 1]);
    assert.ok(left.at - 10_000 <= 400, `left after ~3 probes (${left.at - 10_000} ms)`);
    const back = switches.find((s) => s.at >= 20_000)!;
    assert.deepEqual(back.to, [1, 0]);
    assert.ok(back.at - 20_000 >= 900, `back only after 10 answers and the hold (${back.at - 20_000} ms)`);
  });

  it('lowest-latency: equal paths jittering 20 ± 4 ms: no switch in 10 minutes', () => {
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const sel = new PathSelector('lowest-latency');
      const r = rng(seed * 97);
      const { switches, qs } = simulate(sel, 600_000, () => 20 + (r() * 8 - 4), seed);
      assert.equal(
        switches.length,
        1,
        `seed ${seed}: only the first decision (${JSON.stringify(switches.slice(0, 4))}, ${JSON.stringify(qs.map((q) => q.view(0)))})`,
      );
    }
  });

  it('lowest-latency: two probes 6 ms slow on a path jittering 20 ± 4 ms move nothing', () => {
    // Two samples out of the band restart the path's estimate at their level, with a deviation
    // of about 0; judged by that alone, the other path's lead looked clear of its margin and
    // switched (or switched back) 11 times over these 220 spikes, before the RTT came back
    // (46 times with 8 ms spikes, where the jitter kept in the margin lets 2 through).
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) {
      const sel = new PathSelector('lowest-latency');
      const r = rng(seed * 13);
      let lastSpike = 0;
      let slowLeft = 0;
      const { switches } = simulate(
        sel,
        120_000,
        (i, t) => {
          const inUse = sel.shares?.indexOf(1) ?? 0;
          if (i === inUse && t > 10_000 && t - lastSpike > 5_000) {
            lastSpike = t;
            slowLeft = 2;
          }
          const slow = i === inUse && slowLeft > 0 ? (slowLeft--, 6) : 0;
          return 20 + (r() * 8 - 4) + slow;
        },
        seed,
      );
      assert.equal(switches.length, 1, `seed ${seed}: only the first decision (${JSON.stringify(switches.slice(0, 4))})`);
    }
  });

  it('lowest-latency: a lead inside the margins (0.4 ms, under 1 ms and 10 %) does not switch', () => {
    const sel = new PathSelector('lowest-latency');
    const { switches } = simulate(sel, 60_000, (i) => (i === 0 ? 4 : 3.6));
    assert.equal(switches.length, 1, 'only the first decision (the first member, RTTs unknown)');
    assert.deepEqual(switches[0]!.to, [1, 0]);
  });

  it('every path down: the fallback; a path back: traffic back', () => {
    const sel = new PathSelector('weighted');
    const { switches } = simulate(sel, 20_000, (_i, t) => (t >= 5000 && t < 10_000 ? NaN : 1));
    assert.ok(switches.some((s) => s.to === null));
    assert.deepEqual(switches.at(-1)!.to, [0.5, 0.5]);
  });

  it('latency-weighted: shares by inverse RTT, cut by loss', () => {
    const sel = new PathSelector('latency-weighted');
    const m = (rtt: number, loss = 0): MemberInput => ({ weight: 1, state: 'up', rtt, rttvar: 0, loss, loadBps: 0, capacityBps: 0 });
    const w = sel.wanted([m(10), m(30)]);
    assert.ok(Math.abs(w[0]! - 0.75) < 1e-9 && Math.abs(w[1]! - 0.25) < 1e-9, JSON.stringify(w));
    const lossy = sel.wanted([m(10, 0.5), m(10)]);
    assert.ok(Math.abs(lossy[0]! - 0.2) < 1e-9, JSON.stringify(lossy));
  });

  it('load-aware: fills the best path to its target utilisation, spills the rest', () => {
    const sel = new PathSelector('load-aware', undefined, 0.8);
    const m = (rtt: number, loadBps: number, capacityBps: number): MemberInput => ({
      weight: 1,
      state: 'up',
      rtt,
      rttvar: 0,
      loss: 0,
      loadBps,
      capacityBps,
    });
    // Demand 1.2 Gbit/s; the fast path holds 0.8 of 1 Gbit/s, the rest goes to the slower.
    const w = sel.wanted([m(5, 1.2e9, 1e9), m(9, 0, 1e9)]);
    assert.ok(Math.abs(w[0]! - 0.8 / 1.2) < 1e-9, JSON.stringify(w));
    // Little demand: all on the fastest.
    assert.deepEqual(sel.wanted([m(9, 1e6, 1e9), m(5, 0, 1e9)]), [0, 1]);
  });
});

describe('resilient buckets', () => {
  it('moves only the buckets that must move', () => {
    const start = resilientBuckets(new Array<number>(64).fill(-1), [1, 1, 1, 1]);
    assert.deepEqual(bucketCounts([1, 1, 1, 1]), [16, 16, 16, 16]);
    // Member 3 leaves: only its 16 buckets move.
    const after = resilientBuckets(start, [1, 1, 1, 0]);
    const moved = start.filter((m, b) => m !== after[b]).length;
    assert.equal(moved, 16);
    assert.ok(
      start.every((m, b) => m === 3 || after[b] === m),
      'no bucket of another member moved',
    );
    // It comes back: again only 16 move.
    const back = resilientBuckets(after, [1, 1, 1, 1]);
    assert.equal(after.filter((m, b) => m !== back[b]).length, 16);
    // Weights 1:1:2 over three members.
    assert.deepEqual(bucketCounts([1, 1, 2]), [16, 16, 32]);
  });
});
