/**
 * The daemon and its API under what issue 13 found: one daemon per instance; TLS listeners
 * (curl and the CLI; client certificates where asked) and no plain listener off loopback;
 * configs that try to make the daemon (root) read files; read-only tokens and packet bytes;
 * the event subscriber cap; 20 concurrent edits; a program upgrade while events stream and a
 * capture runs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import WebSocket from 'ws';

import { repoRoot } from '../../src/util/paths.js';
import {
  cli,
  createDaemonLab,
  destroyDaemonLab,
  pathwiseBin,
  request,
  socketOf,
  startDaemon,
  type DaemonLab,
  type RunningDaemon,
} from '../helpers/daemon.js';
import { privilegedSkip } from '../helpers/privileged.js';

const skip = privilegedSkip();
const ADMIN = 'admin-token-0123456789abcdef';
const READER = 'read-token-0123456789abcdef';
const ROUTER = '10.210.1.1';
const WS_LISTEN = join(repoRoot, 'dist', 'test', 'helpers', 'ws-listen.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function openssl(args: string[]): void {
  const p = spawnSync('openssl', args, { encoding: 'utf8' });
  if (p.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${p.stderr}`);
}

describe('daemon and API hardening', { skip, timeout: 10 * 60_000 }, () => {
  let lab: DaemonLab;
  let daemon: RunningDaemon | undefined;
  const port = 20000 + Math.floor(Math.random() * 20000);
  const ports = { plain: port, tls: port + 1, mtls: port + 2 };
  let tls = '';
  const api = (method: string, path: string, body?: unknown) => request({ socketPath: socketOf(lab.instance) }, method, path, body);
  const inRouter = (cmd: string, args: string[]) => spawnSync('ip', ['netns', 'exec', lab.ns.r, cmd, ...args], { encoding: 'utf8' });

  const config = (extra = '') => `
instance: ${lab.instance}
interfaces:
  - { name: ${lab.topo.name('r0')}, mode: native }
  - { name: ${lab.topo.name('r1')}, mode: native }
  - { name: ${lab.topo.name('r2')}, mode: native }
routes:
  - prefix: 10.220.0.0/16
    via: [{ gateway: 10.210.2.2 }, { gateway: 10.210.3.2 }]
insight: { sampleRate: 1 }
${extra}
api:
  listen:
    - { host: 127.0.0.1, port: ${ports.plain} }
    - { host: ${ROUTER}, port: ${ports.tls}, tls: { cert: tls/server.pem, key: tls/server.key } }
    - { host: ${ROUTER}, port: ${ports.mtls}, tls: { cert: tls/server.pem, key: tls/server.key, clientCa: tls/client-ca.pem } }
  tokens:
    - { name: ops, token: ${ADMIN}, role: admin }
    - { name: grafana, token: ${READER}, role: readonly }
`;

  before(async () => {
    lab = createDaemonLab('h');
    tls = join(lab.dir, 'tls');
    mkdirSync(tls);
    // A self-signed server certificate for the router's address, and a client CA with one client.
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    openssl([
      'req',
      '-x509',
      ...ec,
      '-keyout',
      join(tls, 'server.key'),
      '-out',
      join(tls, 'server.pem'),
      '-days',
      '2',
      '-subj',
      '/CN=pathwise-test',
      '-addext',
      `subjectAltName=IP:${ROUTER}`,
    ]);
    openssl([
      'req',
      '-x509',
      ...ec,
      '-keyout',
      join(tls, 'client-ca.key'),
      '-out',
      join(tls, 'client-ca.pem'),
      '-days',
      '2',
      '-subj',
      '/CN=test-ca',
    ]);
    openssl(['req', ...ec, '-keyout', join(tls, 'client.key'), '-out', join(tls, 'client.csr'), '-subj', '/CN=ops']);
    openssl([
      'x509',
      '-req',
      '-in',
      join(tls, 'client.csr'),
      '-CA',
      join(tls, 'client-ca.pem'),
      '-CAkey',
      join(tls, 'client-ca.key'),
      '-CAcreateserial',
      '-out',
      join(tls, 'client.pem'),
      '-days',
      '2',
    ]);
    writeFileSync(lab.configFile, config());
    daemon = await startDaemon(lab.ns.r, lab.configFile, join(lab.dir, 'state'));
  });
  after(() => destroyDaemonLab(lab, daemon));

  it('refuses a second daemon for the instance and leaves the first one serving', async () => {
    const second = spawnSync(
      pathwiseBin,
      ['--netns', lab.ns.r, 'daemon', '--config', lab.configFile, '--state-dir', join(lab.dir, 'state2')],
      {
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    assert.notEqual(second.status, 0);
    assert.match(second.stderr + second.stdout, new RegExp(`in use by the daemon \\(pid ${daemon!.child.pid}\\)`));
    assert.equal((await api('GET', '/healthz')).status, 200, "the first daemon's socket still answers");
  });

  it('serves TLS to curl and the CLI; plain HTTP and unknown certificates are refused', () => {
    const url = `https://${ROUTER}:${ports.tls}/v1/interfaces`;
    const ok = inRouter('curl', ['-sS', '--cacert', join(tls, 'server.pem'), '-H', `Authorization: Bearer ${READER}`, url]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).length, 3);
    const untrusted = inRouter('curl', ['-sS', '-H', `Authorization: Bearer ${READER}`, url]);
    assert.notEqual(untrusted.status, 0, 'a self-signed certificate is not trusted without --cacert');
    const plain = inRouter('curl', [
      '-sS',
      '--max-time',
      '5',
      '-H',
      `Authorization: Bearer ${READER}`,
      `http://${ROUTER}:${ports.tls}/v1/interfaces`,
    ]);
    assert.ok(plain.status !== 0 || !plain.stdout.startsWith('['), 'plain HTTP gets no answer from the TLS listener');

    const server = `https://${ROUTER}:${ports.tls}`;
    const viaCli = cli([
      '--netns',
      lab.ns.r,
      'route',
      'list',
      '--server',
      server,
      '--token',
      READER,
      '--cacert',
      join(tls, 'server.pem'),
      '--json',
    ]);
    assert.equal(viaCli.status, 0, viaCli.stderr);
    assert.ok(viaCli.json().some((r: { prefix: string }) => r.prefix === '10.220.0.0/16'));
    const noCa = cli(['--netns', lab.ns.r, 'route', 'list', '--server', server, '--token', READER, '--json']);
    assert.notEqual(noCa.status, 0);
    assert.match(noCa.stderr + noCa.stdout, /certificate/);
  });

  it('asks for a client certificate where the config says so', () => {
    const url = `https://${ROUTER}:${ports.mtls}/v1/interfaces`;
    const base = ['-sS', '--cacert', join(tls, 'server.pem'), '-H', `Authorization: Bearer ${READER}`];
    assert.notEqual(inRouter('curl', [...base, url]).status, 0, 'no client certificate: no connection');
    const withCert = inRouter('curl', [...base, '--cert', join(tls, 'client.pem'), '--key', join(tls, 'client.key'), url]);
    assert.equal(withCert.status, 0, withCert.stderr);
    const viaCli = cli([
      '--netns',
      lab.ns.r,
      'status',
      '--server',
      `https://${ROUTER}:${ports.mtls}`,
      '--token',
      READER,
      '--cacert',
      join(tls, 'server.pem'),
      '--cert',
      join(tls, 'client.pem'),
      '--key',
      join(tls, 'client.key'),
      '--json',
    ]);
    assert.equal(viaCli.status, 0, viaCli.stderr);
    assert.equal(viaCli.json().instance, lab.instance);
  });

  it('refuses a listener off loopback without TLS', () => {
    const bad = join(lab.dir, 'plain-off-loopback.yaml');
    writeFileSync(bad, `instance: ${lab.instance}x\napi:\n  listen: [{ host: ${ROUTER}, port: ${port + 3} }]\n`);
    const r = cli(['--netns', lab.ns.r, 'daemon', '--config', bad, '--state-dir', join(lab.dir, 'state3')]);
    assert.equal(r.status, 3, r.stderr);
    assert.match(r.stderr, /api\.listen\[0\]\.tls.*needs tls/s);
  });

  it('never reads a file for a config sent to the API, and never repeats one', async () => {
    const shadow = readFileSync('/etc/shadow', 'utf8');
    const secretLine = shadow.split('\n').find((l) => l.includes(':'))!;
    // A config naming /etc/shadow, sent without its contents: refused, nothing read.
    const text = `${config()}\nblocklists:\n  - file: /etc/shadow\n`;
    const r = await api('POST', '/v1/config', { text, file: '/tmp/evil.yaml', dryRun: true });
    assert.equal(r.status, 400);
    assert.match(r.json.error.message, /cannot make the daemon read \/etc\/shadow/);
    assert.ok(!r.text.includes(secretLine.split(':')[0]! + ':'), 'nothing of the file in the answer');
    // With contents that are not a blocklist: the error names lines, never their text.
    const sent = await api('POST', '/v1/config', { text, file: '/tmp/evil.yaml', dryRun: true, files: { '/etc/shadow': shadow } });
    assert.equal(sent.status, 400);
    assert.match(sent.json.error.message, /line\(s\) of \/etc\/shadow are not an address or prefix/);
    for (const line of shadow.split('\n').filter(Boolean)) assert.ok(!sent.text.includes(line), 'no line repeated');
    // The CLI sends the files its config names, from the config's directory.
    writeFileSync(join(lab.dir, 'bad.txt'), '192.0.2.0/24\n198.51.100.7\n');
    const withList = join(lab.dir, 'with-list.yaml');
    writeFileSync(withList, `${config()}\nblocklists:\n  - file: bad.txt\n`);
    const applied = cli(['--netns', lab.ns.r, 'apply', '-f', withList, '--instance', lab.instance, '--json']);
    assert.equal(applied.status, 0, applied.stderr);
    const blocks = (await api('GET', '/v1/blocklist')).json.map((b: { prefix: string }) => b.prefix).sort();
    assert.deepEqual(blocks, ['192.0.2.0/24', '198.51.100.7/32']);
    assert.deepEqual((await api('GET', '/v1/config')).json.blocklists, [{ prefixes: ['192.0.2.0/24', '198.51.100.7/32'] }], 'put inline');
  });

  it('reads the files its own config names from its directory only, regular files only', async () => {
    const before = (await api('GET', '/v1/status')).json.version;
    spawnSync('mkfifo', [join(lab.dir, 'fifo')]);
    symlinkSync('/etc/shadow', join(lab.dir, 'shadow-link'));
    writeFileSync(join(lab.dir, 'secret.txt'), 'not-a-prefix-secret-4711\n');
    const tried: [string, RegExp][] = [
      ['fifo', /fifo is not a regular file/],
      ['shadow-link', /shadow-link is outside the config's directory/],
      ['/etc/shadow', /\/etc\/shadow is outside the config's directory/],
      ['secret.txt', /1 line\(s\) of secret\.txt are not an address or prefix \(line 1\)/],
    ];
    for (const [file, why] of tried) {
      const mark = daemon!.log.length;
      writeFileSync(lab.configFile, `${config()}\nblocklists:\n  - file: ${file}\n`);
      daemon!.child.kill('SIGHUP');
      const deadline = Date.now() + 10_000;
      while (!daemon!.log.slice(mark).some((l) => l.includes('config reload failed')) && Date.now() < deadline) await sleep(50);
      const failed = daemon!.log.slice(mark).find((l) => l.includes('config reload failed'));
      assert.ok(failed, `reloading with ${file} failed`);
      assert.match(failed, why);
      assert.ok(!failed.includes('not-a-prefix-secret-4711'), 'the file is not repeated');
    }
    writeFileSync(lab.configFile, config());
    assert.equal((await api('GET', '/healthz')).status, 200);
    assert.equal((await api('GET', '/v1/status')).json.version, before, 'nothing was applied');
  });

  /** Sample events seen by a WebSocket client in the router namespace, with `token`. */
  function eventsAs(token: string): Promise<Record<string, unknown>[]> {
    const child = lab.topo.spawn(lab.ns.r, process.execPath, [
      WS_LISTEN,
      `ws://127.0.0.1:${ports.plain}/v1/events?kind=sample`,
      token,
      '3',
    ]);
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    const ping = lab.topo.spawn(lab.ns.c, 'ping', ['-c', '25', '-i', '0.1', '10.220.0.1']);
    return new Promise((resolve) =>
      child.once('exit', () => {
        ping.kill();
        resolve(
          out
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as Record<string, unknown>)
            .filter((m) => m.type === 'event')
            .map((m) => m.event as Record<string, unknown>),
        );
      }),
    );
  }

  it('sends packet bytes in events to admin tokens only', async () => {
    const admin = await eventsAs(ADMIN);
    assert.ok(admin.length > 5, `${admin.length} events for the admin`);
    assert.ok(admin.every((e) => typeof e.head === 'string' && (e.head as string).length > 0));
    const reader = await eventsAs(READER);
    assert.ok(reader.length > 5, `${reader.length} events for the reader`);
    assert.ok(
      reader.every((e) => e.head === undefined && e.packet !== undefined),
      'summaries, no bytes',
    );
  });

  it('takes at most 64 event subscribers at once', async () => {
    const url = `ws+unix://${socketOf(lab.instance)}:/v1/events`;
    const open = (ws: WebSocket) =>
      new Promise<number | 'open'>((resolve) => {
        ws.once('open', () => resolve('open'));
        ws.once('close', (code) => resolve(code));
      });
    const subs = Array.from({ length: 64 }, () => new WebSocket(url));
    try {
      assert.deepEqual(await Promise.all(subs.map(open)), Array(64).fill('open'));
      const extra = new WebSocket(url);
      const closed = await new Promise<number>((resolve) => extra.once('close', (code) => resolve(code)));
      assert.equal(closed, 1013, 'the 65th is told to try later');
    } finally {
      for (const ws of subs) ws.close();
    }
    await sleep(300);
    const again = new WebSocket(url);
    assert.equal(await open(again), 'open', 'room again once they left');
    again.close();
  });

  it('applies 20 concurrent edits from 20 clients, every one', async () => {
    const before = (await api('GET', '/v1/status')).json.version as number;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => api('POST', '/v1/rules', { rule: { action: 'count', proto: 'udp', dport: 30000 + i } })),
    );
    assert.deepEqual(
      results.map((r) => r.status),
      Array(20).fill(200),
    );
    const rules = (await api('GET', '/v1/rules')).json.map((r: { text: string }) => r.text);
    for (let i = 0; i < 20; i++) assert.ok(rules.includes(`count proto udp dport ${30000 + i}`), `rule ${i} landed`);
    assert.equal((await api('GET', '/v1/status')).json.version, before + 20);
    // And 20 concurrent deletes by id: every one lands too.
    const ids = (await api('GET', '/v1/rules')).json.map((r: { id: number }) => r.id);
    const deleted = await Promise.all(ids.map((id: number) => api('DELETE', `/v1/rules/${id}`)));
    assert.ok(deleted.every((r) => r.status === 200));
    assert.deepEqual((await api('GET', '/v1/rules')).json, []);
  });

  it("follows an address added to the router after the start: it is the router's, not routed away", async () => {
    // 10.220.0.0/16 goes to the upstreams; this address in it is now the router's own.
    inRouter('ip', ['addr', 'add', '10.220.99.1/32', 'dev', 'lo']);
    const deadline = Date.now() + 20_000;
    let route = '';
    while (Date.now() < deadline) {
      route = (await api('GET', '/v1/lookup?addr=10.220.99.1')).json[0]?.prefix ?? '';
      if (route === '10.220.99.1/32') break;
      await sleep(50);
    }
    assert.equal(route, '10.220.99.1/32', 'the host route followed the new address');
    const ping = spawnSync('ip', ['netns', 'exec', lab.ns.c, 'ping', '-c', '2', '-W', '2', '10.220.99.1'], { encoding: 'utf8' });
    assert.match(ping.stdout, / 0% packet loss/, 'the router answers for its new address');
    inRouter('ip', ['addr', 'del', '10.220.99.1/32', 'dev', 'lo']);
  });

  it('stays up through a program upgrade while events stream and a capture runs', async () => {
    const events: Record<string, unknown>[] = [];
    const ws = new WebSocket(`ws+unix://${socketOf(lab.instance)}:/v1/events?kind=sample`);
    ws.on('message', (m) => {
      const msg = JSON.parse(m.toString());
      if (msg.type === 'event') events.push(msg.event);
    });
    await new Promise((r) => ws.once('open', r));
    const capture = lab.topo.spawn(lab.ns.r, pathwiseBin, ['capture', '--instance', lab.instance, '--duration', '8', '--json', 'icmp']);
    let captured = '';
    capture.stdout!.on('data', (d) => (captured += d));
    const ping = lab.topo.spawn(lab.ns.c, 'ping', ['-c', '80', '-i', '0.1', '10.220.0.1']);
    try {
      await sleep(1500);
      const progBefore = (await api('GET', '/v1/status')).json.progId;
      // flows off: a new program (rodata), the maps carried over.
      const text = config().replace('insight: { sampleRate: 1 }', 'insight: { sampleRate: 1 }\npipeline: { flows: false }');
      const r = await api('POST', '/v1/config', { text, file: 'upgrade.yaml' });
      assert.equal(r.status, 200, r.text);
      const status = (await api('GET', '/v1/status')).json;
      assert.notEqual(status.progId, progBefore, 'the program was replaced');
      const seenAtUpgrade = events.length;
      await sleep(2000);
      assert.ok(events.length > seenAtUpgrade, 'events keep coming after the upgrade');
      const exit = await new Promise<number | null>((resolve) => capture.once('exit', (code) => resolve(code)));
      assert.equal(exit, 0, `the capture ended cleanly: ${captured.slice(-300)}`);
      assert.ok(captured.trim().split('\n').length > 10, 'it captured through the upgrade');
      assert.equal((await api('GET', '/healthz')).status, 200);
      assert.ok(!daemon!.log.some((l) => /uncaught|unhandled/.test(l)), 'no escaped exception');
    } finally {
      ping.kill();
      ws.close();
    }
  });
});
