/**
 * Frames built piece by piece, for packets no well-behaved stack sends: IPv4 with options and
 * any fragment shape, IPv6 with any chain of extension headers, VLAN stacks, frames cut short
 * or padded with chosen bytes. Transport checksums are computed over the whole datagram (so a
 * fragmented one reassembles into a valid segment); everything else is as asked, even when
 * inconsistent.
 */
import { ipv4, ipv6Bytes } from './packets.js';

export const PROTO = { TCP: 6, UDP: 17, ICMP: 1, ICMPV6: 58, HOP: 0, ROUTING: 43, FRAGMENT: 44, DSTOPTS: 60, NONE: 59 } as const;
export const TCP = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10 } as const;

export interface Addrs {
  family: 4 | 6;
  src: string;
  dst: string;
}

const addrBytes = (a: Addrs, which: 'src' | 'dst') => Uint8Array.from(a.family === 4 ? ipv4(a[which]) : ipv6Bytes(a[which]));

function sum16(bytes: Uint8Array, initial = 0): number {
  let s = initial;
  for (let i = 0; i < bytes.length; i += 2) s += (bytes[i]! << 8) + (i + 1 < bytes.length ? bytes[i + 1]! : 0);
  return s;
}

function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** The transport checksum over the pseudo header and the whole segment. */
function l4Checksum(a: Addrs, proto: number, segment: Uint8Array): number {
  const pseudo = new Uint8Array(a.family === 4 ? 12 : 40);
  const v = new DataView(pseudo.buffer);
  pseudo.set(addrBytes(a, 'src'), 0);
  pseudo.set(addrBytes(a, 'dst'), a.family === 4 ? 4 : 16);
  if (a.family === 4) {
    pseudo[9] = proto;
    v.setUint16(10, segment.length);
  } else {
    v.setUint32(32, segment.length);
    pseudo[39] = proto;
  }
  return fold(sum16(segment, sum16(pseudo)));
}

/** A TCP segment (20-byte header, no options) with a correct checksum. */
export function tcp(
  a: Addrs,
  o: { sport?: number; dport: number; flags: number; seq?: number; ack?: number; window?: number },
  payload = new Uint8Array(0),
): Uint8Array {
  const b = new Uint8Array(20 + payload.length);
  const v = new DataView(b.buffer);
  v.setUint16(0, o.sport ?? 40000);
  v.setUint16(2, o.dport);
  v.setUint32(4, o.seq ?? 1000);
  v.setUint32(8, o.ack ?? (o.flags & TCP.ACK ? 1 : 0));
  b[12] = 5 << 4;
  b[13] = o.flags;
  v.setUint16(14, o.window ?? 65535);
  b.set(payload, 20);
  v.setUint16(16, l4Checksum(a, PROTO.TCP, b));
  return b;
}

/** A UDP datagram with a correct checksum. */
export function udp(a: Addrs, o: { sport?: number; dport: number }, payload = new Uint8Array(16)): Uint8Array {
  const b = new Uint8Array(8 + payload.length);
  const v = new DataView(b.buffer);
  v.setUint16(0, o.sport ?? 40000);
  v.setUint16(2, o.dport);
  v.setUint16(4, b.length);
  b.set(payload, 8);
  const c = l4Checksum(a, PROTO.UDP, b);
  v.setUint16(6, c === 0 ? 0xffff : c);
  return b;
}

/** An ICMP (v4) echo request. */
export function icmpEcho(id: number, payload = new Uint8Array(16)): Uint8Array {
  const b = new Uint8Array(8 + payload.length);
  b[0] = 8;
  new DataView(b.buffer).setUint16(4, id);
  b.set(payload, 8);
  new DataView(b.buffer).setUint16(2, fold(sum16(b)));
  return b;
}

/** An ICMP error message: type, code, the 4 bytes after the checksum (e.g. the MTU), the quoted packet; `checksum` of the whole. */
function icmpError(type: number, code: number, rest: number, quote: Uint8Array, checksum: (b: Uint8Array) => number): Uint8Array {
  const b = new Uint8Array(8 + quote.length);
  const v = new DataView(b.buffer);
  b[0] = type;
  b[1] = code;
  v.setUint32(4, rest);
  b.set(quote, 8);
  v.setUint16(2, checksum(b));
  return b;
}

