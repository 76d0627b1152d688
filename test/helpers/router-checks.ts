/**
 * What the tests that route through a namespace check on it: that its kernel forwarded nothing
 * (the pipeline did), and an interface's offload features.
 */
import type { Topology } from './topology.js';

/** The IPv4 datagrams a namespace's kernel has forwarded (ForwDatagrams in /proc/net/snmp). */
export function forwardedByKernel(topo: Topology, ns: string): number {
  const snmp = topo
    .exec(ns, 'cat', ['/proc/net/snmp'])
    .split('\n')
    .filter((l) => l.startsWith('Ip:'));
  return Number(snmp[1]!.split(/\s+/)[snmp[0]!.split(/\s+/).indexOf('ForwDatagrams')]);
}

/** An offload feature of an interface as `ethtool -k` shows it: 'on', 'off' or undefined. */
export const offloadFeature = (topo: Topology, ns: string, dev: string, name: string) =>
  new RegExp(`^\\s*${name}: (on|off)`, 'm').exec(topo.exec(ns, 'ethtool', ['-k', dev]))?.[1];
