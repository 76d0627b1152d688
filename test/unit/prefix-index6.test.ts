/** The IPv6 prefix index against a plain Map: adds, deletes (entries moved back into the gap),
 * lookups of unmasked addresses, growth, and an index over a parsed batch's arrays. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { hashPrefix6, PrefixIndex6 } from '../../src/routing/prefix-index6.js';
import { formatIpv6, maskAddr } from '../../src/util/ip.js';
import { rng } from '../helpers/rng.js';

describe('IPv6 prefix index', () => {
  it('agrees with a Map through random adds and deletes, on a table that grows and wraps', () => {
    const rand = rng(61);
    const ids = 4000;
    const keys = new Uint8Array(16 * ids);
    const plens = new Uint8Array(ids).fill(255);
    const idx = new PrefixIndex6(keys, 16, 0, plens);
    const model = new Map<string, number>();
    const text = (a: Uint8Array, p: number) => `${formatIpv6(maskAddr(a, p))}/${p}`;
    const free: number[] = Array.from({ length: ids - 1 }, (_, i) => i + 1);
    const live: number[] = [];
    // Few distinct addresses and lengths, so keys collide and probe runs are long.
    const randomAddr = () => {
      const a = new Uint8Array(16);
      a[0] = 0x20;
      a[1] = Math.floor(rand() * 4);
      a[5] = Math.floor(rand() * 32);
      a[15] = Math.floor(rand() * 3);
      return a;
    };
    for (let step = 0; step < 20_000; step++) {
      if (live.length && (rand() < 0.3 || !free.length)) {
        const k = Math.floor(rand() * live.length);
        const id = live[k]!;
        live.splice(k, 1);
        assert.equal(idx.delete(id), true);
        assert.equal(idx.delete(id), false, 'gone once deleted');
        model.delete(text(keys.subarray(16 * id, 16 * id + 16), plens[id]!));
        plens[id] = 255;
        free.push(id);
      } else {
        const a = randomAddr();
        const p = [16, 32, 48, 64, 127, 128][Math.floor(rand() * 6)]!;
        const t = text(a, p);
        const masked = maskAddr(a, p);
        const id = free.pop()!;
        keys.set(masked, 16 * id);
        plens[id] = p;
        const had = model.get(t);
        assert.equal(idx.addUnlessPresent(id) || undefined, had, `add ${t}`);
        if (had === undefined) {
          model.set(t, id);
          live.push(id);
        } else {
          plens[id] = 255;
          free.push(id);
        }
      }
      if (step % 20 === 0) {
        assert.equal(idx.size, model.size);
        for (const [t, id] of model) {
          const p = t.split('/')[1]!;
          // Looked up by the stored key with junk past the prefix: masked away.
          const q = Uint8Array.from(keys.subarray(16 * id, 16 * id + 16));
          for (let bit = Number(p); bit < 128; bit++) if (rand() < 0.5) q[bit >> 3]! |= 0x80 >> (bit & 7);
          assert.equal(idx.get(q, 0, Number(p)), id, `find ${t}`);
        }
        assert.deepEqual(
          [...idx.values()],
          [...model.values()].sort((x, y) => x - y),
          'values: every id once, ascending',
        );
      }
    }
    assert.ok(model.size > 200, `a table of some size at the end (${model.size})`);
  });

  it('finds every entry after deletes in probe runs that wrap past the end of the table', () => {
    // /64s whose home slot (of 64) is one of the last four or the first two: their runs wrap.
    const keys = new Uint8Array(16 * 64);
    const plens = new Uint8Array(64).fill(255);
    const picked: number[] = [];
    for (let n = 0; picked.length < 24; n++) {
      const a = new Uint8Array(16);
      new DataView(a.buffer).setUint32(0, 0x20010db8);
      new DataView(a.buffer).setUint32(4, n);
      const home = hashPrefix6(a, 0, 64) & 63;
      if (home < 60 && home > 1) continue;
      const id = picked.length + 1;
      keys.set(a, 16 * id);
      plens[id] = 64;
      picked.push(id);
    }
    const rand = rng(7);
    for (let round = 0; round < 200; round++) {
      const idx = new PrefixIndex6(keys, 16, 0, plens); // 64 slots: 24 entries fit without growing
      for (const id of picked) idx.add(id);
      const order = [...picked].sort(() => rand() - 0.5);
      for (let k = 0; k < order.length; k++) {
        assert.equal(idx.delete(order[k]!), true);
        for (const id of order.slice(k + 1)) assert.equal(idx.get(keys, 16 * id, 64), id, `round ${round}: ${id} after deleting ${k + 1}`);
      }
      assert.equal(idx.size, 0);
    }
  });

  it('indexes a batch in place: line i is id i + 1, its address at 16 * i', () => {
    const addr = new Uint8Array(16 * 3);
    const plen = Uint8Array.from([48, 32, 48]);
    addr.set([0x20, 0x01, 0x0d, 0xb8, 0, 1], 0); // 2001:db8:1::/48
    addr.set([0x20, 0x01, 0x0d, 0xb8], 16); // 2001:db8::/32
    addr.set([0x20, 0x01, 0x0d, 0xb8, 0, 1], 32); // 2001:db8:1::/48 again
    const idx = new PrefixIndex6(addr, 16, -16, plen, -1, 3);
    assert.equal(idx.addUnlessPresent(1), 0);
    assert.equal(idx.addUnlessPresent(2), 0);
    assert.equal(idx.addUnlessPresent(3), 1, 'line 3 repeats line 1');
    assert.equal(idx.get(addr, 16, 32), 2);
    assert.equal(idx.get(addr, 0, 32), 2, 'a /48 address asked at /32 is the /32');
    assert.equal(idx.get(addr, 16, 48), undefined);
  });
});
