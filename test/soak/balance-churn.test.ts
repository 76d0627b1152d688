/**
 * The load balancer under churn for PATHWISE_SOAK_SECONDS (make soak; default 600): while 60
 * connections stay open through the service, each asking every 100 ms, the operator keeps
 * changing things, one at random every second or two — a fourth backend added with a random
 * weight, drained, removed; the daemon killed with SIGKILL and started again; the program
 * replaced by a pipeline setting that changes. After each change settles, 200 new connections
 * must all be answered, and none by a fourth backend removed or drained. The held connections
 * open before the fourth backend is in the config, so all are on the three that never leave:
 * at the end, none may have seen an error or another backend.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { LbDaemonLab, lbBackend, webService } from '../helpers/lb-daemon.js';
import { privilegedSkip } from '../helpers/privileged.js';
import { rng } from '../helpers/rng.js';

const skip = privilegedSkip();
const SECONDS = Number(process.env.PATHWISE_SOAK_SECONDS ?? 600);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const STAYING = [`${lbBackend(1)}:8080`, `${lbBackend(2)}:8080`, `${lbBackend(3)}:8080@2`];
const FOURTH = `${lbBackend(4)}:8080`;

describe(`the load balancer under churn for ${SECONDS} s`, { skip, timeout: (SECONDS + 300) * 1000 }, () => {
  let l: LbDaemonLab;
  /** The config with the fourth backend (ADDR:PORT@WEIGHT) or without it. */
  const config = (fourth: string | null, dropMalformed: boolean) =>
    l.config(webService([...STAYING, ...(fourth ? [fourth] : [])]), `pipeline: { dropMalformed: ${dropMalformed} }`);

  before(async () => {
    l = await LbDaemonLab.start('ls', webService(STAYING));
  });
  after(() => l?.stop());

  it('keeps every connection on the backends that stay, and answers every new one, through random changes', async (t) => {
    const rand = rng(Number(process.env.PATHWISE_SOAK_SEED ?? 15));
    let fourth: string | null = null; // the fourth backend as configured, with its weight
    let dropMalformed = false;
    const done: Record<string, number> = {};
    const failures: string[] = [];
    let newConnections = 0;
    // The held connections open on the three backends (the fourth is not in the config yet).
    const conns = await l.held(60, async () => {
      const end = Date.now() + SECONDS * 1000;
      while (Date.now() < end && failures.length < 5) {
        const r = rand();
        let what: string;
        if (r < 0.3) {
          fourth = `${FOURTH}@${1 + Math.floor(rand() * 3)}`;
          l.apply(config(fourth, dropMalformed));
          what = 'add or reweigh b4';
        } else if (r < 0.45) {
          fourth = null;
          l.apply(config(fourth, dropMalformed));
          what = 'remove b4';
        } else if (r < 0.6 && fourth) {
          const d = l.pw('service', 'drain', 'web', FOURTH, '--json');
          assert.equal(d.status, 0, d.stderr);
          what = 'drain b4';
        } else if (r < 0.8) {
          await l.restart();
          what = 'kill -9 and restart the daemon';
        } else {
          dropMalformed = !dropMalformed;
          l.apply(config(fourth, dropMalformed));
          what = 'replace the program';
        }
        done[what] = (done[what] ?? 0) + 1;
        await sleep(300 + rand() * 1200);
        const c = l.count(200, undefined, 16);
        newConnections += 200;
        if (Object.keys(c.errors).length) failures.push(`after "${what}": new connections failed: ${JSON.stringify(c.errors)}`);
        // A removed or drained fourth backend takes no new connection once the change is in
        // (a drain holds until the next apply or restart, which set the config's weight again).
        if ((!fourth || what === 'drain b4') && c.counts.b4) failures.push(`after "${what}": b4 took ${c.counts.b4} new connections`);
      }
    });
    t.diagnostic(
      `${SECONDS} s: changes ${JSON.stringify(done)}; ${newConnections} new connections; ${conns.length} held, ${conns.reduce((a, c) => a + c.answers, 0)} answers`,
    );
    assert.deepEqual(failures, []);
    for (const [i, c] of conns.entries()) {
      assert.deepEqual(c.errors, [], `connection ${i} on ${c.names[0]}: no reset, no close`);
      assert.equal(c.names.length, 1, `connection ${i} stayed on one backend: ${c.names.join('→')}`);
      assert.ok(c.answers >= c.requests - 1, `connection ${i}: ${c.answers} answers to ${c.requests} requests`);
    }
    assert.ok(new Set(conns.map((c) => c.names[0])).size === 3, 'the held connections were spread over the three backends');
  });
});
