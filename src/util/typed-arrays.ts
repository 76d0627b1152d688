/** Growing the typed arrays that hold a million of something without an object each. */
export type NumberArray = Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array;

/** A copy of `a` with room for `n` elements (those past `a`'s length zero). */
export function grown<T extends NumberArray>(a: T, n: number): T {
  const b = new (a.constructor as new (length: number) => T)(n);
  (b as unknown as Float64Array).set(a.subarray(0, Math.min(a.length, n)));
  return b;
}
