/**
 * The routing models: ECMP buckets by weight, the host's routes from its addresses, the RIB's
 * merge of sources (the user's route beats the host's own, and gives it back), and the
 * neighbour copy's diff.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import * as abi from '../../src/generated/pathwise.js';
import { spreadBuckets } from '../../src/routing/ecmp.js';
import { hostRoutes, hostRouteSpec } from '../../src/routing/host-routes.js';
import { diffNeighbors, neighborEventChange, neighborKey, wantedNeighbors, type NeighborEntry } from '../../src/routing/neighbors.js';
import { planRoutes, Rib } from '../../src/routing/rib.js';
import { routeText, type RouteSpec, type RouteView } from '../../src/routing/route.js';
import { formatPrefix, parseAddress, parsePrefix } from '../../src/util/ip.js';

const count = (buckets: number[], n: number) => Array.from({ length: n }, (_, i) => buckets.filter((b) => b === i).length);

describe('ECMP buckets', () => {
  it('spreads members over the buckets in proportion to their weights', () => {
    assert.equal(abi.PwLimit.NHG_BUCKETS, 64);
    assert.deepEqual(count(spreadBuckets([1, 3]), 2), [16, 48]);
    assert.deepEqual(count(spreadBuckets([1, 1, 2]), 3), [16, 16, 32]);
    // Remainders go to the largest fractions first: 64/3 = 21.33 each.
    assert.deepEqual(count(spreadBuckets([1, 1, 1]), 3), [22, 21, 21]);
    const b = spreadBuckets([1, 2]);
    assert.equal(b.length, 64);
    assert.deepEqual(
      b,
      [...b].sort((x, y) => x - y),
      'members in order, each in one run',
    );
  });

  it('gives every member at least one bucket, however small its weight', () => {
    const b = count(spreadBuckets([256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 256, 1]), 16);
    assert.ok(b.every((n) => n >= 1));
    assert.equal(
      b.reduce((x, y) => x + y, 0),
      64,
    );
  });

  it('refuses an empty group and one of more members than it holds', () => {
    assert.throws(() => spreadBuckets([]), /1\.\.16 nexthops, not 0/);
    assert.throws(() => spreadBuckets(new Array(17).fill(1)), /not 17/);
  });
});

describe('host routes', () => {
  const addr = (dev: string, a: string, prefixlen: number, extra: { loopback?: boolean; scope?: number } = {}) => {
    const p = parseAddress(a);
    return { dev, loopback: !!extra.loopback, family: p.family, addr: p.addr, prefixlen, scope: extra.scope ?? 0 };
  };

  it('makes each address a local host route and its subnet a connected route; a loopback subnet is local', () => {
    const routes = hostRoutes([
      addr('eth1', '10.210.1.1', 24),
      addr('lo', '127.0.0.1', 8, { loopback: true }),
      addr('eth1', 'fe80::1', 64, { scope: 253 }),
      addr('eth2', '2001:db8:1::1', 64),
    ]);
    assert.deepEqual(routes.map((r) => `${r.kind} ${formatPrefix(r.prefix)} ${r.dev}`).sort(), [
      'connected 10.210.1.0/24 eth1',
      'connected 2001:db8:1::/64 eth2',
      'local 10.210.1.1/32 eth1',
      'local 127.0.0.0/8 lo',
      'local 127.0.0.1/32 lo',
      'local 2001:db8:1::1/128 eth2',
    ]);
  });
});

describe('RIB', () => {
  const spec = (p: string, via: string): RouteSpec => ({
    prefix: parsePrefix(p),
    type: 'unicast',
    nexthops: [{ via, dev: 'eth1' }],
    metric: 0,
    where: p,
  });
  const describe_ = (s: RouteSpec) =>
    routeText(
      s.type,
      s.nexthops.map((n) => ({ via: n.via ?? null, dev: n.dev!, weight: n.weight ?? 1 })),
      s.metric,
    );
  const view = (s: RouteSpec, origin: 'user' | 'kernel'): RouteView => ({
    prefix: formatPrefix(s.prefix),
    family: s.prefix.family,
    type: s.type,
    metric: s.metric,
    nexthops: s.nexthops.map((n) => ({ via: n.via ?? null, dev: n.dev!, ifindex: 1, weight: 1 })),
    id: 1,
    origin,
  });
  const connected = hostRouteSpec({ prefix: parsePrefix('10.210.1.0/24'), kind: 'connected', dev: 'eth1' });

  it("installs the user's route over the host's own for the same prefix, and the host's back when it goes", () => {
    const rib = new Rib();
    rib.set('kernel', [connected]);
    rib.set('user', [spec('10.210.1.0/24', '10.210.1.254')]);
    const running = new Map([['10.210.1.0/24', view(connected, 'kernel')]]);
    const up = planRoutes(running, rib.best(), describe_);
    assert.deepEqual(
      up.map((c) => [c.op, c.prefix, 'origin' in c ? c.origin : null]),
      [['replace', '10.210.1.0/24', 'user']],
    );

    rib.set('user', []);
    const back = planRoutes(new Map([['10.210.1.0/24', view(spec('10.210.1.0/24', '10.210.1.254'), 'user')]]), rib.best(), describe_);
    assert.deepEqual(
      back.map((c) => [c.op, c.prefix, 'origin' in c ? c.origin : null]),
      [['replace', '10.210.1.0/24', 'kernel']],
    );
  });

  it('adds and replaces before it deletes, and changes nothing that is already so', () => {
    const rib = new Rib();
    rib.set('user', [spec('10.1.0.0/16', '10.0.0.1'), spec('10.2.0.0/16', '10.0.0.2')]);
    const running = new Map([
      ['10.3.0.0/16', view(spec('10.3.0.0/16', '10.0.0.3'), 'user')],
      ['10.1.0.0/16', view(spec('10.1.0.0/16', '10.0.0.1'), 'user')],
    ]);
    assert.deepEqual(
      planRoutes(running, rib.best(), describe_).map((c) => `${c.op} ${c.prefix}`),
      ['add 10.2.0.0/16', 'delete 10.3.0.0/16'],
    );
  });
});

describe('neighbour copy', () => {
  const n = (ifindex: number, a: string, mac: number | null, usable = true) => ({
    ifindex,
    addr: parseAddress(a).addr,
    mac: mac === null ? null : Uint8Array.from([2, 0, 0, 0, 0, mac]),
    usable,
  });
  const entry = (e: ReturnType<typeof n>): [string, NeighborEntry] => [
    neighborKey(e.ifindex, e.addr),
    { ifindex: e.ifindex, addr: e.addr, mac: e.mac! },
  ];

  it("holds the kernel's usable entries: new and changed MACs set, forgotten ones removed", () => {
    const have = new Map([entry(n(2, '10.0.0.1', 1)), entry(n(2, '10.0.0.2', 2)), entry(n(3, '10.0.0.9', 9))]);
    const want = wantedNeighbors([n(2, '10.0.0.1', 1), n(2, '10.0.0.2', 7), n(2, '10.0.0.3', 3), n(2, '10.0.0.4', null, false)]);
    const { set, remove } = diffNeighbors(have, want);
    assert.deepEqual(
      set.map((e) => [e.ifindex, e.mac[5]]),
      [
        [2, 7],
        [2, 3],
      ],
    );
    assert.deepEqual(
      remove.map((e) => e.ifindex),
      [3],
    );
  });

  it('takes a usable event as an entry to write, anything else as one to remove', () => {
    assert.ok(neighborEventChange('new', n(2, '10.0.0.1', 1)).set);
    assert.ok(neighborEventChange('new', n(2, '10.0.0.1', null, false)).remove, 'gone incomplete or failed');
    assert.ok(neighborEventChange('del', n(2, '10.0.0.1', 1)).remove);
  });
});
