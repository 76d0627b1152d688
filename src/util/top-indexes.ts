/**
 * The n largest of many keys (the busiest of a million flows or routes) in one pass with a
 * bounded heap, in turns of the event loop (util/turn.ts).
 */
import { Turns } from './turn.js';

/** Indexes of the n largest keys (ties: lower index first), largest first. A min-heap of n,
 * filled in turns of the event loop. */
export async function topIndexes(count: number, n: number, key: (i: number) => number, keep: (i: number) => boolean): Promise<number[]> {
  if (n <= 0) return [];
  const turns = new Turns();
  const heap: number[] = [];
  const keys: number[] = [];
  // Smaller = worse: a smaller key, or the same key at a later index.
  const worse = (a: number, b: number) => keys[a]! < keys[b]! || (keys[a] === keys[b] && heap[a]! > heap[b]!);
  const swap = (a: number, b: number) => {
    [heap[a], heap[b]] = [heap[b]!, heap[a]!];
    [keys[a], keys[b]] = [keys[b]!, keys[a]!];
  };
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1,
        r = l + 1;
      let m = i;
      if (l < heap.length && worse(l, m)) m = l;
      if (r < heap.length && worse(r, m)) m = r;
      if (m === i) return;
      swap(i, m);
      i = m;
    }
  };
  for (let i = 0; i < count; i++) {
    if (turns.due(i)) await turns.take();
    if (!keep(i)) continue;
    const k = key(i);
    if (heap.length < n) {
      heap.push(i);
      keys.push(k);
      for (let c = heap.length - 1; c > 0;) {
        const p = (c - 1) >> 1;
        if (!worse(c, p)) break;
        swap(c, p);
        c = p;
      }
    } else if (k > keys[0]!) {
      heap[0] = i;
      keys[0] = k;
      down(0);
    }
  }
  const order = heap.map((i, j) => ({ i, k: keys[j]! }));
  order.sort((a, b) => b.k - a.k || a.i - b.i);
  return order.map((o) => o.i);
}
