/**
 * Insight logic that needs no kernel: the classic BPF translator's output shape and refusals,
 * top-N selection, names and packet summaries. (The translation's behaviour is checked in the
 * kernel against tcpdump: test/bpf/capture-filter.test.ts.)
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { decodeClassic, translateClassic, type ClassicInsn } from '../../src/insight/cbpf-to-ebpf.js';
import { topIndexes } from '../../src/util/top-indexes.js';
import { formatTcpFlagBits, protocolName } from '../../src/insight/names.js';
import { formatSummary, summarizePacket } from '../../src/insight/packet-summary.js';
import { decodeEvent } from '../../src/insight/events.js';
import { decodeCaptureRecord } from '../../src/insight/capture-record.js';
import * as abi from '../../src/generated/pathwise.js';

const maps = { scratchFd: 3, progsFd: 4 };
const ret = (k: number): ClassicInsn => ({ code: 0x06, jt: 0, jf: 0, k });

describe('classic BPF to eBPF', () => {
  it('translates a return-only program and places the map fds in ld_imm64 pairs', () => {
    const t = translateClassic([ret(262144)], maps);
    const code = (i: number) => t.insns[i * 8]!;
    const lddw = [...Array(t.count).keys()].filter((i) => code(i) === 0x18);
    assert.equal(lddw.length, 2);
    assert.deepEqual(
      lddw.map((i) => [t.insns[i * 8 + 1]! >> 4, t.insns.readInt32LE(i * 8 + 4)]),
      [
        [1, 3],
        [1, 4],
      ],
    );
    assert.equal(code(t.count - 1), 0x95, 'ends with exit');
  });

  it('refuses what is not a valid classic program, saying which instruction', () => {
    assert.throws(() => translateClassic([], maps), /empty/);
    assert.throws(() => translateClassic([{ code: 0x05, jt: 0, jf: 0, k: 5 }, ret(1)], maps), /instruction 0: jump past the end/);
    assert.throws(() => translateClassic([{ code: 0x60, jt: 0, jf: 0, k: 16 }, ret(1)], maps), /instruction 0: scratch memory M\[16\]/);
    assert.throws(() => translateClassic([{ code: 0xff, jt: 0, jf: 0, k: 0 }, ret(1)], maps), /instruction 0: opcode 0xff/);
    assert.throws(() => translateClassic([{ code: 0x00, jt: 0, jf: 0, k: 1 }], maps), /must end with a return/);
    assert.throws(() => decodeClassic(new Uint8Array(7)), /8-byte/);
  });
});

describe('top N', () => {
  it('selects the largest keys in order, lower index first on ties, skipping what keep() refuses', async () => {
    const keys = [5, 1, 9, 9, 3, 7, 0, 9];
    assert.deepEqual(
      await topIndexes(
        keys.length,
        3,
        (i) => keys[i]!,
        () => true,
      ),
      [2, 3, 7],
    );
    assert.deepEqual(
      await topIndexes(
        keys.length,
        10,
        (i) => keys[i]!,
        (i) => i % 2 === 0,
      ),
      [2, 0, 4, 6],
    );
    assert.deepEqual(
      await topIndexes(
        keys.length,
        0,
        (i) => keys[i]!,
        () => true,
      ),
      [],
    );
  });
});

describe('names and packet summaries', () => {
  it("prints TCP flags in tcpdump's letters and protocols by name", () => {
    assert.equal(formatTcpFlagBits(0x12), 'S.');
    assert.equal(formatTcpFlagBits(0x19), 'FP.');
    assert.equal(protocolName(6), 'tcp');
    assert.equal(protocolName(253), '253');
  });

  it('summarizes an IPv4 UDP frame and a frame that is not IP', () => {
    const f = Buffer.alloc(14 + 20 + 8);
    f.writeUInt16BE(0x0800, 12);
    f[14] = 0x45;
    f[14 + 9] = 17;
    Buffer.from([10, 0, 0, 1, 10, 0, 0, 2]).copy(f, 14 + 12);
    f.writeUInt16BE(1234, 34);
    f.writeUInt16BE(53, 36);
    assert.equal(formatSummary(summarizePacket(f)), 'udp 10.0.0.1:1234 > 10.0.0.2:53');
    const arp = Buffer.alloc(42);
    arp.writeUInt16BE(0x0806, 12);
    assert.equal(formatSummary(summarizePacket(arp)), 'ethertype 0x0806');
    assert.equal(summarizePacket(Buffer.alloc(5)).family, null);
  });
});

describe('event records', () => {
  /** A record as the pipeline writes it: the fixed part, then `carried` bytes of the packet. */
  const record = (len: number, carried: number) => {
    const rec = Buffer.alloc(abi.PwEvent.offsets.head + carried);
    rec.writeUInt32LE(len, abi.PwEvent.offsets.len);
    rec.writeUInt32LE(7, abi.PwEvent.offsets.rule);
    for (let i = 0; i < Math.min(len, carried); i++) rec[abi.PwEvent.offsets.head + i] = i & 255;
    return rec;
  };
  const head = (len: number, carried: number) => Buffer.from(decodeEvent(record(len, carried), String).head, 'base64');

  it('reads the three record sizes: the packet head is what the record carries, at most the packet', () => {
    for (const [len, carried, want] of [
      [60, 64, 60],
      [100, 128, 100],
      [1500, abi.PwLimit.EVENT_BYTES, abi.PwLimit.EVENT_BYTES],
      [64, 64, 64],
    ]) {
      const h = head(len!, carried!);
      assert.equal(h.length, want, `a ${len}-byte packet in a record carrying ${carried}`);
      assert.deepEqual(
        [...h],
        Array.from({ length: want! }, (_, i) => i & 255),
      );
    }
    assert.equal(decodeEvent(record(60, 64), String).rule, 7);
  });

  it('reads the fields where they lie: times, interfaces, kind; a record shorter than its fields reads zeros', () => {
    const rec = record(60, 64);
    rec.writeUInt32LE(3, abi.PwEvent.offsets.ifindex);
    rec.writeUInt32LE(9, abi.PwEvent.offsets.egress_ifindex);
    rec[abi.PwEvent.offsets.kind] = abi.PwEventKind.DROP;
    const at = (ms: number) => {
      rec.writeBigUInt64LE(BigInt(ms) * 1_000_000n + 999_999n, abi.PwEvent.offsets.ts_ns);
      return decodeEvent(rec, (i) => `if${i}`, 1_700_000_000_000_000_000n);
    };
    const e = at(5);
    assert.deepEqual([e.time, e.kind, e.iif, e.oif, e.len], ['2023-11-14T22:13:20.005Z', 'drop', 'if3', 'if9', 60]);
    assert.equal(at(6).time, '2023-11-14T22:13:20.006Z');
    assert.equal(at(5).time, '2023-11-14T22:13:20.005Z');
    const short = decodeEvent(record(60, 64).subarray(0, 20), String, 0n);
    assert.deepEqual([short.rule, short.oif, short.head], [7, null, '']);
  });
});

