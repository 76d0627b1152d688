/**
 * The route syntax of `route add` and `route load`: what each form means, the fast path a full
 * table takes (plain IPv4 lines, templates shared by identical nexthop texts), and errors that
 * name the token or file:line:column at fault.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { PwError } from '../../src/errors.js';
import { parseRouteFile, parseRouteTokens } from '../../src/routing/route-syntax.js';
import { formatIpv4, formatPrefix, parsePrefix } from '../../src/util/ip.js';

const tokens = (line: string) => {
  const t = line.split(' ');
  return parseRouteTokens(t, (i) => `argument ${i + 1}`);
};
const fails = (line: string, pattern: RegExp, where?: string) =>
  assert.throws(
    () => tokens(line),
    (e: PwError) => e.code === 'PW_ERR_INVALID' && pattern.test(e.message) && (where === undefined || e.where === where),
  );

describe('route syntax: one route', () => {
  it('reads a gateway, an interface, weights and a metric', () => {
    const r = tokens('10.20.0.0/16 via 192.0.2.1 weight 1 via 198.51.100.1 dev eth2 weight 3 metric 7');
    assert.equal(formatPrefix(r.prefix), '10.20.0.0/16');
    assert.equal(r.type, 'unicast');
    assert.deepEqual(r.nexthops, [
      { via: '192.0.2.1', weight: 1 },
      { via: '198.51.100.1', dev: 'eth2', weight: 3 },
    ]);
    assert.equal(r.metric, 7);
  });

  it("takes iproute2's forms: default, nexthop before via, dev alone, route types", () => {
    assert.equal(formatPrefix(tokens('default via 192.0.2.1').prefix), '0.0.0.0/0');
    assert.deepEqual(tokens('10.0.0.0/8 nexthop via 192.0.2.1 nexthop via 192.0.2.2').nexthops, [
      { via: '192.0.2.1' },
      { via: '192.0.2.2' },
    ]);
    assert.deepEqual(tokens('192.0.2.0/24 dev eth1').nexthops, [{ dev: 'eth1' }]);
    for (const type of ['blackhole', 'local', 'kernel'] as const) {
      const r = tokens(`${type} 203.0.113.0/24`);
      assert.equal(r.type, type);
      assert.deepEqual(r.nexthops, []);
    }
    assert.equal(tokens('2001:db8::/32 via 2001:db8::1').prefix.family, 6);
    // An IPv6 prefix may have an IPv4 gateway (RFC 5549); the reverse is refused.
    assert.equal(tokens('2001:db8::/32 via 192.0.2.1').nexthops[0]!.via, '192.0.2.1');
  });

  it('refuses what it cannot mean, naming the argument', () => {
    fails('10.20.0.0/16', /needs a nexthop/);
    fails('blackhole 10.20.0.0/16 via 192.0.2.1', /a blackhole route takes no nexthops/);
    fails('10.20.0.0/16 via', /'via' needs a value/, 'argument 2');
    fails('10.20.0.0/16 via 192.0.2.1 weight 0', /weight must be an integer 1\.\.256, got '0'/, 'argument 5');
    fails('10.20.0.0/16 via 192.0.2.1 weight heavy', /weight must be an integer/);
    fails('10.20.0.0/16 weight 2', /'weight' belongs to a nexthop/);
    fails('10.20.0.0/16 via 192.0.2.1 dev a dev b', /a nexthop has one 'dev'/);
    fails('10.20.0.0/16 via 192.0.2.1 mtu 1400', /unexpected 'mtu'/, 'argument 4');
    fails('10.20.0.0/16 via 2001:db8::1', /gateway 2001:db8::1 is IPv6 but 10\.20\.0\.0\/16 is IPv4/);
    fails('10.20.1.0/16 via 192.0.2.1', /host bits set beyond \/16/, 'argument 1');
    fails('10.20.0.0/33 via 192.0.2.1', /invalid prefix length/);
  });
});

describe('route syntax: a file of routes', () => {
  it('keeps plain IPv4 lines as arrays, one template per distinct nexthop text', () => {
    const text =
      '# upstreams\n10.1.0.0/16 via 192.0.2.1\n10.2.0.0/16 via 192.0.2.1\r\n\n10.3.0.0/24 via 192.0.2.2 metric 5 # backup\n2001:db8::/32 via 2001:db8::1\nblackhole 203.0.113.0/24\n';
    const { batch, errors } = parseRouteFile(text, 'routes.txt');
    assert.deepEqual(errors, []);
    assert.equal(batch.v4.count, 3);
    const v4 = Array.from({ length: batch.v4.count }, (_, i) => ({
      prefix: `${formatIpv4(batch.v4.addr[i]!)}/${batch.v4.plen[i]}`,
      template: batch.v4.template[i],
      line: batch.v4.line[i],
    }));
    assert.deepEqual(v4, [
      { prefix: '10.1.0.0/16', template: 0, line: 2 },
      { prefix: '10.2.0.0/16', template: 0, line: 3 },
      { prefix: '10.3.0.0/24', template: 1, line: 5 },
    ]);
    assert.equal(batch.v6.count, 1);
    assert.deepEqual(
      [formatPrefix({ family: 6, addr: batch.v6.addr.subarray(0, 16), plen: batch.v6.plen[0]! }), batch.v6.template[0], batch.v6.line[0]],
      ['2001:db8::/32', 2, 6],
    );
    assert.deepEqual(
      batch.templates.map((t) => [t.family, t.nexthops, t.metric]),
      [
        [4, [{ via: '192.0.2.1' }], 0],
        [4, [{ via: '192.0.2.2' }], 5],
        [6, [{ via: '2001:db8::1' }], 0],
      ],
    );
    assert.deepEqual(
      batch.others.map((r) => [formatPrefix(r.prefix), r.type]),
      [['203.0.113.0/24', 'blackhole']],
    );
  });

  it('scans IPv6 prefixes in place as the general parser reads them, and leaves it the rest', () => {
    const cases = [
      '2001:db8::/32',
      '::/0',
      '2001:db8:1:2:3:4:5:6/128',
      '2001:db8::1/128',
      'fe80::/10',
      '2001:DB8:ABCD::/48',
      '1::/16',
      '2001:0db8:0000:0000:0000:0000:0000:0000/32',
      '::1:2/127',
    ];
    const text = cases.map((p) => `${p} via 2001:db8::9`).join('\n');
    const { batch, errors } = parseRouteFile(text, 'v6.txt');
    assert.deepEqual(errors, []);
    assert.equal(batch.v6.count, cases.length);
    cases.forEach((p, i) => {
      assert.equal(
        formatPrefix({ family: 6, addr: batch.v6.addr.subarray(16 * i, 16 * i + 16), plen: batch.v6.plen[i]! }),
        formatPrefix(parsePrefix(p)),
        p,
      );
    });
    // Left to the general parser: an embedded IPv4 address (read there), and lines it refuses
    // with their reasons (host bits set, a length past 128, ':::', nine groups).
    const rest = parseRouteFile(
      '::ffff:192.0.2.0/120 via 2001:db8::9\n2001:db8::1/64 via 2001:db8::9\n2001:db8::/129\n2001:::/32\n1:2:3:4:5:6:7:8:9/128\n',
      'r.txt',
    );
    assert.equal(rest.batch.v6.count, 0);
    assert.deepEqual(
      rest.batch.others.map((r) => formatPrefix(r.prefix)),
      [formatPrefix(parsePrefix('::ffff:192.0.2.0/120'))],
    );
    assert.deepEqual(
      rest.errors.map((e) => e.where),
      ['r.txt:2:1', 'r.txt:3:1', 'r.txt:4:1', 'r.txt:5:1'],
    );
  });

  it('collects every bad line with file:line:column, and no more than 100', () => {
    const { errors } = parseRouteFile('10.1.0.0/16 via 192.0.2.1\n10.2.0.0/16 vai 192.0.2.1\n  10.3.1.0/16 via 192.0.2.1\n', 'r.txt');
    assert.deepEqual(
      errors.map((e) => [e.where, e.message]),
      [
        ['r.txt:2:13', "unexpected 'vai'"],
        ['r.txt:3:3', "'10.3.1.0/16' has host bits set beyond /16"],
      ],
    );
    const many = parseRouteFile(Array.from({ length: 500 }, () => 'x').join('\n'), 'many.txt');
    assert.equal(many.errors.length, 100);
  });
});
