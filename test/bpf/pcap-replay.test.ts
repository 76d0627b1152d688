/**
 * Replays the captures from tcpdump's test suite through the real pipeline with
 * BPF_PROG_TEST_RUN: every packet gets a verdict (nothing crashes), the per-interface
 * counters add up, and packets cut short at each header are counted as malformed by reason,
 * passed to the kernel by default or dropped when the pipeline is told to drop malformed input.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { BpfObject, XdpAction, decodeOne, native } from '../../src/kernel/index.js';
import * as abi from '../../src/generated/pathwise.js';
import { readCapture } from '../../src/kernel/pcap.js';
import { pipelineObject, sharedData } from '../helpers/paths.js';
import { privilegedSkip } from '../helpers/privileged.js';

const skip = privilegedSkip();
const pcapDir = join(sharedData, 'pcaps');
const captures = readdirSync(pcapDir).filter((f) => f.endsWith('.pcap'));

async function loadPipeline(flags = 0) {
  return BpfObject.load(pipelineObject, { spec: abi, rodata: { pw_settings: { flags } } });
}

/** Runs pw_xdp_trace on a packet and returns its decision. */
function trace(obj: BpfObject<typeof abi>, data: Buffer) {
  const r = obj.program('pw_xdp_trace').testRunSync({ data, dataOutSize: data.length + 64 });
  const t = decodeOne(abi.PwTrace, r.data!);
  return { retval: r.retval, ...t };
}

/** Sums one interface's per-CPU counters (none yet before its first packet). */
function ifCounters(obj: BpfObject<typeof abi>, ifindex: number) {
  const m = obj.perCpuMap(abi.maps.pw_if_stats);
  try {
    const per = m.get(ifindex) ?? [];
    const sum = (pick: (c: abi.PwIfCounters) => bigint[], n: number) =>
      Array.from({ length: n }, (_, k) => per.reduce((a, c) => a + pick(c)[k]!, 0n));
    return { packets: sum((c) => c.packets, abi.PwVerdict.MAX), reasons: sum((c) => c.reasons, abi.PwReason.MAX) };
  } finally {
    m.close();
  }
}

describe('replaying captures through the pipeline', { skip }, () => {
  let obj: BpfObject<typeof abi>;
  before(async () => {
    obj = await loadPipeline();
  });
  after(() => obj?.close());
  // BPF_PROG_TEST_RUN without a ctx delivers on the loopback device of this namespace.
  const lo = () => native().ifNameToIndex('lo');

  for (const file of captures) {
    it(`gives every packet of ${file} a verdict and counts it`, () => {
      const { linktype, packets } = readCapture(join(pcapDir, file));
      assert.equal(linktype, 1, 'Ethernet captures');
      const before = ifCounters(obj, lo());
      const prog = obj.program('pw_xdp');
      for (const p of packets) {
        const r = prog.testRunSync({ data: p.data });
        assert.ok(
          [XdpAction.PASS, XdpAction.DROP, XdpAction.REDIRECT, XdpAction.TX].includes(r.retval as 1),
          `packet ${p.index + 1}: retval ${r.retval}`,
        );
      }
      const after = ifCounters(obj, lo());
      const counted = after.packets.reduce((a, b) => a + b, 0n) - before.packets.reduce((a, b) => a + b, 0n);
      assert.equal(counted, BigInt(packets.length));
    });
  }

  it('classifies the captures as tcpdump decodes them', () => {
    // QinQpacket.pcap: 802.1ad + 802.1Q double tags (two tags are parsed, never routed by the
    // fast path); icmpv6.pcap: IPv6; dns_udp.pcap: IPv4 UDP.
    const qinq = readCapture(join(pcapDir, 'QinQpacket.pcap')).packets.map((p) => trace(obj, p.data));
    assert.ok(qinq.some((t) => t.reason === abi.PwReason.VLAN_TAGGED));
    assert.ok(qinq.every((t) => t.reason !== abi.PwReason.TRUNCATED_VLAN && t.reason !== abi.PwReason.TOO_MANY_VLANS));
    const v6 = readCapture(join(pcapDir, 'icmpv6.pcap')).packets.map((p) => trace(obj, p.data));
    assert.ok(v6.every((t) => t.family === 6));
    const udp = readCapture(join(pcapDir, 'dns_udp.pcap')).packets.map((p) => trace(obj, p.data));
    assert.ok(udp.every((t) => t.family === 4 && t.reason === abi.PwReason.NO_ROUTE));
  });

  it('counts truncated packets by reason and never routes them', async () => {
    // Every IP packet of every capture, cut inside each of its headers. (Frames shorter than an
    // Ethernet header cannot arrive, and BPF_PROG_TEST_RUN refuses them.)
    const cuts: { data: Buffer; expect: number }[] = [];
    for (const file of captures) {
      for (const p of readCapture(join(pcapDir, file)).packets) {
        const type = p.data.readUInt16BE(12);
        if (type === 0x8100 || type === 0x88a8) cuts.push({ data: p.data.subarray(0, 16), expect: abi.PwReason.TRUNCATED_VLAN });
        if (type !== 0x0800 && type !== 0x86dd) continue;
        cuts.push({ data: p.data.subarray(0, 14 + 12), expect: abi.PwReason.TRUNCATED_IP });
        const proto = type === 0x0800 ? p.data[14 + 9] : p.data[14 + 6];
        const l4 = type === 0x0800 ? 14 + (p.data[14]! & 0xf) * 4 : 14 + 40;
        // TCP/UDP with the IP header whole but the L4 header cut: fix the IP length fields so
        // only the L4 header is short (otherwise it is a truncated IP packet).
        if ((proto === 6 || proto === 17) && p.data.length > l4 + 4) {
          const d = Buffer.from(p.data.subarray(0, l4 + 4));
          if (type === 0x0800) {
            d.writeUInt16BE(l4 + 4 - 14, 14 + 2);
          } else d.writeUInt16BE(4, 14 + 4);
          cuts.push({ data: d, expect: abi.PwReason.TRUNCATED_L4 });
        }
      }
    }
    assert.ok(cuts.length > 100);
    const before = ifCounters(obj, lo());
    for (const c of cuts) {
      const t = trace(obj, c.data);
      assert.equal(t.reason, c.expect, `a ${c.data.length}-byte cut: reason ${t.reason}, expected ${c.expect}`);
      assert.equal(t.retval, XdpAction.PASS);
      assert.equal(t.route, 0);
      obj.program('pw_xdp').testRunSync({ data: c.data });
    }
    const after = ifCounters(obj, lo());
    for (const reason of [abi.PwReason.TRUNCATED_VLAN, abi.PwReason.TRUNCATED_IP, abi.PwReason.TRUNCATED_L4]) {
      const expected = BigInt(cuts.filter((c) => c.expect === reason).length);
      assert.equal(after.reasons[reason]! - before.reasons[reason]!, expected, `reason ${reason}`);
    }

    // With drop-malformed set, the same packets are dropped.
    const strict = await loadPipeline(abi.PwSetting.DROP_MALFORMED);
    try {
      for (const c of cuts.slice(0, 50)) assert.equal(trace(strict, c.data).retval, XdpAction.DROP);
    } finally {
      strict.close();
    }
  });
});
