/**
 * The daemon end to end, in a router namespace (client — router — two upstreams), with real
 * traffic counted by sinks: config at start, REST auth, diff/apply, SIGHUP reload, history and
 * rollback, a failure injected mid-apply and restored, kill -9 under traffic with zero loss,
 * a restart that adopts the pinned state, and an atomic program upgrade under traffic.
 */
import assert from 'node:assert/strict';
import { type ChildProcess } from 'node:child_process';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { repoRoot } from '../../src/util/paths.js';
import { privilegedSkip } from '../helpers/privileged.js';
import { Topology } from '../helpers/topology.js';
import { SERVICE } from '../../src/netlab/router-lab.js';
import {
  cli,
  createDaemonLab,
  destroyDaemonLab,
  request,
  socketOf,
  startDaemon,
  stopDaemon,
  type DaemonLab,
  type RunningDaemon,
} from '../helpers/daemon.js';

const skip = privilegedSkip();
const TRAFFIC = join(repoRoot, 'dist', 'src', 'netlab', 'traffic.js');
const ADMIN = 'admin-token-0123456789abcdef';
const READER = 'read-token-0123456789abcdef';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('pathwise daemon', { skip, timeout: 10 * 60_000 }, () => {
  let lab: DaemonLab | undefined;
  let topo: Topology;
  let instance = '';
  let dir = '';
  let configFile = '';
  let daemon: RunningDaemon | undefined;
  const port = 20000 + Math.floor(Math.random() * 20000);
  const ns = { c: '', r: '', u1: '', u2: '' };
  const dev = (s: string) => topo.name(s);
  const pw = (...args: string[]) => cli([...args, '--instance', instance]);
  const api = (method: string, path: string, body?: unknown) => request({ socketPath: socketOf(instance) }, method, path, body);

  /** The TCP listener lives in the router's namespace: ask from there. */
  const tcp = (method: string, path: string, token?: string, body?: unknown): { status: number; json: any; text: string } => {
    // The body comes on standard input (it may be larger than an argument can be).
    const script = `let body = ''; for await (const c of process.stdin) body += c; const r = await fetch(process.argv[1], { method: process.argv[2], headers: { ...(process.argv[3] ? { authorization: 'Bearer ' + process.argv[3] } : {}), ...(body ? { 'content-type': 'application/json' } : {}) }, body: body || undefined }); console.log(JSON.stringify({ status: r.status, text: await r.text() }));`;
    const out = JSON.parse(
      topo.exec(ns.r, process.execPath, ['--input-type=module', '-e', script, `http://127.0.0.1:${port}${path}`, method, token ?? ''], {
        input: body ? JSON.stringify(body) : '',
      }),
    );
    let json: unknown = null;
    try {
      json = JSON.parse(out.text);
    } catch {
      // text
    }
    return { ...out, json };
  };

  const config = (extra = '') => `
instance: ${instance}
interfaces:
  - { name: ${dev('r0')}, mode: native }
  - { name: ${dev('r1')}, mode: native }
  - { name: ${dev('r2')}, mode: native }
routes:
  - prefix: 10.220.0.0/16
    via:
      - { gateway: 10.210.2.2, weight: 1 }
      - { gateway: 10.210.3.2, weight: 3 }
${extra}
api:
  listen: [{ host: 127.0.0.1, port: ${port} }]
  tokens:
    - { name: ops, token: ${ADMIN}, role: admin }
    - { name: grafana, token: ${READER}, role: readonly }
`;

  /** Numbered datagrams client → service, counted by sinks on both upstreams. */
  async function countedTraffic(rate: number, seconds: number, during: () => Promise<void>): Promise<{ sent: number; received: number }> {
    const sinks: ChildProcess[] = [];
    for (const u of [ns.u1, ns.u2]) {
      const s = topo.spawn(u, process.execPath, [TRAFFIC, 'udp-sink', '9000']);
      await new Promise<void>((res) => s.stdout!.once('data', () => res()));
      sinks.push(s);
    }
    const sender = topo.spawn(ns.c, process.execPath, [TRAFFIC, 'udp-send', SERVICE, '9000', String(rate), String(seconds), '40000']);
    let out = '';
    sender.stdout!.on('data', (d) => (out += d));
    const done = new Promise((res) => sender.once('exit', res));
    await during();
    await done;
    await sleep(300); // the last datagrams in flight
    let received = 0;
    for (const s of sinks) {
      let text = '';
      s.stdout!.on('data', (d) => (text += d));
      const exited = new Promise((res) => s.once('exit', res));
      s.kill('SIGTERM');
      await exited;
      received += JSON.parse(text.trim().split('\n').pop()!).distinct;
    }
    const sent = JSON.parse(out.trim()).sent as number;
    return { sent, received };
  }

  const snapshot = async () => {
    const routes = (await api('GET', '/v1/routes')).json.map((r: any) => ({
      prefix: r.prefix,
      type: r.type,
      metric: r.metric,
      nexthops: r.nexthops,
    }));
    const rules = (await api('GET', '/v1/rules')).json.map((r: any) => r.text);
    const limiters = (await api('GET', '/v1/ratelimits')).json.map((l: any) => ({ ...l, id: undefined }));
    const blocks = (await api('GET', '/v1/blocklist')).json.map((b: any) => b.prefix);
    const interfaces = (await api('GET', '/v1/interfaces')).json;
    const lookup = (await api('GET', '/v1/lookup?addr=10.220.0.1&addr=10.230.0.1&addr=10.250.0.1')).json;
    return { routes, rules, limiters, blocks, interfaces, lookup };
  };

  before(async () => {
    // Only Pathwise forwards: a packet the XDP path misses is dropped by the kernel, and lost.
    lab = createDaemonLab('d');
    ({ topo, instance, dir, configFile } = lab);
    Object.assign(ns, lab.ns);
    writeFileSync(configFile, config());
    daemon = await startDaemon(ns.r, configFile, join(dir, 'state'));
  });

  after(() => destroyDaemonLab(lab, daemon));

  it('starts from the config: version 1, interfaces attached, traffic forwarded by XDP', async () => {
    const s = pw('status', '--json');
    assert.equal(s.status, 0, s.stderr);
    assert.equal(s.json().version, 1);
    assert.deepEqual(
      s.json().interfaces.map((i: any) => i.mode),
      ['native', 'native', 'native'],
    );
    const t = await countedTraffic(1000, 1, async () => {});
    assert.equal(t.sent, 1000);
    assert.equal(t.received, 1000);
  });

  it('REST: no token → 401, read-only token reads but cannot write, admin writes; JSON errors; OpenAPI; metrics', async () => {
    const none = tcp('GET', '/v1/status');
    assert.equal(none.status, 401);
    assert.equal(none.json.error.code, 'PW_ERR_AUTH');
    assert.equal(tcp('GET', '/v1/status', 'wrong-token-0123456789').status, 401);
    assert.equal(tcp('GET', '/v1/status', READER).status, 200);
    const ro = tcp('POST', '/v1/routes', READER, { route: { prefix: '10.230.0.0/16', type: 'blackhole' } });
    assert.equal(ro.status, 403);
    assert.equal(ro.json.error.code, 'PW_ERR_FORBIDDEN');
    const bad = tcp('POST', '/v1/routes', ADMIN, { route: { prefix: '10.230.0.0/16', via: [{ gateway: '10.210.2.2', weight: 'heavy' }] } });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.code, 'PW_ERR_INVALID');
    assert.match(bad.json.error.where, /route\.via\[0\]\.weight/);
    const noHop = tcp('POST', '/v1/routes', ADMIN, { route: { prefix: '10.231.0.0/16', via: [{ weight: 2 }] } });
    assert.equal(noHop.status, 400, noHop.text);
    assert.match(noHop.json.error.message, /routes\[1\]\.via\[0\]: a nexthop needs a gateway or a dev/);
    const big = tcp('POST', '/v1/routes', ADMIN, { route: { prefix: '10.230.0.0/16', type: 'blackhole', pad: 'x'.repeat(2 << 20) } });
    assert.equal(big.status, 413);
    const ok = tcp('POST', '/v1/routes', ADMIN, { route: { prefix: '10.230.0.0/16', type: 'blackhole' } });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.version, 2);
    assert.deepEqual(
      ok.json.changes.map((c: any) => [c.kind, c.op, c.key]),
      [['route', 'add', '10.230.0.0/16']],
    );
    const dup = tcp('POST', '/v1/routes', ADMIN, { route: { prefix: '10.230.0.0/16', type: 'blackhole' } });
    assert.equal(dup.status, 409);
    const openapi = tcp('GET', '/openapi.json', READER);
    assert.ok(openapi.json.paths['/v1/routes'].post, 'OpenAPI documents POST /v1/routes');
    assert.ok(openapi.json.paths['/v1/history'].get);
    const metrics = tcp('GET', '/metrics', READER).text;
    assert.match(metrics, /^pathwise_config_version 2$/m);
    assert.match(metrics, new RegExp(`^pathwise_interface_packets_total\\{interface="${dev('r0')}",verdict="redirect"\\} [1-9]`, 'm'));
    assert.match(metrics, /^pathwise_map_max_entries\{map="pw_routes"\} \d+/m);
    assert.match(metrics, /^pathwise_route_packets_total\{prefix="10.220.0.0\/16"\} [1-9]/m);
    // Everything the daemon wrote is a JSON log line: no library's warning on the side (fastify's
    // deprecation of disableRequestLogging and ajv's "unknown format starts_with" were, at every start).
    assert.deepEqual(
      daemon!.log.filter((l) => !l.startsWith('{')),
      [],
    );
  });

  it('diff shows and changes nothing; apply applies the minimal change as a new version', async () => {
    const next = join(dir, 'next.yaml');
    writeFileSync(
      next,
      config(
        '  - { prefix: 10.230.0.0/16, type: blackhole }\nratelimits:\n  udp: { rate: 100 }\nrules:\n  - { action: drop, proto: udp, dport: 7777 }\n  - { action: ratelimit, limiter: udp, proto: udp, dport: 8888 }',
      ),
    );
    const d = pw('diff', '-f', next, '--json');
    assert.equal(d.status, 0, d.stderr);
    assert.deepEqual(
      d.json().changes.map((c: any) => [c.kind, c.op]),
      [
        ['limiter', 'add'],
        ['rules', 'replace'],
      ],
    );
    assert.equal(pw('status', '--json').json().version, 2);
    const a = pw('apply', '-f', next, '--json');
    assert.equal(a.status, 0, a.stderr);
    assert.equal(a.json().version, 3);
    assert.equal(pw('rule', 'list', '--json').json().length, 2);
    const again = pw('apply', '-f', next, '--json');
    assert.deepEqual(again.json().changes, [], 'applying the same config again changes nothing');
    assert.equal(again.json().notes, undefined);
    // The TCP listeners are opened at the start only: a proposal that moves them says so.
    const moved = join(dir, 'moved.yaml');
    writeFileSync(moved, readFileSync(next, 'utf8').replace(`port: ${port} }`, `port: ${port + 1} }`));
    const m = pw('diff', '-f', moved, '--json');
    assert.equal(m.status, 0, m.stderr);
    assert.match(m.json().notes?.[0] ?? '', /^api\.listen: the daemon opens its TCP listeners when it starts; restart it/);
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, config('  - { prefix: 10.231.0.0/16, via: [{ gateway: 10.210.2.2, weight: 0 }] }'));
    const e = pw('apply', '-f', broken, '--json');
    assert.equal(e.status, 3);
    assert.match(JSON.parse(e.stderr).error.message, /broken\.yaml:\d+:\d+: routes\[1\]\.via\[0\]\.weight/);
    assert.equal(pw('status', '--json').json().version, 3);
  });

  it('reloads on SIGHUP', async () => {
    writeFileSync(configFile, config('  - { prefix: 10.240.0.0/16, type: blackhole }'));
    daemon!.child.kill('SIGHUP');
    for (let i = 0; i < 100 && !daemon!.log.some((l) => l.includes('"why":"SIGHUP"')); i++) await sleep(100);
    assert.ok(
      daemon!.log.some((l) => l.includes('"why":"SIGHUP"')),
      'the daemon logged a SIGHUP reload',
    );
    const routes = pw('route', 'list', '--user', '--json')
      .json()
      .map((r: any) => r.prefix);
    assert.deepEqual(routes.sort(), ['10.220.0.0/16', '10.240.0.0/16']);
    assert.equal(pw('rule', 'list', '--json').json().length, 0, 'the file is the whole truth: its reload drops what it does not hold');
  });

  it('history lists every version; rollback applies an old one as a new version', async () => {
    const h = pw('history', '--json').json();
    assert.deepEqual(
      h.map((v: any) => v.version),
      [4, 3, 2, 1],
    );
    assert.match(h[0].source, /reload/);
    assert.equal(h[2].actor, 'ops');
    const r = pw('rollback', '3', '--json');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.json().version, 5);
    assert.deepEqual(
      pw('route', 'list', '--user', '--json')
        .json()
        .map((x: any) => x.prefix)
        .sort(),
      ['10.220.0.0/16', '10.230.0.0/16'],
    );
    assert.equal(pw('rule', 'list', '--json').json().length, 2);
    assert.equal(pw('history', '--json').json()[0].source, 'rollback to 3');
    assert.equal(pw('rollback', '99', '--json').status, 4);
  });

  it('a failure injected mid-apply restores the previous version exactly', async () => {
    await stopDaemon(daemon);
    daemon = await startDaemon(ns.r, configFile, join(dir, 'state'), { PATHWISE_FAULT_INJECT: 'apply:3' });
    // The restart applied the file (version 4's config) as version 6.
    const version = pw('status', '--json').json().version;
    const before = await snapshot();
    const next = join(dir, 'fault.yaml');
    writeFileSync(
      next,
      config(
        '  - { prefix: 10.230.0.0/16, type: blackhole }\n  - { prefix: 10.250.0.0/16, via: [{ gateway: 10.210.3.2 }] }\nratelimits:\n  udp: { rate: 100 }\nrules:\n  - { action: drop, proto: udp, dport: 7777 }\nblocklists:\n  - { prefixes: [192.0.2.0/24] }',
      ),
    );
    const diff = pw('diff', '-f', next, '--json').json().changes;
    assert.ok(diff.length >= 5, `enough changes to fail in the middle (${diff.length})`);
    const r = pw('apply', '-f', next, '--json');
    assert.equal(r.status, 11, r.stderr);
    const err = JSON.parse(r.stderr).error;
    assert.equal(err.details.undone, 3);
    assert.equal(err.details.restored, true);
    assert.deepEqual(await snapshot(), before);
    assert.equal(pw('status', '--json').json().version, version, 'no version recorded');
  });

  it('kill -9 under traffic loses nothing; the restart adopts the pinned state and changes nothing', async () => {
    await stopDaemon(daemon);
    daemon = await startDaemon(ns.r, configFile, join(dir, 'state'));
    const before = pw('status', '--json').json();
    let after: any;
    const t = await countedTraffic(2000, 5, async () => {
      await sleep(1000);
      await stopDaemon(daemon, 'SIGKILL');
      await sleep(1000);
      daemon = await startDaemon(ns.r, configFile, join(dir, 'state'));
      after = pw('status', '--json').json();
    });
    assert.equal(t.sent, 10000);
    assert.equal(t.received, t.sent, `${t.sent - t.received} datagrams lost`);
    assert.equal(after.progId, before.progId, 'the same program kept running');
    assert.equal(after.version, before.version, 'adopting changed nothing: no new version');
    assert.ok(daemon!.log.some((l) => l.includes('adopted the pinned data plane')));
  });

  it("a blocklist's ttl counts from its first apply, across restarts", async () => {
    const kept = readFileSync(configFile, 'utf8');
    const listed = () =>
      pw('block', 'list', '--json')
        .json()
        .find((b: any) => b.prefix === '198.51.100.0/24');
    const blocked = () => listed() !== undefined;
    try {
      writeFileSync(configFile, `${kept}\nblocklists:\n  - { prefixes: [198.51.100.0/24], ttl: 8s }\n`);
      await stopDaemon(daemon);
      daemon = await startDaemon(ns.r, configFile, join(dir, 'state'));
      const expiry = Date.now() + listed().expiresInMs;
      await sleep(1000);
      await stopDaemon(daemon);
      daemon = await startDaemon(ns.r, configFile, join(dir, 'state'));
      assert.ok(blocked(), 'still blocked after the restart');
      await sleep(expiry + 1000 - Date.now());
      // A change compiles the config again: counted from the restart, the ttl would list the
      // prefix anew once the pipeline had let it expire.
      assert.equal(pw('route', 'add', 'blackhole', '10.241.0.0/16').status, 0);
      assert.ok(!blocked(), 'expired 8 s after the first apply, and not listed again');
    } finally {
      writeFileSync(configFile, kept);
      await stopDaemon(daemon);
      daemon = await startDaemon(ns.r, configFile, join(dir, 'state'));
    }
  });

  it('an upgrade of the program under traffic is atomic and keeps the maps', async () => {
    const before = pw('status', '--json').json();
    let applied: any;
    const t = await countedTraffic(2000, 4, async () => {
      await sleep(1000);
      writeFileSync(
        join(dir, 'upgrade.yaml'),
        config('  - { prefix: 10.240.0.0/16, type: blackhole }').replace('api:', 'pipeline: { dropMalformed: true }\napi:'),
      );
      applied = pw('apply', '-f', join(dir, 'upgrade.yaml'), '--json');
    });
    assert.equal(applied.status, 0, applied.stderr);
    assert.deepEqual(
      applied.json().changes.map((c: any) => c.kind),
      ['settings'],
    );
    const now = pw('status', '--json').json();
    assert.notEqual(now.progId, before.progId, 'a new program runs');
    assert.equal(now.settings.dropMalformed, true);
    assert.deepEqual(
      now.interfaces.map((i: any) => i.mode),
      ['native', 'native', 'native'],
      daemon!.log.filter((l) => l.includes('program replaced')).join('\n'),
    );
    assert.equal(t.received, t.sent, `${t.sent - t.received} datagrams lost`);
    const routes = pw('route', 'list', '--user', '--stats', '--json').json();
    assert.ok(routes.find((r: any) => r.prefix === '10.220.0.0/16').packets > 10000, 'route counters carried over');
  });

  it('reloads its file by itself when an editor saves it (a new file renamed over it)', async () => {
    const mark = daemon!.log.length;
    const saved = `${configFile}.swp`;
    writeFileSync(
      saved,
      config('  - { prefix: 10.241.0.0/16, type: blackhole }').replace('api:', 'pipeline: { dropMalformed: true }\napi:'),
    );
    renameSync(saved, configFile);
    const reloaded = () => daemon!.log.slice(mark).some((l) => l.includes('"why":"file changed"'));
    for (let i = 0; i < 100 && !reloaded(); i++) await sleep(100);
    assert.ok(reloaded(), 'the daemon logged a reload for the changed file');
    const routes = pw('route', 'list', '--user', '--json')
      .json()
      .map((r: any) => r.prefix);
    assert.deepEqual(routes.sort(), ['10.220.0.0/16', '10.241.0.0/16']);
  });
});
