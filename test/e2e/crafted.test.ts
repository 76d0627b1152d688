/**
 * The crafted-packet corpus on a wire, with the kernel as the oracle:
 *
 *   outside a0 ── r0 [router] r1 ── s0 server        (IPv4 and IPv6; r1/s0 MTU 1280)
 *
 * tcpreplay sends each case's frames into the router; the server's own counters (TCP segments,
 * UDP datagrams, ICMP echoes its transport layer received, fragments reassembled first) say
 * whether the case was delivered. Each case is sent twice: through the router's kernel alone,
 * then with Pathwise attached to both router ports under the corpus rules. Then:
 * - every attack reaches the server without Pathwise (it is real), unless the kernel refuses it
 *   itself, and none reaches it with Pathwise;
 * - legitimate cases are delivered with Pathwise exactly as without;
 * - nothing is delivered with Pathwise that the kernel alone did not deliver (frames for other
 *   hosts, martians, oversized packets, VLAN stacks: the kernel's business).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { Dataplane } from '../../src/dataplane/dataplane.js';
import { Pipeline } from '../../src/dataplane/pipeline.js';
import { parseRuleTokens } from '../../src/filter/rule.js';
import { inNetns, interfaceMac, resolveIfindex, writeCapture } from '../../src/kernel/index.js';
import { formatMac } from '../../src/util/mac.js';
import { parsePrefix } from '../../src/util/ip.js';
import { buildCorpus, CORPUS_BLOCKED, CORPUS_RULES, type CorpusCase } from '../helpers/corpus.js';
import { privilegedSkip } from '../helpers/privileged.js';
import { Topology } from '../helpers/topology.js';

const skip = privilegedSkip();
const pause = new Int32Array(new SharedArrayBuffer(4));

/** What the server's transport layer received (both families; TCP's counters are shared). */
const DELIVERY_COUNTERS = [
  ['Tcp', 'InSegs'],
  ['Udp', 'InDatagrams'],
  ['Udp', 'NoPorts'],
  ['Udp', 'InErrors'],
  ['Icmp', 'InEchos'],
] as const;
const DELIVERY_COUNTERS6 = ['Udp6InDatagrams', 'Udp6NoPorts', 'Udp6InErrors'];

function delivered(): number {
  const snmp = readFileSync('/proc/thread-self/net/snmp', 'utf8').split('\n');
  let total = 0;
  for (const [group, name] of DELIVERY_COUNTERS) {
    const rows = snmp.filter((l) => l.startsWith(`${group}:`));
    const names = rows[0]!.split(/\s+/);
    total += Number(rows[1]!.split(/\s+/)[names.indexOf(name)]);
  }
  for (const line of readFileSync('/proc/thread-self/net/snmp6', 'utf8').split('\n')) {
    const [name, value] = line.split(/\s+/);
    if (DELIVERY_COUNTERS6.includes(name!)) total += Number(value);
  }
  return total;
}

