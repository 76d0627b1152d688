/**
 * Program upgrades that a crash interrupts, and upgrades across map layouts:
 * - a crash after staging (before any interface switched), after switching, and between two
 *   renames: recovery rolls back or forward, the interface runs the pinned program, no staged
 *   pin or journal is left, and filter.json describes the maps in use;
 * - an interface left on an unpinned program of the instance (an orphan) is switched back;
 * - a map whose layout changed in the same number of bytes (only BTF tells) is not carried
 *   over as it is; a map whose value grew keeps its entries, field by field;
 * - meta.json lost: the settings and table sizes come from the pins.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';

import { Dataplane } from '../../src/dataplane/dataplane.js';
import { Pipeline, pinDirOf, runDirOf } from '../../src/dataplane/pipeline.js';
import { tcProgramOn } from '../../src/dataplane/tc-hook.js';
import * as abi from '../../src/generated/pathwise.js';
import { BpfMap, BpfObject, bytesCodec, MapType, openPinned, pinFd, Program, queryXdp, resolveIfindex } from '../../src/kernel/index.js';
import { parseRouteTokens } from '../../src/routing/route-syntax.js';
import { parsePrefix } from '../../src/util/ip.js';
import { ipv4Packet, ipv6Packet } from '../helpers/packets.js';
import { testObject } from '../helpers/paths.js';
import { privilegedSkip } from '../helpers/privileged.js';
import { Topology } from '../helpers/topology.js';

const skip = privilegedSkip();

describe('program upgrades: crashes and layouts', { skip, timeout: 5 * 60_000 }, () => {
  let topo: Topology;
  let instance = '';
  const dir = () => pinDirOf(instance);
  const filterFile = () => join(runDirOf(instance), 'filter.json');
  const running = () => queryXdp(resolveIfindex(topo.name('x0'))).progId;
  /** x1 runs the TC pipeline: an upgrade switches it as well, and a crash leaves it as x0. */
  const runningTc = () => tcProgramOn(resolveIfindex(topo.name('x1')));
  const pinnedId = (name = 'pw_xdp') => {
    const prog = Program.fromPin(join(dir(), name));
    try {
      return prog.info().id;
    } finally {
      prog.close();
    }
  };
  const staged = () => readdirSync(dir()).filter((n) => n.endsWith('_next'));
  const journal = () => existsSync(join(runDirOf(instance), 'upgrade-journal.json'));
  /** A map of an earlier release's layout, as BpfObject.load's spec names it (raw bytes). */
  const oldMap = (name: string, type: number, maxEntries: number, keySize: number, valueSize: number, flags = 0) => ({
    name,
    type,
    maxEntries,
    flags,
    keySize,
    valueSize,
    key: bytesCodec(keySize),
    value: bytesCodec(valueSize),
  });
  /** Pins `old`'s map `name` where the instance's map of that name was pinned: what an
   * earlier release left. */
  const pinOldMap = (old: Pick<BpfObject, 'mapHandle'>, name: string) => {
    if (existsSync(join(dir(), name))) unlinkSync(join(dir(), name));
    const h = old.mapHandle(name);
    try {
      pinFd(h.fd, join(dir(), name));
    } finally {
      h.close();
    }
  };

  before(async () => {
    // In this process's namespace: an upgrade switches the interfaces it can see.
    topo = new Topology('up');
    topo.addVeth({ name: 'x0' }, { name: 'x1' });
    instance = topo.prefix;
    topo.recordInstance(instance);
    const dp = await Dataplane.open(instance);
    try {
      dp.attach([topo.name('x0')], 'native');
      dp.attach([topo.name('x1')], 'tc');
      dp.filter.addLimiter({ name: 'l', rate: 5, burst: 5, per4: 32, per6: 64, blockAfter: 0, blockForMs: 0 });
      dp.filter.setRules([{ action: 'drop', proto: 6, dport: [22, 22] }]);
    } finally {
      dp.close();
    }
  });
  after(() => {
    if (instance) Pipeline.down(instance);
    topo?.destroy();
  });
  beforeEach(() => {
    assert.equal(journal(), false, 'no journal before a test');
    assert.equal(running(), pinnedId(), 'the interface runs the pinned program before a test');
    assert.equal(runningTc(), pinnedId('pw_tc'), 'and the TC one its pinned program');
  });

  for (const [crash, outcome] of [
    ['staged', 'rolled-back'],
    ['switched', 'completed'],
    ['renamed-one', 'completed'],
  ] as const) {
    it(`recovers from a crash after "${crash}": ${outcome}`, async () => {
      const before = pinnedId();
      const tcBefore = pinnedId('pw_tc');
      const filterBefore = readFileSync(filterFile(), 'utf8');
      const settings = Pipeline.pinnedMeta(instance).settings;
      await assert.rejects(Dataplane.upgrade(instance, settings, { crashAfter: crash }), /test: crash/);
      assert.equal(journal(), true, 'the crash left the journal');
      const r = Pipeline.recover(instance);
      assert.equal(r.upgrade, outcome);
      assert.deepEqual(staged(), [], 'no staged pin left');
      assert.equal(journal(), false);
      assert.equal(running(), pinnedId(), 'the interface runs the pinned program');
      assert.equal(runningTc(), pinnedId('pw_tc'), 'the TC interface runs the pinned TC program');
      assert.equal(pinnedId('pw_tc') === tcBefore, outcome === 'rolled-back', 'the TC program went with the XDP one');
      if (outcome === 'rolled-back') {
        assert.equal(pinnedId(), before, 'the old program is still the one');
        assert.equal(readFileSync(filterFile(), 'utf8'), filterBefore, 'filter.json as before');
      } else assert.notEqual(pinnedId(), before, 'the new program took over');
      // The data plane opens and decides with its rules: nothing is half-done.
      const dp = await Dataplane.open(instance);
      try {
        assert.equal(dp.trace(ipv4Packet({ dst: '10.9.9.9', proto: 'tcp', dport: 22 })).reason, abi.PwReason.RULE_DROP);
      } finally {
        dp.close();
      }
    });
  }

  it('switches an interface left on an unpinned program of the instance back to the pinned one', async () => {
    const settings = Pipeline.pinnedMeta(instance).settings;
    await assert.rejects(Dataplane.upgrade(instance, settings, { crashAfter: 'switched' }), /test: crash/);
    // As if the crash came before journals existed: no journal, no staged pins.
    rmSync(join(runDirOf(instance), 'upgrade-journal.json'));
    for (const n of staged()) unlinkSync(join(dir(), n));
    assert.notEqual(running(), pinnedId(), 'the interface runs an orphan');
    assert.notEqual(runningTc(), pinnedId('pw_tc'), 'so does the TC one');
    const r = Pipeline.recover(instance);
    assert.equal(r.upgrade, 'none');
    assert.deepEqual(r.orphans, [topo.name('x0'), topo.name('x1')]);
    assert.equal(running(), pinnedId());
    assert.equal(runningTc(), pinnedId('pw_tc'));
  });

  it('moves maps whose layout changed: by BTF when the size is the same, field by field when it grew', async () => {
    // What an earlier release left pinned: maps of the old layouts, with entries.
    const spec = {
      maps: {
        pw_block4: oldMap('pw_block4', MapType.LPM_TRIE, 1 << 20, 8, 8, 1),
        pw_ratelimits: oldMap('pw_ratelimits', MapType.ARRAY, 1024, 4, 32),
      },
      rodata: {},
      programs: [],
    } as const;
    const old = await BpfObject.load(testObject('old-layouts'), { spec });
    try {
      for (const name of ['pw_block4', 'pw_ratelimits'] as const) pinOldMap(old, name);
      const block4 = old.map(spec.maps.pw_block4);
      const ratelimits = old.map(spec.maps.pw_ratelimits);
      try {
        block4.set(Uint8Array.from([24, 0, 0, 0, 203, 0, 113, 0]), new Uint8Array(8)); // 203.0.113.0/24, no expiry
        const rl = Buffer.alloc(32);
        rl.writeBigUInt64LE(7000n, 0); // rate_mpps: 7 packets/s as the old limiter held it
        ratelimits.set(Uint8Array.from([1, 0, 0, 0]), rl);
      } finally {
        block4.close();
        ratelimits.close();
      }
    } finally {
      old.close();
    }
    const r = await Dataplane.upgrade(instance, Pipeline.pinnedMeta(instance).settings);
    assert.ok(r.fresh.includes('pw_ratelimits'), 'a 32-byte value with new fields is a new layout (BTF), though its size is not');
    assert.ok(r.fresh.includes('pw_block4'));
    const moved = r.migrated.find((m) => m.map === 'pw_block4');
    assert.deepEqual(moved, { map: 'pw_block4', entries: 1, kept: ['expires_ns'] });
    assert.equal(r.republished, true, 'the limiters came back from filter.json');
    const dp = await Dataplane.open(instance);
    try {
      const listed = await dp.filter.blocklist();
      assert.deepEqual(
        listed.map((b) => [b.prefix, b.origin, b.expiresInMs]),
        [['203.0.113.0/24', 'config', null]],
      );
      assert.equal(dp.trace(ipv4Packet({ src: '203.0.113.9', dst: '10.9.9.9' })).reason, abi.PwReason.BLOCKED);
      const lim = dp.filter.limiters().find((l) => l.name === 'l')!;
      assert.equal(dp.pipeline.maps.ratelimits.get(lim.id)!.interval_ns, 200_000_000n, 'GCRA fields from filter.json, not the old bytes');
      dp.filter.unblock(parsePrefix('203.0.113.0/24'));
    } finally {
      dp.close();
    }
  });

  it("flushes the old program's flow cache when the new one gives it a new layout", async () => {
    const spec = {
      maps: {
        pw_flow_cache: oldMap('pw_flow_cache', MapType.PERCPU_ARRAY, 4096, 4, 88),
        pw_flow_stats: oldMap('pw_flow_stats', MapType.PERCPU_ARRAY, 1, 4, 16),
      },
      rodata: {},
      programs: ['pw_xdp_flush'],
    } as const;
    const created = async () => {
      const dp = await Dataplane.open(instance);
      try {
        return (dp.pipeline.maps.flowStats.get(0) ?? []).reduce((sum, c) => sum + c.created, 0n);
      } finally {
        dp.close();
      }
    };
    const before = await created();
    // What the cache's first release left pinned: its slots, and its flush program (the
    // fixture's counts its runs into the flow counters the pipeline shares).
    const old = await BpfObject.load(testObject('old-layouts'), { spec, pinDir: dir(), pinMaps: ['pw_flow_stats'] });
    try {
      pinOldMap(old, 'pw_flow_cache');
      unlinkSync(join(dir(), 'pw_xdp_flush'));
      old.program('pw_xdp_flush').pin(join(dir(), 'pw_xdp_flush'));
    } finally {
      old.close();
    }
    const r = await Dataplane.upgrade(instance, Pipeline.pinnedMeta(instance).settings);
    assert.ok(r.fresh.includes('pw_flow_cache'));
    // (The test's interface may see a flow of its own meanwhile: the runs are counted in 1000s.)
    assert.equal(((await created()) - before) / 1000n, BigInt(cpus().length), 'the old flush program ran once on each CPU');
  });

  it('writes the IPv6 FIB of an earlier release (an LPM trie) into the multibit trie before switching', async () => {
    const dst = ipv6Packet({ src: '2001:db8:1::1', dst: '2001:db8:77:0:1::9' });
    {
      const dp = await Dataplane.open(instance);
      try {
        dp.addRoute(parseRouteTokens(['blackhole', '2001:db8:77::/48'], () => 'test'));
        assert.equal(dp.trace(dst).reason, abi.PwReason.BLACKHOLE);
      } finally {
        dp.close();
      }
    }
    // What that release left pinned: the IPv6 routes' records, the trie, no nodes.
    const spec = {
      maps: {
        pw_fib6: oldMap('pw_fib6', MapType.LPM_TRIE, 1 << 20, 20, 4, 1),
      },
      rodata: {},
      programs: [],
    } as const;
    const old = await BpfObject.load(testObject('old-layouts'), { spec });
    try {
      pinOldMap(old, 'pw_fib6');
    } finally {
      old.close();
    }
    unlinkSync(join(dir(), 'pw_fib6_nodes'));
    const r = await Dataplane.upgrade(instance, Pipeline.pinnedMeta(instance).settings);
    assert.ok(r.fresh.includes('pw_fib6_nodes'));
    assert.equal(existsSync(join(dir(), 'pw_fib6')), false, 'the old trie is unpinned');
    await expectFib6Filled(dst);
  });

  it('writes the IPv6 FIB of a release with a 2^16-entry first level into the new trie before switching', async () => {
    const dst = ipv6Packet({ src: '2001:db8:1::1', dst: '2001:db8:77:0:1::9' });
    {
      const dp = await Dataplane.open(instance);
      try {
        dp.addRoute(parseRouteTokens(['blackhole', '2001:db8:77::/48'], () => 'test'));
      } finally {
        dp.close();
      }
    }
    // What that release left pinned: nodes whose first 256 were the first level (2001: node
    // 0x20, entry 0x01, pointing at node 256), more of them than this release's first level
    // takes. Taken as this release's nodes, they would send 2001:db8:77::/48 nowhere.
    const oldNodes = abi.PwLimit.FIB6_ROOT_NODES + 512;
    const spec = {
      maps: { pw_fib6_nodes: oldMap('pw_fib6_nodes', MapType.ARRAY, oldNodes, 4, 1024, 1024) },
      rodata: {},
      programs: [],
    } as const;
    const old = await BpfObject.load(testObject('old-layouts'), { spec, maxEntries: { pw_fib6_nodes: oldNodes } });
    try {
      const nodes = old.map(spec.maps.pw_fib6_nodes);
      try {
        const node = new Uint8Array(1024);
        new DataView(node.buffer).setUint32(4 * 0x01, (0x80000000 | 256) >>> 0, true);
        nodes.set(Uint8Array.from([0x20, 0, 0, 0]), node);
      } finally {
        nodes.close();
      }
      pinOldMap(old, 'pw_fib6_nodes');
    } finally {
      old.close();
    }
    // With meta.json lost, the sizes come from the pins: all of the old map's elements were
    // nodes (its layout is not this release's), so the new map has room for as many below its
    // first level.
    rmSync(join(runDirOf(instance), 'meta.json'));
    const settings = Pipeline.pinnedMeta(instance).settings;
    assert.equal(settings.ipv6Nodes, oldNodes);
    const r = await Dataplane.upgrade(instance, settings);
    assert.ok(r.fresh.includes('pw_fib6_nodes'), 'the old nodes are not taken as new ones: their field is named entry');
    assert.equal(Pipeline.pinnedMeta(instance).settings.ipv6Nodes, oldNodes);
    await expectFib6Filled(dst);
  });

  /** After an upgrade that made the IPv6 FIB anew: 2001:db8:77::/48 was written before the
   * switch (read through the pinned maps: its first-level entry, 2001:0d, element 0x2001,
   * slot 0x0d, points at a node), the packet to it meets the blackhole, and a delete works. */
  const expectFib6Filled = async (dst: Uint8Array) => {
    const pipeline = await Pipeline.open(instance, {}, { create: false });
    try {
      assert.ok(pipeline.maps.fib6Nodes.get(0x2001)!.slot[0x0d]! & 0x80000000, 'the first level points at a node');
    } finally {
      pipeline.close();
    }
    const dp = await Dataplane.open(instance);
    try {
      assert.equal(dp.trace(dst).reason, abi.PwReason.BLACKHOLE);
      dp.deleteRoute(parsePrefix('2001:db8:77::/48'));
      assert.equal(dp.trace(dst).reason === abi.PwReason.BLACKHOLE, false);
    } finally {
      dp.close();
    }
  };

  it("gives nexthops of the layout before gw_mac their gateway's MAC before the switch", async () => {
    const x0 = topo.name('x0');
    topo.exec(undefined, 'ip', ['addr', 'add', '100.64.9.1/24', 'dev', x0]);
    topo.exec(undefined, 'ip', ['neigh', 'replace', '100.64.9.2', 'lladdr', '02:00:00:00:09:02', 'dev', x0, 'nud', 'permanent']);
    const frame = ipv4Packet({ dst: '198.51.100.9' });
    let nh: number;
    {
      const dp = await Dataplane.open(instance);
      try {
        dp.addRoute(parseRouteTokens(['198.51.100.0/24', 'via', '100.64.9.2'], () => 'test'));
        dp.syncNeighbors();
        nh = dp.trace(frame).nexthop;
        assert.deepEqual(dp.nexthops.macOf(nh), Uint8Array.from([2, 0, 0, 0, 9, 2]));
      } finally {
        dp.close();
      }
    }
    // What a release before gw_mac left pinned: the same nexthops in 32-byte records.
    const spec = {
      maps: {
        pw_nexthops: oldMap('pw_nexthops', MapType.ARRAY, 1 << 16, 4, 32),
      },
      rodata: {},
      programs: [],
    } as const;
    const old = await BpfObject.load(testObject('old-layouts'), { spec });
    try {
      const now = new BpfMap(openPinned(join(dir(), 'pw_nexthops')), bytesCodec(4), bytesCodec(abi.PwNexthop.size));
      const records = old.map(spec.maps.pw_nexthops);
      try {
        for (const [id, v] of now.entries()) records.set(id, v.subarray(0, 32));
      } finally {
        now.close();
        records.close();
      }
      pinOldMap(old, 'pw_nexthops');
    } finally {
      old.close();
    }
    const r = await Dataplane.upgrade(instance, Pipeline.pinnedMeta(instance).settings);
    assert.ok(r.fresh.includes('pw_nexthops'));
    assert.deepEqual(r.migrated.find((m) => m.map === 'pw_nexthops')?.kept, ['ifindex', 'flags', 'gw', 'smac']);
    const dp = await Dataplane.open(instance);
    try {
      assert.deepEqual(dp.nexthops.macOf(nh), Uint8Array.from([2, 0, 0, 0, 9, 2]), 'filled from pw_neigh at the upgrade');
      assert.equal(dp.trace(frame).verdict, abi.PwVerdict.REDIRECT);
      dp.deleteRoute(parsePrefix('198.51.100.0/24'));
    } finally {
      dp.close();
      topo.exec(undefined, 'ip', ['addr', 'del', '100.64.9.1/24', 'dev', x0]);
    }
  });

  it('takes the settings and table sizes from the pins when meta.json is lost', async () => {
    const was = Pipeline.pinnedMeta(instance).settings;
    rmSync(join(runDirOf(instance), 'meta.json'));
    const derived = Pipeline.pinnedMeta(instance).settings;
    assert.deepEqual(derived, was);
    // An upgrade then carries the rule tables over instead of recreating them.
    const r = await Dataplane.upgrade(instance, derived);
    assert.ok(!r.fresh.includes('pw_rule_bitmaps') && !r.fresh.includes('pw_fib4_tbl8'), `fresh: ${r.fresh.join(', ')}`);
  });
});
