/**
 * The fuzz lab's services: NAT, SNAT and DSR from the corpus's server addresses to the lab's
 * gateway, and seed frames that reach the balance stage (connections to them, the backend's
 * replies, ICMP errors about both), so that mutants exercise its tracking, translation and
 * ICMP rewrite.
 */
import { DEFAULT_TABLE_SIZE } from '../../src/lb/maglev.js';
import { parseBackend, parseServiceAddress, type ServiceSpec } from '../../src/lb/service.js';
import { parseAddress } from '../../src/util/ip.js';
import {
  eth,
  icmpError4,
  icmpError6,
  ipv4Fragments,
  ipv4Packet,
  ipv6Fragments,
  ipv6Packet,
  PROTO,
  tcp,
  TCP,
  udp,
} from '../helpers/craft.js';
import { MAC_A, MAC_B } from '../helpers/packets.js';
import type { OracleView } from './oracle.js';

/** The corpus's client and server addresses (harness.ts builds its corpus with them), the
 * lab's gateway as the backend (on the router's segment, as DSR needs), a router on the
 * client's side that reports errors, and the address SNAT services give backends. */
const SIDES = [
  { family: 4 as const, client: '10.231.1.2', vip: '10.99.2.2', backend: '10.234.0.2', router: '10.231.1.1', snat: '10.234.0.100' },
  { family: 6 as const, client: 'fd31:1::2', vip: 'fd99::2', backend: 'fd34::2', router: 'fd31:1::1', snat: 'fd34::100' },
];
/** Each service of a side: its protocol, mode, and the service's and backend's ports. */
const KIND = {
  tcp: { proto: 'tcp', mode: 'nat', vip: 80, backend: 8080, snat: false },
  udp: { proto: 'udp', mode: 'nat', vip: 5353, backend: 5353, snat: false },
  snat: { proto: 'tcp', mode: 'nat', vip: 443, backend: 8443, snat: true },
  dsr: { proto: 'tcp', mode: 'dsr', vip: 8000, backend: 8000, snat: false },
} as const;
const KINDS = Object.entries(KIND).map(([name, k]) => ({ name, ...k }));

const bracket = (family: 4 | 6, addr: string) => (family === 4 ? addr : `[${addr}]`);

export function fuzzServices(): ServiceSpec[] {
  return SIDES.flatMap((s) =>
    KINDS.map((k) => {
      const name = `fz-${k.name}${s.family}`;
      return {
        name,
        ...parseServiceAddress(`${bracket(s.family, s.vip)}:${k.vip}/${k.proto}`, name),
        mode: k.mode,
        hash: 'five-tuple' as const,
        tableSize: DEFAULT_TABLE_SIZE,
        backends: [parseBackend(`${bracket(s.family, s.backend)}:${k.backend}`, name)],
        ...(k.snat ? { snat: parseAddress(s.snat) } : {}),
      };
    }),
  );
}

const hexOf = (family: 4 | 6, addr: string) => Buffer.from(parseAddress(addr).addr.subarray(0, family === 4 ? 4 : 16)).toString('hex');

/**
 * What a packet to a service must leave as, when the pipeline forwards it: to the backend
 * with its source untouched (NAT), from the SNAT address (its port one of the service's
 * choosing), or to the service's address as it was (DSR: only the MAC changes). Null for a
 * packet to no service.
 */
export function natTarget(o: OracleView): { dst: string; dport: number; src?: string; sport?: number } | null {
  if (o.sport == null || o.dport == null) return null;
  for (const s of SIDES) {
    if (o.family !== s.family || o.dst !== hexOf(s.family, s.vip)) continue;
    const proto = o.proto === PROTO.TCP ? 'tcp' : o.proto === PROTO.UDP ? 'udp' : null;
    const k = KINDS.find((x) => x.proto === proto && x.vip === o.dport);
    if (!k) return null;
    if (k.mode === 'dsr') return { dst: o.dst, dport: o.dport, src: o.src, sport: o.sport };
    const to = { dst: hexOf(s.family, s.backend), dport: k.backend };
    return k.snat ? { ...to, src: hexOf(s.family, s.snat) } : { ...to, src: o.src, sport: o.sport };
  }
  return null;
}

