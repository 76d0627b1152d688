/**
 * A baseline of one measure (a rate, a ratio, a count per interval): its exponentially
 * weighted mean and variance (West's incremental form), and when a sample is abnormal for it.
 * A sample is judged only once the baseline has seen `warmup` samples, and is abnormal when it
 * is above all of: the mean plus `sigmas` standard deviations; `factor` times the mean; and
 * `floor` (an absolute minimum, so that noise around nothing never counts). Abnormal samples
 * are not learned: a flood does not become the normal it is measured against.
 */
import { capOldest } from '../util/recency-map.js';
import { Turns } from '../util/turn.js';

export interface BaselineSettings {
  /** Weight of a new sample (0..1): 0.05 remembers about the last 20 intervals. */
  alpha: number;
  sigmas: number;
  factor: number;
  floor: number;
  warmup: number;
}

export interface Judgement {
  abnormal: boolean;
  /** The level a sample had to pass to be abnormal (Infinity while warming up). */
  threshold: number;
  mean: number;
  std: number;
}

export class Baseline {
  private mean = 0;
  private variance = 0;
  samples = 0;

  constructor(private readonly s: BaselineSettings) {}

  threshold(): number {
    if (this.samples < this.s.warmup) return Infinity;
    const std = Math.sqrt(this.variance);
    return Math.max(this.mean + this.s.sigmas * std, this.s.factor * this.mean, this.s.floor);
  }

  /** Judges a sample, then learns it if it was normal. */
  judge(x: number): Judgement {
    const threshold = this.threshold();
    const abnormal = x > threshold;
    const out = { abnormal, threshold, mean: this.mean, std: Math.sqrt(this.variance) };
    if (!abnormal) this.learn(x);
    return out;
  }

  learn(x: number): void {
    if (this.samples === 0) {
      this.mean = x;
      this.variance = 0;
    } else {
      const d = x - this.mean;
      const inc = this.s.alpha * d;
      this.mean += inc;
      this.variance = (1 - this.s.alpha) * (this.variance + d * inc);
    }
    this.samples++;
  }
}

/**
 * Baselines by key (a source, an API, a destination), bounded: the keys not updated for
 * longest go first. A key not seen yet is judged against `population`, the baseline of all
 * keys' samples taken together (a new source flooding has no history of its own).
 */
export class BaselineSet {
  private readonly byKey = new Map<string, Baseline>();
  readonly population: Baseline;

  constructor(
    private readonly s: BaselineSettings,
    private readonly max = 100_000,
  ) {
    this.population = new Baseline(s);
  }

  /**
   * Judges one interval's samples and returns the abnormal ones. An interval with none is a 0
   * for the population: what most intervals of a rare measure (half-open handshakes) are, and
   * what it must learn to judge one.
   *
   * Keys seen before keep their baselines ahead of keys new in this interval: a flood of new
   * (spoofed) sources does not push out the history of the ones that were already there. Of
   * the new keys, only the last `max` can be kept, so only they get a baseline (a million new
   * sources made a million baselines, 90 % thrown away in the same call). The event loop
   * gets its turns (`turns`, shared with the caller's walk).
   */
  async judgeAll(samples: Map<string, number>, turns = new Turns()): Promise<Map<string, Judgement>> {
    const abnormal = new Map<string, Judgement>();
    if (!samples.size) this.population.learn(0);
    const seen: [string, Baseline][] = [];
    const freshKeys: string[] = [];
    const freshSamples: number[] = [];
    let step = 0;
    for (const [key, x] of samples) {
      if (turns.due(step++)) await turns.take();
      const b = this.byKey.get(key);
      const own = b && b.samples >= this.s.warmup ? b : null;
      const j = (own ?? this.population).judge(x);
      if (j.abnormal) abnormal.set(key, j);
      // The population learns every key's normal samples; a key's own baseline only its own.
      if (own) {
        if (!j.abnormal) this.population.learn(x);
      } else if (!j.abnormal && b) b.learn(x);
      if (b) seen.push([key, b]);
      else {
        freshKeys.push(key);
        freshSamples.push(x);
      }
    }
    // The map's order is recency, oldest first: the new keys, then the ones seen again.
    for (let i = Math.max(0, freshKeys.length - this.max); i < freshKeys.length; i++) {
      const b = new Baseline(this.s);
      if (!abnormal.has(freshKeys[i]!)) b.learn(freshSamples[i]!);
      this.byKey.set(freshKeys[i]!, b);
    }
    for (const [key, b] of seen) {
      if (turns.due(step++)) await turns.take();
      this.byKey.delete(key);
      this.byKey.set(key, b);
    }
    capOldest(this.byKey, this.max);
    return abnormal;
  }

  /** Whether `key` has a baseline of its own. */
  has(key: string): boolean {
    return this.byKey.has(key);
  }

  get size(): number {
    return this.byKey.size;
  }
}
