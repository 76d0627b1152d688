/**
 * Decisions in the real pipeline: blocks and rate seals written into the guard's blocklists
 * (control/decisions.ts over dataplane/seal-table.ts), checked with packets through the
 * pipeline (trace and BPF_PROG_TEST_RUN): the strongest decision on a prefix wins, a config
 * entry is never overwritten or removed, expiry is the pipeline's own, a bad batch applies
 * nothing, ids make a repeat harmless, a restart writes back what is in force, and a full
 * blocklist refuses a batch whole but stops no start.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';

import { XdpAction } from '../../src/kernel/index.js';
import { Dataplane } from '../../src/dataplane/dataplane.js';
import { Pipeline } from '../../src/dataplane/pipeline.js';
import { Decisions } from '../../src/control/decisions.js';
import { Notices, type Notice } from '../../src/control/notices.js';
import { PwError } from '../../src/errors.js';
import * as abi from '../../src/generated/pathwise.js';
import { parsePrefix, type Prefix } from '../../src/util/ip.js';
import { ipv4Packet, ipv6Packet } from '../helpers/packets.js';
import { privilegedSkip } from '../helpers/privileged.js';
import { Topology } from '../helpers/topology.js';

const skip = privilegedSkip();
/** decisions.exempt as a test sets it. */
let exempt: Prefix[] = [];
let maxActive = 1000;
const LIMITS = () => ({ defaultTtlMs: 3_600_000, maxTtlMs: 7 * 86_400_000, maxActive, exempt });