describe('capture records', () => {
  it('reads the fields where they lie and copies only the captured bytes', () => {
    const C = abi.PwCaptureRecord.offsets;
    const rec = Buffer.alloc(abi.PwCaptureRecord.size);
    rec.writeBigUInt64LE(1_000n, C.ts_ns);
    rec.writeUInt32LE(3, C.ifindex);
    rec.writeUInt32LE(1500, C.len);
    rec.writeUInt32LE(5, C.caplen);
    rec.writeUInt32LE(7, C.rule);
    rec.writeUInt32LE(11, C.route);
    rec.writeUInt32LE(9, C.egress_ifindex);
    rec[C.point] = abi.PwCapturePoint.VERDICT;
    rec[C.verdict] = abi.PwVerdict.DROP;
    rec.set([1, 2, 3, 4, 5, 6], C.data);
    const r = decodeCaptureRecord(rec, 5n, (i) => `if${i}`);
    assert.deepEqual(
      { ...r, data: [...r.data] },
      {
        tsNs: 1_005n,
        iif: 'if3',
        len: 1500,
        data: [1, 2, 3, 4, 5],
        point: 'verdict',
        verdict: 'drop',
        reason: r.reason,
        xdpAction: 1,
        rule: 7,
        route: 11,
        oif: 'if9',
      },
    );
    rec[C.point] = abi.PwCapturePoint.INGRESS;
    assert.deepEqual(Object.keys(decodeCaptureRecord(rec, 0n, String)), ['tsNs', 'iif', 'len', 'data', 'point']);
    assert.throws(() => decodeCaptureRecord(rec.subarray(0, 20), 0n, String), /shorter than its 40 of fields/);
  });
});
