/** The IPv4 prefix index against a plain Map, through single and bulk operations (batches in
 * address order, in a kernel dump's order, nearly in order and at random, merged with the
 * base, its tombstones and the recent prefixes). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { PrefixIndex4 } from '../../src/routing/prefix-index4.js';
import { rng } from '../helpers/rng.js';

describe('IPv4 prefix index', () => {
  it('agrees with a Map through random sets, deletes and bulk loads', () => {
    const rand = rng(11);
    const idx = new PrefixIndex4();
    const model = new Map<string, number>();
    const key = (a: number, p: number) => `${a}/${p}`;
    let nextId = 1;
    const randomPrefix = () => {
      const plen = Math.floor(rand() * 33);
      const a = (Math.floor(rand() * 4096) * 1048576) >>> 0; // few distinct addresses: collisions
      return { a: plen === 0 ? 0 : (a & ((0xffffffff << (32 - plen)) >>> 0)) >>> 0, p: plen };
    };
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 300; i++) {
        const { a, p } = randomPrefix();
        if (rand() < 0.3) {
          assert.equal(idx.delete(a, p), model.delete(key(a, p)));
        } else {
          const id = nextId++;
          idx.set(a, p, id);
          model.set(key(a, p), id);
        }
      }
      // A bulk load of prefixes not present yet; every fourth one empty (it adds nothing and
      // leaves the single sets and deletes where they are).
      const n = round % 5 === 4 ? 0 : 500;
      const addrs = new Uint32Array(n);
      const plens = new Uint8Array(n);
      const ids = new Uint32Array(n);
      let k = 0;
      while (k < n) {
        const { a, p } = randomPrefix();
        if (model.has(key(a, p)) || [...Array(k).keys()].some((j) => addrs[j] === a && plens[j] === p)) continue;
        addrs[k] = a;
        plens[k] = p;
        ids[k] = nextId++;
        model.set(key(a, p), ids[k]!);
        k++;
      }
      // Batches in address order, as a file of a table comes; in a kernel dump's order (one
      // address's longest prefix first); nearly in order (a few prefixes ahead of a sorted run,
      // as an open reads a table loaded after the host's routes): the paths without a full
      // sort. The rest at random.
      const shape = round % 4;
      if (shape !== 3) {
        const dump = shape === 1;
        const order = [...Array(n).keys()].sort((x, y) => addrs[x]! - addrs[y]! || (dump ? plens[y]! - plens[x]! : plens[x]! - plens[y]!));
        if (shape === 2) order.unshift(...order.splice(n - 20, 20).reverse(), ...order.splice(100, 5));
        const [sa, sp, si] = [
          Uint32Array.from(order, (j) => addrs[j]!),
          Uint8Array.from(order, (j) => plens[j]!),
          Uint32Array.from(order, (j) => ids[j]!),
        ];
        addrs.set(sa);
        plens.set(sp);
        ids.set(si);
      }
      idx.bulkAdd(addrs, plens, ids, n);
      assert.equal(idx.size, model.size);
      for (const [k2, id] of model) {
        const [a, p] = k2.split('/').map(Number);
        assert.equal(idx.get(a!, p!), id, k2);
      }
      for (let i = 0; i < 200; i++) {
        const { a, p } = randomPrefix();
        assert.equal(idx.get(a, p), model.get(key(a, p)));
      }
      assert.deepEqual(
        [...idx.values()].sort((x, y) => x - y),
        [...model.values()].sort((x, y) => x - y),
      );
    }
  });

  it('tells which of many prefixes are present, looking up either side', () => {
    // presentAmong() searches the index's few prefixes among many asked in address order, and
    // otherwise asks the index for each: both must agree with a Set.
    const rand = rng(5);
    const randomPrefix = () => {
      const p = 8 + Math.floor(rand() * 25);
      return { a: ((Math.floor(rand() * 2 ** 32) >>> 0) & ((0xffffffff << (32 - p)) >>> 0)) >>> 0, p };
    };
    for (const [held, asked, ordered] of [
      [0, 500, true],
      [20, 2000, true],
      [20, 2000, false],
      [400, 2000, true],
    ] as const) {
      const idx = new PrefixIndex4();
      const present = new Set<string>();
      const heldList: { a: number; p: number }[] = [];
      for (let i = 0; i < held; i++) {
        const { a, p } = randomPrefix();
        idx.set(a, p, i + 1);
        present.add(`${a}/${p}`);
        heldList.push({ a, p });
      }
      if (held) idx.bulkAdd(new Uint32Array([1]), new Uint8Array([32]), new Uint32Array([held + 1]), 1); // some in the base
      present.add('1/32');
      // The asked: half of the held ones (some of the base), the rest new; distinct.
      const asks = new Map<string, { a: number; p: number }>();
      for (const h of heldList) if (rand() < 0.5) asks.set(`${h.a}/${h.p}`, h);
      if (held) asks.set('1/32', { a: 1, p: 32 });
      while (asks.size < asked) {
        const q = randomPrefix();
        asks.set(`${q.a}/${q.p}`, q);
      }
      const list = [...asks.values()];
      if (ordered) list.sort((x, y) => x.a - y.a || x.p - y.p);
      const out = idx.presentAmong(
        Uint32Array.from(list, (q) => q.a),
        Uint8Array.from(list, (q) => q.p),
        list.length,
      );
      const want = list.map((q) => (present.has(`${q.a}/${q.p}`) ? 1 : 0));
      if (!want.some((w) => w)) assert.equal(out, undefined, `${held} held`);
      else assert.deepEqual([...out!], want, `${held} held, ${asked} asked, ordered ${ordered}`);
    }
  });

  it('finds prefixes at the first and last address of a /16, and ranges across /16s', () => {
    // The base is searched within the /16 of the address asked for: the edges of those
    // blocks, the first and the last, and blocks with nothing in them.
    const idx = new PrefixIndex4();
    const ip = (s: string) => s.split('.').reduce((a, b) => a * 256 + Number(b), 0);
    const prefixes: [string, number][] = [
      ['0.0.0.0', 0],
      ['0.0.0.0', 32],
      ['10.0.0.0', 8],
      ['10.1.0.0', 16],
      ['10.1.255.0', 24],
      ['10.1.255.255', 32],
      ['10.2.0.0', 32],
      ['10.3.0.0', 16],
      ['255.255.0.0', 16],
      ['255.255.255.255', 32],
    ];
    // Half in a bulk load, half one by one (recent), then a bulk load that merges them.
    const half = prefixes.length / 2;
    const bulk = prefixes.slice(0, half);
    idx.bulkAdd(
      Uint32Array.from(bulk, ([a]) => ip(a)),
      Uint8Array.from(bulk, ([, p]) => p),
      Uint32Array.from(bulk, (_, i) => i + 1),
      half,
    );
    prefixes.slice(half).forEach(([a, p], i) => idx.set(ip(a), p, half + i + 1));
    const check = () => {
      prefixes.forEach(([a, p], i) => assert.equal(idx.get(ip(a), p), i + 1, `${a}/${p}`));
      for (const [a, p] of [
        ['10.1.255.255', 31],
        ['10.2.0.0', 16],
        ['10.0.255.255', 32],
        ['128.0.0.0', 1],
        ['255.255.255.254', 32],
      ] as const) {
        assert.equal(idx.get(ip(a), p), undefined, `${a}/${p} is not there`);
      }
      assert.equal(idx.anyWithin(ip('10.1.255.1'), ip('10.2.0.0')), true, 'the range ends on the next /16');
      assert.equal(idx.anyWithin(ip('10.2.0.1'), ip('10.2.255.255')), false);
      assert.equal(idx.anyWithin(ip('10.4.0.0'), ip('192.167.255.255')), false, 'no prefix in the /16s between');
      assert.equal(idx.anyWithin(ip('255.255.255.255'), ip('255.255.255.255')), true);
    };
    check();
    idx.bulkAdd(Uint32Array.of(ip('192.168.0.0')), Uint8Array.of(16), Uint32Array.of(99), 1);
    check();
    assert.equal(idx.get(ip('192.168.0.0'), 16), 99);
    assert.equal(idx.delete(ip('10.1.255.255'), 32), true);
    assert.equal(idx.get(ip('10.1.255.255'), 32), undefined);
  });
});
