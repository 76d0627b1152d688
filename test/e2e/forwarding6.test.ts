/**
 * IPv6 forwarded by the XDP program: client — router — upstream, with IPv6 forwarding off in
 * the router's kernel (its Ip6OutForwDatagrams counter must not move). Echo requests and UDP
 * cross the router; hop limit 1 goes to the kernel.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { inNetns } from '../../src/kernel/index.js';
import { Dataplane } from '../../src/dataplane/dataplane.js';
import { Pipeline } from '../../src/dataplane/pipeline.js';
import { parseRouteTokens } from '../../src/routing/route-syntax.js';
import { privilegedSkip } from '../helpers/privileged.js';
import { unresolvedGateways } from '../helpers/router-checks.js';
import { Topology } from '../helpers/topology.js';

const skip = privilegedSkip();
const SERVICE = '2001:db8:220::1';

describe('IPv6 forwarding through the XDP pipeline', { skip, timeout: 3 * 60_000 }, () => {
  let topo: Topology;
  let dp: Dataplane;
  let instance = '';
  let c = '';
  let r = '';
  let u = '';
  const kernelForwarded6 = () => {
    const line = topo
      .exec(r, 'cat', ['/proc/net/snmp6'])
      .split('\n')
      .find((l) => l.startsWith('Ip6OutForwDatagrams'));
    return Number(line!.split(/\s+/)[1]);
  };

  before(async () => {
    topo = new Topology('s');
    c = topo.addNamespace('C');
    r = topo.addNamespace('R');
    u = topo.addNamespace('U');
    topo.addVeth({ ns: c, name: 'c0', index: 2001 }, { ns: r, name: 'r0', index: 2001 });
    topo.addVeth({ ns: u, name: 'u0', index: 66000 }, { ns: r, name: 'r1', index: 66000 });
    const addr = (n: string, a: string, dev: string) => topo.exec(n, 'ip', ['-6', 'addr', 'add', a, 'dev', topo.name(dev), 'nodad']);
    addr(c, '2001:db8:1::2/64', 'c0');
    addr(r, '2001:db8:1::1/64', 'r0');
    addr(r, '2001:db8:2::1/64', 'r1');
    addr(u, '2001:db8:2::2/64', 'u0');
    topo.exec(u, 'ip', ['-6', 'addr', 'add', `${SERVICE}/128`, 'dev', 'lo']);
    topo.exec(c, 'ip', ['-6', 'route', 'add', 'default', 'via', '2001:db8:1::1']);
    topo.exec(u, 'ip', ['-6', 'route', 'add', 'default', 'via', '2001:db8:2::1']);
    for (const [n, i] of [
      [c, 'c0'],
      [u, 'u0'],
    ] as const) {
      topo.exec(n, 'ethtool', ['-K', topo.name(i), 'gro', 'on', 'tso', 'off', 'gso', 'off', 'tx', 'off']);
    }
    topo.exec(r, 'sysctl', ['-qw', 'net.ipv6.conf.all.forwarding=0']);
    // The kernel knows the route too, so it can answer hop limit 1 (with forwarding on).
    topo.exec(r, 'ip', ['-6', 'route', 'add', '2001:db8:220::/48', 'via', '2001:db8:2::2']);

    instance = topo.prefix;
    topo.recordInstance(instance);
    dp = await Dataplane.open(instance);
    inNetns(r, () => {
      dp.syncHostRoutes();
      dp.addRoute(parseRouteTokens(['2001:db8:220::/48', 'via', '2001:db8:2::2'], (i) => `token ${i}`));
      dp.attach([topo.name('r0'), topo.name('r1')], 'native');
    });
    assert.deepEqual(await unresolvedGateways(dp, (fn) => inNetns(r, fn)), []);
    // The router learns the client's MAC from its neighbour solicitation; then sync.
    topo.exec(c, 'ping', ['-6', '-c', '1', '-W', '1', '2001:db8:1::1']);
    inNetns(r, () => dp.syncNeighbors());
  });

  after(() => {
    dp?.close();
    if (instance) inNetns(r || undefined, () => Pipeline.down(instance));
    topo?.destroy();
  });

  it('forwards echo requests and replies, with the kernel forwarding nothing', () => {
    const before = kernelForwarded6();
    const out = topo.exec(c, 'ping', ['-6', '-c', '20', '-i', '0.01', '-W', '1', SERVICE]);
    assert.match(out, / 0% packet loss/);
    // Replies arrived with the hop limit the router decremented once (64 - 1).
    assert.match(out, /ttl=63/);
    assert.equal(kernelForwarded6(), before, 'the router kernel forwarded IPv6 packets: XDP did not');
    const r0 = inNetns(r, () => dp.interfaceStats()).find((s) => s.name === topo.name('r0'))!;
    assert.ok((r0.packets.redirect ?? 0) >= 20, JSON.stringify(r0));
  });

  it('carries UDP over IPv6 end to end', () => {
    const server = `
      const s = require('node:dgram').createSocket('udp6');
      s.on('message', (m, rinfo) => s.send(m, rinfo.port, rinfo.address));
      s.bind(9000, '${SERVICE}', () => console.log('ready'));`;
    const p = topo.spawn(u, 'node', ['-e', server]);
    p.stdout!.once('data', () => {});
    const client = `
      const s = require('node:dgram').createSocket('udp6');
      let n = 0;
      s.on('message', () => { if (++n === 10) { console.log('ok'); process.exit(0); } });
      const send = (i) => s.send('x' + i, 9000, '${SERVICE}');
      let i = 0; const t = setInterval(() => { send(i++); if (i > 200) { console.log('got ' + n); process.exit(1); } }, 20);`;
    assert.match(topo.exec(c, 'node', ['-e', client]), /^ok/);
  });

  it('hands hop limit 1 to the kernel, which answers time exceeded', () => {
    topo.exec(r, 'sysctl', ['-qw', 'net.ipv6.conf.all.forwarding=1']);
    try {
      const out = topo.exec(c, 'ping', ['-6', '-c', '1', '-t', '1', '-W', '1', SERVICE], { allowFail: true });
      assert.match(out, /Time exceeded: Hop limit/);
    } finally {
      topo.exec(r, 'sysctl', ['-qw', 'net.ipv6.conf.all.forwarding=0']);
    }
  });
});
