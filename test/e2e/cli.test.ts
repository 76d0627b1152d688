/**
 * The CLI end to end, as an operator would use it: `pathwise --netns R …` against a real
 * router namespace, with --json output checked field by field. Covers attach in kernel-FIB
 * mode with real traffic (routes come from `ip route`, XDP forwards), route load (all or
 * nothing), route lookup, rules, blocklists, stats and down.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { Pipeline } from '../../src/dataplane/pipeline.js';
import { repoRoot } from '../../src/util/paths.js';
import { privilegedSkip } from '../helpers/privileged.js';
import { forwardedByKernel } from '../helpers/router-checks.js';
import { Topology } from '../helpers/topology.js';

const skip = privilegedSkip();

describe('pathwise CLI against a router namespace', { skip, timeout: 5 * 60_000 }, () => {
  let topo: Topology;
  let r = '';
  let c = '';
  let u = '';
  let instance = '';
  let dir = '';
  const run = (...args: string[]) => {
    const p = spawnSync(join(repoRoot, 'bin', 'pathwise'), ['--netns', r, ...args, '--instance', instance], { encoding: 'utf8' });
    return { status: p.status, stdout: p.stdout, stderr: p.stderr, json: () => JSON.parse(p.stdout) };
  };
  const forwarded = () => forwardedByKernel(topo, r);

  before(() => {
    topo = new Topology('c');
    instance = topo.prefix;
    topo.recordInstance(instance);
    dir = mkdtempSync(join(tmpdir(), 'pw-cli-'));
    c = topo.addNamespace('C');
    r = topo.addNamespace('R');
    u = topo.addNamespace('U');
    topo.addVeth({ ns: c, name: 'c0', addr: '10.211.1.2/24', index: 3001 }, { ns: r, name: 'r0', addr: '10.211.1.1/24', index: 3001 });
    topo.addVeth({ ns: u, name: 'u0', addr: '10.211.2.2/24', index: 3002 }, { ns: r, name: 'r1', addr: '10.211.2.1/24', index: 3002 });
    topo.exec(c, 'ip', ['route', 'add', 'default', 'via', '10.211.1.1']);
    topo.exec(u, 'ip', ['route', 'add', 'default', 'via', '10.211.2.1']);
    topo.exec(u, 'ip', ['addr', 'add', '10.221.0.1/32', 'dev', 'lo']);
    for (const [n, i] of [
      [c, 'c0'],
      [u, 'u0'],
    ] as const) {
      topo.exec(n, 'ethtool', ['-K', topo.name(i), 'gro', 'on', 'tso', 'off', 'gso', 'off', 'tx', 'off']);
    }
    // The kernel's FIB holds the route (as FRR or BIRD would put it there).
    topo.exec(r, 'ip', ['route', 'add', '10.221.0.0/16', 'via', '10.211.2.2']);
    topo.exec(r, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  });
  after(() => {
    if (instance) spawnSync(join(repoRoot, 'bin', 'pathwise'), ['--netns', r, 'down', '--instance', instance]);
    topo?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('doctor: the verifier takes every entry point of the pipeline; a veth of the namespace takes native XDP', () => {
    const p = spawnSync(join(repoRoot, 'bin', 'pathwise'), ['--netns', r, 'doctor', '-i', topo.name('r0'), '--json'], { encoding: 'utf8' });
    assert.equal(p.status, 0, p.stdout + p.stderr);
    const report = JSON.parse(p.stdout) as {
      ok: boolean;
      checks: { name: string; status: string; detail: string }[];
      interfaces: { name: string; modes: { native: { supported: boolean } } }[];
    };
    const pipeline = report.checks.find((c) => c.name === 'pipeline');
    assert.equal(pipeline?.status, 'ok', JSON.stringify(pipeline));
    for (const prog of ['pw_xdp', 'pw_xdp_trace', 'pw_xdp_replay', 'pw_xdp_flush', 'pw_tc'])
      assert.match(pipeline!.detail, new RegExp(`\\b${prog}\\b`));
    // and how near the largest came to the verifier's limit
    const most = /most instructions processed: (pw_\w+) ([\d,]+) of 1,000,000/.exec(pipeline!.detail);
    assert.ok(most && Number(most[2]!.replace(/,/g, '')) > 1000, pipeline!.detail);
    assert.equal(report.interfaces[0]?.modes.native.supported, true);
  });

  it("doctor: probes only this namespace's virtual interfaces, and what their drivers declare agrees with the probe", () => {
    topo.exec(r, 'ip', ['link', 'add', topo.name('d0'), 'type', 'ifb']); // (this kernel has no dummy)
    const p = spawnSync(join(repoRoot, 'bin', 'pathwise'), ['--netns', r, 'doctor', '--json'], { encoding: 'utf8' });
    assert.equal(p.status, 0, p.stdout + p.stderr);
    const report = JSON.parse(p.stdout) as {
      interfaces: {
        name: string;
        xdpFeatures: string[] | null;
        modes: Record<'native' | 'generic', { supported: boolean; how: string }>;
      }[];
    };
    const byName = new Map(report.interfaces.map((i) => [i.name, i]));
    assert.deepEqual([...byName.keys()].sort(), ['lo', topo.name('d0'), topo.name('r0'), topo.name('r1')].sort());
    for (const i of report.interfaces) {
      // veth, ifb and loopback have nothing below them: attached to, not read.
      assert.equal(i.modes.native.how, 'probed', i.name);
      assert.equal(i.modes.generic.supported, true, i.name);
      // The kernel's netdev netlink family (read by the addon) against the kernel's own answer
      // to an attach: native XDP where the driver declares it, and only there.
      assert.ok(i.xdpFeatures, i.name);
      assert.equal(i.xdpFeatures.includes('basic'), i.modes.native.supported, `${i.name}: ${i.xdpFeatures.join(',')}`);
    }
    assert.ok(byName.get(topo.name('r0'))!.xdpFeatures!.includes('redirect'));
    assert.deepEqual(byName.get(topo.name('d0'))!.xdpFeatures, []);
    assert.equal(byName.get(topo.name('d0'))!.modes.native.supported, false);
  });

  it('a refused change on an instance not loaded loads nothing; an accepted one loads it', () => {
    const other = `${instance}x`;
    topo.recordInstance(other);
    const routeAdd = (...args: string[]) =>
      spawnSync(join(repoRoot, 'bin', 'pathwise'), ['--netns', r, 'route', 'add', ...args, '--instance', other, '--json'], {
        encoding: 'utf8',
      });
    // The gateway is on no link of the namespace: refused after the pipeline was loaded for it.
    const refused = routeAdd('10.230.0.0/16', 'via', '192.0.2.1');
    assert.equal(refused.status, 3, refused.stderr);
    assert.match(JSON.parse(refused.stderr).error.message, /not on a directly connected network/);
    assert.equal(Pipeline.isPinned(other), false, 'the refused route add left its pipeline loaded');
    const accepted = routeAdd('10.230.0.0/16', 'via', '10.211.2.2');
    assert.equal(accepted.status, 0, accepted.stderr);
    assert.equal(Pipeline.isPinned(other), true);
    // Refused on a pipeline that was loaded before: it stays, with what it held.
    assert.equal(routeAdd('10.231.0.0/16', 'via', '192.0.2.1').status, 3);
    assert.equal(Pipeline.isPinned(other), true);
    const down = spawnSync(join(repoRoot, 'bin', 'pathwise'), ['--netns', r, 'down', '--instance', other], { encoding: 'utf8' });
    assert.equal(down.status, 0, down.stderr);
  });

  it('attaches in kernel-FIB mode and forwards by the kernel routing table', () => {
    const a = run('attach', topo.name('r0'), topo.name('r1'), '--mode', 'native', '--fib', 'kernel', '--json');
    assert.equal(a.status, 0, a.stderr);
    const body = a.json();
    assert.equal(body.settings.fib, 'kernel');
    assert.deepEqual(
      body.interfaces.map((i: { mode: string }) => i.mode),
      ['native', 'native'],
    );
    // Neighbours: the client and upstream resolve through ARP for their gateways; the kernel
    // forwards the first packets while they resolve, then XDP takes over.
    topo.exec(c, 'ping', ['-c', '3', '-i', '0.2', '-W', '1', '10.221.0.1']);
    const before = forwarded();
    const out = topo.exec(c, 'ping', ['-c', '20', '-i', '0.01', '-W', '1', '10.221.0.1']);
    assert.match(out, / 0% packet loss/);
    assert.equal(forwarded(), before, 'the kernel forwarded packets that XDP should have');
    const stats = run('stats', '--json').json();
    const r0 = stats.interfaces.find((i: { name: string }) => i.name === topo.name('r0'));
    assert.ok(r0.packets.redirect >= 20, JSON.stringify(r0));
  });

  it('installs a route file all or nothing, naming every bad line', () => {
    const good = join(dir, 'good.txt');
    writeFileSync(
      good,
      '# upstream routes\n10.50.0.0/16 via 10.211.2.2\n10.51.0.0/16 via 10.211.2.2 metric 5\r\nblackhole 10.52.0.0/16\n2001:db8:50::/48 dev ' +
        topo.name('r1') +
        '\n',
    );
    const bad = join(dir, 'bad.txt');
    writeFileSync(bad, '10.60.0.0/16 via 10.211.2.2\n10.61.0.1/16 via 10.211.2.2\n10.62.0.0/16 viaa 10.211.2.2\n');
    const b = run('route', 'load', bad, '--json');
    assert.equal(b.status, 3);
    const err = JSON.parse(b.stderr).error;
    assert.equal(err.code, 'PW_ERR_INVALID');
    assert.deepEqual(
      err.details.errors.map((e: { where: string }) => e.where),
      [`${bad}:2:1`, `${bad}:3:14`],
    );
    assert.equal(run('route', 'list', '--user', '--json').json().length, 0, 'nothing installed from a bad file');
    const g = run('route', 'load', good, '--json');
    assert.equal(g.status, 0, g.stderr);
    assert.equal(g.json().added, 4);
    const again = run('route', 'load', good, '--json');
    assert.equal(again.status, 5, 'loading the same routes again conflicts');
    assert.equal(run('route', 'load', good, '--replace', '--json').json().replaced, 4);
  });

  it('refuses a gateway the kernel refuses (multicast, broadcast, 0.0.0.0/8), the kernel as the oracle', () => {
    const r1 = topo.name('r1');
    const cases = [
      ['10.211.2.2'],
      ['224.0.0.1', 'dev', r1],
      ['255.255.255.255', 'dev', r1],
      ['10.211.2.255'], // r1's network's broadcast address: only the kernel's lookup knows it
      ['0.1.2.3', 'dev', r1],
    ];
    for (const via of cases) {
      const kernel = spawnSync('ip', ['netns', 'exec', r, 'ip', 'route', 'add', '10.70.0.0/16', 'via', ...via], { encoding: 'utf8' });
      if (kernel.status === 0) topo.exec(r, 'ip', ['route', 'del', '10.70.0.0/16']);
      const ours = run('route', 'add', '10.70.0.0/16', 'via', ...via, '--json');
      assert.equal(
        ours.status === 0,
        kernel.status === 0,
        `via ${via.join(' ')}: the kernel said ${kernel.stderr.trim() || 'yes'}; Pathwise ${ours.stderr}`,
      );
      if (ours.status === 0) assert.equal(run('route', 'del', '10.70.0.0/16').status, 0);
      else assert.match(JSON.parse(ours.stderr).error.message, new RegExp(`^gateway ${via[0]!.replace(/\./g, '\\.')} is `));
    }
    const v6 = spawnSync('ip', ['netns', 'exec', r, 'ip', '-6', 'route', 'add', '2001:db8:70::/48', 'via', 'ff02::1', 'dev', r1], {
      encoding: 'utf8',
    });
    assert.notEqual(v6.status, 0, 'the kernel takes no multicast gateway');
    const ours6 = run('route', 'add', '2001:db8:70::/48', 'via', 'ff02::1', 'dev', r1, '--json');
    assert.equal(JSON.parse(ours6.stderr).error.message, 'gateway ff02::1 is a multicast address');
    // The kernel reads `via 0.0.0.0 dev IF` as no gateway; Pathwise asks for what is meant.
    const zero = run('route', 'add', '10.70.0.0/16', 'via', '0.0.0.0', 'dev', r1, '--json');
    assert.deepEqual(JSON.parse(zero.stderr).error.hint, 'for a route straight out of an interface give dev IF alone');
    assert.equal(
      run('route', 'list', '--user', '--json')
        .json()
        .filter((x: { prefix: string }) => x.prefix.startsWith('10.70.')).length,
      0,
    );
  });

  it('looks up addresses through the real program, with the documented JSON fields', () => {
    const l = run('route', 'lookup', '--json', '10.50.1.1', '10.52.3.3', '192.0.2.99', '10.211.1.1');
    assert.equal(l.status, 0, l.stderr);
    const [a, b, none, local] = l.json();
    for (const x of [a, b, none, local]) for (const k of ['addr', 'prefix', 'via', 'dev', 'verdict']) assert.ok(k in x, `${k} missing`);
    // kernel-FIB mode: the answer is the kernel's route, so no Pathwise prefix, but a verdict.
    assert.equal(a.addr, '10.50.1.1');
    assert.ok(['redirect', 'pass'].includes(a.verdict));
    const stdin = spawnSync(
      join(repoRoot, 'bin', 'pathwise'),
      ['--netns', r, 'route', 'lookup', '--stdin', '--json', '--instance', instance],
      { input: '10.50.1.1\n\n10.52.3.3\n', encoding: 'utf8' },
    );
    assert.equal(JSON.parse(stdin.stdout).length, 2);
    const badAddr = run('route', 'lookup', '10.1.2', '--json');
    assert.equal(badAddr.status, 3);
    assert.match(JSON.parse(badAddr.stderr).error.message, /10\.1\.2/);
    void b;
    void none;
    void local;
  });

  it('manages rules, limiters and blocks, and refuses bad ones without changing anything', () => {
    assert.equal(run('ratelimit', 'add', 'ping', '--rate', '10', '--burst', '20', '--json').status, 0);
    const added = run('rule', 'add', 'ratelimit', 'ping', 'proto', 'icmp', '--json');
    assert.equal(added.status, 0, added.stderr);
    assert.equal(run('rule', 'add', 'drop', 'dport', '22', '--json').status, 3, 'ports without a protocol');
    assert.equal(run('rule', 'add', 'drop', 'from', '10.0.0.0/33', '--json').status, 3);
    assert.equal(run('rule', 'list', '--json').json().length, 1);
    assert.equal(run('block', 'add', '192.0.2.0/24', '--ttl', '1h', '--json').status, 0);
    assert.equal(run('block', 'add', '192.0.2.0/24', '--ttl', 'soon', '--json').status, 3);
    const blocks = run('block', 'list', '--json').json();
    assert.equal(blocks.length, 1);
    assert.ok(blocks[0].expiresInMs > 3_500_000);
    assert.equal(run('ratelimit', 'del', 'ping', '--json').status, 5, 'a limiter in use is kept');
    assert.equal(run('rule', 'del', String(added.json().id), '--json').status, 0);
    assert.equal(run('ratelimit', 'del', 'ping', '--json').status, 0);
    assert.equal(run('block', 'del', '192.0.2.0/24', '--json').status, 0);
  });

  it('unloads with down, leaving no program attached', () => {
    const d = run('down', '--json');
    assert.equal(d.status, 0, d.stderr);
    assert.deepEqual(d.json().detached.sort(), [topo.name('r0'), topo.name('r1')].sort());
    assert.doesNotMatch(topo.exec(r, 'ip', ['link', 'show', topo.name('r0')]), /xdp/);
    assert.equal(run('route', 'list', '--json').status, 12, 'not loaded any more');
  });
});
