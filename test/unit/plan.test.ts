/**
 * The diff between running and desired state: minimal changes, in the order that never
 * exposes a mixed state (limiters before the rules that use them, routes added before old ones
 * go, interfaces detached last), rule ids kept for unchanged rules, nothing for equal states.
 */
import { confinedFiles } from '../../src/control/config/files.js';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { parseConfig } from '../../src/control/config/load.js';
import { compileDesired, formatChange, planChanges, summarize, type RunningState } from '../../src/control/plan.js';
import { DEFAULT_SETTINGS } from '../../src/dataplane/pipeline.js';
import { routeText, type RouteSpec, type RouteView } from '../../src/routing/route.js';
import { PwError } from '../../src/errors.js';
import { code4OfText } from '../../src/filter/blocklist.js';
import { formatPrefix } from '../../src/util/ip.js';

// Gateways resolve to interfaces by a fixed table here: the diff's logic, not the kernel's.
const DEV: Record<string, string> = { '10.0.1.2': 'eth1', '10.0.2.2': 'eth2' };
const describeRoute = (spec: RouteSpec) =>
  routeText(
    spec.type,
    spec.nexthops.map((n) => ({ via: n.via ?? null, dev: n.dev ?? DEV[n.via!]!, weight: n.weight ?? 1 })),
    spec.metric,
  );
const plan = { describeRoute };
const desiredOf = (yaml: string) =>
  compileDesired(parseConfig(yaml, 'test.yaml'), { files: confinedFiles('.'), now: Date.now(), blockedSince: new Map(), hostRoutes: [] });

/** Blocklist entries in force, walked as the data plane's are; `walks` counts the walks. */
function runningBlocks(prefixes: string[]) {
  const blocks = {
    walks: 0,
    forEach: (visit: (key: number | string, expiresInMs: number | null) => void) => {
      blocks.walks++;
      for (const p of prefixes) visit(code4OfText(p) ?? p, null);
    },
  };
  return blocks;
}

function runningFrom(yaml: string): RunningState {
  const d = desiredOf(yaml);
  let id = 1;
  const routes = new Map<string, RouteView>();
  for (const [k, { spec }] of d.routing) {
    routes.set(k, {
      prefix: formatPrefix(spec.prefix),
      family: spec.prefix.family,
      type: spec.type,
      metric: spec.metric,
      origin: 'user',
      id: id++,
      nexthops: spec.nexthops.map((n) => ({ via: n.via ?? null, dev: n.dev ?? DEV[n.via!]!, ifindex: 0, weight: n.weight ?? 1 })),
    });
  }
  return {
    pipeline: d.pipeline,
    interfaces: new Map([...d.interfaces].map(([n, m]) => [n, m === 'auto' ? 'native' : m])),
    routing: { owned: routes, importedAt: () => undefined },
    filter: {
      limiters: new Map([...d.filter.limiters].map(([n, l], i) => [n, { ...l, id: i + 1 }])),
      rules: d.filter.rules.map((r, i) => ({ ...r, id: 100 + i })),
      blocks: runningBlocks([...d.filter.blocks.keys()]),
    },
    services: new Map(d.services),
    insight: d.insight,
    http: d.http,
  };
}

const BASE = `
interfaces: [{ name: eth1 }, { name: eth2 }]
routes:
  - { prefix: 10.1.0.0/16, via: [{ gateway: 10.0.1.2 }] }
  - { prefix: 10.2.0.0/16, via: [{ gateway: 10.0.2.2 }] }
ratelimits:
  slow: { rate: 10 }
rules:
  - { action: drop, proto: udp, dport: 7777 }
  - { action: ratelimit, limiter: slow, proto: tcp, dport: 22 }
blocklists: [{ prefixes: [192.0.2.0/24] }]
`;

