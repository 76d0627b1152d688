/**
 * Real traffic forwarded by the XDP program: namespaces client — router — two upstreams, with
 * forwarding disabled in the router's kernel (so only Pathwise can forward; the kernel's own
 * IpForwDatagrams counter must not move). ICMP, UDP and TCP cross it; ECMP spreads flows over
 * the upstreams by weight; a TTL=1 packet gets ICMP time exceeded from the kernel.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { inNetns } from '../../src/kernel/index.js';
import { Dataplane } from '../../src/dataplane/dataplane.js';
import { Pipeline } from '../../src/dataplane/pipeline.js';
import { parseRouteTokens } from '../../src/routing/route-syntax.js';
import { privilegedSkip } from '../helpers/privileged.js';
import { forwardedByKernel, unresolvedGateways } from '../helpers/router-checks.js';
import { Topology } from '../helpers/topology.js';
import { ROUTER_IFINDEX, SERVICE, buildRouterLab } from '../../src/netlab/router-lab.js';

const skip = privilegedSkip();

describe('forwarding through the XDP pipeline', { skip, timeout: 5 * 60_000 }, () => {
  let topo: Topology;
  let dp: Dataplane;
  let instance: string;
  const ns = { c: '', r: '', u1: '', u2: '' };
  const dev = (s: string) => topo.name(s);

  const rxPackets = (n: string, ifname: string) =>
    JSON.parse(topo.exec(n, 'ip', ['-j', '-s', 'link', 'show', ifname]))[0].stats64.rx.packets as number;
  const kernelForwarded = () => forwardedByKernel(topo, ns.r);

  before(async () => {
    topo = new Topology('f');
    const lab = buildRouterLab(topo); // the router's kernel does not forward
    Object.assign(ns, { c: lab.client, r: lab.router, u1: lab.upstream1, u2: lab.upstream2 });
    // The kernel knows the route too (as under FRR or BIRD): it needs one to answer TTL=1
    // with time exceeded. With forwarding off it never forwards by it.
    topo.exec(ns.r, 'ip', ['route', 'add', '10.220.0.0/16', 'nexthop', 'via', '10.210.2.2', 'nexthop', 'via', '10.210.3.2']);

    instance = topo.prefix;
    topo.recordInstance(instance);
    dp = await Dataplane.open(instance);
    inNetns(ns.r, () => {
      dp.syncHostRoutes();
      dp.addRoute(
        parseRouteTokens(['10.220.0.0/16', 'via', '10.210.2.2', 'weight', '1', 'via', '10.210.3.2', 'weight', '3'], (i) => `token ${i}`),
      );
      const attached = dp.attach([dev('r0'), dev('r1'), dev('r2')], 'native');
      assert.deepEqual(
        attached.map((a) => a.mode),
        ['native', 'native', 'native'],
      );
    });
    assert.deepEqual(await unresolvedGateways(dp, (fn) => inNetns(ns.r, fn)), []);
    // The router's kernel learns the client's MAC from the client's ARP for its gateway; the
    // data plane's neighbour copy follows the kernel when synced (the daemon, or
    // `pathwise neigh sync --watch`, does this continuously).
    topo.exec(ns.c, 'ping', ['-c', '1', '-W', '1', '10.210.1.1']);
    inNetns(ns.r, () => dp.syncNeighbors());
  });

  after(() => {
    dp?.close();
    if (instance) inNetns(ns.r || undefined, () => Pipeline.down(instance));
    topo?.destroy();
  });

  it('forwards ICMP both ways, with the kernel forwarding nothing', () => {
    const before = kernelForwarded();
    const out = topo.exec(ns.c, 'ping', ['-c', '20', '-i', '0.01', '-W', '1', SERVICE]);
    assert.match(out, / 0% packet loss/);
    assert.equal(kernelForwarded(), before, 'the router kernel forwarded packets: XDP did not');
    const r0 = inNetns(ns.r, () => dp.interfaceStats()).find((s) => s.name === dev('r0'))!;
    assert.equal(r0.ifindex, ROUTER_IFINDEX.r0); // above 1024: counters are not limited to small ifindexes
    assert.ok((r0.packets.redirect ?? 0) >= 20, `r0 redirected ${r0.packets.redirect}`);
  });

  it('spreads UDP flows over the upstreams by weight (1:3) and keeps each flow on one path', () => {
    const u1Before = rxPackets(ns.u1, dev('u1'));
    const u2Before = rxPackets(ns.u2, dev('u2'));
    const kBefore = kernelForwarded();
    const FLOWS = 400;
    // One datagram from each of FLOWS source ports, then 20 more from one port (one flow).
    const script = `
      const dgram = require('node:dgram');
      (async () => {
        for (let i = 0; i < ${FLOWS}; i++) {
          const s = dgram.createSocket('udp4');
          await new Promise((r) => s.bind(30000 + i, r));
          await new Promise((r) => s.send('x', 9999, '${SERVICE}', r));
          s.close();
        }
        const s = dgram.createSocket('udp4');
        await new Promise((r) => s.bind(29000, r));
        for (let i = 0; i < 20; i++) await new Promise((r) => s.send('y', 9999, '${SERVICE}', r));
        s.close();
      })();`;
    topo.exec(ns.c, 'node', ['-e', script]);
    const u1 = rxPackets(ns.u1, dev('u1')) - u1Before;
    const u2 = rxPackets(ns.u2, dev('u2')) - u2Before;
    const total = FLOWS + 20;
    // ARP and the like can add a few packets on either side.
    assert.ok(u1 + u2 >= total && u1 + u2 <= total + 10, `received ${u1} + ${u2}, sent ${total}`);
    // The single 20-packet flow went one way as a whole: the split is (a+20, b) with a+b=FLOWS.
    const share = (x: number) => x / FLOWS;
    const u1Flows = u1 >= 20 && share(u1 - 20) >= 0.15 && share(u1 - 20) <= 0.35 ? u1 - 20 : u1;
    assert.ok(
      share(u1Flows) >= 0.15 && share(u1Flows) <= 0.35,
      `upstream 1 got ${u1} packets (${u2} to upstream 2): expected ~25% of ${FLOWS} flows`,
    );
    assert.equal(kernelForwarded(), kBefore);
  });

  it('carries TCP connections end to end', () => {
    const server = `
      const net = require('node:net');
      net.createServer((c) => { let n = 0; c.on('data', (d) => (n += d.length)); c.on('end', () => c.end(String(n))); })
        .listen(8080, '${SERVICE}', () => console.log('ready'));`;
    for (const u of [ns.u1, ns.u2]) {
      const p = topo.spawn(u, 'node', ['-e', server]);
      p.stdout!.once('data', () => {});
    }
    const client = `
      const net = require('node:net');
      const wait = (ms) => new Promise((r) => setTimeout(r, ms));
      (async () => {
        const sizes = [1, 1000, 1 << 20];
        for (let attempt = 0; ; attempt++) {
          try {
            for (const size of sizes) {
              const got = await new Promise((resolve, reject) => {
                const c = net.connect(8080, '${SERVICE}', () => c.end(Buffer.alloc(size, 7)));
                c.setTimeout(3000, () => c.destroy(new Error('timeout')));
                let reply = '';
                c.on('data', (d) => (reply += d));
                c.on('end', () => resolve(Number(reply)));
                c.on('error', reject);
              });
              if (got !== size) throw new Error('server counted ' + got + ' of ' + size);
            }
            console.log('ok');
            return;
          } catch (e) {
            if (attempt > 20) { console.log('failed: ' + e.message); process.exit(1); }
            await wait(100); // servers still starting
          }
        }
      })();`;
    const before = kernelForwarded();
    assert.match(topo.exec(ns.c, 'node', ['-e', client]), /^ok/);
    assert.equal(kernelForwarded(), before);
  });

  /** Sends `count` UDP datagrams from the client to SERVICE:port, `perSecond` a second; returns
   * the seconds the sending took. */
  const sendUdp = (port: number, count: number, perSecond: number): number => {
    const script = `
      const s = require('node:dgram').createSocket('udp4');
      const t0 = process.hrtime.bigint();
      let sent = 0;
      const tick = () => {
        if (sent === ${count}) { s.close(); console.log(Number(process.hrtime.bigint() - t0) / 1e9); return; }
        s.send('z', ${port}, '${SERVICE}', () => { sent++; const due = Number(t0) / 1e6 + (sent * 1000) / ${perSecond}; setTimeout(tick, Math.max(0, due - Number(process.hrtime.bigint()) / 1e6)); });
      };
      tick();`;
    return Number(topo.exec(ns.c, 'node', ['-e', script]).trim());
  };
  const upstreamRx = () => rxPackets(ns.u1, dev('u1')) + rxPackets(ns.u2, dev('u2'));

  it('drops what a drop rule matches, by port and ingress interface, and nothing else', () => {
    // The client's datagrams arrive on r0: the rule for r1 never matches them.
    const [other, rule] = inNetns(ns.r, () =>
      dp.filter.setRules([
        { action: 'drop', proto: 17, dport: [7777, 7777], iif: dev('r1') },
        { action: 'drop', proto: 17, dport: [7777, 7777], iif: dev('r0') },
      ]),
    );
    // What reaches the upstreams, by destination port: an nftables counter in each upstream's
    // namespace (their links also carry the kernel's own ARP and IPv6 neighbour traffic).
    const table = `${topo.prefix}drop`;
    const upstreams = [ns.u1, ns.u2];
    for (const n of upstreams) {
      topo.exec(n, 'nft', ['-f', '-'], {
        input: `table ip ${table} {\n  chain in {\n    type filter hook prerouting priority -300;\n    udp dport 7777 counter\n    udp dport 7778 counter\n  }\n}\n`,
      });
    }
    const arrived = (port: number) =>
      upstreams.reduce((sum, n) => {
        const rules = JSON.parse(topo.exec(n, 'nft', ['-j', 'list', 'table', 'ip', table])).nftables as any[];
        const rule = rules.find((r) => r.rule && JSON.stringify(r.rule.expr).includes(`"right":${port}`));
        return sum + (rule.rule.expr.find((e: any) => e.counter).counter.packets as number);
      }, 0);
    try {
      sendUdp(7777, 30, 1000);
      sendUdp(7778, 30, 1000);
      assert.equal(arrived(7777), 0, 'datagrams to the dropped port arrived');
      assert.equal(arrived(7778), 30, 'all 30 datagrams to another port arrived');
      const hits = inNetns(ns.r, () => dp.filter.ruleCounters());
      assert.equal(hits.get(rule!.id)!.packets, 30);
      assert.equal(hits.get(other!.id)!.packets, 0);
    } finally {
      inNetns(ns.r, () => dp.filter.setRules([]));
      for (const n of upstreams) topo.exec(n, 'nft', ['delete', 'table', 'ip', table], { allowFail: true });
    }
  });

  it('holds a rate limit: burst, then the configured rate', () => {
    const name = `rl${Date.now() % 100000}`;
    inNetns(ns.r, () => {
      dp.filter.addLimiter({ name, rate: 50, burst: 10, per4: 32, per6: 128, blockAfter: 0, blockForMs: 0 });
      dp.filter.setRules([{ action: 'ratelimit', limiter: name, proto: 17, dport: [8888, 8888] }]);
    });
    try {
      const before = upstreamRx();
      const seconds = sendUdp(8888, 400, 200); // 4x the limit for ~2 s
      const got = upstreamRx() - before;
      const expected = 10 + 50 * seconds;
      assert.ok(
        got >= expected * 0.8 && got <= expected * 1.2 + 3,
        `${got} datagrams passed in ${seconds.toFixed(2)} s; the limit allows ~${expected.toFixed(0)}`,
      );
    } finally {
      inNetns(ns.r, () => {
        dp.filter.setRules([]);
        dp.filter.deleteLimiter(name);
      });
    }
  });

  it('hands TTL=1 packets to the kernel, which answers ICMP time exceeded', () => {
    // Time exceeded is the kernel's answer when it would forward; enable it for this check.
    topo.exec(ns.r, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    try {
      const out = topo.exec(ns.c, 'ping', ['-c', '1', '-t', '1', '-W', '1', SERVICE], { allowFail: true });
      assert.match(out, /From 10\.210\.1\.1 .*Time to live exceeded/);
      const r0 = inNetns(ns.r, () => dp.interfaceStats()).find((s) => s.name === dev('r0'))!;
      assert.ok((r0.reasons.ttl_exceeded ?? 0) >= 1);
    } finally {
      topo.exec(ns.r, 'sysctl', ['-qw', 'net.ipv4.ip_forward=0']);
    }
  });

  it('keeps no counters for interfaces detached or deleted', () => {
    // Two more ports: one is detached, the other deleted while attached (a container's veth).
    topo.addVeth(
      { ns: ns.c, name: 'x0', addr: '10.210.8.2/24', index: 5000 },
      { ns: ns.r, name: 'x1', addr: '10.210.8.1/24', index: 5001 },
    );
    topo.addVeth(
      { ns: ns.c, name: 'y0', addr: '10.210.9.2/24', index: 5002 },
      { ns: ns.r, name: 'y1', addr: '10.210.9.1/24', index: 5003 },
    );
    const counted = () => inNetns(ns.r, () => dp.interfaceStats()).map((s) => s.ifindex);
    inNetns(ns.r, () => dp.attach([dev('x1'), dev('y1')], 'native'));
    topo.exec(ns.c, 'ping', ['-c', '2', '-i', '0.05', '-W', '1', '10.210.8.1'], { allowFail: true });
    topo.exec(ns.c, 'ping', ['-c', '2', '-i', '0.05', '-W', '1', '10.210.9.1'], { allowFail: true });
    assert.ok(counted().includes(5001) && counted().includes(5003), `counters for ${counted()}`);

    inNetns(ns.r, () => dp.detach([dev('x1')]));
    assert.ok(!counted().includes(5001), 'a detached interface keeps its counters');
    topo.exec(ns.r, 'ip', ['link', 'del', dev('y1')]);
    assert.ok(counted().includes(5003), 'nothing has pruned yet');
    inNetns(ns.r, () => dp.attach([dev('x1')], 'native')); // an attach prunes what is gone
    assert.ok(!counted().includes(5003), 'a deleted interface keeps its counters');
    assert.ok(counted().includes(ROUTER_IFINDEX.r0), 'the live ports lost their counters');
    inNetns(ns.r, () => dp.detach([dev('x1')]));
  });
});
