/**
 * Load balancing's models: the weighted Maglev table (shares, disruption on a change,
 * determinism), the service and backend syntax, and the plan that turns a config's services
 * into data-plane changes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { parseConfig } from '../../src/control/config/load.js';
import { PwError } from '../../src/errors.js';
import { configServiceOf } from '../../src/control/config/forms.js';
import { servicesReconciler, serviceText } from '../../src/control/reconcilers/services.js';
import { maglevFill } from '../../src/kernel/scan.js';
import { isPrime, maglevTable, maglevWalk, type MaglevBackend } from '../../src/lb/maglev.js';
import { checkService, formatBackend, parseBackend, parseServiceAddress, serviceKey, type ServiceSpec } from '../../src/lb/service.js';
import { parseAddress } from '../../src/util/ip.js';

const backends = (n: number, weight = (_i: number) => 1): MaglevBackend[] =>
  Array.from({ length: n }, (_, i) => ({ name: `10.0.${i >> 8}.${i & 255}:80`, id: i + 1, weight: weight(i) }));

function shares(table: Uint32Array): Map<number, number> {
  const out = new Map<number, number>();
  for (const id of table) out.set(id, (out.get(id) ?? 0) + 1 / table.length);
  return out;
}

describe('Maglev table', () => {
  it('gives each backend its weight’s share of the slots', () => {
    const t = maglevTable(
      backends(3, (i) => (i === 2 ? 2 : 1)),
      65537,
    );
    const s = shares(t);
    assert.ok(Math.abs(s.get(1)! - 0.25) < 0.001 && Math.abs(s.get(2)! - 0.25) < 0.001, JSON.stringify([...s]));
    assert.ok(Math.abs(s.get(3)! - 0.5) < 0.001);
    assert.equal(s.get(0), undefined, 'every slot filled');
  });

  it('moves about 1/N of the slots when one of N backends goes, and keeps the others where they were', () => {
    for (const n of [10, 100]) {
      const before = maglevTable(backends(n), 65537);
      const after = maglevTable(backends(n).slice(1), 65537);
      let moved = 0;
      let movedOthers = 0;
      for (let i = 0; i < before.length; i++) {
        if (before[i] === after[i]) continue;
        moved++;
        if (before[i] !== 1) movedOthers++;
      }
      assert.ok(moved / before.length <= 1 / n + 0.01, `${n} backends: ${((moved / before.length) * 100).toFixed(2)} % of slots moved`);
      assert.ok(movedOthers / before.length <= 0.01, `${n} backends: ${movedOthers} slots of remaining backends moved`);
    }
  });

  it('is the same table whatever the order of the backends; a weight of 0 takes no slot; no backend leaves it empty', () => {
    const b = backends(7);
    assert.deepEqual(maglevTable(b, 1009), maglevTable([...b].reverse(), 1009));
    const drained = maglevTable(
      b.map((x) => (x.id === 3 ? { ...x, weight: 0 } : x)),
      1009,
    );
    assert.equal(shares(drained).get(3), undefined);
    assert.ok(maglevTable([], 1009).every((x) => x === 0));
  });

  it('is the table of the definition: each backend in turn takes the next free slot of its walk', () => {
    // The paper's loop, one probe at a time (the addon computes the last slots another way, and
    // keeps fewer of them when there are many backends: sizes and counts reach both).
    const definition = (list: readonly MaglevBackend[], size: number): Uint32Array => {
      const live = list.filter((b) => b.weight > 0).sort((a, b) => (a.name < b.name ? -1 : 1));
      const table = new Uint32Array(size);
      if (!live.length) return table;
      const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);
      const g = live.reduce((acc, b) => gcd(acc, b.weight), 0);
      const walks = live.map((b) => maglevWalk(b.name, size));
      const next = live.map(() => 0);
      const taken = new Uint8Array(size);
      let filled = 0;
      while (filled < size) {
        for (let i = 0; i < live.length && filled < size; i++) {
          for (let t = live[i]!.weight / g; t > 0 && filled < size; t--) {
            let slot: number;
            do slot = (walks[i]!.offset + next[i]!++ * walks[i]!.skip) % size;
            while (taken[slot]);
            taken[slot] = 1;
            table[slot] = live[i]!.id;
            filled++;
          }
        }
      }
      return table;
    };
    let seed = 7;
    const random = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
    const cases: [n: number, size: number, maxWeight: number][] = [
      [1, 7, 1],
      [2, 7, 3],
      [3, 11, 5],
      [50, 1009, 4],
      [252, 1009, 1],
      [100, 65537, 1],
      [7, 65537, 10],
      [2000, 65537, 3],
      [16000, 65537, 1],
      [3, 1048573, 2],
    ];
    for (const [n, size, maxWeight] of cases) {
      const list = backends(n, () => 1 + random(maxWeight)).map((b) => ({ ...b, name: `${b.name}#${random(1000)}` }));
      if (n > 2) list[random(n)]!.weight = 0;
      const got = maglevTable(list, size);
      const want = definition(list, size);
      let differ = 0;
      for (let k = 0; k < size; k++) if (got[k] !== want[k]) differ++;
      assert.equal(differ, 0, `${n} backends, ${size} slots: ${differ} slots differ from the definition`);
    }
  });

  it('refuses walks that would not visit every slot, and arguments that do not match', () => {
    const one = (v: number) => Uint32Array.of(v);
    assert.throws(() => maglevFill(new Uint32Array(12), one(0), one(4), one(1), one(1)), /coprime/);
    assert.throws(() => maglevFill(new Uint32Array(11), one(0), one(0), one(1), one(1)), /coprime/);
    assert.throws(() => maglevFill(new Uint32Array(11), one(11), one(3), one(1), one(1)), /past the table/);
    assert.throws(() => maglevFill(new Uint32Array(11), one(0), one(3), one(0), one(1)), /at least 1/);
    assert.throws(() => maglevFill(new Uint32Array(11), one(0), Uint32Array.of(3, 4), one(1), one(1)), /one entry per backend/);
    assert.throws(
      () => maglevFill(new Uint32Array(11), new Uint32Array(0), new Uint32Array(0), new Uint32Array(0), new Uint32Array(0)),
      /needs backends/,
    );
    const table = new Uint32Array(12);
    maglevFill(table, Uint32Array.of(0, 1), Uint32Array.of(5, 7), Uint32Array.of(1, 1), Uint32Array.of(1, 2));
    assert.deepEqual([...table].sort(), [1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2], 'a size coprime with every skip needs no prime');
  });

  it('takes only a prime size', () => {
    assert.throws(() => maglevTable(backends(2), 65536), /must be a prime/);
    assert.ok(isPrime(65537) && isPrime(2) && !isPrime(1) && !isPrime(65535));
  });
});

describe('service syntax', () => {
  it('reads service addresses and backends, IPv4 and IPv6, and writes them back', () => {
    const a = parseServiceAddress('10.1.2.3:443/tcp', 'x');
    assert.equal(serviceKey({ ...a }), '10.1.2.3:443/tcp');
    assert.equal(serviceKey(parseServiceAddress('[fd00::1]:53/UDP', 'x')), '[fd00::1]:53/udp');
    assert.equal(serviceKey(parseServiceAddress('10.1.2.3:*/udp', 'x')), '10.1.2.3:*/udp', 'every port');
    assert.equal(serviceKey(parseServiceAddress('10.1.2.3:80', 'x')), '10.1.2.3:80/tcp', 'tcp by default');
    assert.equal(formatBackend(parseBackend('10.0.0.1:8080@3', 'x')), '10.0.0.1:8080@3');
    assert.equal(formatBackend(parseBackend('[fd00::2]:80', 'x')), '[fd00::2]:80');
    assert.equal(formatBackend(parseBackend('fd00::2', 'x')), 'fd00::2');
    assert.equal(parseBackend('10.0.0.1:80@0', 'x').weight, 0);
  });

  it('refuses what cannot be balanced, naming where', () => {
    assert.throws(
      () => parseBackend('10.0.0.1:70000', 'backends[1]'),
      (e: any) => /not a port/.test(e.message) && e.where === 'backends[1]',
    );
    assert.throws(() => parseBackend('10.0.0.1:80@-1', 'b'), /not a backend weight/);
    assert.throws(() => parseServiceAddress('nowhere:80/tcp', 'address'), /not an IPv4 or IPv6 address/);
    assert.throws(
      () => parseServiceAddress('10.1.2.3:80/sctp', 'address'),
      (e: any) =>
        /'sctp' in '10.1.2.3:80\/sctp' is not a protocol Pathwise balances \(tcp or udp\)/.test(e.message) && e.where === 'address',
    );
    assert.throws(() => parseServiceAddress('10.1.2.3:80/', 'address'), /'' in '10.1.2.3:80\/' is not a protocol/);
    // A line break in the text (a quoted argument, an API body) is refused as the address it
    // spoils, not met with a TypeError (found by mutating arguments).
    assert.throws(
      () => parseServiceAddress('10.1.2.3\n:80/tcp', 'address'),
      (e: any) => e instanceof PwError && e.where === 'address',
    );
    const spec = (o: Partial<ServiceSpec>): ServiceSpec => ({
      name: 'web',
      ...parseServiceAddress('10.1.2.3:80/tcp', 'a'),
      mode: 'nat',
      hash: 'five-tuple',
      tableSize: 65537,
      backends: [parseBackend('10.0.0.1:8080', 'b')],
      ...o,
    });
    assert.throws(
      () => checkService(spec({ backends: [parseBackend('[fd00::1]:80', 'b')] }), 'services.web'),
      /is IPv6, the service address IPv4/,
    );
    assert.throws(
      () => checkService(spec({ tableSize: 1000 }), 'services.web'),
      (e: any) => e.where === 'services.web.tableSize',
    );
    assert.throws(() => checkService(spec({ mode: 'dsr' }), 'services.web'), /in DSR mode a backend answers on the service's own port/);
    assert.throws(
      () => checkService(spec({ backends: [parseBackend('10.0.0.1:8080', 'b'), parseBackend('10.0.0.1:8080@2', 'b')] }), 's'),
      /listed twice/,
    );
    // Addresses no packet of a service can carry: the kernel drops them as martians.
    const at = (text: string) => ({ ...parseServiceAddress(text, 'a') });
    for (const [vip, kind] of [
      ['0.0.0.0:80/tcp', 'the unspecified address'],
      ['0.1.2.3:80/tcp', "in 0.0.0.0/8 ('this network')"],
      ['127.0.0.1:80/tcp', 'a loopback address'],
      ['224.0.0.1:80/tcp', 'a multicast address'],
      ['255.255.255.255:80/tcp', 'the broadcast address'],
    ] as const)
      assert.throws(
        () => checkService(spec(at(vip)), 'services.web'),
        (e: any) => e.message === `the service address ${vip.split(':')[0]} is ${kind}` && e.where === 'services.web.address',
      );
    for (const vip of ['[::]:80/tcp', '[::1]:80/tcp', '[ff02::1]:80/tcp'])
      assert.throws(
        () => checkService(spec({ ...at(vip), backends: [parseBackend('[fd00::1]:80', 'b')] }), 's'),
        /the service address .* is (the unspecified|a loopback|a multicast) address/,
      );
    assert.throws(
      () => checkService(spec({ backends: [parseBackend('10.0.0.1:8080', 'b'), parseBackend('224.0.0.5:80', 'b')] }), 'services.web'),
      (e: any) => e.message === 'backend 224.0.0.5:80 is a multicast address' && e.where === 'services.web.backends[1]',
    );
    assert.throws(
      () => checkService(spec({ backends: [parseBackend('127.0.0.1:80', 'b')] }), 's'),
      /backend 127.0.0.1:80 is a loopback address/,
    );
    assert.throws(
      () => checkService(spec({ backends: [parseBackend('10.1.2.3:8080', 'b')] }), 's'),
      /backend 10.1.2.3:8080 is the service address itself/,
    );
    assert.throws(
      () => checkService(spec({ snat: parseAddress('0.0.0.0') }), 'services.web'),
      (e: any) => /the snat address 0.0.0.0 is the unspecified address/.test(e.message) && e.where === 'services.web.snat',
    );
    // An ordinary service passes, with a link-local or 240/4 address too (the kernel routes both).
    assert.equal(checkService(spec({}), 's').name, 'web');
    assert.equal(checkService(spec({ ...at('169.254.1.1:80/tcp'), snat: parseAddress('240.0.0.1') }), 's').name, 'web');
  });
});

