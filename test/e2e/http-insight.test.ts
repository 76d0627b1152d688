/**
 * HTTP insight against tshark: real clients (curl, ab, a raw-socket client) talk to real
 * servers (a Node API, nginx in front of it) across namespaces; tcpdump captures the link;
 * `pathwise replay --http --json` runs the capture through the real pipeline (its HTTP stage
 * copies segment heads into the ring, the tracker parses them) and its transactions are
 * compared with tshark's decode of the same file, per connection, in order: method, host,
 * URI and status must agree for at least 99 % of them, and what disagrees must be counted as
 * unparsed. The edge cases are checked by name: pipelined requests, 100-continue, chunked
 * bodies, HEAD, requests split over segments, lower-case methods, HTTP/1.0, malformed
 * requests, TLS server names.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
  API_LAB,
  API_SERVER,
  buildApiLab,
  startApiServer,
  startCapture,
  startNginx,
  stopCapture,
  type ApiLab,
} from '../../src/netlab/api-traffic.js';
import { cli } from '../helpers/daemon.js';
import { privilegedSkip } from '../helpers/privileged.js';
import { Topology } from '../helpers/topology.js';

const skip = privilegedSkip();

interface Txn {
  clientPort: number;
  method: string;
  host: string | null;
  uri: string;
  version: string;
  status?: number;
}

/** tshark's transactions: per TCP stream, its requests and final responses paired in order. */
function tsharkTransactions(file: string, ports: number[]): Txn[] {
  const decode = ports.flatMap((p) => ['-d', `tcp.port==${p},http`]);
  const fields = [
    'tcp.stream',
    'tcp.srcport',
    'http.request.method',
    'http.host',
    'http.request.uri',
    'http.request.version',
    'http.response.code',
  ];
  const p = spawnSync(
    'tshark',
    [
      '-r',
      file,
      ...decode,
      '-Y',
      'http',
      '-T',
      'fields',
      '-E',
      'separator=\t',
      '-E',
      'occurrence=a',
      '-E',
      'aggregator=\x1f',
      ...fields.flatMap((f) => ['-e', f]),
    ],
    {
      encoding: 'utf8',
      maxBuffer: 1 << 28,
    },
  );
  if (p.status !== 0) throw new Error(`tshark: ${p.stderr}`);
  const streams = new Map<string, { port: number; requests: Omit<Txn, 'clientPort'>[]; statuses: number[] }>();
  for (const line of p.stdout.split('\n').filter(Boolean)) {
    const [stream, sport, methods, hosts, uris, versions, codes] = line.split('\t').map((s) => (s ? s.split('\x1f') : [])) as string[][];
    const s = streams.get(stream![0]!) ?? { port: 0, requests: [], statuses: [] };
    streams.set(stream![0]!, s);
    methods!.forEach((m, i) => {
      s.port = Number(sport![0]);
      s.requests.push({ method: m, host: hosts![i] ?? null, uri: uris![i]!, version: versions![i]! });
    });
    // Interim responses (100 Continue) answer no request.
    for (const c of codes!) if (Number(c) >= 200 || Number(c) === 101) s.statuses.push(Number(c));
  }
  const out: Txn[] = [];
  for (const s of streams.values()) {
    s.requests.forEach((r, i) => out.push({ clientPort: s.port, ...r, ...(s.statuses[i] !== undefined ? { status: s.statuses[i] } : {}) }));
  }
  return out;
}

const key = (t: Txn) => `${t.clientPort} ${t.method} ${t.host ?? '-'} ${t.uri} ${t.status ?? '---'}`;

