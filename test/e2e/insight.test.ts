/**
 * Packet insight end to end, in the router lab with the daemon: flows with exact packet and
 * byte counts, the TCP handshake timed by the pipeline, direction and path; top talkers;
 * histograms; events (rule log, drops, samples) over the daemon's WebSocket and through the
 * CLI, with the sampling rate changed by a config apply; `pathwise capture` with a tcpdump
 * filter against tcpdump itself on the same traffic, and pcapng with verdicts; the same capture
 * through the daemon (pcapng over HTTP into tcpdump, and the CLI with --server).
 */
import assert from 'node:assert/strict';
import { type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import WebSocket from 'ws';

import { repoRoot } from '../../src/util/paths.js';
import { SERVICE } from '../../src/netlab/router-lab.js';
import { readCapture } from '../../src/kernel/pcap.js';
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
import { nfdumpFlows, startNfcapd } from '../helpers/nfdump.js';
import { privilegedSkip } from '../helpers/privileged.js';
import { Topology } from '../helpers/topology.js';

const skip = privilegedSkip();
const TRAFFIC = join(repoRoot, 'dist', 'src', 'netlab', 'traffic.js');
const CLIENT = '10.210.1.2';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ADMIN = 'admin-token-insight-0123456789';
const READER = 'read-token-insight-0123456789';

/** Sends `count` UDP datagrams of `size` payload bytes, one after another, from a fixed port. */
const UDP_SCRIPT = `
const dgram = require('node:dgram');
const [host, dport, count, sport, size] = process.argv.slice(1).map((v, i) => (i ? Number(v) : v));
const s = dgram.createSocket('udp4');
s.bind(sport, async () => {
  for (let i = 0; i < count; i++) await new Promise((res, rej) => s.send(Buffer.alloc(size, i & 255), dport, host, (e) => (e ? rej(e) : res())));
  s.close();
});`;

/** One TCP connection: connect, send 1000 bytes, read the echo, close. */
const TCP_SCRIPT = `
const net = require('node:net');
const [host, port] = process.argv.slice(1);
const c = net.connect(Number(port), host, () => c.write(Buffer.alloc(1000, 0x61)));
let got = 0;
c.on('data', (d) => { got += d.length; if (got >= 1000) c.end(); });
c.on('close', () => process.exit(got >= 1000 ? 0 : 1));
setTimeout(() => process.exit(2), 5000);`;

describe('packet insight', { skip, timeout: 5 * 60_000 }, () => {
  let lab: DaemonLab | undefined;
  let topo: Topology;
  let instance = '';
  let dir = '';
  let configFile = '';
  let daemon: RunningDaemon | undefined;
  let server: ChildProcess | undefined;
  const port = 20000 + Math.floor(Math.random() * 20000);
  const ns = { c: '', r: '', u1: '', u2: '' };
  const dev = (s: string) => topo.name(s);
  const pw = (...args: string[]) => cli([...args, '--instance', instance]);
  const udp = (dport: number, count: number, sport: number, size = 64) =>
    topo.exec(ns.c, process.execPath, ['-e', UDP_SCRIPT, SERVICE, String(dport), String(count), String(sport), String(size)]);

  const config = (insight = '') => `
instance: ${instance}
interfaces:
  - { name: ${dev('r0')}, mode: native }
  - { name: ${dev('r1')}, mode: native }
  - { name: ${dev('r2')}, mode: native }
routes:
  - { prefix: 10.220.0.0/16, via: [{ gateway: 10.210.2.2 }] }
rules:
  - { action: log, proto: udp, dport: 9100 }
  - { action: drop, proto: udp, dport: 9200 }
insight: { dropEvents: true${insight} }
api:
  listen: [{ host: 127.0.0.1, port: ${port} }]
  tokens:
    - { name: ops, token: ${ADMIN}, role: admin }
    - { name: grafana, token: ${READER}, role: readonly }
`;

  before(async () => {
    lab = createDaemonLab('i');
    ({ topo, instance, dir, configFile } = lab);
    Object.assign(ns, lab.ns);
    writeFileSync(configFile, config());
    daemon = await startDaemon(ns.r, configFile, join(dir, 'state'));
    server = topo.spawn(ns.u1, process.execPath, [TRAFFIC, 'tcp-serve', '8080']);
    await new Promise<void>((res) => server!.stdout!.once('data', () => res()));
  });

  after(async () => {
    server?.kill();
    await destroyDaemonLab(lab, daemon);
  });

  it('counts a UDP flow exactly, with its path, and times a TCP handshake in both directions', async () => {
    udp(9000, 300, 40100, 64);
    topo.exec(ns.c, process.execPath, ['-e', TCP_SCRIPT, SERVICE, '8080']);
    const r = pw('flows', '--top', '1000', '--json');
    assert.equal(r.status, 0, r.stderr);
    const { flows, total } = r.json();
    assert.ok(total >= 3, `flows in the table: ${total}`);
    const u = flows.find((f: any) => f.proto === 'udp' && f.sport === 40100 && f.dport === 9000);
    assert.ok(u, 'the UDP flow');
    assert.equal(u.src, CLIENT);
    assert.equal(u.packets, 300);
    assert.equal(u.bytes, 300 * (20 + 8 + 64), 'IP bytes: 20 header + 8 UDP + 64 payload');
    assert.equal(u.iif, dev('r0'));
    assert.equal(u.oif, dev('r1'));
    assert.equal(u.prefix, '10.220.0.0/16');
    assert.equal(u.verdict, 'redirect');

    const out = flows.find((f: any) => f.proto === 'tcp' && f.src === CLIENT && f.dport === 8080);
    const back = flows.find((f: any) => f.proto === 'tcp' && f.src === SERVICE && f.sport === 8080 && f.dport === out?.sport);
    assert.ok(out && back, 'both directions of the TCP connection');
    assert.equal(out.direction, 'initiator');
    assert.equal(back.direction, 'responder');
    assert.ok(out.handshake, 'the handshake was timed');
    assert.ok(out.handshake.responderMs > 0 && out.handshake.initiatorMs > 0);
    assert.ok(Math.abs(out.handshake.rttMs - out.handshake.responderMs - out.handshake.initiatorMs) < 1e-6);
    assert.equal(back.handshake, null, 'only the initiator carries the handshake');
    assert.match(out.tcpFlags, /S/);
    assert.match(out.tcpFlags, /F/);
    assert.equal(back.iif, dev('r1'));
    assert.equal(back.oif, dev('r0'));

    // Sorted as asked, and the same answer without the daemon (straight from the maps).
    const byPackets = pw('flows', '--sort', 'packets', '--top', '1', '--json').json();
    assert.equal(byPackets.flows[0].packets, Math.max(...flows.map((f: any) => f.packets)));
    const rtt = pw('flows', '--sort', 'rtt', '--top', '5', '--json').json();
    assert.ok(
      rtt.flows.every((f: any) => f.handshake),
      'sorting by RTT lists only timed flows',
    );
    const local = cli([
      '--netns',
      ns.r,
      'flows',
      '--top',
      '1000',
      '--json',
      '--instance',
      instance,
      '--socket',
      join(dir, 'no-daemon.sock'),
    ]);
    assert.equal(local.status, 0, local.stderr);
    const lu = local.json().flows.find((f: any) => f.sport === 40100 && f.dport === 9000);
    assert.equal(lu.packets, 300);
    assert.equal(lu.oif, dev('r1'));
  });

  it('ranks talkers by source, destination and prefix, and keeps histograms and table pressure', () => {
    const src = pw('flows', 'talkers', '--by', 'src', '--json').json();
    const client = src.talkers.find((t: any) => t.key === CLIENT);
    assert.ok(client && client.flows >= 2 && client.packets >= 300);
    const prefix = pw('flows', 'talkers', '--by', 'prefix', '--json').json();
    assert.ok(prefix.talkers.some((t: any) => t.key === '10.220.0.0/16' && t.packets >= 300));
    const dst = pw('flows', 'talkers', '--by', 'dst', '--top', '1', '--json').json();
    assert.equal(dst.talkers.length, 1);

    const s = pw('flows', 'summary', '--json').json();
    const udpCount = s.protocols.find((p: any) => p.proto === 'udp')?.packets ?? 0;
    assert.ok(udpCount >= 300, `udp packets in the histogram: ${udpCount}`);
    assert.ok(s.protocols.some((p: any) => p.proto === 'tcp'));
    // 64-byte payloads: 14 + 20 + 8 + 64 = 106-byte frames.
    assert.ok(s.sizes.find((b: any) => b.bucket === '65-128').packets >= 300);
    assert.ok(s.flowTable.entries >= 3 && s.flowTable.created >= s.flowTable.entries);
    assert.equal(s.flowTable.max, 1 << 20);
    const text = pw('flows', 'summary');
    assert.match(text.stdout, /flow table: \d+ of 1048576/);
  });

  it('streams rule-log, drop and sampled events over WebSocket; sampling follows the config', async () => {
    const ws = new WebSocket(`ws+unix://${socketOf(instance)}:/v1/events`);
    const got: any[] = [];
    ws.on('message', (m) => {
      const msg = JSON.parse(String(m));
      if (msg.type === 'event') got.push(msg.event);
    });
    await new Promise((res, rej) => {
      ws.once('open', res);
      ws.once('error', rej);
    });
    const rules = pw('rule', 'list', '--json').json();
    const logRule = rules.find((r: any) => /^log/.test(r.rule));
    const dropRule = rules.find((r: any) => /^drop/.test(r.rule));
    udp(9100, 50, 40200);
    udp(9200, 20, 40300);
    udp(9000, 30, 40400); // neither logged nor dropped, and sampling is off: no events
    const deadline = Date.now() + 5000;
    while (got.length < 70 && Date.now() < deadline) await sleep(50);
    await sleep(300);
    const logs = got.filter((e) => e.kind === 'log');
    const drops = got.filter((e) => e.kind === 'drop');
    assert.equal(logs.length, 50);
    assert.ok(
      logs.every(
        (e) =>
          e.rule === logRule.id && e.packet.dport === 9100 && e.packet.src === CLIENT && e.verdict === 'redirect' && e.oif === dev('r1'),
      ),
    );
    assert.equal(drops.length, 20);
    assert.ok(drops.every((e) => e.rule === dropRule.id && e.reason === 'rule_drop' && e.verdict === 'drop' && e.len === 14 + 20 + 8 + 64));
    assert.ok(Buffer.from(drops[0].head, 'base64').length === drops[0].len, 'the head carries the whole short packet');
    assert.equal(got.filter((e) => e.packet.dport === 9000).length, 0);

    // Sampling every packet, by a config change (a versioned, diffable change like any other).
    // (Another file: the daemon reloads its own config file by itself when it changes.)
    const next = join(dir, 'sampling.yaml');
    writeFileSync(next, config(', sampleRate: 1'));
    const diff = pw('diff', '-f', next);
    assert.match(diff.stdout, /~ events insight: sample off, drops on → sample 1 in 1, drops on/);
    assert.equal(pw('apply', '-f', next).status, 0);
    got.length = 0;
    udp(9000, 30, 40500);
    const until = Date.now() + 5000;
    while (got.filter((e) => e.packet.sport === 40500).length < 30 && Date.now() < until) await sleep(50);
    ws.close();
    const samples = got.filter((e) => e.packet.sport === 40500);
    assert.equal(samples.length, 30);
    assert.ok(samples.every((e) => e.kind === 'sample'));

    // The CLI reads the same stream through the daemon.
    const reader = topo.spawn(undefined, join(repoRoot, 'bin', 'pathwise'), [
      'events',
      '--json',
      '-c',
      '5',
      '--kind',
      'drop',
      '--instance',
      instance,
    ]);
    let out = '';
    reader.stdout!.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((res) => reader.once('exit', res));
    await sleep(1000);
    udp(9200, 10, 40600);
    const code = await Promise.race([exited, sleep(10_000).then(() => 'timeout' as const)]);
    if (code === 'timeout') reader.kill();
    assert.equal(code, 0);
    const lines = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(lines.length, 5);
    assert.ok(lines.every((e) => e.kind === 'drop' && e.packet.sport === 40600));
  });

  /** Spawns a command and resolves once its standard error says `ready`. */
  async function spawnReady(
    ns: string | undefined,
    cmd: string,
    args: string[],
    ready: RegExp,
  ): Promise<{ child: ChildProcess; exited: Promise<number | null>; stderr: () => string }> {
    const child = topo.spawn(ns, cmd, args);
    let err = '';
    const exited = new Promise<number | null>((res) => child.once('exit', res));
    await new Promise<void>((res, rej) => {
      child.stderr!.on('data', (d) => {
        err += d;
        if (ready.test(err)) res();
      });
      void exited.then((code) => rej(new Error(`${cmd} exited (${code}) before it was ready: ${err}`)));
    });
    return { child, exited, stderr: () => err };
  }

  it('captures what tcpdump captures for the same filter on the same traffic, and pcapng carries verdicts', async () => {
    const ours = join(dir, 'ours.pcap');
    const theirs = join(dir, 'theirs.pcap');
    const filter = 'udp and dst port 9300 and udp[8] & 1 = 0';
    // tcpdump on the client's side of the link sees every frame the router's r0 receives.
    const td = await spawnReady(ns.c, 'tcpdump', ['-i', dev('c0'), '-Q', 'out', '-U', '-w', theirs, filter], /listening on/);
    const pw = await spawnReady(
      undefined,
      pathwiseBin,
      ['--netns', ns.r, 'capture', '-i', dev('r0'), '-c', '20', '-w', ours, '--instance', instance, filter],
      /capturing on/,
    );
    // 40 datagrams to 9300 whose first payload byte alternates even/odd (the filter keeps the
    // even ones), and 20 to another port.
    udp(9300, 40, 40700, 64);
    udp(9301, 20, 40701, 64);
    const code = await Promise.race([pw.exited, sleep(15_000).then(() => 'timeout' as const)]);
    if (code === 'timeout') pw.child.kill();
    assert.equal(code, 0, pw.stderr());
    assert.match(pw.stderr(), /20 packets captured/);
    // tcpdump writes each packet as it comes (-U): wait until it has them all.
    const count = () => {
      try {
        return readCapture(theirs).packets.length;
      } catch {
        return 0; // not even the file header yet
      }
    };
    for (const until = Date.now() + 10_000; count() < 20 && Date.now() < until;) await sleep(100);
    td.child.kill('SIGINT');
    await td.exited;
    const a = readCapture(ours).packets;
    const b = readCapture(theirs).packets;
    assert.equal(a.length, 20);
    assert.deepEqual(
      a.map((p) => p.data.toString('hex')),
      b.map((p) => p.data.toString('hex')),
    );
    // And tcpdump reads Pathwise's file with its own tools.
    const read = topo.exec(undefined, 'tcpdump', ['-nn', '-r', ours]);
    assert.equal(read.trim().split('\n').length, 20);
    assert.match(read, /10\.210\.1\.2\.40700 > 10\.220\.0\.1\.9300: UDP, length 64/);

    // At the verdict point: pcapng with the decision in each packet (dropped by the rule).
    const ng = join(dir, 'verdicts.pcapng');
    const v = await spawnReady(
      undefined,
      pathwiseBin,
      [
        '--netns',
        ns.r,
        'capture',
        '-i',
        dev('r0'),
        '--point',
        'verdict',
        '-c',
        '5',
        '-w',
        ng,
        '--instance',
        instance,
        'udp',
        'dst',
        'port',
        '9200',
      ],
      /capturing on/,
    );
    udp(9200, 5, 40800);
    assert.equal(await Promise.race([v.exited, sleep(15_000).then(() => 'timeout')]), 0, v.stderr());
    const pkts = readCapture(ng).packets;
    assert.equal(pkts.length, 5);
    assert.equal(topo.exec(undefined, 'tcpdump', ['-nn', '-r', ng]).trim().split('\n').length, 5);
    assert.equal(readFileSync(ng).toString('latin1').split('pathwise: drop (rule_drop)').length - 1, 5);
  });

  it('captures through the daemon: pcapng streamed over HTTP into tcpdump, with totals in trailers; the CLI remotely; one capture at a time; admin only', async () => {
    // GET /v1/capture on the unix socket, its pcapng body piped into tcpdump as it comes.
    const tcpdump = topo.spawn(undefined, 'tcpdump', ['-nn', '-r', '-']);
    let decoded = '';
    tcpdump.stdout!.on('data', (d) => (decoded += d));
    const tcpdumpDone = new Promise<number | null>((res) => tcpdump.once('exit', res));
    const streamed = new Promise<{ status: number; type: string; trailers: NodeJS.Dict<string> }>((resolve, reject) => {
      const req = http.request(
        {
          socketPath: socketOf(instance),
          path: `/v1/capture?${new URLSearchParams({ filter: 'udp dst port 9100', count: '3', point: 'verdict' })}`,
        },
        (res) => {
          res.pipe(tcpdump.stdin!);
          res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), trailers: res.trailers }));
        },
      );
      req.on('error', reject);
      req.end();
    });
    // One capture at a time: a second one is refused while the first runs, here and locally.
    let busy: { status: number; json: any } = { status: 0, json: null };
    for (const until = Date.now() + 10_000; busy.status !== 409 && Date.now() < until; await sleep(100)) {
      busy = await request({ socketPath: socketOf(instance) }, 'GET', '/v1/capture?count=1');
    }
    assert.equal(busy.status, 409, JSON.stringify(busy.json));
    assert.equal(busy.json.error.code, 'PW_ERR_BUSY');
    const local = cli(['--netns', ns.r, 'capture', '-c', '1', '--instance', instance]);
    assert.equal(local.status, 18, local.stderr);
    assert.match(local.stderr, /a capture already runs/);
    udp(9100, 3, 41000);
    const r = await Promise.race([streamed, sleep(15_000).then(() => null)]);
    assert.ok(r, 'the stream ended after 3 packets');
    assert.equal(r.status, 200);
    assert.equal(r.type, 'application/x-pcapng');
    assert.deepEqual([r.trailers['pathwise-captured'], r.trailers['pathwise-lost']], ['3', '0']);
    assert.equal(await tcpdumpDone, 0);
    const lines = decoded.trim().split('\n');
    assert.equal(lines.length, 3, decoded);
    assert.ok(
      lines.every((l) => /10\.210\.1\.2\.41000 > 10\.220\.0\.1\.9100: UDP, length 64/.test(l)),
      decoded,
    );

    // The CLI against the TCP listener, as from another host: a read-only token may not capture.
    const server = `http://127.0.0.1:${port}`;
    const ro = cli(['--netns', ns.r, 'capture', '--server', server, '--token', READER, '-c', '1', '--instance', instance]);
    assert.equal(ro.status, 15, ro.stderr);
    assert.match(ro.stderr, /read-only; a capture needs an admin token/);
    const bad = cli([
      '--netns',
      ns.r,
      'capture',
      '--server',
      server,
      '--token',
      ADMIN,
      '--json',
      '--instance',
      instance,
      'udp',
      'port',
      'banana',
    ]);
    assert.equal(bad.status, 3, bad.stderr);
    assert.match(JSON.parse(bad.stderr).error.message, /banana/);
    const ng = join(dir, 'remote.pcapng');
    const remote = await spawnReady(
      undefined,
      pathwiseBin,
      [
        '--netns',
        ns.r,
        'capture',
        '--server',
        server,
        '--token',
        ADMIN,
        '-i',
        dev('r0'),
        '--point',
        'verdict',
        '-c',
        '4',
        '-w',
        ng,
        '--instance',
        instance,
        'udp',
        'dst',
        'port',
        '9200',
      ],
      /capturing through/,
    );
    udp(9200, 4, 41100);
    assert.equal(await Promise.race([remote.exited, sleep(15_000).then(() => 'timeout')]), 0, remote.stderr());
    assert.match(remote.stderr(), /4 packets captured/);
    assert.equal(readCapture(ng).packets.length, 4);
    const read = topo.exec(undefined, 'tcpdump', ['-nn', '-r', ng]);
    assert.equal(read.trim().split('\n').length, 4);
    assert.match(read, /10\.210\.1\.2\.41100 > 10\.220\.0\.1\.9200: UDP, length 64/);
    assert.equal(readFileSync(ng).toString('latin1').split('pathwise: drop (rule_drop)').length - 1, 4);

    // Hanging up ends the capture in the daemon at once, with no packet to wake it: the slot
    // is free for the next one.
    const hangup = await spawnReady(
      undefined,
      pathwiseBin,
      ['--netns', ns.r, 'capture', '--server', server, '--token', ADMIN, '--instance', instance, 'udp', 'port', '1'],
      /capturing through/,
    );
    hangup.child.kill('SIGINT');
    assert.equal(await hangup.exited, 0, hangup.stderr());
    let next: { status: number; text: string } = { status: 0, text: '' };
    for (const until = Date.now() + 10_000; next.status !== 200 && Date.now() < until; await sleep(100)) {
      next = await request({ socketPath: socketOf(instance) }, 'GET', '/v1/capture?format=ndjson&duration=0.2');
    }
    assert.equal(next.status, 200, next.text);
  });

  it('exports flows over IPFIX to nfcapd, split by the active timeout and closed by the idle timeout', async () => {
    const collected = join(dir, 'ipfix');
    const nfcapd = await startNfcapd(topo, ns.r, collected, 24740);
    let log = '';
    try {
      const next = join(dir, 'ipfix.yaml');
      writeFileSync(next, config(', ipfix: { collectors: [{ host: 127.0.0.1, port: 24740 }], activeTimeout: 2s, idleTimeout: 2s }'));
      assert.equal(pw('apply', '-f', next).status, 0);
      // Three bursts 1.5 s apart: the flow is still active when the active timeout comes.
      for (let b = 0; b < 3; b++) {
        udp(9000, 100, 40900, 64);
        await sleep(1500);
      }
      // The idle timeout (2 s), an export pass (every 1 s), and room to spare.
      await sleep(5000);
    } finally {
      log = await nfcapd.stop();
    }
    const records = nfdumpFlows(collected, 'src port 40900');
    assert.ok(records.length >= 2, `the active timeout split the flow: ${JSON.stringify(records)}`);
    assert.ok(
      records.every((r) => r.proto === '17' && r.src === CLIENT && r.dst === SERVICE && r.dport === 9000),
      JSON.stringify(records),
    );
    assert.equal(
      records.reduce((n, r) => n + r.packets, 0),
      300,
      'delta counts add up to every packet sent',
    );
    assert.equal(
      records.reduce((n, r) => n + r.bytes, 0),
      300 * (20 + 8 + 64),
    );
    assert.match(log, /Sequence Errors: 0/, log);
    // The export's own counters, in /metrics.
    const metrics = (await request({ socketPath: socketOf(instance) }, 'GET', '/metrics')).text;
    const metric = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1]);
    assert.equal(metric('pathwise_ipfix_collectors'), 1);
    assert.ok(metric('pathwise_ipfix_records_total') >= records.length, metrics);
    assert.ok(metric('pathwise_ipfix_messages_total') >= 2, metrics);
    assert.ok(metric('pathwise_ipfix_export_duration_seconds') > 0, metrics);
  });

  it('refuses a bad filter and an interface outside the pipeline with clear errors', () => {
    const bad = cli(['--netns', ns.r, 'capture', '--instance', instance, '--json', 'tcp', 'port', 'banana']);
    assert.equal(bad.status, 3);
    assert.match(JSON.parse(bad.stderr).error.message, /banana/);
    const lo = cli(['--netns', ns.r, 'capture', '-i', 'lo', '--instance', instance]);
    assert.equal(lo.status, 4);
    assert.match(lo.stderr, /lo does not run the pipeline/);
  });
});
