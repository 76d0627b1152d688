/**
 * The gateway loop, live: nginx as an API gateway (limit_req, JSON access log) behind the
 * daemon's router; a client floods it from one address while another calls it politely.
 * `pathwise gateway follow --nginx-log` sees nginx answer the flood with 429 and seals the
 * flooder at XDP; from the seal on, nginx's log must show no request from it until the seal
 * expires, then the flood comes back and is sealed again for twice as long. Measured: the time
 * from a decision to the first packet the pipeline drops for it (drop events). Around it: the
 * signed webhook (its first delivery refused, then retried with the same id), the audit trail
 * (query and JSON lines), the metrics, and a gateway posting Kong log entries.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ChildProcess } from 'node:child_process';

import { API_LAB, startApiServer, startNginx, whenSays } from '../../src/netlab/api-traffic.js';
import { SERVICE } from '../../src/netlab/router-lab.js';
import { repoRoot } from '../../src/util/paths.js';
import {
  cli,
  createDaemonLab,
  destroyDaemonLab,
  pathwiseBin,
  request,
  routerConfig,
  socketOf,
  startDaemon,
  type DaemonLab,
  type RunningDaemon,
} from '../helpers/daemon.js';
import { privilegedSkip } from '../helpers/privileged.js';

const skip = privilegedSkip();
const FLOODER = '10.210.1.3';
const POLITE = '10.210.1.4';
const SECRET = 'gateway-loop-test-secret';
const FLOOD_S = 14;
const TTL_S = 4;
/** A request nginx had taken in before the seal may be logged just after it. */
const GRACE_MS = 50;

interface LogLine {
  time: string;
  client: string;
  status: number;
}
interface Decision {
  id: string;
  target: string;
  createdAt: string;
  expiresAt: string;
  reason: string;
  state: string;
}

/** Collects a child's stdout as JSON lines. */
function jsonLines(child: ChildProcess): unknown[] {
  const out: unknown[] = [];
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const l of lines) {
      try {
        out.push(JSON.parse(l));
      } catch {
        // "ready" and other words
      }
    }
  });
  return out;
}

const exited = (c: ChildProcess) => new Promise<void>((r) => (c.exitCode !== null ? r() : c.once('exit', () => r())));