describe('services plan', () => {
  const compile = (yaml: string) => servicesReconciler.desired(parseConfig(yaml, 'test.yaml'), undefined as never);

  it('adds, changes and deletes services by name; nothing when they are the same', () => {
    const one = compile('services: { web: { address: 10.1.2.3:80/tcp, backends: [10.0.0.1:8080, 10.0.0.2:8080@2] } }');
    assert.equal(serviceText(one.get('web')!), '10.1.2.3:80/tcp nat hash five-tuple table 65537 backends 10.0.0.1:8080,10.0.0.2:8080@2');
    assert.deepEqual(servicesReconciler.plan(one, one, undefined as never), []);
    const changed = compile('services: { web: { address: 10.1.2.3:80/tcp, backends: [10.0.0.1:8080@0, 10.0.0.2:8080@2] } }');
    assert.deepEqual(
      servicesReconciler.plan(one, changed, undefined as never).map((c) => [c.op, c.name]),
      [['update', 'web']],
    );
    const moved = compile('services: { api: { address: 10.1.2.3:80/tcp, mode: dsr, backends: [10.0.0.1, 10.0.0.2] } }');
    assert.deepEqual(
      servicesReconciler.plan(one, moved, undefined as never).map((c) => [c.op, c.name]),
      [
        ['delete', 'web'],
        ['add', 'api'],
      ],
      'the old service goes first: its address is free for the new one',
    );
  });

  it('refuses two services on one address, naming the second and the first', () => {
    assert.throws(
      () =>
        compile(
          'services:\n  web: { address: 10.1.2.3:80/tcp, backends: [10.0.0.1:8080] }\n  api: { address: 10.1.2.3:80, backends: [10.0.0.2:8080] }\n',
        ),
      /test\.yaml:3:\d+: services\.api\.address: service 'web' has 10\.1\.2\.3:80\/tcp too/,
    );
    assert.doesNotThrow(() =>
      compile(
        'services:\n  web: { address: 10.1.2.3:80/tcp, backends: [10.0.0.1:8080] }\n  dns: { address: 10.1.2.3:80/udp, backends: [10.0.0.2:53] }\n',
      ),
    );
  });

  it('gives up every address before it takes one: services that swap addresses, or move to where another was', () => {
    const before = compile(
      'services: { web: { address: 10.1.2.3:80/tcp, backends: [10.0.0.1:8080] }, api: { address: 10.1.2.4:80/tcp, backends: [10.0.0.2:8080] } }',
    );
    const swapped = compile(
      'services: { web: { address: 10.1.2.4:80/tcp, backends: [10.0.0.1:8080] }, api: { address: 10.1.2.3:80/tcp, backends: [10.0.0.2:8080] } }',
    );
    const plan = (a: typeof before, b: typeof before) => servicesReconciler.plan(a, b, undefined as never).map((c) => [c.op, c.name]);
    assert.deepEqual(plan(before, swapped), [
      ['delete', 'web'],
      ['delete', 'api'],
      ['add', 'web'],
      ['add', 'api'],
    ]);
    // web moves away and a new service takes its old address, whatever order the config lists them in.
    const taken = compile(
      'services: { dns: { address: 10.1.2.3:80/tcp, backends: [10.0.0.3:8080] }, web: { address: 10.1.2.5:80/tcp, backends: [10.0.0.1:8080] }, api: { address: 10.1.2.4:80/tcp, backends: [10.0.0.2:8080] } }',
    );
    assert.deepEqual(plan(before, taken), [
      ['delete', 'web'],
      ['add', 'dns'],
      ['add', 'web'],
    ]);
  });

  it('takes a backend-down policy: a change of it updates the service; anything but keep or reset is refused', () => {
    const keep = compile('services: { web: { address: 10.1.2.3:80/tcp, backends: [10.0.0.1:8080] } }');
    const reset = compile('services: { web: { address: 10.1.2.3:80/tcp, backends: [10.0.0.1:8080], onBackendDown: reset } }');
    assert.equal(reset.get('web')!.onDown, 'reset');
    assert.equal(keep.get('web')!.onDown, undefined);
    assert.match(serviceText(reset.get('web')!), / on-down reset /);
    assert.deepEqual(
      servicesReconciler.plan(keep, reset, undefined as never).map((c) => [c.op, c.name]),
      [['update', 'web']],
    );
    assert.deepEqual(configServiceOf(reset.get('web')!).onBackendDown, 'reset');
    assert.throws(
      () => compile('services: { web: { address: 10.1.2.3:80/tcp, backends: [10.0.0.1:8080], onBackendDown: drop } }'),
      /onBackendDown/,
    );
  });

  it('refuses a config service that cannot be balanced, with its path', () => {
    assert.throws(() => compile('services: { web: { address: 10.1.2.3:80/tcp, tableSize: 65536 } }'), /services\.web\.tableSize|prime/);
    assert.throws(
      () => compile("services: { web: { address: '[fd00::1]:80/tcp', backends: [10.0.0.1:80] } }"),
      // Said when the config is read, at its place in the file (test.yaml:1:…) and with its path.
      (e: any) =>
        /is IPv4, the service address IPv6/.test(e.message) &&
        /^test\.yaml:1:\d+$/.test(e.where) &&
        e.details.problems[0].path === 'services.web.backends[0]',
    );
  });
});
