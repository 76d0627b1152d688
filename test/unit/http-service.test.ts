/**
 * The daemon's HTTP insight service without a data plane: ring records crafted in the HTTP
 * stage's layout, handed over in batches as the ring reader does, through decoding, tracking
 * and naming into the Prometheus metrics the service keeps.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';

import { parseConfig } from '../../src/control/config/load.js';
import { HttpInsightService } from '../../src/daemon/http-service.js';
import type { Dataplane } from '../../src/dataplane/dataplane.js';
import { TCP } from '../helpers/craft.js';
import { httpBatches, httpHandshakes, httpRecord } from '../helpers/http-records.js';
import { rng } from '../helpers/rng.js';

const SERVER = { addr: [10, 210, 9, 1], port: 80 };

function service(): HttpInsightService {
  const config = parseConfig('apis:\n  - { name: orders, path: "/v{version}/orders/{id}" }\ninsight: { http: { ports: [80] } }\n', 'test');
  const noDataplane = (): Dataplane => {
    throw new Error('no data plane in this test');
  };
  return new HttpInsightService('test', () => config, noDataplane, pino({ level: 'silent' }));
}

describe('HTTP insight service', () => {
  it('counts each request under its labels in Prometheus, in runs of one label set or changing any label', async () => {
    const random = rng(17);
    const int = (n: number) => Math.floor(random() * n);
    // What each request is, and the labels the test expects for it (written from the mix, not the namer).
    const kinds = [
      { method: 'GET', path: '/v1/orders/7', status: 200, labels: 'orders 1 GET 200' },
      { method: 'GET', path: '/v1/orders/8', status: 404, labels: 'orders 1 GET 404' },
      { method: 'GET', path: '/v2/orders/7', status: 200, labels: 'orders 2 GET 200' },
      { method: 'POST', path: '/v1/orders/9', status: 200, labels: 'orders 1 POST 200' },
      { method: 'PURGE', path: '/v1/orders/9', status: 200, labels: 'orders 1 other 200' },
      { method: 'GET', path: '/users/12', status: 503, labels: '/users/{id}  GET 503' },
    ];
    const clients = Array.from({ length: 4 }, (_, i) => ({
      ep: { addr: [10, 210, 1, 2], port: 41000 + i },
      cseq: 100 * i,
      sseq: 9000 * i,
    }));
    const recs: Buffer[] = [];
    let ns = httpHandshakes(recs, clients, SERVER, 1_000_000_000n, 1000n);
    const expected = new Map<string, number>();
    let latencies = 0;
    for (let i = 0; i < 600;) {
      // A run of 1-5 requests of one kind, each on the next connection.
      const k = kinds[int(kinds.length)]!;
      for (let n = 1 + int(5); n > 0; n--, i++) {
        const c = clients[i % clients.length]!;
        const req = Buffer.from(`${k.method} ${k.path} HTTP/1.1\r\nHost: api\r\n\r\n`);
        const res = Buffer.from(`HTTP/1.1 ${k.status} X\r\nContent-Length: 2\r\n\r\nok`);
        recs.push(httpRecord((ns += 10_000n), c.ep, SERVER, c.cseq, TCP.PSH | TCP.ACK, req));
        recs.push(httpRecord((ns += 30_000n), SERVER, c.ep, c.sseq, TCP.PSH | TCP.ACK, res));
        c.cseq += req.length;
        c.sseq += res.length;
        expected.set(k.labels, (expected.get(k.labels) ?? 0) + 1);
        latencies++;
      }
    }
    const s = service();
    for (const { data, ends } of httpBatches(recs, 16)) s.consume(data, ends, 0n);

    const counted = (await s.requests.get()).values;
    const got = new Map(counted.map((v) => [`${v.labels.api} ${v.labels.version} ${v.labels.method} ${v.labels.code}`, v.value]));
    assert.deepEqual(Object.fromEntries([...got].sort()), Object.fromEntries([...expected].sort()));
    // Counted once: a second scrape adds nothing new.
    const again = (await s.requests.get()).values.reduce((a, v) => a + v.value, 0);
    assert.equal(again, latencies);
    const durations = (await s.duration.get()).values.filter((v) => v.metricName === 'pathwise_http_request_duration_seconds_count');
    assert.equal(
      durations.reduce((a, v) => a + v.value, 0),
      latencies,
    );
    s.stop();
  });
});
