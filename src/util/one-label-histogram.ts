/**
 * A Prometheus histogram with one label, for a path that observes tens of thousands of values
 * a second (the daemon's HTTP insight: a latency per request). prom-client's Histogram converts,
 * checks and hashes the labels of every observe() call, ~0.3 µs each, a tenth of that path; here
 * a value goes to its label's counts by one map lookup. The registry scrapes it as any metric
 * (registerMetric, then get()): the same series, in the same text, as prom-client's Histogram
 * given the same values (test/unit/one-label-histogram.test.ts compares the two).
 */
import type client from 'prom-client';

interface Series {
  /** Observations per bucket (not cumulative), the last for values above every bound. */
  counts: number[];
  sum: number;
  count: number;
}

/** A scraped value as prom-client's registry reads it. */
interface ScrapedValue {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
}

export interface OneLabelHistogramOptions {
  name: string;
  help: string;
  label: string;
  /** Upper bounds, ascending. */
  buckets: number[];
}

export class OneLabelHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  private readonly label: string;
  private readonly bounds: number[];
  private series = new Map<string, Series>();

  constructor(o: OneLabelHistogramOptions) {
    if (o.label === 'le') throw new Error('le is a reserved label name');
    if (!o.buckets.every((b, i) => i === 0 || b > o.buckets[i - 1]!)) throw new Error(`${o.name}: buckets must ascend`);
    this.name = o.name;
    this.help = o.help;
    this.label = o.label;
    this.bounds = [...o.buckets];
  }

  /** Counts `value` under the label's `labelValue` (a value that is not a finite number is an error, as in prom-client). */
  observe(labelValue: string, value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`${this.name}: value is not a valid number: ${value}`);
    let s = this.series.get(labelValue);
    if (!s) this.series.set(labelValue, (s = { counts: new Array<number>(this.bounds.length + 1).fill(0), sum: 0, count: 0 }));
    let b = 0;
    while (b < this.bounds.length && value > this.bounds[b]!) b++;
    s.counts[b]!++;
    s.sum += value;
    s.count++;
  }

  /** What the registry scrapes: prom-client's histogram values (cumulative buckets, +Inf, sum, count). */
  get(): Promise<{ name: string; help: string; type: 'histogram'; values: ScrapedValue[]; aggregator: 'sum' }> {
    const values: ScrapedValue[] = [];
    const bucketName = `${this.name}_bucket`;
    for (const [labelValue, s] of this.series) {
      let acc = 0;
      this.bounds.forEach((le, i) => {
        acc += s.counts[i]!;
        values.push({ labels: { le, [this.label]: labelValue }, value: acc, metricName: bucketName });
      });
      values.push(
        { labels: { le: '+Inf', [this.label]: labelValue }, value: s.count, metricName: bucketName },
        { labels: { [this.label]: labelValue }, value: s.sum, metricName: `${this.name}_sum` },
        { labels: { [this.label]: labelValue }, value: s.count, metricName: `${this.name}_count` },
      );
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator });
  }

  reset(): void {
    this.series = new Map();
  }

  /** For Registry.registerMetric, which reads the members above (its Metric type names prom-client's own classes). */
  asMetric(): client.Metric {
    return this as unknown as client.Metric;
  }
}