/** Seed frames for the services: each side's connections, replies and ICMP errors. */
export function serviceSeeds(): Buffer[] {
  const frames: Buffer[] = [];
  const frame = (ip: Uint8Array) => eth({ dst: MAC_B, src: MAC_A }, ip);
  for (const s of SIDES) {
    const f = s.family;
    const ip = (src: string, dst: string, proto: number, payload: Uint8Array) =>
      f === 4 ? ipv4Packet({ src, dst, proto }, payload) : ipv6Packet({ src, dst, next: proto }, payload);
    const seg = (src: string, dst: string, sport: number, dport: number, flags: number, data = 32) =>
      ip(src, dst, PROTO.TCP, tcp({ family: f, src, dst }, { sport, dport, flags }, new Uint8Array(data).fill(0x63)));
    const dgram = (src: string, dst: string, sport: number, dport: number) =>
      ip(src, dst, PROTO.UDP, udp({ family: f, src, dst }, { sport, dport }, new Uint8Array(24).fill(0x64)));
    const error = (src: string, dst: string, quote: Uint8Array) =>
      f === 4
        ? ip(src, dst, PROTO.ICMP, icmpError4(3, 4, 1400, quote))
        : ip(src, dst, PROTO.ICMPV6, icmpError6(src, dst, 2, 0, 1400, quote));
    const { tcp: t, udp: u, snat: sn, dsr } = KIND;
    // The client's connections to the services, the backend's replies to it (for SNAT, to the
    // SNAT address: a mutant may hit the port the service chose).
    for (const flags of [TCP.SYN, TCP.ACK, TCP.ACK | TCP.PSH, TCP.FIN | TCP.ACK, TCP.RST]) {
      for (const k of [t, sn, dsr]) frames.push(frame(seg(s.client, s.vip, 40000, k.vip, flags)));
    }
    for (const flags of [TCP.SYN | TCP.ACK, TCP.ACK, TCP.RST | TCP.ACK]) {
      frames.push(frame(seg(s.backend, s.client, t.backend, 40000, flags)));
      frames.push(frame(seg(s.backend, s.snat, sn.backend, 1024, flags)));
    }
    frames.push(frame(dgram(s.client, s.vip, 40010, u.vip)), frame(dgram(s.backend, s.client, u.backend, 40010)));
    // Fragmented datagrams both ways, each first fragment with its later ones: a mutant that
    // keeps a later fragment's datagram follows its first fragment's connection.
    const fragments = (src: string, dst: string, proto: number, l4: Uint8Array, id: number) =>
      (f === 4 ? ipv4Fragments({ src, dst, proto, id }, l4, [24, 48]) : ipv6Fragments({ src, dst, id }, [], proto, l4, [24, 48])).map(
        frame,
      );
    const tseg = (src: string, dst: string, sport: number, dport: number) =>
      tcp({ family: f, src, dst }, { sport, dport, flags: TCP.ACK | TCP.PSH }, new Uint8Array(64).fill(0x65));
    const useg = (src: string, dst: string, sport: number, dport: number) =>
      udp({ family: f, src, dst }, { sport, dport }, new Uint8Array(64).fill(0x66));
    frames.push(
      ...fragments(s.client, s.vip, PROTO.TCP, tseg(s.client, s.vip, 40020, t.vip), 101),
      ...fragments(s.client, s.vip, PROTO.TCP, tseg(s.client, s.vip, 40021, sn.vip), 102),
      ...fragments(s.client, s.vip, PROTO.TCP, tseg(s.client, s.vip, 40022, dsr.vip), 103),
      ...fragments(s.client, s.vip, PROTO.UDP, useg(s.client, s.vip, 40023, u.vip), 104),
      ...fragments(s.backend, s.client, PROTO.TCP, tseg(s.backend, s.client, t.backend, 40020), 105),
      ...fragments(s.backend, s.client, PROTO.UDP, useg(s.backend, s.client, u.backend, 40023), 106),
    );
    // "Too big" from the backend about client → backend, and from a router on the client's
    // side about the service's reply (service → client), for TCP and UDP.
    frames.push(
      frame(error(s.backend, s.client, seg(s.client, s.backend, 40000, t.backend, TCP.ACK, 100))),
      frame(error(s.router, s.vip, seg(s.vip, s.client, t.vip, 40000, TCP.ACK, 100))),
      frame(error(s.backend, s.client, dgram(s.client, s.backend, 40010, u.backend))),
      frame(error(s.router, s.vip, dgram(s.vip, s.client, u.vip, 40010))),
      frame(error(s.backend, s.snat, seg(s.snat, s.backend, 1024, sn.backend, TCP.ACK, 100))),
      frame(error(s.router, s.vip, seg(s.vip, s.client, sn.vip, 40000, TCP.ACK, 100))),
    );
  }
  return frames;
}

