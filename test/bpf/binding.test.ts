/**
 * The native binding against the real kernel: objects, rodata, maps (single, batch, per-CPU,
 * mmap), ring buffer, test_run, pins, verifier rejections, layout checks.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';

import {
  BpfObject,
  BpfMap,
  PerCpuMap,
  RingBufferReader,
  removePinDir,
  openPinned,
  scalar,
  MapType,
  UpdateFlags,
  XdpAction,
  native,
} from '../../src/kernel/index.js';
import { PwError } from '../../src/errors.js';
import * as fx from '../generated/binding-fixtures.js';
import { ipv4Packet } from '../helpers/packets.js';
import { testObject } from '../helpers/paths.js';
import { privilegedSkip } from '../helpers/privileged.js';

const skip = privilegedSkip();
const fixtures = testObject('binding-fixtures');

describe('BPF objects', { skip }, () => {
  let obj: BpfObject<typeof fx>;
  before(async () => {
    obj = await BpfObject.load(fixtures, { spec: fx, rodata: { fx_config: { verdict: XdpAction.DROP } } });
  });
  after(() => obj?.close());

  it('lists programs and maps with their types and sizes', () => {
    const progs = obj
      .programs()
      .map((p) => p.name)
      .sort();
    assert.deepEqual(progs, [...fx.programs].sort());
    const table = obj.maps().find((m) => m.name === 'fx_table')!;
    assert.equal(table.type, MapType.HASH);
    assert.equal(table.keySize, fx.FxKey.size);
    assert.equal(table.valueSize, fx.FxValue.size);
    assert.equal(table.maxEntries, fx.FxLimit.BATCH_ENTRIES);
    const ring = obj.maps().find((m) => m.name === 'fx_events')!;
    assert.equal(ring.type, MapType.RINGBUF);
  });

  it('applies const volatile settings set before load', async () => {
    const r = await obj.program('fx_rodata').testRun({ data: ipv4Packet({ dst: '192.0.2.1' }) });
    assert.equal(r.retval, XdpAction.DROP);
    assert.equal(obj.rodata('fx_config').verdict, XdpAction.DROP);
  });

  it('looks up, updates, deletes and iterates', () => {
    const m = obj.map(fx.maps.fx_table);
    try {
      const k = { addr: 0xc0000201, port: 443, proto: 6 };
      assert.equal(m.get(k), undefined);
      m.set(k, { packets: 5n, mac: Uint8Array.from([1, 2, 3, 4, 5, 6]), vlan: 100 });
      const v = m.get(k)!;
      assert.equal(v.packets, 5n);
      assert.deepEqual([...v.mac], [1, 2, 3, 4, 5, 6]);
      assert.equal(v.vlan, 100);
      // Network-order fields really are big-endian in the kernel's bytes.
      const raw = Buffer.alloc(8);
      raw.writeUInt32BE(0xc0000201, 0);
      raw.writeUInt16BE(443, 4);
      raw[6] = 6;
      const out = Buffer.alloc(fx.FxValue.size);
      assert.equal(native().mapLookup(m.fd, raw, out), true);
      assert.throws(
        () => m.set(k, v, UpdateFlags.NOEXIST),
        (e: PwError) => e.code === 'PW_ERR_EXISTS',
      );
      assert.deepEqual([...m.keys()], [k]);
      assert.equal(m.delete(k), true);
      assert.equal(m.delete(k), false);
      assert.equal(m.count, 0);
    } finally {
      m.close();
    }
  });

  it('batch-updates and batch-reads 100,000 entries', async () => {
    const m = obj.map(fx.maps.fx_table);
    try {
      const N = 100_000;
      const entries: [fx.FxKey, fx.FxValue][] = [];
      for (let i = 0; i < N; i++) {
        entries.push([
          { addr: (0x0a000000 + i) >>> 0, port: i & 0xffff, proto: 17 },
          { packets: BigInt(i) * 3n, mac: Uint8Array.from([2, 0, 0, i & 0xff, (i >> 8) & 0xff, (i >> 16) & 0xff]), vlan: i % 4095 },
        ]);
      }
      assert.equal(m.updateBatch(entries), N);
      const dumped = m.dump();
      assert.equal(dumped.length, N);
      const byAddr = new Map(dumped.map(([k, v]) => [k.addr, v]));
      for (let i = 0; i < N; i += 997) {
        const v = byAddr.get((0x0a000000 + i) >>> 0)!;
        assert.equal(v.packets, BigInt(i) * 3n);
        assert.equal(v.vlan, i % 4095);
        assert.equal(v.mac[3], i & 0xff);
      }
      // readAllRaw fills one buffer in place; with 70,000 per call its max_entries-sized
      // buffers (131,072) run short of a full call after the first page and grow.
      for (const chunk of [1000, 70_000]) {
        const raw = await m.readAllRaw(chunk);
        assert.equal(raw.count, N);
        assert.equal(raw.keys.length, N * fx.FxKey.size);
        assert.equal(raw.values.length, N * fx.FxValue.size);
        const kv = new DataView(raw.keys.buffer, raw.keys.byteOffset, raw.keys.byteLength);
        const vv = new DataView(raw.values.buffer, raw.values.byteOffset, raw.values.byteLength);
        const seen = new Set<number>();
        for (let i = 0; i < N; i++) {
          const k = fx.FxKey.decode(kv, i * fx.FxKey.size);
          assert.equal(fx.FxValue.decode(vv, i * fx.FxValue.size).packets, BigInt(k.addr - 0x0a000000) * 3n);
          seen.add(k.addr);
        }
        assert.equal(seen.size, N);
      }
      assert.equal(m.deleteBatch(entries.map(([k]) => k)), N);
      assert.equal(m.count, 0);
    } finally {
      m.close();
    }
  });

  it('reports how far a failing batch update got', () => {
    const m = obj.map(fx.maps.fx_table);
    try {
      const cap = fx.FxLimit.BATCH_ENTRIES;
      const k = (i: number) => ({ addr: i, port: 1, proto: 6 });
      const v = { packets: 1n, mac: new Uint8Array(6), vlan: 0 };
      const fill: [fx.FxKey, fx.FxValue][] = Array.from({ length: cap - 2 }, (_, i) => [k(i), v]);
      m.updateBatch(fill);
      // Two slots left: a batch of five fails at the third, and says two were written.
      assert.throws(
        () => m.updateBatch([cap, cap + 1, cap + 2, cap + 3, cap + 4].map((i) => [k(i), v])),
        (e: PwError) => e.code === 'PW_ERR_FULL' && e.details?.applied === 2,
      );
      assert.notEqual(m.get(k(cap + 1)), undefined);
      assert.equal(m.get(k(cap + 2)), undefined);
      m.deleteBatch([...fill.map(([key]) => key), k(cap), k(cap + 1)]);
      assert.equal(m.count, 0);
    } finally {
      m.close();
    }
  });

  it('sums per-CPU values written by the program', async () => {
    const counters = obj.perCpuMap(fx.maps.fx_counters);
    try {
      counters.set(0, fx.FxCounter.zero());
      const pkt = ipv4Packet({ dst: '192.0.2.9', payload: new Uint8Array(100) });
      const r = await obj.program('fx_count').testRun({ data: pkt, repeat: 1000 });
      assert.equal(r.retval, XdpAction.PASS);
      const perCpu = counters.get(0)!;
      assert.equal(perCpu.length, native().numPossibleCpus());
      const total = perCpu.reduce((a, c) => a + c.packets, 0n);
      const bytes = perCpu.reduce((a, c) => a + c.bytes, 0n);
      assert.equal(total, 1000n);
      assert.equal(bytes, 1000n * BigInt(pkt.length));
    } finally {
      counters.close();
    }
  });

  it('lets TypeScript write an mmap-ed array that the program then reads', async () => {
    const settings = obj.map(fx.maps.fx_settings);
    const mm = settings.mmap();
    try {
      mm.set(0, { verdict: XdpAction.TX, stamp: 0xdeadbeef });
      const r = await obj.program('fx_read_mmap').testRun({ data: ipv4Packet({ dst: '192.0.2.2' }) });
      assert.equal(r.retval, XdpAction.TX);
      assert.equal(r.data!.readUInt32BE(0), 0xdeadbeef);
      // The same memory is what a syscall lookup sees.
      assert.deepEqual(settings.get(0), { verdict: XdpAction.TX, stamp: 0xdeadbeef });
      mm.set(0, { verdict: XdpAction.DROP, stamp: 0x01020304 });
      const r2 = obj.program('fx_read_mmap').testRunSync({ data: ipv4Packet({ dst: '192.0.2.2' }) });
      assert.equal(r2.retval, XdpAction.DROP);
      assert.equal(r2.data!.readUInt32BE(0), 0x01020304);
    } finally {
      mm.close();
      settings.close();
    }
    // After close the views are detached, not dangling.
    assert.equal(mm.bytes.byteLength, 0);
  });

  it('delivers ring buffer events from the program to an async iterator', async () => {
    const reader = new RingBufferReader(obj.mapHandle('fx_events'));
    try {
      const prog = obj.program('fx_emit');
      const sent: Buffer[] = [];
      for (let i = 0; i < 50; i++) {
        const p = ipv4Packet({ dst: `192.0.2.${i + 1}`, sport: 1000 + i });
        sent.push(p);
        await prog.testRun({ data: p });
      }
      const got: fx.FxEvent[] = [];
      for await (const rec of reader) {
        got.push(fx.FxEvent.decode(new DataView(rec.buffer, rec.byteOffset, rec.byteLength), 0));
        if (got.length === sent.length) break;
      }
      assert.equal(got.length, 50);
      got.forEach((e, i) => {
        assert.equal(e.len, sent[i]!.length);
        assert.deepEqual(Buffer.from(e.head.subarray(0, Math.min(64, e.len))), sent[i]!.subarray(0, 64));
      });
    } finally {
      reader.close();
    }
  });

  it('counts events lost when the consumer does not keep up', async () => {
    const lost = obj.map(fx.maps.fx_events_lost);
    lost.set(0, 0n);
    // A paused reader (high-water mark 1) lets the 64 KiB ring fill up.
    const reader = new RingBufferReader(obj.mapHandle('fx_events'), { highWaterMark: 1 });
    try {
      const N = 2000;
      await obj.program('fx_emit').testRun({ data: ipv4Packet({ dst: '192.0.2.77' }), repeat: N });
      let received = 0;
      const lostCount = Number(lost.get(0)!);
      assert.ok(lostCount > 0, 'the ring must have overflowed');
      for await (const _ of reader) {
        received++;
        if (received + lostCount === N) break;
      }
      assert.equal(received + lostCount, N);
    } finally {
      reader.close();
      lost.close();
    }
  });

  it('pins a map and gets it back from bpffs', () => {
    const dir = `/sys/fs/bpf/pathwise-test-${process.pid}`;
    mkdirSync(dir, { recursive: true });
    const m = obj.map(fx.maps.fx_settings);
    try {
      m.set(1, { verdict: 7, stamp: 42 });
      native().objPin(m.fd, `${dir}/fx_settings`);
      const again = new BpfMap(openPinned(`${dir}/fx_settings`), scalar.u32, fx.FxSetting);
      assert.deepEqual(again.get(1), { verdict: 7, stamp: 42 });
      assert.equal(again.info.id, m.info.id);
      again.close();
    } finally {
      m.close();
      removePinDir(dir);
    }
  });

  it('checks buffer lengths against the map before the kernel reads or writes them', () => {
    const m = obj.map(fx.maps.fx_settings); // key 4 bytes, value FxSetting
    try {
      const n = native();
      const short = Buffer.alloc(2);
      const key = Buffer.alloc(4);
      const value = Buffer.alloc(fx.FxSetting.size);
      assert.throws(() => n.mapLookup(m.fd, short, value), /key: 2 bytes, the map needs 4/);
      assert.throws(() => n.mapLookup(m.fd, key, Buffer.alloc(fx.FxSetting.size - 1)), /value: \d+ bytes, the map needs/);
      assert.throws(() => n.mapUpdate(m.fd, key, short), /value: 2 bytes/);
      assert.throws(() => n.mapDelete(m.fd, short), /key: 2 bytes/);
      assert.throws(() => n.mapGetNextKey(m.fd, null, short), /next: 2 bytes/);
      assert.throws(() => n.mapUpdateBatch(m.fd, Buffer.alloc(4 * 3), Buffer.alloc(fx.FxSetting.size * 2), 3), /values: .* the map needs/);
      assert.throws(
        () => n.mapLookupBatch(m.fd, null, Buffer.alloc(8), Buffer.alloc(4), Buffer.alloc(fx.FxSetting.size * 4), 4),
        /keys: 4 bytes, the map needs 16/,
      );
      assert.equal(n.mapLookup(m.fd, key, value), true, 'right sizes still work');
    } finally {
      m.close();
    }
  });

  it('stops draining a ring buffer that a callback closed', async () => {
    const handle = obj.mapHandle('fx_events');
    const ring = new (native().RingBuffer)(
      handle.fd,
      () => {
        delivered++;
        ring.close(); // mid-drain
      },
      1, // one record per batch: the drain would go on to the next
    );
    let delivered = 0;
    for (let i = 0; i < 5; i++) await obj.program('fx_emit').testRun({ data: ipv4Packet({ dst: `192.0.2.${i + 1}` }) });
    assert.equal(ring.consume(), 1);
    assert.equal(delivered, 1);
    assert.equal(ring.closed, true);
    handle.close();
  });

  it('closes fds idempotently and refuses use after close', () => {
    const m = obj.map(fx.maps.fx_settings);
    m.close();
    m.close();
    assert.equal(m.closed, true);
    assert.throws(() => m.get(0), /closed/);
  });
});

describe('loading with pinned maps', { skip }, () => {
  const dir = `/sys/fs/bpf/pathwise-test-reuse-${process.pid}`;
  after(() => removePinDir(dir));

  it('reuses the pinned map (and its contents) on a second load', async () => {
    mkdirSync(dir, { recursive: true });
    const a = await BpfObject.load(fixtures, { spec: fx, pinDir: dir, pinMaps: ['fx_settings'] });
    const ma = a.map(fx.maps.fx_settings);
    ma.set(2, { verdict: 3, stamp: 99 });
    const idA = ma.info.id;
    ma.close();
    a.close();
    const b = await BpfObject.load(fixtures, { spec: fx, pinDir: dir, pinMaps: ['fx_settings'] });
    const mb = b.map(fx.maps.fx_settings);
    assert.equal(mb.info.id, idA);
    assert.deepEqual(mb.get(2), { verdict: 3, stamp: 99 });
    mb.close();
    b.close();
  });
});

describe('load failures', { skip }, () => {
  for (const verifierStats of [false, true]) {
    it(`brings the verifier log to TypeScript${verifierStats ? ", also when the verifier's statistics were asked for" : ''}`, async () => {
      await assert.rejects(
        BpfObject.load(testObject('verifier-reject'), { spec: { maps: {}, rodata: {}, programs: ['fx_unchecked'] }, verifierStats }),
        (e: PwError) => {
          assert.equal(e.code, 'PW_ERR_VERIFIER');
          const log = e.details!.verifierLog as string;
          assert.match(log, /invalid access to packet/);
          assert.match(e.message, /verifier rejected/);
          return true;
        },
      );
    });
  }

  it('refuses an object whose maps differ from the generated codecs', async () => {
    const wrong = { ...fx, maps: { ...fx.maps, fx_table: { ...fx.maps.fx_table, value: scalar.u64 } } };
    await assert.rejects(
      BpfObject.load(fixtures, { spec: wrong as unknown as typeof fx }),
      (e: PwError) => e.code === 'PW_ERR_LAYOUT' && /fx_table/.test(e.message),
    );
  });

  it('names a missing object file', async () => {
    await assert.rejects(
      BpfObject.load('/nonexistent/x.bpf.o', { spec: fx }),
      (e: PwError) => e.code === 'PW_ERR_NOT_FOUND' && e.where === '/nonexistent/x.bpf.o',
    );
  });

  it('refuses a per-CPU map opened as a plain map', async () => {
    const obj = await BpfObject.load(fixtures, { spec: fx });
    try {
      assert.throws(
        () => obj.map(fx.maps.fx_counters),
        (e: PwError) => e.code === 'PW_ERR_INVALID' && /PerCpuMap/.test(e.message),
      );
      assert.ok(obj.perCpuMap(fx.maps.fx_counters) instanceof PerCpuMap);
    } finally {
      obj.close();
    }
  });
});
