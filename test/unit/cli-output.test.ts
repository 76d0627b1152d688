/** What the CLI prints of lists that can be long (200 interfaces on a container host). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { someOf } from '../../src/cli/output.js';

describe('CLI output of long lists', () => {
  it('names up to eight, then says how many more and where they all are', () => {
    assert.equal(someOf([]), '');
    assert.equal(someOf(['eth0 (native)', 'eth1 (native)']), 'eth0 (native), eth1 (native)');
    const names = Array.from({ length: 8 }, (_, i) => `veth${i}`);
    assert.equal(someOf(names), names.join(', '), 'eight are all named');
    const many = Array.from({ length: 200 }, (_, i) => `veth${i}`);
    assert.equal(someOf(many), `${many.slice(0, 8).join(', ')} and 192 more (--json lists them all)`);
  });
});
