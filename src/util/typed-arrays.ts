/** Growing and searching the typed arrays that hold a million of something without an object each. */
export type NumberArray = Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array;

/** A copy of `a` with room for `n` elements (those past `a`'s length zero). */
export function grown<T extends NumberArray>(a: T, n: number): T {
  const b = new (a.constructor as new (length: number) => T)(n);
  (b as unknown as Float64Array).set(a.subarray(0, Math.min(a.length, n)));
  return b;
}

/**
 * Where an ordered sequence of `count` elements holds the one sought, by binary search, or -1:
 * compareAt(i) is negative when element i comes before it, positive after, 0 for it.
 */
export function sortedIndexOf(count: number, compareAt: (i: number) => number): number {
  let lo = 0;
  let hi = count - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const c = compareAt(mid);
    if (c < 0) lo = mid + 1;
    else if (c > 0) hi = mid - 1;
    else return mid;
  }
  return -1;
}

/** Whether an ordered sequence holds the one sought (sortedIndexOf). */
export function sortedIncludes(count: number, compareAt: (i: number) => number): boolean {
  return sortedIndexOf(count, compareAt) >= 0;
}
