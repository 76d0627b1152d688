/**
 * The addresses and ports of a packet's first bytes, for showing an event or a replayed packet
 * to a person. Decisions are never made from this: the pipeline parses packets in BPF.
 */
import { formatAddress } from '../util/ip.js';
import { protocolName } from './names.js';

export interface PacketSummary {
  family: 4 | 6 | null;
  src?: string;
  dst?: string;
  proto?: string;
  sport?: number;
  dport?: number;
  /** The EtherType after VLAN tags, for packets that are not IP. */
  ethertype: number;
  vlan?: number;
}

export function summarizePacket(b: Uint8Array): PacketSummary {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length < 14) return { family: null, ethertype: 0 };
  let off = 12;
  let type = v.getUint16(off);
  let vlan: number | undefined;
  for (let i = 0; i < 2 && (type === 0x8100 || type === 0x88a8) && off + 6 <= b.length; i++) {
    vlan = v.getUint16(off + 2) & 0xfff;
    off += 4;
    type = v.getUint16(off);
  }
  off += 2;
  const out: PacketSummary = { family: null, ethertype: type, ...(vlan !== undefined ? { vlan } : {}) };
  let proto = -1;
  let l4 = -1;
  if (type === 0x0800 && off + 20 <= b.length) {
    out.family = 4;
    out.src = formatAddress(4, b.subarray(off + 12, off + 16));
    out.dst = formatAddress(4, b.subarray(off + 16, off + 20));
    proto = b[off + 9]!;
    const fragOffset = v.getUint16(off + 6) & 0x1fff;
    if (!fragOffset) l4 = off + (b[off]! & 0xf) * 4;
  } else if (type === 0x86dd && off + 40 <= b.length) {
    out.family = 6;
    out.src = formatAddress(6, b.subarray(off + 8, off + 24));
    out.dst = formatAddress(6, b.subarray(off + 24, off + 40));
    proto = b[off + 6]!;
    l4 = off + 40; // extension headers are not walked here
  }
  if (proto >= 0) out.proto = protocolName(proto);
  if ((proto === 6 || proto === 17) && l4 >= 0 && l4 + 4 <= b.length) {
    out.sport = v.getUint16(l4);
    out.dport = v.getUint16(l4 + 2);
  }
  return out;
}

/** "tcp 10.0.0.1:1234 > 10.0.0.2:80", or the EtherType for what is not IP. */
export function formatSummary(s: PacketSummary): string {
  if (!s.family) return `ethertype 0x${s.ethertype.toString(16).padStart(4, '0')}`;
  const ep = (a?: string, p?: number) => (p === undefined ? a : s.family === 6 ? `[${a}]:${p}` : `${a}:${p}`);
  return `${s.proto} ${ep(s.src, s.sport)} > ${ep(s.dst, s.dport)}`;
}
