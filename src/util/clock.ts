/**
 * The pipeline stamps packets with bpf_ktime_get_ns(), CLOCK_MONOTONIC; process.hrtime reads
 * the same clock. Adding this offset turns such a stamp into nanoseconds since the epoch.
 */
export function monoToEpochOffsetNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
}

/** CLOCK_MONOTONIC now, in ns. */
export const monoNowNs = (): bigint => process.hrtime.bigint();
