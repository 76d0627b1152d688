/**
 * The pipeline built for TC ingress (pw_tc), run with BPF_PROG_TEST_RUN on socket buffers: it
 * shares the XDP pipeline's maps, and a socket buffer of several segments (what GRO merged, or
 * what a local sender's TSO has not cut yet) counts as that many packets, so a rate limit
 * cannot be got round by sending what the receiver merges. The corpus of crafted packets runs
 * through it in test/bpf/crafted.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Dataplane } from '../../src/dataplane/dataplane.js';
import { Pipeline } from '../../src/dataplane/pipeline.js';
import { progMapIds, XdpAction, type Program } from '../../src/kernel/index.js';
import { ipv4Packet } from '../helpers/packets.js';
import { privilegedSkip } from '../helpers/privileged.js';
import { TcAction, tcRun } from '../helpers/tc-run.js';
import { Topology } from '../helpers/topology.js';

const skip = privilegedSkip();

describe('the TC pipeline', { skip, timeout: 2 * 60_000 }, () => {
  let topo: Topology;
  let dp: Dataplane;
  let tc: Program;

  before(async () => {
    topo = new Topology('tp');
    topo.recordInstance(topo.prefix);
    dp = await Dataplane.open(topo.prefix);
    tc = dp.pipeline.tc!;
  });
  after(() => {
    dp?.close();
    if (topo) Pipeline.down(topo.prefix);
    topo?.destroy();
  });

  it('is loaded and pinned with the XDP pipeline, on the same maps', () => {
    assert.ok(tc, 'no pw_tc');
    const shared = (p: Program) => new Set(progMapIds(p.fd));
    const xdpMaps = shared(dp.pipeline.xdp);
    const tcMaps = [...shared(tc)];
    assert.ok(tcMaps.length > 10);
    // Every map but its .rodata (the same settings, its own copy) and a devmap (TC redirects by ifindex).
    const own = tcMaps.filter((id) => !xdpMaps.has(id));
    assert.ok(own.length <= 2, `${own.length} maps of pw_tc are not the XDP pipeline's`);
  });

  it("counts a socket buffer's segments against a rate limit: what GRO merged is no way round it", () => {
    const name = `g${Date.now() % 100000}`;
    dp.filter.addLimiter({ name, rate: 1, burst: 3, per4: 32, per6: 128, blockAfter: 0, blockForMs: 0 });
    dp.filter.setRules([{ action: 'ratelimit', limiter: name, proto: 17, dport: [9100, 9100] }]);
    try {
      const send = (src: string, segs: number) =>
        tcRun(tc, ipv4Packet({ src, dst: '10.9.9.9', proto: 'udp', dport: 9100, payload: new Uint8Array(600) }), {
          gsoSegs: segs,
          gsoSize: 200,
        });
      // 1 packet/s with a burst of 3: three segments at once fit, a fourth does not.
      assert.equal(send('192.0.2.81', 3), TcAction.OK, 'three segments within the burst');
      assert.equal(send('192.0.2.81', 1), TcAction.SHOT, 'the burst is spent');
      assert.equal(send('192.0.2.82', 4), TcAction.SHOT, 'four segments at once exceed a burst of three');
      // The same limiter through the XDP pipeline, one frame a packet: three pass, the fourth not.
      const xdp = (src: string) =>
        dp.pipeline.xdp.testRunSync({ data: ipv4Packet({ src, dst: '10.9.9.9', proto: 'udp', dport: 9100 }) }).retval;
      assert.deepEqual(
        [1, 2, 3, 4].map(() => xdp('192.0.2.83') !== XdpAction.DROP),
        [true, true, true, false],
      );
    } finally {
      dp.filter.setRules([]);
      dp.filter.deleteLimiter(name);
    }
  });

  it("counts a socket buffer's segments in the rule counters, and its bytes once", () => {
    dp.filter.setRules([{ action: 'count', proto: 17, dport: [9200, 9200] }]);
    try {
      const data = ipv4Packet({ src: '192.0.2.90', dst: '10.9.9.9', proto: 'udp', dport: 9200, payload: new Uint8Array(1000) });
      assert.equal(tcRun(tc, data, { gsoSegs: 5, gsoSize: 200 }), TcAction.OK);
      const [rule] = dp.filter.rules();
      assert.deepEqual(dp.filter.ruleCounters().get(rule!.id), { packets: 5, bytes: data.length });
    } finally {
      dp.filter.setRules([]);
    }
  });

  it('passes what the XDP pipeline passes, and drops what it drops', () => {
    dp.filter.setRules([{ action: 'drop', proto: 6, dport: [23, 23] }]);
    try {
      for (const [dport, drop] of [
        [23, true],
        [22, false],
      ] as const) {
        const data = ipv4Packet({ src: '192.0.2.91', dst: '10.9.9.9', proto: 'tcp', dport });
        assert.equal(tcRun(tc, data) === TcAction.SHOT, drop, `tc, port ${dport}`);
        assert.equal(dp.pipeline.xdp.testRunSync({ data }).retval === XdpAction.DROP, drop, `xdp, port ${dport}`);
      }
    } finally {
      dp.filter.setRules([]);
    }
  });
});
