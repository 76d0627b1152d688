/**
 * The benchmarks' XDP frame loop (bench/loop-generator.ts): frames circulate through a router
 * namespace only while it forwards them, a run that delivers nothing says so, and a run leaves
 * nothing circulating or attached (a loop left running would hold a CPU in softirq for good).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { BpfObject, inNetns, queryXdp } from '../../src/kernel/index.js';
import * as benchAbi from '../../bench/generated/bench.js';
import { LoopGenerator } from '../../bench/loop-generator.js';
import { BENCH_OBJECT } from '../../bench/pipeline-kit.js';
import { ipv4Packet } from '../helpers/packets.js';
import { privilegedSkip } from '../helpers/privileged.js';
import { Topology } from '../helpers/topology.js';

const skip = privilegedSkip();

describe('the XDP frame loop', { skip }, () => {
  let topo: Topology;
  let bench: BpfObject<typeof benchAbi>;
  let loop: LoopGenerator;
  let counted: () => bigint;
  let g: string, r: string, s: string;

  before(async () => {
    topo = new Topology('fl');
    g = topo.addNamespace('G');
    r = topo.addNamespace('R');
    s = topo.addNamespace('S');
    // Link-local addresses usable at once (no duplicate address detection): the second test
    // pings from the router's and is answered from the sink's.
    for (const n of [r, s]) topo.exec(n, 'sysctl', ['-qw', 'net.ipv6.conf.default.accept_dad=0']);
    topo.addVeth({ ns: g, name: 'g0', addr: '10.233.1.2/24' }, { ns: r, name: 'r0', addr: '10.233.1.1/24' });
    topo.addVeth({ ns: r, name: 'r1', addr: '10.233.2.1/24' }, { ns: s, name: 's0', addr: '10.233.2.2/24' });
    const mac = (n: string, i: string) => JSON.parse(topo.exec(n, 'ip', ['-j', 'link', 'show', topo.name(i)]))[0].address as string;
    const bytes = (m: string) => Buffer.from(m.split(':').map((x) => parseInt(x, 16)));
    topo.exec(r, 'ip', ['neigh', 'replace', '10.233.2.2', 'lladdr', mac(s, 's0'), 'dev', topo.name('r1'), 'nud', 'permanent']);
    bench = await BpfObject.load(BENCH_OBJECT, { spec: benchAbi });
    const state = bench.perCpuMap(benchAbi.maps.bench_state);
    counted = () => (state.get(1) ?? []).reduce((a, c) => a + c, 0n);
    const frame = ipv4Packet({
      src: '10.233.1.2',
      dst: '10.233.2.2',
      proto: 'udp',
      sport: 1024,
      dport: 5678,
      payload: new Uint8Array(18),
      dstMac: bytes(mac(r, 'r0')),
      srcMac: bytes(mac(g, 'g0')),
    });
    loop = new LoopGenerator(topo, bench, { gen: g, genDev: 'g0', router: r, routerDev: 'r0', sink: s, sinkDev: 's0' }, frame, counted);
  });

  after(() => {
    loop?.close();
    bench?.close();
    topo?.destroy();
  });

  /** Nothing of the loop's left attached, and nothing counted any more. */
  const assertStopped = () => {
    assert.equal(inNetns(s, () => queryXdp(topo.name('s0'))).mode, null);
    assert.equal(inNetns(g, () => queryXdp(topo.name('s0lg'))).mode, null);
    const before = counted();
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    assert.equal(counted(), before, 'frames still reach the sink after the run');
  };

  it('circulates frames through a router that forwards them, then stops', () => {
    const gro = () => /generic-receive-offload: on/.test(topo.exec(r, 'ethtool', ['-k', topo.name('r0')]));
    const groBefore = gro();
    topo.exec(r, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    try {
      const run = loop.run(0.3);
      // 128 frames in the loop, each around it many times: far more than were sent.
      assert.ok(run.delivered > 10_000, `delivered ${run.delivered} frames in ${run.seconds} s`);
    } finally {
      topo.exec(r, 'sysctl', ['-qw', 'net.ipv4.ip_forward=0']);
    }
    assertStopped();
    // GRO on the router's ingress was for the run only.
    assert.equal(gro(), groBefore);
  });

  it('says so when the router forwards nothing, counting none of what the router sends itself', async () => {
    // The router's own packets reach the sink's interface during the run (an IPv4 ping and an
    // IPv6 one to all nodes, as neighbour discovery and MLD would): none is a looped frame.
    const pings = [
      topo.spawn(r, 'ping', ['-q', '-c', '40', '-i', '0.01', '10.233.2.2']),
      topo.spawn(r, 'ping', ['-6', '-q', '-c', '40', '-i', '0.01', `ff02::1%${topo.name('r1')}`]),
    ];
    const outputs = pings.map(
      (p) =>
        new Promise<string>((resolve) => {
          let out = '';
          p.stdout?.on('data', (d: Buffer) => (out += d.toString()));
          p.on('close', () => resolve(out));
        }),
    );
    assert.throws(() => loop.run(0.2), /delivered nothing/);
    assertStopped();
    // The sink saw them (and answered): they were there to be miscounted.
    for (const out of await Promise.all(outputs)) assert.match(out, /[1-9]\d* (packets )?received/, out);
  });
});