describe('the gateway loop: nginx rejects, Pathwise seals at XDP', { skip, timeout: 5 * 60_000 }, () => {
  let lab: DaemonLab | undefined;
  let daemon: RunningDaemon | undefined;
  let log: LogLine[] = [];
  let decisions: Decision[] = [];
  let follower: unknown[] = [];
  let hooks: { at: number; status: number; headers: Record<string, string>; body: string }[] = [];
  let events: { type: string; event?: { time: string; reason: string; packet: { src?: string } }; notice?: unknown }[] = [];
  let flood: Record<string, number> = {};
  let polite: Record<string, number> = {};
  const pw = (...args: string[]) => cli([...args, '--instance', lab!.instance]);
  /** A Kong http-log entry: `client` answered 429 on /v1/orders/1. */
  const kongEntry = (client: string) => ({ client_ip: client, request: { method: 'GET', uri: '/v1/orders/1' }, response: { status: 429 } });
  /** `n` such entries posted as Kong's http-log plugin posts them. */
  const postKongRejections = (client: string, n: number) =>
    request(
      { socketPath: socketOf(lab!.instance) },
      'POST',
      '/v1/gateway/logs?format=kong&source=kong-1',
      Array.from({ length: n }, () => kongEntry(client)),
    );

  before(async () => {
    lab = createDaemonLab('gw');
    const { topo, instance, dir, configFile, ns } = lab;
    const dev = (s: string) => topo.name(s);
    for (const a of [FLOODER, POLITE]) topo.exec(ns.c, 'ip', ['addr', 'add', `${a}/24`, 'dev', dev('c0')]);
    writeFileSync(
      configFile,
      routerConfig(
        topo,
        instance,
        `insight: { dropEvents: true }
decisions: { exempt: [10.210.99.0/24] }
webhooks:
  - { name: test, url: "http://127.0.0.1:9911/hook", secret: ${SECRET}, kinds: [decision], retries: 3 }
`,
      ),
    );
    // The webhook receiver where the daemon is (its namespace's loopback); its first answer is a 500.
    const receiver = topo.spawn(ns.r, process.execPath, [API_LAB, 'hooks', '9911', '500']);
    hooks = jsonLines(receiver) as typeof hooks;
    await whenSays(receiver, 'ready', 'the webhook receiver');
    daemon = await startDaemon(ns.r, configFile, join(dir, 'state'));
    await startApiServer(topo, ns.u1, 8080);
    await startNginx(
      topo,
      ns.u1,
      dir,
      80,
      8080,
      'limit_req zone=api burst=5 nodelay; limit_req_status 429;',
      'limit_req_zone $binary_remote_addr zone=api:1m rate=10r/s;',
    );
    // The router's kernel does not forward (router-lab.ts), so it resolves only the neighbours
    // that talk to it: each client address says hello to it once.
    for (const a of [FLOODER, POLITE]) topo.exec(ns.c, 'ping', ['-c', '1', '-W', '2', '-I', a, '10.210.1.1']);
    const stream = topo.spawn(ns.r, process.execPath, [
      join(repoRoot, 'dist', 'test', 'helpers', 'ws-listen.js'),
      `ws+unix://${socketOf(instance)}:/v1/events?kind=drop,decision`,
      '',
      String(FLOOD_S + 6),
    ]);
    events = jsonLines(stream) as typeof events;
    await whenSays(stream, '"open"', 'the event stream');

    const follow = topo.spawn(ns.r, pathwiseBin, [
      'gateway',
      'follow',
      '--nginx-log',
      join(dir, 'access.log'),
      '--threshold',
      '15',
      '--window',
      '5s',
      '--ttl',
      `${TTL_S}s`,
      '--instance',
      instance,
      '--json',
    ]);
    follower = jsonLines(follow);
    await new Promise((r) => setTimeout(r, 500)); // it reads the log from its end: let it open it first

    const run = (src: string, rate: number) => {
      const c = topo.spawn(ns.c, process.execPath, [API_LAB, 'flood', SERVICE, '80', String(FLOOD_S), src, String(rate)]);
      const out = jsonLines(c);
      return exited(c).then(() => out[0] as Record<string, number>);
    };
    [flood, polite] = await Promise.all([run(FLOODER, 0), run(POLITE, 4)]);
    await new Promise((r) => setTimeout(r, 1500)); // the last deliveries and events
    follow.kill('SIGINT');
    await exited(follow);
    stream.kill('SIGTERM');
    receiver.kill('SIGTERM');

    log = readFileSync(join(dir, 'access.log'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as LogLine)
      .filter((l) => !l.client.startsWith('127.'));
    const listed = pw('decision', 'list', '--all', '--json');
    assert.equal(listed.status, 0, listed.stderr);
    decisions = (listed.json() as Decision[])
      .filter((d) => d.target === `${FLOODER}/32`)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  });

  after(async () => {
    await destroyDaemonLab(lab, daemon);
  });

  const from = (src: string) => log.filter((l) => l.client.startsWith(`${src}:`)).map((l) => Number(l.time) * 1000);

  it('seals the flooder when nginx keeps rejecting it, and nginx sees nothing of it while the seal holds', () => {
    assert.ok(flood['429']! > 15, `the flood met nginx's limit: ${JSON.stringify(flood)}`);
    assert.ok(decisions.length >= 2, `sealed, expired, sealed again: ${decisions.length} decisions`);
    const times = from(FLOODER);
    for (const d of decisions) {
      const start = Date.parse(d.createdAt);
      const end = Date.parse(d.expiresAt);
      const inside = times.filter((t) => t > start + GRACE_MS && t < end);
      assert.deepEqual(inside, [], `nginx logged the flooder while ${d.id} held (${d.createdAt} to ${d.expiresAt})`);
    }
    // The seal ended by itself and the flooder reached nginx again before the next one.
    const [first, second] = decisions;
    const between = times.filter((t) => t >= Date.parse(first!.expiresAt) && t <= Date.parse(second!.createdAt));
    assert.ok(between.length > 0, 'the flood came back after the first seal expired');
    // Escalation: the second offense is sealed for twice as long.
    const ttl = (d: Decision) => Date.parse(d.expiresAt) - Date.parse(d.createdAt);
    assert.equal(ttl(first!), TTL_S * 1000);
    assert.equal(ttl(second!), 2 * TTL_S * 1000);
    assert.ok(flood.timeout! > 0, 'the sealed flooder saw its connections time out');
    const applied = follower.filter((f) => (f as { type: string }).type === 'decision') as { result: { status: string; held: string } }[];
    assert.ok(
      applied.length >= 2 && applied.every((a) => a.result.status === 'applied' && a.result.held === 'block'),
      JSON.stringify(applied),
    );
  });

  it('leaves the polite client alone', () => {
    assert.deepEqual(Object.keys(polite), ['200'], JSON.stringify(polite));
    assert.ok(polite['200']! >= FLOOD_S * 3, `${polite['200']} answers`);
    assert.equal(from(POLITE).length, polite['200']);
  });

  it('drops the flooder at XDP right after each decision (measured)', () => {
    const drops = events
      .filter((e) => e.type === 'event' && e.event!.reason === 'blocked' && e.event!.packet.src === FLOODER)
      .map((e) => Date.parse(e.event!.time));
    const lags = decisions.map((d) => {
      const first = drops.find((t) => t >= Date.parse(d.createdAt));
      assert.ok(first !== undefined, `a drop after ${d.id}`);
      return first - Date.parse(d.createdAt);
    });
    process.stderr.write(`decision to first drop at XDP: ${lags.map((l) => `${l} ms`).join(', ')} (the flooder sends continuously)\n`);
    assert.ok(
      lags.every((l) => l <= 50),
      `each first drop within 50 ms of its decision: ${lags.join(', ')} ms`,
    );
    const notices = events.filter((e) => e.type === 'notice');
    assert.ok(notices.length >= decisions.length, 'decisions are on the event stream');
  });

  it('tells the webhook, signed, and retries a refused delivery with the same id', () => {
    assert.ok(hooks.length >= 2, `${hooks.length} deliveries`);
    for (const h of hooks) {
      const ts = h.headers['x-pathwise-timestamp']!;
      const expected = `sha256=${createHmac('sha256', SECRET).update(`${ts}.${h.body}`).digest('hex')}`;
      assert.equal(h.headers['x-pathwise-signature'], expected);
      assert.equal(JSON.parse(h.body).notice.kind, 'decision');
    }
    assert.equal(hooks[0]!.status, 500);
    assert.equal(hooks[1]!.headers['x-pathwise-delivery'], hooks[0]!.headers['x-pathwise-delivery'], 'the retry is the same delivery');
    assert.ok(hooks[1]!.at - hooks[0]!.at >= 400, 'after a backoff');
  });

  it('keeps the audit trail: decisions, expiries, deliveries; as JSON lines too', async () => {
    const a = pw('audit', '--subject', FLOODER, '--json');
    assert.equal(a.status, 0, a.stderr);
    const events = (a.json() as { kind: string; event: string }[]).map((r) => `${r.kind} ${r.event}`);
    assert.ok(events.filter((e) => e === 'decision applied').length >= 2, events.join(', '));
    assert.ok(events.includes('decision expired'), events.join(', '));
    const jl = pw('audit', '--kind', 'webhook', '--jsonl');
    assert.equal(jl.status, 0, jl.stderr);
    const lines = jl.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string; subject: string });
    assert.ok(lines.some((l) => l.event === 'delivered' && l.subject === 'test'));
    const m = await request({ socketPath: socketOf(lab!.instance) }, 'GET', '/metrics');
    assert.match(m.text, /pathwise_webhook_deliveries_total\{webhook="test"\} [1-9]/);
    assert.match(m.text, /pathwise_webhook_failed_attempts_total\{webhook="test"\} [1-9]/);
    assert.match(m.text, /pathwise_decisions_total\{event="expired"\} [1-9]/);
  });

  it('takes log entries a gateway posts (Kong http-log) and seals what they show', async () => {
    const r = await postKongRejections('10.210.1.77', 25);
    assert.equal(r.status, 200, r.text);
    const body = r.json as { rejections: number; results: { decision: { target: string; source: string; api: string } }[] };
    assert.equal(body.rejections, 25);
    assert.equal(body.results.length, 1);
    assert.deepEqual(
      [body.results[0]!.decision.target, body.results[0]!.decision.source, body.results[0]!.decision.api],
      ['10.210.1.77/32', 'kong-1', '/v1/orders/1'],
    );
    const blocks = pw('block', 'list', '--json').json() as { prefix: string; origin: string }[];
    assert.equal(blocks.find((b) => b.prefix === '10.210.1.77/32')?.origin, 'decision');
    const bad = await request({ socketPath: socketOf(lab!.instance) }, 'POST', '/v1/gateway/logs?format=envoy', [kongEntry('10.210.1.77')]);
    assert.equal(bad.status, 400);
  });

  it("takes a batch of 1,000 entries of ~2 KB as APISIX's http-logger sends them by default", async () => {
    // Loggers send the request's and response's headers, the route and the service with each
    // entry: a batch of 1,000 is ~2 MB, over the 1 MiB the API takes of most bodies.
    const entry = {
      ...kongEntry('10.210.1.78'),
      request: { method: 'GET', uri: '/v1/orders/1', headers: { 'user-agent': 'load-test/1.0', cookie: `s=${'x'.repeat(1900)}` } },
    };
    const batch = Array.from({ length: 1000 }, () => entry);
    assert.ok(JSON.stringify(batch).length > 2_000_000);
    const r = await request({ socketPath: socketOf(lab!.instance) }, 'POST', '/v1/gateway/logs?format=apisix&source=apisix-1', batch);
    assert.equal(r.status, 200, r.text);
    const body = r.json as { entries: number; rejections: number; results: { status: string; decision: { target: string } }[] };
    assert.equal(body.entries, 1000);
    assert.equal(body.rejections, 1000);
    assert.deepEqual(
      body.results.map((x) => [x.status, x.decision.target]),
      [['applied', '10.210.1.78/32']],
    );
    // The listing a page at a time: asked for one, it says there are more.
    const one = pw('decision', 'list', '--limit', '1', '--json');
    assert.equal(one.status, 0, one.stderr);
    assert.equal((one.json() as { target: string }[]).length, 1);
    assert.equal((one.json() as { target: string }[])[0]!.target, '10.210.1.78/32', 'the newest first');
    assert.match(one.stderr, /the newest 1 shown; more match/);
  });

  it('seals no source in decisions.exempt, whatever the gateway logs of it; says so and keeps it on record', async () => {
    // A load balancer in front of the gateway, logged as the client of every request.
    const r = await postKongRejections('10.210.99.5', 25);
    assert.equal(r.status, 200, r.text);
    const body = r.json as { results: { status: string; decision: { target: string; state: string } }[] };
    assert.deepEqual(
      body.results.map((x) => [x.status, x.decision.target, x.decision.state]),
      [['exempt', '10.210.99.5/32', 'exempt']],
    );
    const blocks = pw('block', 'list', '--json').json() as { prefix: string }[];
    assert.equal(
      blocks.find((b) => b.prefix === '10.210.99.5/32'),
      undefined,
    );
    const all = pw('decision', 'list', '--all', '--json').json() as Decision[];
    assert.equal(all.find((d) => d.target === '10.210.99.5/32')?.state, 'exempt');
    const audit = pw('audit', '--kind', 'decision', '--subject', '10.210.99.', '--json').json() as { event: string; summary: string }[];
    assert.ok(
      audit.some((a) => a.event === 'exempt' && /overlaps 10\.210\.99\.0\/24 in decisions\.exempt/.test(a.summary)),
      JSON.stringify(audit),
    );
    const m = await request({ socketPath: socketOf(lab!.instance) }, 'GET', '/metrics');
    assert.match(m.text, /pathwise_decisions_total\{event="exempt"\} 1\b/);
  });

  it('ends the decisions in force on a prefix a new config exempts', () => {
    const blocked = pw('decision', 'block', '10.210.98.7', '--ttl', '1h', '--json');
    assert.equal(blocked.status, 0, blocked.stderr);
    const id = (blocked.json() as { results: { id: string }[] }).results[0]!.id;
    const held = () => (pw('block', 'list', '--json').json() as { prefix: string }[]).some((b) => b.prefix === '10.210.98.7/32');
    assert.ok(held());
    const text = readFileSync(lab!.configFile, 'utf8').replace('exempt: [10.210.99.0/24]', 'exempt: [10.210.99.0/24, 10.210.98.0/24]');
    assert.notEqual(text, readFileSync(lab!.configFile, 'utf8'));
    writeFileSync(lab!.configFile, text);
    const applied = pw('apply', '-f', lab!.configFile, '--json');
    assert.equal(applied.status, 0, applied.stderr);
    assert.ok(!held(), 'the block is gone');
    const d = (pw('decision', 'list', '--all', '--json').json() as (Decision & { endedBy?: string })[]).find((x) => x.id === id);
    assert.deepEqual([d?.state, d?.endedBy], ['exempt', 'decisions.exempt 10.210.98.0/24']);
  });
});
