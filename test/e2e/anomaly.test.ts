/**
 * Anomaly detection live: the daemon routes steady API traffic from three clients to an API
 * (HTTP insight on port 80, flows on) with detectors judging each second. Steady traffic
 * triggers nothing (here for the warm-up and a while after it; `make soak` runs it ten minutes).
 * Then one scripted attack per detector, each from its own address: a request flood, a scan
 * (missing paths and closed ports), a SYN flood on a closed port, an error spike on one API,
 * a burst of new sources, and a UDP packet flood. Each must be found with the right subject;
 * the detectors set to seal must have sealed their source (a decision the pipeline enforces).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ChildProcess } from 'node:child_process';

import { API_LAB, startApiServer } from '../../src/netlab/api-traffic.js';
import { SERVICE } from '../../src/netlab/router-lab.js';
import { repoRoot } from '../../src/util/paths.js';
import {
  cli,
  createDaemonLab,
  destroyDaemonLab,
  routerConfig,
  startDaemon,
  type DaemonLab,
  type RunningDaemon,
} from '../helpers/daemon.js';
import { privilegedSkip } from '../helpers/privileged.js';

const skip = privilegedSkip();
const STEADY = ['10.210.1.11', '10.210.1.12', '10.210.1.13'];
const ATTACK = { flood: '10.210.1.21', scan: '10.210.1.22', syn: '10.210.1.23', errors: '10.210.1.24' };
const NEW_SOURCES = Array.from({ length: 40 }, (_, i) => `10.210.1.${100 + i}`);
const UDP_FLOODER = '10.210.1.2'; // the client's own address
/** Seconds of steady traffic before the first attack: 5 one-second intervals of warm-up, then 25 judged. */
const QUIET_S = 30;

interface AuditRow {
  at: string;
  kind: string;
  event: string;
  subject: string;
  actor: string;
  details: { detector: string; sources: string[]; sealed?: string[] };
}

const exited = (c: ChildProcess) => new Promise<void>((r) => (c.exitCode !== null ? r() : c.once('exit', () => r())));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('anomaly detection, live', { skip, timeout: 5 * 60_000 }, () => {
  let lab: DaemonLab | undefined;
  let daemon: RunningDaemon | undefined;
  let found: AuditRow[] = [];
  let attacksFrom = 0;
  const pw = (...args: string[]) => cli([...args, '--instance', lab!.instance]);

  before(async () => {
    lab = createDaemonLab('an');
    const { topo, instance, dir, configFile, ns } = lab;
    const dev = (s: string) => topo.name(s);
    for (const a of [...STEADY, ...Object.values(ATTACK), ...NEW_SOURCES])
      topo.exec(ns.c, 'ip', ['addr', 'add', `${a}/24`, 'dev', dev('c0')]);
    // The router's kernel does not forward (router-lab.ts): it learns the neighbours that talk to it.
    for (const a of [...STEADY, ...Object.values(ATTACK)]) topo.exec(ns.c, 'ping', ['-c', '1', '-W', '2', '-I', a, '10.210.1.1']);
    writeFileSync(
      configFile,
      routerConfig(
        topo,
        instance,
        `insight:
  http: { ports: [80] }
anomalies:
  enabled: true
  interval: 1s
  warmup: 5
  detectors:
    newSources: { floor: 20 }
    synFlood: { floor: 50 }
`,
      ),
    );
    daemon = await startDaemon(ns.r, configFile, join(dir, 'state'));
    await startApiServer(topo, ns.u1, 80);
    const api = (...args: string[]) => topo.spawn(ns.c, process.execPath, [API_LAB, ...args]);
    const steady = STEADY.map((src) => api('flood', SERVICE, '80', String(QUIET_S + 22), src, '10'));
    await sleep(QUIET_S * 1000);
    attacksFrom = Date.now();
    const attacks: [string, () => ChildProcess][] = [
      ['request flood', () => api('flood', SERVICE, '80', '3', ATTACK.flood, '0')],
      ['scan', () => api('scan', SERVICE, '80', '60', ATTACK.scan)],
      ['SYN flood', () => api('syn', SERVICE, '81', '400', ATTACK.syn)],
      ['error spike', () => api('flood', SERVICE, '80', '3', ATTACK.errors, '40', '/v1/orders/9?status=500')],
      ['new sources', () => api('hello', SERVICE, '80', NEW_SOURCES.join(','))],
      [
        'packet flood',
        () =>
          topo.spawn(ns.c, process.execPath, [
            join(repoRoot, 'dist', 'src', 'netlab', 'traffic.js'),
            'udp-send',
            SERVICE,
            '9999',
            '20000',
            '3',
          ]),
      ],
    ];
    for (const [, start] of attacks) {
      await exited(start());
      await sleep(2500); // an interval to judge it, and a gap before the next
    }
    await Promise.all(steady.map(exited));
    const a = pw('audit', '--kind', 'anomaly', '--json');
    assert.equal(a.status, 0, a.stderr);
    found = a.json() as AuditRow[];
    process.stderr.write(`anomalies found:\n${found.map((r) => `  ${r.at} ${r.details.detector} ${r.subject} ${r.event}\n`).join('')}`);
  });

  after(async () => {
    await destroyDaemonLab(lab, daemon);
  });

  const of = (detector: string) => found.filter((r) => r.details.detector === detector);

  it('finds nothing in steady traffic', () => {
    const early = found.filter((r) => Date.parse(r.at) < attacksFrom);
    assert.deepEqual(
      early.map((r) => `${r.details.detector} ${r.subject}`),
      [],
    );
  });

  it('finds and seals a request flood, a scan and a packet flood', () => {
    for (const [detector, src] of [
      ['requestFlood', ATTACK.flood],
      ['scan', ATTACK.scan],
      ['packetFlood', UDP_FLOODER],
    ] as const) {
      const rows = of(detector);
      assert.ok(
        rows.some((r) => r.subject === src && r.event === 'sealed' && r.details.sealed?.includes(`${src}/32`)),
        `${detector}: ${JSON.stringify(rows.map((r) => [r.subject, r.event]))}`,
      );
    }
    const decisions = pw('decision', 'list', '--json').json() as { target: string; source: string }[];
    for (const [detector, src] of [
      ['requestFlood', ATTACK.flood],
      ['scan', ATTACK.scan],
      ['packetFlood', UDP_FLOODER],
    ])
      assert.ok(
        decisions.some((d) => d.target === `${src}/32` && d.source === `detector:${detector}`),
        `a decision from ${detector} on ${src}`,
      );
  });

  it('finds a SYN flood, an error spike and a burst of new sources, and tells without sealing', () => {
    const syn = of('synFlood');
    assert.ok(
      syn.some((r) => r.subject === `${SERVICE}:81` && r.details.sources.includes(ATTACK.syn) && r.event === 'detected'),
      JSON.stringify(syn),
    );
    const errs = of('errorSpike');
    assert.ok(
      errs.some((r) => r.details.sources.includes(ATTACK.errors) && r.event === 'detected'),
      JSON.stringify(errs),
    );
    const fresh = of('newSources');
    assert.ok(
      fresh.some((r) => r.subject === 'all'),
      JSON.stringify(fresh),
    );
  });

  it('blames no steady client', () => {
    const blamed = found.filter((r) => STEADY.includes(r.subject) || r.details.sources.some((s) => STEADY.includes(s)));
    assert.deepEqual(
      blamed.map((r) => `${r.details.detector} ${r.subject}`),
      [],
    );
  });
});
