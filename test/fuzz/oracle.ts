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
    };
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
  for (let headers = 0; ; headers++) {
    if (next === 0 || next === 43 || next === 60 || next === 44) {
      if (headers >= 6) return no('more than 6 extension headers');
      if (next === 44) {
        if (at + 8 > end) return no('fragment header cut short');
        const off = ((frame[at + 2]! << 8) | frame[at + 3]!) & 0xfff8;
        next = frame[at]!;
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
  };
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
