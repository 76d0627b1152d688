/**
 * The monotonic-to-epoch offset: found to the microsecond though Date.now() has milliseconds,
 * kept while the wall clock runs on, found again when the wall clock steps.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { EpochClock, monoToEpochOffsetNs } from '../../src/util/clock.js';

/** A monotonic clock that advances 7.3 µs per read, and a wall clock `offset` ahead of it in ms. */
function fakeClocks(offsetNs: bigint) {
  const t = { mono: 5_000_000_123n, offset: offsetNs };
  return {
    t,
    wallMs: () => Number((t.mono + t.offset) / 1_000_000n),
    monoNs: () => (t.mono += 7_300n),
  };
}

const abs = (n: bigint) => (n < 0n ? -n : n);

describe('EpochClock', () => {
  it('finds the offset to within a read of the clocks, not to the millisecond', () => {
    const f = fakeClocks(1_700_000_000_000_456_789n);
    const c = new EpochClock(f.wallMs, f.monoNs);
    const got = c.offset();
    assert.ok(abs(got - f.t.offset) < 15_000n, `offset ${got - f.t.offset} ns off`);
  });

  it('keeps the offset while the clocks run on', () => {
    const f = fakeClocks(1_700_000_000_000_456_789n);
    const c = new EpochClock(f.wallMs, f.monoNs);
    const first = c.offset();
    for (let i = 0; i < 1000; i++) {
      f.t.mono += 123_457n;
      assert.equal(c.offset(), first);
    }
  });

  it('finds it again when the wall clock steps, either way', () => {
    const f = fakeClocks(1_700_000_000_000_456_789n);
    const c = new EpochClock(f.wallMs, f.monoNs);
    c.offset();
    for (const step of [2_000_000n, -3_000_000_000n]) {
      f.t.offset += step;
      const got = c.offset();
      assert.ok(abs(got - f.t.offset) < 15_000n, `after a step of ${step} ns: ${got - f.t.offset} ns off`);
    }
  });

  it('falls back to the millisecond when the wall clock does not move', () => {
    let mono = 0n;
    const c = new EpochClock(
      () => 1_700_000_000_000,
      () => (mono += 1_000_000n),
    );
    // 6 ms of waiting for an edge (reads at 1..8 ms), then the millisecond reading at 9 ms.
    assert.equal(c.offset(), 1_700_000_000_000n * 1_000_000n - 9_000_000n);
  });

  it('on this machine: stable, and where Date.now() says', async () => {
    const a = monoToEpochOffsetNs();
    await new Promise((r) => setTimeout(r, 30));
    const b = monoToEpochOffsetNs();
    // Equal, or found again within microseconds after a preemption looked like a step.
    assert.ok(abs(a - b) < 50_000n, `offset moved ${a - b} ns`);
    const wallNs = BigInt(Date.now()) * 1_000_000n;
    const ours = process.hrtime.bigint() + b;
    assert.ok(ours - wallNs >= -1_000_000n && ours - wallNs < 2_000_000n, `ours - Date.now() ${ours - wallNs} ns`);
  });
});
