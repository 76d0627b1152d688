/**
 * The DIR-24-8 writer against a naive longest-prefix match, over random inserts and removes
 * (including prefixes longer than /24, which split /24s into groups and fold them back).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { EXT, Fib4Table } from '../../src/routing/fib4-table.js';
import { rng } from '../helpers/rng.js';

const mask = (l: number) => (l === 0 ? 0 : (0xffffffff << (32 - l)) >>> 0);

class Model {
  routes = new Map<string, { prefix: number; plen: number; id: number }>();
  lookup(a: number): number {
    let best = -1;
    let id = 0;
    for (const r of this.routes.values()) {
      if (r.plen > best && (a & mask(r.plen)) >>> 0 === r.prefix) {
        best = r.plen;
        id = r.id;
      }
    }
    return id;
  }
  parent(prefix: number, plen: number): number {
    let best = -1;
    let id = 0;
    for (const r of this.routes.values()) {
      if (r.plen < plen && r.plen > best && (prefix & mask(r.plen)) >>> 0 === r.prefix) {
        best = r.plen;
        id = r.id;
      }
    }
    return id;
  }
}

describe('IPv4 DIR-24-8 table', () => {
  const tbl24 = new Uint32Array(1 << 24);
  const tbl8 = new Uint32Array(512 * 256); // one group per /24 of the test /16, and spare
  // Prefix length per route id, 255 = unused (as RouteTable keeps it).
  const plenArr = new Uint8Array(4096).fill(255);
  const plens = {
    set: (id: number, l: number) => void (plenArr[id] = l),
    delete: (id: number) => void (plenArr[id] = 255),
  };
  const table = new Fib4Table(tbl24, tbl8, plenArr);

  it('matches a naive longest-prefix match through inserts and removes', () => {
    const rand = rng(42);
    const model = new Model();
    let nextId = 1;
    // Prefixes cluster in one /16 so that they overlap a lot.
    const base = 0x0a140000;
    const randomPrefix = () => {
      const plen = [0, 8, 12, 16, 20, 23, 24, 25, 26, 28, 30, 32][Math.floor(rand() * 12)]!;
      const addr = plen < 16 ? Math.floor(rand() * 2 ** 32) >>> 0 : (base | Math.floor(rand() * 65536)) >>> 0;
      return { prefix: (addr & mask(plen)) >>> 0, plen };
    };
    const probe = () => {
      for (let k = 0; k < 300; k++) {
        const a = rand() < 0.8 ? (base | Math.floor(rand() * 65536)) >>> 0 : Math.floor(rand() * 2 ** 32) >>> 0;
        assert.equal(table.lookup(a), model.lookup(a), `lookup of ${a.toString(16)}`);
      }
      for (const r of model.routes.values()) {
        assert.equal(table.lookup(r.prefix), model.lookup(r.prefix));
        const last = (r.prefix | (~mask(r.plen) >>> 0)) >>> 0;
        assert.equal(table.lookup(last), model.lookup(last));
      }
    };
    for (let step = 0; step < 600; step++) {
      const { prefix, plen } = randomPrefix();
      const key = `${prefix}/${plen}`;
      const existing = model.routes.get(key);
      if (existing && rand() < 0.7) {
        const parent = model.parent(prefix, plen);
        table.remove(prefix, plen, existing.id, parent);
        model.routes.delete(key);
        plens.delete(existing.id);
      } else if (existing) {
        // Same prefix, new id: a replace.
        const id = nextId++;
        plens.set(id, plen);
        table.insert(prefix, plen, id);
        plens.delete(existing.id);
        model.routes.set(key, { prefix, plen, id });
      } else {
        const id = nextId++;
        plens.set(id, plen);
        table.insert(prefix, plen, id);
        model.routes.set(key, { prefix, plen, id });
      }
      if (step % 20 === 0) probe();
    }
    probe();
    // Remove everything: the table must be empty and every group folded back and free.
    const all = [...model.routes.entries()].sort((a, b) => b[1].plen - a[1].plen);
    for (const [key, r] of all) {
      model.routes.delete(key);
      table.remove(r.prefix, r.plen, r.id, model.parent(r.prefix, r.plen));
    }
    assert.equal(table.groupsInUse, 0);
    assert.ok(tbl24.every((e) => e === 0));
  });

  for (const order of ['length', 'address'] as const) {
    it(`writes a bulk load in ${order} order, with one fill where nothing longer is inside`, () => {
      // What RouteTable.addV4Bulk does: routes already in place (some longer than /24, so with
      // groups), then a batch in ascending length, or in address order (then length) when it
      // comes so: either way each prefix before those inside it. A prefix of /24 or shorter that
      // no route in place lies inside is filled at once, any other one takes the entry-by-entry path.
      const rand = rng(9);
      const model = new Model();
      const base = 0x0a140000;
      let nextId = 2000;
      const randomPrefix = (lengths: number[]) => {
        const plen = lengths[Math.floor(rand() * lengths.length)]!;
        const addr = plen < 16 ? Math.floor(rand() * 2 ** 32) >>> 0 : (base | Math.floor(rand() * 65536)) >>> 0;
        return { prefix: (addr & mask(plen)) >>> 0, plen };
      };
      const before: { prefix: number; plen: number; id: number }[] = [];
      for (let i = 0; i < 60; i++) {
        const { prefix, plen } = randomPrefix([20, 24, 26, 30, 32]);
        if (model.routes.has(`${prefix}/${plen}`)) continue;
        const r = { prefix, plen, id: nextId++ };
        plens.set(r.id, plen);
        table.insert(prefix, plen, r.id);
        model.routes.set(`${prefix}/${plen}`, r);
        before.push(r);
      }
      const batch: { prefix: number; plen: number; id: number }[] = [];
      for (let i = 0; i < 400; i++) {
        const { prefix, plen } = randomPrefix([8, 12, 16, 18, 20, 22, 23, 24, 25, 28]);
        if (model.routes.has(`${prefix}/${plen}`)) continue;
        const r = { prefix, plen, id: nextId++ };
        model.routes.set(`${prefix}/${plen}`, r);
        batch.push(r);
      }
      batch.sort(order === 'length' ? (a, b) => a.plen - b.plen : (a, b) => a.prefix - b.prefix || a.plen - b.plen);
      let filled = 0;
      for (const r of batch) {
        const hi = r.prefix + 2 ** (32 - r.plen) - 1;
        const nothingLonger = r.plen <= 24 && !before.some((b) => b.prefix >= r.prefix && b.prefix <= hi);
        if (nothingLonger) filled++;
        plens.set(r.id, r.plen);
        table.insert(r.prefix, r.plen, r.id, nothingLonger);
      }
      assert.ok(filled > 50 && filled < batch.length, `${filled} of ${batch.length} filled at once`);
      for (let k = 0; k < 3000; k++) {
        const a = rand() < 0.8 ? (base | Math.floor(rand() * 65536)) >>> 0 : Math.floor(rand() * 2 ** 32) >>> 0;
        assert.equal(table.lookup(a), model.lookup(a), `lookup of ${a.toString(16)}`);
      }
      for (const r of model.routes.values()) assert.equal(table.lookup(r.prefix), model.lookup(r.prefix));
      // Clean up for the tests after: longest first.
      for (const r of [...model.routes.values()].sort((a, b) => b.plen - a.plen)) {
        model.routes.delete(`${r.prefix}/${r.plen}`);
        table.remove(r.prefix, r.plen, r.id, model.parent(r.prefix, r.plen));
        plens.delete(r.id);
      }
      assert.equal(table.groupsInUse, 0);
    });
  }

  it('fills a new group completely before pointing at it', () => {
    plens.set(900, 8);
    table.insert(0x0b000000, 8, 900);
    plens.set(901, 28);
    table.insert(0x0b010210, 28, 901);
    const e = tbl24[0x0b0102]!;
    assert.ok(e & EXT);
    const g = e & 0x7fffffff;
    const group = tbl8.subarray(g * 256, g * 256 + 256);
    assert.equal(group.filter((x) => x === 900).length, 256 - 16);
    assert.equal(group.filter((x) => x === 901).length, 16);
    table.remove(0x0b010210, 28, 901, 900);
    assert.equal(tbl24[0x0b0102], 900);
    table.remove(0x0b000000, 8, 900, 0);
  });

  it('adopts a table that already holds groups', () => {
    plens.set(5, 26);
    table.insert(0x0c000040, 26, 5);
    const again = new Fib4Table(tbl24, tbl8, plenArr);
    assert.equal(again.groupsInUse, 1);
    assert.equal(again.lookup(0x0c000041), 5);
    again.remove(0x0c000040, 26, 5, 0);
    assert.equal(again.groupsInUse, 0);
  });

  it('says so when second-level groups run out', () => {
    const small = new Fib4Table(new Uint32Array(1 << 24), new Uint32Array(2 * 256), new Uint8Array(8).fill(255).fill(32, 1));
    small.insert(0x01000001, 32, 1);
    small.insert(0x01000101, 32, 2);
    assert.throws(() => small.insert(0x01000201, 32, 3), /no free second-level group/);
  });
});
