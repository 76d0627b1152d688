/**
 * VLAN tags the pipeline cannot see: on a veth, a tag inserted by the peer's VLAN device (here
 * a tc program doing what one does) travels beside the frame, not in it, while the peer offers
 * tx-vlan-offload, and XDP would take a tagged packet for an untagged one. Attaching turns
 * that off on a peer in reach (and, on other devices, tag stripping on receive); detaching
 * restores it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { Dataplane, noRedirectTargetNote } from '../../src/dataplane/dataplane.js';
import { Pipeline } from '../../src/dataplane/pipeline.js';
import { attachTc, BpfObject, inNetns, interfaceFeatures, interfaceMac, resolveIfindex, writeCapture } from '../../src/kernel/index.js';
import * as fx from '../generated/binding-fixtures.js';
import { ipv4Packet } from '../helpers/packets.js';
import { testObject } from '../helpers/paths.js';
import { privilegedSkip } from '../helpers/privileged.js';
import { Topology } from '../helpers/topology.js';

const skip = privilegedSkip();

describe('VLAN tags kept in the frame at attach', { skip, timeout: 3 * 60_000 }, () => {
  let topo: Topology;
  let obj: BpfObject<typeof fx>;
  let dp: Dataplane;
  let instance = '';
  let dir = '';
  let ns = '';
  let other = '';
  const dev = (s: string) => topo.name(s);
  const feature = (ifname: string, name: string) => inNetns(ns, () => interfaceFeatures(ifname)[name]!.active);
  const vlanTagged = () => inNetns(ns, () => dp.interfaceStats()).find((s) => s.name === dev('v1'))?.reasons.vlan_tagged ?? 0;

  /** Sends 5 untagged IPv4 frames out of v0 (its tc program tags them on the way). */
  function sendFive(): void {
    const mac = inNetns(ns, () => interfaceMac(resolveIfindex(dev('v1'))));
    const file = join(dir, 'five.pcap');
    writeCapture(
      file,
      Array.from({ length: 5 }, () => ({ data: ipv4Packet({ src: '10.197.0.1', dst: '10.197.0.2', dstMac: mac }) })),
    );
    const p = spawnSync('ip', ['netns', 'exec', ns, 'tcpreplay', '-q', '--topspeed', '-i', dev('v0'), file], { encoding: 'utf8' });
    assert.equal(p.status, 0, p.stderr);
  }

  before(async () => {
    topo = new Topology('vl');
    dir = mkdtempSync(join(tmpdir(), 'pw-vlan-'));
    ns = topo.addNamespace('N');
    other = topo.addNamespace('O');
    // Both ends in one namespace: the peer is in reach. A third veth has its peer elsewhere.
    topo.addVeth({ ns, name: 'v0' }, { ns, name: 'v1', addr: '10.197.0.2/24' });
    topo.addVeth({ ns, name: 'w0' }, { ns: other, name: 'w1' });
    obj = await BpfObject.load(testObject('binding-fixtures'), { spec: fx });
    instance = topo.prefix;
    topo.recordInstance(instance);
    dp = await Dataplane.open(instance);
  });
  after(() => {
    dp?.close();
    obj?.close();
    if (instance) inNetns(ns || undefined, () => Pipeline.down(instance));
    topo?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('turns off the offloads that hide tags, and the pipeline then sees every tag', () => {
    assert.equal(feature(dev('v0'), 'tx-vlan-hw-insert'), true, 'veth offers VLAN insertion by default');
    assert.equal(feature(dev('v1'), 'rx-vlan-hw-parse'), true);
    const tc = inNetns(ns, () => attachTc(obj.program('fx_tc_vlan_push'), dev('v0'), 'egress'));
    try {
      const [r] = inNetns(ns, () => dp.attach([dev('v1')], 'native'));
      // Nothing about its VLAN offloads (v0 runs no GRO: v1 takes no redirects, and says so).
      assert.deepEqual(r!.notes, [noRedirectTargetNote(dev('v1'))]);
      assert.equal(feature(dev('v0'), 'tx-vlan-hw-insert'), false);
      // A veth strips nothing on receive: its own rx-vlan-offload stays as it was.
      assert.equal(feature(dev('v1'), 'rx-vlan-hw-parse'), true);
      sendFive();
      assert.equal(vlanTagged(), 5, 'the tags are in the frames');

      // The same frames with the peer's insertion back on: the tag rides beside the frame and
      // the pipeline sees plain IPv4. This is what attaching prevents.
      topo.exec(ns, 'ethtool', ['-K', dev('v0'), 'txvlan', 'on']);
      sendFive();
      assert.equal(vlanTagged(), 5, 'no tag seen with tx-vlan-offload on at the peer');
    } finally {
      inNetns(ns, () => tc.detach());
    }
    topo.exec(ns, 'ethtool', ['-K', dev('v0'), 'txvlan', 'off']);
    inNetns(ns, () => dp.detach([dev('v1')]));
    assert.equal(feature(dev('v0'), 'tx-vlan-hw-insert'), true, "the peer's restored at detach");
  });

  it('says so when the veth peer is out of reach', () => {
    const [r] = inNetns(ns, () => dp.attach([dev('w0')], 'native'));
    assert.equal(r!.notes.length, 2);
    assert.match(r!.notes[0]!, /peer is in another namespace/);
    assert.equal(r!.notes[1], noRedirectTargetNote(dev('w0')));
    inNetns(ns, () => dp.detach([dev('w0')]));
  });
});
