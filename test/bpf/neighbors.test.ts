/**
 * Gateways and the kernel's neighbour table: a gateway with no entry becomes a managed one (the
 * kernel resolves it by itself) and is handed back when no route uses it; a static entry
 * someone configured (PERMANENT) is used as it is and never changed or removed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Dataplane } from '../../src/dataplane/dataplane.js';
import { Pipeline } from '../../src/dataplane/pipeline.js';
import * as abi from '../../src/generated/pathwise.js';
import { inNetns, KernelMonitor, NetlinkGroup, resolveIfindex, type KernelEvent } from '../../src/kernel/index.js';
import { parseRouteTokens } from '../../src/routing/route-syntax.js';
import { parsePrefix } from '../../src/util/ip.js';
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
