/** Maps as recency lists: the oldest entries dropped in bulk, or taken one at a time as an LRU. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { capOldest, dropOldest, OldestCursor } from '../../src/util/recency-map.js';
import { rng } from '../helpers/rng.js';

describe('recency maps', () => {
  it('drop the oldest entries, an eighth at a time past the bound', () => {
    const m = new Map<number, number>(Array.from({ length: 20 }, (_, i) => [i, i]));
    capOldest(m, 20);
    assert.equal(m.size, 20, 'at the bound: nothing goes');
    m.set(20, 20);
    capOldest(m, 20);
    assert.deepEqual(
      [...m.keys()],
      Array.from({ length: 18 }, (_, i) => i + 3),
      'to 7/8 of 20 (18), the oldest first',
    );
    const big = new Map<number, number>(Array.from({ length: 1_000_000 }, (_, i) => [i, i]));
    dropOldest(big, 100_000);
    assert.equal(big.size, 100_000);
    assert.equal(big.keys().next().value, 900_000);
  });

  it('give the least recent entry each time, as a list kept in order says, through inserts, touches and deletes', () => {
    const rand = rng(5);
    const m = new Map<number, number>();
    const cursor = new OldestCursor(m);
    let order: number[] = []; // the oracle: oldest first
    let next = 0;
    for (let step = 0; step < 20_000; step++) {
      const r = rand();
      if (r < 0.4 || !order.length) {
        m.set(next, next);
        order.push(next++);
      } else if (r < 0.7) {
        // Seen again: to the end.
        const k = order[Math.floor(rand() * order.length)]!;
        m.delete(k);
        m.set(k, k);
        order = [...order.filter((x) => x !== k), k];
      } else if (r < 0.8) {
        // Ended on its own (a FIN): gone from the middle.
        const k = order[Math.floor(rand() * order.length)]!;
        m.delete(k);
        order = order.filter((x) => x !== k);
      } else {
        const oldest = cursor.next();
        assert.equal(oldest, order[0], `step ${step}: the oldest`);
        m.delete(oldest!);
        order.shift();
      }
    }
    assert.deepEqual([...m.keys()], order);
    // Taken to the last one, then filled again: the cursor starts over.
    for (const k of order) {
      assert.equal(cursor.next(), k);
      m.delete(k);
    }
    assert.equal(cursor.next(), undefined, 'nothing left');
    for (const k of [-1, -2]) m.set(k, k);
    assert.equal(cursor.next(), -1, 'after more were set');
  });
});
