/**
 * pw_ifaces (an array for ifindexes below PW_IF_DIRECT) and pw_ifaces_hi (a hash for larger
 * ones): each interface the pipeline runs on or forwards out of, with the MAC that frames
 * arriving on it must be addressed to and the MTU packets leaving by it must fit.
 */
import * as abi from '../generated/pathwise.js';
import type { KernelLink } from '../kernel/index.js';
import type { PipelineMaps } from './pipeline.js';

type Maps = Pick<PipelineMaps, 'ifaces' | 'ifacesHi'>;

/** Records `link` (its MAC and MTU) for `ifindex`; one without an Ethernet address is forgotten (not checked). */
export function recordInterface(maps: Maps, ifindex: number, link: Pick<KernelLink, 'mac' | 'mtu'> | undefined): void {
  if (link?.mac?.length !== 6) return forgetInterface(maps, ifindex);
  const value = { mac: link.mac, known: 1, mtu: link.mtu };
  if (ifindex < abi.PwLimit.IF_DIRECT) maps.ifaces.set(ifindex, value);
  else maps.ifacesHi.set(ifindex, value);
}

export function forgetInterface(maps: Maps, ifindex: number): void {
  if (ifindex < abi.PwLimit.IF_DIRECT) maps.ifaces.set(ifindex, abi.PwIface.zero());
  else maps.ifacesHi.delete(ifindex);
}

/** The ifindexes recorded. */
export function recordedInterfaces(maps: Maps): number[] {
  const out = [...maps.ifacesHi.keys()];
  for (const [ifindex, v] of maps.ifaces.entries()) if (v.known) out.push(ifindex);
  return out;
}
