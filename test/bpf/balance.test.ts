/**
 * The balance stage through the real pipeline with BPF_PROG_TEST_RUN. A translated packet is
 * compared byte for byte with the same packet built from scratch (test/helpers/craft.ts
 * computes every checksum over the whole packet): the stage's incremental checksum updates
 * must give exactly what a full computation gives. No route to the backends exists here, so
 * the route stage hands the translated packet to the kernel unchanged otherwise (TTL kept).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Dataplane } from '../../src/dataplane/dataplane.js';
import { reasonName } from '../../src/insight/verdicts.js';
import { XdpAction } from '../../src/kernel/index.js';
import { DEFAULT_TABLE_SIZE } from '../../src/lb/maglev.js';
import { parseBackend, parseServiceAddress, type ServiceSpec } from '../../src/lb/service.js';
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
  type Addrs,
} from '../helpers/craft.js';
import { MAC_A, MAC_B } from '../helpers/packets.js';
import { closeOwnDataplane, openOwnDataplane } from '../helpers/own-dataplane.js';
import { privilegedSkip } from '../helpers/privileged.js';
import { Topology } from '../helpers/topology.js';
import { parseAddress } from '../../src/util/ip.js';

const skip = privilegedSkip();

function service(name: string, address: string, backends: string[], o: Partial<ServiceSpec> = {}): ServiceSpec {
  return {
    name,
    ...parseServiceAddress(address, name),
    mode: 'nat',
    hash: 'five-tuple',
    tableSize: DEFAULT_TABLE_SIZE,
    backends: backends.map((b) => parseBackend(b, name)),
    ...o,
  };
}

/** A frame from the client's MAC to the router's around an IP packet. */
const frame = (ip: Uint8Array) => eth({ dst: MAC_B, src: MAC_A }, ip);

function tcpFrame(a: Addrs, sport: number, dport: number, flags: number = TCP.SYN, payload = new Uint8Array(0)): Buffer {
  const seg = tcp(a, { sport, dport, flags }, payload);
  return frame(
    a.family === 4
      ? ipv4Packet({ src: a.src, dst: a.dst, proto: PROTO.TCP }, seg)
      : ipv6Packet({ src: a.src, dst: a.dst, next: PROTO.TCP }, seg),
  );
}

function udpFrame(a: Addrs, sport: number, dport: number): Buffer {
  const seg = udp(a, { sport, dport });
  return frame(
    a.family === 4
      ? ipv4Packet({ src: a.src, dst: a.dst, proto: PROTO.UDP }, seg)
      : ipv6Packet({ src: a.src, dst: a.dst, next: PROTO.UDP }, seg),
  );
}

/** A TCP segment with 100 bytes of payload, and an ICMP "too big" (v4) or "packet too big"
 * (v6) error quoting a packet, as frames built from scratch. */
function icmpKit(family: 4 | 6) {
  const ip = (src: string, dst: string, proto: number, payload: Uint8Array) =>
    family === 4 ? ipv4Packet({ src, dst, proto }, payload) : ipv6Packet({ src, dst, next: proto }, payload);
  const seg = (src: string, dst: string, sport: number, dport: number) =>
    ip(src, dst, PROTO.TCP, tcp({ family, src, dst }, { sport, dport, flags: TCP.ACK }, new Uint8Array(100)));
  const error = (src: string, dst: string, quote: Uint8Array) =>
    family === 4
      ? frame(ipv4Packet({ src, dst, proto: PROTO.ICMP }, icmpError4(3, 4, 1400, quote)))
      : frame(ipv6Packet({ src, dst, next: PROTO.ICMPV6 }, icmpError6(src, dst, 2, 0, 1400, quote)));
  return { seg, error };
}

