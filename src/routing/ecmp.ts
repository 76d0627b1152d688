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
