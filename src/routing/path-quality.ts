/**
 * The measured quality of one path (a nexthop): RTT, jitter, loss and a state, from active
 * probes (and passive handshake timings), with the rules that keep it from flapping.
 *
 * - RTT: a smoothed RTT and mean deviation as TCP keeps them (RFC 6298, gains 1/8 and 1/4),
 *   plus a window of recent probes for p50/p95 and the loss ratio. A lost probe adds no RTT:
 *   a path that fails is never measured as fast; it counts as loss.
 * - Level shifts: two samples in a row outside the usual band on the same side (a path that
 *   got 50 ms slower) reset the smoothed RTT to them at once, instead of creeping towards the
 *   new level over dozens of probes while the deviation swells.
 * - Jitter: RFC 3550's estimator (mean difference between consecutive RTTs, gain 1/16).
 * - State: down after `lostToDown` probes lost in a row; back up only after `recoverProbes`
 *   answered in a row (recovery is slower than failure); degraded while the window's loss
 *   ratio is at or above `degradedLoss` (up again below half of it).
 * - Damping (after RFC 2439): each fall to down adds a penalty that halves every `halfLife`;
 *   above `suppress` the path stays down, however well it answers, until the penalty has
 *   decayed below `reuse`.
 */
export type PathState = 'up' | 'degraded' | 'down';

export interface DampingSettings {
  halfLifeMs: number;
  penalty: number;
  suppress: number;
  reuse: number;
}

export interface QualitySettings {
  lostToDown: number;
  recoverProbes: number;
  degradedLoss: number;
  window: number;
  damping: DampingSettings;
}

export const DEFAULT_QUALITY: QualitySettings = {
  lostToDown: 3,
  recoverProbes: 10,
  degradedLoss: 0.1,
  window: 50,
  damping: { halfLifeMs: 15_000, penalty: 1000, suppress: 2500, reuse: 1200 },
};

export interface QualityView {
  state: PathState;
  /** Smoothed RTT (ms), NaN before the first answer. */
  srtt: number;
  rttvar: number;
  p50: number;
  p95: number;
  last: number;
  jitter: number;
  /** Lost / sent over the window. */
  loss: number;
  probes: number;
  lost: number;
  /** Level shifts detected. */
  shifts: number;
  /** Times the path fell to down. */
  downs: number;
  suppressed: boolean;
  penalty: number;
  /** Since when (ms, the caller's clock) the path has been in its state. */
  since: number;
  /** Passive RTT from TCP handshakes through the path (ms, smoothed), NaN without any. */
  passiveRtt: number;
  passiveSamples: number;
}

export class PathQuality {
  state: PathState = 'up';
  srtt = NaN;
  rttvar = 0;
  jitter = 0;
  last = NaN;
  since: number;
  probes = 0;
  lost = 0;
  shifts = 0;
  downs = 0;
  passiveRtt = NaN;
  passiveSamples = 0;
  private readonly ring: Float64Array;
  private filled = 0;
  private pos = 0;
  private lostInRow = 0;
  private answeredInRow = 0;
  private shiftSide = 0;
  /** An RTT outside the band, waiting for the next one to tell a shift from an outlier. */
  private held = NaN;
  private penalty0 = 0;
  private penaltyAt = 0;
  private suppressed = false;

  constructor(
    private s: QualitySettings = DEFAULT_QUALITY,
    now = 0,
  ) {
    this.ring = new Float64Array(Math.max(1, s.window));
    this.since = now;
  }

  /** New thresholds from now on; the measurements stay (the window keeps its size). */
  retune(s: QualitySettings): void {
    this.s = { ...s, window: this.ring.length };
  }

  /** An answered probe. */
  answer(rtt: number, now: number): void {
    this.push(rtt);
    this.sample(rtt);
    this.lostInRow = 0;
    this.answeredInRow++;
    this.update(now);
  }

  /** A probe not answered in time. */
  loss(now: number): void {
    this.push(NaN);
    this.lost++;
    this.lostInRow++;
    this.answeredInRow = 0;
    this.update(now);
  }

  /**
   * The answer to a probe already counted lost: the path is alive but slow. Its RTT counts
   * (slow, as it was), and the loss is taken back.
   */
  lateAnswer(rtt: number, now: number): void {
    for (let k = 1; k <= this.filled; k++) {
      const i = (this.pos - k + this.ring.length) % this.ring.length;
      if (Number.isNaN(this.ring[i]!)) {
        this.ring[i] = rtt;
        this.lost--;
        break;
      }
    }
    this.sample(rtt);
    this.lostInRow = 0;
    this.answeredInRow++;
    this.update(now);
  }

