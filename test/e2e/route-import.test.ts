/**
 * Routes imported from the kernel's table, with BIRD 2 as the routing daemon: BIRD in the
 * router namespace learns 10,000 prefixes over BGP from BIRD in an upstream namespace and
 * writes them to the kernel's main table; the daemon (config `import:`) copies them into
 * Pathwise's FIB. The kernel's own table is the oracle, read with `ip -json route`:
 *
 *  - after the announcement, after a withdrawal of everything, and after the announcement
 *    again, Pathwise's imported routes equal the kernel's bird routes, prefix by prefix and
 *    gateway by gateway (how long after the kernel had them is logged, not asserted);
 *  - traffic from the client to an imported prefix is forwarded by Pathwise (the router's
 *    kernel does not forward);
 *  - a route record zeroed and an IPv4 FIB entry cleared behind Pathwise's back (bpftool on
 *    the pinned maps) are repaired by the periodic reconcile and counted as drift;
 *  - the FRR issue cases: a link set down and an `ip addr flush`, which remove kernel routes
 *    without an RTM_DELROUTE, remove the imported copies too; a config route for an imported
 *    prefix takes precedence and gives it back when removed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
  cli,
  createDaemonLab,
  destroyDaemonLab,
  request,
  socketOf,
  startDaemon,
  type DaemonLab,
  type RunningDaemon,
} from '../helpers/daemon.js';
import { privilegedSkip } from '../helpers/privileged.js';
import { startBgpFeed, type BgpFeed } from '../../src/netlab/bgp-feed.js';

const skip = privilegedSkip() || (spawnSync('bird', ['--version']).error ? 'bird (Debian bird2) is not installed' : false);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const COUNT = 10_000;
/** The prefixes the upstream announces: COUNT /24s from 100.64.0.0 (bgp-feed.ts), and one it serves. */
const SERVED = '10.230.0.0/24';

interface KernelRoute {
  dst: string;
  gateway?: string;
  dev?: string;
}

