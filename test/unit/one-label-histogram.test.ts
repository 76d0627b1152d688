/**
 * OneLabelHistogram against prom-client's own Histogram: the same values observed by both,
 * scraped by a registry each, must read the same, in text and as JSON.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import client from 'prom-client';

import { OneLabelHistogram } from '../../src/util/one-label-histogram.js';
import { rng } from '../helpers/rng.js';

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

function pair(): { ours: OneLabelHistogram; theirs: client.Histogram<'api'>; scrape: () => Promise<[string, string]> } {
  const a = new client.Registry();
  const b = new client.Registry();
  const ours = new OneLabelHistogram({ name: 'x_seconds', help: 'help "text"\nmore', label: 'api', buckets: BUCKETS });
  a.registerMetric(ours.asMetric());
  const theirs = new client.Histogram({
    name: 'x_seconds',
    help: 'help "text"\nmore',
    labelNames: ['api'],
    buckets: BUCKETS,
    registers: [b],
  });
  return { ours, theirs, scrape: async () => [await a.metrics(), await b.metrics()] };
}

describe('OneLabelHistogram', () => {
  it('scrapes as prom-client’s Histogram given the same values', async () => {
    const { ours, theirs, scrape } = pair();
    const random = rng(5);
    // Values on every bound and between them, beyond the last, zero, and label values to escape.
    const labels = ['/v1/orders/{id}', 'other', 'a"b\\c\nd', ''];
    const values = [...BUCKETS, 0, 11, 1e6, ...Array.from({ length: 2000 }, () => random() ** 3 * 12)];
    values.forEach((v, i) => {
      const api = labels[i % labels.length]!;
      ours.observe(api, v);
      theirs.observe({ api }, v);
    });
    const [a, b] = await scrape();
    assert.equal(a, b);
    assert.match(a, /x_seconds_bucket\{le="0.01",api="\/v1\/orders\/\{id\}"\} \d+/);
    // And as JSON (getMetricsAsJSON: the cluster aggregator's input).
    // (prom-client's values carry an exemplar, null without exemplars enabled: not compared.)
    const withoutExemplar = (v: object) => Object.fromEntries(Object.entries(v).filter(([k]) => k !== 'exemplar'));
    assert.deepEqual((await ours.get()).values, (await theirs.get()).values.map(withoutExemplar));
  });

  it('has no series before a value and after reset, and refuses what prom-client refuses', async () => {
    const { ours, theirs, scrape } = pair();
    const [before, empty] = await scrape();
    assert.equal(before, empty);
    ours.observe('x', 1);
    ours.reset();
    const [after] = await scrape();
    assert.equal(after, empty);
    assert.throws(() => ours.observe('x', Number.NaN), /not a valid number/);
    assert.throws(() => theirs.observe({ api: 'x' }, Number.NaN), /not a valid number/);
    assert.throws(() => new OneLabelHistogram({ name: 'y', help: 'h', label: 'le', buckets: [1] }), /reserved/);
    assert.throws(() => new OneLabelHistogram({ name: 'y', help: 'h', label: 'api', buckets: [1, 1] }), /ascend/);
  });
});
