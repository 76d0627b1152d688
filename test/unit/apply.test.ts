/**
 * Applying a plan, against a fake data plane that records what it is asked to do: changes run
 * in order, each by its reconciler; when one fails, what was done is undone newest first and the
 * error says what failed and whether the restore worked. (The same path runs for real in the
 * daemon e2e test, with PATHWISE_FAULT_INJECT.)
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { applyChanges, checkChanges } from '../../src/control/apply.js';
import type { Change } from '../../src/control/plan.js';
import { Phase } from '../../src/control/reconcile.js';
import type { Dataplane } from '../../src/dataplane/dataplane.js';
import { DEFAULT_SETTINGS } from '../../src/dataplane/pipeline.js';
import { PwError } from '../../src/errors.js';
import type { RouteChange } from '../../src/routing/rib.js';
import { parsePrefix } from '../../src/util/ip.js';

/** Records every call; throws where told to. */
class FakeDataplane {
  readonly log: string[] = [];
  constructor(private readonly failOn: string[] = []) {}

  private op(what: string): void {
    if (this.failOn.includes(what)) throw new PwError('PW_ERR_FULL', `no room for ${what}`);
    this.log.push(what);
  }

  attach = (names: string[]) => {
    this.op(`attach ${names.join(',')}`);
    return names.map(() => ({ notes: [] as string[] }));
  };
  detach = (names: string[]) => this.op(`detach ${names.join(',')}`);
  applyRouteChange = (c: RouteChange) => {
    this.op(`${c.op} route ${c.prefix}`);
    return () => this.op(`undo ${c.op} route ${c.prefix}`);
  };
  filter = {
    addLimiter: (l: { name: string }) => this.op(`add limiter ${l.name}`),
    updateLimiter: (l: { name: string }) => this.op(`update limiter ${l.name}`),
    deleteLimiter: (name: string) => this.op(`delete limiter ${name}`),
    setRules: (rules: unknown[]) => this.op(`set ${rules.length} rules`),
    block: (prefixes: unknown[], ttlMs?: number) => this.op(`block ${prefixes.length}${ttlMs === undefined ? '' : ' for a while'}`),
    unblock: () => this.op('unblock'),
    unblockMany: (prefixes: unknown[]) => this.op(`unblock ${prefixes.length}`),
  };
  private readonly guardValue = new ArrayBuffer(32); // the feature bytes setEventsControl writes
  pipeline = {
    maps: {
      eventsCtl: { set: (_k: number, v: { sample_rate: number }) => this.op(`sample ${v.sample_rate}`) },
      guardState: { mmap: () => ({ view: new DataView(this.guardValue), stride: 32, close: () => {} }) },
    },
  };
}

function target(dp: FakeDataplane) {
  return { dp: () => dp as unknown as Dataplane, upgrade: async () => dp.log.push('upgrade') as unknown as void };
}

const spec = (p: string) => ({ prefix: parsePrefix(p), type: 'blackhole' as const, nexthops: [], metric: 0, where: p });
const CHANGES: Change[] = [
  { kind: 'interface', phase: Phase.ATTACH, op: 'attach', name: 'eth1', mode: 'auto' },
  {
    kind: 'limiter',
    phase: Phase.LIMITERS,
    op: 'add',
    name: 'syn',
    spec: { name: 'syn', rate: 10, burst: 10, per4: 32, per6: 128, blockAfter: 0, blockForMs: 0 },
  },
  { kind: 'rules', phase: Phase.RULES, before: [], after: [{ action: 'drop', proto: 17 }] },
  { kind: 'route', phase: Phase.ROUTES, op: 'add', prefix: '10.1.0.0/16', origin: 'user', spec: spec('10.1.0.0/16'), after: 'blackhole' },
  { kind: 'events', phase: Phase.EVENTS, before: { sampleRate: 0, drops: false }, after: { sampleRate: 5, drops: false } },
];

