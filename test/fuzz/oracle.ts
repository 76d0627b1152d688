/**
 * The fuzz test's oracle: a strict parser written apart from the BPF one, which says whether a
 * frame is one the fast path may forward (every header it needs present and consistent, within
 * the IP packet; untagged; not a fragment attack; not martian, multicast or out of TTL), and
 * what its 5-tuple is. The pipeline may leave more to the kernel than this allows, never less.
 *
 * The tuple is also given for a frame that is not routable only because of what its fields
 * say (up to two VLAN tags, a martian or multicast address, its TTL): its headers are whole,
 * so the rules can judge it, and the harness checks that no such frame gets past one. So is
 * the IP part of one whose transport header is cut short (l4Hidden), which a rule on ports
 * must not let through either (the pipeline fails closed).
 */
export interface OracleView {
  routable: boolean;
  /** Why not (for messages). */
  why?: string;
  family?: 4 | 6;
  proto?: number;
  src?: string;
  dst?: string;
  /** null: the packet carries none that can be read (a later fragment, a protocol without). */
  sport?: number | null;
  dport?: number | null;
  /** The TCP header's flags byte, when the ports are a TCP header's. */
  tcpFlags?: number | null;
  /** The transport header is cut short: its ports and flags are there to no one. */
  l4Hidden?: boolean;
  /** A fragment, first or later. */
  fragment?: boolean;
  /** The first fragment of its datagram (offset 0). */
  firstFragment?: boolean;
  /** A fragment's datagram, as its fragments name it: addresses, identification (and over
   * IPv4 the protocol). */
  datagram?: string;
}

const no = (why: string): OracleView => ({ routable: false, why });

const L4_HEADER: Record<number, number> = { 6: 20, 17: 8, 1: 4, 58: 4 };

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, '0')).join('');

function martian4(src: number, dst: number): string | null {
  if (src >>> 24 === 0 || src >>> 24 === 127 || src >>> 28 === 0xe || src === 0xffffffff) return 'martian source';
  if (dst >>> 24 === 0 || dst >>> 24 === 127) return 'martian destination';
  if (dst >>> 28 === 0xe || dst === 0xffffffff) return 'multicast or broadcast destination';
  return null;
}

function martian6(src: Uint8Array, dst: Uint8Array): string | null {
  const zero96 = (a: Uint8Array) => a.subarray(0, 12).every((b) => b === 0);
  const lowWord = (a: Uint8Array) => (a[12]! << 24) | (a[13]! << 16) | (a[14]! << 8) | a[15]!;
  if (zero96(src) && (lowWord(src) === 0 || lowWord(src) === 1)) return 'unspecified or loopback source';
  if (src[0] === 0xff) return 'multicast source';
  if (src[0] === 0xfe && (src[1]! & 0xc0) === 0x80) return 'link-local source';
  if (zero96(dst) && (lowWord(dst) === 0 || lowWord(dst) === 1)) return 'unspecified or loopback destination';
  if (dst[0] === 0xff) return 'multicast destination';
  if (dst[0] === 0xfe && (dst[1]! & 0xc0) === 0x80) return 'link-local destination';
  return null;
}

type Ports = { sport: number | null; dport: number | null; tcpFlags: number | null };
const NO_PORTS: Ports = { sport: null, dport: null, tcpFlags: null };

function ports(frame: Uint8Array, at: number, proto: number): Ports {
  if (proto !== 6 && proto !== 17) return NO_PORTS;
  return {
    sport: (frame[at]! << 8) | frame[at + 1]!,
    dport: (frame[at + 2]! << 8) | frame[at + 3]!,
    tcpFlags: proto === 6 ? frame[at + 13]! : null,
  };
}

/** A frame whose headers are whole but whose fields keep it from the fast path. */
const unroutable = (v: OracleView, why: string | null): OracleView => (why ? { ...v, routable: false, why } : v);

