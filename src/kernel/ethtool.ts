/**
 * Device features by their kernel names, as `ethtool -k` lists them and `ethtool -K` changes
 * them (SIOCETHTOOL through the addon; names like rx-vlan-hw-parse, tx-vlan-hw-insert).
 */
import { fromNative } from '../errors.js';
import { native } from './native.js';

export interface DeviceFeature {
  active: boolean;
  /** The driver lets it change (ethtool prints "[fixed]" otherwise). */
  changeable: boolean;
}

export function interfaceFeatures(ifname: string): Record<string, DeviceFeature> {
  try {
    return native().interfaceFeatures(ifname);
  } catch (e) {
    throw fromNative(e, `ethtool: features of ${ifname}`);
  }
}

/** Requests features on or off; returns the features as the driver then has them. */
export function setInterfaceFeatures(ifname: string, changes: Record<string, boolean>): Record<string, DeviceFeature> {
  try {
    native().setInterfaceFeatures(ifname, changes);
  } catch (e) {
    throw fromNative(e, `ethtool: changing features of ${ifname}`);
  }
  return interfaceFeatures(ifname);
}
