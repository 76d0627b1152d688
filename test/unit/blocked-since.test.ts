/**
 * The record of when each config-blocked prefix was first applied: written grouped by time,
 * read back the same; the first form (a key per prefix) still read.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

import { readBlockedSince, writeBlockedSince } from '../../src/control/blocked-since.js';

describe('blocked-since record', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pw-since-'));
  const file = join(dir, 'blocked-since.json');
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writes prefixes grouped by time and reads them back', () => {
    const since = new Map([
      ['192.0.2.0/24', 1_700_000_000_000],
      ['2001:db8::/32', 1_700_000_000_000],
      ['198.51.100.7/32', 1_700_000_123_456],
    ]);
    writeBlockedSince(file, since);
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), {
      v: 2,
      since: { '1700000000000': ['192.0.2.0/24', '2001:db8::/32'], '1700000123456': ['198.51.100.7/32'] },
    });
    assert.deepEqual(readBlockedSince(file), since);
  });

  it('reads the first form, and an absent file as empty', () => {
    writeFileSync(file, JSON.stringify({ '192.0.2.0/24': 1_700_000_000_000, '198.51.100.7/32': 5 }));
    assert.deepEqual(
      readBlockedSince(file),
      new Map([
        ['192.0.2.0/24', 1_700_000_000_000],
        ['198.51.100.7/32', 5],
      ]),
    );
    assert.equal(readBlockedSince(join(dir, 'none.json')).size, 0);
  });
});
