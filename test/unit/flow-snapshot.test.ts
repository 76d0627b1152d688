/**
 * Walks over flow-table snapshots built here as the kernel lays them out: the key index
 * (positions, absent keys, reverse keys, hints right and wrong), the anomaly look's activity
 * between two snapshots in different orders, and the IPFIX exporter's deltas, evictions and
 * restarts, read back from a real UDP socket by template.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { after, before, describe, it } from 'node:test';

import * as abi from '../../src/generated/pathwise.js';
import { FlowIndex, KEY_WORDS } from '../../src/insight/flow-index.js';
import { FlowSnapshot } from '../../src/insight/flow-table.js';
import { IpfixExporter } from '../../src/insight/ipfix-exporter.js';
import { IpfixReader } from '../helpers/ipfix-decode.js';

const K = abi.PwFlowKey;
const V = abi.PwFlow;

interface Flow {
  src: number;
  dst: number;
  sport: number;
  dport: number;
  proto?: number;
  packets: number;
  firstNs?: number;
  lastNs?: number;
  direction?: number;
}

const ip = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

/** Raw keys and values of `flows`, back to back, as a batch read returns them. */
function raw(flows: Flow[], keyOffset = 0): { keys: Buffer; values: Buffer } {
  const keys = Buffer.alloc(keyOffset + flows.length * K.size).subarray(keyOffset);
  const values = Buffer.alloc(flows.length * V.size);
  flows.forEach((f, i) => {
    const k = i * K.size;
    keys.writeUInt32BE(f.src >>> 0, k + K.offsets.src);
    keys.writeUInt32BE(f.dst >>> 0, k + K.offsets.dst);
    keys.writeUInt16BE(f.sport, k + K.offsets.sport);
    keys.writeUInt16BE(f.dport, k + K.offsets.dport);
    keys.writeUInt8(f.proto ?? 17, k + K.offsets.proto);
    keys.writeUInt8(4, k + K.offsets.family);
    const v = i * V.size;
    values.writeBigUInt64LE(BigInt(f.packets), v + V.offsets.packets);
    values.writeBigUInt64LE(BigInt(f.packets * 100), v + V.offsets.bytes);
    values.writeBigUInt64LE(BigInt(f.firstNs ?? 1e9), v + V.offsets.first_ns);
    values.writeBigUInt64LE(BigInt(f.lastNs ?? f.firstNs ?? 1e9), v + V.offsets.last_ns);
    values.writeUInt8(f.direction ?? abi.PwFlowDirection.UNKNOWN, v + V.offsets.direction);
  });
  return { keys, values };
}

const snapshot = (flows: Flow[], takenNs: number) => {
  const { keys, values } = raw(flows);
  return new FlowSnapshot(keys, values, flows.length, takenNs, { ifName: () => 'eth0', routePrefix: () => null });
};

/** `n` distinct flows: 11.x sources, port-spread. */
const many = (n: number, packets = (i: number) => i + 1): Flow[] =>
  Array.from({ length: n }, (_, i) => ({
    src: 0x0b000000 + (i >>> 4),
    dst: 0xc0a80001,
    sport: 1024 + (i & 15),
    dport: 53,
    packets: packets(i),
  }));

