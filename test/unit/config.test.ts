/** The config loader: every kind of problem with file:line:column and path, all at once. */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { repoRoot } from '../../src/util/paths.js';
import { loadConfigFile, parseConfig, type ConfigProblem } from '../../src/control/config/load.js';
import { PwError } from '../../src/errors.js';
import { userInstance } from '../../src/util/instance.js';
import { settingsOf } from '../../src/control/reconcilers/pipeline.js';
import { DEFAULT_SETTINGS } from '../../src/dataplane/pipeline.js';

function problems(text: string): ConfigProblem[] {
  try {
    parseConfig(text, 'c.yaml');
  } catch (e) {
    assert.ok(e instanceof PwError);
    assert.equal(e.code, 'PW_ERR_INVALID');
    return (e.details as { problems: ConfigProblem[] }).problems;
  }
  assert.fail('the config was accepted');
}

describe('config', () => {
  it('accepts the examples', () => {
    for (const f of readdirSync(join(repoRoot, 'examples')).filter((f) => f.endsWith('.yaml'))) {
      const c = loadConfigFile(join(repoRoot, 'examples', f));
      assert.ok(c.instance);
    }
  });

  it('reports an alias to no anchor, aliases past the exhaustion count and a mapping as a key as problems in the file', () => {
    // Found by mutating the examples: the YAML library threw its own ReferenceError.
    assert.deepEqual(problems('instance: a\ninterfaces:\n  - { name: x, mode: *anative }\n'), [
      { where: 'c.yaml:3:22', path: '', message: 'Unresolved alias (the anchor must be set before the alias): anative' },
    ]);
    const laughs = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 10; i++)
      laughs.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${new Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(', ')}]`,
      );
    const [p] = problems(`${laughs.join('\n')}\n`);
    assert.match(p!.message, /resource exhaustion/);
    // A mapping as a key: a problem at it, where the library would warn and make it a string.
    assert.deepEqual(problems('instance: a\n{ name: x }: 1\n'), [
      { where: 'c.yaml:2:1', path: '', message: 'a key must be a plain value, not a mapping or a list' },
    ]);
  });

  it("reserves replay's private instance names", () => {
    assert.throws(() => parseConfig('instance: replay-123-4\n', 'c.yaml'), /replay's own/);
    assert.throws(() => userInstance('replay-123-4'), /reserved/);
    assert.equal(userInstance('replay-lab'), 'replay-lab');
  });

  it('refuses a TCP listener off loopback without TLS, and takes one with it', () => {
    assert.throws(() => parseConfig('api:\n  listen: [{ host: 0.0.0.0, port: 9440 }]\n', 'c.yaml'), /needs tls/);
    assert.doesNotThrow(() => parseConfig('api:\n  listen: [{ host: "::1", port: 9440 }, { host: 127.0.0.2, port: 9441 }]\n', 'c.yaml'));
    const c = parseConfig('api:\n  listen: [{ host: 10.0.0.1, port: 9440, tls: { cert: c.pem, key: k.pem } }]\n', 'c.yaml');
    assert.equal(c.api.listen[0]!.tls!.cert, 'c.pem');
  });

  it('refuses an API token no Authorization header can carry (a space, a non-ASCII character)', () => {
    const tokens = (t: string) => `api:\n  tokens: [{ name: ops, token: "${t}", role: admin }]\n`;
    assert.throws(
      () => parseConfig(tokens('0123456789abcdef 0123'), 'c.yaml'),
      /c\.yaml:2:\d+: api\.tokens\[0\]\.token: tokens are printable ASCII/,
    );
    assert.throws(() => parseConfig(tokens('0123456789abcdefé'), 'c.yaml'), /printable ASCII without spaces/);
    assert.equal(parseConfig(tokens('0123456789abcdef-_.~+/='), 'c.yaml').api.tokens[0]!.token, '0123456789abcdef-_.~+/=');
  });

  it('fills defaults and accepts JSON', () => {
    const c = parseConfig('{"routes": [{"prefix": "10.0.0.0/8", "type": "blackhole"}]}', 'c.json');
    assert.equal(c.instance, 'default');
    assert.equal(c.fib, 'own');
    assert.equal(c.routes[0]!.metric, 0);
    assert.equal(c.pipeline.flows, true);
  });

  it("loads with the data plane's own defaults, and takes table sizes within their bounds", () => {
    assert.deepEqual(settingsOf(parseConfig('{}', 'c.json')), DEFAULT_SETTINGS);
    const c = parseConfig('pipeline:\n  connections: 65536\n  flowEntries: 2048\n', 'c.yaml');
    assert.deepEqual([settingsOf(c).connections, settingsOf(c).flowEntries], [65536, 2048]);
    const at = problems('pipeline:\n  connections: 100\n  flowEntries: 33554432\n').map((p) => `${p.where} ${p.path}`);
    assert.deepEqual(at, ['c.yaml:2:16 pipeline.connections', 'c.yaml:3:16 pipeline.flowEntries']);
  });

  it("says at the service that does not fit when the services outgrow the data plane's tables", () => {
    const services = (n: number, extra = '') =>
      Array.from(
        { length: n },
        (_, i) => `  s${i}: { address: '198.18.${i >> 8}.${i & 255}:80/tcp', backends: ['10.9.${i >> 8}.${i & 255}:80']${extra} }`,
      ).join('\n');
    // 31 services of 65537 slots fit the default 4,194,304 (two tables of 65,552 each); the 32nd does not.
    assert.equal(Object.keys(parseConfig(`services:\n${services(31)}\n`, 'c.yaml').services).length, 31);
    const [full] = problems(`services:\n${services(32)}\n`);
    assert.equal(`${full!.where} ${full!.path}`, 'c.yaml:33:8 services.s31');
    assert.match(
      full!.message,
      /two Maglev tables of 65537 slots do not fit: the services before it take 4064224 of pipeline.serviceSlots \(4194304\)/,
    );
    // A larger pool takes them; smaller tables fit the default one.
    const big = parseConfig(`pipeline: { serviceSlots: 33554432 }\nservices:\n${services(255)}\n`, 'c.yaml');
    assert.equal(settingsOf(big).serviceSlots, 33554432);
    assert.equal(Object.keys(parseConfig(`services:\n${services(255, ', tableSize: 4099')}\n`, 'c.yaml').services).length, 255);
    // More services than ids, a pool not in whole elements, a table size out of bounds (said at once, not tested for a prime).
    const [many] = problems(`pipeline: { serviceSlots: 67108864 }\nservices:\n${services(256, ', tableSize: 4099')}\n`);
    assert.equal(`${many!.path}: ${many!.message}`, 'services.s255: more services than the data plane holds (255)');
    assert.deepEqual(
      problems('pipeline: { serviceSlots: 4100 }\n').map((p) => `${p.path}: ${p.message}`),
      ['pipeline.serviceSlots: a multiple of 16'],
    );
    const huge = problems(`services:\n  web: { address: '198.18.0.1:80/tcp', backends: ['10.9.0.1:80'], tableSize: 9007199254740881 }\n`);
    assert.deepEqual(
      huge.map((p) => p.path),
      ['services.web.tableSize'],
    );
    assert.match(huge[0]!.message, /1048573/);
  });

  it('points at YAML syntax errors', () => {
    const [p] = problems('routes:\n  - prefix: [10.0.0.0/8\nfib: own\n');
    assert.match(p!.where, /^c\.yaml:3:1$/);
  });

  it('reports every schema and cross-reference problem with its line, column and path', () => {
    const ps = problems(
      [
        'fib: sometimes', //                               1: bad enum
        'routes:',
        '  - prefix: 10.1.0.1/16', //                       3: host bits
        '    via: [{ gateway: 192.0.2.1 }]',
        '  - prefix: 10.2.0.0/16', //                       5
        '    nexthopGroup: nope', //                        6: unknown group
        'ratelimits:',
        '  ssh: { rate: 10, blockFor: 10x }', //            8: bad duration
        'rules:',
        '  - action: drop',
        '    proto: icmp',
        '    dport: 22', //                                 12: ports without tcp/udp
        '  - { action: ratelimit, limiter: telnet }', //    13: unknown limiter
        '  - { action: frobnicate }', //                   14: bad action
        '  - { action: drop, color: blue }', //            15: unknown key
      ].join('\n'),
    );
    const at = ps.map((p) => `${p.where.replace('c.yaml:', '')} ${p.path}`);
    assert.deepEqual(at, [
      '1:6 fib',
      '3:13 routes[0].prefix',
      '6:19 routes[1].nexthopGroup',
      '8:30 ratelimits.ssh.blockFor',
      '12:12 rules[0].dport',
      '13:35 rules[1].limiter',
      '14:15 rules[2].action',
      '15:5 rules[3]',
    ]);
    assert.match(ps.find((p) => p.path === 'routes[0].prefix')!.message, /host bits/);
    assert.match(ps.find((p) => p.path === 'rules[3]')!.message, /color/);
  });

  it('refuses a TTL, window or period that would end at once or spin, and a bad one inside a checked duration, at its place', () => {
    const group = 'nexthopGroups: { p: [{ gateway: 10.0.0.1 }, { gateway: 10.0.0.2 }] }\n';
    const zero: [string, string, string][] = [
      ['blocklists: [{ prefixes: [10.0.0.0/8], ttl: 0s }]', 'blocklists[0].ttl', 'at least 1s'],
      ['ratelimits: { l: { rate: 10, blockAfter: 5, blockFor: 0s } }', 'ratelimits.l.blockFor', 'at least 1s'],
      ['decisions: { defaultTtl: 500ms }', 'decisions.defaultTtl', 'at least 1s'],
      ['decisions: { maxTtl: 0s }', 'decisions.maxTtl', 'at least 1s'],
      ['gateway: { window: 0s }', 'gateway.window', 'at least 1s'],
      ['gateway: { ttl: 0s }', 'gateway.ttl', 'at least 1s'],
      ['gateway: { maxTtl: 0s }', 'gateway.maxTtl', 'at least 1s'],
      ['anomalies: { interval: 0s }', 'anomalies.interval', 'at least 1s'],
      ['anomalies: { detectors: { scan: { seal: { ttl: 0s } } } }', 'anomalies.detectors.scan.seal.ttl', 'at least 1s'],
      [
        'webhooks: [{ name: w, url: "http://127.0.0.1:9/", secret: 0123456789abcdef, timeout: 0s }]',
        'webhooks[0].timeout',
        'at least 100ms',
      ],
      [`${group}paths: { p: { probe: { interval: 0s } } }`, 'paths.p.probe.interval', 'at least 10ms'],
      [`${group}paths: { p: { probe: { timeout: 0s } } }`, 'paths.p.probe.timeout', 'at least 1ms, or auto'],
      [`${group}paths: { p: { damping: { halfLife: 0s } } }`, 'paths.p.damping.halfLife', 'at least 1s'],
      ['services: { w: { address: 10.1.1.1:80/tcp, health: { timeout: 5ms } } }', 'services.w.health.timeout', 'at least 10ms'],
      // Checked durations that are no duration at all: reported in the file, not thrown from a check.
      [
        'services: { w: { address: 10.1.1.1:80/tcp, health: { interval: soon } } }',
        'services.w.health.interval',
        "invalid duration 'soon'",
      ],
      ['import: { reconcile: soon }', 'import.reconcile', "invalid duration 'soon'"],
    ];
    for (const [text, path, message] of zero) {
      const ps = problems(text);
      assert.deepEqual(
        ps.map((p) => [p.path, p.message]),
        [[path, message]],
        text,
      );
      assert.match(ps[0]!.where, /^c\.yaml:\d+:\d+$/);
    }
    // What 0 means something for stays: slow start off, a switch with no hold.
    parseConfig(
      `services: { w: { address: 10.1.1.1:80/tcp, slowStart: 0s } }\n${group}paths: { p: { hysteresis: { hold: 0s } } }`,
      'c.yaml',
    );
  });

  it('checks each service whole and every gateway at its place in the file, all at once, not when the apply reaches them', () => {
    const ps = problems(
      [
        'nexthopGroups:',
        '  up: [{ gateway: 10.0.0.1 }, { gateway: "ff02::2", dev: eth0 }]', //   2: multicast gateway
        'routes:',
        '  - { prefix: 10.80.0.0/16, via: [{ gateway: 0.0.0.0, dev: eth0 }] }', // 4: unspecified
        '  - { prefix: 10.82.0.0/16, nexthopGroup: up }',
        'services:',
        '  web: { address: 10.81.0.1:80/tcp, backends: [10.0.0.1:80, 127.0.0.1:80] }', // 7
        '  v6:',
        '    address: "[2001:db8::1]:80/tcp"',
        '    backends: [10.0.0.2:80]', //                                         10: family
        '  my.svc: { address: 10.81.0.2:80/tcp, mode: dsr, snat: 10.0.0.9 }', //  11: snat in DSR
        '  fine: { address: 10.81.0.3:80/tcp, backends: [10.0.0.3:80] }',
      ].join('\n'),
    );
    assert.deepEqual(
      ps.map((p) => [p.where.replace('c.yaml:', ''), p.path, p.message]),
      [
        ['2:42', 'nexthopGroups.up[1].gateway', 'gateway ff02::2 is a multicast address'],
        ['4:46', 'routes[0].via[0].gateway', 'gateway 0.0.0.0 is the unspecified address'],
        ['7:61', 'services.web.backends[1]', 'backend 127.0.0.1:80 is a loopback address'],
        ['10:16', 'services.v6.backends[0]', 'backend 10.0.0.2:80 is IPv4, the service address IPv6'],
        ['11:57', 'services.my.svc.snat', 'snat is for NAT mode: in DSR mode the backend answers the client itself'],
      ],
    );
  });

  it('refuses what the apply would refuse or read two ways: a limiter per past /32 or /128, flags set and cleared, ttl and until, one name twice, a default TTL past the longest', () => {
    const cases: [string, string, string][] = [
      [
        'ratelimits: { l: { rate: 10, per: /99 } }',
        'ratelimits.l.per',
        "invalid per '/99': 'address', or prefix lengths like /24 or /24,/64",
      ],
      [
        'ratelimits: { l: { rate: 10, per: "/24,/200" } }',
        'ratelimits.l.per',
        "invalid per '/24,/200': 'address', or prefix lengths like /24 or /24,/64",
      ],
      [
        'rules: [{ action: drop, proto: tcp, flags: "syn,!syn" }]',
        'rules[0].flags',
        "TCP flag 'syn' is both set and cleared in 'syn,!syn'",
      ],
      ['rules: [{ action: drop, proto: tcp, flags: xmas }]', 'rules[0].flags', "unknown TCP flag 'xmas'"],
      [
        'blocklists: [{ prefixes: [10.0.0.0/8], ttl: 5m, until: "2099-01-01T00:00:00Z" }]',
        'blocklists[0].until',
        'give ttl or until, not both',
      ],
      ['interfaces: [{ name: eth0 }, { name: eth1 }, { name: eth0, mode: tc }]', 'interfaces[2].name', 'interface eth0 is listed twice'],
      [
        'webhooks: [{ name: w, url: "http://127.0.0.1:9/a", secret: 0123456789abcdef }, { name: w, url: "http://127.0.0.1:9/b", secret: 0123456789abcdef }]',
        'webhooks[1].name',
        'webhook w is listed twice',
      ],
      [
        'api: { listen: [{ host: 127.0.0.1, port: 9001 }, { host: 127.0.0.1, port: 9001 }], tokens: [{ name: a, token: 0123456789abcdefXX }] }',
        'api.listen[1].port',
        'listener 127.0.0.1:9001 is listed twice',
      ],
      [
        'decisions: { defaultTtl: 2h, maxTtl: 1h }',
        'decisions.defaultTtl',
        'longer than maxTtl: every decision that gives no ttl would be refused',
      ],
      ['decisions: { defaultTtl: soon, maxTtl: 1h }', 'decisions.defaultTtl', "invalid duration 'soon'"],
    ];
    for (const [text, path, message] of cases)
      assert.deepEqual(
        problems(text).map((p) => [p.path, p.message]),
        [[path, message]],
        text,
      );
    parseConfig('ratelimits: { l: { rate: 10, per: "/24,/48" } }\nrules: [{ action: drop, proto: tcp, flags: "syn,!ack" }]', 'c.yaml');
  });

  it('refuses a config that is not a mapping', () => {
    assert.match(problems('- a\n- b\n')[0]!.message, /mapping/);
  });

  it('names the file when it cannot be read', () => {
    assert.throws(
      () => loadConfigFile('/nonexistent/pathwise.yaml'),
      (e: PwError) => e.code === 'PW_ERR_NOT_FOUND' && /nonexistent/.test(e.message),
    );
  });
});
