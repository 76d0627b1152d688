/**
 * The pipeline stamps packets with bpf_ktime_get_ns(), CLOCK_MONOTONIC; process.hrtime reads
 * the same clock. Adding an EpochClock's offset turns such a stamp into nanoseconds since the
 * epoch.
 *
 * The offset is found once, to the microsecond, and kept: Date.now() has a resolution of 1 ms,
 * so an offset taken from it afresh for each batch of stamps moved by up to 1 ms between
 * batches, and a request and its response read in two batches came out up to 1 ms off (seen
 * against tcpdump on the same link). NTP slews both clocks alike; only a step of the wall clock
 * changes the offset, and each call checks for one against Date.now() and finds the offset
 * again when it sees one.
 */
export class EpochClock {
  private offsetNs: bigint | null = null;

  constructor(
    private readonly wallMs: () => number = Date.now,
    private readonly monoNs: () => bigint = process.hrtime.bigint,
  ) {}

  offset(): bigint {
    // Two readings outside the window before calling it a step: a process preempted between
    // the two clock reads of one reading sees a false one.
    if (this.offsetNs === null || (!this.agrees() && !this.agrees())) this.offsetNs = this.anchor();
    return this.offsetNs;
  }

  /** Date.now() truncates: against the kept offset it reads up to 1 ms below, never above
   * (with half a millisecond of slack each way). */
  private agrees(): boolean {
    const coarse = BigInt(this.wallMs()) * 1_000_000n - this.monoNs();
    return coarse > this.offsetNs! - 1_500_000n && coarse < this.offsetNs! + 500_000n;
  }

  /**
   * Waits for Date.now() to turn to its next millisecond: at that edge the wall clock is
   * exactly that millisecond. The edge fell between the read that saw the old millisecond and
   * the one that saw the new; the monotonic clock read before the one and after the other
   * brackets it. An edge bracketed wider than 50 µs (the process was preempted) is passed over
   * for the next, for up to 100 ms; then the narrowest serves. If the wall clock does not move
   * for 6 ms, the millisecond reading serves.
   */
  private anchor(): bigint {
    let best: { offset: bigint; width: bigint } | null = null;
    let sinceLast = this.monoNs();
    let last = this.wallMs();
    const start = sinceLast;
    for (;;) {
      const before = this.monoNs();
      const ms = this.wallMs();
      if (ms !== last) {
        const after = this.monoNs();
        const width = after - sinceLast;
        const offset = BigInt(ms) * 1_000_000n - (sinceLast + after) / 2n;
        if (!best || width < best.width) best = { offset, width };
        if (width <= 50_000n) break;
        last = ms;
      }
      if (before - start > (best ? 100_000_000n : 6_000_000n)) break;
      sinceLast = before;
    }
    return best?.offset ?? BigInt(this.wallMs()) * 1_000_000n - this.monoNs();
  }
}

const processClock = new EpochClock();

/** The offset from CLOCK_MONOTONIC to the epoch, in ns, to the microsecond (see EpochClock). */
export const monoToEpochOffsetNs = (): bigint => processClock.offset();

/** CLOCK_MONOTONIC now, in ns. */
export const monoNowNs = (): bigint => process.hrtime.bigint();