/** An ICMP (v4) error: its checksum covers the message alone. */
export const icmpError4 = (type: number, code: number, rest: number, quote: Uint8Array) =>
  icmpError(type, code, rest, quote, (b) => fold(sum16(b)));

/** An ICMPv6 error from `src` to `dst`: its checksum covers them too (the pseudo-header). */
export const icmpError6 = (src: string, dst: string, type: number, code: number, rest: number, quote: Uint8Array) =>
  icmpError(type, code, rest, quote, (b) => l4Checksum({ family: 6, src, dst }, PROTO.ICMPV6, b));

export interface Ipv4Options {
  src: string;
  dst: string;
  proto: number;
  id?: number;
  ttl?: number;
  df?: boolean;
  mf?: boolean;
  /** Fragment offset in bytes (a multiple of 8). */
  offset?: number;
  /** Header options (padded to a multiple of 4 with end-of-list). */
  options?: Uint8Array;
  /** Total length as written, when it should lie. */
  totLen?: number;
}

/** An IPv4 packet around `data` (a transport segment, or a fragment of one). */
export function ipv4Packet(o: Ipv4Options, data: Uint8Array): Uint8Array {
  const opts = o.options ?? new Uint8Array(0);
  const optLen = Math.ceil(opts.length / 4) * 4;
  const hlen = 20 + optLen;
  const b = new Uint8Array(hlen + data.length);
  const v = new DataView(b.buffer);
  b[0] = 0x40 | (hlen / 4);
  v.setUint16(2, o.totLen ?? b.length);
  v.setUint16(4, o.id ?? 1);
  v.setUint16(6, (o.df ? 0x4000 : 0) | (o.mf ? 0x2000 : 0) | ((o.offset ?? 0) / 8));
  b[8] = o.ttl ?? 64;
  b[9] = o.proto;
  b.set(ipv4(o.src), 12);
  b.set(ipv4(o.dst), 16);
  b.set(opts, 20);
  v.setUint16(10, fold(sum16(b.subarray(0, hlen))));
  b.set(data, hlen);
  return b;
}

/** IPv4 fragments of one datagram: `segment` cut at the given byte offsets (multiples of 8). */
export function ipv4Fragments(o: Omit<Ipv4Options, 'mf' | 'offset'>, segment: Uint8Array, cuts: number[]): Uint8Array[] {
  const edges = [0, ...cuts, segment.length];
  return edges
    .slice(0, -1)
    .map((start, i) => ipv4Packet({ ...o, offset: start, mf: i < edges.length - 2 }, segment.subarray(start, edges[i + 1])));
}

/** An IPv6 extension header: hop-by-hop, routing or destination options, padded with PadN. */
export interface ExtHeader {
  type: 'hop' | 'routing' | 'dst';
  /** Length in 8-byte units beyond the first 8 (the header's own length field). */
  len8?: number;
}

const EXT_PROTO = { hop: PROTO.HOP, routing: PROTO.ROUTING, dst: PROTO.DSTOPTS } as const;

function extHeaderBytes(h: ExtHeader, next: number): Uint8Array {
  const len8 = h.len8 ?? 0;
  const b = new Uint8Array(8 * (len8 + 1));
  b[0] = next;
  b[1] = len8;
  if (h.type === 'routing') {
    b[2] = 253; // an experimental routing type (RFC 4727): ignored with no segments left
    b[3] = 0; // segments left
  } else if (b.length === 8) {
    b[2] = 1; // PadN covering the rest of the header
    b[3] = b.length - 4;
  } else {
    // Linux refuses more than 7 bytes of padding in a row (RFC 4942): a longer header holds
    // an unknown option of the "skip me" kind instead.
    b[2] = 0x1e;
    b[3] = b.length - 4;
  }
  return b;
}

