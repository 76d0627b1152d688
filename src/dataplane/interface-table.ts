/**
 * pw_ifaces (an array for ifindexes below PW_IF_DIRECT) and pw_ifaces_hi (a hash for larger
 * ones): each interface the pipeline runs on or forwards out of, with the MAC that frames
 * arriving on it must be addressed to, the MTU packets leaving by it must fit, and the flag
 * that lets the fast path redirect to it.
 *
 * The flag mirrors pw_tx_ports (the devmap bpf_redirect_map sends through): the fast path reads
 * the record for the MTU anyway, so it checks the flag there instead of looking the devmap up
 * a second time. The two change together here only, in the order that keeps the flag from
 * promising a port the devmap lacks: the port first, then the flag; the flag off, then the port.
 */
import * as abi from '../generated/pathwise.js';
import type { KernelLink } from '../kernel/index.js';
import type { PipelineMaps } from './pipeline.js';

type Maps = Pick<PipelineMaps, 'ifaces' | 'ifacesHi' | 'txPorts'>;

/**
 * Makes `ifindex` an egress port and records `link` (its MAC and MTU) for it. An interface
 * without an Ethernet address gets no MAC check: its record holds the flag and the MTU only.
 */
export function addTxPort(maps: Maps, ifindex: number, link: Pick<KernelLink, 'mac' | 'mtu'> | undefined): void {
  maps.txPorts.set(ifindex, ifindex);
  recordInterface(maps, ifindex, link);
}

/** Takes `ifindex` out of the egress ports and forgets its record. */
export function removeTxPort(maps: Maps, ifindex: number): void {
  forgetInterface(maps, ifindex);
  maps.txPorts.delete(ifindex);
}

/**
 * Records every egress port again from `links` (the kernel's, by ifindex: a MAC or MTU changed,
 * an interface recreated, or an upgrade started the table afresh) and forgets the records of
 * interfaces that are not egress ports.
 */
export function recordEgressPorts(maps: Maps, links: ReadonlyMap<number, Pick<KernelLink, 'mac' | 'mtu'>>): void {
  const ports = new Set(maps.txPorts.keys());
  for (const ifindex of ports) recordInterface(maps, ifindex, links.get(ifindex));
  for (const ifindex of recordedInterfaces(maps)) if (!ports.has(ifindex)) forgetInterface(maps, ifindex);
}

/** Records `link` for `ifindex`, an egress port. A link that is gone leaves no record. */
function recordInterface(maps: Maps, ifindex: number, link: Pick<KernelLink, 'mac' | 'mtu'> | undefined): void {
  if (!link) return forgetInterface(maps, ifindex);
  const ethernet = link.mac?.length === 6;
  const value = {
    mac: ethernet ? link.mac! : new Uint8Array(6),
    known: ethernet ? 1 : 0,
    flags: abi.PwIfaceFlag.IFACE_F_TX,
    mtu: link.mtu,
  };
  if (ifindex < abi.PwLimit.IF_DIRECT) maps.ifaces.set(ifindex, value);
  else maps.ifacesHi.set(ifindex, value);
}

function forgetInterface(maps: Maps, ifindex: number): void {
  if (ifindex < abi.PwLimit.IF_DIRECT) maps.ifaces.set(ifindex, abi.PwIface.zero());
  else maps.ifacesHi.delete(ifindex);
}

/** The ifindexes recorded. */
function recordedInterfaces(maps: Maps): number[] {
  const out = [...maps.ifacesHi.keys()];
  for (const [ifindex, v] of maps.ifaces.entries()) if (v.known || v.flags) out.push(ifindex);
  return out;
}