describe('applying a plan', () => {
  it('performs every change in order, each by its reconciler', async () => {
    const dp = new FakeDataplane();
    await applyChanges(target(dp), CHANGES);
    assert.deepEqual(dp.log, ['attach eth1', 'add limiter syn', 'set 1 rules', 'add route 10.1.0.0/16', 'sample 5']);
  });

  it('undoes what it did, newest first, when a change fails, and says so', async () => {
    const dp = new FakeDataplane(['add route 10.1.0.0/16']);
    await assert.rejects(applyChanges(target(dp), CHANGES), (e: PwError) => {
      assert.equal(e.code, 'PW_ERR_FULL', 'the failure keeps its code');
      assert.match(
        e.message,
        /^applying failed at '\+ route 10\.1\.0\.0\/16 blackhole': no room for add route 10\.1\.0\.0\/16; the previous version was restored \(3 change\(s\) undone\)$/,
      );
      assert.deepEqual(e.details, { failedChange: '+ route 10.1.0.0/16 blackhole', undone: 3, restored: true, restoreErrors: [] });
      return true;
    });
    assert.deepEqual(dp.log, ['attach eth1', 'add limiter syn', 'set 1 rules', 'set 0 rules', 'delete limiter syn', 'detach eth1']);
  });

  it('names a failed change of many rules by its start, not by every rule', async () => {
    const dp = new FakeDataplane(['set 10000 rules']);
    const after = Array.from({ length: 10_000 }, (_, i) => ({
      action: 'drop' as const,
      proto: 17,
      dport: [1000 + i, 1000 + i] as [number, number],
    }));
    const rules: Change = { kind: 'rules', phase: Phase.RULES, before: [], after };
    await assert.rejects(applyChanges(target(dp), [rules]), (e: PwError) => {
      assert.match(
        e.message,
        /^applying failed at '~ rules 10000 rules: {2}→ drop proto udp dport 1000; drop proto udp dport 1001; .*… \(\d+ characters more\)': no room/,
      );
      assert.ok(e.message.length < 500, `${e.message.length} characters`);
      assert.ok((e.details as { failedChange: string }).failedChange.length < 400);
      return true;
    });
  });

  it('reports a restore that failed too, change by change', async () => {
    const dp = new FakeDataplane(['sample 5', 'undo add route 10.1.0.0/16']);
    await assert.rejects(applyChanges(target(dp), CHANGES), (e: PwError) => {
      assert.match(e.message, /restoring the previous version FAILED for 1 change\(s\)/);
      assert.equal(e.details?.restored, false);
      assert.deepEqual(e.details?.restoreErrors, ['+ route 10.1.0.0/16 blackhole: no room for undo add route 10.1.0.0/16']);
      return true;
    });
    // The other undo steps still ran.
    assert.deepEqual(dp.log.slice(4), ['set 0 rules', 'delete limiter syn', 'detach eth1']);
  });

  it('fails after N changes when told to (the daemon test hook), restoring them', async () => {
    const dp = new FakeDataplane();
    await assert.rejects(applyChanges(target(dp), CHANGES, { failAfter: 2 }), /injected failure after 2 change\(s\).*2 change\(s\) undone/);
    assert.deepEqual(dp.log, ['attach eth1', 'add limiter syn', 'delete limiter syn', 'detach eth1']);
  });

  const add = (prefix: string, expiresAt: number | null = null): Change => ({
    kind: 'block',
    phase: Phase.BLOCKS,
    op: 'add',
    prefix,
    block: { expiresAt },
  });
  const del = (prefix: string, expiresInMs: number | null = null): Change => ({
    kind: 'block',
    phase: Phase.UNBLOCK,
    op: 'delete',
    prefix,
    old: { prefix, expiresInMs, origin: 'config' },
  });
  const BLOCKS: Change[] = [
    add('192.0.2.0/24'),
    add('198.51.100.0/24', Date.now() + 60_000),
    add('2001:db8::/32'),
    del('203.0.113.0/24'),
    del('203.0.113.128/25', 30_000),
  ];

  it('writes a run of blocklist changes at once: adds grouped by expiry, deletes in one', async () => {
    const dp = new FakeDataplane();
    await applyChanges(target(dp), BLOCKS);
    assert.deepEqual(dp.log, ['block 2', 'block 1 for a while', 'unblock 2']);
  });

  it('undoes a run whole, and a run that fails undoes its own part', async () => {
    const dp = new FakeDataplane(['unblock 2']);
    await assert.rejects(applyChanges(target(dp), BLOCKS), (e: PwError) => {
      assert.match(e.message, /^applying failed at '- block 203\.0\.113\.0\/24 \(and 1 more in one run\)'.*\(3 change\(s\) undone\)$/);
      return true;
    });
    // The deletes' run puts back what it had (each with its expiry), then the adds' run goes.
    assert.deepEqual(dp.log, ['block 2', 'block 1 for a while', 'block 1', 'block 1 for a while', 'unblock 3']);
  });

  it('stops a run where an injected failure falls', async () => {
    const dp = new FakeDataplane();
    await assert.rejects(applyChanges(target(dp), BLOCKS, { failAfter: 2 }), /injected failure after 2 change\(s\).*2 change\(s\) undone/);
    assert.deepEqual(dp.log, ['block 1', 'block 1 for a while', 'unblock 2']);
  });

  it('refuses, before anything runs, a change no reconciler can make while the pipeline runs', () => {
    const resize: Change = {
      kind: 'settings',
      phase: Phase.SETTINGS,
      before: DEFAULT_SETTINGS,
      after: { ...DEFAULT_SETTINGS, ipv4Groups: 1 },
    };
    assert.throws(
      () => checkChanges([...CHANGES, resize]),
      (e: PwError) => e.code === 'PW_ERR_UNSUPPORTED' && /table sizes/.test(e.message),
    );
    assert.doesNotThrow(() => checkChanges([...CHANGES, { ...resize, after: { ...DEFAULT_SETTINGS, dropMalformed: true } }]));
  });
});