describe('crafted packets on a wire, the kernel as the oracle', { skip, timeout: 10 * 60_000 }, () => {
  let topo: Topology;
  let dir = '';
  let instance = '';
  let dp: Dataplane | undefined;
  let corpus: CorpusCase[] = [];
  const ns = { a: '', r: '', s: '' };
  const without = new Map<string, number>();
  const withPathwise = new Map<string, number>();

  const serverDelivered = () => inNetns(ns.s, delivered);

  /** Sends a case's frames and waits until the server's counters stop moving. */
  function send(c: CorpusCase, k: number): number {
    const file = join(dir, `case-${k}.pcap`);
    writeCapture(
      file,
      c.frames.map((data) => ({ data })),
    );
    const before = serverDelivered();
    const p = spawnSync('ip', ['netns', 'exec', ns.a, 'tcpreplay', '-q', '--topspeed', '-i', topo.name('a0'), file], { encoding: 'utf8' });
    assert.equal(p.status, 0, `tcpreplay: ${p.stderr}`);
    // Settled: five reads 10 ms apart agree (frames cross two veths and the router's softirq).
    let last = serverDelivered();
    for (let same = 0; same < 5;) {
      Atomics.wait(pause, 0, 0, 10);
      const now = serverDelivered();
      same = now === last ? same + 1 : 0;
      last = now;
    }
    return last - before;
  }

  before(() => {
    topo = new Topology('ko');
    dir = mkdtempSync(join(tmpdir(), 'pw-crafted-'));
    ns.a = topo.addNamespace('A');
    ns.r = topo.addNamespace('R');
    ns.s = topo.addNamespace('S');
    topo.addVeth({ ns: ns.a, name: 'a0', addr: '10.231.1.2/24' }, { ns: ns.r, name: 'r0', addr: '10.231.1.1/24' });
    topo.addVeth({ ns: ns.r, name: 'r1', addr: '10.231.2.1/24' }, { ns: ns.s, name: 's0', addr: '10.231.2.2/24' });
    for (const [n, dev, addr] of [
      [ns.a, 'a0', 'fd31:1::2/64'],
      [ns.r, 'r0', 'fd31:1::1/64'],
      [ns.r, 'r1', 'fd31:2::1/64'],
      [ns.s, 's0', 'fd31:2::2/64'],
    ] as const) {
      topo.exec(n, 'ip', ['addr', 'add', addr, 'dev', topo.name(dev), 'nodad']);
    }
    for (const [n, dev] of [
      [ns.r, 'r1'],
      [ns.s, 's0'],
    ] as const)
      topo.exec(n, 'ip', ['link', 'set', topo.name(dev), 'mtu', '1280']);
    // Frames XDP redirects into a veth are taken in by its peer's NAPI, which GRO turns on.
    topo.exec(ns.s, 'ethtool', ['-K', topo.name('s0'), 'gro', 'on']);
    topo.exec(ns.a, 'ethtool', ['-K', topo.name('a0'), 'gro', 'on']);
    topo.exec(ns.s, 'ip', ['route', 'add', 'default', 'via', '10.231.2.1']);
    topo.exec(ns.s, 'ip', ['-6', 'route', 'add', 'default', 'via', 'fd31:2::1']);
    topo.exec(ns.a, 'ip', ['route', 'add', 'default', 'via', '10.231.1.1']);
    topo.exec(ns.r, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
    // The router knows the server's MAC before anything is sent (no ARP/ND in the counters).
    const sMac = inNetns(ns.s, () => interfaceMac(resolveIfindex(topo.name('s0'))));
    const mac = formatMac(sMac);
    for (const addr of ['10.231.2.2', 'fd31:2::2'])
      topo.exec(ns.r, 'ip', ['neigh', 'replace', addr, 'lladdr', mac, 'dev', topo.name('r1'), 'nud', 'permanent']);

    corpus = buildCorpus({
      client4: '10.231.1.2',
      server4: '10.231.2.2',
      client6: 'fd31:1::2',
      server6: 'fd31:2::2',
      routerMac: inNetns(ns.r, () => interfaceMac(resolveIfindex(topo.name('r0')))),
      clientMac: inNetns(ns.a, () => interfaceMac(resolveIfindex(topo.name('a0')))),
    });
    instance = topo.prefix;
    topo.recordInstance(instance);
  });

  after(() => {
    dp?.close();
    if (instance) inNetns(ns.r || undefined, () => Pipeline.down(instance));
    topo?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('sends every case through the router kernel alone', () => {
    corpus.forEach((c, k) => without.set(c.name, send(c, k)));
    // The attacks are real: an unprotected kernel delivers them.
    const harmless = corpus
      .filter((c) => c.class === 'drop' && !c.kernelDrops && !c.kernelMayDrop && !without.get(c.name))
      .map((c) => c.name);
    assert.deepEqual(harmless, [], 'attacks the kernel does not deliver even unprotected');
    const lost = corpus.filter((c) => c.class === 'pass' && !without.get(c.name)).map((c) => c.name);
    assert.deepEqual(lost, [], 'legitimate cases the kernel does not deliver');
  });

  it('sends every case again with Pathwise on both router ports: no attack gets through, nothing else changes', async () => {
    assert.ok(without.size, 'the first pass ran');
    dp = await Dataplane.open(instance);
    const d = dp;
    inNetns(ns.r, () => {
      d.syncHostRoutes();
      d.filter.setRules(CORPUS_RULES.map((r, i) => parseRuleTokens(r.split(' '), (k) => `rule ${i + 1} token ${k}`)));
      d.filter.block(CORPUS_BLOCKED.map((p) => parsePrefix(p)));
      d.attach([topo.name('r0'), topo.name('r1')], 'native');
      d.syncNeighbors();
    });
    corpus.forEach((c, k) => withPathwise.set(c.name, send(c, corpus.length + k)));

    const failures: string[] = [];
    for (const c of corpus) {
      const w = without.get(c.name)!;
      const p = withPathwise.get(c.name)!;
      if (c.class === 'drop' && p) failures.push(`attack delivered through Pathwise: ${c.name}`);
      if (c.class === 'pass' && p !== w) failures.push(`legitimate case delivered ${p} times through Pathwise, ${w} without: ${c.name}`);
      if (p > w) failures.push(`delivered through Pathwise, not by the kernel alone: ${c.name}`);
    }
    assert.deepEqual(failures, []);
    // The fast path did forward the legitimate traffic (the kernel's forwarding is not all that moved).
    const routed = inNetns(ns.r, () => d.interfaceStats()).find((s) => s.name === topo.name('r0'))!;
    assert.ok((routed.packets.redirect ?? 0) > 0, `r0 redirected nothing: ${JSON.stringify(routed.packets)}`);
  });
});
