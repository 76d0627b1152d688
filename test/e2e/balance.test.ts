/**
 * Load balancing end to end (src/netlab/lb-lab.ts): the real daemon balances an HTTP service
 * over backends in their own namespaces, each a real HTTP server answering with its name;
 * clients are real connections from the client namespace. What the clients see is the measure:
 * which backend answered each connection, and whether any connection was reset.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import WebSocket from 'ws';

import type { Held } from '../../src/netlab/http-lab.js';
import { HTTP_LAB, LB_VIP, LB_VIP6, startServer, type LbLab } from '../../src/netlab/lb-lab.js';
import { socketOf } from '../helpers/daemon.js';
import { LbDaemonLab, lbBackend, webService } from '../helpers/lb-daemon.js';
import { privilegedSkip } from '../helpers/privileged.js';
import { Topology } from '../helpers/topology.js';

const skip = privilegedSkip();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('load balancing through the daemon', { skip, timeout: 10 * 60_000 }, () => {
  let l: LbDaemonLab;
  let topo: Topology;
  let lab: LbLab;
  let instance = '';
  const pw = (...args: string[]) => l.pw(...args);
  const api = (method: string, path: string, body?: unknown) => l.api(method, path, body);
  const apply = (text: string) => l.apply(text);
  const config = (services: string, extra = '') => l.config(services, extra);
  const count = (n: number, url?: string) => l.count(n, url);
  const held = (conns: number, during: () => Promise<void>) => l.held(conns, during);
  const backend = lbBackend;
  const web = webService;

  before(async () => {
    l = await LbDaemonLab.start('lb', web([`${backend(1)}:8080`, `${backend(2)}:8080`, `${backend(3)}:8080@2`]));
    ({ topo, lab, instance } = l);
  });
  after(() => l?.stop());

  it('spreads 20,000 connections over backends weighted 1:1:2 within ±5 % of their shares', (t) => {
    const r = count(20_000);
    t.diagnostic(JSON.stringify(r));
    assert.deepEqual(r.errors, {}, 'every connection answered');
    const total = Object.values(r.counts).reduce((a, b) => a + b, 0);
    assert.equal(total, 20_000);
    for (const [name, share] of [
      ['b1', 0.25],
      ['b2', 0.25],
      ['b3', 0.5],
    ] as const) {
      const got = (r.counts[name] ?? 0) / total;
      assert.ok(Math.abs(got - share) <= share * 0.05, `${name}: ${(got * 100).toFixed(2)} % of connections, want ${share * 100} % ± 5 %`);
    }
    const list = pw('service', 'list', '--json');
    assert.equal(list.status, 0, list.stderr);
    const svc = list.json().find((s: any) => s.name === 'web');
    // A SYN counts as a new connection each time: a retransmitted one counts again.
    assert.ok(svc.connections >= 20_000 && svc.connections <= 20_100, `the data plane counted the new connections: ${svc.connections}`);
    assert.deepEqual(
      svc.backends.map((b: any) => b.health),
      ['up', 'up', 'up'],
    );
    // The flow view names the service: connections as they leave for a backend, replies as the service.
    const flows = pw('flows', 'list', '--top', '1000', '--json').json().flows;
    assert.ok(
      flows.some((f: any) => f.service === 'web' && /^10\.250\.1[123]\.2:8080$/.test(f.backend) && f.dst === f.backend.split(':')[0]),
      'client → backend flows name the service and the backend',
    );
    assert.ok(
      flows.some((f: any) => f.service === 'web' && f.src === LB_VIP && f.sport === 80 && !f.backend),
      'reply flows, translated back, name the service',
    );
  });

  it('keeps every established connection through a backend added and another removed, kill -9 of the daemon and a program upgrade: zero resets', async (t) => {
    const four = [`${backend(1)}:8080`, `${backend(2)}:8080`, `${backend(3)}:8080@2`, `${backend(4)}:8080`];
    let progBefore = 0;
    const conns = await held(60, async () => {
      apply(config(web(four)));
      await sleep(500);
      await l.restart(500);
      await sleep(500);
      // A pipeline setting changed: the program is replaced, the pinned maps carried over.
      progBefore = pw('status', '--json').json().progId;
      apply(config(web(four), 'pipeline: { dropMalformed: true }'));
      await sleep(500);
    });
    const now = pw('status', '--json').json();
    assert.notEqual(now.progId, progBefore, 'a new program runs');
    assert.equal(now.settings.dropMalformed, true);
    t.diagnostic(`${conns.length} connections, ${conns.reduce((a, c) => a + c.answers, 0)} answers`);
    for (const [i, c] of conns.entries()) {
      assert.deepEqual(c.errors, [], `connection ${i} (${c.names.join('→')}): no reset, no close`);
      assert.equal(c.names.length, 1, `connection ${i} stayed on one backend: ${c.names.join('→')}`);
      assert.ok(c.answers >= c.requests - 1, `connection ${i}: ${c.answers} answers to ${c.requests} requests`);
    }
    const spread = new Set(conns.map((c) => c.names[0]));
    assert.ok(spread.size >= 3, `the connections were spread: ${[...spread].join(', ')}`);
  });

  it('removing a backend moves only its own connections; draining one sends it no new connection and keeps its own', async () => {
    const four = [`${backend(1)}:8080`, `${backend(2)}:8080`, `${backend(3)}:8080@2`, `${backend(4)}:8080`];
    let drained: any;
    const conns = await held(60, async () => {
      apply(config(web(four.filter((b) => !b.startsWith(backend(4))))));
      await sleep(300);
      drained = pw('service', 'drain', 'web', `${backend(1)}:8080`, '--json');
      await sleep(300);
    });
    assert.equal(drained.status, 0, drained.stderr);
    for (const [i, c] of conns.entries()) {
      if (c.names[0] === 'b4') continue; // its backend went: it may be reset
      assert.deepEqual(c.errors, [], `connection ${i} on ${c.names[0]} was not touched`);
      assert.equal(c.names.length, 1, `connection ${i} stayed on ${c.names[0]} (a drained backend keeps its connections)`);
    }
    const r = count(2000);
    assert.deepEqual(r.errors, {});
    assert.equal(r.counts.b1 ?? 0, 0, 'the drained backend gets no new connection');
    assert.equal(r.counts.b4 ?? 0, 0, 'the removed backend gets none');
    assert.ok((r.counts.b2 ?? 0) > 0 && (r.counts.b3 ?? 0) > 0);
  });

  it('takes a dead backend out of the table on its failed health checks, and back in, slowly, when it answers again', async (t) => {
    apply(config(web([`${backend(1)}:8080`, `${backend(2)}:8080`, `${backend(3)}:8080`], '    slowStart: 3s')));
    await sleep(1000);
    const b2 = lab.backends[1]!;
    // The event stream, asked for backend states only.
    const states: any[] = [];
    const ws = new WebSocket(`ws+unix://${socketOf(instance)}:/v1/events?kind=backend`);
    ws.on('message', (m) => states.push(JSON.parse(m.toString())));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const killedAt = Date.now();
    const server = b2.servers[0]!;
    const gone = new Promise((r) => server.once('exit', r));
    server.kill('SIGKILL');
    await gone;
    let downAfter = -1;
    for (let i = 0; i < 100 && downAfter < 0; i++) {
      const list = (await api('GET', '/v1/services')).json;
      if (list[0].backends.find((b: any) => b.backend === `${backend(2)}:8080`).health === 'down') downAfter = Date.now() - killedAt;
      else await sleep(50);
    }
    t.diagnostic(
      `the dead backend was down in the data plane ${downAfter} ms after its server was killed (checks every 200 ms, 3 failures)`,
    );
    assert.ok(downAfter >= 0, 'the backend went down');
    const r = count(1000);
    assert.deepEqual(r.errors, {}, 'no new connection went to the dead backend');
    assert.equal(r.counts.b2 ?? 0, 0);
    b2.servers[0] = await startServer(topo, b2.ns, b2.name, '8080');
    let up: any = null;
    for (let i = 0; i < 100 && !up; i++) {
      const list = (await api('GET', '/v1/services')).json;
      const b = list[0].backends.find((x: any) => x.backend === `${backend(2)}:8080`);
      if (b.health === 'up') up = b;
      else await sleep(50);
    }
    assert.ok(up, 'the backend came back up');
    // Slow start: a fraction of its third of the table first, all of it after 3 s.
    assert.ok(up.share < 0.2 && up.ramp < 1, `back with a small share first: ${JSON.stringify(up)}`);
    await sleep(3500);
    const later = (await api('GET', '/v1/services')).json[0].backends.find((x: any) => x.backend === `${backend(2)}:8080`);
    assert.ok(
      Math.abs(later.share - 1 / 3) < 0.01 && later.ramp === undefined,
      `its whole share after the slow start: ${JSON.stringify(later)}`,
    );
    ws.close();
    assert.deepEqual(
      states.map((m) => [m.type, m.backend.service, m.backend.backend, m.backend.state]),
      [
        ['backend', 'web', `${backend(2)}:8080`, 'down'],
        ['backend', 'web', `${backend(2)}:8080`, 'up'],
      ],
      'the stream told both changes, and nothing else',
    );
    assert.ok((count(1000).counts.b2 ?? 0) > 0, 'and takes new connections again');
    const metrics = (await api('GET', '/metrics')).text;
    assert.match(metrics, /pathwise_lb_backend_up\{service="web",backend="10\.250\.12\.2:8080"\} 1/);
    assert.match(metrics, /pathwise_lb_backend_transitions_total 2/);
  });

  it('`service weight` gives a drained backend its weight back, with the slow start; bad weights and backends are refused', async () => {
    apply(config(web([`${backend(1)}:8080`, `${backend(2)}:8080`, `${backend(3)}:8080`], '    slowStart: 3s')));
    await sleep(1000);
    const b2 = `${backend(2)}:8080`;
    const b2Row = async () => (await api('GET', '/v1/services')).json[0].backends.find((x: any) => x.backend === b2);
    const drain = pw('service', 'drain', 'web', b2);
    assert.equal(drain.status, 0, drain.stderr);
    assert.match(drain.stdout, new RegExp(`its weight was 1: 'pathwise service weight web ${b2.replaceAll('.', '\\.')} 1' gives it back`));
    assert.equal(count(500).counts.b2 ?? 0, 0, 'drained: no new connection');

    for (const [args, status, message] of [
      [['web', b2, '1.5'], 2, /a backend's weight is a whole number 0-1000, got '1\.5'/],
      [['web', b2, '1001'], 2, /got '1001'/],
      [['web', `${backend(9)}:8080`, '1'], 4, /service 'web' has no backend 10\.250\.19\.2:8080[\s\S]*its backends: 10\.250\.11\.2:8080, /],
      [['nosuch', b2, '1'], 4, /no service named 'nosuch'/],
    ] as const) {
      const r = pw('service', 'weight', ...args);
      assert.equal(r.status, status, `service weight ${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    assert.equal((await b2Row()).weight, 0, 'the refused changes changed nothing');

    const back = pw('service', 'weight', 'web', b2, '1', '--json');
    assert.equal(back.status, 0, back.stderr);
    assert.equal(back.json().applied, true);
    assert.match(back.json().changes[0].after, /backends 10\.250\.11\.2:8080,10\.250\.12\.2:8080,10\.250\.13\.2:8080$/, 'weight 1 again');
    const ramping = await b2Row();
    assert.ok(ramping.weight === 1 && ramping.ramp < 1 && ramping.share < 0.2, `back with a small share first: ${JSON.stringify(ramping)}`);
    await sleep(3500);
    const later = await b2Row();
    assert.ok(
      Math.abs(later.share - 1 / 3) < 0.01 && later.ramp === undefined,
      `its whole share after the slow start: ${JSON.stringify(later)}`,
    );
    const r = count(1000);
    assert.deepEqual(r.errors, {});
    assert.ok((r.counts.b2 ?? 0) > 200, `it takes its third of new connections again: ${JSON.stringify(r.counts)}`);
  });

  it('passive health: a backend whose server died is out on its clients’ unanswered connections, before its checks would tell', async (t) => {
    // Checks every 2 s: three failures would take 6 s; the connections tell within a second.
    apply(config(web([`${backend(1)}:8080`, `${backend(2)}:8080`, `${backend(3)}:8080`], '    health: { interval: 2s, timeout: 500ms }')));
    await sleep(2500);
    const b1 = lab.backends[0]!;
    const server = b1.servers[0]!;
    const gone = new Promise((r) => server.once('exit', r));
    server.kill('SIGKILL');
    await gone;
    const killedAt = Date.now();
    // Clients keep connecting meanwhile; those sent to the dead server are refused until it is out.
    const client = topo.spawn(lab.client, process.execPath, [HTTP_LAB, 'count', `http://${LB_VIP}/`, '3000', '16']);
    let out = '';
    client.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const finished = new Promise((r) => client.once('exit', r));
    let downAfter = -1;
    for (let i = 0; i < 100 && downAfter < 0; i++) {
      const list = (await api('GET', '/v1/services')).json;
      if (list[0].backends.find((b: any) => b.backend === `${backend(1)}:8080`).health === 'down') downAfter = Date.now() - killedAt;
      else await sleep(20);
    }
    await finished;
    const during = JSON.parse(out);
    t.diagnostic(`3,000 connections meanwhile: ${JSON.stringify(during)}; down ${downAfter} ms after the kill`);
    assert.ok(downAfter >= 0 && downAfter < 2000, `down before the checks could have (3 × 2 s): ${downAfter} ms`);
    const metrics = (await api('GET', '/metrics')).text;
    assert.match(metrics, /pathwise_lb_passive_downs_total 1/);
    const r = count(500);
    assert.deepEqual(r.errors, {}, 'nothing refused once it is out');
    assert.equal(r.counts.b1 ?? 0, 0);
    b1.servers[0] = await startServer(topo, b1.ns, b1.name, '8080');
  });

  it('onBackendDown: a backend failing its checks keeps its connections under keep; under reset Pathwise resets them', async (t) => {
    const b2 = lab.backends[1]!;
    // The checks come from the router's address on b2's segment, the clients' connections from
    // the client's: dropping the first in b2's namespace fails its checks while its server
    // still holds its connections (a killed server would end them itself).
    const table = `${topo.prefix}hc`;
    const failChecks = () =>
      topo.exec(b2.ns, 'nft', ['-f', '-'], {
        input: `table ip ${table} {\n  chain checks {\n    type filter hook input priority 0;\n    ip saddr 10.250.12.1 tcp dport 8080 drop\n  }\n}\n`,
      });
    const b2Health = async () =>
      (await api('GET', '/v1/services')).json[0].backends.find((b: any) => b.backend === `${backend(2)}:8080`).health as string;
    const until = async (want: string) => {
      for (let i = 0; i < 200; i++) {
        if ((await b2Health()) === want) return;
        await sleep(50);
      }
      throw new Error(`b2 never became ${want}`);
    };
    /** Segments the data plane answered with a reset of its own (pw_lb_send_reset). */
    const resetsSent = () =>
      pw('stats', '--json')
        .json()
        .interfaces.reduce((a: number, i: any) => a + (i.reasons.lb_reset ?? 0), 0);
    const three = [`${backend(1)}:8080`, `${backend(2)}:8080`, `${backend(3)}:8080`];
    for (const policy of ['keep', 'reset'] as const) {
      apply(config(web(three, `    onBackendDown: ${policy}`)));
      await until('up');
      let conns: Held[];
      let downAt = 0;
      let failAt = 0;
      const resetsBefore = resetsSent();
      try {
        conns = await held(30, async () => {
          failAt = Date.now();
          failChecks();
          await until('down');
          downAt = Date.now();
        });
      } finally {
        topo.exec(b2.ns, 'nft', ['delete', 'table', 'ip', table], { allowFail: true });
      }
      await until('up');
      const onB2 = conns.filter((c) => c.names[0] === 'b2');
      const others = conns.filter((c) => c.names[0] !== 'b2');
      // Each connection's events in ms from the moment the API said b2 was down.
      const since = (c: Held) => Object.fromEntries(Object.entries(c.at).map(([k, v]) => [k, v - downAt]));
      t.diagnostic(
        `${policy}: ${onB2.length} connections on b2: ${JSON.stringify(onB2.map((c) => [c.names, c.answers, c.requests, c.errors, since(c)]))}`,
      );
      assert.ok(onB2.length > 0 && others.length > 0, `connections on b2 and on the others: ${conns.map((c) => c.names[0]).join(' ')}`);
      for (const c of others) assert.deepEqual(c.errors, [], `a connection on ${c.names[0]} was not touched`);
      for (const c of onB2) {
        if (policy === 'keep') {
          assert.deepEqual(c.errors, [], 'kept: no reset');
          assert.deepEqual(c.names, ['b2'], 'kept on b2, which still answers');
          assert.ok(c.answers >= c.requests - 1, `kept: ${c.answers} answers to ${c.requests} requests`);
        } else {
          // Pathwise answers the connection's next segment (a request, or the ACK of the last
          // answer) with a reset from the service (not the backend the table now picks: its
          // kernel would answer with an ACK while it holds a socket of that client port in
          // TIME_WAIT, as the earlier tests leave).
          assert.equal(c.errors[0], 'ECONNRESET', `reset: ${JSON.stringify({ ...c, at: since(c) })}`);
          assert.ok(c.at.error! >= failAt, `reset only once b2's checks failed: ${JSON.stringify({ ...c, at: since(c) })}`);
          assert.deepEqual(c.names, ['b2'], 'answered only by b2, never by another backend');
        }
      }
      const resets = resetsSent() - resetsBefore;
      if (policy === 'reset')
        assert.ok(resets >= onB2.length, `the resets came from Pathwise: ${resets} sent for ${onB2.length} connections`);
      else assert.equal(resets, 0, 'no reset under keep');
    }
  });

  it('layer-2 DSR: the backends answer the clients themselves, from the service address', () => {
    apply(
      config(
        `  dsr:
    address: ${LB_VIP}:80/tcp
    mode: dsr
    backends: [${backend(1)}, ${backend(2)}, ${backend(3)}]
`,
      ),
    );
    const r = count(600);
    assert.deepEqual(r.errors, {});
    for (const name of ['b1', 'b2', 'b3']) assert.ok((r.counts[name] ?? 0) > 100, `${name} answered ${r.counts[name] ?? 0} of 600`);
    const svc = pw('service', 'list', '--json').json()[0];
    assert.equal(svc.mode, 'dsr');
    assert.ok(svc.connections >= 600 && svc.connections <= 610, `new connections counted: ${svc.connections}`);
  });

  it('NAT and DSR over IPv6, and UDP over both families, with datagrams fragmented both ways', (t) => {
    const b6 = (k: number) => `fd50:${10 + k}::2`;
    apply(
      config(
        `  web6:
    address: '[${LB_VIP6}]:8080/tcp'
    backends: ['[${b6(1)}]:8080', '[${b6(2)}]:8080', '[${b6(3)}]:8080']
  dsr6:
    address: '[${LB_VIP6}]:80/tcp'
    mode: dsr
    backends: ['${b6(1)}', '${b6(2)}']
  dns:
    address: ${LB_VIP}:5353/udp
    backends: [${backend(1)}:5353, ${backend(2)}:5353]
    health: { type: none }
  dns6:
    address: '[${LB_VIP6}]:5353/udp'
    backends: ['[${b6(1)}]:5353', '[${b6(3)}]:5353']
    health: { type: none }
  dns6-dsr:
    address: '[${LB_VIP6}]:53/udp'
    mode: dsr
    backends: ['${b6(2)}', '${b6(3)}']
    health: { type: none }
  dns-dsr:
    address: ${LB_VIP}:53/udp
    mode: dsr
    backends: [${backend(1)}, ${backend(3)}]
    health: { type: none }
`,
      ),
    );
    const cases: [string, string[], string[]][] = [
      ['count', [`http://[${LB_VIP6}]:8080/`, '600', '32'], ['b1', 'b2', 'b3']],
      ['count', [`http://[${LB_VIP6}]/`, '400', '32'], ['b1', 'b2']],
      ['udp-count', [LB_VIP, '5353', '400'], ['b1', 'b2']],
      ['udp-count', [LB_VIP6, '53', '400'], ['b2', 'b3']],
      ['udp-count', [LB_VIP, '53', '400'], ['b1', 'b3']],
      // 4,000-byte datagrams over 1,500-byte links: the client's kernel sends each in three
      // fragments, and the backend's its answer. The router's kernel forwards nothing here,
      // so every fragment that arrives went through Pathwise, translated (NAT) or routed to
      // the backend the first one chose (DSR); the client checks each answer whole.
      ['udp-count', [LB_VIP, '5353', '200', '4000'], ['b1', 'b2']],
      ['udp-count', [LB_VIP6, '5353', '200', '4000'], ['b1', 'b3']],
      ['udp-count', [LB_VIP, '53', '200', '4000'], ['b1', 'b3']],
      ['udp-count', [LB_VIP6, '53', '200', '4000'], ['b2', 'b3']],
    ];
    for (const [mode, args, names] of cases) {
      const r = JSON.parse(topo.exec(lab.client, process.execPath, [HTTP_LAB, mode, ...args]));
      t.diagnostic(`${mode} ${args.join(' ')}: ${JSON.stringify(r)}`);
      assert.deepEqual(r.errors, {}, `${mode} ${args[0]}: every request answered`);
      assert.deepEqual(Object.keys(r.counts).sort(), names, `${mode} ${args.join(' ')}: answered by ${names.join(', ')}`);
      const sent = Number(mode === 'count' ? args[1] : args[2]);
      for (const n of names) assert.ok(r.counts[n] > sent / names.length / 2, `${n} answered ${r.counts[n]} of ${sent}`);
    }
  });

  it('SNAT: backends with no route back to the clients still serve them', () => {
    const SNAT = '10.250.200.1';
    for (const [k, b] of lab.backends.entries()) {
      topo.exec(b.ns, 'ip', ['route', 'del', 'default']);
      topo.exec(b.ns, 'ip', ['route', 'add', `${SNAT}/32`, 'via', `10.250.${11 + k}.1`]);
    }
    try {
      apply(config(web([`${backend(1)}:8080`, `${backend(2)}:8080`], `    snat: ${SNAT}`)));
      const r = count(600);
      assert.deepEqual(r.errors, {}, 'every connection answered');
      assert.ok((r.counts.b1 ?? 0) > 100 && (r.counts.b2 ?? 0) > 100, JSON.stringify(r.counts));
    } finally {
      for (const [k, b] of lab.backends.entries()) {
        topo.exec(b.ns, 'ip', ['route', 'del', `${SNAT}/32`], { allowFail: true });
        topo.exec(b.ns, 'ip', ['route', 'add', 'default', 'via', `10.250.${11 + k}.1`], { allowFail: true });
      }
    }
  });

  it('refuses a bad service with an error that says where, and changes nothing', () => {
    const shape = () =>
      pw('service', 'list', '--json')
        .json()
        .map((s: any) => [s.name, s.address, s.backends.map((b: any) => [b.backend, b.weight])]);
    const before = shape();
    const bad = pw('service', 'add', 'v6', '[fd00::1]:80/tcp', '--backend', `${backend(1)}:80`, '--json');
    assert.notEqual(bad.status, 0);
    assert.match(bad.stdout + bad.stderr, /IPv4, the service address IPv6/);
    const prime = pw('service', 'add', 'x', `${LB_VIP}:81/tcp`, '--backend', `${backend(1)}:80`, '--table-size', '1000');
    assert.notEqual(prime.status, 0);
    assert.match(prime.stdout + prime.stderr, /prime/);
    assert.deepEqual(shape(), before);
  });
});
