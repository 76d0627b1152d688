/**
 * The tables sized by the settings (pipeline.connections, pipeline.flowEntries): the kernel's
 * maps get the sizes; the pins say them back when meta.json is lost; an upgrade keeps the
 * tables and refuses another size; and the connection table, an LRU, holds no more than its
 * size while the newest connections stay tracked.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { Dataplane } from '../../src/dataplane/dataplane.js';
import { Pipeline, runDirOf } from '../../src/dataplane/pipeline.js';
import type { PwError } from '../../src/errors.js';
import { DEFAULT_TABLE_SIZE } from '../../src/lb/maglev.js';
import { parseBackend, parseServiceAddress } from '../../src/lb/service.js';
import { ipv4Packet } from '../helpers/packets.js';
import { privilegedSkip } from '../helpers/privileged.js';
import { Topology } from '../helpers/topology.js';

const skip = privilegedSkip();
const CONNECTIONS = 1024;
const FLOW_ENTRIES = 4096;

describe('table sizes from the settings', { skip, timeout: 5 * 60_000 }, () => {
  let topo: Topology;
  let instance = '';

  before(() => {
    topo = new Topology('ts');
    instance = topo.prefix;
    topo.recordInstance(instance);
  });
  after(() => {
    if (instance) Pipeline.down(instance);
    topo?.destroy();
  });

  it('gives the kernel maps the sizes the settings name', async () => {
    const dp = await Dataplane.open(instance, { connections: CONNECTIONS, flowEntries: FLOW_ENTRIES });
    try {
      const m = dp.pipeline.maps;
      assert.deepEqual(
        [m.lbCt.info.maxEntries, m.lbRnat.info.maxEntries, m.flows.info.maxEntries],
        [CONNECTIONS, CONNECTIONS, FLOW_ENTRIES],
      );
    } finally {
      dp.close();
    }
  });

  it('reads them back from the pins when meta.json is lost; an upgrade keeps the tables and refuses another size', async () => {
    rmSync(join(runDirOf(instance), 'meta.json'));
    const derived = Pipeline.pinnedMeta(instance).settings;
    assert.deepEqual([derived.connections, derived.flowEntries], [CONNECTIONS, FLOW_ENTRIES]);
    const r = await Dataplane.upgrade(instance, derived);
    for (const name of ['pw_lb_ct', 'pw_lb_rnat', 'pw_flows'])
      assert.ok(r.carried.includes(name), `${name} carried over: ${r.carried.join(', ')}`);
    await assert.rejects(
      Dataplane.upgrade(instance, { ...derived, connections: 2 * CONNECTIONS }),
      (e: PwError) => e.code === 'PW_ERR_UNSUPPORTED' && e.message.includes(`pipeline.connections ${CONNECTIONS} -> ${2 * CONNECTIONS}`),
    );
  });

  it('tracks no more connections than its size, the newest among them', async () => {
    const dp = await Dataplane.open(instance);
    try {
      assert.equal(dp.pipeline.maps.lbCt.info.maxEntries, CONNECTIONS, 'the pinned table, as sized');
      dp.services.set({
        name: 'web',
        ...parseServiceAddress('10.241.9.9:80/tcp', 'web'),
        mode: 'nat',
        hash: 'five-tuple',
        tableSize: DEFAULT_TABLE_SIZE,
        backends: ['10.241.2.1:8080', '10.241.2.2:8080'].map((b) => parseBackend(b, 'web')),
      });
      // Three times as many connections as the table holds, each opened with a SYN.
      const opened = 3 * CONNECTIONS;
      for (let i = 0; i < opened; i++) {
        const sport = 10000 + i;
        const syn = ipv4Packet({
          src: `10.241.${1 + (i >> 8)}.${i & 255}`,
          dst: '10.241.9.9',
          proto: 'tcp',
          sport,
          dport: 80,
          tcpFlags: 0x02,
        });
        dp.pipeline.xdp.testRunSync({ data: syn });
      }
      const sports = new Set([...dp.pipeline.maps.lbCt.keys()].map((k) => k.sport));
      assert.ok(sports.size > 0 && sports.size <= CONNECTIONS, `${sports.size} connections tracked, at most ${CONNECTIONS}`);
      assert.ok(sports.has(10000 + opened - 1), 'the newest connection is tracked');
      assert.ok(!sports.has(10000), 'the oldest gave way');
      assert.ok(dp.pipeline.maps.lbRnat.count <= CONNECTIONS, 'and as many reverse-NAT entries at most');
    } finally {
      dp.close();
    }
  });
});
