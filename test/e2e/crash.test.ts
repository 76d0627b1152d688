/**
 * kill -9 at random points: the daemon is sent a change — a new config on disk (a rule flip, a
 * limiter, a blocklist, a program upgrade from a pipeline setting) reloaded by SIGHUP, or the
 * same through the API — and killed after a random delay, 60 times. Every time it starts
 * again, and then:
 * - what runs is the last recorded version (the config on disk, applied at start): its rules,
 *   limiters, blocks and settings, in the maps — a packet to port 22 meets the rule drop
 *   exactly when the version has that rule;
 * - nothing is left over: no upgrade journal, no staged pin, and every interface runs the
 *   pinned program.
 * The daemon runs with the window inside an upgrade widened (each step 120 ms longer), so that
 * some kills land in it: they are counted, and there must be some.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { Dataplane } from '../../src/dataplane/dataplane.js';
import { pinDirOf, runDirOf } from '../../src/dataplane/pipeline.js';
import * as abi from '../../src/generated/pathwise.js';
import { inNetns, Program, queryXdp, resolveIfindex } from '../../src/kernel/index.js';
import {
  createDaemonLab,
  destroyDaemonLab,
  request,
  socketOf,
  startDaemon,
  stopDaemon,
  type DaemonLab,
  type RunningDaemon,
} from '../helpers/daemon.js';
import { ipv4Packet } from '../helpers/packets.js';
import { privilegedSkip } from '../helpers/privileged.js';
import { rng } from '../helpers/rng.js';

const skip = privilegedSkip();
const KILLS = 60;
/** Widens the few milliseconds between an upgrade's staging and its last rename (see upgrade.ts). */
const PAUSE = { PATHWISE_FAULT_INJECT: 'upgrade-pause:120' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('kill -9 at random points of apply, rule flip and upgrade', { skip, timeout: 15 * 60_000 }, () => {
  let lab: DaemonLab;
  let daemon: RunningDaemon | undefined;
  const api = (method: string, path: string, body?: unknown) => request({ socketPath: socketOf(lab.instance) }, method, path, body);

  /** Config variant n: rules, a limiter, blocks and the flow setting all depend on n. */
  const variant = (n: number) => `
instance: ${lab.instance}
interfaces:
  - { name: ${lab.topo.name('r0')}, mode: native }
  - { name: ${lab.topo.name('r1')}, mode: native }
  - { name: ${lab.topo.name('r2')}, mode: native }
pipeline: { flows: ${n % 3 !== 0} }
routes:
  - prefix: 10.220.0.0/16
    via: [{ gateway: 10.210.2.2 }, { gateway: 10.210.3.2 }]
  - { prefix: 10.${100 + (n % 7)}.0.0/16, type: blackhole }
ratelimits:
  l${n % 4}: { rate: ${10 + n}, burst: 5 }
rules:
${n % 2 ? '  - { action: drop, proto: tcp, dport: 22 }\n' : ''}  - { action: count, proto: udp, dport: ${1000 + n} }
  - { action: ratelimit, limiter: l${n % 4}, proto: udp, dport: 53 }
blocklists:
  - prefixes: [198.51.${n % 5}.0/24]
`;

  /** The state after a (re)start must be variant `n`'s, in the maps as in the record. */
  async function checkConsistent(n: number, round: number): Promise<void> {
    const where = `round ${round} (variant ${n})`;
    const status = (await api('GET', '/v1/status')).json;
    const history = (await api('GET', '/v1/history?limit=1')).json;
    assert.equal(status.version, history[0].version, `${where}: running the last recorded version`);
    assert.equal(status.settings.flows, n % 3 !== 0, `${where}: flows setting`);
    const rules = (await api('GET', '/v1/rules')).json.map((r: { text: string }) => r.text);
    assert.deepEqual(
      rules,
      [...(n % 2 ? ['drop proto tcp dport 22'] : []), `count proto udp dport ${1000 + n}`, `ratelimit l${n % 4} proto udp dport 53`],
      `${where}: rules`,
    );
    const blocks = (await api('GET', '/v1/blocklist')).json.map((b: { prefix: string }) => b.prefix);
    assert.deepEqual(blocks, [`198.51.${n % 5}.0/24`], `${where}: blocks`);
    // The maps, read directly: the live rule bank decides as the record says.
    const dp = await Dataplane.open(lab.instance, {}, { create: false });
    try {
      const t = dp.trace(ipv4Packet({ src: '10.210.1.2', dst: '10.220.0.1', proto: 'tcp', dport: 22 }));
      assert.equal(t.reason === abi.PwReason.RULE_DROP, n % 2 === 1, `${where}: port 22 dropped iff the version has the rule`);
      const lim = dp.filter.limiters().find((l) => l.name === `l${n % 4}`)!;
      assert.equal(dp.pipeline.maps.ratelimits.get(lim.id)!.interval_ns, BigInt(Math.round(1e9 / (10 + n))), `${where}: limiter`);
    } finally {
      dp.close();
    }
    // Nothing left over.
    assert.equal(existsSync(join(runDirOf(lab.instance), 'upgrade-journal.json')), false, `${where}: journal`);
    assert.deepEqual(
      readdirSync(pinDirOf(lab.instance)).filter((f) => f.endsWith('_next')),
      [],
      `${where}: staged pins`,
    );
    const pinned = Program.fromPin(join(pinDirOf(lab.instance), 'pw_xdp'));
    try {
      const id = pinned.info().id;
      for (const dev of ['r0', 'r1', 'r2']) {
        const running = inNetns(lab.ns.r, () => queryXdp(resolveIfindex(lab.topo.name(dev))).progId);
        assert.equal(running, id, `${where}: ${dev} runs the pinned program`);
      }
    } finally {
      pinned.close();
    }
  }

  before(async () => {
    lab = createDaemonLab('k');
    writeFileSync(lab.configFile, variant(0));
    daemon = await startDaemon(lab.ns.r, lab.configFile, join(lab.dir, 'state'), PAUSE);
  });
  after(() => destroyDaemonLab(lab, daemon));

  it(`starts again consistent after each of ${KILLS} kills`, async (t) => {
    const rand = rng(13);
    let onDisk = 0;
    const kinds = { reload: 0, api: 0 };
    const recovered = { 'rolled-back': 0, completed: 0 };
    for (let round = 1; round <= KILLS; round++) {
      const next = round;
      const onDiskBefore = onDisk;
      const viaApi = rand() < 0.4;
      if (viaApi) {
        // The API's version is not on disk: a restart goes back to the file's.
        kinds.api++;
        void api('POST', '/v1/config', { text: variant(next), file: 'crash.yaml' }).catch(() => undefined);
      } else {
        kinds.reload++;
        writeFileSync(lab.configFile, variant(next));
        onDisk = next;
        daemon!.child.kill('SIGHUP');
      }
      // Half the rounds that change the flow setting (an upgrade) wait for the upgrade to be
      // under way (its journal), whatever this machine's speed; the other kills come at random.
      const upgrading = (next % 3 !== 0) !== (onDiskBefore % 3 !== 0);
      if (upgrading && rand() < 0.5) {
        const journal = join(runDirOf(lab.instance), 'upgrade-journal.json');
        for (let waited = 0; !existsSync(journal) && waited < 30_000; waited += 5) await sleep(5);
        await sleep(Math.floor(rand() * 400));
      } else await sleep(Math.floor(rand() * 1200));
      await stopDaemon(daemon, 'SIGKILL');
      daemon = await startDaemon(lab.ns.r, lab.configFile, join(lab.dir, 'state'), PAUSE);
      for (const line of daemon.log) {
        const m = /an upgrade interrupted by a crash was (rolled-back|completed)/.exec(line);
        if (m) recovered[m[1] as keyof typeof recovered]++;
      }
      await checkConsistent(onDisk, round);
    }
    assert.ok(kinds.api > 10 && kinds.reload > 10, JSON.stringify(kinds));
    t.diagnostic(`changes: ${JSON.stringify(kinds)}; upgrades cut short by the kill and recovered at start: ${JSON.stringify(recovered)}`);
    assert.ok(recovered['rolled-back'] + recovered.completed > 0, 'some kills landed inside an upgrade');
  });
});
