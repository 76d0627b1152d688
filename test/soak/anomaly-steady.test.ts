/**
 * The detectors' false-positive guard (make soak): steady mixed traffic through the daemon for
 * PATHWISE_SOAK_SECONDS (default 600: ten minutes) with anomaly detection at its defaults —
 * three clients calling at a fixed rate, two sending the load mix of api-lab.ts (six APIs and
 * versions, 404s, 503s, delays) without pause, each over its own address — must trigger
 * nothing: no anomaly, no seal.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ChildProcess } from 'node:child_process';

import { API_LAB, startApiServer } from '../../src/netlab/api-traffic.js';
import { SERVICE } from '../../src/netlab/router-lab.js';
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
const SECONDS = Number(process.env.PATHWISE_SOAK_SECONDS ?? 600);
const STEADY = ['10.210.1.11', '10.210.1.12', '10.210.1.13'];
const LOADERS = ['10.210.1.31', '10.210.1.32'];

const exited = (c: ChildProcess) => new Promise<void>((r) => (c.exitCode !== null ? r() : c.once('exit', () => r())));

describe(`steady mixed traffic for ${SECONDS} s`, { skip, timeout: (SECONDS + 300) * 1000 }, () => {
  let lab: DaemonLab | undefined;
  let daemon: RunningDaemon | undefined;
  let requests = 0;
  const pw = (...args: string[]) => cli([...args, '--instance', lab!.instance]);

  before(async () => {
    lab = createDaemonLab('soak');
    const { topo, instance, dir, configFile, ns } = lab;
    const dev = (s: string) => topo.name(s);
    for (const a of [...STEADY, ...LOADERS]) {
      topo.exec(ns.c, 'ip', ['addr', 'add', `${a}/24`, 'dev', dev('c0')]);
      topo.exec(ns.c, 'ping', ['-c', '1', '-W', '2', '-I', a, '10.210.1.1']);
    }
    writeFileSync(
      configFile,
      routerConfig(
        topo,
        instance,
        `insight:
  http: { ports: [80], versionField: API-Version }
anomalies: { enabled: true }
`,
      ),
    );
    daemon = await startDaemon(ns.r, configFile, join(dir, 'state'));
    await startApiServer(topo, ns.u1, 80);
    const end = Date.now() + SECONDS * 1000;
    const steady = STEADY.map((src, i) =>
      exited(topo.spawn(ns.c, process.execPath, [API_LAB, 'flood', SERVICE, '80', String(SECONDS), src, String(5 + 5 * i)])),
    );
    const loader = async (src: string) => {
      while (Date.now() < end) {
        await exited(topo.spawn(ns.c, process.execPath, [API_LAB, 'load', SERVICE, '80', '600', src]));
        requests += 600;
      }
    };
    await Promise.all([...steady, ...LOADERS.map(loader)]);
  });

  after(async () => {
    await destroyDaemonLab(lab, daemon);
  });

  it('triggers no detector and seals nothing', () => {
    const seen = pw('api', 'usage', '--by', 'source', '--since', '1h', '--json');
    assert.equal(seen.status, 0, seen.stderr);
    const total = (seen.json().rows as { requests: number }[]).reduce((a, r) => a + r.requests, 0);
    process.stderr.write(`${total} requests seen in ${SECONDS} s (${requests} from the load mix)\n`);
    assert.ok(total > SECONDS * 20, 'the traffic was seen');
    const a = pw('audit', '--kind', 'anomaly', '--json');
    assert.equal(a.status, 0, a.stderr);
    assert.deepEqual(
      (a.json() as { summary: string }[]).map((r) => r.summary),
      [],
    );
    assert.deepEqual(pw('decision', 'list', '--json').json(), []);
  });
});