describe('the balance stage', { skip, timeout: 5 * 60_000 }, () => {
  let topo: Topology;
  let dp: Dataplane;
  let instance: string;

  const run = (data: Uint8Array) => {
    const r = dp.pipeline.xdp.testRunSync({ data });
    return { retval: r.retval, data: r.data! };
  };
  /** The destination address and port of a translated IPv4 frame. */
  const dst4 = (out: Uint8Array) => `${out.subarray(30, 34).join('.')}:${(out[36]! << 8) | out[37]!}`;

  before(async () => ({ topo, instance, dp } = await openOwnDataplane('lb')));
  after(() => closeOwnDataplane(topo, instance, dp));

  it('NAT: sends a connection to a backend with every checksum as a full computation gives, and its replies back as the service', () => {
    dp.services.set(service('web', '10.240.9.9:80/tcp', ['10.240.2.1:8080', '10.240.2.2:8080', '10.240.2.3:8080@2']));
    const client: Addrs = { family: 4, src: '10.240.1.2', dst: '10.240.9.9' };
    const payload = Uint8Array.from(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    for (const sport of [40000, 40001, 50123]) {
      const out = run(tcpFrame(client, sport, 80, TCP.PSH | TCP.ACK, payload));
      assert.equal(out.retval, XdpAction.PASS, 'no route to the backends: passed on, translated');
      const [addr, port] = dst4(out.data).split(':') as [string, string];
      assert.equal(port, '8080');
      assert.ok(['10.240.2.1', '10.240.2.2', '10.240.2.3'].includes(addr), `a backend: ${addr}`);
      const expect = tcpFrame({ family: 4, src: client.src, dst: addr }, sport, 8080, TCP.PSH | TCP.ACK, payload);
      assert.deepEqual(Buffer.from(out.data), expect, `translated to ${addr}:8080 as built from scratch`);
      // The backend's reply goes back as the service.
      const reply = run(tcpFrame({ family: 4, src: addr, dst: client.src }, 8080, sport, TCP.ACK));
      assert.deepEqual(Buffer.from(reply.data), tcpFrame({ family: 4, src: '10.240.9.9', dst: client.src }, 80, sport, TCP.ACK));
      // The connection keeps its backend.
      assert.equal(dst4(run(tcpFrame(client, sport, 80, TCP.ACK)).data), `${addr}:8080`);
    }
    const row = dp.services.list().find((s) => s.name === 'web')!;
    assert.equal(row.connections, 3, 'three new connections counted');
    assert.equal(
      row.backends.reduce((a, b) => a + b.packets, 0),
      9,
      'three packets each to the service and one reply each, counted per backend',
    );
  });

  it('NAT over IPv6 and UDP, with the UDP checksum patched too', () => {
    dp.services.set(service('dns6', '[fd40::53]:53/udp', ['[fd40:2::1]:5353', '[fd40:2::2]:5353']));
    const a: Addrs = { family: 6, src: 'fd40:1::2', dst: 'fd40::53' };
    const out = run(udpFrame(a, 33333, 53));
    const dst = Buffer.from(out.data.subarray(38, 54));
    const backend = ['fd40:2::1', 'fd40:2::2'].find((b) =>
      Buffer.from(udpFrame({ ...a, dst: b }, 33333, 5353).subarray(38, 54)).equals(dst),
    );
    assert.ok(backend, 'sent to one of the backends');
    assert.deepEqual(Buffer.from(out.data), udpFrame({ ...a, dst: backend }, 33333, 5353));
    const reply = run(udpFrame({ family: 6, src: backend, dst: a.src }, 5353, 33333));
    assert.deepEqual(Buffer.from(reply.data), udpFrame({ family: 6, src: 'fd40::53', dst: a.src }, 53, 33333));
  });

  it('a connection keeps its backend when others are removed; one whose backend went chooses again', () => {
    const backends = Array.from({ length: 4 }, (_, i) => `10.241.2.${i + 1}:80`);
    dp.services.set(service('keep', '10.241.9.9:80/tcp', backends));
    const c: Addrs = { family: 4, src: '10.241.1.2', dst: '10.241.9.9' };
    const before = new Map<number, string>();
    for (let sport = 20000; sport < 20200; sport++) before.set(sport, dst4(run(tcpFrame(c, sport, 80)).data));
    const removed = backends[0]!;
    dp.services.set(service('keep', '10.241.9.9:80/tcp', backends.slice(1)));
    let moved = 0;
    for (const [sport, was] of before) {
      const now = dst4(run(tcpFrame(c, sport, 80, TCP.ACK)).data);
      if (was === removed) {
        assert.notEqual(now, removed, 'the removed backend gets nothing');
        moved++;
      } else assert.equal(now, was, `connection ${sport} stays on ${was}`);
    }
    assert.ok(moved > 20, `some connections were on the removed backend (${moved})`);
  });

  it("a backend that goes down keeps its connections, or under the 'reset' policy has Pathwise reset them", () => {
    const backends = Array.from({ length: 3 }, (_, i) => `10.242.2.${i + 1}:80`);
    const c: Addrs = { family: 4, src: '10.242.1.2', dst: '10.242.9.9' };
    for (const onDown of ['keep', 'reset'] as const) {
      dp.services.set(service('down', '10.242.9.9:80/tcp', backends, onDown === 'reset' ? { onDown } : {}));
      const was = new Map<number, string>();
      for (let sport = 21000; sport < 21090; sport++) was.set(sport, dst4(run(tcpFrame(c, sport, 80)).data));
      const dead = '10.242.2.1:80';
      assert.equal(dp.services.setHealth('down', dead, 'down'), true);
      let onDead = 0;
      for (const [sport, before] of was) {
        const out = run(tcpFrame(c, sport, 80, TCP.ACK));
        if (before !== dead) assert.equal(dst4(out.data), before, `${onDown}: connection ${sport} stays on ${before}`);
        else if (onDown === 'keep') assert.equal(dst4(out.data), dead, `keep: connection ${sport} stays on the backend that is down`);
        else {
          assert.equal(out.retval, XdpAction.TX, `reset: connection ${sport} is answered, not forwarded`);
          if (onDead === 0) {
            // A segment in fragments: the first is answered; a later one has no header to
            // answer, and is dropped.
            const seg = tcp(c, { sport, dport: 80, flags: TCP.ACK }, new Uint8Array(64));
            const frags = ipv4Fragments({ src: c.src, dst: c.dst, proto: PROTO.TCP, id: sport }, seg, [24]).map(frame);
            assert.equal(run(frags[0]!).retval, XdpAction.TX, 'the first fragment is answered');
            assert.equal(run(frags[1]!).retval, XdpAction.DROP, 'a later fragment is not');
            assert.equal(reasonName(dp.trace(frags[1]!).reason), 'lb_reset');
          }
        }
        if (before === dead) onDead++;
      }
      assert.ok(onDead > 10, `some connections were on the backend that went down (${onDead})`);
      // Up again: a connection tracked to it (kept) stays; no new one is refused.
      assert.equal(dp.services.setHealth('down', dead, 'up'), true);
      dp.services.remove('down');
    }
  });

  it("'reset': the reset Pathwise sends is the one a closed port answers with, from the service (IPv4 and IPv6); a UDP flow moves", () => {
    const cases = [
      { family: 4 as const, vip: '10.243.9.9', client: '10.243.1.2', backends: ['10.243.2.1:80', '10.243.2.2:80'] },
      { family: 6 as const, vip: 'fd43::9', client: 'fd43:1::2', backends: ['[fd43:2::1]:80', '[fd43:2::2]:80'] },
    ];
    const payload = Uint8Array.from(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    const ip = (family: 4 | 6, src: string, dst: string, seg: Uint8Array) =>
      family === 4
        ? ipv4Packet({ src, dst, proto: PROTO.TCP, id: 0, df: true, ttl: 64 }, seg)
        : ipv6Packet({ src, dst, next: PROTO.TCP, hopLimit: 64 }, seg);
    /** A segment from the client with its own sequence numbers. */
    const segment = (v: (typeof cases)[number], sport: number, flags: number, body = payload) =>
      frame(
        ip(
          v.family,
          v.client,
          v.vip,
          tcp({ family: v.family, src: v.client, dst: v.vip }, { sport, dport: 80, flags, seq: 5000, ack: 777 }, body),
        ),
      );
    /** The reset as the service's closed port would answer, towards the client's MAC. */
    const reset = (v: (typeof cases)[number], sport: number, flags: number, seq: number, ack: number) =>
      eth(
        { dst: MAC_A, src: MAC_B },
        ip(
          v.family,
          v.vip,
          v.client,
          tcp({ family: v.family, src: v.vip, dst: v.client }, { sport: 80, dport: sport, flags, seq, ack, window: 0 }),
        ),
      );
    for (const v of cases) {
      const name = `rst${v.family}`;
      const svc = v.family === 4 ? `${v.vip}:80/tcp` : `[${v.vip}]:80/tcp`;
      dp.services.set(service(name, svc, v.backends, { onDown: 'reset' }));
      // One connection on each backend (client ports found by trying), tracked by their SYNs.
      const hosts = v.backends.map((b) => b.replace(/^\[?([^\]]*?)\]?:80$/, '$1'));
      const at = (family: 4 | 6, addr: string) =>
        Buffer.from(
          family === 4
            ? ipv4Packet({ src: addr, dst: addr, proto: 0 }, new Uint8Array(0)).subarray(12, 16)
            : ipv6Packet({ src: addr, dst: addr, next: 0 }, new Uint8Array(0)).subarray(8, 24),
        );
      const dstAt = v.family === 4 ? 14 + 16 : 14 + 24;
      const onBackend = new Map<number, number>();
      for (let sport = 30000; onBackend.size < 2 && sport < 30100; sport++) {
        const out = run(segment(v, sport, TCP.SYN, new Uint8Array(0)));
        const dst = Buffer.from(out.data.subarray(dstAt, dstAt + (v.family === 4 ? 4 : 16)));
        const i = hosts.findIndex((h) => at(v.family, h).equals(dst));
        assert.ok(i >= 0, `IPv${v.family}: the SYN went to a backend`);
        if (!onBackend.has(i)) onBackend.set(i, sport);
      }
      const deadPort = onBackend.get(0)!;
      const livePort = onBackend.get(1)!;
      assert.equal(dp.services.setHealth(name, v.backends[0]!, 'down'), true);

      // With ACK: the reset takes the segment's acknowledgment as its sequence number.
      let out = run(segment(v, deadPort, TCP.PSH | TCP.ACK));
      assert.equal(out.retval, XdpAction.TX, `IPv${v.family}: sent back`);
      assert.deepEqual(Buffer.from(out.data), reset(v, deadPort, TCP.RST, 777, 0), `IPv${v.family}: RST seq=ack`);
      // Without ACK: sequence 0, acknowledging all the segment occupied (payload, and a FIN).
      out = run(segment(v, deadPort, TCP.PSH | TCP.FIN));
      assert.equal(out.retval, XdpAction.TX);
      assert.deepEqual(
        Buffer.from(out.data),
        reset(v, deadPort, TCP.RST | TCP.ACK, 0, 5000 + payload.length + 1),
        `IPv${v.family}: RST/ACK`,
      );
      // A reset from the client is not answered; the other backend's connection goes on.
      assert.equal(run(segment(v, deadPort, TCP.RST | TCP.ACK, new Uint8Array(0))).retval, XdpAction.DROP);
      assert.equal(run(segment(v, livePort, TCP.ACK)).retval, XdpAction.PASS, 'the live connection is forwarded');
      // The client opens anew on the same port: a live backend takes it.
      out = run(segment(v, deadPort, TCP.SYN, new Uint8Array(0)));
      assert.equal(out.retval, XdpAction.PASS, 'a new connection is forwarded');
      assert.equal(run(segment(v, deadPort, TCP.ACK)).retval, XdpAction.PASS, 'and then tracked to the live backend');
      dp.services.remove(name);
    }
  });

  it('ICMP errors about a NAT connection reach the right side, translated, every checksum as a full computation gives', () => {
    dp.services.set(service('icmp', '10.245.9.9:80/tcp', ['10.245.2.1:8080']));
    dp.services.set(service('icmp6', '[fd45::9]:80/tcp', ['[fd45:2::1]:8080']));
    for (const v of [
      { family: 4 as const, client: '10.245.1.2', vip: '10.245.9.9', be: '10.245.2.1', router: '10.245.1.1', stray: '10.245.7.7' },
      { family: 6 as const, client: 'fd45:1::2', vip: 'fd45::9', be: 'fd45:2::1', router: 'fd45:1::1', stray: 'fd45:7::7' },
    ]) {
      const { seg, error } = icmpKit(v.family);
      // The connection, tracked: client → service, translated to the backend.
      run(tcpFrame({ family: v.family, src: v.client, dst: v.vip }, 41000, 80));
      // The backend says "too big" about client → backend: the client hears it from the service, about client → service.
      const toClient = run(error(v.be, v.client, seg(v.client, v.be, 41000, 8080)));
      assert.deepEqual(
        Buffer.from(toClient.data),
        error(v.vip, v.client, seg(v.client, v.vip, 41000, 80)),
        `IPv${v.family}: to the client`,
      );
      // A router on the client's side says "too big" about a reply service → client: it reaches the backend, about backend → client.
      const toBackend = run(error(v.router, v.vip, seg(v.vip, v.client, 80, 41000)));
      assert.deepEqual(
        Buffer.from(toBackend.data),
        error(v.router, v.be, seg(v.be, v.client, 8080, 41000)),
        `IPv${v.family}: to the backend`,
      );
      // An error about no balanced connection is left as it is.
      const other = error(v.router, v.client, seg(v.client, v.vip, 41001, 80));
      assert.deepEqual(Buffer.from(run(other).data), other);
      // So is one about a tracked connection that is not addressed to the sender of the packet
      // it quotes (found by the fuzzer: a multicast destination was translated to the backend).
      for (const stray of [
        error(v.router, v.stray, seg(v.vip, v.client, 80, 41000)),
        error(v.be, v.stray, seg(v.client, v.be, 41000, 8080)),
      ])
        assert.deepEqual(Buffer.from(run(stray).data), stray, `IPv${v.family}: addressed elsewhere`);
    }
  });

  it('leaves to the kernel, untranslated, what it would not forward: a martian or multicast source, a tagged frame', () => {
    // Found by the fuzzer: a SYN from 0.231.1.2 to an SNAT service left as the snat address's.
    dp.services.set(service('martian', '10.247.9.9:80/tcp', ['10.247.2.1:8080'], { snat: parseAddress('10.247.200.1') }));
    dp.services.set(service('martian6', '[fd47::9]:80/tcp', ['[fd47:2::1]:8080'], { snat: parseAddress('fd47::200:1') }));
    try {
      for (const [what, f] of [
        ['0/8 source', tcpFrame({ family: 4, src: '0.247.1.2', dst: '10.247.9.9' }, 43000, 80)],
        ['127/8 source', tcpFrame({ family: 4, src: '127.0.0.2', dst: '10.247.9.9' }, 43000, 80)],
        ['multicast source', tcpFrame({ family: 6, src: 'ff31:1::2', dst: 'fd47::9' }, 43000, 80)],
        ['link-local source', tcpFrame({ family: 6, src: 'fe80::2', dst: 'fd47::9' }, 43000, 80)],
        [
          'VLAN tag',
          eth(
            { dst: MAC_B, src: MAC_A, vlans: [10] },
            ipv4Packet(
              { src: '10.247.1.2', dst: '10.247.9.9', proto: PROTO.TCP },
              tcp({ family: 4, src: '10.247.1.2', dst: '10.247.9.9' }, { sport: 43000, dport: 80, flags: TCP.SYN }),
            ),
          ),
        ],
      ] as const) {
        const out = run(f);
        assert.equal(out.retval, XdpAction.PASS, what);
        assert.deepEqual(Buffer.from(out.data), f, `${what}: as it came`);
      }
    } finally {
      dp.services.remove('martian');
      dp.services.remove('martian6');
    }
  });

  it('SNAT: backends see the snat address and a port of it; their replies go back to the client as the service', () => {
    dp.services.set(service('snat', '10.246.9.9:80/tcp', ['10.246.2.1:8080'], { snat: parseAddress('10.246.200.1') }));
    const ports = new Set<number>();
    for (const client of ['10.246.1.2', '10.246.1.3']) {
      const c: Addrs = { family: 4, src: client, dst: '10.246.9.9' };
      const out = Buffer.from(run(tcpFrame(c, 42000, 80)).data);
      const sport = out.readUInt16BE(34);
      ports.add(sport);
      assert.ok(sport >= 1024, `a port of the snat address: ${sport}`);
      assert.deepEqual(
        out,
        tcpFrame({ family: 4, src: '10.246.200.1', dst: '10.246.2.1' }, sport, 8080),
        'source and destination translated',
      );
      assert.equal(Buffer.from(run(tcpFrame(c, 42000, 80, TCP.ACK)).data).readUInt16BE(34), sport, 'the connection keeps its port');
      const reply = run(tcpFrame({ family: 4, src: '10.246.2.1', dst: '10.246.200.1' }, 8080, sport, TCP.SYN | TCP.ACK));
      assert.deepEqual(Buffer.from(reply.data), tcpFrame({ family: 4, src: '10.246.9.9', dst: client }, 80, 42000, TCP.SYN | TCP.ACK));
    }
    assert.equal(ports.size, 2, 'two clients with the same source port get two ports');
  });

  it('ICMP errors about an SNAT connection reach the right side, both ends of the quote translated', () => {
    for (const v of [
      {
        family: 4 as const,
        client: '10.247.1.2',
        vip: '10.247.9.9',
        be: '10.247.2.1',
        router: '10.247.1.1',
        snat: '10.247.200.1',
        backendRouter: '10.247.2.254',
      },
      {
        family: 6 as const,
        client: 'fd47:1::2',
        vip: 'fd47::9',
        be: 'fd47:2::1',
        router: 'fd47:1::1',
        snat: 'fd47:200::1',
        backendRouter: 'fd47:2::fe',
      },
    ]) {
      const vip = v.family === 4 ? `${v.vip}:80/tcp` : `[${v.vip}]:80/tcp`;
      dp.services.set(
        service(`snat-icmp${v.family}`, vip, [v.family === 4 ? `${v.be}:8080` : `[${v.be}]:8080`], { snat: parseAddress(v.snat) }),
      );
      const { seg, error } = icmpKit(v.family);
      // The connection, tracked: client → service, translated to snat:port → backend.
      const out = Buffer.from(run(tcpFrame({ family: v.family, src: v.client, dst: v.vip }, 43000, 80)).data);
      const port = out.readUInt16BE(v.family === 4 ? 34 : 54);
      // The backend, or a router on its side, says "too big" about snat:port → backend, to the
      // snat address: the client hears it about client → service (from the service, when the
      // backend itself said it).
      for (const [from, heard] of [
        [v.be, v.vip],
        [v.backendRouter, v.backendRouter],
      ] as const) {
        const toClient = run(error(from, v.snat, seg(v.snat, v.be, port, 8080)));
        assert.deepEqual(
          Buffer.from(toClient.data),
          error(heard, v.client, seg(v.client, v.vip, 43000, 80)),
          `IPv${v.family}: from ${from} to the client`,
        );
      }
      // A router on the client's side says "too big" about a reply service → client: it
      // reaches the backend, about backend → snat:port, as the backend sent it.
      const toBackend = run(error(v.router, v.vip, seg(v.vip, v.client, 80, 43000)));
      assert.deepEqual(Buffer.from(toBackend.data), error(v.router, v.be, seg(v.be, v.snat, 8080, port)), `IPv${v.family}: to the backend`);
    }
  });

  it('a fragmented datagram: its first fragment is balanced, the later ones follow its connection, both ways (NAT, IPv4)', () => {
    dp.services.set(service('frag', '10.242.9.9:443/tcp', ['10.242.2.1:8443']));
    const [client, vip, be] = ['10.242.1.2', '10.242.9.9', '10.242.2.1'];
    const payload = Uint8Array.from({ length: 64 }, (_, i) => i);
    const fragments = (src: string, dst: string, sport: number, dport: number, id: number) =>
      ipv4Fragments(
        { src, dst, proto: PROTO.TCP, id },
        tcp({ family: 4, src, dst }, { sport, dport, flags: TCP.ACK }, payload),
        [24, 48],
      ).map(frame);
    const sent = fragments(client, vip, 1234, 443, 7);
    const expect = fragments(client, be, 1234, 8443, 7);
    sent.forEach((f, i) => assert.deepEqual(Buffer.from(run(f).data), expect[i], `fragment ${i}: to the backend, as built from scratch`));
    // The backend's reply, fragmented by its host: every fragment goes back as the service's.
    const reply = fragments(be, client, 8443, 1234, 9);
    const back = fragments(vip, client, 443, 1234, 9);
    reply.forEach((f, i) => assert.deepEqual(Buffer.from(run(f).data), back[i], `reply fragment ${i}: from the service`));
    // A later fragment whose first was not seen has no connection to go to; once its first
    // fragment arrives, the ones after it follow.
    const [first, second, third] = fragments(client, vip, 1234, 443, 11);
    for (const f of [second!, third!]) {
      assert.equal(run(f).retval, XdpAction.DROP);
      assert.equal(reasonName(dp.trace(f).reason), 'lb_fragment');
    }
    const expect11 = fragments(client, be, 1234, 8443, 11);
    assert.deepEqual(Buffer.from(run(first!).data), expect11[0]);
    assert.deepEqual(Buffer.from(run(third!).data), expect11[2], 'a later fragment after its first');
    // Every fragment was counted to the backend: 3 + 3 replies + 2 (the two dropped were not).
    const row = dp.services.list().find((s) => s.name === 'frag')!;
    assert.equal(row.backends[0]!.packets, 8);
  });

  it('a fragmented datagram through SNAT over IPv6 (UDP), and through DSR to the backend its first fragment chose', () => {
    dp.services.set(service('frag6', '[fd42::9]:53/udp', ['[fd42:2::1]:5353'], { snat: parseAddress('fd42::200:1') }));
    const [client, vip, be, snat] = ['fd42:1::2', 'fd42::9', 'fd42:2::1', 'fd42::200:1'];
    const payload = Uint8Array.from({ length: 100 }, (_, i) => 255 - i);
    const fragments = (src: string, dst: string, sport: number, dport: number, id: number) =>
      ipv6Fragments({ src, dst, id }, [], PROTO.UDP, udp({ family: 6, src, dst }, { sport, dport }, payload), [16, 64]).map(frame);
    const sent = fragments(client, vip, 40000, 53, 0x1234567);
    const out = Buffer.from(run(sent[0]!).data);
    const port = out.readUInt16BE(14 + 40 + 8); // the UDP source port, after the fragment header
    assert.ok(port >= 1024, `a port of the snat address: ${port}`);
    const expect = fragments(snat, be, port, 5353, 0x1234567);
    assert.deepEqual(out, expect[0], 'first fragment: from snat:port to the backend');
    for (const i of [1, 2]) assert.deepEqual(Buffer.from(run(sent[i]!).data), expect[i], `fragment ${i}: addresses alike`);
    const reply = fragments(be, snat, 5353, port, 77);
    const back = fragments(vip, client, 53, 40000, 77);
    reply.forEach((f, i) => assert.deepEqual(Buffer.from(run(f).data), back[i], `reply fragment ${i}: from the service to the client`));

    // DSR changes nothing in a packet: each fragment is routed by the backend its datagram's
    // first fragment went to (counted there), never by a new choice.
    dp.services.set(
      service(
        'frag-dsr',
        '10.243.19.9:80/udp',
        Array.from({ length: 8 }, (_, i) => `10.243.12.${i + 1}`),
        { mode: 'dsr' },
      ),
    );
    for (let sport = 2000; sport < 2016; sport++) {
      const seg = udp({ family: 4, src: '10.243.11.2', dst: '10.243.19.9' }, { sport, dport: 80 }, payload);
      for (const f of ipv4Fragments({ src: '10.243.11.2', dst: '10.243.19.9', proto: PROTO.UDP, id: sport }, seg, [16, 64])) {
        const data = frame(f);
        assert.deepEqual(Buffer.from(run(data).data), data, 'unchanged (no route to the backend: passed on)');
      }
    }
    const row = dp.services.list().find((s) => s.name === 'frag-dsr')!;
    assert.equal(row.connections, 16);
    for (const b of row.backends) assert.equal(b.packets, 3 * b.connections, `${b.backend}: three fragments per datagram`);
  });

  it('drops a service’s packets it cannot balance: with no backend in the table', () => {
    dp.services.set(service('frag', '10.242.9.9:443/tcp', ['10.242.2.1:443@0']));
    const data = tcpFrame({ family: 4, src: '10.242.1.2', dst: '10.242.9.9' }, 1235, 443);
    assert.equal(run(data).retval, XdpAction.DROP);
    assert.equal(reasonName(dp.trace(data).reason), 'lb_no_backend');
    // Another port of the address is not the service's: routed as any packet.
    assert.equal(reasonName(dp.trace(tcpFrame({ family: 4, src: '10.242.1.2', dst: '10.242.9.9' }, 1235, 444)).reason), 'no_route');
  });

  it('DSR: the packet keeps the service address and is routed by the backend’s', () => {
    dp.services.set(service('dsr', '10.243.9.9:80/tcp', ['10.243.2.1', '10.243.2.2'], { mode: 'dsr' }));
    const data = tcpFrame({ family: 4, src: '10.243.1.2', dst: '10.243.9.9' }, 1111, 80);
    const out = run(data);
    assert.deepEqual(Buffer.from(out.data), data, 'unchanged (no route to the backend: passed on)');
    assert.equal(dp.services.list().find((s) => s.name === 'dsr')!.connections, 1);
  });

  it('removing one of 10 backends moves at most 1/10 + 1 % of 100,000 new connections, as the data plane chooses them', () => {
    const backends = Array.from({ length: 10 }, (_, i) => `10.244.2.${i + 1}:80`);
    dp.services.set(service('churn', '10.244.9.9:80/tcp', backends));
    const tuples = Array.from({ length: 100_000 }, (_, i) => ({
      src: `10.244.${100 + (i >> 14)}.${(i >> 6) & 255}`,
      sport: 1024 + (i & 63) * 997,
    }));
    const choose = () => {
      dp.pipeline.maps.lbCt.deleteBatch([...dp.pipeline.maps.lbCt.keys()]); // new connections, every one
      return tuples.map((t) => dst4(run(tcpFrame({ family: 4, src: t.src, dst: '10.244.9.9' }, t.sport, 80)).data));
    };
    const first = choose();
    const counts = new Map<string, number>();
    for (const b of first) counts.set(b, (counts.get(b) ?? 0) + 1);
    for (const b of backends) {
      const share = (counts.get(b) ?? 0) / tuples.length;
      assert.ok(Math.abs(share - 0.1) < 0.01, `${b} takes ${(share * 100).toFixed(2)} % (10 ± 1 %)`);
    }
    dp.services.set(service('churn', '10.244.9.9:80/tcp', backends.slice(0, 9)));
    const second = choose();
    const changed = second.filter((b, i) => b !== first[i]).length;
    const onRemoved = first.filter((b) => b === backends[9]).length;
    assert.ok(changed <= tuples.length * 0.11, `${changed} of ${tuples.length} changed backend (at most 11 %)`);
    assert.ok(changed >= onRemoved, `every connection of the removed backend moved (${onRemoved})`);
  });
});
