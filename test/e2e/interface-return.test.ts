/**
 * An interface of the config deleted and created again (a container's veth, a VLAN device
 * recreated): the daemon attaches the pipeline to it again when it comes back, with no new
 * version, and traffic is forwarded through it again by XDP (the router's kernel does not
 * forward in this lab).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

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
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('an interface of the config that comes back', { skip, timeout: 5 * 60_000 }, () => {
  let lab: DaemonLab | undefined;
  let daemon: RunningDaemon | undefined;

  before(async () => {
    lab = createDaemonLab('ir');
    writeFileSync(lab.configFile, routerConfig(lab.topo, lab.instance));
    daemon = await startDaemon(lab.ns.r, lab.configFile, join(lab.dir, 'state'));
  });
  after(() => destroyDaemonLab(lab, daemon));

  it('is attached again when it is created again, and forwards again; the version stays', async () => {
    const { topo, ns, instance } = lab!;
    const r1 = topo.name('r1');
    const status = () => {
      const s = cli(['status', '--json', '--instance', instance]);
      assert.equal(s.status, 0, s.stderr);
      return s.json() as { version: number; interfaces: { name: string; mode: string }[] };
    };
    const attached = () => status().interfaces.map((i) => `${i.name} ${i.mode}`);
    /** Polls `ok` every 100 ms, up to `ms`. */
    const until = async (ok: () => boolean, ms: number) => {
      for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) if (ok()) return true;
      return ok();
    };
    const pings = () => topo.exec(ns.c, 'ping', ['-c', '3', '-i', '0.2', '-W', '1', SERVICE], { allowFail: true });

    // The first packet to an upstream not yet resolved may be lost (the kernel resolves it).
    const answered = () => until(() => / 0% packet loss/.test(pings()), 10_000);
    assert.ok(attached().includes(`${r1} native`));
    assert.ok(await answered(), 'the service answers through r1');

    // The upstream's veth goes, its peer with it.
    topo.exec(ns.r, 'ip', ['link', 'del', r1]);
    assert.ok(await until(() => !attached().some((a) => a.startsWith(`${r1} `)), 10_000), 'r1 gone from the attached interfaces');
    assert.match(pings(), /100% packet loss/);

    // Created again (with new ifindexes and a new MAC on the upstream's side), as a container runtime does.
    topo.addVeth({ ns: ns.u1, name: 'u1', addr: '10.210.2.2/24' }, { ns: ns.r, name: 'r1', addr: '10.210.2.1/24' });
    topo.exec(ns.u1, 'ip', ['route', 'add', 'default', 'via', '10.210.2.1']);
    topo.exec(ns.u1, 'ethtool', ['-K', topo.name('u1'), 'gro', 'on', 'tso', 'off', 'gso', 'off', 'tx', 'off']);
    assert.ok(await until(() => attached().includes(`${r1} native`), 10_000), `attached again: ${attached().join(', ')}`);
    // The config's route through the upstream follows its gateway to the new interface.
    const route = () => cli(['route', 'lookup', SERVICE, '--json', '--instance', instance]).stdout;
    assert.ok(await answered(), `the service answers again through the recreated interface; the route: ${route()}`);
    assert.ok(route().includes(`"${r1}"`), route());

    // A repair of the config's state, not a change of it.
    assert.equal(status().version, 1);
    const diff = cli(['diff', '-f', lab!.configFile, '--instance', instance]);
    assert.equal(diff.status, 0, diff.stderr);
    assert.match(diff.stdout, /no change/);
  });
});