describe('routes imported from the kernel (BIRD over BGP)', { skip, timeout: 10 * 60_000 }, () => {
  let lab: DaemonLab;
  let daemon: RunningDaemon | undefined;
  let feed: BgpFeed;
  const api = (method: string, path: string, body?: unknown) => request({ socketPath: socketOf(lab.instance) }, method, path, body);
  const inR = (cmd: string, args: string[]) => {
    const p = spawnSync('ip', ['netns', 'exec', lab.ns.r, cmd, ...args], { encoding: 'utf8' });
    if (p.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${p.stderr}`);
    return p.stdout;
  };
  const pw = (args: string[]) => cli(['--netns', lab.ns.r, ...args, '--instance', lab.instance, '--json']);

  /** The kernel's routes of these protocols in the router's main table, as "prefix via GW". */
  function kernelRoutes(protos: string[]): Set<string> {
    const out = new Set<string>();
    for (const proto of protos) {
      for (const r of JSON.parse(inR('ip', ['-json', 'route', 'show', 'proto', proto])) as KernelRoute[]) {
        out.add(`${r.dst.includes('/') ? r.dst : `${r.dst}/32`} via ${r.gateway ?? '-'}`);
      }
    }
    return out;
  }

  /** Pathwise's imported routes, as "prefix via GW". */
  function importedRoutes(): Set<string> {
    const r = pw(['route', 'list']);
    assert.equal(r.status, 0, r.stderr);
    const routes = r.json() as { prefix: string; origin: string; nexthops: { via: string | null }[] }[];
    return new Set(
      routes.filter((x) => x.origin === 'imported').map((x) => `${x.prefix} via ${x.nexthops.map((n) => n.via ?? '-').join(',')}`),
    );
  }

  /**
   * Waits until Pathwise's imported routes equal the kernel's. Logs how long after the kernel
   * had `want` routes Pathwise had as many (both polled, the kernel every ~10 ms).
   */
  async function converge(protos: string[], want: number, what: string): Promise<void> {
    const deadline = Date.now() + 60_000;
    let kernelAt = 0;
    let countedAt = 0;
    for (;;) {
      if (!kernelAt && kernelCount(protos) === want) kernelAt = Date.now();
      if (kernelAt && !countedAt && (await status()).installed === want) countedAt = Date.now();
      if (countedAt) {
        const k = kernelRoutes(protos);
        const p = importedRoutes();
        if (p.size === k.size && [...k].every((x) => p.has(x))) {
          console.log(
            `# ${what}: Pathwise had the kernel's ${k.size} routes ${countedAt - kernelAt} ms after the kernel (polled), equal route by route`,
          );
          return;
        }
      }
      if (Date.now() > deadline) {
        const k = kernelRoutes(protos);
        const p = importedRoutes();
        const missing = [...k].filter((x) => !p.has(x)).slice(0, 5);
        const extra = [...p].filter((x) => !k.has(x)).slice(0, 5);
        assert.fail(`${what}: kernel ${k.size} routes, Pathwise ${p.size}; missing ${missing.join('; ')}; extra ${extra.join('; ')}`);
      }
      await sleep(5);
    }
  }

  /** How many routes of these protocols the kernel has (`ip route` counts lines; cheap). */
  function kernelCount(protos: string[]): number {
    let n = 0;
    for (const proto of protos)
      n += inR('ip', ['-4', 'route', 'show', 'proto', proto])
        .split('\n')
        .filter((l) => l && !l.startsWith('\t')).length;
    return n;
  }

  const status = async () => (await api('GET', '/v1/status')).json.imports as { driftRepaired: number; installed: number };

  before(async () => {
    lab = createDaemonLab('imp');
    const { topo, dir } = lab;
    const r1 = topo.name('r1');
    topo.exec(lab.ns.u1, 'ip', ['addr', 'add', '10.230.0.1/32', 'dev', 'lo']);
    // The upstream speaker announces COUNT prefixes plus the one it serves; the router's BIRD
    // writes them to the kernel's main table (proto bird).
    feed = startBgpFeed(topo, { router: lab.ns.r, upstream: lab.ns.u1 }, dir, COUNT, [SERVED]);
    writeFileSync(
      lab.configFile,
      `
instance: ${lab.instance}
interfaces:
  - { name: ${topo.name('r0')}, mode: native }
  - { name: ${r1}, mode: native }
  - { name: ${topo.name('r2')}, mode: native }
import:
  from:
    - { table: main, protocols: [bird, static] }
  reconcile: 1s
`,
    );
    daemon = await startDaemon(lab.ns.r, lab.configFile, join(dir, 'state'));
  });

  after(async () => {
    await destroyDaemonLab(lab, daemon);
  });

  it('copies the 10,000 routes BIRD writes to the kernel, and forwards by them', async () => {
    await converge(['bird'], COUNT + 1, 'announced');
    const list = pw(['route', 'list']).json() as { prefix: string; origin: string; proto?: string }[];
    const one = list.find((r) => r.prefix === '100.64.7.0/24');
    assert.equal(one?.origin, 'imported');
    assert.equal(one?.proto, 'bird');
    // Real traffic to an imported prefix: the router's kernel does not forward, Pathwise does.
    const ping = spawnSync('ip', ['netns', 'exec', lab.ns.c, 'ping', '-c', '3', '-i', '0.2', '-W', '2', '10.230.0.1'], {
      encoding: 'utf8',
    });
    assert.equal(
      ping.status,
      0,
      `${ping.stdout}${ping.stderr}\nlookup: ${pw(['route', 'lookup', '10.230.0.1', '10.210.1.2']).stdout}\nneigh: ${inR('ip', ['neigh'])}\npw neigh: ${pw(['neigh', 'list']).stdout}\nlog: ${daemon!.log.slice(-30).join('\n')}`,
    );
    const s = await status();
    assert.equal(s.installed, COUNT + 1);
  });

  it('repairs imported routes damaged behind its back, and counts the drift', async () => {
    const list = pw(['route', 'list']).json() as { prefix: string; id: number }[];
    const victim = list.find((r) => r.prefix === '100.64.9.0/24')!;
    const lookup = () => (pw(['route', 'lookup', '100.64.9.1']).json() as { via: string | null; prefix: string | null }[])[0]!;
    assert.equal(lookup().via, '10.210.2.2');
    const before = (await status()).driftRepaired;
    const pin = `/sys/fs/bpf/pathwise/${lab.instance}`;
    const key = Buffer.alloc(4);
    key.writeUInt32LE(victim.id);
    const hex = (b: Buffer) => [...b].map((x) => x.toString(16).padStart(2, '0'));
    const bt = spawnSync(
      'bpftool',
      ['map', 'update', 'pinned', `${pin}/pw_routes`, 'key', 'hex', ...hex(key), 'value', 'hex', ...hex(Buffer.alloc(32))],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(bt.status, 0, bt.stderr);
    // The record as the data plane reads it, until the reconcile (every second here) writes it
    // again: it may be back before the first read, but not without being written again.
    const record = () => {
      const r = spawnSync('bpftool', ['-j', 'map', 'lookup', 'pinned', `${pin}/pw_routes`, 'key', 'hex', ...hex(key)], {
        encoding: 'utf8',
      });
      assert.equal(r.status, 0, r.stderr);
      return (JSON.parse(r.stdout) as { value: string[] }).value.some((b) => Number(b) !== 0);
    };
    const deadline = Date.now() + 20_000;
    while (!record() || (await status()).driftRepaired === before) {
      assert.ok(Date.now() < deadline, 'the zeroed record was not repaired');
      await sleep(50);
    }
    assert.equal(lookup().via, '10.210.2.2');
  });

  it('follows a withdrawal of everything, and the announcement again', async () => {
    feed.withdrawAll();
    await converge(['bird'], 0, 'withdrawn');
    feed.announceAll();
    await converge(['bird'], COUNT + 1, 'announced again');
  });

  it('drops the copies of routes the kernel removes without telling (link down, ip addr flush)', async () => {
    const r2 = lab.topo.name('r2');
    const addStatic = () => inR('ip', ['route', 'add', '10.240.0.0/16', 'via', '10.210.3.2', 'dev', r2, 'proto', 'static']);
    const has = () => importedRoutes().has('10.240.0.0/16 via 10.210.3.2');
    addStatic();
    await converge(['bird', 'static'], COUNT + 2, 'static route added');
    assert.ok(has());
    inR('ip', ['link', 'set', r2, 'down']);
    await converge(['bird', 'static'], COUNT + 1, 'link down');
    assert.ok(!has());
    inR('ip', ['link', 'set', r2, 'up']);
    inR('ip', ['addr', 'replace', '10.210.3.1/24', 'dev', r2]);
    addStatic();
    await converge(['bird', 'static'], COUNT + 2, 'static route back');
    inR('ip', ['addr', 'flush', 'dev', r2]);
    await converge(['bird', 'static'], COUNT + 1, 'address flushed');
    assert.ok(!has());
    inR('ip', ['addr', 'add', '10.210.3.1/24', 'dev', r2]);
  });

  it('lets a config route win over an imported one, and gives the prefix back when it goes', async () => {
    const at = () => (pw(['route', 'list']).json() as { prefix: string; origin: string }[]).find((r) => r.prefix === '100.64.3.0/24');
    assert.equal(at()?.origin, 'imported');
    const add = await api('POST', '/v1/routes', { route: { prefix: '100.64.3.0/24', type: 'blackhole' } });
    assert.equal(add.status, 200, add.text);
    assert.equal(at()?.origin, 'user');
    const del = await api('DELETE', `/v1/routes/${encodeURIComponent('100.64.3.0/24')}`);
    assert.equal(del.status, 200, del.text);
    assert.equal(at()?.origin, 'imported');
    // And the config version did not move for any of the imported changes: two edits, two versions.
    const history = pw(['history']).json() as unknown[];
    assert.equal(history.length, 3);
  });
});