describe('HTTP insight: replayed captures against tshark', { skip }, () => {
  let topo: Topology;
  let lab: ApiLab;
  let dir: string;
  let capture: string;
  let ours: {
    http: (Txn & { client: string; apiVersion?: string; requestTime: string; responseTime?: string; latencyMs?: number })[];
    tls: { sni: string | null; alpn: string[] }[];
    httpStats: Record<string, number>;
  };
  let theirs: Txn[];
  let rawAnswers: Record<string, string>;

  before(async () => {
    topo = new Topology('ht');
    dir = mkdtempSync(join(tmpdir(), 'pw-http-'));
    lab = buildApiLab(topo);
    capture = join(dir, 'api.pcap');
    await startApiServer(topo, lab.server, 8080, 8443);
    await startNginx(topo, lab.server, dir, 80, 8080);
    const tcpdump = await startCapture(topo, lab, capture);
    const c = (...args: string[]) =>
      topo.exec(lab.client, 'curl', ['-s', '-o', '/dev/null', '--max-time', '5', ...args], { allowFail: true });
    const api = `http://${API_SERVER}:8080`;
    const gw = `http://${API_SERVER}`;
    c(`${api}/v1/users/42`);
    c('-X', 'POST', '-H', 'content-type: application/json', '-H', 'API-Version: 2024-01', '-d', '{"item":7}', `${api}/v2/orders`);
    c('-I', `${api}/big`);
    c(`${api}/chunked`, `${api}/v1/users/7?status=500`, `${api}/big`, `${api}/v1/after-big?delay=20`);
    c('-0', `${api}/v1/old-client`);
    writeFileSync(join(dir, 'body.bin'), Buffer.alloc(20_000, 0x62));
    c('-H', 'Expect: 100-continue', '--data-binary', `@${join(dir, 'body.bin')}`, `${api}/v3/upload`);
    c(`${gw}/v1/through-gateway`, `${gw}/missing`, `${gw}/teapot`);
    // TLS: a ClientHello to a listener that never answers it still carries the name asked for.
    c('--max-time', '0.5', '--resolve', `api.example.test:8443:${API_SERVER}`, `https://api.example.test:8443/v1/secure`);
    topo.exec(lab.client, 'ab', ['-q', '-k', '-n', '300', '-c', '3', `${api}/v1/ab/1`], { allowFail: true });
    topo.exec(lab.client, 'ab', ['-q', '-n', '100', '-c', '2', `${gw}/v2/ab-gateway`], { allowFail: true });
    rawAnswers = JSON.parse(topo.exec(lab.client, process.execPath, [API_LAB, 'raw', API_SERVER, '8080']));
    await stopCapture(tcpdump);
    const config = join(dir, 'empty.yaml');
    writeFileSync(config, '{}\n');
    const r = cli(['replay', capture, '--config', config, '--http', '--json']);
    assert.equal(r.status, 0, r.stderr);
    ours = r.json();
    theirs = tsharkTransactions(capture, [80, 8080]);
  });

  after(() => {
    topo?.destroy();
    // PATHWISE_KEEP_CAPTURE=1 keeps the capture (and nginx's log) to look at.
    if (dir && process.env.PATHWISE_KEEP_CAPTURE !== '1') rmSync(dir, { recursive: true, force: true });
    else if (dir) process.stderr.write(`capture kept in ${dir}\n`);
  });

  it('agrees with tshark on method, host, URI and status for at least 99 % of transactions', () => {
    const mine = new Map<string, number>();
    for (const t of ours.http) {
      const k = key({ ...t, clientPort: Number(/:(\d+)$/.exec(t.client)![1]) });
      mine.set(k, (mine.get(k) ?? 0) + 1);
    }
    let agree = 0;
    const missing: string[] = [];
    for (const t of theirs) {
      const n = mine.get(key(t)) ?? 0;
      if (n > 0) {
        agree++;
        mine.set(key(t), n - 1);
      } else missing.push(key(t));
    }
    const extra = [...mine].filter(([, n]) => n > 0).map(([k]) => k);
    const total = Math.max(theirs.length, ours.http.length);
    assert.ok(theirs.length >= 410, `tshark saw ${theirs.length} transactions`);
    process.stderr.write(
      `agreement with tshark: ${agree} of ${total} transactions (tshark ${theirs.length}, ours ${ours.http.length}); unparsed ${JSON.stringify(ours.httpStats)}\n`,
    );
    const few = (l: string[]) => l.slice(0, 20).join(' | ') + (l.length > 20 ? ` and ${l.length - 20} more` : '');
    assert.ok(agree / total >= 0.99, `agree on ${agree} of ${total}; tshark only: ${few(missing)}; ours only: ${few(extra)}`);
    // What tshark has and we do not is what we counted as unparsed.
    const s = ours.httpStats;
    assert.ok(missing.length <= s.unparsedRequests! + s.unparsedResponses!, `missing ${few(missing)} with stats ${JSON.stringify(s)}`);
  });

  it('reads the edge cases as their servers answered them', () => {
    const byUri = (uri: string) => ours.http.filter((t) => t.uri === uri);
    // Pipelined: three requests in one segment, answered in order (HEAD's answer has no body).
    assert.deepEqual(
      ['/v1/pipe/1', '/v1/pipe/2?status=404', '/v2/pipe/3'].map((u) => [byUri(u)[0]?.method, byUri(u)[0]?.status]),
      [
        ['GET', 200],
        ['GET', 404],
        ['HEAD', 200],
      ],
    );
    assert.equal(byUri('/v2/split/abc')[0]?.status, 200, 'a request head split over three segments');
    assert.equal(byUri('/v3/orders')[0]?.status, 200, 'a body split over segments');
    assert.equal(byUri('/v3/upload')[0]?.status, 200, '100-continue: the interim answer pairs with nothing');
    assert.equal(byUri('/v1/upload')[0], undefined);
    assert.deepEqual(
      byUri('/v1/old')[0] && { v: byUri('/v1/old')[0]!.version, s: byUri('/v1/old')[0]!.status, host: byUri('/v1/old')[0]!.host },
      { v: 'HTTP/1.0', s: 200, host: null },
    );
    // After a chunked body and a 100 kB one on the same connection, the next answers still pair.
    assert.equal(byUri('/chunked')[0]?.status, 200);
    assert.equal(byUri('/v1/users/7?status=500')[0]?.status, 500);
    assert.equal(byUri('/v1/after-big?delay=20')[0]?.status, 200);
    // The server delays with setTimeout(20), which libuv counts from its loop's clock in whole
    // milliseconds: the answer can leave up to 1 ms less than 20 after the request's packet.
    const delayed = byUri('/v1/after-big?delay=20')[0]!.latencyMs!;
    assert.ok(delayed >= 19, `latency covers the server delay (${delayed} ms)`);
    // A lower-case method is a token like any other; Node refuses it, and the answer pairs.
    assert.match(rawAnswers.lowercase!, /^HTTP\/1\.1 400/);
    assert.deepEqual(
      byUri('/v1/lower').map((t) => [t.method, t.status]),
      [['get', 400]],
    );
    // A malformed request line is counted, never reported as a request.
    assert.match(rawAnswers.malformed!, /^HTTP\/1\.1 400/);
    assert.ok(ours.httpStats.unparsedRequests! >= 1);
    assert.ok(!ours.http.some((t) => t.method === 'THIS'));
    // The gateway's own answers and those it proxied.
    assert.deepEqual(
      byUri('/teapot').map((t) => t.status),
      [418],
    );
    assert.deepEqual(
      byUri('/missing').map((t) => t.status),
      [404],
    );
    assert.equal(byUri('/v2/orders')[0]?.apiVersion ?? null, null, 'no version field configured');
  });

  it('names the TLS server asked for, without decrypting', () => {
    assert.deepEqual(
      ours.tls.map((h) => h.sni),
      ['api.example.test'],
    );
    assert.ok(ours.tls[0]!.alpn.includes('http/1.1'));
  });
});
