/**
 * Durations as people write them, and the ones no expiry can hold: a number of seconds past
 * what a date reaches once made an API call that blocked prefixes answer 500 ("Invalid time
 * value"); found by the API fuzz test.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { PwError } from '../../src/errors.js';
import { MAX_DURATION_MS, parseDuration, parseTtl } from '../../src/util/duration.js';

describe('parseDuration', () => {
  it('reads units, their sums and plain seconds', () => {
    assert.equal(parseDuration('90s'), 90_000);
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('2d'), 172_800_000);
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('45'), 45_000);
    assert.equal(parseDuration('36500d'), MAX_DURATION_MS);
  });

  it('refuses what is no duration, and one past 100 years, naming where', () => {
    for (const s of [
      '',
      '10x',
      '1h 30m',
      '-5s',
      '1.5h',
      '36501d',
      '3153600001',
      '9007199254740994',
      '9'.repeat(400),
      `${'9'.repeat(30)}d`,
    ]) {
      assert.throws(
        () => parseDuration(s, 'body.ttl'),
        (e: unknown) => e instanceof PwError && e.code === 'PW_ERR_INVALID' && e.where === 'body.ttl',
        JSON.stringify(s.slice(0, 40)),
      );
    }
  });

  it('a TTL is at least a second: a shorter one would end what it times at once', () => {
    assert.equal(parseTtl('1s'), 1000);
    assert.equal(parseTtl('10m', '--ttl'), 600_000);
    for (const s of ['0', '0s', '999ms'])
      assert.throws(
        () => parseTtl(s, '--ttl'),
        (e: unknown) => e instanceof PwError && e.where === '--ttl' && e.message === `'${s}' is under 1s: what it times would end at once`,
      );
    assert.throws(() => parseTtl('soon', 'body.ttl'), /invalid duration 'soon'/);
  });
});
