/**
 * The flow cache (bpf/include/pathwise/account.bpf.h): a flow's common packet counts in a
 * per-CPU slot, and the flow table (pw_flows) catches up when another flow takes the slot or
 * when the control plane reads the flows (readFlows runs pw_xdp_flush on each CPU). Packets go
 * through the real pipeline with BPF_PROG_TEST_RUN, on chosen CPUs.
 */
import assert from 'node:assert/strict';
import { cpus } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';

import { Dataplane } from '../../src/dataplane/dataplane.js';
import { readFlows } from '../../src/dataplane/insight-tables.js';
import { parseRouteTokens } from '../../src/routing/route-syntax.js';
import { parsePrefix } from '../../src/util/ip.js';
import * as abi from '../../src/generated/pathwise.js';
import { ipv4, ipv4Packet } from '../helpers/packets.js';
import { closeOwnDataplane, openOwnDataplane } from '../helpers/own-dataplane.js';
import { privilegedSkip } from '../helpers/privileged.js';
import { Topology } from '../helpers/topology.js';

const skip = privilegedSkip();
const CPUS = Math.min(cpus().length, 2) === 2 ? [0, 1] : [0];
const M64 = (1n << 64n) - 1n;

/** The slot pw_flow_slot() picks for a key (a copy of its arithmetic, checked below against
 * the slot the pipeline filled). */
function slotOf(key: abi.PwFlowKey): number {
  const v = new DataView(new ArrayBuffer(abi.PwFlowKey.size));
  abi.PwFlowKey.encode(key, v, 0);
  const mul = [0x9e3779b97f4a7c15n, 0xc2b2ae3d27d4eb4fn, 0x165667b19e3779f9n, 0x85ebca77c2b2ae63n, 0x27d4eb2f165667c5n];
  let h = 0n;
  for (let i = 0; i < 5; i++) h ^= (v.getBigUint64(i * 8, true) * mul[i]!) & M64;
  h ^= h >> 29n;
  return Number(((h * 0x9e3779b97f4a7c15n) & M64) >> BigInt(abi.PwLimit.FLOW_CACHE_SHIFT));
}

function udpKey(src: string, dst: string, sport: number, dport: number): abi.PwFlowKey {
  const k = abi.PwFlowKey.zero();
  k.src.set(ipv4(src));
  k.dst.set(ipv4(dst));
  return { ...k, sport, dport, proto: 17, family: 4 };
}

