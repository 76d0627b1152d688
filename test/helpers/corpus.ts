/**
 * The crafted-packet corpus of issue 13: packets made to slip past a filter, and legitimate
 * ones that must not be caught with them. Every case is one datagram (as one or more frames)
 * from an outside host to a server behind the router, under these rules:
 *
 *   count proto tcp                      x10  (non-terminal matches before the deciding rule)
 *   drop proto tcp dport 22                   (a port rule)
 *   drop proto tcp dport 2222 flags syn,!ack  (a flags rule)
 *   blocklist 198.51.100.0/24, 2001:db8:bad::/48
 *
 * Each case has a class:
 * - drop: an attack (it reaches port 22, is a SYN to 2222, or comes from a blocked source once
 *   the kernel has parsed and reassembled it), or a packet the rules cannot classify. The
 *   pipeline must drop every frame. Unless `kernelDrops`, an unprotected kernel delivers it
 *   (the kernel-oracle test checks that each attack is real).
 * - pass: legitimate; the pipeline drops no frame, and it is delivered as without Pathwise.
 * - kernel: Pathwise must leave it to the kernel (never forward it itself): frames for other
 *   hosts, martians, too big for the egress link, VLAN stacks it cannot see into.
 */
import {
  eth,
  extChain,
  icmpEcho,
  ipv4Fragments,
  ipv4Packet,
  ipv6Fragments,
  ipv6Packet,
  PROTO,
  TCP,
  tcp,
  udp,
  type ExtHeader,
} from './craft.js';

export interface CorpusHosts {
  /** The outside host's and the server's addresses. */
  client4: string;
  server4: string;
  client6: string;
  server6: string;
  /** The router's MAC on the outside link, and the outside host's. */
  routerMac: Uint8Array;
  clientMac: Uint8Array;
}

export type CaseClass = 'drop' | 'pass' | 'kernel';

export interface CorpusCase {
  name: string;
  class: CaseClass;
  frames: Buffer[];
  /** An attack the kernel itself refuses (no VLAN devices here, overlapping fragments...). */
  kernelDrops?: boolean;
  /** An attack some kernels refuse and others deliver: the unprotected pass need not deliver it
   * (Pathwise must still drop it). */
  kernelMayDrop?: boolean;
  /** Depends on the interface the frame arrives on (its MAC): not for `pathwise replay`. */
  liveOnly?: boolean;
}

export const CORPUS_RULES = [
  ...Array.from({ length: 10 }, () => 'count proto tcp'),
  'drop proto tcp dport 22',
  'drop proto tcp dport 2222 flags syn,!ack',
];
export const CORPUS_BLOCKED = ['198.51.100.0/24', '2001:db8:bad::/48'];
export const BLOCKED4 = '198.51.100.7';
export const BLOCKED6 = '2001:db8:bad::7';

