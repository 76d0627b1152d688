/**
 * Route listings write rows without building views (Dataplane.routeJson, for a million-route
 * table): each row's text must be exactly JSON.stringify of the view, for every kind of route
 * (unicast with gateways, ECMP, blackhole and the other types, IPv6, imported with a kernel
 * protocol, with counters).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Dataplane } from '../../src/dataplane/dataplane.js';
import { Pipeline } from '../../src/dataplane/pipeline.js';
import { listRoutes, routeIds, routeRowsJson } from '../../src/ops/routes.js';
import { parseRouteTokens } from '../../src/routing/route-syntax.js';
import { inNetns } from '../../src/kernel/index.js';
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

  it('writes each row as JSON.stringify writes its view', () => {
    for (const stats of [false, true]) {
      const views = inNetns(ns, () => listRoutes(dp, { stats }));
      const texts = inNetns(ns, () => routeRowsJson(dp, routeIds(dp, {}), stats ? dp.routeCounters() : undefined));
      assert.ok(views.length >= 9, `${views.length} routes`);
      assert.deepEqual(
        texts,
        views.map((v) => JSON.stringify(v)),
      );
      assert.ok(views.some((v) => v.origin === 'imported' && v.proto !== undefined));
      assert.ok(views.some((v) => v.origin === 'kernel'));
    }
  });
});
