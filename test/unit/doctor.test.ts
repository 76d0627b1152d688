/** What `pathwise doctor` reads where it does not attach: the drivers' declared XDP features. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { declaredModes, safeToProbe } from '../../src/dataplane/doctor.js';

const on = { active: true, changeable: true };
const fixedOn = { active: true, changeable: false };
const off = { active: false, changeable: true };

describe('doctor without attaching', () => {
  it('attaches its probe unasked only to devices with nothing below them', () => {
    for (const kind of ['veth', 'dummy', 'ifb', 'netkit']) assert.equal(safeToProbe({ kind, loopback: false }), true, kind);
    assert.equal(safeToProbe({ kind: null, loopback: true }), true, 'lo');
    // Hardware, and devices over hardware whose XDP reaches the NIC below.
    for (const kind of [null, 'bond', 'vlan', 'macvlan', 'team']) assert.equal(safeToProbe({ kind, loopback: false }), false, String(kind));
  });

  it('reports native XDP as the driver declares it, and what may keep it from working', () => {
    const nic = declaredModes(['basic', 'redirect', 'ndo-xmit', 'rx-sg'], { 'rx-lro': off, 'rx-gro-hw': off });
    assert.deepEqual(nic.modes.native, { supported: true, how: 'declared' });
    assert.deepEqual(nic.modes.generic, { supported: true, how: 'declared' });
    assert.deepEqual(nic.notes, []);
    // This VM's virtio_net: no ndo_xdp_xmit (too few queues), GRO_HW it cannot turn off.
    const virtio = declaredModes(['basic', 'redirect', 'xsk-zerocopy', 'rx-sg'], {
      'rx-lro': { active: false, changeable: false },
      'rx-gro-hw': fixedOn,
    });
    assert.equal(virtio.modes.native.supported, true);
    assert.equal(virtio.notes.length, 2);
    assert.match(virtio.notes[0]!, /rx-gro-hw is on and fixed/);
    assert.match(virtio.notes[1]!, /no ndo_xdp_xmit/);
    const lro = declaredModes(['basic', 'redirect', 'ndo-xmit'], { 'rx-lro': on });
    assert.deepEqual(lro.notes, ['LRO is on: drivers refuse XDP while it is (ethtool -K IFACE lro off)']);
    assert.match(declaredModes(['basic'], null).notes.join('\n'), /no XDP_REDIRECT/);
    // No native XDP declared: nothing to note about it.
    assert.deepEqual(declaredModes([], { 'rx-gro-hw': fixedOn }), {
      modes: { native: { supported: false, how: 'declared' }, generic: { supported: true, how: 'declared' } },
      notes: [],
    });
    // A kernel without the netdev family (before 6.3): native unknown.
    assert.deepEqual(declaredModes(null, null).modes.native, { supported: null, how: null });
  });
});
