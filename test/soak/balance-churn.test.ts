/**
 * The load balancer under churn for PATHWISE_SOAK_SECONDS (make soak; default 600): while 60
 * connections stay open through the service, each asking every 100 ms, the operator keeps
 * changing things, one at random every second or two — a fourth backend added with a random
 * weight, drained, removed; the daemon killed with SIGKILL and started again; the program
 * replaced by a pipeline setting that changes. After each change settles, 200 new connections
 * must all be answered, by live backends only. At the end, no held connection on the three
 * backends that never left saw an error or another backend; those on the fourth may have been
 * reset when it went, nothing else.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import type { Held } from '../../src/netlab/http-lab.js';
import { buildLbLab, HTTP_LAB, LB_VIP, type LbLab } from '../../src/netlab/lb-lab.js';
import { cli, startDaemon, stopDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { privilegedSkip } from '../helpers/privileged.js';
import { rng } from '../helpers/rng.js';
import { Topology } from '../helpers/topology.js';

const skip = privilegedSkip();
const SECONDS = Number(process.env.PATHWISE_SOAK_SECONDS ?? 600);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe(`the load balancer under churn for ${SECONDS} s`, { skip, timeout: (SECONDS + 300) * 1000 }, () => {
  let topo: Topology;
  let lab: LbLab;
  let instance = '';
  let dir = '';
  let configFile = '';
  let daemon: RunningDaemon | undefined;
  const pw = (...args: string[]) => cli(['--netns', lab.router, ...args, '--instance', instance]);
  const backend = (k: number) => `10.250.${10 + k}.2:8080`;
  const STAYING = [backend(1), backend(2), `${backend(3)}@2`];

  const config = (fourth: string | null, dropMalformed: boolean) => `
instance: ${instance}
interfaces:
${[0, 1, 2, 3, 4].map((k) => `  - { name: ${topo.name(`r${k}`)}, mode: native }`).join('\n')}
pipeline: { dropMalformed: ${dropMalformed} }
services:
  web:
    address: ${LB_VIP}:80/tcp
    backends: [${[...STAYING, ...(fourth ? [fourth] : [])].join(', ')}]
`;
  const apply = (text: string) => {
    writeFileSync(configFile, text);
    const r = pw('apply', '-f', configFile, '--json');
    assert.equal(r.status, 0, r.stderr);
  };

  before(async () => {
    topo = new Topology('ls');
    instance = topo.prefix;
    topo.recordInstance(instance);
    dir = mkdtempSync(join(tmpdir(), 'pw-lb-soak-'));
    configFile = join(dir, 'pathwise.yaml');
    lab = await buildLbLab(topo, 4);
    writeFileSync(configFile, config(null, false));
    daemon = await startDaemon(lab.router, configFile, join(dir, 'state'));
  });
  after(async () => {
    await stopDaemon(daemon, 'SIGKILL');
    if (lab) cli(['--netns', lab.router, 'down', '--instance', instance]);
    topo?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every connection on the backends that stay, and answers every new one, through random changes', async (t) => {
    const rand = rng(Number(process.env.PATHWISE_SOAK_SEED ?? 15));
    const holder = topo.spawn(lab.client, process.execPath, [HTTP_LAB, 'hold', LB_VIP, '80', '60']);
    let out = '';
    holder.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    for (let i = 0; i < 400 && !out.includes('ready'); i++) await sleep(50);
    assert.ok(out.includes('ready'), `held connections not ready: ${out}`);

    let fourth: string | null = null; // the fourth backend as configured, with its weight
    let dropMalformed = false;
    const done: Record<string, number> = {};
    const failures: string[] = [];
    let newConnections = 0;
    const end = Date.now() + SECONDS * 1000;
    while (Date.now() < end && failures.length < 5) {
      const r = rand();
      let what: string;
      if (r < 0.3) {
        fourth = `${backend(4)}@${1 + Math.floor(rand() * 3)}`;
        apply(config(fourth, dropMalformed));
        what = 'add or reweigh b4';
      } else if (r < 0.45) {
        fourth = null;
        apply(config(fourth, dropMalformed));
        what = 'remove b4';
      } else if (r < 0.6 && fourth) {
        const d = pw('service', 'drain', 'web', backend(4), '--json');
        assert.equal(d.status, 0, d.stderr);
        what = 'drain b4';
      } else if (r < 0.8) {
        await stopDaemon(daemon, 'SIGKILL');
        daemon = await startDaemon(lab.router, configFile, join(dir, 'state'));
        what = 'kill -9 and restart the daemon';
      } else {
        dropMalformed = !dropMalformed;
        apply(config(fourth, dropMalformed));
        what = 'replace the program';
      }
      done[what] = (done[what] ?? 0) + 1;
      await sleep(300 + rand() * 1200);
      const c = JSON.parse(topo.exec(lab.client, process.execPath, [HTTP_LAB, 'count', `http://${LB_VIP}/`, '200', '16'])) as {
        counts: Record<string, number>;
        errors: Record<string, number>;
      };
      newConnections += 200;
      if (Object.keys(c.errors).length) failures.push(`after "${what}": new connections failed: ${JSON.stringify(c.errors)}`);
      // A removed or drained fourth backend takes no new connection once the change is in.
      if ((!fourth || what === 'drain b4') && c.counts.b4) failures.push(`after "${what}": b4 took ${c.counts.b4} new connections`);
      // A drain holds until the next apply; after it, the weight is the config's again.
    }

    const exited = new Promise((r) => holder.once('exit', r));
    holder.kill('SIGTERM');
    await exited;
    const conns = JSON.parse(out.slice(out.indexOf('\n') + 1)) as Held[];
    t.diagnostic(
      `${SECONDS} s: changes ${JSON.stringify(done)}; ${newConnections} new connections; ${conns.length} held, ${conns.reduce((a, c) => a + c.answers, 0)} answers`,
    );
    assert.deepEqual(failures, []);
    for (const [i, c] of conns.entries()) {
      if (c.names[0] === 'b4') continue; // its backend went and came back: it may have been reset
      assert.deepEqual(c.errors, [], `connection ${i} on ${c.names[0]}: no reset, no close`);
      assert.equal(c.names.length, 1, `connection ${i} stayed on one backend: ${c.names.join('→')}`);
      assert.ok(c.answers >= c.requests - 1, `connection ${i}: ${c.answers} answers to ${c.requests} requests`);
    }
    assert.ok(new Set(conns.map((c) => c.names[0])).size >= 3, 'the held connections were spread over the backends');
  });
});