/** A deterministic shuffle (the kernel's order changes as the table does). */
function shuffled<T>(xs: T[], seed = 7): T[] {
  const out = [...xs];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('flow key index', () => {
  it('finds each of 100,000 keys at its position, with hints right and wrong, and no key it lacks', async () => {
    const flows = many(100_000);
    const { keys } = raw(flows);
    const index = await FlowIndex.build(keys, flows.length);
    for (let i = 0; i < flows.length; i++) {
      assert.equal(index.find(index.words, i * KEY_WORDS), i);
      if (i % 97 === 0) {
        assert.equal(index.find(index.words, i * KEY_WORDS, i), i, 'a right hint');
        assert.equal(index.find(index.words, i * KEY_WORDS, (i + 1) % flows.length), i, 'a wrong hint');
        assert.equal(index.find(index.words, i * KEY_WORDS, flows.length + 5), i, 'a hint past the end');
      }
    }
    const other = raw([{ src: 0x0c000001, dst: 0xc0a80001, sport: 1024, dport: 53, packets: 1 }]).keys;
    assert.equal(index.find(new Uint32Array(other.buffer, other.byteOffset, KEY_WORDS), 0), -1);
  });

  it("finds a flow's other direction, and reads keys that are not 4-byte aligned", async () => {
    const flows: Flow[] = [
      { src: 0x0a000001, dst: 0x0a000002, sport: 5000, dport: 53, packets: 1 },
      { src: 0x0a000003, dst: 0x0a000004, sport: 6000, dport: 80, packets: 1 },
      { src: 0x0a000002, dst: 0x0a000001, sport: 53, dport: 5000, packets: 1 },
      // Ports swapped but not addresses: not the reverse of anything here.
      { src: 0x0a000003, dst: 0x0a000004, sport: 80, dport: 6000, packets: 1 },
    ];
    for (const offset of [0, 1, 3]) {
      const { keys } = raw(flows, offset);
      const index = await FlowIndex.build(keys, flows.length);
      assert.deepEqual(
        flows.map((_, i) => index.findReverse(i)),
        [2, -1, 0, -1],
        `keys at byte offset ${offset}`,
      );
    }
  });
});

describe('flow activity between two looks', () => {
  it("counts each source's packets since the last look, whatever the order, and leaves replies out", async () => {
    const client = 0x0a000001,
      server = 0x0a000002,
      quiet = 0x0a000003,
      tcp = 0x0a000004;
    const t0 = 10e9;
    const before: Flow[] = [
      { src: client, dst: server, sport: 5000, dport: 53, packets: 10, firstNs: t0 },
      { src: server, dst: client, sport: 53, dport: 5000, packets: 10, firstNs: t0 + 1e6 },
      { src: quiet, dst: server, sport: 7000, dport: 53, packets: 4, firstNs: t0 },
      { src: tcp, dst: server, sport: 40000, dport: 443, proto: 6, packets: 3, firstNs: t0, direction: abi.PwFlowDirection.INITIATOR },
      { src: server, dst: tcp, sport: 443, dport: 40000, proto: 6, packets: 2, firstNs: t0, direction: abi.PwFlowDirection.RESPONDER },
      ...many(5000),
    ];
    const first = snapshot(before, t0 + 2e9);
    const counts = await first.counts();
    // The second look: the client sent 7 more and got 7 replies, the TCP flow 5 more each
    // way, a new source began one flow; the quiet one sent nothing. The kernel's order moved.
    const later: Flow[] = shuffled([
      { ...before[0]!, packets: 17 },
      { ...before[1]!, packets: 17 },
      before[2]!,
      { ...before[3]!, packets: 8 },
      { ...before[4]!, packets: 7 },
      { src: 0x0a0000ff, dst: server, sport: 9000, dport: 123, packets: 2, firstNs: t0 + 3e9 },
      ...many(5000),
    ]);
    const a = await snapshot(later, t0 + 4e9).activity(counts, t0 + 2e9, 1e9);
    assert.deepEqual(Object.fromEntries(a.packets), { [ip(client)]: 7, [ip(tcp)]: 5, '10.0.0.255': 2 });
    assert.deepEqual(
      [...a.newDestinations].map(([src, d]) => [src, [...d]]),
      [['10.0.0.255', [`${ip(server)}:123`]]],
    );
  });
});

describe('IPFIX export of snapshots', () => {
  const collector = createSocket('udp4');
  const reader = new IpfixReader();
  let port = 0;
  before(async () => {
    collector.on('message', (m) => reader.read(m));
    await new Promise<void>((resolve) => collector.bind(0, '127.0.0.1', resolve));
    port = collector.address().port;
  });
  after(() => collector.close());

  /** The records the collector has by now, as {source port: [packets, bytes, end reason]}. */
  async function received(n: number): Promise<Record<number, [number, number, number]>> {
    for (let waited = 0; reader.records.length < n && waited < 5000; waited += 10) await new Promise((r) => setTimeout(r, 10));
    const out: Record<number, [number, number, number]> = {};
    for (const r of reader.records.splice(0)) {
      const sport = Number(r.fields.get(7));
      assert.equal(out[sport], undefined, `one record for flow ${sport} in a pass`);
      out[sport] = [Number(r.fields.get(2)), Number(r.fields.get(1)), Number(r.fields.get(136))];
    }
    return out;
  }

  /** An exporter to the collector, with the default timeouts (idle 15 s, active 60 s). */
  const exporter = () =>
    new IpfixExporter({
      collectors: [{ host: '127.0.0.1', port }],
      activeTimeoutMs: 60_000,
      idleTimeoutMs: 15_000,
      templateRefreshMs: 600_000,
      observationDomain: 9,
    });

  it('sends each flow what it counted since its last record, counts evictions, and starts over a flow that restarted', async () => {
    const ex = exporter();
    try {
      const flow = (sport: number, packets: number, lastNs: number, firstNs = 50e9): Flow => ({
        src: 0x0a000001,
        dst: 0x0a000002,
        sport,
        dport: 53,
        packets,
        firstNs,
        lastNs,
      });
      const s = 1e9;
      // Pass 1 at 100 s: flows 1-3 idle for 20 s (due), flow 4 active for 5 s (its record stays open).
      assert.equal(
        await ex.export(
          snapshot([flow(1, 10, 80 * s), flow(2, 20, 80 * s), flow(3, 30, 80 * s), flow(4, 5, 99 * s, 95 * s)], 100 * s),
          100 * s,
        ),
        3,
      );
      assert.deepEqual(await received(3), { 1: [10, 1000, 1], 2: [20, 2000, 1], 3: [30, 3000, 1] });
      // Pass 2 at 200 s, another order: flow 1 sent 5 more, flow 2 nothing, flow 3 left the
      // table with nothing unreported, flow 4 left with 5 packets never reported, flow 5 is new.
      assert.equal(await ex.export(snapshot([flow(5, 7, 150 * s), flow(2, 20, 80 * s), flow(1, 15, 170 * s)], 200 * s), 200 * s), 2);
      assert.deepEqual(await received(2), { 1: [5, 500, 1], 5: [7, 700, 1] });
      assert.equal(ex.stats.lostFlows, 1, 'flow 4 left the table unreported');
      // Pass 3: flow 1 fell back to 3 packets: it was evicted and began again.
      assert.equal(await ex.export(snapshot([flow(1, 3, 280 * s), flow(2, 20, 80 * s), flow(5, 7, 150 * s)], 300 * s), 300 * s), 1);
      assert.deepEqual(await received(1), { 1: [3, 300, 1] });
      // At the end, flushed: what is unreported goes with reason 4 (forced end), the rest not at all.
      assert.equal(await ex.export(snapshot([flow(1, 9, 299 * s), flow(2, 20, 80 * s)], 300 * s), 300 * s, { flush: true }), 1);
      assert.deepEqual(await received(1), { 1: [6, 600, 4] });
      assert.equal(ex.stats.lostFlows, 1);
    } finally {
      ex.close();
    }
  });

  it('reports 100,000 flows in one pass, then only what changed, whatever order the table gives them in', async () => {
    const ex = exporter();
    try {
      const flows = many(100_000).map((f, i) => ({ ...f, sport: i % 65536, dport: 1 + Math.floor(i / 65536), firstNs: 1e9, lastNs: 2e9 }));
      assert.equal(await ex.export(snapshot(flows, 100e9), 100e9), flows.length);
      assert.equal(ex.stats.records, flows.length);
      // Every tenth flow sent 3 more packets; the table hands them out in another order.
      const next = shuffled(flows.map((f, i) => (i % 10 ? f : { ...f, packets: f.packets + 3 })));
      assert.equal(await ex.export(snapshot(next, 200e9), 200e9), flows.length / 10);
      assert.equal(ex.stats.lostFlows, 0);
    } finally {
      ex.close();
    }
    reader.records.splice(0);
  });
});
