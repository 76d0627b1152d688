/**
 * The pipeline's feature bytes (src/dataplane/feature-bytes.ts) through the real pipeline with
 * BPF_PROG_TEST_RUN: each stage's control writer sets its byte when it turns the stage on and
 * clears it when it turns it off; a clear byte really skips the stage (its control left on);
 * and opening the data plane sets the byte of a stage at work, as for pins made before the
 * bytes existed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { CaptureSession } from '../../src/dataplane/capture-slot.js';
import { Dataplane } from '../../src/dataplane/dataplane.js';
import { featureOn, switchFeature, type Feature } from '../../src/dataplane/feature-bytes.js';
import { openHttpRing, setHttpControl } from '../../src/dataplane/http-tables.js';
import { openEventRing, setEventsControl } from '../../src/dataplane/insight-tables.js';
import * as abi from '../../src/generated/pathwise.js';
import type { RingBufferReader } from '../../src/kernel/index.js';
import { DEFAULT_TABLE_SIZE } from '../../src/lb/maglev.js';
import { parseBackend, parseServiceAddress } from '../../src/lb/service.js';
import { eth, ipv4Packet, PROTO, tcp, TCP, type Addrs } from '../helpers/craft.js';
import { MAC_A, MAC_B } from '../helpers/packets.js';
import { closeOwnDataplane, openOwnDataplane } from '../helpers/own-dataplane.js';
import { privilegedSkip } from '../helpers/privileged.js';
import { Topology } from '../helpers/topology.js';

const skip = privilegedSkip();

const V4: Addrs = { family: 4, src: '192.0.2.10', dst: '198.51.100.20' };
const request = eth(
  { dst: MAC_B, src: MAC_A },
  ipv4Packet(
    { src: V4.src, dst: V4.dst, proto: PROTO.TCP },
    tcp(V4, { sport: 40001, dport: 80, flags: TCP.ACK | TCP.PSH }, Buffer.from('GET / HTTP/1.1\r\n\r\n')),
  ),
);

const ALL: [string, Feature][] = Object.entries(abi.PwFeature).filter(([k]) => k !== 'COUNT') as [string, Feature][];

describe('the feature bytes', { skip, timeout: 2 * 60_000 }, () => {
  let topo: Topology;
  let dp: Dataplane;
  let instance: string;
  const on = () => ALL.filter(([, f]) => featureOn(dp.pipeline.maps, f)).map(([name]) => name);

  before(async () => ({ topo, instance, dp } = await openOwnDataplane('fb')));
  after(() => closeOwnDataplane(topo, instance, dp));

  it("are clear on a new pipeline, and each stage's control sets and clears its own", () => {
    const maps = dp.pipeline.maps;
    assert.deepEqual(on(), []);

    setEventsControl(maps, { sampleRate: 0, drops: true });
    assert.deepEqual(on(), ['EVENTS']);
    setHttpControl(maps, { enabled: true, allPorts: true, ports: [], snap: 64 });
    assert.deepEqual(on(), ['EVENTS', 'HTTP']);
    dp.services.set({
      name: 'web',
      ...parseServiceAddress('10.240.9.9:80/tcp', 'web'),
      mode: 'nat',
      hash: 'five-tuple',
      tableSize: DEFAULT_TABLE_SIZE,
      backends: [parseBackend('10.240.2.1:8080', 'web')],
    });
    assert.deepEqual(on(), ['EVENTS', 'BALANCE', 'HTTP']);
    const capture = CaptureSession.start(dp, { point: 'ingress', snap: 64, expression: 'tcp' });
    try {
      assert.deepEqual(on(), ['CAPTURE', 'EVENTS', 'BALANCE', 'HTTP']);
    } finally {
      capture.stop();
    }
    assert.deepEqual(on(), ['EVENTS', 'BALANCE', 'HTTP']);

    dp.services.remove('web');
    assert.deepEqual(on(), ['EVENTS', 'HTTP']);
    setEventsControl(maps, { sampleRate: 3, drops: false }); // samples alone keep it on
    assert.deepEqual(on(), ['EVENTS', 'HTTP']);
    setEventsControl(maps, { sampleRate: 0, drops: false });
    setHttpControl(maps, { enabled: false, allPorts: true, ports: [], snap: 64 });
    assert.deepEqual(on(), []);
  });

  it('a clear byte skips its stage with the control on; an open sets the byte of a stage at work', async () => {
    const maps = dp.pipeline.maps;
    const http: RingBufferReader = openHttpRing(instance);
    const events: RingBufferReader = openEventRing(instance);
    try {
      const send = () => {
        dp.pipeline.xdp.testRunSync({ data: request });
        return { http: http.takeAll().length, events: events.takeAll().length };
      };
      setHttpControl(maps, { enabled: true, allPorts: true, ports: [], snap: 64 });
      setEventsControl(maps, { sampleRate: 1, drops: false });
      assert.deepEqual(send(), { http: 1, events: 1 }, 'both stages at work');

      // As a map pinned before the bytes: the controls on, the bytes clear.
      for (const f of [abi.PwFeature.HTTP, abi.PwFeature.EVENTS] as const) switchFeature(maps, f, false, () => {});
      assert.equal(maps.httpCtl.get(0)!.enabled, 1);
      assert.equal(maps.eventsCtl.get(0)!.sample_rate, 1);
      assert.deepEqual(send(), { http: 0, events: 0 }, 'skipped by their bytes alone');

      const again = await Dataplane.open(instance);
      again.close();
      assert.deepEqual(on(), ['EVENTS', 'HTTP']);
      assert.deepEqual(send(), { http: 1, events: 1 }, 'at work again after the open');
    } finally {
      setHttpControl(maps, { enabled: false, allPorts: true, ports: [], snap: 64 });
      setEventsControl(maps, { sampleRate: 0, drops: false });
      http.close();
      events.close();
    }
  });
});
