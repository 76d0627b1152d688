/**
 * API identity and usage: configured patterns (methods, hosts, {version}), automatic templates
 * and their cap, versions from path, field or query; usage grouped and windowed, callers per
 * version, latency percentiles.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ApiNamer, compilePathPattern, OTHER_API, templateOf } from '../../src/insight/api-identity.js';
import { ApiUsage, BUCKET_MS } from '../../src/insight/api-usage.js';
import type { HttpTransaction } from '../../src/insight/http-tracker.js';

describe('API identity', () => {
  it('matches configured patterns in order, by method and host, with the version from the path', () => {
    const n = new ApiNamer({
      patterns: [
        { name: 'orders-write', path: '/v{version}/orders/{id}', methods: ['POST', 'put'] },
        { name: 'orders', path: '/v{version}/orders/{id}' },
        { name: 'admin', path: '/admin/*', hosts: ['ops.example'] },
      ],
      versionQuery: 'api-version',
    });
    assert.deepEqual(n.identify('PUT', '/v3/orders/9', null, null), { api: 'orders-write', version: '3' });
    assert.deepEqual(n.identify('GET', '/v3/orders/9?x=1', null, null), { api: 'orders', version: '3' });
    assert.deepEqual(n.identify('GET', 'http://h/v2/orders/9/', null, null), { api: 'orders', version: '2' });
    assert.deepEqual(n.identify('GET', '/admin/a/b', 'ops.example:8443', null), { api: 'admin', version: null });
    // Not the admin host: templated.
    assert.deepEqual(n.identify('GET', '/admin/a/b', 'www.example', null), { api: '/admin/a/b', version: null });
    // No version in the path: the field, then the query parameter.
    assert.deepEqual(n.identify('GET', '/things/12?api-version=2024-05', null, null), { api: '/things/{id}', version: '2024-05' });
    assert.deepEqual(n.identify('GET', '/things/12?api-version=2024-05', null, '7'), { api: '/things/{id}', version: '7' });
    assert.throws(() => compilePathPattern('orders/{id}'), /starts with '\/'/);
    assert.throws(() => compilePathPattern('/orders/{i-d}'), /placeholder/);
  });

  it('templates identifiers and caps the templates, the rest counted as other', () => {
    assert.equal(
      templateOf('/v1/users/12345/files/550e8400-e29b-41d4-a716-446655440000/deadbeef99/abcdefghijklmnopqrstuvwxyz/raw'),
      '/v1/users/{id}/files/{id}/{id}/{id}/raw',
    );
    assert.equal(templateOf('/v1/users/me'), '/v1/users/me');
    // Hex needs a digit and 8 characters; a token of 20 or more is an identifier all the same.
    assert.equal(templateOf('/x/abcdef12/abcdefab/abcdefabcdefabcdefab/1234567/'), '/x/{id}/abcdefab/{id}/{id}/');
    assert.equal(templateOf('//a//7'), '//a//{id}');
    // The version is the first segment that names one ("v1." and "v.1" do not).
    assert.deepEqual(new ApiNamer().identify('GET', '/v1./v.1/V1.10/v2/x?y', null, null), { api: '/v1./v.1/V1.10/v2/x', version: '1.10' });
    const n = new ApiNamer({ maxTemplates: 2 });
    assert.equal(n.identify('GET', '/a/1', null, null).api, '/a/{id}');
    assert.equal(n.identify('GET', '/b/2', null, null).api, '/b/{id}');
    assert.equal(n.identify('GET', '/c/3', null, null).api, OTHER_API);
    assert.equal(n.identify('GET', '/a/4', null, null).api, '/a/{id}', 'a known template still counts as itself');
    assert.equal(n.overflow, 1);
    assert.deepEqual(n.identify('GET', '/v2/a/1', null, null), { api: OTHER_API, version: '2' });
  });
});

const txn = (o: Partial<HttpTransaction>): HttpTransaction => ({
  client: '192.0.2.1',
  clientPort: 40000,
  server: '198.51.100.1',
  serverPort: 80,
  method: 'GET',
  host: 'api',
  uri: '/v1/orders/1',
  version: 'HTTP/1.1',
  apiVersion: null,
  status: 200,
  requestUs: 0,
  ...o,
});

describe('API usage', () => {
  it('groups by API, version, status and caller over a window, with latency percentiles', () => {
    const u = new ApiUsage({ patterns: [{ name: 'orders', path: '/v{version}/orders/{id}' }] });
    const t0 = u.started + 1000;
    for (let i = 0; i < 100; i++) u.record(txn({ latencyUs: (i + 1) * 1000, responseBytes: 10 }), t0);
    for (let i = 0; i < 10; i++) u.record(txn({ uri: '/v2/orders/1', status: 500, client: '192.0.2.2' }), t0);
    u.record(txn({ uri: '/v2/orders/1', status: undefined, client: '192.0.2.3' }), t0 + 5 * BUCKET_MS);
    const byApi = u.usage(['api'], 3_600_000, t0 + 6 * BUCKET_MS);
    assert.equal(byApi.length, 1);
    assert.equal(byApi[0]!.requests, 111);
    assert.deepEqual(byApi[0]!.statusClasses, { '2xx': 100, '5xx': 10, none: 1 });
    // The 50th of 100 latencies (1..100 ms), within the histogram's 9 % bins.
    const p50 = byApi[0]!.latencyMs.p50!;
    assert.ok(p50 > 46 && p50 < 55, `p50 ${p50}`);
    assert.deepEqual(byApi[0]!.topCallers![0], { source: '192.0.2.1', requests: 100 });
    const byVersion = u.usage(['api', 'version', 'status'], 3_600_000, t0 + 6 * BUCKET_MS);
    assert.deepEqual(
      byVersion.map((r) => [r.version, r.status, r.requests]),
      [
        ['1', 200, 100],
        ['2', 500, 10],
        ['2', null, 1],
      ],
    );
    // The last 20 s hold only the unanswered request.
    assert.deepEqual(
      u.usage(['api'], 20_000, t0 + 6 * BUCKET_MS).map((r) => r.requests),
      [1],
    );
    const bySource = u.usage(['source'], 3_600_000, t0 + 6 * BUCKET_MS);
    assert.deepEqual(bySource.map((r) => [r.source, r.requests]).sort(), [
      ['192.0.2.1', 100],
      ['192.0.2.2', 10],
      ['192.0.2.3', 1],
    ]);
  });

  it('counts each transaction in its own cell, in runs of one cell or changing any field, across buckets', () => {
    // record() compares each transaction with the last one's cell before making a key: any
    // field that differs, or a new bucket, must take it to its own cell.
    const u = new ApiUsage({ patterns: [{ name: 'orders', path: '/v{version}/orders/{id}' }] });
    const t0 = u.started + 1000;
    const kinds: Partial<HttpTransaction>[] = [
      {},
      { method: 'POST' },
      { status: 404 },
      { status: undefined },
      { host: 'other' },
      { host: null },
      { uri: '/v2/orders/1' },
      { uri: '/things/9' },
      { client: '192.0.2.9' },
    ];
    const want = new Map<string, number>();
    let seed = 7;
    for (let i = 0; i < 3000; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      // Runs of 1-4 of one kind, then another, over three buckets.
      const k = kinds[(seed >> 8) % kinds.length]!;
      const at = t0 + Math.floor(i / 1000) * BUCKET_MS;
      for (let r = 0; r <= (seed >> 4) % 4; r++) {
        const t = txn({ ...k, method: k.method ? String(k.method) : 'GET' });
        u.record(t, at);
        const named = new ApiNamer({ patterns: [{ name: 'orders', path: '/v{version}/orders/{id}' }] }).identify(
          t.method,
          t.uri,
          t.host,
          null,
        );
        const key = JSON.stringify([named.api, named.version, t.method, t.status ?? null, t.host, Math.floor(i / 1000)]);
        want.set(key, (want.get(key) ?? 0) + 1);
      }
    }
    // A window holds the buckets from its start on: bucket b's own counts are the window from
    // its start less the window from the next one's.
    const from = (b: number) => {
      const out = new Map<string, number>();
      const start = t0 + b * BUCKET_MS - ((t0 + b * BUCKET_MS) % BUCKET_MS);
      for (const r of u.usage(['api', 'version', 'method', 'status', 'host'], BUCKET_MS * (3 - b), start + (3 - b) * BUCKET_MS)) {
        out.set(JSON.stringify([r.api, r.version, r.method, r.status, r.host]), r.requests);
      }
      return out;
    };
    const got = new Map<string, number>();
    for (let b = 0; b < 3; b++) {
      const next = b < 2 ? from(b + 1) : new Map<string, number>();
      for (const [k, n] of from(b)) {
        const own = n - (next.get(k) ?? 0);
        if (own) got.set(k.slice(0, -1) + `,${b}]`, own);
      }
    }
    assert.deepEqual([...got].sort(), [...want].sort());
    // Callers too: every transaction under its caller, the one client apart from the rest included.
    const callers = u.usage(['source'], 3_600_000, t0 + 3 * BUCKET_MS);
    assert.ok(callers.some((r) => r.source === '192.0.2.9' && r.requests > 0));
    assert.equal(
      callers.reduce((a, r) => a + r.requests, 0),
      [...want.values()].reduce((a, n) => a + n, 0),
    );
  });

  it('says who calls which version', () => {
    const u = new ApiUsage({ patterns: [{ name: 'orders', path: '/v{version}/orders/{id}' }] });
    const t0 = u.started + 1000;
    for (const [uri, client, n] of [
      ['/v1/orders/1', '10.0.0.1', 3],
      ['/v1/orders/2', '10.0.0.2', 1],
      ['/v2/orders/1', '10.0.0.1', 5],
    ] as const) {
      for (let i = 0; i < n; i++) u.record(txn({ uri, client }), t0);
    }
    assert.deepEqual(
      u.versionsView(3_600_000, t0 + 1000).map((v) => [v.api, v.version, v.requests, v.callers, v.topCallers[0]!.source]),
      [
        ['orders', '1', 4, 2, '10.0.0.1'],
        ['orders', '2', 5, 1, '10.0.0.1'],
      ],
    );
    assert.equal(u.recent(3).length, 3);
  });

  it('keeps the last 2,000 transactions, named, oldest first', () => {
    const u = new ApiUsage({ patterns: [{ name: 'orders', path: '/v{version}/orders/{id}' }] });
    const t0 = u.started + 1000;
    for (let i = 0; i < 5001; i++) u.record(txn({ uri: `/v1/orders/${i}` }), t0);
    const recent = u.recent(10_000);
    assert.equal(recent.length, 2000);
    assert.deepEqual(
      [recent[0]!.uri, recent.at(-1)!.uri, recent.at(-1)!.api, recent.at(-1)!.apiVersion],
      ['/v1/orders/3001', '/v1/orders/5000', 'orders', '1'],
    );
    assert.deepEqual(
      u.recent(2).map((r) => r.uri),
      ['/v1/orders/4999', '/v1/orders/5000'],
    );
  });
});
