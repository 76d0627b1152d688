/**
 * The import model (routing/kernel-routes.ts): which kernel routes a selector accepts, which of
 * several routes for one prefix wins (the kernel's choice: lowest metric), what is installed for
 * each route type, and how events change the view. The packed input is what the addon hands
 * over; the e2e import test checks that against a real kernel and BIRD.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  KernelRouteView,
  keyOfPrefix,
  parseProtocol,
  parseTable,
  prefixOfKey,
  protocolName,
  type ImportSelector,
} from '../../src/routing/kernel-routes.js';
import { formatAddress, formatPrefix, maskAddr, parsePrefix, prefixKey6 } from '../../src/util/ip.js';
import { packRoutes, type FakeKernelRoute } from '../helpers/kernel-routes.js';

const MAIN: ImportSelector = { table: 254, protocols: null, prefixes: null };
const key = (p: string) => keyOfPrefix(parsePrefix(p));

function viewOf(routes: FakeKernelRoute[], selectors: ImportSelector[] = [MAIN]) {
  const v = new KernelRouteView(selectors);
  v.reset(packRoutes(routes));
  return v;
}

/** A route as text: "unicast via 10.0.0.1@3*1 metric 20 proto 12". */
function text(v: KernelRouteView, prefix: string): string | null {
  const r = v.route(key(prefix));
  if (!r) return null;
  const hops = r.hops.map((h) => `${h.gw ? `via ${formatAddress(h.family, h.gw)}` : 'direct'}@${h.ifindex}*${h.weight}`).join(' ');
  return [r.type, hops, `metric ${r.metric}`, `proto ${r.proto}`].filter(Boolean).join(' ');
}