describe('the flow cache', { skip, timeout: 2 * 60_000 }, () => {
  let dp: Dataplane;
  let instance: string;
  let topo: Topology;

  before(async () => ({ topo, instance, dp } = await openOwnDataplane('fc')));
  after(() => closeOwnDataplane(topo, instance, dp));

  const udp = (sport: number, src = '10.61.0.1') =>
    ipv4Packet({ src, dst: '10.9.9.9', proto: 'udp', sport, dport: 53, payload: new Uint8Array(10) });
  /** `n` packets of one frame through the pipeline on `cpu`. */
  const send = (frame: Uint8Array, n: number, cpu = 0) => {
    const r = dp.pipeline.xdp.testRunOnCpus({ data: frame, repeat: n }, [cpu]);
    assert.deepEqual(
      r.runs.map((x) => x.cpu),
      [cpu],
      `ran on CPU ${cpu}`,
    );
  };
  /** The flow table's own entry, without flushing the cache. */
  const entry = (key: abi.PwFlowKey) => dp.pipeline.maps.flows.get(key);
  /** What readFlows (the cache flushed) says of a flow. */
  const read = async (sport: number, src = '10.61.0.1') =>
    (await (await readFlows(dp.pipeline)).top(100000, 'packets')).find((f) => f.src === src && f.sport === sport && f.dport === 53);
  /** The CPUs whose slot holds `key`'s flow, and what it holds. */
  const slotted = (key: abi.PwFlowKey) => {
    const per = dp.pipeline.maps.flowCache.get(slotOf(key)) ?? [];
    const want = Buffer.alloc(abi.PwFlowKey.size);
    abi.PwFlowKey.encode(key, new DataView(want.buffer), 0);
    return per.flatMap((p, cpu) => {
      const got = Buffer.alloc(abi.PwFlowKey.size);
      abi.PwFlowKey.encode(p.key, new DataView(got.buffer), 0);
      return p.owned && got.equals(want) ? [{ cpu, packets: Number(p.packets) }] : [];
    });
  };

  it('counts a flow on each CPU in its slot, and every packet is in the flows read', async () => {
    const frame = udp(41000);
    const key = udpKey('10.61.0.1', '10.9.9.9', 41000, 53);
    const ipLen = frame.length - 14;
    for (const cpu of CPUS) send(frame, 5 + cpu * 2, cpu);
    const total = CPUS.reduce((a, cpu) => a + 5 + cpu * 2, 0);
    // The first packet on each CPU went to the entry (the first made it), and took the slot.
    assert.equal(entry(key)?.packets, BigInt(CPUS.length), 'the entry holds only the packets that took the slots');
    assert.deepEqual(
      slotted(key),
      CPUS.map((cpu) => ({ cpu, packets: 4 + cpu * 2 })),
      'the slot the copy of pw_flow_slot names holds the rest',
    );
    const f = await read(41000);
    assert.equal(f?.packets, total);
    assert.equal(f?.bytes, total * ipLen);
    assert.equal(entry(key)?.packets, BigInt(total), 'the read flushed the slots into the entry');
    assert.deepEqual(
      slotted(key).map((s) => s.packets),
      CPUS.map(() => 0),
      'the slots keep the flow, emptied',
    );
    send(frame, 3, 0);
    assert.equal((await read(41000))?.packets, total + 3, 'and go on counting it');
  });

  it('keeps a TCP handshake in the entry until its ACK, then caches the flow', async () => {
    const tcp = (flags: number, fromClient: boolean) =>
      ipv4Packet({
        src: fromClient ? '10.61.0.2' : '10.9.9.9',
        dst: fromClient ? '10.9.9.9' : '10.61.0.2',
        proto: 'tcp',
        sport: fromClient ? 42000 : 443,
        dport: fromClient ? 443 : 42000,
        tcpFlags: flags,
      });
    const key = { ...udpKey('10.61.0.2', '10.9.9.9', 42000, 443), proto: 6 };
    send(tcp(0x02, true), 1); // SYN
    send(tcp(0x10, true), 2); // ACKs before any SYN/ACK: the handshake is still open
    assert.deepEqual(slotted(key), [], 'no slot while the handshake is timed');
    send(tcp(0x12, false), 1); // SYN/ACK
    send(tcp(0x10, true), 1); // the ACK that completes it, then the flow's packets
    send(tcp(0x18, true), 4);
    const e = entry(key)!;
    assert.ok(e.syn_ns > 0n && e.synack_ns >= e.syn_ns && e.ack_ns >= e.synack_ns, 'SYN, SYN/ACK and ACK stamped in the entry');
    assert.equal(e.packets, 4n, 'SYN, two early ACKs and the completing ACK in the entry');
    assert.deepEqual(slotted(key), [{ cpu: 0, packets: 4 }]);
    const f = (await (await readFlows(dp.pipeline)).top(100000, 'packets')).find((r) => r.src === '10.61.0.2' && r.sport === 42000);
    assert.equal(f?.packets, 8);
    assert.equal(f?.direction, 'initiator');
    assert.ok(f?.handshake, 'the handshake is whole');
  });

  it('lets a flow take the slot of one idle for a second, never of a busy one, and flushes the one it replaces', async () => {
    // Two UDP flows whose keys map to the same slot.
    const base = slotOf(udpKey('10.61.0.3', '10.9.9.9', 1000, 53));
    let other = 1001;
    while (slotOf(udpKey('10.61.0.3', '10.9.9.9', other, 53)) !== base) other++;
    const a = udpKey('10.61.0.3', '10.9.9.9', 1000, 53);
    const b = udpKey('10.61.0.3', '10.9.9.9', other, 53);
    send(udp(1000, '10.61.0.3'), 3);
    send(udp(other, '10.61.0.3'), 3);
    assert.deepEqual(slotted(a), [{ cpu: 0, packets: 2 }], 'the first flow holds the slot');
    assert.equal(entry(b)?.packets, 3n, 'the second counts in its entry while the first is busy');
    await sleep(abi.PwLimit.FLOW_CACHE_IDLE_MS + 200);
    send(udp(other, '10.61.0.3'), 1);
    assert.deepEqual(slotted(b), [{ cpu: 0, packets: 0 }], 'the first was idle: the second took the slot');
    assert.equal(entry(a)?.packets, 3n, "and the first one's pending packets are in its entry, with no read");
    send(udp(other, '10.61.0.3'), 2);
    assert.equal((await read(1000, '10.61.0.3'))?.packets, 3);
    assert.equal((await read(other, '10.61.0.3'))?.packets, 6);
  });

  it("stamps a cached flow's last packet with the coarse clock, which each CPU reads once a tick", async () => {
    // CLOCK_MONOTONIC here; the coarse clock is the same clock at the last tick. A tick is at
    // most 10 ms (HZ 100), and the pipeline's value may be two ticks old (clock.bpf.h).
    const ms = 1_000_000;
    const monotonic = () => Number(process.hrtime.bigint());
    const frame = udp(44000);
    send(frame, 2); // the second packet counts in the slot, stamped
    const t0 = monotonic();
    await sleep(60);
    const t1 = monotonic();
    send(frame, 1);
    const t2 = monotonic();
    assert.equal((await read(44000))?.packets, 3, 'the read flushed the slot');
    const last = Number(entry(udpKey('10.61.0.1', '10.9.9.9', 44000, 53))?.last_ns ?? 0n);
    assert.ok(last <= t2, `the last packet's time (${last}) is not after it was sent (${t2})`);
    assert.ok(
      last >= t1 - 25 * ms,
      `the last packet's time is its tick's: ${(t1 - last) / ms} ms before it was sent (the earlier packets: ${(t1 - t0) / ms} ms before)`,
    );
    const clock = dp.pipeline.maps.coarseClock.get(0)?.[0];
    assert.ok(clock && clock.tick > 0n, 'CPU 0 keeps the tick it read the clock in');
    assert.ok(Number(clock.ns) >= t1 - 25 * ms && Number(clock.ns) <= t2, 'and the clock it read then');
  });

  it('makes a flow again from its slot when the table lost its entry', async () => {
    const frame = udp(43000);
    const key = udpKey('10.61.0.1', '10.9.9.9', 43000, 53);
    const created = () => (dp.pipeline.maps.flowStats.get(0) ?? []).reduce((s, c) => s + c.created, 0n);
    send(frame, 4);
    assert.equal(dp.pipeline.maps.flows.delete(key), true);
    const before = created();
    const f = await read(43000);
    assert.equal(f?.packets, 3, 'the three packets the slot held');
    assert.equal(created(), before + 1n, 'counted as a flow created');
  });

  it("counts a cached flow's packets for its route exactly, the route changing under it", async () => {
    const frame = ipv4Packet({ src: '10.61.0.4', dst: '10.9.8.9', proto: 'udp', sport: 44000, dport: 53, payload: new Uint8Array(10) });
    const add = (prefix: string) => dp.addRoute(parseRouteTokens(['local', prefix], () => 'test')).id;
    const counted = async (id: number) => (await dp.routeCounters()).get(id) ?? { packets: 0, bytes: 0 };
    const wide = add('10.9.8.0/24');
    for (const cpu of CPUS) send(frame, 6, cpu);
    const total = 6 * CPUS.length;
    assert.ok(slotted(udpKey('10.61.0.4', '10.9.8.9', 44000, 53)).length > 0, 'the flow is cached');
    assert.deepEqual(await counted(wide), { packets: total, bytes: total * frame.length }, 'every packet, in the read');
    // Packets pending by one route, then by a more specific one: the change flushes the slot,
    // so each route gets its own packets.
    send(frame, 4, 0);
    const narrow = add('10.9.8.9/32');
    send(frame, 3, 0);
    assert.deepEqual(await counted(wide), { packets: total + 4, bytes: (total + 4) * frame.length });
    assert.deepEqual(await counted(narrow), { packets: 3, bytes: 3 * frame.length });
    // A removed route's counter is zeroed for the next route to take its id, pending counts
    // flushed first: none is left to land in it later.
    send(frame, 2, 0);
    dp.deleteRoute(parsePrefix('10.9.8.9/32'));
    dp.close(); // the zeroing batch goes at the latest at close
    dp = await Dataplane.open(instance);
    assert.deepEqual(dp.pipeline.maps.routeStats.get(narrow), { packets: 0n, bytes: 0n });
    assert.deepEqual(
      slotted(udpKey('10.61.0.4', '10.9.8.9', 44000, 53)).map((x) => x.packets),
      CPUS.map(() => 0),
      'nothing left pending',
    );
  });

  it('flushes every online CPU', () => {
    const r = dp.pipeline.flush!.testRunOnCpus({ data: new Uint8Array(64) });
    assert.deepEqual(r.skipped, []);
    assert.equal(r.runs.length, cpus().length);
  });
});
