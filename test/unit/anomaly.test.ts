/**
 * Baselines and anomaly detectors on scripted activity: steady (noisy) traffic for a long time
 * triggers nothing; each detector fires on its attack, names the subject and the sources a seal
 * would hold, and does not learn the attack as normal.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Baseline, BaselineSet } from '../../src/insight/baseline.js';
import { AnomalyDetectors, DETECTORS, type Activity, type DetectorSettings, type SeenRequest } from '../../src/insight/anomaly.js';
import type { FlowActivity } from '../../src/insight/flow-table.js';
import { rng } from '../helpers/rng.js';
import pino from 'pino';
import { AnomalyService } from '../../src/daemon/anomaly-service.js';
import type { Config } from '../../src/control/config/schema.js';
import type { Decisions } from '../../src/control/decisions.js';
import type { Notices } from '../../src/control/notices.js';
import type { Dataplane } from '../../src/dataplane/dataplane.js';

const FLOORS = { requestFlood: 50, packetFlood: 5000, newSources: 50, errorSpike: 0.2, scan: 30, synFlood: 100 };
const settings = (): DetectorSettings =>
  Object.fromEntries(
    DETECTORS.map((d) => [d, { enabled: true, alpha: 0.05, sigmas: 6, factor: 3, floor: FLOORS[d], warmup: 10 }]),
  ) as DetectorSettings;

const emptyFlows = (): FlowActivity => ({ packets: new Map(), newDestinations: new Map(), halfOpen: new Map() });

/** One second of steady mixed traffic: 20 clients, a few requests each, 2 % errors, flows with packets. */
function steady(rand: () => number, clients = 20): Activity {
  const requests: SeenRequest[] = [];
  const flows = emptyFlows();
  for (let c = 0; c < clients; c++) {
    const source = `10.0.${c >> 8}.${c & 255}`;
    const n = 3 + Math.floor(rand() * 4);
    for (let i = 0; i < n; i++) {
      const api = ['orders', 'users', 'search'][i % 3]!;
      requests.push({ source, api, path: `/${api}/${Math.floor(rand() * 1000)}`, status: rand() < 0.02 ? 404 : 200 });
    }
    flows.packets.set(source, 40 + Math.floor(rand() * 30));
    flows.newDestinations.set(source, new Set(['10.9.0.1:80']));
  }
  return { seconds: 1, requests, flows };
}

describe('baselines', () => {
  it('never judge steady noise abnormal, and do not learn what they judge abnormal', async () => {
    const rand = rng(3);
    const b = new Baseline({ alpha: 0.05, sigmas: 6, factor: 3, floor: 10, warmup: 10 });
    for (let i = 0; i < 10_000; i++) assert.equal(b.judge(100 + (rand() - 0.5) * 40).abnormal, false, `sample ${i}`);
    const before = b.threshold();
    assert.equal(b.judge(1000).abnormal, true);
    assert.equal(b.threshold(), before, 'the spike was not learned');
  });
});

describe('bounded baselines', () => {
  it('keep the history of known sources through a flood of new ones, and the newest of those', async () => {
    const set = new BaselineSet({ alpha: 0.05, sigmas: 6, factor: 3, floor: 10, warmup: 2 }, 16);
    const known = ['a', 'b', 'c', 'd', 'e'];
    for (let i = 0; i < 3; i++) await set.judgeAll(new Map(known.map((k) => [k, 5])));
    // The known sources first: in the interval's order, the new ones came after them.
    const flood = new Map<string, number>([
      ...known.map((k) => [k, 5] as const),
      ...Array.from({ length: 1000 }, (_, i) => [`n${i}`, 1] as const),
    ]);
    assert.deepEqual([...(await set.judgeAll(flood))], [], 'nothing abnormal in it');
    assert.ok(set.size <= 16, `${set.size} baselines, at most 16`);
    for (const k of known) assert.ok(set.has(k), `${k} kept its baseline`);
    assert.ok(set.has('n999'), 'the newest of the new sources has one');
    assert.ok(!set.has('n0'), 'the oldest of them has none');
  });
});