type Tuple = Pick<OracleView, 'proto' | 'src' | 'sport' | 'dst' | 'dport'>;
const tupleKey = (t: Tuple) => `${t.proto}|${t.src}|${t.sport}|${t.dst}|${t.dport}`;

/**
 * The translated connections a run has seen leave: for each, what its reply must leave as.
 * A reply (backend → client, or to the SNAT address and port) of a connection seen here must
 * leave from the service to the client; the others are not judged (their connection may come
 * from an earlier run). A FIN or a reset forgets the connection: the service may end it.
 */
export class NatReplies {
  private readonly back = new Map<string, Tuple>();

  /** A packet to a service `arrived` and left `left`, translated. */
  forwarded(arrived: OracleView, left: OracleView): void {
    if (left.dst === arrived.dst) return; // DSR: the backend answers the client itself
    const reply = { proto: left.proto, src: left.dst, sport: left.dport, dst: left.src, dport: left.sport };
    this.back.set(tupleKey(reply), {
      proto: arrived.proto,
      src: arrived.dst,
      sport: arrived.dport,
      dst: arrived.src,
      dport: arrived.sport,
    });
    this.forgetOnClose(arrived, reply);
  }

  /** What the reply `arrived` must leave as, if it is one of a connection seen; forgets a
   * connection its FIN or reset may end. */
  expected(arrived: OracleView): Tuple | null {
    const want = this.back.get(tupleKey(arrived)) ?? null;
    this.forgetOnClose(arrived, arrived);
    return want;
  }

  private forgetOnClose(p: OracleView, reply: Tuple): void {
    if (p.proto === PROTO.TCP && (p.tcpFlags ?? 0) & (TCP.FIN | TCP.RST)) this.back.delete(tupleKey(reply));
  }
}

/**
 * The ports each fragmented datagram's first fragment showed, as the balance stage notes them
 * for its later fragments (bpf/include/pathwise/frag.bpf.h): kept for a first fragment that
 * left translated (to a service, or as a reply of a connection seen), so that the datagram's
 * later fragments are judged as it was. Any other first fragment of the datagram makes them
 * unknown, and so does age near the pipeline's 30 s.
 */
export class FragmentPorts {
  private readonly first = new Map<string, { sport: number; dport: number; at: number }>();

  /** A packet ran; `translated`: it left translated, as a service's or a reply. Any first
   * fragment counts: the guard's record of it has no ports until the balance stage notes them. */
  saw(o: OracleView, translated: boolean): void {
    if (!o.firstFragment || !o.datagram) return;
    if (translated && o.sport != null && o.dport != null) this.first.set(o.datagram, { sport: o.sport, dport: o.dport, at: Date.now() });
    else this.first.delete(o.datagram);
  }

  /** A later fragment as its first fragment showed it (with its ports), null when unknown. */
  ported(later: OracleView): OracleView | null {
    const f = later.datagram ? this.first.get(later.datagram) : undefined;
    if (!f || Date.now() - f.at > 20_000) return null;
    return { ...later, sport: f.sport, dport: f.dport };
  }
}
