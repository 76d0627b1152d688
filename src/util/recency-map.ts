/**
 * Maps used as recency lists: insertion order is age (a key seen again is deleted and set
 * again), and the oldest go when the map is over its bound.
 *
 * The oldest must not go one `map.keys().next()` at a time. A deleted entry stays a hole at
 * the front of V8's table until the table is rebuilt, and each fresh iterator walks the holes
 * again: a map at its bound that drops one key per insert cost ~45 µs an insert at 100,000
 * keys, and the anomaly detectors took 90-140 s an interval over a million sources. One
 * iterator walks them once; dropping an eighth at a time makes the walks rare, and a cursor
 * kept across calls (OldestCursor) takes them one at a time exactly.
 */

/** Deletes the oldest entries of `map` until it holds at most `keep`, with one iterator. */
export function dropOldest<K, V>(map: Map<K, V>, keep: number): void {
  let excess = map.size - keep;
  if (excess <= 0) return;
  for (const k of map.keys()) {
    map.delete(k);
    if (--excess === 0) return;
  }
}

/** Keeps `map` within `max` entries: when over, its oldest eighth goes (to 7/8 of `max`). */
export function capOldest<K, V>(map: Map<K, V>, max: number): void {
  if (map.size > max) dropOldest(map, max - (max >>> 3));
}

/**
 * The oldest entry of a recency map, one at a time, for an exact LRU eviction: one iterator
 * kept across calls. Every entry before it has been taken and deleted, and an entry set later
 * (a new key, or one seen again) comes after it, so its next entry is the oldest there is. The
 * caller deletes each entry it is given before asking again.
 */
export class OldestCursor<K, V> {
  private it: IterableIterator<V> | null = null;

  constructor(private readonly map: Map<K, V>) {}

  next(): V | undefined {
    let r = this.it?.next();
    if (!r || r.done) {
      this.it = this.map.values();
      r = this.it.next();
    }
    return r.done ? undefined : r.value;
  }
}
