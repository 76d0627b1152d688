/**
 * The pipeline at TC ingress (attach mode `tc`) between namespaces, with the hosts' veths as
 * the kernel makes them: GRO off, TSO, GSO and tx checksum offload on. What the hosts send
 * therefore crosses the router as socket buffers of many segments whose TCP checksum is left
 * to the device (CHECKSUM_PARTIAL): routed as they are, and NATed with the kernel's checksum
 * helpers; the router's veths finish those checksums in software, so the hosts check them.
 * The router's kernel forwards nothing (ip_forward=0). Buffers whose headers lie in page
 * fragments past their linear part are pulled in and classified. Moving an interface between
 * XDP and TC leaves it covered throughout, and `down` takes the TC program off too.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { inNetns, interfaceMac, resolveIfindex } from '../../src/kernel/index.js';
import { Dataplane, TC_MODE_NOTE } from '../../src/dataplane/dataplane.js';
import { Pipeline } from '../../src/dataplane/pipeline.js';
import { tcProgramOn } from '../../src/dataplane/tc-hook.js';
import { parseBackend, parseServiceAddress } from '../../src/lb/service.js';
import { echoClientScript, echoServerScript } from '../helpers/echo-tcp.js';
import { forwardedByKernel, offloadFeature } from '../helpers/router-checks.js';
import { privilegedSkip } from '../helpers/privileged.js';
import { formatMac } from '../../src/util/mac.js';
import { repoRoot } from '../../src/util/paths.js';
import { Topology } from '../helpers/topology.js';
import { HTTP_LAB } from '../../src/netlab/lb-lab.js';

const skip = privilegedSkip();
const VIP = '10.197.9.1';
const SERVER = '10.197.2.2';

describe('attach mode tc', { skip, timeout: 3 * 60_000 }, () => {
  let topo: Topology;
  let dp: Dataplane;
  let instance: string;
  const ns = { c: '', r: '', s: '' };
  const dev = (s: string) => topo.name(s);
  const forwarded = () => forwardedByKernel(topo, ns.r);
  const feature = (n: string, i: string, name: string) => offloadFeature(topo, n, dev(i), name);
  const redirectsOn = (i: string) => inNetns(ns.r, () => dp.interfaceStats()).find((s) => s.name === dev(i))?.packets.redirect ?? 0;
  /** Runs the client against host:port (1 B, 1 kB, 1 MiB); returns the packets r0 redirected meanwhile. */
  const exchange = (host: string, port: number, sizes = [1, 1000, 1 << 20]) => {
    const before = redirectsOn('r0');
    const kernelBefore = forwarded();
    assert.match(topo.exec(ns.c, 'node', ['-e', echoClientScript(host, port, sizes)]), /^ok/);
    assert.equal(forwarded(), kernelBefore, 'the router kernel forwarded packets: the pipeline did not');
    return redirectsOn('r0') - before;
  };

  before(async () => {
    topo = new Topology('tm');
    ns.c = topo.addNamespace('C');
    ns.r = topo.addNamespace('R');
    ns.s = topo.addNamespace('S');
    topo.addVeth({ ns: ns.c, name: 'c0', addr: '10.197.1.2/24' }, { ns: ns.r, name: 'r0', addr: '10.197.1.1/24' });
    topo.addVeth({ ns: ns.r, name: 'r1', addr: '10.197.2.1/24' }, { ns: ns.s, name: 's0', addr: `${SERVER}/24` });
    topo.exec(ns.c, 'ip', ['route', 'add', 'default', 'via', '10.197.1.1']);
    topo.exec(ns.s, 'ip', ['route', 'add', 'default', 'via', '10.197.2.1']);
    topo.exec(ns.r, 'sysctl', ['-qw', 'net.ipv4.ip_forward=0']);
    // The router's veths compute checksums themselves (and cut segments in software): what
    // leaves them carries a checksum made from the field the pipeline updated, which the
    // receiving host checks. With offload on, a veth would pass a wrong one on unchecked.
    for (const i of ['r0', 'r1']) topo.exec(ns.r, 'ethtool', ['-K', dev(i), 'tx', 'off']);
    topo.spawn(ns.s, 'node', ['-e', echoServerScript(SERVER, 8080)]).stdout!.once('data', () => {});

    instance = topo.prefix;
    topo.recordInstance(instance);
    dp = await Dataplane.open(instance);
    inNetns(ns.r, () => dp.syncHostRoutes());
    topo.exec(ns.c, 'ping', ['-c', '1', '-W', '1', '10.197.1.1']);
    topo.exec(ns.s, 'ping', ['-c', '1', '-W', '1', '10.197.2.1']);
    inNetns(ns.r, () => dp.syncNeighbors());
  });

  after(() => {
    dp?.close();
    if (instance) inNetns(ns.r || undefined, () => Pipeline.down(instance));
    topo?.destroy();
  });

  it('attaches at TC ingress, says what the mode lacks, and reports it', () => {
    const attached = inNetns(ns.r, () => dp.attach([dev('r0'), dev('r1')], 'tc'));
    assert.deepEqual(
      attached.map((a) => [a.name, a.mode, a.already, a.notes.includes(TC_MODE_NOTE)]),
      [
        [dev('r0'), 'tc', false, true],
        [dev('r1'), 'tc', false, true],
      ],
    );
    const tcId = dp.pipeline.tc!.info().id;
    inNetns(ns.r, () => {
      assert.equal(tcProgramOn(resolveIfindex(dev('r0'))), tcId);
      assert.deepEqual(
        dp.attached().map((a) => [a.name, a.mode]),
        [
          [dev('r0'), 'tc'],
          [dev('r1'), 'tc'],
        ].sort(),
      );
      assert.equal(dp.attach([dev('r0')], 'tc')[0]!.already, true);
    });
  });

  it("routes TCP both ways with the hosts' GSO and checksum offload on, counting segments", () => {
    for (const [n, i] of [
      [ns.c, 'c0'],
      [ns.s, 's0'],
    ] as const) {
      assert.equal(feature(n, i, 'generic-receive-offload'), 'off', `${i}: GRO`);
      assert.equal(feature(n, i, 'tcp-segmentation-offload'), 'on', `${i}: TSO`);
      assert.equal(feature(n, i, 'tx-checksum-ip-generic'), 'on', `${i}: tx checksum offload`);
    }
    // 1 MiB each way in segments of at most 1448 bytes: over 700 on r0 alone, however the
    // sender bundled them.
    assert.ok(exchange(SERVER, 8080) > 700);
  });

  it('balances a NAT service through the TC pipeline, checksums right', () => {
    inNetns(ns.r, () =>
      dp.services.set({
        name: 'web',
        ...parseServiceAddress(`${VIP}:80/tcp`, 'web'),
        mode: 'nat',
        hash: 'five-tuple',
        tableSize: 65537,
        backends: [parseBackend(`${SERVER}:8080`, 'web')],
      }),
    );
    try {
      // A wrong checksum would stall the connection: the router's veth completes it from the
      // field the pipeline updated, and the host drops each segment that does not add up.
      assert.ok(exchange(VIP, 80) > 700);
      const [svc] = dp.services.list();
      assert.ok(svc!.connections >= 3, `connections: ${svc!.connections}`);
    } finally {
      inNetns(ns.r, () => dp.services.remove('web'));
    }
  });

  it('balances fragmented UDP datagrams through the TC pipeline, both ways', async () => {
    const server = topo.spawn(ns.s, process.execPath, [HTTP_LAB, 'udp-serve', 's', '5353']);
    await new Promise<void>((resolve) => server.stdout!.once('data', () => resolve()));
    inNetns(ns.r, () =>
      dp.services.set({
        name: 'dns',
        ...parseServiceAddress(`${VIP}:53/udp`, 'dns'),
        mode: 'nat',
        hash: 'five-tuple',
        tableSize: 65537,
        backends: [parseBackend(`${SERVER}:5353`, 'dns')],
      }),
    );
    try {
      // 4,000 bytes over 1,500-byte links: three fragments each way, none forwarded by the
      // router's kernel; each answer arrives whole, or udp-count reports it lost or damaged.
      const kernelBefore = forwarded();
      const r = JSON.parse(topo.exec(ns.c, process.execPath, [HTTP_LAB, 'udp-count', VIP, '53', '50', '4000']));
      assert.deepEqual(r, { counts: { s: 50 }, errors: {} });
      assert.equal(forwarded(), kernelBefore, 'the router kernel forwarded packets: the pipeline did not');
      const [svc] = dp.services.list();
      assert.equal(svc!.packets, 150, 'three fragments per datagram, counted to the service');
    } finally {
      inNetns(ns.r, () => dp.services.remove('dns'));
      server.kill('SIGTERM');
    }
  });

  it('classifies and routes buffers whose headers lie past their linear part', () => {
    // send-nonlinear.py: frames of 4,200 bytes (over a page) with only the Ethernet header in
    // the linear part; the IP and UDP headers are in a page fragment. MTUs raised to let them
    // through, and put back after.
    const links = [
      [ns.c, 'c0'],
      [ns.r, 'r0'],
      [ns.r, 'r1'],
      [ns.s, 's0'],
    ] as const;
    const mtu = (m: number) => {
      for (const [n, i] of links) topo.exec(n, 'ip', ['link', 'set', dev(i), 'mtu', String(m)]);
      inNetns(ns.r, () => dp.refreshInterfaces()); // the pipeline checks the MTU it recorded
    };
    const r0Mac = formatMac(inNetns(ns.r, () => interfaceMac(resolveIfindex(dev('r0')))));
    const send = (family: 4 | 6, src: string, dst: string, dport: number, count: number) =>
      topo.exec(ns.c, 'python3', [
        join(repoRoot, 'test', 'helpers', 'send-nonlinear.py'),
        dev('c0'),
        r0Mac,
        String(family),
        src,
        dst,
        String(dport),
        String(count),
      ]);
    const received = () => JSON.parse(topo.exec(ns.s, 'ip', ['-s', '-j', 'link', 'show', dev('s0')]))[0].stats64.rx.packets as number;
    const rule = dp.filter.addRule({ action: 'drop', proto: 17, dport: [7777, 7777] });
    const hits = () => dp.filter.ruleCounters().get(rule.id)?.packets ?? 0;
    mtu(9000);
    try {
      // To the port the rule drops, IPv4 and IPv6: seen only once the headers are pulled in.
      send(4, '10.197.1.2', SERVER, 7777, 40);
      assert.equal(hits(), 40, 'IPv4 to the dropped port');
      send(6, 'fd97:1::2', 'fd97:2::2', 7777, 40);
      assert.equal(hits(), 80, 'IPv6 to the dropped port');
      // To another port: routed by the pipeline (the router's kernel forwards nothing).
      const [redirects, rx, kernel] = [redirectsOn('r0'), received(), forwarded()];
      send(4, '10.197.1.2', SERVER, 9999, 40);
      assert.equal(redirectsOn('r0') - redirects, 40, 'redirected by r0');
      assert.ok(received() - rx >= 40, `s0 received ${received() - rx}`);
      assert.equal(forwarded(), kernel);
    } finally {
      dp.filter.deleteRule(rule.id);
      mtu(1500);
    }
  });

  it('moves an interface between XDP and TC with the new program in place first', () => {
    const r1 = () => resolveIfindex(dev('r1'));
    inNetns(ns.r, () => {
      const [x] = dp.attach([dev('r1')], 'generic');
      assert.deepEqual([x!.mode, x!.replaced], ['generic', true]);
      assert.equal(tcProgramOn(r1()), null, 'the TC program left r1');
    });
    // Small exchanges only: XDP hands a GSO socket buffer (the server's 1 MiB) to the kernel,
    // which forwards nothing here (veth-auto.test.ts turns the hosts' GSO off for that).
    assert.ok(exchange(SERVER, 8080, [1, 1000]) > 0, 'r0 in TC, r1 in XDP');
    inNetns(ns.r, () => {
      const [t] = dp.attach([dev('r1')], 'tc');
      assert.deepEqual([t!.mode, t!.replaced], ['tc', true]);
      assert.deepEqual(
        dp.attached().find((a) => a.name === dev('r1')),
        { name: dev('r1'), ifindex: r1(), mode: 'tc' },
      );
    });
  });

  it('takes the TC program off every interface at down', () => {
    dp.close();
    const { detached } = inNetns(ns.r, () => Pipeline.down(instance));
    assert.deepEqual(detached.sort(), [dev('r0'), dev('r1')].sort());
    inNetns(ns.r, () => {
      assert.equal(tcProgramOn(resolveIfindex(dev('r0'))), null);
      assert.equal(tcProgramOn(resolveIfindex(dev('r1'))), null);
    });
    instance = '';
  });
});
