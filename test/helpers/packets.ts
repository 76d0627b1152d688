/** Builds test frames (Ethernet/IPv4/IPv6/UDP/TCP/ICMP) with correct checksums. */

export const MAC_A = Uint8Array.from([0x02, 0, 0, 0, 0, 0x0a]);
export const MAC_B = Uint8Array.from([0x02, 0, 0, 0, 0, 0x0b]);

export function ipv4(addr: string): number[] {
  const p = addr.split('.').map(Number);
  if (p.length !== 4 || p.some((x) => !(x >= 0 && x <= 255))) throw new Error(`bad IPv4 ${addr}`);
  return p;
}

function csum(bytes: Uint8Array, start = 0, end = bytes.length, initial = 0): number {
  let sum = initial;
  for (let i = start; i < end; i += 2) sum += (bytes[i]! << 8) + (i + 1 < end ? bytes[i + 1]! : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export interface Ipv4PacketOptions {
  src?: string;
  dst: string;
  proto?: 'udp' | 'tcp' | 'icmp';
  sport?: number;
  dport?: number;
  ttl?: number;
  payload?: Uint8Array;
  vlans?: number[];
  tcpFlags?: number;
  srcMac?: Uint8Array;
  dstMac?: Uint8Array;
}

export function ipv4Packet(o: Ipv4PacketOptions): Buffer {
  const payload = o.payload ?? new Uint8Array(16);
  const proto = o.proto ?? 'udp';
  const l4len = proto === 'tcp' ? 20 : 8;
  const vlans = o.vlans ?? [];
  const l2 = 14 + 4 * vlans.length;
  const total = 20 + l4len + payload.length;
  const b = Buffer.alloc(l2 + total);
  b.set(o.dstMac ?? MAC_B, 0);
  b.set(o.srcMac ?? MAC_A, 6);
  let off = 12;
  vlans.forEach((id, i) => {
    b.writeUInt16BE(i === 0 && vlans.length > 1 ? 0x88a8 : 0x8100, off);
    b.writeUInt16BE(id & 0xfff, off + 2);
    off += 4;
  });
  b.writeUInt16BE(0x0800, off);
  const ip = l2;
  b[ip] = 0x45;
  b.writeUInt16BE(total, ip + 2);
  b[ip + 8] = o.ttl ?? 64;
  b[ip + 9] = proto === 'udp' ? 17 : proto === 'tcp' ? 6 : 1;
  b.set(ipv4(o.src ?? '10.0.0.1'), ip + 12);
  b.set(ipv4(o.dst), ip + 16);
  b.writeUInt16BE(csum(b, ip, ip + 20), ip + 10);
  const l4 = ip + 20;
  if (proto === 'icmp') {
    b[l4] = 8; // echo request
    b.set(payload, l4 + 8);
    b.writeUInt16BE(csum(b, l4, l4 + 8 + payload.length), l4 + 2);
    return b;
  }
  b.writeUInt16BE(o.sport ?? 40000, l4);
  b.writeUInt16BE(o.dport ?? 53, l4 + 2);
  if (proto === 'udp') b.writeUInt16BE(8 + payload.length, l4 + 4);
  else {
    b[l4 + 12] = 5 << 4;
    b[l4 + 13] = o.tcpFlags ?? 0x02;
    b.writeUInt16BE(65535, l4 + 14);
  }
  b.set(payload, l4 + l4len);
  // Pseudo-header sum, then the L4 checksum over header + payload.
  let pseudo = 0;
  for (let i = 12; i < 20; i += 2) pseudo += b.readUInt16BE(ip + i);
  pseudo += b[ip + 9]! + (l4len + payload.length);
  const c = csum(b, l4, l4 + l4len + payload.length, pseudo);
  b.writeUInt16BE(proto === 'udp' && c === 0 ? 0xffff : c, l4 + (proto === 'udp' ? 6 : 16));
  return b;
}

export function ipv6Bytes(addr: string): Uint8Array {
  const [head, tail] = addr.includes('::') ? addr.split('::') : [addr, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined ? (tail ? tail.split(':') : []) : [];
  const groups = tail !== undefined ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = parseInt(g, 16);
    out[2 * i] = n >> 8;
    out[2 * i + 1] = n & 255;
  });
  return out;
}

/** An IPv6 UDP or TCP packet (checksums are not checked by the pipeline; left zero). */
export function ipv6Packet(o: {
  src: string;
  dst: string;
  proto?: 'udp' | 'tcp';
  sport?: number;
  dport?: number;
  tcpFlags?: number;
  hopLimit?: number;
}): Buffer {
  const proto = o.proto ?? 'udp';
  const l4 = proto === 'tcp' ? 20 : 8;
  const b = Buffer.alloc(14 + 40 + l4 + 8);
  b.set(MAC_B, 0);
  b.set(MAC_A, 6);
  b.writeUInt16BE(0x86dd, 12);
  b[14] = 0x60;
  b.writeUInt16BE(l4 + 8, 14 + 4);
  b[14 + 6] = proto === 'tcp' ? 6 : 17;
  b[14 + 7] = o.hopLimit ?? 64;
  b.set(ipv6Bytes(o.src), 14 + 8);
  b.set(ipv6Bytes(o.dst), 14 + 24);
  const p = 14 + 40;
  b.writeUInt16BE(o.sport ?? 40000, p);
  b.writeUInt16BE(o.dport ?? 53, p + 2);
  if (proto === 'udp') b.writeUInt16BE(8 + 8, p + 4);
  else {
    b[p + 12] = 5 << 4;
    b[p + 13] = o.tcpFlags ?? 0x02;
  }
  return b;
}
