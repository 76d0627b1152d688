/**
 * The HTTP stage through the real pipeline with BPF_PROG_TEST_RUN: which segments go into the
 * ring (monitored ports, either end; data, SYN, FIN, RST; not pure ACKs, not drops, not while
 * switched off) and what a record holds (addresses, ports, sequence number, payload length,
 * the first `snap` payload bytes), IPv4 and IPv6, with TCP options in the header.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';

import { Dataplane } from '../../src/dataplane/dataplane.js';
import * as abi from '../../src/generated/pathwise.js';
import { decodeHttpSegment, httpCounters, openHttpRing, setHttpControl } from '../../src/dataplane/http-tables.js';
import type { TcpSegment } from '../../src/insight/http-tracker.js';
import type { RingBufferReader } from '../../src/kernel/index.js';
import { eth, ipv4Packet, ipv6Packet, PROTO, tcp, TCP, type Addrs } from '../helpers/craft.js';
import { MAC_A, MAC_B } from '../helpers/packets.js';
import { closeOwnDataplane, openOwnDataplane } from '../helpers/own-dataplane.js';
import { privilegedSkip } from '../helpers/privileged.js';
import { Topology } from '../helpers/topology.js';

const skip = privilegedSkip();

const V4: Addrs = { family: 4, src: '192.0.2.10', dst: '198.51.100.20' };
const V6: Addrs = { family: 6, src: '2001:db8::10', dst: '2001:db8:1::20' };

/** The kernel's irq_work interrupts so far, all CPUs (x86's IWI line), or null without the line. */
function irqWorkInterrupts(): number | null {
  const line = readFileSync('/proc/interrupts', 'utf8')
    .split('\n')
    .find((l) => l.trimStart().startsWith('IWI:'));
  if (!line) return null;
  return line
    .trim()
    .split(/\s+/)
    .slice(1)
    .filter((f) => /^\d+$/.test(f))
    .reduce((a, f) => a + Number(f), 0);
}

function tcpFrame(a: Addrs, o: { sport?: number; dport: number; flags: number; seq?: number }, payload = ''): Buffer {
  const seg = tcp(a, o, Buffer.from(payload, 'latin1'));
  const ip =
    a.family === 4
      ? ipv4Packet({ src: a.src, dst: a.dst, proto: PROTO.TCP }, seg)
      : ipv6Packet({ src: a.src, dst: a.dst, next: PROTO.TCP }, seg);
  return eth({ dst: MAC_B, src: MAC_A }, ip);
}

