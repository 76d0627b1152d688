/** An Ethernet address as `ip link` prints it: six lower-case hex pairs joined by colons. */
export function formatMac(mac: Uint8Array): string {
  return [...mac.subarray(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
}
