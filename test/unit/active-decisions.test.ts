/**
 * What the decisions keep in memory beside their store (control/active-decisions.ts), and the
 * key set the repair and the start compare the blocklists with (filter/block-key-set.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ActiveDecisions, blockKeyOf, type HeldDecision } from '../../src/control/active-decisions.js';
import { BlockKeySet } from '../../src/filter/block-key-set.js';
import { prefix4Code } from '../../src/filter/blocklist.js';

const block = (id: string, expiresMs = 1): HeldDecision => ({ id, action: 'block', rate: null, burst: null, expiresMs });

describe('decisions held in memory', () => {
  it('holds several decisions on a prefix, counts them, and forgets a prefix with its last', () => {
    const a = new ActiveDecisions();
    a.add('192.0.2.0/24', block('a'));
    a.add('192.0.2.0/24', { id: 'b', action: 'limit', rate: 10, burst: 10, expiresMs: 2 });
    a.add('2001:db8::/32', block('c'));
    assert.equal(a.size, 3);
    assert.equal([...a.targets()].length, 2);
    assert.deepEqual(
      a.on('192.0.2.0/24').map((d) => d.id),
      ['a', 'b'],
    );
    a.remove('192.0.2.0/24', 'a');
    assert.deepEqual(
      a.on('192.0.2.0/24').map((d) => d.id),
      ['b'],
    );
    a.remove('192.0.2.0/24', 'nope');
    a.remove('198.51.100.0/24', 'b');
    assert.equal(a.size, 2, 'an unknown id or prefix changes nothing');
    a.remove('192.0.2.0/24', 'b');
    assert.deepEqual(a.on('192.0.2.0/24'), []);
    assert.deepEqual([...a.targets()], ['2001:db8::/32']);
    assert.equal(a.size, 1);
  });

  it('loads the store rows in force, replacing what it held', () => {
    const a = new ActiveDecisions();
    a.add('203.0.113.1/32', block('old'));
    a.load([
      ['x', 'block', '10.0.0.0/8', null, null, 5],
      ['y', 'limit', '10.0.0.0/8', 50, 60, 7],
    ]);
    assert.equal(a.size, 2);
    assert.deepEqual(a.on('203.0.113.1/32'), []);
    assert.deepEqual(a.on('10.0.0.0/8')[1], { id: 'y', action: 'limit', rate: 50, burst: 60, expiresMs: 7 });
  });

  it('keys a prefix as the blocklist walks do', () => {
    assert.equal(blockKeyOf('10.1.0.0/16'), prefix4Code(0x0a010000, 16));
    assert.equal(blockKeyOf('2001:db8::/32'), '2001:db8::/32');
  });
});

describe('a set of blocklist keys', () => {
  it('finds each IPv4 code and IPv6 text added, past its first growth, and nothing else', () => {
    const s = new BlockKeySet();
    const codes = Array.from({ length: 5000 }, (_, i) => prefix4Code((i * 2654435761) >>> 0, 32));
    for (const c of codes) s.add(c);
    s.add('2001:db8::/48');
    for (const c of codes) assert.ok(s.has(c));
    assert.ok(s.has('2001:db8::/48'));
    assert.ok(!s.has(prefix4Code(0x0a000000, 8)));
    assert.ok(!s.has('2001:db8::/32'));
    s.add(prefix4Code(0x0a000000, 8)); // added after a search: sorted again
    assert.ok(s.has(prefix4Code(0x0a000000, 8)));
    const sorted = s.codes4();
    assert.equal(sorted.length, 5001);
    for (let i = 1; i < sorted.length; i++) assert.ok(sorted[i - 1]! <= sorted[i]!);
    assert.deepEqual([...s.texts6()], ['2001:db8::/48']);
  });
});