/** A segment whose header carries 12 bytes of options (NOP, NOP, timestamps), as Linux sends. */
function withOptions(frame: Buffer, l4: number): Buffer {
  const opts = Buffer.from([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
  const out = Buffer.concat([frame.subarray(0, l4 + 20), opts, frame.subarray(l4 + 20)]);
  out[l4 + 12] = (8 << 4) | (out[l4 + 12]! & 0x0f);
  out.writeUInt16BE(out.readUInt16BE(16) + opts.length, 16); // IPv4 total length (checksum unused by the stage)
  return out;
}

describe('the HTTP stage', { skip }, () => {
  let topo: Topology;
  let dp: Dataplane;
  let instance: string;
  let ring: RingBufferReader;

  const send = (frame: Buffer): TcpSegment[] => {
    dp.pipeline.xdp.testRunSync({ data: frame });
    return ring.takeAll().map((r) => decodeHttpSegment(r));
  };

  before(async () => {
    ({ topo, instance, dp } = await openOwnDataplane('hs'));
    ring = openHttpRing(instance);
  });
  after(() => {
    ring?.close();
    closeOwnDataplane(topo, instance, dp);
  });

  it('sends nothing while switched off', () => {
    assert.deepEqual(send(tcpFrame(V4, { dport: 80, flags: TCP.ACK | TCP.PSH }, 'GET / HTTP/1.1\r\n\r\n')), []);
  });

  it('copies the segments of monitored ports, either end, and the head of their payload', () => {
    setHttpControl(dp.pipeline.maps, { enabled: true, allPorts: false, ports: [80, 8080, 65535], snap: 16 });
    const req = 'GET /v1/orders/42 HTTP/1.1\r\nHost: x\r\n\r\n';
    const [s] = send(tcpFrame(V4, { sport: 40001, dport: 8080, flags: TCP.ACK | TCP.PSH, seq: 0xfffffff0 }, req));
    assert.ok(s);
    assert.deepEqual(
      {
        src: s.src,
        dst: s.dst,
        sport: s.sport,
        dport: s.dport,
        seq: s.seq,
        flags: s.flags,
        len: s.payloadLen,
        data: Buffer.from(s.data).toString(),
      },
      {
        src: V4.src,
        dst: V4.dst,
        sport: 40001,
        dport: 8080,
        seq: 0xfffffff0,
        flags: TCP.ACK | TCP.PSH,
        len: req.length,
        data: req.slice(0, 16),
      },
    );
    // The answer comes from the monitored port; the highest port's bit is the last word's last.
    assert.equal(send(tcpFrame(V4, { sport: 80, dport: 40001, flags: TCP.ACK, seq: 7 }, 'HTTP/1.1 200 OK\r\n\r\n')).length, 1);
    assert.equal(send(tcpFrame(V4, { sport: 40001, dport: 65535, flags: TCP.ACK }, 'x')).length, 1);
    // Not monitored: neither port in the set.
    assert.deepEqual(send(tcpFrame(V4, { sport: 40001, dport: 8081, flags: TCP.ACK }, 'GET / HTTP/1.1\r\n\r\n')), []);
  });

  it('sends SYN, FIN and RST without payload, and skips pure ACKs', () => {
    setHttpControl(dp.pipeline.maps, { enabled: true, allPorts: false, ports: [80], snap: 1024 });
    for (const flags of [TCP.SYN, TCP.SYN | TCP.ACK, TCP.FIN | TCP.ACK, TCP.RST]) {
      const got = send(tcpFrame(V4, { dport: 80, flags }));
      assert.deepEqual(
        got.map((s) => [s.flags, s.payloadLen, s.data.length]),
        [[flags, 0, 0]],
      );
    }
    assert.deepEqual(send(tcpFrame(V4, { dport: 80, flags: TCP.ACK })), []);
  });

  it('finds the payload past TCP options, over IPv6 too, and copies at most the snap length', () => {
    setHttpControl(dp.pipeline.maps, { enabled: true, allPorts: true, ports: [], snap: 1024 });
    const body = 'POST /x HTTP/1.1\r\n' + 'a'.repeat(1500);
    const [s4] = send(withOptions(tcpFrame(V4, { dport: 9999, flags: TCP.ACK }, body), 34));
    assert.equal(s4?.payloadLen, body.length);
    assert.equal(Buffer.from(s4!.data).toString(), body.slice(0, 1024));
    const [s6] = send(tcpFrame(V6, { sport: 443, dport: 50000, flags: TCP.ACK }, 'HTTP/1.1 204 No Content\r\n\r\n'));
    assert.equal(s6?.src, V6.src);
    assert.equal(Buffer.from(s6!.data).toString(), 'HTTP/1.1 204 No Content\r\n\r\n');
  });

  it('sends nothing the pipeline drops, and counts what it sent', () => {
    setHttpControl(dp.pipeline.maps, { enabled: true, allPorts: false, ports: [80], snap: 64 });
    const before = httpCounters(dp.pipeline.maps).segmentsSent;
    dp.filter.setRules([{ action: 'drop', proto: 6, dport: [80, 80] }]);
    assert.deepEqual(send(tcpFrame(V4, { dport: 80, flags: TCP.ACK }, 'GET / HTTP/1.1\r\n\r\n')), []);
    dp.filter.setRules([]);
    assert.equal(send(tcpFrame(V4, { dport: 80, flags: TCP.ACK }, 'GET / HTTP/1.1\r\n\r\n')).length, 1);
    assert.equal(httpCounters(dp.pipeline.maps).segmentsSent, before + 1);
    assert.equal(httpCounters(dp.pipeline.maps).segmentsLost, 0);
  });

  it('wakes a reader that lags once per batch waiting, not once per record (ring.bpf.h)', (t) => {
    // A wakeup is an irq_work: counted by the kernel per CPU as IWI interrupts. Nothing reads
    // the ring while the test run produces, as when the reader waits for a busy CPU.
    if (irqWorkInterrupts() === null) return t.skip('no IWI line in /proc/interrupts (not x86)');
    setHttpControl(dp.pipeline.maps, { enabled: true, allPorts: false, ports: [80], snap: 64 });
    ring.takeAll();
    const runs = 4000;
    const before = irqWorkInterrupts()!;
    dp.pipeline.xdp.testRunSync({ data: tcpFrame(V4, { dport: 80, flags: TCP.ACK }, 'GET / HTTP/1.1\r\n\r\n'), repeat: runs });
    const woken = irqWorkInterrupts()! - before;
    const records = ring.takeAll();
    assert.equal(records.length, runs);
    // Each record's room in the ring: its 8-byte header, rounded up to 8 bytes.
    const bytes = records.reduce((a, r) => a + ((r.length + 8 + 7) & ~7), 0);
    const batches = Math.floor(bytes / abi.PwLimit.RING_WAKE_BYTES);
    assert.ok(batches >= 4, `${bytes} bytes make ${batches} batches: too few to tell`);
    // Waking at every record past the first batch's took one interrupt per record after it
    // (3,685 in a run here); the few allowed over the batches are other irq_work on the machine.
    t.diagnostic(`${woken} irq_work interrupts for ${runs} records in ${batches} batches`);
    assert.ok(woken <= batches + 16, `${woken} irq_work interrupts for ${runs} records in ${batches} batches`);
  });

  it('hands over a record below the wake mark on the reader timer, after an idle spell too', async () => {
    // No wakeup comes for one record: only the reader's timer drains it. Idle, the timer backs
    // off (native/src/ringbuf.cc); it must still come round.
    setHttpControl(dp.pipeline.maps, { enabled: true, allPorts: false, ports: [80], snap: 64 });
    ring.takeAll();
    await new Promise((r) => setTimeout(r, 500));
    dp.pipeline.xdp.testRunSync({ data: tcpFrame(V4, { dport: 80, flags: TCP.ACK }, 'GET /late HTTP/1.1\r\n\r\n') });
    let timer: NodeJS.Timeout | undefined;
    const next = await Promise.race([ring.next(), new Promise<'never'>((r) => (timer = setTimeout(() => r('never'), 10_000)))]).finally(
      () => clearTimeout(timer),
    );
    assert.notEqual(next, 'never', 'the record was not handed over');
    assert.equal(Buffer.from(decodeHttpSegment((next as IteratorResult<Buffer>).value).data).toString(), 'GET /late HTTP/1.1\r\n\r\n');
  });
});
