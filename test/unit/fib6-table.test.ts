/**
 * The IPv6 multibit-trie writer against a naive longest-prefix match, over random inserts,
 * replaces and removes of prefixes of every length (nodes split at each byte boundary and
 * fold back), then the real IPv6 table's prefixes.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, it } from 'node:test';

import { EXT } from '../../src/routing/fib4-table.js';
import { Fib6Table, ROOT_ENTRIES } from '../../src/routing/fib6-table.js';
import { maskAddr, parsePrefix } from '../../src/util/ip.js';
import { sharedData } from '../helpers/paths.js';
import { rng } from '../helpers/rng.js';

const hex = (a: Uint8Array) => Buffer.from(a).toString('hex');

function covers(prefix: Uint8Array, plen: number, a: Uint8Array): boolean {
  return hex(maskAddr(a, plen)) === hex(prefix);
}

class Model {
  routes = new Map<string, { addr: Uint8Array; plen: number; id: number }>();
  lookup(a: Uint8Array): number {
    let best = -1;
    let id = 0;
    for (const r of this.routes.values()) {
      if (r.plen > best && covers(r.addr, r.plen, a)) {
        best = r.plen;
        id = r.id;
      }
    }
    return id;
  }
  parent(addr: Uint8Array, plen: number): number {
    let best = -1;
    let id = 0;
    for (const r of this.routes.values()) {
      if (r.plen < plen && r.plen > best && covers(r.addr, r.plen, addr)) {
        best = r.plen;
        id = r.id;
      }
    }
    return id;
  }
}

describe('IPv6 multibit-trie table', () => {
  const root = new Uint32Array(ROOT_ENTRIES);
  const nodes = new Uint32Array(16384 * 256);
  const plens = new Uint8Array(8192).fill(255);
  const table = new Fib6Table(root, nodes, plens);

  it('matches a naive longest-prefix match through inserts, replaces and removes', () => {
    const rand = rng(61);
    const model = new Model();
    let nextId = 1;
    // Prefixes share the first 40 bits now and then, so that they nest and share nodes.
    const base = Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const randomAddr = (near: boolean) => {
      const a = new Uint8Array(16);
      for (let i = 0; i < 16; i++) a[i] = Math.floor(rand() * 256);
      if (near) a.set(base.subarray(0, 2 + Math.floor(rand() * 4)));
      return a;
    };
    const lengths = [0, 3, 8, 15, 16, 17, 23, 24, 25, 32, 33, 40, 44, 47, 48, 49, 56, 64, 100, 120, 127, 128];
    const probe = () => {
      for (let k = 0; k < 200; k++) {
        const a = randomAddr(rand() < 0.8);
        assert.equal(table.lookup(a), model.lookup(a), `lookup of ${hex(a)}`);
      }
      for (const r of model.routes.values()) {
        assert.equal(table.lookup(r.addr), model.lookup(r.addr), `first address of ${hex(r.addr)}/${r.plen}`);
        const last = Uint8Array.from(r.addr);
        for (let bit = r.plen; bit < 128; bit++) last[bit >> 3]! |= 0x80 >> (bit & 7);
        assert.equal(table.lookup(last), model.lookup(last), `last address of ${hex(r.addr)}/${r.plen}`);
      }
    };
    for (let step = 0; step < 800; step++) {
      const plen = lengths[Math.floor(rand() * lengths.length)]!;
      const addr = maskAddr(randomAddr(rand() < 0.85), plen);
      const key = `${hex(addr)}/${plen}`;
      const existing = model.routes.get(key);
      if (existing && rand() < 0.7) {
        table.remove(addr, plen, existing.id, model.parent(addr, plen));
        model.routes.delete(key);
        plens[existing.id] = 255;
      } else {
        // A new prefix, or the same prefix under a new id (a replace).
        const id = nextId++;
        plens[id] = plen;
        table.insert(addr, plen, id);
        if (existing) plens[existing.id] = 255;
        model.routes.set(key, { addr, plen, id });
      }
      if (step % 25 === 0) probe();
    }
    probe();
    assert.ok(table.nodesInUse > 0, 'the test reached below the first level');
    // An adopting table (a restart) counts the same nodes in use.
    assert.equal(new Fib6Table(root, nodes, plens).nodesInUse, table.nodesInUse);
    // Remove everything, longest first: every node folds back and the first level is empty.
    const all = [...model.routes.entries()].sort((a, b) => b[1].plen - a[1].plen);
    for (const [key, r] of all) {
      model.routes.delete(key);
      table.remove(r.addr, r.plen, r.id, model.parent(r.addr, r.plen));
    }
    assert.equal(table.nodesInUse, 0);
    assert.ok(root.every((e) => e === 0));
  });

  it('fills a new node completely before pointing at it, and folds it back', () => {
    const a = parsePrefix('2001:db8::/32');
    const b = parsePrefix('2001:db8:100::/44');
    plens[5000] = 32;
    plens[5001] = 44;
    table.insert(a.addr, 32, 5000);
    table.insert(b.addr, 44, 5001);
    // 2001:db8: first level entry 0x20010d -> node for byte 3 (0xb8) -> node for byte 4
    // (0x01) -> node for byte 5, where the /44 fills 16 entries.
    let e = root[0x20010d]!;
    for (const byte of [0xb8, 0x01]) {
      assert.ok(e & EXT);
      e = nodes[(e & 0x7fffffff) * 256 + byte]!;
    }
    assert.ok(e & EXT);
    const leaf = nodes.subarray((e & 0x7fffffff) * 256, (e & 0x7fffffff) * 256 + 256);
    assert.equal(leaf.filter((x) => x === 5001).length, 16);
    assert.equal(leaf.filter((x) => x === 5000).length, 240);
    table.remove(b.addr, 44, 5001, 5000);
    assert.ok((root[0x20010d]! & EXT) !== 0);
    table.remove(a.addr, 32, 5000, 0);
    assert.equal(root[0x20010d], 0);
    assert.equal(table.nodesInUse, 0);
    plens[5000] = plens[5001] = 255;
  });

  it('says so when nodes run out, before writing anything', () => {
    const smallPlens = new Uint8Array(8).fill(255).fill(40, 1).fill(32, 3);
    const small = new Fib6Table(new Uint32Array(ROOT_ENTRIES), new Uint32Array(2 * 256), smallPlens);
    small.insert(parsePrefix('2001:db8::/40').addr, 40, 1); // two nodes: bytes 3 and 4
    assert.equal(small.nodesFree, 0);
    const before = small.nodes.slice();
    const rootBefore = small.root.slice();
    assert.throws(() => small.insert(parsePrefix('2002:db8::/40').addr, 40, 2), /IPv6 FIB has no free node/);
    assert.deepEqual(small.nodes, before);
    assert.deepEqual(small.root, rootBefore);
    // The /48s share the nodes for bytes 4 and 5 below the one in place for byte 3; the /31
    // ends in byte 3's node.
    small.remove(parsePrefix('2001:db8::/40').addr, 40, 1, 0);
    small.insert(parsePrefix('2001:db8::/32').addr, 32, 3);
    assert.equal(small.nodesFree, 1);
    assert.equal(small.nodesNeededFor([parsePrefix('2001:db8:1::/48'), parsePrefix('2001:db8:2::/48'), parsePrefix('2001:db8::/31')]), 2);
  });

  it('after a restart takes the nodes never used first, then those found free below them', () => {
    // Room for six nodes below the first level; two prefixes under different first-level
    // entries take two nodes each (bytes 3 and 4), the first pair is freed again.
    const root6 = new Uint32Array(ROOT_ENTRIES);
    const nodes6 = new Uint32Array(6 * 256);
    const plens6 = new Uint8Array(8).fill(255).fill(40, 1);
    const p = (text: string) => parsePrefix(text).addr;
    const first = new Fib6Table(root6, nodes6, plens6);
    first.insert(p('2001:db8::/40'), 40, 1);
    first.insert(p('2002:db8::/40'), 40, 2);
    first.remove(p('2001:db8::/40'), 40, 1, 0);
    const nodeOf = (top: number) => root6[top]! & 0x7fffffff; // byte 3's node
    assert.equal(nodeOf(0x20020d), 2, 'the second prefix took nodes 2 and 3');
    // Adopted: nodes 0 and 1 found free below the highest in use, 4 and 5 never used.
    const adopted = new Fib6Table(root6, nodes6, plens6);
    assert.equal(adopted.nodesInUse, 2);
    assert.equal(adopted.nodesFree, 4);
    adopted.insert(p('2003:db8::/40'), 40, 3);
    assert.equal(nodeOf(0x20030d), 4, 'the never-used nodes go first');
    adopted.insert(p('2004:db8::/40'), 40, 4);
    assert.equal(nodeOf(0x20040d), 0, 'then the ones found free');
    assert.equal(adopted.nodesFree, 0);
    for (const [text, id] of [
      ['2002:db8::1', 2],
      ['2003:db8::1', 3],
      ['2004:db8:ff::1', 4],
      ['2001:db8::1', 0],
    ] as const) {
      assert.equal(adopted.lookup(parsePrefix(`${text}/128`).addr), id, text);
    }
  });

  it('holds the real IPv6 table and finds each prefix', () => {
    const prefixes = gunzipSync(readFileSync(join(sharedData, 'routes', 'prefixes.txt.gz')))
      .toString()
      .split('\n')
      .filter((l) => l.includes(':'))
      .map((l) => parsePrefix(l.trim()));
    const bigPlens = new Uint8Array(prefixes.length + 1).fill(255);
    const big = new Fib6Table(new Uint32Array(ROOT_ENTRIES), new Uint32Array(65536 * 256), bigPlens);
    // The nodes the table will take, counted before: the file in address order (counted
    // without a set), the same prefixes shuffled (with one), and with some of them also given
    // one by one (a node is counted once either way).
    const batch = {
      count: prefixes.length,
      addr: new Uint8Array(16 * prefixes.length),
      plen: Uint8Array.from(prefixes, (p) => p.plen),
      at: Uint32Array.from(prefixes.keys()),
    };
    prefixes.forEach((p, i) => batch.addr.set(p.addr, 16 * i));
    const rand = rng(3);
    const shuffled = batch.at.slice();
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    const needed = big.nodesNeededFor([], batch);
    assert.equal(big.nodesNeededFor([], { ...batch, at: shuffled }), needed);
    assert.equal(big.nodesNeededFor(prefixes.slice(5000, 5300), batch), needed);
    const ids = prefixes.map((_, i) => i + 1);
    ids.sort((x, y) => prefixes[x - 1]!.plen - prefixes[y - 1]!.plen);
    for (const id of ids) {
      bigPlens[id] = prefixes[id - 1]!.plen;
      big.insert(prefixes[id - 1]!.addr, prefixes[id - 1]!.plen, id);
    }
    // Each prefix's first address resolves to it or to a longer prefix starting there.
    let own = 0;
    for (const id of ids) {
      const got = big.lookup(prefixes[id - 1]!.addr);
      assert.ok(got === id || bigPlens[got]! > prefixes[id - 1]!.plen, `${id}`);
      if (got === id) own++;
    }
    assert.ok(own > prefixes.length * 0.9);
    assert.equal(big.nodesInUse, needed);
    console.log(`# ${prefixes.length} IPv6 prefixes in ${big.nodesInUse} nodes (${((big.nodesInUse * 1024) / 2 ** 20).toFixed(1)} MiB)`);

    // Half of the table in place (every other prefix), the other half counted before it goes
    // in: in address order, some of its nodes are there already.
    const halfPlens = new Uint8Array(prefixes.length + 1).fill(255);
    const half = new Fib6Table(new Uint32Array(ROOT_ENTRIES), new Uint32Array(65536 * 256), halfPlens);
    const install = (which: number) => {
      for (const id of ids.filter((x) => x % 2 === which)) {
        halfPlens[id] = prefixes[id - 1]!.plen;
        half.insert(prefixes[id - 1]!.addr, prefixes[id - 1]!.plen, id);
      }
    };
    install(0);
    const rest = { ...batch, at: batch.at.filter((i) => i % 2 === 0) }; // ids i + 1 that are odd
    const before = half.nodesInUse;
    const want = half.nodesNeededFor([], rest);
    assert.equal(half.nodesNeededFor([], rest, true), want);
    assert.equal(half.nodesNeededFor([], { ...rest, at: rest.at.slice().reverse() }), want, 'counted with keys, out of order');
    install(1);
    assert.equal(half.nodesInUse - before, want);
    assert.ok(want > 1000 && want < needed / 2, `${want} of ${needed} nodes`);
  });
});