/** The corpus for these hosts. IP ids and IPv6 fragment ids are unique per case. */
export function buildCorpus(h: CorpusHosts): CorpusCase[] {
  const cases: CorpusCase[] = [];
  let id = 0x4000;
  let sport = 41000;
  const L2 = { dst: h.routerMac, src: h.clientMac };
  const v4 = (src = h.client4) => ({ family: 4 as const, src, dst: h.server4 });
  const v6 = (src = h.client6) => ({ family: 6 as const, src, dst: h.server6 });
  const add = (name: string, cls: CaseClass, frames: Buffer[], extra: Partial<CorpusCase> = {}) =>
    cases.push({ name, class: cls, frames, ...extra });
  const frame4 = (ip: Uint8Array, l2 = {}) => eth({ ...L2, padTo: 60, ...l2 }, ip);
  const frame6 = (ip: Uint8Array, l2 = {}) => eth({ ...L2, padTo: 60, ...l2 }, ip);

  /** A whole TCP segment over IPv4 / IPv6 (with an optional extension header chain). */
  const tcp4 = (dport: number, flags: number, o: { src?: string; options?: Uint8Array; ttl?: number } = {}) => {
    const a = v4(o.src);
    return ipv4Packet(
      { src: a.src, dst: a.dst, proto: PROTO.TCP, id: id++, options: o.options, ttl: o.ttl },
      tcp(a, { sport: sport++, dport, flags }),
    );
  };
  const udp4 = (dport: number, o: { src?: string; ttl?: number; payload?: Uint8Array<ArrayBuffer>; df?: boolean } = {}) => {
    const a = v4(o.src);
    return ipv4Packet(
      { src: a.src, dst: a.dst, proto: PROTO.UDP, id: id++, ttl: o.ttl, df: o.df },
      udp(a, { sport: sport++, dport }, o.payload),
    );
  };
  const tcp6 = (dport: number, flags: number, chain: ExtHeader[] = [], src?: string) => {
    const a = v6(src);
    const c = extChain(chain, PROTO.TCP);
    const seg = tcp(a, { sport: sport++, dport, flags });
    const payload = new Uint8Array(c.bytes.length + seg.length);
    payload.set(c.bytes);
    payload.set(seg, c.bytes.length);
    return ipv6Packet({ src: a.src, dst: a.dst, next: c.first }, payload);
  };
  const udp6 = (dport: number, chain: ExtHeader[] = [], src?: string, payloadBytes?: Uint8Array<ArrayBuffer>) => {
    const a = v6(src);
    const c = extChain(chain, PROTO.UDP);
    const seg = udp(a, { sport: sport++, dport }, payloadBytes);
    const payload = new Uint8Array(c.bytes.length + seg.length);
    payload.set(c.bytes);
    payload.set(seg, c.bytes.length);
    return ipv6Packet({ src: a.src, dst: a.dst, next: c.first }, payload);
  };
  const nops = (n: number) => new Uint8Array(n).fill(1); // IPv4 NOP options
  const dsts = (n: number): ExtHeader[] => Array.from({ length: n }, () => ({ type: 'dst' }));
  /** A TCP segment with payload, for fragmenting. */
  const seg4 = (dport: number, flags: number, payload = 32) =>
    tcp(v4(), { sport: sport++, dport, flags }, new Uint8Array(payload).fill(0x61));
  const seg6 = (dport: number, flags: number, payload = 32) =>
    tcp(v6(), { sport: sport++, dport, flags }, new Uint8Array(payload).fill(0x62));
  const frag4 = (segment: Uint8Array, cuts: number[], proto = PROTO.TCP) =>
    ipv4Fragments({ src: h.client4, dst: h.server4, proto, id: id++ }, segment, cuts);

  // ---- attacks on port 22 (and the ten count rules before the deciding one) ---------------
  add('tcp syn to 22 (IPv4)', 'drop', [frame4(tcp4(22, TCP.SYN))]);
  add('tcp syn to 22 (IPv6)', 'drop', [frame6(tcp6(22, TCP.SYN))]);
  add('tcp syn to 22 with 4 bytes of IPv4 options', 'drop', [frame4(tcp4(22, TCP.SYN, { options: nops(4) }))]);
  add('tcp syn to 22 with 40 bytes of IPv4 options (ihl 15)', 'drop', [frame4(tcp4(22, TCP.SYN, { options: nops(40) }))]);
  for (let n = 1; n <= 16; n++) {
    // Chains past 12 headers: one 6.18.44 build here delivered all 16, another (fc-v1252) none
    // past 12, to the same namespaces and counters.
    add(`tcp syn to 22 behind ${n} IPv6 destination options header(s)`, 'drop', [frame6(tcp6(22, TCP.SYN, dsts(n)))], {
      kernelMayDrop: n > 12,
    });
  }
  add('tcp syn to 22 behind hop-by-hop, routing and destination options', 'drop', [
    frame6(tcp6(22, TCP.SYN, [{ type: 'hop' }, { type: 'routing' }, { type: 'dst', len8: 2 }])),
  ]);
  add('tcp syn to 22, TCP header cut short (IPv4 total length ends inside it)', 'drop', [
    frame4(
      (() => {
        const a = v4();
        const seg = tcp(a, { sport: sport++, dport: 22, flags: TCP.SYN });
        return ipv4Packet({ src: a.src, dst: a.dst, proto: PROTO.TCP, id: id++ }, seg.subarray(0, 12));
      })(),
    ),
  ]);

  // ---- fragments ---------------------------------------------------------------------------
  add(
    'IPv4 tiny first fragment (8 bytes of TCP), then the rest: syn to 22',
    'drop',
    frag4(seg4(22, TCP.SYN), [8]).map((f) => frame4(f)),
  );
  add(
    'IPv4 fragments in reverse order: syn to 22',
    'drop',
    frag4(seg4(22, TCP.SYN), [24])
      .reverse()
      .map((f) => frame4(f)),
  );
  add(
    'IPv4 fragmented syn to 22, whole TCP header in the first fragment',
    'drop',
    frag4(seg4(22, TCP.SYN, 64), [24, 48]).map((f) => frame4(f)),
  );
  {
    // RFC 1858's tiny fragment, with the flags a naive parser would read from Ethernet padding:
    // ACK there, SYN in the datagram.
    const frames = frag4(seg4(2222, TCP.SYN), [8]);
    const first = frames[0]!;
    add('IPv4 tiny first fragment padded with a forged ACK, then the rest: syn to 2222', 'drop', [
      eth({ ...L2, padTo: 60, padding: (i) => (i === 13 - 8 ? TCP.ACK : 0x50) }, first),
      frame4(frames[1]!),
    ]);
  }
  {
    // RFC 1858's overlap: a fragment at offset 8 rewrites the flags of a SYN|ACK to 2222.
    const seg = seg4(2222, TCP.SYN | TCP.ACK);
    const rewritten = seg.slice(8, 24);
    rewritten[13 - 8] = TCP.SYN;
    const ident = id++;
    add(
      'IPv4 overlapping fragment at offset 8 rewriting syn|ack into syn to 2222',
      'drop',
      [
        frame4(ipv4Packet({ src: h.client4, dst: h.server4, proto: PROTO.TCP, id: ident, mf: true }, seg.subarray(0, 24))),
        frame4(ipv4Packet({ src: h.client4, dst: h.server4, proto: PROTO.TCP, id: ident, offset: 8 }, rewritten)),
      ],
      { kernelDrops: true }, // Linux discards datagrams with overlapping fragments
    );
  }
  add(
    'IPv6 first fragment without the TCP header (RFC 7112): syn to 22',
    'drop',
    ipv6Fragments(
      { src: h.client6, dst: h.server6, id: id++ },
      [],
      PROTO.DSTOPTS,
      concat(extChain([{ type: 'dst', len8: 1 }], PROTO.TCP).bytes, seg6(22, TCP.SYN)),
      [16],
    ).map((f) => frame6(f)),
    { kernelDrops: true }, // Linux drops a first fragment without the upper-layer header
  );
  add(
    'IPv6 fragmented syn to 22, whole TCP header in the first fragment',
    'drop',
    ipv6Fragments({ src: h.client6, dst: h.server6, id: id++ }, [], PROTO.TCP, seg6(22, TCP.SYN, 64), [24, 48]).map((f) => frame6(f)),
  );
  add(
    'IPv6 fragments in reverse order: syn to 22',
    'drop',
    ipv6Fragments({ src: h.client6, dst: h.server6, id: id++ }, [], PROTO.TCP, seg6(22, TCP.SYN), [24])
      .reverse()
      .map((f) => frame6(f)),
  );
  add(
    'IPv6 fragmented syn to 22 behind hop-by-hop (unfragmentable) and destination options',
    'drop',
    ipv6Fragments(
      { src: h.client6, dst: h.server6, id: id++ },
      [{ type: 'hop' }],
      PROTO.DSTOPTS,
      concat(extChain([{ type: 'dst' }], PROTO.TCP).bytes, seg6(22, TCP.SYN)),
      [32],
    ).map((f) => frame6(f)),
  );

  // ---- the flags rule -------------------------------------------------------------------------
  add('tcp syn to 2222 (IPv4)', 'drop', [frame4(tcp4(2222, TCP.SYN))]);
  add('tcp syn to 2222 (IPv6)', 'drop', [frame6(tcp6(2222, TCP.SYN))]);

  // ---- blocked sources, whatever their shape -------------------------------------------------
  add('blocked source: udp (IPv4)', 'drop', [frame4(udp4(53, { src: BLOCKED4 }))]);
  add('blocked source: udp (IPv6)', 'drop', [frame6(udp6(53, [], BLOCKED6))]);
  add('blocked source: 10 IPv6 destination options headers', 'drop', [frame6(udp6(53, dsts(10), BLOCKED6))]);
  add('blocked source: UDP header cut short', 'drop', [
    frame4(
      (() => {
        const a = v4(BLOCKED4);
        return ipv4Packet({ src: a.src, dst: a.dst, proto: PROTO.UDP, id: id++ }, udp(a, { sport: sport++, dport: 53 }).subarray(0, 4));
      })(),
    ),
  ]);
  add(
    'blocked source: IPv4 fragments',
    'drop',
    ipv4Fragments(
      { src: BLOCKED4, dst: h.server4, proto: PROTO.UDP, id: id++ },
      udp(v4(BLOCKED4), { sport: sport++, dport: 53 }, new Uint8Array(48)),
      [24],
    ).map((f) => frame4(f)),
  );
  add('blocked source: VLAN tagged', 'drop', [frame4(udp4(53, { src: BLOCKED4 }), { vlans: [10] })], { kernelDrops: true });

  // ---- VLAN stacks ---------------------------------------------------------------------------
  // This kernel has no VLAN devices (no 8021q): it drops tagged frames, so these only show
  // that the pipeline never routes a tagged frame as untagged, and filters what it can see.
  add('tcp syn to 22, one VLAN tag', 'drop', [frame4(tcp4(22, TCP.SYN), { vlans: [10] })], { kernelDrops: true });
  add('tcp syn to 22, two VLAN tags (802.1ad + 802.1Q)', 'drop', [frame4(tcp4(22, TCP.SYN), { vlans: [100, 10] })], { kernelDrops: true });
  add('tcp syn to 22, three VLAN tags', 'drop', [frame4(tcp4(22, TCP.SYN), { vlans: [100, 10, 5] })], { kernelDrops: true });
  add('udp to 53, one VLAN tag', 'kernel', [frame4(udp4(53), { vlans: [10] })]);

  // ---- unclassifiable, dropped by default (pipeline.unclassified: drop) ---------------------
  add('tcp syn to 80 behind 8 IPv6 destination options headers (beyond the parser)', 'drop', [frame6(tcp6(80, TCP.SYN, dsts(8)))]);

  // ---- legitimate traffic ---------------------------------------------------------------------
  add('tcp syn to 80 (IPv4)', 'pass', [frame4(tcp4(80, TCP.SYN))]);
  add('tcp syn to 80 (IPv6)', 'pass', [frame6(tcp6(80, TCP.SYN))]);
  add('udp to 53 (IPv4)', 'pass', [frame4(udp4(53))]);
  add('udp to 53 (IPv6)', 'pass', [frame6(udp6(53))]);
  add('tcp ack to 2222 (allowed by the flags rule)', 'pass', [frame4(tcp4(2222, TCP.ACK))]);
  add('tcp syn|ack to 2222 (allowed by the flags rule)', 'pass', [frame6(tcp6(2222, TCP.SYN | TCP.ACK))]);
  add('tcp syn to 80 with IPv4 options', 'pass', [frame4(tcp4(80, TCP.SYN, { options: nops(8) }))]);
  add('tcp syn to 80 behind 2 IPv6 destination options headers', 'pass', [frame6(tcp6(80, TCP.SYN, dsts(2)))]);
  add('tcp syn to 80 behind 6 IPv6 destination options headers', 'pass', [frame6(tcp6(80, TCP.SYN, dsts(6)))]);
  add(
    'IPv4 fragmented udp to 53, three fragments in order',
    'pass',
    ipv4Fragments(
      { src: h.client4, dst: h.server4, proto: PROTO.UDP, id: id++ },
      udp(v4(), { sport: sport++, dport: 53 }, new Uint8Array(64)),
      [24, 48],
    ).map((f) => frame4(f)),
  );
  add(
    'IPv4 fragmented syn to 80, whole TCP header first',
    'pass',
    frag4(seg4(80, TCP.SYN, 40), [24]).map((f) => frame4(f)),
  );
  add(
    'IPv6 fragmented udp to 53, in order',
    'pass',
    ipv6Fragments(
      { src: h.client6, dst: h.server6, id: id++ },
      [],
      PROTO.UDP,
      udp(v6(), { sport: sport++, dport: 53 }, new Uint8Array(64)),
      [24, 48],
    ).map((f) => frame6(f)),
  );
  add('icmp echo (IPv4)', 'pass', [frame4(ipv4Packet({ src: h.client4, dst: h.server4, proto: PROTO.ICMP, id: id++ }, icmpEcho(7)))]);
  add('short udp padded to 60 bytes with junk', 'pass', [
    eth(
      { ...L2, padTo: 60, padding: () => 0xff },
      ipv4Packet(
        { src: h.client4, dst: h.server4, proto: PROTO.UDP, id: id++ },
        udp(v4(), { sport: sport++, dport: 53 }, new Uint8Array(0)),
      ),
    ),
  ]);
  add('udp to 53 larger than the server link MTU (the kernel fragments it)', 'pass', [frame4(udp4(53, { payload: new Uint8Array(1400) }))]);

  // ---- the kernel's business ------------------------------------------------------------------
  add('udp to 53 in a frame for another MAC', 'kernel', [frame4(udp4(53), { dst: Uint8Array.from([0x02, 0, 0, 0, 0x99, 0x99]) })], {
    liveOnly: true,
  });
  // The router's MAC with one byte changed in each of the two words the check compares.
  const otherMac = (byte: number) => Uint8Array.from(h.routerMac, (b, i) => (i === byte ? b ^ 0x10 : b));
  add("udp to 53 in a frame for the router's MAC but its third byte", 'kernel', [frame4(udp4(53), { dst: otherMac(2) })], {
    liveOnly: true,
  });
  add("udp to 53 in a frame for the router's MAC but its last byte", 'kernel', [frame4(udp4(53), { dst: otherMac(5) })], {
    liveOnly: true,
  });
  add('udp to 53 in a broadcast frame', 'kernel', [frame4(udp4(53), { dst: new Uint8Array(6).fill(0xff) })], { liveOnly: true });
  add('udp from 127.0.0.1 (martian source)', 'kernel', [frame4(udp4(53, { src: '127.0.0.1' }))]);
  add('udp from 0.0.0.5 (martian source)', 'kernel', [frame4(udp4(53, { src: '0.0.0.5' }))]);
  add('udp from fe80::1 (link-local source)', 'kernel', [frame6(udp6(53, [], 'fe80::1'))]);
  add('udp from ::1 (loopback source)', 'kernel', [frame6(udp6(53, [], '::1'))]);
  add('udp with ttl 1', 'kernel', [frame4(udp4(53, { ttl: 1 }))]);
  add('udp to 53 larger than the server link MTU, DF set (the kernel answers ICMP)', 'kernel', [
    frame4(udp4(53, { payload: new Uint8Array(1400), df: true })),
  ]);
  add('IPv6 udp larger than the server link MTU (the kernel answers packet too big)', 'kernel', [
    frame6(udp6(53, [], undefined, new Uint8Array(1400))),
  ]);
  add('IPv4 header cut short', 'kernel', [frame4(tcp4(80, TCP.SYN)).subarray(0, 14 + 16)]);
  add('IPv4 total length beyond the frame', 'kernel', [
    frame4(
      ipv4Packet({ src: h.client4, dst: h.server4, proto: PROTO.UDP, id: id++, totLen: 200 }, udp(v4(), { sport: sport++, dport: 53 })),
    ),
  ]);
  return cases;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
