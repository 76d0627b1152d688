/**
 * Route listings write rows without building views (Dataplane.routeRowsJson, for a
 * million-route table): each row's bytes must be exactly JSON.stringify of the view, for every
 * kind of route (unicast with gateways, ECMP, blackhole and the other types, IPv6, imported
 * with a kernel protocol, with counters of any size).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Dataplane, RouteCounters } from '../../src/dataplane/dataplane.js';
import { Pipeline } from '../../src/dataplane/pipeline.js';
import { routeIds, routeRows, routeRowsJson } from '../../src/ops/routes.js';
import { routeTraffic } from '../../src/ops/telemetry.js';
import { parseRouteTokens } from '../../src/routing/route-syntax.js';
import { inNetns } from '../../src/kernel/index.js';
import { parsePrefix } from '../../src/util/ip.js';
import { privilegedSkip } from '../helpers/privileged.js';
import { Topology } from '../helpers/topology.js';

const skip = privilegedSkip();

describe('route rows as JSON', { skip, timeout: 60_000 }, () => {
  let topo: Topology;
  let ns: string;
  let dp: Dataplane;

  before(async () => {
    topo = new Topology('rr');
    ns = topo.addNamespace('R');
    topo.addVeth({ ns, name: 'a0', addr: '192.0.2.1/24' }, { ns, name: 'a1' });
    topo.exec(ns, 'ip', ['addr', 'add', '2001:db8:ff::1/64', 'dev', topo.name('a0'), 'nodad']);
    topo.recordInstance(topo.prefix);
    dp = await Dataplane.open(topo.prefix);
    const add = (...t: string[]) => inNetns(ns, () => dp.addRoute(parseRouteTokens(t, () => 'test')));
    add('10.1.0.0/16', 'via', '192.0.2.2');
    add('10.2.0.0/16', 'via', '192.0.2.2', 'weight', '3', 'via', '192.0.2.3');
    add('blackhole', '10.3.0.0/24');
    add('local', '10.4.0.1/32');
    add('kernel', '10.5.0.0/16');
    add('2001:db8:1::/48', 'via', '2001:db8:ff::2', 'metric', '7');
    add('0.0.0.0/0', 'dev', topo.name('a0'));
    inNetns(ns, () =>
      dp.addRoute(
        parseRouteTokens(['10.6.0.0/16', 'via', '192.0.2.2'], () => 'test'),
        'imported',
      ),
    );
    inNetns(ns, () => dp.syncHostRoutes());
  });
  after(() => {
    dp?.close();
    if (topo) inNetns(ns, () => Pipeline.down(topo.prefix));
    topo?.destroy();
  });

  it("clears a route's counters when it goes, so the route that takes its id next starts at zero", async () => {
    const prefixes = Array.from({ length: 5000 }, (_, i) => `10.9.${i >> 8}.${i & 255}/32`);
    const ids = prefixes.map((p) => inNetns(ns, () => dp.addRoute(parseRouteTokens([p, 'via', '192.0.2.2'], () => 'test'))).id);
    for (const id of ids) dp.pipeline.maps.routeStats.set(id, { packets: 5n, bytes: 640n }); // as the pipeline counts
    assert.deepEqual((await dp.routeCounters()).get(ids[0]!), { packets: 5, bytes: 640 });
    // Zeroed in batches: the first 4,096 as their batch fills, the rest when the table closes.
    for (const p of prefixes) inNetns(ns, () => dp.deleteRoute(parsePrefix(p)));
    assert.deepEqual(dp.pipeline.maps.routeStats.get(ids[0]!), { packets: 0n, bytes: 0n });
    dp.close();
    dp = await Dataplane.open(topo.prefix);
    const counters = await dp.routeCounters();
    assert.deepEqual(
      ids.filter((id) => counters.get(id) !== undefined),
      [],
      'counters left on the ids of removed routes',
    );
  });

  it('takes never-used ids first, reuses a freed one last, and counts the free ones after a reopen', async () => {
    const add = (p: string) => inNetns(ns, () => dp.addRoute(parseRouteTokens([p, 'via', '192.0.2.2'], () => 'test'))).id;
    const [a, b, c] = ['10.8.0.1/32', '10.8.0.2/32', '10.8.0.3/32'].map(add) as [number, number, number];
    inNetns(ns, () => dp.deleteRoute(parsePrefix('10.8.0.2/32')));
    const d = add('10.8.0.4/32');
    assert.ok(d !== b && d > c, `the id after ${a}, ${b}, ${c} with ${b} freed: ${d}`);
    const capacity = dp.pipeline.maps.routes.info.maxEntries - 1; // id 0 is "no route"
    assert.equal(dp.routes.freeCount, capacity - dp.routes.size);
    dp.close();
    dp = await Dataplane.open(topo.prefix);
    // The records were read back: the same ids, b a gap below the highest, counted free.
    assert.deepEqual(
      ['10.8.0.1/32', '10.8.0.3/32', '10.8.0.4/32', '10.8.0.2/32'].map((p) => dp.routes.idOf(parsePrefix(p))),
      [a, c, d, undefined],
    );
    assert.equal(dp.routes.freeCount, capacity - dp.routes.size);
    const e = add('10.8.0.5/32');
    assert.ok(e > d, `the id after a reopen, the highest being ${d}: ${e}`);
    for (const p of ['10.8.0.1/32', '10.8.0.3/32', '10.8.0.4/32', '10.8.0.5/32']) inNetns(ns, () => dp.deleteRoute(parsePrefix(p)));
  });

  it('names the busiest routes for the metrics, and sums the others', async () => {
    const ids = ['10.1.0.0/16', '10.2.0.0/16', '10.3.0.0/24', '2001:db8:1::/48', '0.0.0.0/0'].map((p) => dp.routes.get(parsePrefix(p))!.id);
    const packets = [7n, 900n, 0n, 40n, 41n];
    ids.forEach((id, i) => dp.pipeline.maps.routeStats.set(id, { packets: packets[i]!, bytes: 64n * packets[i]! }));
    try {
      const { top, otherPackets } = await routeTraffic(dp, 2);
      assert.deepEqual(top, [
        { prefix: '10.2.0.0/16', packets: 900 },
        { prefix: '0.0.0.0/0', packets: 41 },
      ]);
      const counters = await dp.routeCounters();
      const rest = [...counters].filter(([id]) => id !== ids[1] && id !== ids[4]).reduce((a, [, c]) => a + c.packets, 0);
      assert.equal(otherPackets, rest, 'the others: 47 here, and what the host routes counted');
      assert.equal((await routeTraffic(dp, 10)).top.length, [...counters].length, 'every route with traffic, when n is more');
    } finally {
      for (const id of ids) dp.pipeline.maps.routeStats.set(id, { packets: 0n, bytes: 0n });
    }
  });

  it('writes each row as JSON.stringify writes its view', async () => {
    for (const stats of [false, true]) {
      const counters = stats ? await dp.routeCounters() : undefined;
      const views = inNetns(ns, () => routeRows(dp, routeIds(dp, {}), counters));
      const { bytes, rows } = inNetns(ns, () => routeRowsJson(dp, routeIds(dp, {}), counters, ',\n', '\n]'));
      assert.ok(views.length >= 9, `${views.length} routes`);
      assert.equal(rows, views.length);
      assert.equal(bytes.toString('utf8'), `${views.map((v) => JSON.stringify(v)).join(',\n')}\n]`);
      assert.ok(views.some((v) => v.origin === 'imported' && v.proto !== undefined));
      assert.ok(views.some((v) => v.origin === 'kernel'));
    }
  });

  it('writes counters of every size, skips routes gone, and writes nothing for no rows', () => {
    const views = inNetns(ns, () => routeRows(dp, routeIds(dp, {})));
    const ids = routeIds(dp, {});
    const sizes = [0, 7, 10, 99, 100, 4294967295, 4294967296, 2 ** 53 - 1];
    const counters = new RouteCounters(Math.max(...ids) + 1);
    ids.forEach((id, i) => {
      counters.packets[id] = sizes[i % sizes.length]!;
      counters.bytes[id] = sizes[(i + 3) % sizes.length]!;
    });
    const { bytes } = inNetns(ns, () => routeRowsJson(dp, ids, counters, '\n'));
    const byId = new Map(views.map((v) => [v.id, v]));
    // A route without packets is written with none, and no bytes.
    const expected = [...ids].map((id) => JSON.stringify({ ...byId.get(id), ...(counters.get(id) ?? { packets: 0, bytes: 0 }) }));
    assert.equal(bytes.toString('utf8'), expected.join('\n'));
    // An id no route has (as after a removal since the listing's snapshot of ids): left out.
    const gone = Uint32Array.from([ids[0]!, 1_999_999, ids[1]!]);
    const two = inNetns(ns, () => routeRowsJson(dp, gone, undefined, '\n', '\n'));
    assert.equal(two.rows, 2);
    assert.equal(two.bytes.toString('utf8'), `${JSON.stringify(byId.get(ids[0]!))}\n${JSON.stringify(byId.get(ids[1]!))}\n`);
    const none = routeRowsJson(dp, Uint32Array.from([1_999_999]), undefined, '\n', '\n');
    assert.deepEqual([none.rows, none.bytes.length], [0, 0]);
  });
});
