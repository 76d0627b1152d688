/** A rule set's change as diff, apply and history name it (filter/rule-delta.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ruleSetDelta } from '../../src/filter/rule-delta.js';

const rules = (from: number, n: number) => Array.from({ length: n }, (_, i) => `drop proto udp dport ${from + i}`);

describe('rule set delta', () => {
  it('names the rules that went and came, not the ones that stayed', () => {
    const before = ['drop proto udp dport 1', 'pass proto tcp dport 22', 'drop proto tcp dport 23'];
    assert.deepEqual(ruleSetDelta(before, [...before.slice(0, 2), 'count proto udp dport 53', before[2]!]), {
      before: '',
      after: 'count proto udp dport 53',
    });
    assert.deepEqual(ruleSetDelta(before, [before[0]!, before[2]!]), { before: 'pass proto tcp dport 22', after: '' });
    assert.deepEqual(ruleSetDelta(before, [before[0]!, 'pass proto tcp dport 2222', before[2]!]), {
      before: 'pass proto tcp dport 22',
      after: 'pass proto tcp dport 2222',
    });
    assert.deepEqual(ruleSetDelta([], before), { before: '', after: before.join('; ') });
  });

  it('counts a rule listed twice as two', () => {
    const twice = ['drop proto udp dport 1', 'drop proto udp dport 1'];
    assert.deepEqual(ruleSetDelta(twice, ['drop proto udp dport 1']), { before: 'drop proto udp dport 1', after: '' });
  });

  it('says when only the order changed, from where', () => {
    const d = ruleSetDelta(['a', 'b', 'c', 'd'], ['a', 'c', 'b', 'd']);
    assert.deepEqual(d, { before: '', after: 'the same rules in another order from rule 2: c; b' });
  });

  it('names at most 20 rules a side and counts the rest', () => {
    const d = ruleSetDelta(rules(1000, 10_000), rules(20_000, 10_000));
    assert.match(d.before, /^drop proto udp dport 1000; drop proto udp dport 1001; .*; drop proto udp dport 1019; … and 9980 more$/);
    assert.match(d.after, /^drop proto udp dport 20000; .*; … and 9980 more$/);
    assert.ok(d.before.length + d.after.length < 2000);
  });
});