/** Extension headers, then `next` (the protocol of what follows them). Returns the bytes and the first header's protocol. */
export function extChain(headers: ExtHeader[], next: number): { bytes: Uint8Array; first: number } {
  let bytes = new Uint8Array(0);
  let nextProto = next;
  for (let i = headers.length - 1; i >= 0; i--) {
    const h = extHeaderBytes(headers[i]!, nextProto);
    const joined = new Uint8Array(h.length + bytes.length);
    joined.set(h);
    joined.set(bytes, h.length);
    bytes = joined;
    nextProto = EXT_PROTO[headers[i]!.type];
  }
  return { bytes, first: nextProto };
}

export interface Ipv6Options {
  src: string;
  dst: string;
  /** The protocol of the first header after the fixed one. */
  next: number;
  hopLimit?: number;
  /** Payload length as written, when it should lie. */
  payloadLen?: number;
}

export function ipv6Packet(o: Ipv6Options, payload: Uint8Array): Uint8Array {
  const b = new Uint8Array(40 + payload.length);
  const v = new DataView(b.buffer);
  b[0] = 0x60;
  v.setUint16(4, o.payloadLen ?? payload.length);
  b[6] = o.next;
  b[7] = o.hopLimit ?? 64;
  b.set(ipv6Bytes(o.src), 8);
  b.set(ipv6Bytes(o.dst), 24);
  b.set(payload, 40);
  return b;
}

/**
 * IPv6 fragments of one datagram: `unfragmentable` extension headers go in every fragment,
 * then a fragment header; `fragmentable` (the rest of the chain and the transport segment,
 * whose first protocol is `next`) is cut at the given byte offsets (multiples of 8).
 */
export function ipv6Fragments(
  o: { src: string; dst: string; hopLimit?: number; id: number },
  unfragmentable: ExtHeader[],
  next: number,
  fragmentable: Uint8Array,
  cuts: number[],
): Uint8Array[] {
  const edges = [0, ...cuts, fragmentable.length];
  const before = extChain(unfragmentable, PROTO.FRAGMENT);
  return edges.slice(0, -1).map((start, i) => {
    const part = fragmentable.subarray(start, edges[i + 1]);
    const fh = new Uint8Array(8);
    const v = new DataView(fh.buffer);
    fh[0] = next;
    v.setUint16(2, start | (i < edges.length - 2 ? 1 : 0)); // offset in 8-byte units << 3 == bytes
    v.setUint32(4, o.id);
    const payload = new Uint8Array(before.bytes.length + 8 + part.length);
    payload.set(before.bytes);
    payload.set(fh, before.bytes.length);
    payload.set(part, before.bytes.length + 8);
    return ipv6Packet(
      { src: o.src, dst: o.dst, hopLimit: o.hopLimit, next: unfragmentable.length ? before.first : PROTO.FRAGMENT },
      payload,
    );
  });
}

export interface EthOptions {
  dst: Uint8Array;
  src: Uint8Array;
  /** VLAN ids, outermost first (an outer tag of a stack is 802.1ad). */
  vlans?: number[];
  /** Pad the frame to this length (Ethernet's 60-byte minimum) with these bytes. */
  padTo?: number;
  padding?: (i: number) => number;
}

/** An Ethernet frame around an IP packet (the ethertype follows from its version nibble). */
export function eth(o: EthOptions, ip: Uint8Array): Buffer {
  const vlans = o.vlans ?? [];
  const l2 = 14 + 4 * vlans.length;
  const len = Math.max(l2 + ip.length, o.padTo ?? 0);
  const b = Buffer.alloc(len);
  b.set(o.dst, 0);
  b.set(o.src, 6);
  let off = 12;
  vlans.forEach((id, i) => {
    b.writeUInt16BE(i === 0 && vlans.length > 1 ? 0x88a8 : 0x8100, off);
    b.writeUInt16BE(id & 0xfff, off + 2);
    off += 4;
  });
  b.writeUInt16BE(ip[0]! >> 4 === 6 ? 0x86dd : 0x0800, off);
  b.set(ip, l2);
  for (let i = l2 + ip.length; i < len; i++) b[i] = o.padding ? o.padding(i - l2 - ip.length) : 0;
  return b;
}
