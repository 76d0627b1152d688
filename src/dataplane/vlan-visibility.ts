/**
 * VLAN tags must be in the frame for the pipeline to see them. Two device features move them
 * out of it, into metadata XDP cannot read (the bpf_xdp_metadata_rx_vlan_tag kfunc needs a
 * program bound to one device, and this pipeline is shared):
 *   - a receiving device that strips tags (rx-vlan-offload: rx-vlan-hw-parse and its 802.1ad
 *     twin); and
 *   - on a veth, the peer's VLAN insertion (tx-vlan-offload): a VLAN device or tc action on the
 *     far end hands the tag over as metadata, and the frame arrives untagged. (Verified on this
 *     kernel: XDP saw a tagged ping as plain IPv4 while the peer's tx-vlan-offload was on.)
 * Left alone, a tagged packet would be routed by the main table. At attach, Pathwise turns
 * these off (and records what it changed, to restore at detach); a device that cannot turn
 * stripping off is refused. A veth peer in another namespace is out of reach: the attach
 * reports it. A veth's own rx-vlan-offload is left on: a veth strips nothing on receive (the
 * tag comes from its peer, or not at all), and turning it off slows XDP_REDIRECT into it by a
 * third here (bench: 240k → 165k packets/s forwarded).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { PwError } from '../errors.js';
import { interfaceFeatures, kernelLinks, setInterfaceFeatures, type KernelLink } from '../kernel/index.js';
import { writeFileAtomic } from '../util/fs.js';
import { runDirOf } from '../util/instance.js';

const RX_STRIP = ['rx-vlan-hw-parse', 'rx-vlan-stag-hw-parse'];
const TX_INSERT = ['tx-vlan-hw-insert', 'tx-vlan-stag-hw-insert'];

/** What was changed, by interface name: each feature's state before. */
type OffloadRecord = Record<string, Record<string, boolean>>;

const recordFile = (instance: string) => join(runDirOf(instance), 'vlan-offloads.json');

function readRecord(instance: string): OffloadRecord {
  try {
    return existsSync(recordFile(instance)) ? (JSON.parse(readFileSync(recordFile(instance), 'utf8')) as OffloadRecord) : {};
  } catch {
    return {}; // a damaged record only loses the restore
  }
}

/** Turns `names` off on `ifname` where they are on; returns what was on before. */
function turnOff(ifname: string, names: string[], mustSucceed: boolean): { before: Record<string, boolean>; stuck: string[] } {
  const features = interfaceFeatures(ifname);
  const on = names.filter((n) => features[n]?.active);
  const before: Record<string, boolean> = {};
  if (!on.length) return { before, stuck: [] };
  const changeable = on.filter((n) => features[n]!.changeable);
  const after = changeable.length ? setInterfaceFeatures(ifname, Object.fromEntries(changeable.map((n) => [n, false]))) : features;
  for (const n of on) if (!after[n]?.active) before[n] = true;
  const stuck = on.filter((n) => after[n]?.active);
  if (stuck.length && mustSucceed) {
    throw new PwError(
      'PW_ERR_UNSUPPORTED',
      `${ifname} strips VLAN tags before XDP sees them, and its driver keeps ${stuck.join(', ')} on`,
      {
        where: ifname,
        hint: 'tagged packets would be routed as untagged; attach to an interface whose rx-vlan-offload can be turned off',
      },
    );
  }
  return { before, stuck };
}

/**
 * Makes tagged frames reach the pipeline with their tags, for an interface about to be
 * attached. Returns notes for the operator (what could not be done).
 */
export function keepVlanTagsInFrame(instance: string, link: KernelLink): string[] {
  const notes: string[] = [];
  const record = readRecord(instance);
  const remember = (ifname: string, before: Record<string, boolean>) => {
    if (Object.keys(before).length) record[ifname] = { ...before, ...record[ifname] };
  };
  if (link.kind !== 'veth') remember(link.name, turnOff(link.name, RX_STRIP, true).before);
  if (link.kind === 'veth' && link.peer) {
    const peer = link.peer.here ? kernelLinks().find((l) => l.ifindex === link.peer!.ifindex) : undefined;
    if (peer) {
      const { before, stuck } = turnOff(peer.name, TX_INSERT, false);
      remember(peer.name, before);
      if (stuck.length) notes.push(`${link.name}: its peer ${peer.name} keeps ${stuck.join(', ')} on: tags it inserts arrive untagged`);
    } else {
      notes.push(
        `${link.name}: its veth peer is in another namespace; a VLAN device there hands tagged frames past XDP unless its tx-vlan-offload is off`,
      );
    }
  }
  writeFileAtomic(recordFile(instance), JSON.stringify(record, null, 2));
  return notes;
}

/**
 * Restores what keepVlanTagsInFrame changed for an interface: its tag stripping, and its veth
 * peer's tag insertion (the peer's own stripping stays, in case the peer is attached too).
 */
export function restoreVlanOffloads(instance: string, link: KernelLink | undefined): void {
  if (!link) return;
  const record = readRecord(instance);
  const restore = (name: string, features: string[]) => {
    const before = record[name];
    if (!before) return;
    const back = Object.fromEntries(features.filter((f) => f in before).map((f) => [f, before[f]!]));
    if (!Object.keys(back).length) return;
    try {
      setInterfaceFeatures(name, back);
    } catch {
      // gone, or refused: nothing more to restore
    }
    for (const f of Object.keys(back)) delete before[f];
    if (!Object.keys(before).length) delete record[name];
  };
  restore(link.name, RX_STRIP);
  if (link.kind === 'veth' && link.peer?.here) {
    const peer = kernelLinks().find((l) => l.ifindex === link.peer!.ifindex);
    if (peer) restore(peer.name, TX_INSERT);
  }
  writeFileAtomic(recordFile(instance), JSON.stringify(record, null, 2));
}
