/**
 * Weighted ECMP: a nexthop group spreads its nexthops over PW_NHG_BUCKETS buckets in proportion
 * to their weights; the pipeline picks a bucket by flow hash.
 */
import { PwError } from '../errors.js';
import * as abi from '../generated/pathwise.js';

/** The largest weight a nexthop may have. */
export const MAX_WEIGHT = 256;

/**
 * Spreads members over the buckets by weight (largest remainder); every member gets at least
 * one bucket. Returns, per bucket, the index of its member.
 */
export function spreadBuckets(weights: number[], buckets: number = abi.PwLimit.NHG_BUCKETS): number[] {
  const max = Math.min(buckets, abi.PwLimit.NHG_MAX_MEMBERS);
  if (weights.length === 0 || weights.length > max)
    throw new PwError('PW_ERR_INVALID', `a nexthop group holds 1..${max} nexthops, not ${weights.length}`);
  const total = weights.reduce((a, b) => a + b, 0);
  const exact = weights.map((w) => (w / total) * buckets);
  const counts = exact.map((x) => Math.max(1, Math.floor(x)));
  let left = buckets - counts.reduce((a, b) => a + b, 0);
  // Largest remainder first; if minimums overshot, take back from the largest.
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0]);
  for (let k = 0; left > 0; k = (k + 1) % order.length, left--) counts[order[k]![1]]!++;
  while (left < 0) {
    const i = counts.indexOf(Math.max(...counts));
    counts[i]!--;
    left++;
  }
  const out: number[] = [];
  counts.forEach((c, i) => {
    for (let k = 0; k < c; k++) out.push(i);
  });
  return out;
}

/** Buckets per member for these weights (largest remainder); a weight of 0 gets none. */
export function bucketCounts(weights: number[], buckets: number = abi.PwLimit.NHG_BUCKETS): number[] {
  const total = weights.reduce((a, b) => a + b, 0);
  if (!(total > 0)) throw new PwError('PW_ERR_INVALID', 'at least one weight must be above 0');
  const exact = weights.map((w) => (w / total) * buckets);
  const counts = exact.map((x) => Math.floor(x));
  let left = buckets - counts.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let k = 0; left > 0; k++, left--) counts[order[k % order.length]![1]]!++;
  return counts;
}

/**
 * Moves as few buckets as it can (the kernel's resilient nexthop groups do the same): a bucket
 * keeps its member while that member is still owed buckets under the new weights; only the
 * rest are handed to members owed more. `current[b]` is a member index, or -1 for a bucket
 * without one. Flows hashed to buckets that keep their member keep their path.
 */
export function resilientBuckets(current: readonly number[], weights: number[]): number[] {
  const owed = bucketCounts(weights, current.length);
  const out = current.map((m) => {
    if (m >= 0 && m < owed.length && owed[m]! > 0) {
      owed[m]!--;
      return m;
    }
    return -1;
  });
  let m = 0;
  for (let b = 0; b < out.length; b++) {
    if (out[b] !== -1) continue;
    while (owed[m] === 0) m++;
    out[b] = m;
    owed[m]!--;
  }
  return out;
}