function ipv4(frame: Uint8Array, ip: number, tagged: string | null): OracleView {
  if (frame.length < ip + 20) return no('IPv4 header cut short');
  if (frame[ip]! >> 4 !== 4) return no('IPv4 version');
  const hlen = (frame[ip]! & 15) * 4;
  const tot = (frame[ip + 2]! << 8) | frame[ip + 3]!;
  if (hlen < 20 || tot < hlen) return no('IPv4 header or total length inconsistent');
  if (ip + tot > frame.length) return no('IPv4 total length beyond the frame');
  const fragField = (frame[ip + 6]! << 8) | frame[ip + 7]!;
  const offset = fragField & 0x1fff;
  const mf = (fragField & 0x2000) !== 0;
  const proto = frame[ip + 9]!;
  const view = (sp: Ports): OracleView => {
    const src = (frame[ip + 12]! << 24) | (frame[ip + 13]! << 16) | (frame[ip + 14]! << 8) | frame[ip + 15]!;
    const dst = (frame[ip + 16]! << 24) | (frame[ip + 17]! << 16) | (frame[ip + 18]! << 8) | frame[ip + 19]!;
    const v: OracleView = {
      routable: true,
      family: 4,
      proto,
      src: hex(frame.subarray(ip + 12, ip + 16)),
      dst: hex(frame.subarray(ip + 16, ip + 20)),
      ...sp,
      fragment: mf || offset > 0,
    };
    if (v.fragment) {
      v.datagram = `4|${v.src}|${v.dst}|${(frame[ip + 4]! << 8) | frame[ip + 5]!}|${proto}`;
      v.firstFragment = offset === 0;
    }
    return unroutable(v, tagged ?? martian4(src >>> 0, dst >>> 0) ?? (frame[ip + 8]! <= 1 ? 'TTL' : null));
  };
  if (offset > 0) {
    if (proto === 6 && offset === 1) return no('TCP fragment at offset 8 (RFC 1858)');
    return view(NO_PORTS);
  }
  const need = L4_HEADER[proto] ?? 0;
  if (hlen + need > tot)
    return {
      ...view(NO_PORTS),
      routable: false,
      why: mf ? 'first fragment without the whole transport header' : 'transport header cut short',
      l4Hidden: true,
    };
  return view(ports(frame, ip + hlen, proto));
}

function ipv6(frame: Uint8Array, ip: number, tagged: string | null): OracleView {
  if (frame.length < ip + 40) return no('IPv6 header cut short');
  if (frame[ip]! >> 4 !== 6) return no('IPv6 version');
  const plen = (frame[ip + 4]! << 8) | frame[ip + 5]!;
  const end = ip + 40 + plen;
  if (end > frame.length) return no('IPv6 payload length beyond the frame');
  let next = frame[ip + 6]!;
  let at = ip + 40;
  let first = false;
  let later = false;
  let id = 0;
  for (let headers = 0; ; headers++) {
    if (next === 0 || next === 43 || next === 60 || next === 44) {
      if (headers >= 6) return no('more than 6 extension headers');
      if (next === 44) {
        if (at + 8 > end) return no('fragment header cut short');
        const off = ((frame[at + 2]! << 8) | frame[at + 3]!) & 0xfff8;
        next = frame[at]!;
        id = new DataView(frame.buffer, frame.byteOffset + at + 4, 4).getUint32(0);
        if (off) {
          later = true;
          break;
        }
        first = true;
        at += 8;
      } else {
        if (at + 2 > end) return no('extension header cut short');
        next = frame[at]!;
        at += (frame[at + 1]! + 1) * 8;
      }
      continue;
    }
    break;
  }
  let sp = NO_PORTS;
  let hidden: string | null = null;
  if (!later && next !== 59) {
    const need = L4_HEADER[next] ?? 0;
    if (at + need > end) hidden = first ? 'first fragment without the transport header (RFC 7112)' : 'transport header cut short';
    else sp = ports(frame, at, next);
  }
  const v: OracleView = {
    routable: true,
    family: 6,
    proto: next,
    src: hex(frame.subarray(ip + 8, ip + 24)),
    dst: hex(frame.subarray(ip + 24, ip + 40)),
    ...sp,
    fragment: first || later,
  };
  if (v.fragment) {
    v.datagram = `6|${v.src}|${v.dst}|${id}`;
    v.firstFragment = first;
  }
  if (hidden) return { ...v, routable: false, why: hidden, l4Hidden: true };
  const bad = martian6(frame.subarray(ip + 8, ip + 24), frame.subarray(ip + 24, ip + 40));
  return unroutable(v, tagged ?? bad ?? (frame[ip + 7]! <= 1 ? 'hop limit' : null));
}

