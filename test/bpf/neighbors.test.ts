/**
 * Gateways and the kernel's neighbour table: a gateway with no entry becomes a managed one (the
 * kernel resolves it by itself) and is handed back when no route uses it; a static entry
 * someone configured (PERMANENT) is used as it is and never changed or removed. A gateway's
 * nexthop carries its MAC (gw_mac), which follows every change of the neighbour.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Dataplane } from '../../src/dataplane/dataplane.js';
import { NexthopMacs } from '../../src/dataplane/nexthop-macs.js';
import { Pipeline } from '../../src/dataplane/pipeline.js';
import * as abi from '../../src/generated/pathwise.js';
import {
  inNetns,
  interfaceMac,
  kernelNeighbors,
  KernelMonitor,
  NetlinkGroup,
  resolveIfindex,
  xdpMd,
  type KernelEvent,
} from '../../src/kernel/index.js';
import { parseRouteTokens } from '../../src/routing/route-syntax.js';
import { parsePrefix } from '../../src/util/ip.js';
import { formatMac } from '../../src/util/mac.js';
import { ipv4Packet } from '../helpers/packets.js';
import { privilegedSkip } from '../helpers/privileged.js';
import { Topology } from '../helpers/topology.js';

const skip = privilegedSkip();

describe('gateways in the kernel neighbour table', { skip, timeout: 2 * 60_000 }, () => {
  let topo: Topology;
  let ns = '';
  let dp: Dataplane;
  let instance = '';
  const neigh = (addr: string) => topo.exec(ns, 'ip', ['neigh', 'show', addr]).trim();
  const route = (text: string) => inNetns(ns, () => dp.addRoute(parseRouteTokens(text.split(' '), (i) => `token ${i}`)));

  before(async () => {
    topo = new Topology('nb');
    ns = topo.addNamespace('N');
    topo.addVeth({ ns, name: 'n0', addr: '100.64.0.1/16' }, { ns, name: 'n1' });
    topo.exec(ns, 'ip', ['neigh', 'replace', '100.64.0.2', 'lladdr', '02:00:00:00:00:02', 'dev', topo.name('n0'), 'nud', 'permanent']);
    instance = topo.prefix;
    topo.recordInstance(instance);
    dp = await Dataplane.open(instance);
    inNetns(ns, () => {
      dp.syncHostRoutes();
      dp.enableEgress(topo.name('n0'));
    });
  });
  after(() => {
    dp?.close();
    if (instance) Pipeline.down(instance);
    topo?.destroy();
  });

  it('uses a static neighbour as it is, and leaves it when the route goes', () => {
    route('8.8.8.0/24 via 100.64.0.2');
    assert.match(neigh('100.64.0.2'), /lladdr 02:00:00:00:00:02 PERMANENT/);
    inNetns(ns, () => dp.syncNeighbors());
    const t = inNetns(ns, () => dp.trace(ipv4Packet({ src: '100.64.0.7', dst: '8.8.8.8' }), resolveIfindex(topo.name('n0'))));
    assert.equal(t.verdict, abi.PwVerdict.REDIRECT, `forwarded through the static neighbour (reason ${t.reason})`);
    inNetns(ns, () => dp.deleteRoute(parsePrefix('8.8.8.0/24')));
    assert.match(neigh('100.64.0.2'), /lladdr 02:00:00:00:00:02 PERMANENT/, 'still there, still static');
  });

  it("sends packets larger than the egress interface's MTU to the kernel, and follows the MTU", () => {
    route('8.8.4.0/24 via 100.64.0.2');
    inNetns(ns, () => dp.syncNeighbors());
    const big = ipv4Packet({ src: '100.64.0.7', dst: '8.8.4.4', payload: new Uint8Array(1400) });
    const fate = () => inNetns(ns, () => dp.trace(big, resolveIfindex(topo.name('n0'))));
    assert.equal(fate().verdict, abi.PwVerdict.REDIRECT, 'fits 1500');
    topo.exec(ns, 'ip', ['link', 'set', topo.name('n0'), 'mtu', '1280']);
    inNetns(ns, () => dp.refreshInterfaces()); // what the daemon does on the link event
    assert.equal(fate().reason, abi.PwReason.MTU_EXCEEDED);
    topo.exec(ns, 'ip', ['link', 'set', topo.name('n0'), 'mtu', '1500']);
    inNetns(ns, () => dp.refreshInterfaces());
    assert.equal(fate().verdict, abi.PwVerdict.REDIRECT);
    inNetns(ns, () => dp.deleteRoute(parsePrefix('8.8.4.0/24')));
  });

  it('forwards out of egress ports only: a port taken away sends its packets to the kernel, untouched', () => {
    route('8.8.2.0/24 via 100.64.0.2');
    inNetns(ns, () => dp.syncNeighbors());
    const pkt = ipv4Packet({ src: '100.64.0.7', dst: '8.8.2.2' });
    const fate = () => inNetns(ns, () => dp.trace(pkt, resolveIfindex(topo.name('n0'))));
    const ifindex = inNetns(ns, () => resolveIfindex(topo.name('n0')));
    assert.equal(fate().verdict, abi.PwVerdict.REDIRECT);
    // Not attached here: detach only takes the egress port away.
    assert.deepEqual(
      inNetns(ns, () => dp.detach([topo.name('n0')])),
      [{ name: topo.name('n0'), detached: false }],
    );
    assert.equal(dp.pipeline.maps.txPorts.get(ifindex), undefined);
    assert.equal(dp.pipeline.maps.ifaces.get(ifindex)!.flags, 0, 'the record is gone with the port');
    const t = fate();
    assert.equal(t.verdict, abi.PwVerdict.PASS);
    assert.equal(t.reason, abi.PwReason.NO_TX_PORT);
    // A devmap entry without the record's flag is no egress port either (the order of the two
    // writes keeps the flag from promising a port the devmap lacks, never the reverse).
    dp.pipeline.maps.txPorts.set(ifindex, ifindex);
    assert.equal(fate().reason, abi.PwReason.NO_TX_PORT);
    inNetns(ns, () => dp.enableEgress(topo.name('n0')));
    assert.equal(dp.pipeline.maps.ifaces.get(ifindex)!.flags, abi.PwIfaceFlag.IFACE_F_TX);
    assert.equal(fate().verdict, abi.PwVerdict.REDIRECT, 'an egress port again');
    inNetns(ns, () => dp.deleteRoute(parsePrefix('8.8.2.0/24')));
  });

  it("carries the gateway's MAC in its nexthop, and follows each change of the neighbour", () => {
    const n0 = topo.name('n0');
    const ifindex = inNetns(ns, () => resolveIfindex(n0));
    const mac = (text: string) => Uint8Array.from(text.split(':').map((h) => parseInt(h, 16)));
    const setNeigh = (m: string) => topo.exec(ns, 'ip', ['neigh', 'replace', '100.64.0.4', 'lladdr', m, 'dev', n0, 'nud', 'permanent']);
    // The kernel's entry for the gateway, as the neighbour follower gets it in an event.
    const gatewayEntry = () => {
      const n = inNetns(ns, () => kernelNeighbors()).find((k) => k.ifindex === ifindex && k.addr[0] === 100 && k.addr[3] === 4);
      assert.ok(n, 'the kernel has the entry');
      return n;
    };
    // The live entry point (the MAC check on), so the frame is addressed to n0.
    const frame = ipv4Packet({ src: '100.64.0.7', dst: '8.8.9.9', dstMac: inNetns(ns, () => interfaceMac(ifindex)) });
    const run = () => inNetns(ns, () => dp.pipeline.xdp.testRunSync({ data: frame, ctx: xdpMd(frame.length, ifindex), repeat: 1 }));
    const sentTo = () => {
      const r = run();
      return r.retval === 4 ? formatMac(r.data!) : `action ${r.retval}`;
    };
    setNeigh('02:00:00:00:00:41');
    inNetns(ns, () => dp.syncNeighbors());
    route('8.8.9.0/24 via 100.64.0.4');
    const nh = inNetns(ns, () => dp.trace(frame, ifindex)).nexthop;
    assert.deepEqual(dp.nexthops.macOf(nh), mac('02:00:00:00:00:41'), 'taken from pw_neigh when the nexthop was made');
    assert.equal(sentTo(), '02:00:00:00:00:41');
    setNeigh('02:00:00:00:00:42');
    assert.ok(dp.neighbors.apply('new', gatewayEntry()), 'pw_neigh changed');
    assert.deepEqual(dp.nexthops.macOf(nh), mac('02:00:00:00:00:42'));
    assert.equal(sentTo(), '02:00:00:00:00:42', 'the new MAC at once');
    // Gone from the kernel: the nexthop forgets it, and the packet goes to the kernel untouched.
    const last = gatewayEntry();
    topo.exec(ns, 'ip', ['neigh', 'del', '100.64.0.4', 'dev', n0]);
    assert.ok(dp.neighbors.apply('del', last), 'pw_neigh changed');
    assert.equal(dp.nexthops.macOf(nh), null);
    assert.equal(inNetns(ns, () => dp.trace(frame, ifindex)).reason, abi.PwReason.NO_NEIGH);
    setNeigh('02:00:00:00:00:43');
    inNetns(ns, () => dp.syncNeighbors());
    assert.equal(sentTo(), '02:00:00:00:00:43', 'back, by a full sync');
    // A nexthop left with a wrong MAC (a writer stopped between pw_neigh and the nexthop):
    // pw_neigh is right, so the next full sync writes nothing there, and still mends it.
    const macs = new NexthopMacs(dp.pipeline.maps);
    try {
      macs.set(nh, mac('02:00:00:00:00:66'));
    } finally {
      macs.close();
    }
    assert.equal(sentTo(), '02:00:00:00:00:66', "the pipeline reads the nexthop's copy");
    assert.deepEqual(
      inNetns(ns, () => dp.syncNeighbors()),
      { set: 0, removed: 0 },
    );
    assert.equal(sentTo(), '02:00:00:00:00:43');
    inNetns(ns, () => dp.deleteRoute(parsePrefix('8.8.9.0/24')));
  });

  it('makes a gateway with no entry a managed neighbour, and hands it back after', () => {
    route('9.9.9.0/24 via 100.64.0.3');
    assert.match(neigh('100.64.0.3'), /managed/);
    inNetns(ns, () => dp.deleteRoute(parsePrefix('9.9.9.0/24')));
    assert.equal(neigh('100.64.0.3'), '', 'the managed entry is gone with its last route');
  });

  it("follows its own namespace's neighbours only (not those of every namespace)", async () => {
    // Another namespace with a neighbour entry made while the monitor listens in this one.
    const other = topo.addNamespace('O');
    topo.addVeth({ ns: other, name: 'o0', addr: '100.65.0.1/24' }, { ns: other, name: 'o1', addr: '100.65.0.2/24' });
    const seen: KernelEvent[] = [];
    const monitor = inNetns(ns, () => new KernelMonitor([NetlinkGroup.NEIGH, NetlinkGroup.LINK], (ev) => seen.push(...ev)));
    try {
      topo.exec(other, 'ip', ['neigh', 'replace', '100.65.0.9', 'lladdr', '02:00:00:00:00:09', 'dev', topo.name('o0'), 'nud', 'permanent']);
      topo.exec(ns, 'ip', ['neigh', 'replace', '100.64.0.9', 'lladdr', '02:00:00:00:00:09', 'dev', topo.name('n0'), 'nud', 'permanent']);
      const deadline = Date.now() + 5000;
      const here = () => seen.some((e) => e.kind === 'neighbor' && e.neighbor.addr[1] === 64 && e.neighbor.addr[3] === 9);
      while (!here() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(here(), "this namespace's neighbour was reported");
      assert.ok(!seen.some((e) => e.kind === 'neighbor' && e.neighbor.addr[1] === 65), 'a neighbour of another namespace was reported');
    } finally {
      monitor.close();
      topo.exec(ns, 'ip', ['neigh', 'del', '100.64.0.9', 'dev', topo.name('n0')], { allowFail: true });
    }
  });
});
