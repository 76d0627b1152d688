/**
 * Auto mode on veth: the pipeline attaches generic XDP to a veth (VETH_AUTO_NOTE), and TCP
 * crosses the router both ways with the hosts' veths as the kernel makes them for receiving
 * and checksumming (GRO off, tx checksum offload on), which a veth's native XDP does not carry:
 * its redirected frames reach a peer only through the peer's NAPI, and lose the checksum
 * offload. The hosts' TSO and GSO are off: a GSO super-frame is larger than the MTU, and the
 * pipeline hands it to the kernel in either mode (here the kernel forwards nothing).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { inNetns } from '../../src/kernel/index.js';
import { Dataplane, noRedirectTargetNote, VETH_AUTO_NOTE } from '../../src/dataplane/dataplane.js';
import { Pipeline } from '../../src/dataplane/pipeline.js';
import { echoClientScript, echoServerScript } from '../helpers/echo-tcp.js';
import { forwardedByKernel, offloadFeature } from '../helpers/router-checks.js';
import { privilegedSkip } from '../helpers/privileged.js';
import { Topology } from '../helpers/topology.js';

const skip = privilegedSkip();

describe('auto mode on veth', { skip, timeout: 2 * 60_000 }, () => {
  let topo: Topology;
  let dp: Dataplane;
  let instance: string;
  let attached: ReturnType<Dataplane['attach']>;
  const ns = { c: '', r: '', s: '' };
  const dev = (s: string) => topo.name(s);
  const forwarded = () => forwardedByKernel(topo, ns.r);
  const feature = (n: string, i: string, name: string) => offloadFeature(topo, n, dev(i), name);

  before(async () => {
    topo = new Topology('v');
    ns.c = topo.addNamespace('C');
    ns.r = topo.addNamespace('R');
    ns.s = topo.addNamespace('S');
    topo.addVeth({ ns: ns.c, name: 'c0', addr: '10.196.1.2/24' }, { ns: ns.r, name: 'r0', addr: '10.196.1.1/24' });
    topo.addVeth({ ns: ns.r, name: 'r1', addr: '10.196.2.1/24' }, { ns: ns.s, name: 's0', addr: '10.196.2.2/24' });
    topo.exec(ns.c, 'ip', ['route', 'add', 'default', 'via', '10.196.1.1']);
    topo.exec(ns.s, 'ip', ['route', 'add', 'default', 'via', '10.196.2.1']);
    for (const [n, i] of [
      [ns.c, 'c0'],
      [ns.s, 's0'],
    ] as const)
      topo.exec(n, 'ethtool', ['-K', dev(i), 'tso', 'off', 'gso', 'off']);
    topo.exec(ns.r, 'sysctl', ['-qw', 'net.ipv4.ip_forward=0']);

    instance = topo.prefix;
    topo.recordInstance(instance);
    dp = await Dataplane.open(instance);
    inNetns(ns.r, () => {
      dp.syncHostRoutes();
      attached = dp.attach([dev('r0'), dev('r1')]);
    });
    // The router learns each host's MAC from its ARP for the gateway.
    topo.exec(ns.c, 'ping', ['-c', '1', '-W', '1', '10.196.1.1']);
    topo.exec(ns.s, 'ping', ['-c', '1', '-W', '1', '10.196.2.1']);
    inNetns(ns.r, () => dp.syncNeighbors());
  });

  after(() => {
    dp?.close();
    if (instance) inNetns(ns.r || undefined, () => Pipeline.down(instance));
    topo?.destroy();
  });

  it('attaches generic XDP to a veth in auto mode, and says why', () => {
    assert.deepEqual(
      attached.map((a) => [a.name, a.mode, a.notes.includes(VETH_AUTO_NOTE)]),
      [
        [dev('r0'), 'generic', true],
        [dev('r1'), 'generic', true],
      ],
    );
    // Asked for, native is still what it gets.
    inNetns(ns.r, () => {
      dp.detach([dev('r1')]);
      const [native] = dp.attach([dev('r1')], 'native');
      assert.equal(native!.mode, 'native');
      assert.ok(!native!.notes.includes(VETH_AUTO_NOTE));
      // s0 runs no GRO: r1 declares no ndo_xdp_xmit, and the attach says what that costs.
      assert.ok(native!.notes.includes(noRedirectTargetNote(dev('r1'))), native!.notes.join('\n'));
      dp.detach([dev('r1')]);
      topo.exec(ns.s, 'ethtool', ['-K', dev('s0'), 'gro', 'on']);
      const [withGro] = dp.attach([dev('r1')], 'native');
      topo.exec(ns.s, 'ethtool', ['-K', dev('s0'), 'gro', 'off']);
      assert.ok(!withGro!.notes.includes(noRedirectTargetNote(dev('r1'))), withGro!.notes.join('\n'));
      dp.detach([dev('r1')]);
      attached = dp.attach([dev('r1')]);
    });
    assert.equal(attached[0]!.mode, 'generic');
  });

  it('moves an interface to the XDP mode asked for (it answered "already attached" in the old one); a failed move leaves the old', () => {
    const mode = () => dp.attached().find((a) => a.name === dev('r1'))!.mode;
    inNetns(ns.r, () => {
      assert.equal(mode(), 'generic');
      const [again] = dp.attach([dev('r1')]);
      assert.deepEqual([again!.already, mode()], [true, 'generic'], 'auto keeps what runs');
      const [native] = dp.attach([dev('r1')], 'native');
      assert.deepEqual([native!.already, native!.mode, native!.replaced, mode()], [false, 'native', true, 'native']);
      assert.ok(
        native!.notes.some((n) => n.startsWith('moved from generic XDP')),
        native!.notes.join('\n'),
      );
      const [generic] = dp.attach([dev('r1')], 'generic');
      assert.deepEqual([generic!.mode, mode()], ['generic', 'generic']);
      // lo has no native XDP: the move fails, and lo keeps its generic program.
      dp.attach(['lo'], 'generic');
      assert.throws(() => dp.attach(['lo'], 'native'), /native/);
      assert.equal(dp.attached().find((a) => a.name === 'lo')?.mode, 'generic');
      dp.detach(['lo']);
    });
  });

  it("carries TCP both ways through the pipeline with the hosts' GRO off and checksum offload on", () => {
    // The premise: the hosts' veths receive without GRO and send with checksum offload.
    for (const [n, i] of [
      [ns.c, 'c0'],
      [ns.s, 's0'],
    ] as const) {
      assert.equal(feature(n, i, 'generic-receive-offload'), 'off', `${i}: GRO`);
      assert.equal(feature(n, i, 'tx-checksum-ip-generic'), 'on', `${i}: tx checksum offload`);
    }
    topo.spawn(ns.s, 'node', ['-e', echoServerScript('10.196.2.2', 8080)]).stdout!.once('data', () => {});
    const before = forwarded();
    const r0Before = inNetns(ns.r, () => dp.interfaceStats()).find((s) => s.name === dev('r0'));
    assert.match(topo.exec(ns.c, 'node', ['-e', echoClientScript('10.196.2.2', 8080)]), /^ok/);
    assert.equal(forwarded(), before, 'the router kernel forwarded packets: XDP did not');
    const r0 = inNetns(ns.r, () => dp.interfaceStats()).find((s) => s.name === dev('r0'))!;
    // 1 MiB each way in segments of at most 1448 bytes: hundreds redirected on r0 alone.
    assert.ok((r0.packets.redirect ?? 0) - (r0Before?.packets.redirect ?? 0) > 700, JSON.stringify(r0.packets));
  });
});