export function oracleView(frame: Uint8Array): OracleView {
  let at = 12;
  let tagged: string | null = null;
  for (let tags = 0; ; tags++) {
    if (frame.length < at + 2) return no('Ethernet header cut short');
    const type = (frame[at]! << 8) | frame[at + 1]!;
    if (type === 0x8100 || type === 0x88a8) {
      // The pipeline reads two tags and leaves tagged frames to the kernel's VLAN devices.
      if (tags === 2) return no('more than two VLAN tags');
      tagged = 'VLAN tagged';
      at += 4;
      continue;
    }
    if (type === 0x0800) return ipv4(frame, at + 2, tagged);
    if (type === 0x86dd) return ipv6(frame, at + 2, tagged);
    return no('not IP');
  }
}

/** A checksum as a receiver would find it: right, wrong, or absent (an IPv4 UDP zero). */
export type ChecksumState = 'ok' | 'bad' | 'none';

/** The frame's IPv4 header checksum and its transport checksum, each null where it cannot be
 * judged (no IPv4 header; a fragment, an IPv6 routing header, a transport header cut short). */
export interface Checksums {
  ip: ChecksumState | null;
  l4: ChecksumState | null;
}

/** The one's-complement sum of the bytes [from, to) (an odd last byte padded), added to `sum`. */
function sum16(b: Uint8Array, from: number, to: number, sum = 0): number {
  for (let i = from; i + 1 < to; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
  if ((to - from) & 1) sum += b[to - 1]! << 8;
  return sum;
}

const verifies = (sum: number): boolean => {
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum === 0xffff;
};

const MIN_L4: Record<number, number> = { 6: 20, 17: 8, 1: 8, 58: 8 };

function l4State(frame: Uint8Array, at: number, end: number, proto: number, pseudo: number, v4: boolean): ChecksumState | null {
  const min = MIN_L4[proto];
  if (min === undefined || at + min > end) return null;
  if (proto === 17 && v4 && frame[at + 6] === 0 && frame[at + 7] === 0) return 'none';
  return verifies(sum16(frame, at, end, proto === 1 ? 0 : pseudo)) ? 'ok' : 'bad';
}

export function checksums(frame: Uint8Array): Checksums {
  const none: Checksums = { ip: null, l4: null };
  let at = 12;
  for (let tags = 0; tags < 3; tags++) {
    if (frame.length < at + 2) return none;
    const type = (frame[at]! << 8) | frame[at + 1]!;
    if (type === 0x8100 || type === 0x88a8) {
      at += 4;
      continue;
    }
    const ip = at + 2;
    if (type === 0x0800) {
      if (frame.length < ip + 20 || frame[ip]! >> 4 !== 4) return none;
      const hlen = (frame[ip]! & 15) * 4;
      const tot = (frame[ip + 2]! << 8) | frame[ip + 3]!;
      if (hlen < 20 || tot < hlen || ip + tot > frame.length) return none;
      const ipState: ChecksumState = verifies(sum16(frame, ip, ip + hlen)) ? 'ok' : 'bad';
      const fragment = (((frame[ip + 6]! << 8) | frame[ip + 7]!) & 0x3fff) !== 0;
      const proto = frame[ip + 9]!;
      const pseudo = sum16(frame, ip + 12, ip + 20) + proto + (tot - hlen);
      return { ip: ipState, l4: fragment ? null : l4State(frame, ip + hlen, ip + tot, proto, pseudo, true) };
    }
    if (type === 0x86dd) {
      if (frame.length < ip + 40 || frame[ip]! >> 4 !== 6) return none;
      const end = ip + 40 + ((frame[ip + 4]! << 8) | frame[ip + 5]!);
      if (end > frame.length) return none;
      let next = frame[ip + 6]!;
      let l4 = ip + 40;
      for (let h = 0; next === 0 || next === 60; h++) {
        if (h === 8 || l4 + 2 > end) return none;
        next = frame[l4]!;
        l4 += (frame[l4 + 1]! + 1) * 8;
      }
      // A routing header changes the pseudo-header's destination, a fragment splits the data.
      if (next === 43 || next === 44 || l4 > end) return none;
      const len = end - l4;
      const pseudo = sum16(frame, ip + 8, ip + 40) + (len >>> 16) + (len & 0xffff) + next;
      return { ip: null, l4: l4State(frame, l4, end, next, pseudo, false) };
    }
    return none;
  }
  return none;
}