  /** A TCP handshake (SYN to SYN/ACK) seen through this path. */
  passive(rtt: number): void {
    this.passiveRtt = Number.isNaN(this.passiveRtt) ? rtt : this.passiveRtt + (rtt - this.passiveRtt) / 8;
    this.passiveSamples++;
  }

  /** The RTT the policies compare: the probes', or the handshakes' when there are no probes. */
  get rtt(): number {
    return Number.isNaN(this.srtt) ? this.passiveRtt : this.srtt;
  }

  /** The loss ratio over the window. */
  get lossRatio(): number {
    if (!this.filled) return 0;
    let n = 0;
    for (let i = 0; i < this.filled; i++) if (Number.isNaN(this.ring[i]!)) n++;
    return n / this.filled;
  }

  penaltyAtTime(now: number): number {
    return this.penalty0 * Math.pow(0.5, (now - this.penaltyAt) / this.s.damping.halfLifeMs);
  }

  private push(v: number): void {
    this.ring[this.pos] = v;
    this.pos = (this.pos + 1) % this.ring.length;
    this.filled = Math.min(this.filled + 1, this.ring.length);
    this.probes++;
  }

  private sample(rtt: number): void {
    if (!Number.isNaN(this.last)) this.jitter += (Math.abs(rtt - this.last) - this.jitter) / 16;
    this.last = rtt;
    if (Number.isNaN(this.srtt)) {
      this.srtt = rtt;
      this.rttvar = rtt / 2;
      return;
    }
    const dev = rtt - this.srtt;
    const band = Math.max(4 * this.rttvar, 0.2 * this.srtt, 2);
    if (Math.abs(dev) > band) {
      const side = Math.sign(dev);
      if (side === this.shiftSide && !Number.isNaN(this.held)) {
        // Two in a row on the same side: the path changed; start from where it is now.
        this.srtt = (this.held + rtt) / 2;
        this.rttvar = Math.abs(this.held - rtt) / 2;
        this.shifts++;
        this.shiftSide = 0;
        this.held = NaN;
        return;
      }
      // The first: held back, so that it does not widen the band the next one is judged by.
      if (!Number.isNaN(this.held)) this.smooth(this.held);
      this.shiftSide = side;
      this.held = rtt;
      return;
    }
    // Back inside: a held sample was an outlier, and counts as one.
    if (!Number.isNaN(this.held)) this.smooth(this.held);
    this.shiftSide = 0;
    this.held = NaN;
    this.smooth(rtt);
  }

  private smooth(rtt: number): void {
    const dev = rtt - this.srtt;
    this.rttvar += (Math.abs(dev) - this.rttvar) / 4;
    this.srtt += dev / 8;
  }

  private enter(state: PathState, now: number): void {
    if (state === this.state) return;
    if (state === 'down') {
      this.downs++;
      const d = this.s.damping;
      this.penalty0 = this.penaltyAtTime(now) + d.penalty;
      this.penaltyAt = now;
      if (this.penalty0 > d.suppress) this.suppressed = true;
    }
    this.state = state;
    this.since = now;
  }

  private update(now: number): void {
    if (this.suppressed && this.penaltyAtTime(now) < this.s.damping.reuse) this.suppressed = false;
    if (this.lostInRow >= this.s.lostToDown) return this.enter('down', now);
    if (this.state === 'down') {
      if (this.answeredInRow < this.s.recoverProbes || this.suppressed) return;
    }
    const loss = this.lossRatio;
    if (loss >= this.s.degradedLoss) this.enter('degraded', now);
    else if (this.state === 'down' || loss < this.s.degradedLoss / 2) this.enter('up', now);
  }

  view(now: number): QualityView {
    const rtts: number[] = [];
    for (let i = 0; i < this.filled; i++) if (!Number.isNaN(this.ring[i]!)) rtts.push(this.ring[i]!);
    rtts.sort((a, b) => a - b);
    const q = (p: number) => (rtts.length ? rtts[Math.min(rtts.length - 1, Math.floor(p * rtts.length))]! : NaN);
    return {
      state: this.state,
      srtt: this.srtt,
      rttvar: this.rttvar,
      p50: q(0.5),
      p95: q(0.95),
      last: this.last,
      jitter: this.jitter,
      loss: this.lossRatio,
      probes: this.probes,
      lost: this.lost,
      shifts: this.shifts,
      downs: this.downs,
      suppressed: this.suppressed,
      penalty: Math.round(this.penaltyAtTime(now)),
      since: this.since,
      passiveRtt: this.passiveRtt,
      passiveSamples: this.passiveSamples,
    };
  }
}
