/**
 * Paths chosen by measured quality, end to end (netlab/path-lab.ts): a client sends UDP at
 * 1,000 pps (sequence-numbered, stamped with its own clock) and keeps 4 TCP connections busy
 * to a server reached over two paths through link emulators; the daemon steers the service's
 * route with policy lowest-latency and 100 ms ICMP probes to each path's gateway.
 *
 *  - a 50 ms delay step on the path in use moves new packets to the other path;
 *  - the delay removed, equal paths: the traffic stays (the margins; no flap back);
 *  - the path in use dies (100 % loss): traffic moves; the path back: it is down until it has
 *    answered 10 probes in a row (recovery slower than failure), and the traffic stays;
 *  - both paths dead: the fallback (kernel) is in force; one back: traffic on it;
 *  - the TCP connections live through all of it (the same server on both paths);
 *  - every decision is in the audit table with its measurements; none is a config version.
 *
 * How fast each move was (from the client's timestamps) is logged, not asserted: `make bench`
 * measures it over many runs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { buildPathLab, failoverMs, pathLabConfig, PathTraffic, type PathLab } from '../../src/netlab/path-lab.js';
import { cli, request, socketOf, startDaemon, stopDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { privilegedSkip } from '../helpers/privileged.js';
import { Topology } from '../helpers/topology.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const skip = privilegedSkip();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface PathRow {
  name: string;
  state: string;
  passiveSamples: number;
  passiveRtt: number | null;
  loadBps: number;
  share: number;
  srtt: number | null;
  probes: number;
  since: number;
}
interface GroupRow {
  name: string;
  active: string;
  decisions: number;
  paths: PathRow[];
}

describe('path failover (lowest-latency over two emulated links)', { skip, timeout: 5 * 60_000 }, () => {
  let topo: Topology;
  let lab: PathLab;
  let daemon: RunningDaemon | undefined;
  let traffic: PathTraffic | undefined;
  let dir: string;
  let instance: string;
  const api = (path: string) => request({ socketPath: socketOf(instance) }, 'GET', path);
  const groups = async () => (await api('/v1/paths')).json as GroupRow[];
  const shares = async () => (await groups())[0]!.paths.map((p) => p.share);

  /** Waits until `cond` holds, polling; fails with what was last seen. */
  async function until<T>(what: string, get: () => Promise<T>, cond: (x: T) => boolean, ms = 15_000): Promise<T> {
    const deadline = Date.now() + ms;
    let last: T = await get();
    while (!cond(last)) {
      if (Date.now() > deadline) assert.fail(`${what}: not within ${ms} ms; last seen ${JSON.stringify(last)}`);
      await sleep(50);
      last = await get();
    }
    return last;
  }

  /** Arrivals since the last dump that were sent at or after `from`: all on path `to`? */
  async function trafficOn(to: 1 | 2, from: number): Promise<void> {
    await sleep(300);
    const arr = (await traffic!.dump()).filter((a) => a.sentMs >= from);
    assert.ok(arr.length > 100, `traffic arrives (${arr.length} packets)`);
    const off = arr.filter((a) => a.path !== to).length;
    assert.equal(off, 0, `every packet sent since takes path ${to} (${off} of ${arr.length} did not)`);
  }

  before(async () => {
    topo = new Topology('pf');
    instance = topo.prefix;
    topo.recordInstance(instance);
    lab = await buildPathLab(topo);
    dir = mkdtempSync(join(tmpdir(), 'pw-pf-'));
    writeFileSync(join(dir, 'pathwise.yaml'), pathLabConfig(lab, instance));
    daemon = await startDaemon(lab.router, join(dir, 'pathwise.yaml'), join(dir, 'state'));
    // Both paths measured before traffic starts.
    await until('both paths answer probes', groups, (g) => g[0]?.paths.every((p) => p.probes >= 5 && p.srtt !== null) ?? false);
    traffic = await PathTraffic.start(topo, lab);
  });
  after(async () => {
    await traffic?.stop().catch(() => undefined);
    await stopDaemon(daemon);
    if (lab) cli(['--netns', lab.router, 'down', '--instance', instance]);
    for (const l of lab?.links ?? []) await l.stop().catch(() => undefined);
    topo?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('starts on the first path; its load and its TCP handshakes are measured', async () => {
    assert.deepEqual(await shares(), [1, 0]);
    await trafficOn(1, PathTraffic.now());
    // 1,000 pps of 44-byte IP packets (16 bytes of UDP payload) on path 1: ~350 kbit/s.
    const g = await until('load measured', groups, (x) => x[0]!.paths[0]!.loadBps > 100_000);
    assert.equal(g[0]!.paths[1]!.loadBps, 0);
    // The 4 TCP connections' handshakes crossed path 1: passive RTT samples (read every 5 s).
    const p = await until('handshakes measured', groups, (x) => x[0]!.paths[0]!.passiveSamples >= 4, 10_000);
    assert.ok((p[0]!.paths[0]!.passiveRtt ?? 0) > 0, `passive RTT ${p[0]!.paths[0]!.passiveRtt}`);
  });

  it('a 50 ms delay step on the path in use moves new packets to the other', async () => {
    await traffic!.dump();
    const step = PathTraffic.now();
    await lab.links[0].set('a2b', { delay: 50 });
    await until('traffic on path 2', shares, (s) => s[1] === 1);
    await sleep(1000);
    const arr = await traffic!.dump();
    const ms = failoverMs(arr, step, 2);
    assert.ok(!Number.isNaN(ms), 'new packets moved to path 2 and stayed');
    console.log(`# latency step: >=99 % of new packets on the other path ${ms.toFixed(0)} ms after the step`);
    const g = (await groups())[0]!;
    const p1 = g.paths[0]!;
    assert.ok(p1.srtt !== null && p1.srtt > 40, `path 1's RTT follows the step: ${p1.srtt} ms`);
  });

  it('the delay removed: equal paths, no switch back', async () => {
    await lab.links[0].set('a2b', { delay: 0 });
    await until('path 1 measured fast again', groups, (g) => (g[0]!.paths[0]!.srtt ?? 99) < 5);
    const before = (await groups())[0]!.decisions;
    await sleep(2000);
    assert.deepEqual(await shares(), [0, 1]);
    assert.equal((await groups())[0]!.decisions, before, 'no decision while the paths are equal');
  });

  it('the path in use dies: traffic moves; back, it must answer 10 probes before it is up', async () => {
    await traffic!.dump();
    const step = PathTraffic.now();
    await lab.links[1].set('a2b', { loss: 100 });
    await until('traffic on path 1', shares, (s) => s[0] === 1);
    await sleep(1000);
    const ms = failoverMs(await traffic!.dump(), step, 1);
    assert.ok(!Number.isNaN(ms), 'new packets moved to path 1');
    console.log(`# path death: >=99 % of new packets on the other path ${ms.toFixed(0)} ms after the loss began`);
    const down = await until('path 2 down', groups, (g) => g[0]!.paths[1]!.state === 'down');
    const downProbes = down[0]!.paths[1]!.probes;
    await lab.links[1].set('a2b', { loss: 0 });
    const up = await until('path 2 up again', groups, (g) => g[0]!.paths[1]!.state !== 'down');
    assert.ok(up[0]!.paths[1]!.probes - downProbes >= 10, `up after >= 10 answered probes (${up[0]!.paths[1]!.probes - downProbes})`);
    assert.deepEqual(await shares(), [1, 0], 'traffic stays where it is');
    await trafficOn(1, PathTraffic.now());
  });

  it('both paths dead: the fallback; one back: traffic on it', async () => {
    await lab.links[0].set('a2b', { loss: 100 });
    await lab.links[1].set('a2b', { loss: 100 });
    await until('fallback in force', groups, (g) => g[0]!.active === 'fallback');
    const look = cli(['--netns', lab.router, 'route', 'lookup', '10.221.0.1', '--instance', instance, '--json']);
    assert.equal(look.status, 0, look.stderr);
    const r = (JSON.parse(look.stdout) as { reason: string }[])[0]!;
    assert.equal(r.reason, 'kernel_route', 'the fallback hands packets to the kernel');
    await lab.links[1].set('a2b', { loss: 0 });
    await until('path 2 carries the traffic', shares, (s) => s[1] === 1);
    await lab.links[0].set('a2b', { loss: 0 });
    await trafficOn(2, PathTraffic.now());
  });

  it('kill -9 of the daemon: traffic goes on; restarted, it steers the route again', async () => {
    await stopDaemon(daemon, 'SIGKILL');
    await traffic!.dump();
    const from = PathTraffic.now();
    await sleep(500);
    const during = (await traffic!.dump()).filter((a) => a.sentMs >= from);
    assert.ok(during.length > 300, `forwarded by the pinned data plane meanwhile: ${during.length} packets`);
    daemon = await startDaemon(lab.router, join(dir, 'pathwise.yaml'), join(dir, 'state'));
    await until('both paths measured again', groups, (g) => g[0]?.paths.every((p) => p.probes >= 5 && p.srtt !== null) ?? false);
    const routes = cli(['--netns', lab.router, 'route', 'list', '--instance', instance, '--json']).json() as {
      prefix: string;
      paths?: string;
    }[];
    assert.equal(routes.find((r) => r.prefix === '10.221.0.1/32')?.paths, 'upstream');
    const on = (await shares()).indexOf(1);
    assert.ok(on >= 0, 'one path carries the new flows');
    await trafficOn((on + 1) as 1 | 2, PathTraffic.now());
  });

  it('the TCP connections lived through every move', async () => {
    const s = await traffic!.stop();
    traffic = undefined;
    assert.equal(s.tcp.connections, 4);
    assert.deepEqual(s.tcp.errors, []);
    assert.equal(s.tcp.openAtEnd, 4);
    assert.ok(s.tcp.echoes > 100, `echoes: ${s.tcp.echoes}`);
  });

  it('decisions are audited with their measurements, and are not config versions', async () => {
    const d = (await api('/v1/paths/decisions?limit=50')).json as {
      group: string;
      reason: string;
      to: unknown;
      paths: Record<string, unknown>;
    }[];
    assert.ok(d.length >= 5, `decisions: ${d.length}`);
    assert.ok(d.some((x) => /down/.test(x.reason)));
    assert.ok(d.some((x) => /margins/.test(x.reason)));
    assert.ok(d.some((x) => x.to === 'fallback: kernel'));
    for (const x of d) assert.equal(Object.keys(x.paths).length, 2);
    const h = (await api('/v1/history')).json as { source: string }[];
    assert.ok(
      h.every((v) => v.source.startsWith('start')),
      `versions only from the starts: ${JSON.stringify(h)}`,
    );
    const text = cli(['--netns', lab.router, 'path', 'list', '--instance', instance]);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /upstream\s+policy lowest-latency/);
    const metrics = (await api('/metrics')).text;
    assert.match(metrics, /pathwise_path_rtt_seconds\{group="upstream",path="via 10\.211\.2\.2 dev /);
  });
});