describe('planChanges', () => {
  it('finds nothing to do when running equals desired', () => {
    assert.deepEqual(planChanges(runningFrom(BASE), desiredOf(BASE), plan), []);
  });

  it('orders a mixed change safely and minimally', () => {
    const next = `
interfaces: [{ name: eth1 }, { name: eth3 }]
routes:
  - { prefix: 10.1.0.0/16, via: [{ gateway: 10.0.1.2, weight: 2 }, { gateway: 10.0.2.2 }] }
  - { prefix: 10.3.0.0/16, type: blackhole }
ratelimits:
  fast: { rate: 1000 }
rules:
  - { action: drop, proto: udp, dport: 7777 }
  - { action: ratelimit, limiter: fast, proto: tcp, dport: 22 }
blocklists: [{ prefixes: [198.51.100.0/24] }]
`;
    const changes = planChanges(runningFrom(BASE), desiredOf(next), plan);
    assert.deepEqual(
      changes.map((c) => formatChange(summarize(c)).split(' ').slice(0, 3).join(' ')),
      [
        '+ interface eth3',
        '+ limiter fast',
        '~ rules 2',
        '- limiter slow',
        '~ route 10.1.0.0/16:',
        '+ route 10.3.0.0/16',
        '- route 10.2.0.0/16',
        '+ block 198.51.100.0/24',
        '- block 192.0.2.0/24',
        '- interface eth2',
      ],
    );
    const rules = changes.find((c) => c.kind === 'rules');
    assert.ok(rules && rules.kind === 'rules');
    assert.equal(rules.after[0]!.id, 100, 'an unchanged rule keeps its id (and its counters)');
    assert.equal(rules.after[1]!.id, undefined, 'a changed rule gets a new id');
  });

  it('sees a changed nexthop weight or metric, and a settings change first', () => {
    const next = BASE.replace('{ gateway: 10.0.2.2 }', '{ gateway: 10.0.2.2, weight: 3 }') + 'pipeline: { dropMalformed: true }\n';
    const changes = planChanges(runningFrom(BASE), desiredOf(next), plan);
    assert.deepEqual(
      changes.map((c) => c.kind),
      ['settings', 'route'],
    );
    assert.equal(summarize(changes[1]!).after, 'via 10.0.2.2 dev eth2 weight 3');
    assert.equal(DEFAULT_SETTINGS.dropMalformed, false);
  });

  it('takes a blocklist file of a million prefixes (spread into push() it overflowed the call stack), the same text compiled once, compared in one walk', () => {
    const lines = Array.from({ length: 1 << 20 }, (_, i) => `${64 + ((i >> 16) & 63)}.${(i >> 8) & 255}.${i & 255}.0/24`);
    const text = `# a big list\n${lines.join('\n')}\n`;
    let reads = 0;
    const ctx = {
      files: (ref: string) => {
        assert.equal(ref, 'big.txt');
        reads++;
        return text;
      },
      now: Date.now(),
      blockedSince: new Map<string, number>(),
      hostRoutes: [],
    };
    const others = runningFrom(''); // first: compiling another config ends the reuse below
    // As many IPv4 prefixes as the pipeline holds, and one IPv6.
    const cfg = parseConfig("blocklists: [{ file: big.txt }, { prefixes: [64.0.0.0/24, '2001:db8::/32'] }]", 't');
    const first = compileDesired(cfg, ctx).filter.blocks;
    assert.equal(first.size, (1 << 20) + 1, 'every prefix of the file, and the one of the list not in it');
    assert.deepEqual(first.get('79.255.255.0/24'), { expiresAt: null });
    assert.ok(first.has('2001:db8::/32'));
    const again = compileDesired(cfg, ctx).filter.blocks;
    assert.equal(reads, 2, 'the file is read at each compile');
    assert.ok(again === first, 'and what it compiles to reused while it reads the same');

    // The diff against a million entries in force: one walk, nothing to do when they match;
    // one entry gone and one more listed are each found.
    const base = { ...others, filter: { limiters: new Map(), rules: [], blocks: runningBlocks([...first.keys()]) } };
    assert.deepEqual(planChanges(base, compileDesired(cfg, ctx), plan), []);
    assert.equal(base.filter.blocks.walks, 1);
    const drifted = [...first.keys()].filter((k) => k !== '79.255.255.0/24' && k !== '2001:db8::/32');
    drifted.push('203.0.113.0/24', '2001:db8:bad::/48');
    drifted.reverse(); // what runs may come in any order
    const fix = planChanges({ ...base, filter: { ...base.filter, blocks: runningBlocks(drifted) } }, compileDesired(cfg, ctx), plan);
    assert.deepEqual(
      fix.map((c) => formatChange(summarize(c))),
      ['+ block 79.255.255.0/24 no expiry', '+ block 2001:db8::/32 no expiry', '- block 2001:db8:bad::/48', '- block 203.0.113.0/24'],
    );

    // A list changed, or the file's text: compiled anew.
    // (one more IPv4 prefix than the pipeline holds: refused, before anything is applied)
    const more = parseConfig('blocklists: [{ file: big.txt }, { prefixes: [64.0.0.0/24, 192.0.2.0/24] }]', 't');
    assert.throws(
      () => compileDesired(more, ctx),
      (e: PwError) =>
        e.code === 'PW_ERR_FULL' &&
        e.where === 'blocklists' &&
        /1,048,577 IPv4 prefixes in force; the pipeline holds at most 1,048,576/.test(e.message),
    );
    const edited = { ...ctx, files: () => text.replace('\n64.0.5.0/24\n', '\n') };
    const fewer = compileDesired(cfg, edited).filter.blocks;
    assert.ok(!fewer.has('64.0.5.0/24') && fewer.size === 1 << 20, 'a line gone from the file is gone from the plan');
  });

  it('leaves expired blocks out of the desired state', () => {
    const d = compileDesired(
      parseConfig(
        "blocklists: [{ prefixes: [192.0.2.0/24], ttl: 10m }, { prefixes: [198.51.100.0/24], until: '2020-01-01T00:00:00Z' }]",
        't',
      ),
      {
        files: confinedFiles('.'),
        now: Date.now(),
        blockedSince: new Map([['192.0.2.0/24', Date.now() - 11 * 60_000]]),
        hostRoutes: [],
      },
    );
    assert.equal(d.filter.blocks.size, 0);
  });
});