describe('kernel route import model', () => {
  it('names protocols and tables as iproute2 does, and refuses unknown ones', () => {
    assert.equal(parseProtocol('bgp', 'x'), 186);
    assert.equal(parseProtocol('bird', 'x'), 12);
    assert.equal(parseProtocol(200, 'x'), 200);
    assert.equal(protocolName(188), 'ospf');
    assert.equal(protocolName(250), '250');
    assert.throws(() => parseProtocol('bgpp', 'import.from[0].protocols[0]'), /unknown route protocol 'bgpp'/);
    assert.equal(parseTable('main', 'x'), 254);
    assert.equal(parseTable('100', 'x'), 100);
    assert.throws(() => parseTable('mian', 'x'), /unknown routing table/);
  });

  it('keys prefixes both ways', () => {
    const v6 = [
      '::/0',
      '2001:db8::/32',
      '2001:db8:1234::/48',
      '2001:db8::/33',
      '2001:db8:0:1::/64',
      'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128',
    ];
    for (const p of ['0.0.0.0/0', '10.1.2.0/24', '255.255.255.255/32', ...v6]) {
      assert.equal(formatPrefix(prefixOfKey(key(p))), p);
    }
    // IPv6 keys are compact (not text), one per prefix: the length is part of the key, and the
    // address's bits past it do not count.
    const ones = parsePrefix('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128').addr;
    const seen = new Set<string>();
    for (let plen = 0; plen <= 128; plen++) {
      const k = prefixKey6(ones, 0, plen);
      assert.equal(k, key(formatPrefix({ family: 6, addr: maskAddr(ones, plen), plen })), `/${plen}`);
      assert.equal(k.length, Math.ceil(plen / 16) + 1, `/${plen}: its words and the length`);
      seen.add(k);
    }
    assert.equal(seen.size, 129);
  });

  it('copies unicast routes with their nexthops, ECMP weights and metric', () => {
    const v = viewOf([
      { dst: '10.1.0.0/16', metric: 32, hops: [{ dev: 3, via: '192.0.2.1' }] },
      {
        dst: '10.2.0.0/16',
        hops: [
          { dev: 3, via: '192.0.2.1', weight: 1 },
          { dev: 4, via: '198.51.100.1', weight: 3 },
        ],
      },
      { dst: '10.3.0.0/16', hops: [{ dev: 5 }] },
      { dst: '2001:db8:1::/48', hops: [{ dev: 3, via: 'fe80::1' }] },
    ]);
    assert.equal(v.size, 4);
    assert.equal(text(v, '10.1.0.0/16'), 'unicast via 192.0.2.1@3*1 metric 32 proto 12');
    assert.equal(text(v, '10.2.0.0/16'), 'unicast via 192.0.2.1@3*1 via 198.51.100.1@4*3 metric 0 proto 12');
    assert.equal(text(v, '10.3.0.0/16'), 'unicast direct@5*1 metric 0 proto 12');
    assert.equal(text(v, '2001:db8:1::/48'), 'unicast via fe80::1@3*1 metric 0 proto 12');
    // Equal hop sets share one key (one nexthop group for a whole table).
    const w = viewOf([
      { dst: '10.1.0.0/16', hops: [{ dev: 3, via: '192.0.2.1' }] },
      { dst: '10.9.0.0/16', hops: [{ dev: 3, via: '192.0.2.1' }] },
    ]);
    assert.equal(w.route(key('10.1.0.0/16'))!.hopsKey, w.route(key('10.9.0.0/16'))!.hopsKey);
  });

  it('follows the kernel where Pathwise cannot do exactly what it would', () => {
    const v = viewOf([
      { dst: '10.1.0.0/16', type: 6 }, // blackhole
      { dst: '10.2.0.0/16', type: 7 }, // unreachable: the kernel answers with ICMP
      { dst: '10.3.0.0/16', type: 8 }, // prohibit
      { dst: '10.4.0.0/16', hops: [{ dev: 3, via: 'fe80::1' }] }, // IPv4 via an IPv6 gateway (RFC 5549)
      { dst: '10.5.0.0/16', hops: [{ dev: 3, via: '192.0.2.1', flags: 1 }] }, // every nexthop dead
      { dst: '10.6.0.0/16', tos: 16, hops: [{ dev: 3, via: '192.0.2.1' }] }, // TOS-specific
      { dst: '10.7.0.0/16', nhid: 77 }, // a nexthop object the view does not know
      {
        dst: '10.8.0.0/16',
        hops: [
          { dev: 3, via: '192.0.2.1', flags: 1 },
          { dev: 4, via: '198.51.100.1' },
        ],
      },
      { dst: '224.0.0.0/4', type: 5 }, // multicast: not a forwarding route
    ]);
    assert.match(text(v, '10.1.0.0/16')!, /^blackhole/);
    for (const p of ['10.2.0.0/16', '10.3.0.0/16', '10.4.0.0/16', '10.5.0.0/16', '10.6.0.0/16', '10.7.0.0/16']) {
      assert.match(text(v, p)!, /^kernel/, p);
    }
    // A dead nexthop is left out, the live one carries the route.
    assert.equal(text(v, '10.8.0.0/16'), 'unicast via 198.51.100.1@4*1 metric 0 proto 12');
    assert.equal(v.route(key('224.0.0.0/4')), null);
  });

  it('picks the lowest metric among routes for one prefix, and the next one when it goes', () => {
    const v = viewOf([
      { dst: '10.1.0.0/16', metric: 100, proto: 4, hops: [{ dev: 3, via: '192.0.2.1' }] },
      { dst: '10.1.0.0/16', metric: 20, proto: 186, hops: [{ dev: 4, via: '198.51.100.1' }] },
    ]);
    assert.equal(text(v, '10.1.0.0/16'), 'unicast via 198.51.100.1@4*1 metric 20 proto 186');
    const changed = v.apply(packRoutes([{ dst: '10.1.0.0/16', metric: 20, deleted: true }]));
    assert.deepEqual([...changed], [key('10.1.0.0/16')]);
    assert.equal(text(v, '10.1.0.0/16'), 'unicast via 192.0.2.1@3*1 metric 100 proto 4');
    v.apply(packRoutes([{ dst: '10.1.0.0/16', metric: 100, deleted: true }]));
    assert.equal(v.route(key('10.1.0.0/16')), null);
    assert.equal(v.size, 0);
  });

  it('snapshots its prefixes in the order the routes came, and answers as route() even after changes', () => {
    // As a dump comes: by address, one address's longest prefix first; two routes for one prefix.
    const v = viewOf([
      { dst: '10.0.0.0/24', metric: 10, hops: [{ dev: 3, via: '192.0.2.1' }] },
      { dst: '10.0.0.0/16', metric: 10, hops: [{ dev: 3, via: '192.0.2.1' }] },
      { dst: '10.0.0.0/16', metric: 5, hops: [{ dev: 4, via: '198.51.100.1' }] },
      { dst: '2001:db8::/32', metric: 1, hops: [{ dev: 3, via: 'fe80::1' }] },
      { dst: '10.2.0.0/16', metric: 10, hops: [{ dev: 3, via: '192.0.2.1' }] },
      { dst: '11.0.0.0/8', metric: 10, hops: [{ dev: 4, via: '198.51.100.1' }] },
    ]);
    const snap = v.snapshot();
    assert.deepEqual(
      snap.keys.map((k) => formatPrefix(prefixOfKey(k))),
      ['10.0.0.0/24', '10.0.0.0/16', '10.2.0.0/16', '11.0.0.0/8', '2001:db8::/32'],
    );
    const same = () => snap.keys.forEach((k, i) => assert.deepEqual(snap.route(i), v.route(k), formatPrefix(prefixOfKey(k))));
    same();
    assert.equal(snap.route(1)?.metric, 5);
    // Changes after the snapshot: the better route of 10.0.0.0/16 goes, a prefix goes, one comes.
    v.apply(
      packRoutes([
        { dst: '10.0.0.0/16', metric: 5, deleted: true },
        { dst: '10.2.0.0/16', metric: 10, deleted: true },
        { dst: '12.0.0.0/8', metric: 10, hops: [{ dev: 3, via: '192.0.2.1' }] },
      ]),
    );
    same();
    assert.equal(snap.route(1)?.metric, 10);
    assert.equal(snap.route(2), null);
  });

  it('replaces a route of the same identity (table, TOS, metric) and ignores deletes of unknown routes', () => {
    const v = viewOf([{ dst: '10.1.0.0/16', metric: 20, hops: [{ dev: 3, via: '192.0.2.1' }] }]);
    v.apply(packRoutes([{ dst: '10.1.0.0/16', metric: 20, hops: [{ dev: 4, via: '198.51.100.1' }] }]));
    assert.equal(text(v, '10.1.0.0/16'), 'unicast via 198.51.100.1@4*1 metric 20 proto 12');
    const changed = v.apply(packRoutes([{ dst: '10.1.0.0/16', metric: 99, deleted: true }]));
    assert.equal(changed.size, 0);
    assert.equal(v.size, 1);
  });

  it('filters by table, protocol and prefix; by default every protocol but kernel', () => {
    const routes: FakeKernelRoute[] = [
      { dst: '10.1.0.0/16', proto: 186, hops: [{ dev: 3 }] },
      { dst: '10.2.0.0/16', proto: 2, hops: [{ dev: 3 }] }, // kernel: connected
      { dst: '10.3.0.0/16', proto: 4, hops: [{ dev: 3 }] },
      { dst: '172.16.0.0/12', proto: 186, table: 100, hops: [{ dev: 3 }] },
      { dst: '192.168.1.0/24', proto: 186, hops: [{ dev: 3 }] },
    ];
    const all = viewOf(routes);
    assert.deepEqual([...all.keys()].map((k) => formatPrefix(prefixOfKey(k))).sort(), ['10.1.0.0/16', '10.3.0.0/16', '192.168.1.0/24']);
    const bgp = viewOf(routes, [{ table: 254, protocols: new Set([186]), prefixes: [parsePrefix('10.0.0.0/8')] }]);
    assert.deepEqual(
      [...bgp.keys()].map((k) => formatPrefix(prefixOfKey(k))),
      ['10.1.0.0/16'],
    );
    const t100 = viewOf(routes, [{ table: 100, protocols: null, prefixes: null }]);
    assert.deepEqual(
      [...t100.keys()].map((k) => formatPrefix(prefixOfKey(k))),
      ['172.16.0.0/12'],
    );
    assert.deepEqual(t100.tables, [100]);
  });

  it('forgets a route that an event turns into one the selector does not accept', () => {
    const v = viewOf([{ dst: '10.1.0.0/16', proto: 186, hops: [{ dev: 3 }] }], [{ table: 254, protocols: new Set([186]), prefixes: null }]);
    const changed = v.apply(packRoutes([{ dst: '10.1.0.0/16', proto: 4, hops: [{ dev: 3 }] }]));
    assert.equal(changed.size, 1);
    assert.equal(v.route(key('10.1.0.0/16')), null);
  });

  it('resolves routes through kernel nexthop objects (as FRR installs them)', () => {
    const v = new KernelRouteView([MAIN]);
    const gw = (a: string) => ({ family: 4 as const, addr: Uint8Array.from([...a.split('.').map(Number), ...new Array(12).fill(0)]) });
    v.reset(
      packRoutes([
        { dst: '10.1.0.0/16', nhid: 10 },
        { dst: '10.2.0.0/16', nhid: 3 },
        { dst: '10.3.0.0/16', nhid: 4 },
      ]),
      [
        { id: 1, ifindex: 3, gateway: gw('192.0.2.1'), blackhole: false, group: [] },
        { id: 2, ifindex: 4, gateway: gw('198.51.100.1'), blackhole: false, group: [] },
        { id: 3, ifindex: 5, gateway: null, blackhole: false, group: [] },
        { id: 4, ifindex: 0, gateway: null, blackhole: true, group: [] },
        {
          id: 10,
          ifindex: 0,
          gateway: null,
          blackhole: false,
          group: [
            { id: 1, weight: 1 },
            { id: 2, weight: 2 },
          ],
        },
      ],
    );
    assert.equal(text(v, '10.1.0.0/16'), 'unicast via 192.0.2.1@3*1 via 198.51.100.1@4*2 metric 0 proto 12');
    assert.equal(text(v, '10.2.0.0/16'), 'unicast direct@5*1 metric 0 proto 12');
    assert.match(text(v, '10.3.0.0/16')!, /^blackhole/);
    assert.ok(v.usesObjects());
  });
});
