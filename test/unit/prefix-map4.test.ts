/**
 * PrefixMap4 (routing/prefix-map4.ts), the import view's IPv4 table: random inserts, updates,
 * inserts-if-absent and deletes checked against a JS Map, through growth and tombstones.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { PrefixMap4 } from '../../src/routing/prefix-map4.js';
import { rng } from '../helpers/rng.js';

describe('PrefixMap4', () => {
  it('agrees with a Map through 200,000 random operations', () => {
    const rand = rng(7);
    const m = new PrefixMap4<number>(16);
    const ref = new Map<number, number>();
    // A small address space so that keys repeat: sets overwrite, deletes hit.
    const pick = () => {
      const addr = (Math.floor(rand() * 4096) << 12) >>> 0;
      const plen = 8 + Math.floor(rand() * 25);
      return { addr, plen, key: plen * 2 ** 32 + addr };
    };
    for (let i = 0; i < 200_000; i++) {
      const { addr, plen, key } = pick();
      const op = rand();
      if (op < 0.4) {
        m.set(addr, plen, i);
        ref.set(key, i);
      } else if (op < 0.55) {
        // Over tombstones too: the first free slot it passed, or the empty one it stopped at.
        assert.equal(m.setIfAbsent(addr, plen, i), ref.get(key));
        if (!ref.has(key)) ref.set(key, i);
      } else if (op < 0.85) {
        assert.equal(m.delete(addr, plen), ref.delete(key));
      } else {
        assert.equal(m.get(addr, plen), ref.get(key));
        assert.equal(m.has(addr, plen), ref.has(key));
      }
      assert.equal(m.size, ref.size);
    }
    const seen = new Map<number, number>();
    m.forEach((addr, plen, v) => seen.set(plen * 2 ** 32 + addr, v));
    assert.deepEqual(
      [...seen].sort((a, b) => a[0] - b[0]),
      [...ref].sort((a, b) => a[0] - b[0]),
    );
    m.clear();
    assert.equal(m.size, 0);
    assert.equal(m.get(0, 8), undefined);
  });

  it('keeps the same address with different lengths apart', () => {
    const m = new PrefixMap4<string>();
    m.set(0x0a000000, 8, 'a');
    m.set(0x0a000000, 16, 'b');
    m.set(0x0a000000, 24, 'c');
    assert.deepEqual(
      [m.get(0x0a000000, 8), m.get(0x0a000000, 16), m.get(0x0a000000, 24), m.get(0x0a000000, 32)],
      ['a', 'b', 'c', undefined],
    );
  });
});
