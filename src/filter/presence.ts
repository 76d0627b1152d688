/**
 * A CIDR field's presence bitmap (struct pw_rule_cidr, PW_BANK_FLAG_PRESENCE_SHIFT): one bit
 * per address block, set when some prefix of the field overlaps the block. The guard reads the
 * bit of a packet's block before it looks the address up among the field's prefixes; a clear
 * bit means no prefix holds the address, and the field's catch-all applies with no lookup. Most
 * packets are near no rule's prefix, so most skip the lookup (a hash per length, or the LPM
 * trie's walk).
 *
 * The block of an address (pw_presence_key in bpf/include/pathwise/guard.bpf.h, which this
 * mirrors): its /16 for IPv4; for IPv6 its top 32 bits folded to 16 (high half XOR low half),
 * as IPv6 rules' prefixes are /32 or longer far more often than IPv4's are /16 or longer.
 */
import * as abi from '../generated/pathwise.js';
import type { Prefix } from '../util/ip.js';

const PRESENCE_BITS = 8 * abi.PwLimit.RULE_PRESENCE_BYTES;

/**
 * The presence bitmap of a field's prefixes (catch-all aside), bit k in byte k / 8 at bit
 * k % 8, as struct pw_rule_cidr holds it; null when some prefix covers too many blocks to list
 * (an IPv6 prefix shorter than /16: its fold spans the whole bitmap anyway).
 */
export function presenceBitmap(family: 4 | 6, prefixes: Prefix[]): Uint8Array | null {
  const bits = new Uint8Array(PRESENCE_BITS / 8);
  const set = (k: number) => (bits[k >>> 3]! |= 1 << (k & 7));
  for (const p of prefixes) {
    if (p.plen === 0) continue;
    const a = ((p.addr[0]! << 24) | (p.addr[1]! << 16) | (p.addr[2]! << 8) | p.addr[3]!) >>> 0;
    if (family === 4) {
      // A /16 or longer is in one block; a shorter one spans 2^(16 - plen) of them.
      const span = p.plen >= 16 ? 1 : 2 ** (16 - p.plen);
      const first = (a >>> 16) & ~(span - 1);
      for (let k = first; k < first + span; k++) set(k);
      continue;
    }
    if (p.plen < 16) return null;
    // The high half is fixed; the low half takes 2^(32 - plen) values (1 from /32 on).
    const hi = a >>> 16;
    const span = p.plen >= 32 ? 1 : 2 ** (32 - p.plen);
    const low = a & 0xffff & ~(span - 1);
    for (let v = 0; v < span; v++) set(hi ^ (low | v));
  }
  return bits;
}
