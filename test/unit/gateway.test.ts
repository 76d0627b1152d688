/**
 * The gateway loop's control-plane parts: log adapters (nginx JSON and combined, Kong,
 * APISIX), the rejection follower's policy (threshold in a sliding window, seals, escalation,
 * prefixes, in-flight rejections), decision checks, the gateway token role, and the audit log
 * (append-only, queries, retention).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { authenticate } from '../../src/api/auth.js';
import { AuditLog } from '../../src/control/audit.js';
import { checkDecision, parseSealPer } from '../../src/filter/decision.js';
import { ADAPTERS, addressOf } from '../../src/gateway/adapters.js';
import { DEFAULT_POLICY, RejectionFollower } from '../../src/gateway/follower.js';
import { PwError } from '../../src/errors.js';

describe('gateway log adapters', () => {
  it('reads nginx JSON lines under either naming, and the combined format', () => {
    assert.deepEqual(
      ADAPTERS.nginx!.parse('{"time":"1.2","client":"10.0.0.5:41234","method":"GET","uri":"/v1/a?x=1","status":429,"request_time":0.001}'),
      { source: '10.0.0.5', status: 429, method: 'GET', uri: '/v1/a?x=1' },
    );
    assert.deepEqual(ADAPTERS.nginx!.parse('{"remote_addr":"2001:db8::7","status":"403","request":"POST /login HTTP/1.1","host":"api"}'), {
      source: '2001:db8::7',
      status: 403,
      method: 'POST',
      uri: '/login',
      host: 'api',
    });
    assert.deepEqual(
      ADAPTERS.nginx!.parse('192.0.2.1 - - [02/Dec/2026:10:00:00 +0000] "GET /v2/orders/9 HTTP/1.1" 429 169 "-" "curl/7.88.1"'),
      { source: '192.0.2.1', status: 429, method: 'GET', uri: '/v2/orders/9' },
    );
    // What is not an entry: nothing, never a guess.
    for (const line of [
      '',
      'garbage',
      '{"status":429}',
      '{"remote_addr":"nope","status":429}',
      '{"remote_addr":"10.0.0.1","status":"abc"}',
      '{bad json',
    ])
      assert.equal(ADAPTERS.nginx!.parse(line), null, line);
  });

  it("reads Kong's and APISIX's logger entries", () => {
    const kong = {
      client_ip: '198.51.100.4',
      request: { method: 'GET', uri: '/orders', headers: { host: 'api.example' } },
      response: { status: 429 },
    };
    assert.deepEqual(ADAPTERS.kong!.parseObject(kong), {
      source: '198.51.100.4',
      status: 429,
      method: 'GET',
      uri: '/orders',
      host: 'api.example',
    });
    assert.deepEqual(ADAPTERS.apisix!.parse(JSON.stringify({ ...kong, request: { method: 'PUT', url: 'http://x/y' } })), {
      source: '198.51.100.4',
      status: 429,
      method: 'PUT',
      uri: 'http://x/y',
    });
    assert.equal(ADAPTERS.kong!.parseObject({ client_ip: '1.2.3.4' }), null);
  });

  it('takes addresses as logs write them', () => {
    assert.equal(addressOf('10.1.2.3:80'), '10.1.2.3');
    assert.equal(addressOf('[2001:db8::1]:443'), '2001:db8::1');
    assert.equal(addressOf('2001:db8::1'), '2001:db8::1');
    assert.equal(addressOf('example.com'), null);
    assert.equal(addressOf(42), null);
  });
});

describe('the rejection follower', () => {
  const policy = { ...DEFAULT_POLICY, threshold: 3, windowMs: 1000, ttlMs: 10_000, maxTtlMs: 25_000 };
  const e = (source: string, status = 429, uri = '/v1/orders/1?x') => ({ source, status, uri });

  it('seals a source at the threshold within the window, never for other statuses', () => {
    const f = new RejectionFollower(policy, 'gw', 0);
    assert.equal(f.see(e('10.0.0.1', 200), 0), null);
    assert.equal(f.see(e('10.0.0.1'), 0), null);
    assert.equal(f.see(e('10.0.0.1'), 500), null);
    // The first rejection left the window: still two.
    assert.equal(f.see(e('10.0.0.1'), 1200), null);
    const d = f.see(e('10.0.0.1'), 1300);
    assert.ok(d);
    assert.deepEqual(
      { ...d, reason: undefined },
      { id: 'gw:10.0.0.1/32:1:0', action: 'block', target: '10.0.0.1/32', ttl: 10, api: '/v1/orders/1', reason: undefined },
    );
    assert.match(d.reason!, /3 answers of 429\/403 within 1s/);
  });

  it('ignores what comes while the seal holds, then escalates up to the cap', () => {
    const f = new RejectionFollower(policy, 'gw', 0);
    const burst = (t: number) => [0, 1, 2].map((i) => f.see(e('10.0.0.2'), t + i)).find(Boolean);
    assert.equal(burst(0)!.ttl, 10);
    assert.equal(burst(5000), undefined, 'in flight before the seal');
    assert.equal(f.stats.whileSealed, 3);
    assert.equal(burst(10_010)!.ttl, 20);
    assert.equal(burst(40_000)!.ttl, 25, 'capped at maxTtl');
  });

  it('counts at most 64 paths of a source that stays under the threshold, whatever it asks for', () => {
    const f = new RejectionFollower({ ...policy, threshold: 10_000, windowMs: 1000 }, 'gw', 0);
    // One rejection a second, each for a new path: never sealed, never more than 64 paths kept.
    for (let i = 0; i < 5000; i++) assert.equal(f.see(e('10.0.0.9', 429, `/v1/items/${i}`), i * 1000), null);
    const kept = (f as unknown as { sources: Map<string, { paths: Map<string, number> }> }).sources.get('10.0.0.9/32')!.paths;
    assert.equal(kept.size, 64);
    assert.equal(kept.get('/v1/items/0'), 1);
  });

  it('seals prefixes when asked, and limits at a rate', () => {
    const f = new RejectionFollower({ ...policy, per4: 24, per6: 56, action: 'limit', rate: 50, burst: 100 }, 'gw', 0);
    f.see(e('10.0.0.1'), 0);
    f.see(e('10.0.0.2'), 0);
    const d = f.see(e('10.0.0.3'), 0)!;
    assert.equal(d.target, '10.0.0.0/24');
    assert.equal(d.action, 'limit');
    assert.equal(d.rate, 50);
    for (let i = 0; i < 2; i++) f.see(e('2001:db8:1:2::1'), 0);
    assert.equal(f.see(e('2001:db8:1:3::1'), 0)!.target, '2001:db8:1::/56');
  });
});

describe('decision checks', () => {
  const limits = { defaultTtlMs: 3_600_000, maxTtlMs: 86_400_000 };
  it('names the field at fault', () => {
    const bad = (d: object, where: string) =>
      assert.throws(
        () => checkDecision(d as never, limits, 'decisions[2]'),
        (err: PwError) => err.where === where,
      );
    bad({ action: 'ban', target: '10.0.0.1' }, 'decisions[2].action');
    bad({ action: 'block', target: '10.0.0.1/8' }, 'decisions[2].target');
    bad({ action: 'block', target: '10.0.0.1', ttl: 'soon' }, 'decisions[2].ttl');
    bad({ action: 'block', target: '10.0.0.1', ttl: 0.5 }, 'decisions[2].ttl');
    bad({ action: 'limit', target: '10.0.0.1' }, 'decisions[2].rate');
    bad({ action: 'block', target: '10.0.0.1', rate: 5 }, 'decisions[2].rate');
    bad({ action: 'unblock', target: '10.0.0.1', ttl: '1m' }, 'decisions[2].action');
    bad({ action: 'block', target: '10.0.0.1', id: 'has space' }, 'decisions[2].id');
    const ok = checkDecision({ action: 'limit', target: '2001:db8::/32', rate: 2.5 }, limits, 'd');
    assert.deepEqual([ok.target, ok.ttlMs, ok.burst], ['2001:db8::/32', 3_600_000, 3]);
  });

  it('refuses a block or limit wider than /8 (IPv4) or /16 (IPv6): 0.0.0.0/0 from a gateway would cut the host off', () => {
    for (const [target, widest] of [
      ['0.0.0.0/0', '/8 at most for IPv4'],
      ['10.0.0.0/7', '/8 at most for IPv4'],
      ['::/0', '/16 at most for IPv6'],
      ['2000::/3', '/16 at most for IPv6'],
    ] as const)
      for (const d of [
        { action: 'block', target },
        { action: 'limit', target, rate: 10 },
      ])
        assert.throws(
          () => checkDecision(d as never, limits, 'decisions[0]'),
          (err: PwError) =>
            err.where === 'decisions[0].target' &&
            err.message === `decisions[0].target: ${target} is wider than a decision may be (${widest})`,
        );
    assert.equal(checkDecision({ action: 'block', target: '10.0.0.0/8' }, limits, 'd').target, '10.0.0.0/8');
    assert.equal(checkDecision({ action: 'block', target: '2001::/16' }, limits, 'd').target, '2001::/16');
    // Lifting one stays possible whatever its width (a decision made before this check).
    assert.equal(checkDecision({ action: 'unblock', target: '0.0.0.0/0' }, limits, 'd').target, '0.0.0.0/0');
    // A gateway's `per` makes every seal that wide: refused up front, not seal by seal.
    assert.deepEqual(parseSealPer('/24,/48'), { per4: 24, per6: 48 });
    assert.deepEqual(parseSealPer('address'), { per4: 32, per6: 128 });
    for (const per of ['/4', '/24,/8', '/0'])
      assert.throws(
        () => parseSealPer(per, 'gateway.per'),
        (err: PwError) => err.where === 'gateway.per' && /is wider than a decision may be/.test(err.message),
      );
  });
});

describe('the gateway token role', () => {
  const tokens = [{ name: 'gw', token: 'g'.repeat(20), role: 'gateway' as const }];
  const auth = (method: string, url: string) => () => authenticate(`Bearer ${'g'.repeat(20)}`, tokens, method, url);
  it('may send decisions and logs, and read; nothing else', () => {
    for (const [m, u] of [
      ['POST', '/v1/decisions'],
      ['DELETE', '/v1/decisions/abc'],
      ['POST', '/v1/gateway/logs?format=kong'],
      ['GET', '/v1/audit'],
    ] as const)
      assert.equal(auth(m, u)().role, 'gateway', `${m} ${u}`);
    for (const [m, u] of [
      ['POST', '/v1/rules'],
      ['PUT', '/v1/config'],
      ['POST', '/v1/decisionsX'],
      ['DELETE', '/v1/decisions/a/b'],
    ] as const)
      assert.throws(auth(m, u), (e: PwError) => e.code === 'PW_ERR_FORBIDDEN', `${m} ${u}`);
  });
});

describe('the audit log', () => {
  it('appends, refuses changes, answers by time, kind and subject, and forgets past its retention', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-audit-'));
    try {
      const log = new AuditLog(join(dir, 'audit.db'), 1);
      const rec = (subject: string, at: string, kind: 'decision' | 'config' = 'decision') =>
        log.append({ kind, event: 'applied', at, subject, actor: 't', summary: subject, details: { n: 1 } });
      rec('10.0.0.0/24', '2026-01-01T00:00:00Z');
      rec('10.0.0.5/32', '2026-01-02T00:00:00Z');
      rec('10_0', '2026-01-02T00:00:00Z');
      rec('version 3', '2026-01-03T00:00:00Z', 'config');
      assert.deepEqual(
        log.query({ subject: '10.0.0.' }).map((r) => r.subject),
        ['10.0.0.0/24', '10.0.0.5/32'],
      );
      assert.deepEqual(
        log.query({ subject: '10_' }).map((r) => r.subject),
        ['10_0'],
        '_ is not a wildcard',
      );
      assert.deepEqual(
        log.query({ since: Date.parse('2026-01-02T00:00:00Z'), kinds: ['decision'] }).map((r) => r.subject),
        ['10.0.0.5/32', '10_0'],
      );
      assert.deepEqual(log.query({ afterId: 3 })[0]!.details, { n: 1 });
      assert.deepEqual(
        log.query({ last: true, limit: 2 }).map((r) => r.subject),
        ['10_0', 'version 3'],
        'the newest two, oldest first',
      );
      assert.throws(() => (log as unknown as { db: { exec(s: string): void } }).db.exec("UPDATE audit SET summary = 'x'"), /append-only/);
      assert.equal(log.prune(Date.parse('2026-01-02T12:00:00Z')), 1);
      assert.equal(log.query().length, 3);
      log.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