describe('decisions in the pipeline', { skip, timeout: 2 * 60_000 }, () => {
  let dp: Dataplane;
  let instance: string;
  let topo: Topology;
  let dir: string;
  let decisions: Decisions;
  const notices = new Notices();
  const told: Notice[] = [];
  notices.subscribe((n) => told.push(n));

  const from = (src: string, dport = 80) => ipv4Packet({ src, dst: '10.9.9.9', proto: 'udp', dport });
  const reason = (src: string) => dp.trace(from(src)).reason;
  const open = () => new Decisions(join(dir, 'decisions.db'), () => dp, notices, LIMITS, pino({ level: 'silent' }));

  before(async () => {
    topo = new Topology('dc');
    instance = topo.prefix;
    topo.recordInstance(instance);
    dp = await Dataplane.open(instance);
    dir = mkdtempSync(join(tmpdir(), 'pw-decisions-'));
    decisions = open();
  });
  after(() => {
    try {
      decisions?.stop();
    } catch {
      // closed by a test
    }
    dp?.close();
    if (instance) Pipeline.down(instance);
    topo?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('blocks at once, lists, tells, and lifts on revoke', async () => {
    const [r] = decisions.submit(
      { source: 'nginx-1', decisions: [{ action: 'block', target: '203.0.113.7', ttl: '10m', reason: '429s' }] },
      'tester',
    );
    assert.equal(r!.status, 'applied');
    assert.equal(r!.held, 'block');
    assert.equal(reason('203.0.113.7'), abi.PwReason.BLOCKED);
    assert.notEqual(reason('203.0.113.8'), abi.PwReason.BLOCKED);
    const listed = decisions.list();
    assert.equal(listed.length, 1);
    assert.equal(listed[0]!.source, 'nginx-1');
    assert.equal((await dp.filter.blocklist()).find((b) => b.prefix === '203.0.113.7/32')?.origin, 'decision');
    assert.deepEqual(
      told.map((n) => [n.kind, n.event, n.subject]),
      [['decision', 'applied', '203.0.113.7/32']],
    );
    decisions.revoke(r!.id, 'tester');
    assert.notEqual(reason('203.0.113.7'), abi.PwReason.BLOCKED);
    assert.equal(decisions.list().length, 0);
    assert.equal(decisions.list({ all: true })[0]!.state, 'revoked');
    assert.throws(
      () => decisions.revoke(r!.id, 'tester'),
      (e: PwError) => e.code === 'PW_ERR_EXISTS',
    );
  });

  it('seals a prefix as a whole at a rate; what conforms goes on, the rest is dropped as sealed', () => {
    decisions.submit({ decisions: [{ id: 'seal-1', action: 'limit', target: '198.51.100.0/24', rate: 1, burst: 5, ttl: 600 }] }, 'tester');
    const run = (src: string) => dp.pipeline.xdp.testRunSync({ data: from(src) }).retval;
    // Two addresses of the prefix share its 5 packets of burst (1/s refills at most one more).
    const verdicts = [...Array.from({ length: 4 }, () => run('198.51.100.1')), ...Array.from({ length: 6 }, () => run('198.51.100.2'))];
    const passed = verdicts.filter((v) => v !== XdpAction.DROP).length;
    assert.ok(passed >= 5 && passed <= 6, `${passed} of 10 passed`);
    assert.equal(dp.trace(from('198.51.100.3')).reason, abi.PwReason.SEALED);
    assert.notEqual(reason('198.51.101.1'), abi.PwReason.SEALED, 'outside the prefix');
    // IPv6 too, at its own limiter.
    decisions.submit({ decisions: [{ action: 'limit', target: '2001:db8:bad::/48', rate: 1, burst: 1 }] }, 'tester');
    const v6 = () =>
      dp.pipeline.xdp.testRunSync({ data: ipv6Packet({ src: '2001:db8:bad::9', dst: '2001:db8::2', proto: 'udp', dport: 53 }) }).retval;
    assert.notEqual(v6(), XdpAction.DROP);
    assert.equal(v6(), XdpAction.DROP);
    decisions.submit({ decisions: [{ action: 'unblock', target: '2001:db8:bad::/48' }] }, 'tester');
    decisions.revoke('seal-1', 'tester');
    assert.equal(run('198.51.100.1') === XdpAction.DROP && dp.trace(from('198.51.100.1')).reason === abi.PwReason.SEALED, false);
  });

  it('holds a prefix to the strongest decision on it, and to the next when that one ends', () => {
    const [lim] = decisions.submit({ decisions: [{ action: 'limit', target: '192.0.2.0/28', rate: 1, burst: 1 }] }, 'a');
    const [blk] = decisions.submit({ decisions: [{ action: 'block', target: '192.0.2.0/28', ttl: '5m' }] }, 'b');
    assert.equal(blk!.held, 'block');
    assert.equal(reason('192.0.2.3'), abi.PwReason.BLOCKED);
    decisions.revoke(blk!.id, 'b');
    const run = () => dp.pipeline.xdp.testRunSync({ data: from('192.0.2.3') }).retval;
    run();
    assert.equal(dp.trace(from('192.0.2.3')).reason, abi.PwReason.SEALED, 'the limit holds it now');
    decisions.revoke(lim!.id, 'a');
    assert.notEqual(dp.trace(from('192.0.2.3')).reason, abi.PwReason.SEALED);
    // The limiter the seal used is free again (zeroed), none is left behind.
    const used = [...dp.pipeline.maps.ratelimits.entries()].filter(
      ([id, v]) => id >= abi.PwLimit.SEAL_LIMITER_BASE && v.interval_ns !== 0n,
    );
    assert.deepEqual(used, []);
  });

  it('moves a prefix to a new limiter when its rate changes, and frees the old one', () => {
    const inUse = () =>
      [...dp.pipeline.maps.ratelimits.entries()]
        .filter(([id, v]) => id >= abi.PwLimit.SEAL_LIMITER_BASE && v.interval_ns !== 0n)
        .map(([id]) => id);
    const [slow] = decisions.submit({ decisions: [{ action: 'limit', target: '192.0.2.64/28', rate: 5 }] }, 'a');
    const first = inUse();
    assert.equal(first.length, 1);
    const [slower] = decisions.submit({ decisions: [{ action: 'limit', target: '192.0.2.64/28', rate: 1 }] }, 'b');
    const second = inUse();
    assert.equal(second.length, 1, 'the rate-5 limiter was freed');
    assert.notDeepEqual(second, first);
    assert.equal(dp.pipeline.maps.block4.get({ prefixlen: 28, addr: new Uint8Array([192, 0, 2, 64]) })!.limiter, second[0]);
    decisions.revoke(slower!.id, 'b');
    assert.deepEqual(inUse().length, 1, 'back to the rate-5 limit');
    decisions.revoke(slow!.id, 'a');
    assert.deepEqual(inUse(), []);
  });

  it('never overwrites or removes a config entry, and writes its own again when that one goes', async () => {
    dp.filter.block([parsePrefix('100.64.0.0/16')]);
    const [r] = decisions.submit({ decisions: [{ action: 'limit', target: '100.64.0.0/16', rate: 100 }] }, 'gw');
    assert.equal(r!.held, 'config');
    assert.equal(reason('100.64.1.1'), abi.PwReason.BLOCKED, 'the config block stands');
    dp.filter.unblock(parsePrefix('100.64.0.0/16'));
    assert.equal(await decisions.repair(), 1, 'the decision is written again');
    assert.equal((await dp.filter.blocklist()).find((b) => b.prefix === '100.64.0.0/16')?.origin, 'decision');
    decisions.revoke(r!.id, 'gw');
    dp.filter.block([parsePrefix('100.64.0.0/16')]);
    const [again] = decisions.submit({ decisions: [{ action: 'block', target: '100.64.0.0/16' }] }, 'gw');
    decisions.revoke(again!.id, 'gw');
    assert.equal(
      (await dp.filter.blocklist()).find((b) => b.prefix === '100.64.0.0/16')?.origin,
      'config',
      'revoking left the config entry',
    );
    dp.filter.unblock(parsePrefix('100.64.0.0/16'));
  });

  it('answers a repeated id without applying it again; a reused id or a bad decision applies nothing', () => {
    const d = { id: 'gw-42', action: 'block' as const, target: '203.0.113.50', ttl: '1h' };
    assert.equal(decisions.submit({ decisions: [d] }, 'gw')[0]!.status, 'applied');
    const again = decisions.submit({ decisions: [d] }, 'gw')[0]!;
    assert.equal(again.status, 'duplicate');
    assert.equal(again.held, 'block');
    const before = decisions.list().length;
    assert.throws(
      () =>
        decisions.submit(
          {
            decisions: [
              { action: 'block', target: '203.0.113.51' },
              { ...d, ttl: '2h' },
            ],
          },
          'gw',
        ),
      (e: PwError) => e.code === 'PW_ERR_EXISTS' && e.where === 'decisions[1].id',
    );
    assert.throws(
      () =>
        decisions.submit(
          {
            decisions: [
              { action: 'block', target: '203.0.113.52' },
              { action: 'block', target: '203.0.113.300' },
            ],
          },
          'gw',
        ),
      (e: PwError) => e.code === 'PW_ERR_INVALID' && e.where === 'decisions[1].target',
    );
    assert.throws(
      () => decisions.submit({ decisions: [{ action: 'limit', target: '203.0.113.53', rate: 0 }] }, 'gw'),
      (e: PwError) => e.where === 'decisions[0].rate',
    );
    assert.throws(
      () => decisions.submit({ decisions: [{ action: 'block', target: '203.0.113.54', ttl: '30d' }] }, 'gw'),
      (e: PwError) => e.where === 'decisions[0].ttl',
    );
    assert.equal(decisions.list().length, before, 'nothing of the refused batches was applied');
    assert.notEqual(reason('203.0.113.51'), abi.PwReason.BLOCKED);
    assert.notEqual(reason('203.0.113.52'), abi.PwReason.BLOCKED);
    decisions.revoke('gw-42', 'gw');
  });

  it('applies no block or limit whose target overlaps an exempt prefix: answered, recorded and told as exempt', () => {
    exempt = [parsePrefix('10.200.0.0/16'), parsePrefix('2001:db8:e::/48')];
    told.length = 0;
    try {
      const results = decisions.submit(
        {
          source: 'nginx-1',
          decisions: [
            { id: 'ex-inside', action: 'block', target: '10.200.5.5' }, // inside an exempt prefix
            { action: 'limit', target: '10.0.0.0/8', rate: 10 }, // covering one
            { action: 'block', target: '10.201.0.1' }, // neither
            { action: 'block', target: '2001:db8:e:1::/64' },
          ],
        },
        'gw',
      );
      assert.deepEqual(
        results.map((r) => [r.status, r.decision.state]),
        [
          ['exempt', 'exempt'],
          ['exempt', 'exempt'],
          ['applied', 'active'],
          ['exempt', 'exempt'],
        ],
      );
      assert.equal(results[0]!.decision.endedBy, 'decisions.exempt 10.200.0.0/16');
      assert.notEqual(reason('10.200.5.5'), abi.PwReason.BLOCKED);
      assert.notEqual(reason('10.7.0.1'), abi.PwReason.SEALED);
      assert.equal(reason('10.201.0.1'), abi.PwReason.BLOCKED);
      assert.deepEqual(
        decisions.list().map((d) => d.target),
        ['10.201.0.1/32'],
        'only the applied one is in force',
      );
      assert.equal(decisions.list({ all: true }).filter((d) => d.state === 'exempt').length, 3, 'the exempt ones are on record');
      assert.deepEqual(
        told.map((n) => [n.event, n.subject]),
        [
          ['exempt', '10.200.5.5/32'],
          ['exempt', '10.0.0.0/8'],
          ['applied', '10.201.0.1/32'],
          ['exempt', '2001:db8:e:1::/64'],
        ],
      );
      assert.match(told[0]!.summary, /overlaps 10\.200\.0\.0\/16 in decisions\.exempt/);
      // The same id again is a duplicate of what was answered; unblock is never exempt.
      assert.equal(
        decisions.submit({ decisions: [{ id: 'ex-inside', action: 'block', target: '10.200.5.5' }] }, 'gw')[0]!.status,
        'duplicate',
      );
      assert.equal(decisions.submit({ decisions: [{ action: 'unblock', target: '10.200.5.5' }] }, 'gw')[0]!.status, 'unblocked');
      // Out of the exempt list, the same block applies.
      exempt = [];
      const [later] = decisions.submit({ decisions: [{ action: 'block', target: '10.200.5.5' }] }, 'gw');
      assert.equal(later!.status, 'applied');
      assert.equal(reason('10.200.5.5'), abi.PwReason.BLOCKED);
      // Exempt again (a config applied): the decision in force on it ends, and the block goes.
      exempt = [parsePrefix('10.200.0.0/16')];
      told.length = 0;
      assert.equal(decisions.endExempt('operator'), 1);
      assert.notEqual(reason('10.200.5.5'), abi.PwReason.BLOCKED);
      assert.equal(decisions.get(later!.id).state, 'exempt');
      assert.equal(decisions.get(later!.id).endedBy, 'decisions.exempt 10.200.0.0/16');
      assert.deepEqual(
        told.map((n) => [n.event, n.subject, n.actor]),
        [['exempt', '10.200.5.5/32', 'operator']],
      );
      assert.match(told[0]!.summary, /ended: it overlaps 10\.200\.0\.0\/16, now in decisions\.exempt/);
      assert.equal(reason('10.201.0.1'), abi.PwReason.BLOCKED, 'a decision outside it stays');
      assert.equal(decisions.endExempt('operator'), 0);
      for (const d of decisions.list()) decisions.revoke(d.id, 'gw');
    } finally {
      exempt = [];
    }
  });

  it('expires in the pipeline itself; the sweep then ends the decision and tells', async () => {
    told.length = 0;
    const [r] = decisions.submit({ decisions: [{ action: 'block', target: '203.0.113.60', ttl: 1 }] }, 'gw');
    assert.equal(reason('203.0.113.60'), abi.PwReason.BLOCKED);
    await new Promise((res) => setTimeout(res, 1100));
    assert.notEqual(reason('203.0.113.60'), abi.PwReason.BLOCKED, 'lifted by its expiry, before any sweep');
    assert.equal(await decisions.repair(), 0, "an entry the pipeline let expire is the sweep's to end, not missing");
    assert.notEqual(reason('203.0.113.60'), abi.PwReason.BLOCKED);
    assert.equal(decisions.sweep(), 1);
    assert.equal(decisions.get(r!.id).state, 'expired');
    assert.deepEqual(
      told.map((n) => n.event),
      ['applied', 'expired'],
    );
  });

  it('writes back what is in force after a restart, and removes entries no decision explains', async () => {
    decisions.submit({ decisions: [{ id: 'keep-1', action: 'limit', target: '198.18.0.0/15', rate: 50 }] }, 'gw');
    decisions.stop();
    // What a restart may find: the limiters gone (a new program), and a stray decision entry.
    for (let id = abi.PwLimit.SEAL_LIMITER_BASE; id < abi.PwLimit.RATELIMITS; id++)
      dp.pipeline.maps.ratelimits.set(id, abi.PwRatelimit.zero());
    dp.pipeline.maps.block4.set(
      { prefixlen: 32, addr: new Uint8Array([192, 0, 2, 200]) },
      { expires_ns: 0n, origin: abi.PwBlockOrigin.DECISION, plen: 32, limiter: 0 },
    );
    decisions = open();
    decisions.resync();
    assert.equal(decisions.get('keep-1').state, 'active');
    const entry = (await dp.filter.blocklist()).find((b) => b.prefix === '198.18.0.0/15');
    assert.equal(entry?.sealed, true);
    const lim = dp.pipeline.maps.block4.get({ prefixlen: 15, addr: new Uint8Array([198, 18, 0, 0]) })!.limiter;
    assert.ok(dp.pipeline.maps.ratelimits.get(lim)!.interval_ns > 0n, 'its limiter was written again');
    assert.equal(
      (await dp.filter.blocklist()).find((b) => b.prefix === '192.0.2.200/32'),
      undefined,
      'the stray entry went',
    );
    decisions.revoke('keep-1', 'gw');
  });

  it('keeps at a restart what the pinned maps hold: nothing written again, no seal limiter zeroed or moved on the way', async () => {
    const ids = decisions
      .submit(
        {
          decisions: [
            { action: 'limit', target: '198.51.100.0/24', rate: 50 },
            { action: 'limit', target: '203.0.113.0/24', rate: 50 },
            { action: 'limit', target: '192.0.2.0/25', rate: 80 },
            { action: 'block', target: '192.0.2.200' },
            { action: 'block', target: '2001:db8:dead::/48' },
          ],
        },
        'gw',
      )
      .map((r) => r.id);
    const block = (p: string) => {
      const { addr, plen } = parsePrefix(p);
      return dp.pipeline.maps.block4.get({ prefixlen: plen, addr: addr.subarray(0, 4) })!;
    };
    const limiterOf = (p: string) => block(p).limiter;
    const shared = limiterOf('198.51.100.0/24');
    assert.equal(limiterOf('203.0.113.0/24'), shared, 'one limiter for the seals alike');
    const other = limiterOf('192.0.2.0/25');
    const rates = dp.pipeline.maps.ratelimits;
    const writes: number[] = [];
    const set = rates.set.bind(rates);
    rates.set = (id, v) => {
      writes.push(id);
      return set(id, v);
    };
    try {
      decisions.stop();
      decisions = open();
      assert.deepEqual(decisions.resync(), { kept: 5, written: 0 });
      assert.equal(writes.length, 0, 'no limiter written');
      assert.equal(limiterOf('198.51.100.0/24'), shared);
      assert.equal(limiterOf('192.0.2.0/25'), other);
      assert.equal(reason('192.0.2.200'), abi.PwReason.BLOCKED);

      // What a restart may find changed: one seal's limiter lost, one block's expiry far off.
      set(other, abi.PwRatelimit.zero());
      const b = block('192.0.2.200');
      dp.pipeline.maps.block4.set(
        { prefixlen: 32, addr: new Uint8Array([192, 0, 2, 200]) },
        { ...b, expires_ns: b.expires_ns - 60_000_000_000n },
      );
      decisions.stop();
      decisions = open();
      assert.deepEqual(decisions.resync(), { kept: 3, written: 2 });
      assert.ok(!writes.includes(shared), 'the seals kept keep their limiter, never zeroed');
      assert.equal(limiterOf('198.51.100.0/24'), shared);
      const again = limiterOf('192.0.2.0/25');
      assert.notEqual(again, shared);
      assert.ok(rates.get(again)!.interval_ns > 0n, 'the lost limiter written again');
      assert.ok(block('192.0.2.200').expires_ns > b.expires_ns - 60_000_000_000n, 'the expiry written again');
    } finally {
      rates.set = set;
      for (const id of ids) decisions.revoke(id!, 'gw');
    }
  });

  it('applies nothing of a batch with more distinct seal rates than limiters, and frees those it took', async () => {
    const before = decisions.list().length;
    const limits = Array.from({ length: abi.PwLimit.RATELIMITS - abi.PwLimit.SEAL_LIMITER_BASE + 1 }, (_, i) => ({
      action: 'limit' as const,
      target: `198.19.${i >> 8}.${i & 255}`,
      rate: 10 + i,
    }));
    assert.throws(
      () => decisions.submit({ decisions: limits }, 'gw'),
      (e: PwError) =>
        e.code === 'PW_ERR_FULL' &&
        /distinct seal rates.*nothing of the batch was applied/.test(e.message) &&
        /seal alike prefixes/.test(e.hint ?? ''),
    );
    assert.equal(decisions.list().length, before);
    assert.equal(decisions.counts().active, before, 'what is held in memory was rolled back with the store');
    assert.equal((await dp.filter.blocklist()).filter((b) => b.prefix.startsWith('198.19.')).length, 0, 'no entry left behind');
    // Every limiter the batch took was given back: as many distinct rates fit again.
    decisions.submit({ decisions: limits.slice(1) }, 'gw');
    for (const d of decisions.list()) decisions.revoke(d.id, 'gw');
  });

  it('applies nothing of a batch the blocklist has no room for, says why, and starts without the room', async () => {
    // The IPv4 blocklist filled by the config to one free entry.
    const inForce = (await dp.filter.blocklist()).filter((b) => !b.prefix.includes(':')).length;
    const fill = Array.from({ length: abi.PwLimit.BLOCK_MAX - 1 - inForce }, (_, i) =>
      parsePrefix(`${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}.0/24`),
    );
    dp.filter.block(fill);
    try {
      const before = decisions.list().length;
      assert.throws(
        () =>
          decisions.submit(
            {
              decisions: [
                { action: 'block', target: '203.0.113.60' },
                { action: 'limit', target: '203.0.113.61', rate: 10 },
              ],
            },
            'gw',
          ),
        (e: PwError) =>
          e.code === 'PW_ERR_FULL' &&
          e.where === '203.0.113.61/32' &&
          /nothing of the batch was applied/.test(e.message) &&
          /1,048,576 entries/.test(e.hint ?? ''),
      );
      assert.equal(decisions.list().length, before, 'neither decision is in force');
      assert.equal(decisions.counts().active, before);
      assert.notEqual(reason('203.0.113.60'), abi.PwReason.BLOCKED, 'the one written first was taken back');
      assert.equal(decisions.submit({ decisions: [{ action: 'block', target: '203.0.113.60' }] }, 'gw')[0]!.held, 'block');
      assert.equal(reason('203.0.113.60'), abi.PwReason.BLOCKED);
      assert.equal(await decisions.repair(), 0, 'nothing in the store is missing from the pipeline');

      // The config takes the decision's room while the daemon is down: the start writes what
      // fits and goes on; the decision stays in force, and the repair writes it once there is room.
      const id = decisions.list().find((d) => d.target === '203.0.113.60/32')!.id;
      decisions.stop();
      dp.filter.unblock(parsePrefix('203.0.113.60'));
      dp.filter.block([parsePrefix('198.51.100.0/24')]);
      decisions = open();
      assert.doesNotThrow(() => decisions.resync());
      assert.equal(decisions.get(id).state, 'active');
      assert.notEqual(reason('203.0.113.60'), abi.PwReason.BLOCKED);
      assert.equal(await decisions.repair(), 0, 'still no room');
      dp.filter.unblock(parsePrefix('198.51.100.0/24'));
      assert.equal(await decisions.repair(), 1);
      assert.equal(reason('203.0.113.60'), abi.PwReason.BLOCKED);
    } finally {
      dp.filter.unblockMany(fill);
      for (const d of decisions.list()) decisions.revoke(d.id, 'gw');
    }
  });

  it('writes 25,000 in force back at a start, and ends them over sweeps of 20,000', async () => {
    maxActive = 30_000;
    const ours = async () => (await dp.filter.blocklist()).filter((b) => b.origin === 'decision');
    try {
      const many = Array.from({ length: 25_000 }, (_, i) => ({
        action: i % 5 ? ('block' as const) : ('limit' as const),
        target: `100.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`,
        ...(i % 5 ? {} : { rate: 100 }),
        ttl: '1h',
      }));
      decisions.submit({ decisions: many }, 'gw');
      decisions.stop();
      // A new program's empty blocklists, and a stray entry of a lost state.
      dp.filter.unblockMany((await ours()).map((b) => parsePrefix(b.prefix)));
      dp.pipeline.maps.block4.set(
        { prefixlen: 32, addr: new Uint8Array([192, 0, 2, 201]) },
        { expires_ns: 0n, origin: abi.PwBlockOrigin.DECISION, plen: 32, limiter: 0 },
      );
      decisions = open();
      assert.equal(decisions.counts().active, 25_000);
      decisions.resync();
      const written = await ours();
      assert.equal(written.length, 25_000, 'each written again; the stray entry went');
      assert.equal(written.filter((b) => b.sealed).length, 5_000, 'the limits with their limiter');
      assert.equal(reason('100.64.0.1'), abi.PwReason.BLOCKED);
      assert.equal(await decisions.repair(), 0);
      // So many in force, the repair compares one walk of the blocklists with them.
      dp.filter.unblockMany(['100.64.0.1', '100.64.0.2', '100.64.0.3'].map((t) => parsePrefix(t)));
      assert.notEqual(reason('100.64.0.1'), abi.PwReason.BLOCKED);
      assert.equal(await decisions.repair(), 3, 'the three missing written again');
      assert.equal(reason('100.64.0.1'), abi.PwReason.BLOCKED);
      assert.equal((await ours()).length, 25_000);

      // The walk runs in turns: what changes meanwhile. A decision revoked while it runs is not
      // written back (its entry gone before or after the walk passed it). One lost meanwhile is
      // written again by this repair (the walk had not passed it) or by the next.
      const walking = decisions.repair();
      const revoked = decisions.list({ target: '100.64.0.5/32' })[0]!;
      decisions.revoke(revoked.id, 'gw');
      dp.filter.unblockMany([parsePrefix('100.64.0.6')]);
      const first = await walking;
      assert.notEqual(reason('100.64.0.5'), abi.PwReason.BLOCKED, 'the revoked one stays lifted');
      assert.equal(first + (await decisions.repair()), 1, 'the lost one written again, once');
      assert.equal(reason('100.64.0.6'), abi.PwReason.BLOCKED);
      assert.equal((await ours()).length, 24_999);

      const later = Date.now() + 2 * 3_600_000;
      assert.equal(decisions.sweep(later), 20_000, 'one sweep ends at most 20,000');
      assert.equal(decisions.sweep(later), 4_999);
      assert.equal(decisions.sweep(later), 0);
      assert.equal(decisions.counts().active, 0);
      assert.equal((await ours()).length, 0, 'their entries went with them');
    } finally {
      maxActive = 1000;
      for (const d of decisions.list()) decisions.revoke(d.id, 'gw');
    }
  });
});
