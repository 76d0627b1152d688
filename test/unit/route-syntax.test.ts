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
import { rng } from '../helpers/rng.js';

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

  it('reads every line as the general parser does, whatever path the line takes', () => {
    // Lines built to sit on the edges of the native scanner's fast path: leading zeros, long
    // digit runs, host bits, lengths past the family's, '::' forms, embedded IPv4, comments
    // inside and after the prefix, spaces, tabs and CRs, bad nexthop texts shared by many lines.
    const rand = rng(7);
    const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const odd = () => rand() < 0.03; // most lines are good: errors stop at 100
    const octet = () => (odd() ? pick(['256', '010', '0001', '']) : String(Math.floor(rand() * 256)));
    const group = () =>
      odd() ? pick(['fffff', '00000', 'g']) : pick(['0', '1', 'db8', 'DB8', 'ffff', Math.floor(rand() * 65536).toString(16)]);
    const v4 = () => {
      if (odd()) return `${octet()}.${octet()}.${octet()}.${octet()}/${pick(['8', '33', '024', '1000', '', '24x'])}`;
      const plen = pick([0, 1, 8, 16, 20, 23, 24, 25, 31, 32]);
      const addr = (Math.floor(rand() * 2 ** 32) & (plen ? (0xffffffff << (32 - plen)) >>> 0 : 0)) >>> 0;
      return `${formatIpv4(addr)}/${plen}`;
    };
    const v6 = () =>
      odd()
        ? pick([
            () => `${group()}:${group()}::/129`,
            () => `${Array.from({ length: pick([7, 9]) }, group).join(':')}/128`,
            () => `${group()}:::${group()}/64`,
            () => `${group()}::${group()}:/64`,
          ])()
        : pick([
            () => `${group()}:${group()}::/${pick(['32', '48'])}`,
            () => `::${group()}/128`,
            () => `${Array.from({ length: 8 }, group).join(':')}/128`,
            () => `::ffff:${octet()}.${octet()}.0.0/112`,
            () => '::/0',
          ])();
    const hop = () =>
      odd()
        ? pick(['vai 192.0.2.1', 'via 192.0.2.1 metric x', '', 'via', 'via 2001:db8::1'])
        : pick(['via 192.0.2.1', 'via 192.0.2.1 metric 5', 'dev eth0', 'via 192.0.2.1 weight 2 via 192.0.2.2', 'via 198.51.100.7']);
    const hop6 = () => (odd() ? hop() : pick(['via 2001:db8::1', 'dev eth0', 'via 192.0.2.1']));
    const space = () => pick(['', ' ', '  ', '\t', ' \t']);
    const line = () =>
      pick([
        () => `${space()}${v4()}${space() || ' '}${hop()}${space()}`,
        () => `${space()}${v6()} ${hop6()}`,
        () => `${v4()} ${hop()} # ${v4()}`,
        () => (odd() ? `${v4()}#${hop()}` : `${v4()} ${hop()}#`),
        () => `# ${v4()} ${hop()}`,
        () => `${pick(['blackhole', 'local', 'kernel'])} ${v4()}`,
        () => `default ${hop()}`,
        () => space(),
        () => `${v4()} ${hop()}\r`,
      ])();
    const lines = Array.from({ length: 3000 }, line);
    const { batch, errors } = parseRouteFile(lines.join('\n'), 'f.txt');

    // What each line says, line by line, as the general parser reads it alone.
    const expected: string[] = [];
    const expectedErrors: string[] = [];
    lines.forEach((l, n) => {
      const text = l.split('#')[0]!;
      if (!text.trim()) return;
      const tokens = text.trim().split(/\s+/);
      const cols = tokens.map(
        ((from) => (t: string) => {
          const c = text.indexOf(t, from);
          from = c + t.length;
          return c + 1;
        })(0),
      );
      try {
        const r = parseRouteTokens(tokens, (i) => `f.txt:${n + 1}:${cols[Math.min(i, cols.length - 1)] ?? 1}`);
        expected.push(`${n + 1} ${formatPrefix(r.prefix)} ${r.type} ${JSON.stringify(r.nexthops)} ${r.metric}`);
      } catch (e) {
        expectedErrors.push(`${(e as PwError).where} ${(e as PwError).message}`);
      }
    });

    const got: string[] = [];
    for (let i = 0; i < batch.v4.count; i++) {
      const t = batch.templates[batch.v4.template[i]!]!;
      got.push(
        `${batch.v4.line[i]} ${formatIpv4(batch.v4.addr[i]!)}/${batch.v4.plen[i]} ${t.type} ${JSON.stringify(t.nexthops)} ${t.metric}`,
      );
    }
    for (let i = 0; i < batch.v6.count; i++) {
      const t = batch.templates[batch.v6.template[i]!]!;
      const prefix = formatPrefix({ family: 6, addr: batch.v6.addr.subarray(16 * i, 16 * i + 16), plen: batch.v6.plen[i]! });
      got.push(`${batch.v6.line[i]} ${prefix} ${t.type} ${JSON.stringify(t.nexthops)} ${t.metric}`);
    }
    for (const r of batch.others) {
      got.push(`${r.where.split(':')[1]} ${formatPrefix(r.prefix)} ${r.type} ${JSON.stringify(r.nexthops)} ${r.metric}`);
    }
    const byLine = (a: string, b: string) => Number(a.split(' ')[0]) - Number(b.split(' ')[0]);
    // Errors stop at 100: compare the lines before the 100th error only.
    assert.equal(errors.length, 100, `${expectedErrors.length} bad lines`);
    assert.deepEqual(
      errors.map((e) => `${e.where} ${e.message}`),
      expectedErrors.slice(0, 100),
    );
    const lastLine = Number(errors[99]!.where!.split(':')[1]);
    assert.ok(batch.v4.count > 500 && batch.v6.count > 50, `${batch.v4.count} IPv4 and ${batch.v6.count} IPv6 lines took the fast path`);
    assert.ok(lastLine > 1000, `the 100th error is on line ${lastLine}`);
    assert.deepEqual(
      got.sort(byLine).filter((g) => Number(g.split(' ')[0]) < lastLine),
      expected.filter((g) => Number(g.split(' ')[0]) < lastLine),
    );
  });
});