describe('anomaly detectors', () => {
  const warmed = async (seed: number, intervals = 600) => {
    const rand = rng(seed);
    const d = new AnomalyDetectors(settings());
    let found = 0;
    for (let i = 0; i < intervals; i++) found += (await d.examine(steady(rand), i * 1000)).length;
    return { d, rand, found };
  };

  it('find nothing in ten minutes of steady mixed traffic', async () => {
    assert.equal((await warmed(11, 600)).found, 0);
  });

  it('find a request flood and a packet flood from one source, and one spread over a prefix', async () => {
    const { d, rand } = await warmed(12, 60);
    const a = steady(rand);
    for (let i = 0; i < 500; i++) a.requests.push({ source: '192.0.2.66', api: 'orders', path: '/orders/1', status: 200 });
    a.flows!.packets.set('192.0.2.66', 80_000);
    // 100 sources of 198.51.100.0/24, each like a normal client, together far beyond one.
    for (let h = 1; h <= 100; h++) a.flows!.packets.set(`198.51.100.${h}`, 60);
    for (let h = 1; h <= 100; h++)
      for (let i = 0; i < 5; i++) a.requests.push({ source: `198.51.100.${h}`, api: 'orders', path: '/orders/2', status: 200 });
    const found = await d.examine(a, 61_000);
    const keyed = found.map((x) => `${x.detector} ${x.subject} ${x.sources.join(',')}`).sort();
    assert.ok(keyed.includes('requestFlood 192.0.2.66 192.0.2.66'), keyed.join(' | '));
    assert.ok(keyed.includes('packetFlood 192.0.2.66 192.0.2.66'), keyed.join(' | '));
    assert.ok(keyed.includes('requestFlood 198.51.100.0/24 198.51.100.0/24'), keyed.join(' | '));
    // The burst of new sources is that prefix's: it stands out.
    assert.ok(keyed.includes('newSources all 198.51.100.0/24'), keyed.join(' | '));
    assert.ok(!keyed.some((k) => k.includes('192.0.2.0/24')), 'a prefix one source explains is not reported');
  });

  it('blame no prefix for one source under its own threshold', async () => {
    // A new source in the steady clients' /24, under the floor a source is judged by, with its
    // neighbours past the prefix's (seen live: a request flood's packets sealed the /24).
    const { d, rand } = await warmed(15, 60);
    const a = steady(rand);
    a.flows!.packets.set('10.0.0.99', 4_500);
    const found = (await d.examine(a, 61_000)).map((x) => `${x.detector} ${x.subject}`);
    assert.deepEqual(found, []);
  });

  it("find an API's error spike and the source behind it", async () => {
    const { d, rand } = await warmed(13, 60);
    const a = steady(rand);
    for (let i = 0; i < 80; i++) a.requests.push({ source: '203.0.113.9', api: 'orders', path: '/orders/x', status: 500 });
    const found = (await d.examine(a, 61_000)).filter((x) => x.detector === 'errorSpike');
    assert.equal(found.length, 1);
    assert.equal(found[0]!.subject, 'orders');
    assert.deepEqual(found[0]!.sources, ['203.0.113.9']);
    assert.ok(found[0]!.observed > 0.5);
  });

  it('find a scan by distinct 4xx paths or new destinations, not by many ids of one API', async () => {
    const { d, rand } = await warmed(14, 60);
    const a = steady(rand);
    for (let i = 0; i < 60; i++)
      a.requests.push({ source: '203.0.113.20', api: 'other', path: `/probe-${i.toString(36)}x/admin`, status: 404 });
    a.flows!.newDestinations.set('203.0.113.21', new Set(Array.from({ length: 80 }, (_, i) => `10.9.0.1:${2000 + i}`)));
    // A client reading many orders that do not exist is one template: /orders/{id}.
    for (let i = 0; i < 200; i++) a.requests.push({ source: '10.0.0.3', api: 'orders', path: `/orders/${5000 + i}`, status: 404 });
    const found = (await d.examine(a, 61_000)).filter((x) => x.detector === 'scan');
    assert.deepEqual(found.map((x) => x.subject).sort(), ['203.0.113.20', '203.0.113.21']);
  });

  it('find a SYN flood on a destination; name a source only when one stands out', async () => {
    const { d, rand } = await warmed(15, 60);
    const a = steady(rand);
    const spoofed = new Map(Array.from({ length: 400 }, (_, i) => [`100.${64 + (i >> 8)}.${i & 255}.1`, 1]));
    a.flows!.halfOpen.set('10.9.0.1:80', spoofed);
    a.flows!.halfOpen.set('10.9.0.2:443', new Map([['192.0.2.99', 300]]));
    const found = (await d.examine(a, 61_000)).filter((x) => x.detector === 'synFlood');
    const by = Object.fromEntries(found.map((x) => [x.subject, x.sources]));
    assert.deepEqual(by, { '10.9.0.1:80': [], '10.9.0.2:443': ['192.0.2.99'] });
  });

  it('judge nothing while warming up, and nothing when disabled', async () => {
    const s = settings();
    s.requestFlood.enabled = false;
    const d = new AnomalyDetectors(s);
    const a: Activity = {
      seconds: 1,
      requests: Array.from({ length: 5000 }, () => ({ source: '192.0.2.1', api: 'x', path: '/x', status: 200 })),
      flows: null,
    };
    assert.deepEqual(await d.examine(a), []);
  });
});

describe('the daemon acting on anomalies', () => {
  it('acts on at most 1,000 an interval, the most severe first, and on the others in the next', async () => {
    const told: string[] = [];
    const notices = { publish: (n: { subject: string }) => told.push(n.subject) } as unknown as Notices;
    const config = () =>
      ({ anomalies: { enabled: false, interval: '1h', detectors: { packetFlood: { action: 'event' } } } }) as unknown as Config;
    const svc = new AnomalyService(config, () => ({}) as Dataplane, {} as Decisions, notices, pino({ level: 'silent' }));
    svc.start();
    try {
      // 2,500 sources over their thresholds, source i by i + 1 times it.
      const found = Array.from({ length: 2500 }, (_, i) => ({
        detector: 'packetFlood' as const,
        subject: `10.0.${i >> 8}.${i & 255}`,
        observed: 100 * (i + 1),
        threshold: 100,
        mean: 10,
        unit: 'packets/s',
        sources: [],
        summary: '',
      }));
      const actOn = (now: number) => svc['actOn'](found, now);
      await actOn(1000);
      assert.equal(told.length, 1000);
      assert.deepEqual(told.slice(0, 2), ['10.0.9.195', '10.0.9.194'], 'the most severe first (sources 2499, 2498)');
      assert.equal(svc.stats.deferred, 1500);
      // The next interval: the ones told are in their cooldown, the next 1,000 go.
      await actOn(6000);
      assert.equal(told.length, 2000);
      assert.equal(new Set(told).size, 2000, 'none told twice');
      await actOn(11_000);
      assert.equal(new Set(told).size, 2500, 'every one told within three intervals');
      assert.equal(svc.stats.deferred, 2000);
    } finally {
      svc.stop();
    }
  });
});
