/**
 * The guard stage in the real pipeline: the bit-vector classifier against the reference rule
 * semantics (ruleMatches) on random rules and packets, rule counters, blocklists with expiry,
 * and per-source token buckets that escalate to a block.
 */
import assert from 'node:assert/strict';
import { unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { native, XdpAction } from '../../src/kernel/index.js';
import { Dataplane } from '../../src/dataplane/dataplane.js';
import { blocklistSkipped, markEmptyBlocklists } from '../../src/dataplane/blocklist-listing.js';
import { EXACT_FROM, MAX_RULE_ID } from '../../src/dataplane/filter-tables.js';
import { pinDirOf } from '../../src/dataplane/pipeline.js';
import { ruleMatches, type RuleSpec } from '../../src/filter/rule.js';
import * as abi from '../../src/generated/pathwise.js';
import { formatPrefix, parsePrefix, type Family } from '../../src/util/ip.js';
import { ipv4, ipv4Packet, ipv6Bytes, ipv6Packet } from '../helpers/packets.js';
import { closeOwnDataplane, openOwnDataplane } from '../helpers/own-dataplane.js';
import { privilegedSkip } from '../helpers/privileged.js';
import { Topology } from '../helpers/topology.js';
import { rng } from '../helpers/rng.js';

const skip = privilegedSkip();

interface TestPacket {
  data: Buffer;
  meta: {
    family: Family;
    src: Uint8Array;
    dst: Uint8Array;
    proto: number;
    sport?: number;
    dport?: number;
    tcpFlags?: number;
    iif?: string;
  };
}

describe('the guard stage', { skip, timeout: 5 * 60_000 }, () => {
  let dp: Dataplane;
  let instance: string;
  let topo: Topology;
  const lo = () => native().ifNameToIndex('lo');

  before(async () => ({ topo, instance, dp } = await openOwnDataplane('g', { ruleBitmaps: 16384 })));
  after(() => closeOwnDataplane(topo, instance, dp));

  // Each CIDR field is read one of three ways, by how many prefixes it holds in how many
  // lengths (filter-tables.ts): the same rules' semantics must come out of each.
  type CidrWay = 'small' | 'exact' | 'trie';
  const WAY_LABEL: Record<CidrWay, string> = {
    small: 'prefixes compared one by one',
    exact: 'exact lookups per length',
    trie: 'LPM trie',
  };
  for (const lens of [
    // The pools below hold at most 15 distinct /16, /24 and /32 IPv4 prefixes, 12 IPv6 ones.
    { v4: [16, 24, 32], v6: [48, 64, 128], way: 'small' as const },
    { v4: [16, 24, 30, 32], v6: [48, 64, 112, 128], way: 'exact' as const },
    { v4: [8, 16, 20, 24, 28, 30, 32], v6: [32, 48, 56, 64, 112, 120, 128], way: 'trie' as const },
    // The rules behind 4,200 that no packet meets: in the bitmaps' second summary word.
    { v4: [16, 24, 30, 32], v6: [48, 64, 112, 128], way: 'exact' as const, behind: 4200 },
    // Prefixes shorter than the presence bitmap's blocks (IPv4 /16, IPv6 /32): each sets a
    // span of bits; an IPv6 one shorter than /16 leaves its fields without a bitmap.
    { v4: [4, 12, 24, 32], v6: [20, 28, 64, 128], way: 'exact' as const },
    { v4: [1, 8, 12, 16, 20, 24, 32], v6: [8, 20, 32, 48, 64, 120, 128], way: 'trie' as const },
    // Value fields no rule names, which the guard skips (PW_BANK_FLAG_OPEN_SHIFT).
    { v4: [16, 24, 30, 32], v6: [48, 64, 112, 128], way: 'exact' as const, open: ['sport', 'flags', 'iface'] as OpenField[] },
    { v4: [16, 24, 32], v6: [48, 64, 128], way: 'small' as const, open: ['dport', 'sport', 'flags', 'iface'] as OpenField[] },
    {
      v4: [8, 16, 20, 24, 28, 30, 32],
      v6: [32, 48, 56, 64, 112, 120, 128],
      way: 'trie' as const,
      open: ['proto', 'dport', 'sport', 'flags'] as OpenField[],
      // Rules on addresses alone: as many deciders as the address pools give (21 seen).
      deciders: 15,
    },
    // Every rule on one protocol (PW_BANK_FLAG_ONE_PROTO), and every rule naming both
    // addresses: no catch-all accepts a rule (PW_BANK_FLAG_EMPTY_ANY_SHIFT).
    { v4: [16, 24, 30, 32], v6: [48, 64, 112, 128], way: 'exact' as const, oneProto: 6, named: true },
    { v4: [16, 24, 32], v6: [48, 64, 128], way: 'small' as const, oneProto: 17, named: true, open: ['flags'] as OpenField[] },
    { v4: [8, 16, 20, 24, 28, 30, 32], v6: [32, 48, 56, 64, 112, 120, 128], way: 'trie' as const, named: true },
  ])
    it(`decides like the reference semantics on random rules and packets (CIDR fields by ${WAY_LABEL[lens.way]}${lens.behind ? `, behind ${lens.behind} rules` : ''}${lens.open ? `, no rule on ${lens.open.join(', ')}` : ''}${lens.oneProto ? `, every rule on protocol ${lens.oneProto}` : ''}${lens.named ? ', every rule naming both addresses' : ''})`, () => {
      referenceRun(lens);
    });

  type OpenField = 'proto' | 'sport' | 'dport' | 'flags' | 'iface';
  const OPEN_BIT: Record<OpenField, number> = {
    proto: abi.PwRuleField.PROTO,
    sport: abi.PwRuleField.SPORT,
    dport: abi.PwRuleField.DPORT,
    flags: abi.PwRuleField.FLAGS,
    iface: abi.PwRuleField.IFACE,
  };

  function referenceRun(lens: {
    v4: number[];
    v6: number[];
    way: CidrWay;
    behind?: number;
    open?: OpenField[];
    oneProto?: number;
    named?: boolean;
    deciders?: number;
  }) {
    const open = new Set(lens.open ?? []);
    const rand = rng(7);
    const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
    // Addresses from small pools so that rules and packets collide often.
    const v4pool = ['10.1.0.0', '10.1.2.0', '10.1.2.3', '10.200.0.9', '192.168.1.1', '172.16.5.5'];
    const v6pool = ['2001:db8::1', '2001:db8:1::5', '2001:db8:1:2::9', 'fd00::7'];
    // Packets also come from addresses near no rule's prefix (most of them in the presence
    // bitmap's clear blocks), where only the catch-all applies.
    const v4far = ['198.51.100.7', '203.0.113.9', '100.64.3.3'];
    const v6far = ['2001:db9::7', '3fff:1::9', 'fe80::5'];
    const v4prefix = () => {
      const a = pick(v4pool);
      const plen = pick(lens.v4);
      const p = parsePrefix(`${a}/32`);
      const masked = plen === 0 ? 0 : (p.v4 & ((0xffffffff << (32 - plen)) >>> 0)) >>> 0;
      return parsePrefix(`${masked >>> 24}.${(masked >>> 16) & 255}.${(masked >>> 8) & 255}.${masked & 255}/${plen}`);
    };
    const v6prefix = () => {
      const p = parsePrefix(pick(v6pool));
      const plen = pick(lens.v6);
      const addr = new Uint8Array(16);
      for (let bit = 0; bit < plen; bit++) if (p.addr[bit >> 3]! & (0x80 >> (bit & 7))) addr[bit >> 3]! |= 0x80 >> (bit & 7);
      return { family: 6 as const, addr, plen, v4: 0 };
    };
    const rules: RuleSpec[] = [];
    // Count rules no test packet meets, on one address or (lens.named: no rule in a catch-all)
    // on both, with lengths the way already has.
    const proto = lens.oneProto ? { proto: lens.oneProto } : {};
    const countOn = (src: string, dst: string): RuleSpec[] =>
      lens.named
        ? [{ action: 'count', src: parsePrefix(src), dst: parsePrefix(dst), ...proto }]
        : [
            { action: 'count', src: parsePrefix(src), ...proto },
            { action: 'count', dst: parsePrefix(dst), ...proto },
          ];
    for (let i = 0; i < (lens.behind ?? 0); i++) rules.push(countOn(`10.97.${i >> 8}.${i & 255}/32`, `10.96.${i >> 8}.${i & 255}/32`)[0]!);
    for (let i = 0; i < 400; i++) {
      // Mostly specific rules (a CIDR and a protocol), so that many different rules decide;
      // a few broad ones (no CIDR) late in the list.
      const r: RuleSpec = { action: pick(['pass', 'drop', 'drop', 'count']) };
      const fam = i > 350 && !lens.named ? pick([4, 6, 0]) : pick([4, 4, 6]);
      if (fam) {
        const which = lens.named ? 'both' : pick(['src', 'dst', 'both']);
        if (which !== 'dst') r.src = fam === 4 ? v4prefix() : v6prefix();
        if (which !== 'src') r.dst = fam === 4 ? v4prefix() : v6prefix();
      }
      if (rand() < 0.85) r.proto = pick([6, 17, 1]);
      if (lens.oneProto) r.proto = lens.oneProto;
      if ((r.proto === 6 || r.proto === 17) && rand() < 0.5) {
        const lo = Math.floor(rand() * 200) + 1;
        r.dport = rand() < 0.5 ? [lo, lo] : [lo, lo + Math.floor(rand() * 100)];
      }
      if ((r.proto === 6 || r.proto === 17) && rand() < 0.3) r.sport = [1000, 1000 + Math.floor(rand() * 60000)];
      if (r.proto === 6 && rand() < 0.3)
        r.tcpFlags = pick([
          { mask: 0x12, value: 0x02 },
          { mask: 0x10, value: 0x10 },
          { mask: 0x04, value: 0x04 },
        ]);
      if (rand() < 0.05) r.iif = 'lo';
      if (open.has('dport')) delete r.dport;
      if (open.has('sport')) delete r.sport;
      if (open.has('flags')) delete r.tcpFlags;
      if (open.has('iface')) delete r.iif;
      if (open.has('proto')) delete r.proto;
      rules.push(r);
    }
    // Enough prefixes in every CIDR field for the guard to look them up by length when their
    // lengths are few (filter-tables.ts, EXACT_FROM): count rules no test packet meets.
    for (let i = 0; lens.way !== 'small' && i < EXACT_FROM; i++) {
      rules.push(...countOn(`10.99.${i}.0/24`, `10.98.${i}.0/24`), ...countOn(`2001:db8:99:${i}::/64`, `2001:db8:98:${i}::/64`));
    }
    const applied = dp.filter.setRules(rules);
    // Which way the guard reads the CIDR fields: every field the same way.
    const bank = dp.pipeline.maps.ruleBanks.get(dp.filter.liveBank())!;
    for (let field = 0; field < 4; field++) {
      const small = !!(bank.flags & (1 << (abi.PwBankFlag.SMALL_SHIFT + field)));
      const exact = !!(bank.flags & (1 << (abi.PwBankFlag.EXACT_SHIFT + field)));
      assert.equal(small ? 'small' : exact ? 'exact' : 'trie', lens.way, `how CIDR field ${field} is read`);
      // Many prefixes: read through a presence bitmap first (src/filter/presence.ts), unless an
      // IPv6 prefix shorter than /16 spans it all.
      const present = !!(bank.flags & (1 << (abi.PwBankFlag.PRESENCE_SHIFT + field)));
      const wide = field >= abi.PwCidrField.SRC6 && lens.v6.some((l) => l < 16);
      assert.equal(present, lens.way !== 'small' && !wide, `whether CIDR field ${field} has a presence bitmap`);
    }
    for (const [name, field] of Object.entries(OPEN_BIT)) {
      const skipped = !!(bank.flags & (1 << (abi.PwBankFlag.OPEN_SHIFT + field)));
      assert.equal(skipped, open.has(name as OpenField), `whether the guard skips the ${name} field`);
    }
    assert.equal(!!(bank.flags & abi.PwBankFlag.ONE_PROTO), !!lens.oneProto, 'whether the guard compares the protocol');
    if (lens.oneProto) assert.equal(bank.proto, lens.oneProto);
    for (let field = 0; field < 4; field++) {
      const ends = !!(bank.flags & (1 << (abi.PwBankFlag.EMPTY_ANY_SHIFT + field)));
      assert.equal(ends, !!lens.named, `whether CIDR field ${field}'s catch-all is known empty`);
    }

    const packets: TestPacket[] = [];
    for (let i = 0; i < 3000; i++) {
      const v6 = rand() < 0.3;
      const proto = pick([6, 17, 17, 1]);
      const sport = 500 + Math.floor(rand() * 2000);
      const dport = Math.floor(rand() * 320);
      const flags = pick([0x02, 0x12, 0x10, 0x04, 0x18]);
      if (!v6) {
        const src = rand() < 0.15 ? pick(v4far) : pick(v4pool).replace(/\.\d+$/, `.${Math.floor(rand() * 8)}`);
        const dst = rand() < 0.15 ? pick(v4far) : pick(v4pool);
        const data = ipv4Packet({ src, dst, proto: proto === 6 ? 'tcp' : proto === 17 ? 'udp' : 'icmp', sport, dport, tcpFlags: flags });
        const sb = new Uint8Array(16);
        sb.set(ipv4(src));
        const db = new Uint8Array(16);
        db.set(ipv4(dst));
        packets.push({
          data,
          meta: {
            family: 4,
            src: sb,
            dst: db,
            proto,
            ...(proto !== 1 ? { sport, dport } : {}),
            ...(proto === 6 ? { tcpFlags: flags } : {}),
            iif: 'lo',
          },
        });
      } else {
        const p6 = proto === 1 ? 17 : proto;
        const src = rand() < 0.15 ? pick(v6far) : pick(v6pool);
        const dst = rand() < 0.15 ? pick(v6far) : pick(v6pool);
        const data = ipv6Packet({ src, dst, proto: p6 === 6 ? 'tcp' : 'udp', sport, dport, tcpFlags: flags });
        packets.push({
          data,
          meta: {
            family: 6,
            src: ipv6Bytes(src),
            dst: ipv6Bytes(dst),
            proto: p6,
            sport,
            dport,
            ...(p6 === 6 ? { tcpFlags: flags } : {}),
            iif: 'lo',
          },
        });
      }
    }
    const deciders = new Set<number>();
    const actions = new Set<string>();
    for (const p of packets) {
      const expected = applied.find((r) => r.action !== 'count' && ruleMatches(r, p.meta));
      const t = dp.trace(p.data, lo());
      assert.equal(t.rule, expected?.id ?? 0, `packet ${JSON.stringify({ ...p.meta, src: [...p.meta.src], dst: [...p.meta.dst] })}`);
      if (expected?.action === 'drop') {
        assert.equal(t.retval, XdpAction.DROP);
        assert.equal(t.reason, abi.PwReason.RULE_DROP);
      } else assert.notEqual(t.reason, abi.PwReason.RULE_DROP);
      if (expected) {
        deciders.add(expected.id);
        actions.add(expected.action);
      }
    }
    // The test is only as good as its variety: many different rules must have decided.
    assert.ok(deciders.size >= (lens.deciders ?? 30), `only ${deciders.size} distinct rules decided`);
    assert.deepEqual([...actions].sort(), ['drop', 'pass']);
  }

  it('gives rule ids round a fixed space: rule lists replaced again and again never run out of ids', () => {
    const list = (n: number): RuleSpec[] => Array.from({ length: n }, () => ({ action: 'count', proto: 17 }));
    let live = new Set<number>();
    const check = (ids: number[]) => {
      assert.ok(
        ids.every((id) => id >= 1 && id <= MAX_RULE_ID),
        'every id within the counters',
      );
      assert.equal(new Set(ids).size, ids.length, 'no id twice');
    };
    // 4 x 6,000 new rules: past the 16,383 ids, had ids only grown.
    for (let i = 0; i < 4; i++) {
      const ids = dp.filter.setRules(list(6000)).map((r) => r.id);
      check(ids);
      assert.ok(
        ids.every((id) => !live.has(id)),
        "no live rule's id given while others are free",
      );
      live = new Set(ids);
    }
    // More new rules than ids the live ones leave free: removed rules' ids are given again.
    const big = dp.filter.setRules(list(12000)).map((r) => r.id);
    check(big);
    assert.ok(big.some((id) => live.has(id)));
    // A carried id outside the space is refused, and the rules stay as they were.
    assert.throws(() => dp.filter.setRules([{ action: 'count', proto: 6, id: MAX_RULE_ID + 1 }]), /rule id 16384/);
    assert.equal(dp.filter.rules().length, 12000);
    dp.filter.setRules([]);
  });

  it('counts hits per rule and keeps counters across rule changes', () => {
    const [countUdp, dropSsh] = dp.filter.setRules([
      { action: 'count', proto: 17 },
      { action: 'drop', proto: 6, dport: [22, 22] },
    ]);
    const udp = ipv4Packet({ dst: '10.9.9.9', proto: 'udp', dport: 53 });
    const ssh = ipv4Packet({ dst: '10.9.9.9', proto: 'tcp', dport: 22 });
    const xdp = dp.pipeline.xdp;
    for (let i = 0; i < 5; i++) xdp.testRunSync({ data: udp });
    xdp.testRunSync({ data: ssh, repeat: 3 });
    let hits = dp.filter.ruleCounters();
    assert.equal(hits.get(countUdp!.id)!.packets, 5);
    assert.equal(hits.get(dropSsh!.id)!.packets, 3);
    // Inserting a rule in front keeps the others' ids and counters.
    dp.filter.addRule({ action: 'pass', proto: 1 }, 1);
    hits = dp.filter.ruleCounters();
    assert.equal(hits.get(dropSsh!.id)!.packets, 3);
    assert.equal(dp.trace(ssh).rule, dropSsh!.id);
    // Deleting the drop rule lets SSH through to routing.
    dp.filter.deleteRule(dropSsh!.id);
    assert.equal(dp.trace(ssh).rule, 0);
    assert.notEqual(dp.trace(ssh).reason, abi.PwReason.RULE_DROP);
    dp.filter.setRules([]);
  });

  it('drops blocked sources, until their block expires', async () => {
    const from = (src: string) => ipv4Packet({ src, dst: '10.9.9.9' });
    dp.filter.block([parsePrefix('203.0.113.0/24')]);
    dp.filter.block([parsePrefix('198.51.100.7')], 300);
    dp.filter.block([parsePrefix('2001:db8:bad::/48')]);
    assert.equal(dp.trace(from('203.0.113.99')).reason, abi.PwReason.BLOCKED);
    assert.equal(dp.trace(from('203.0.114.1')).reason === abi.PwReason.BLOCKED, false);
    assert.equal(dp.trace(from('198.51.100.7')).reason, abi.PwReason.BLOCKED);
    assert.equal(dp.trace(ipv6Packet({ src: '2001:db8:bad::1', dst: '2001:db8::2' })).reason, abi.PwReason.BLOCKED);
    await new Promise((r) => setTimeout(r, 400));
    assert.notEqual(dp.trace(from('198.51.100.7')).reason, abi.PwReason.BLOCKED, 'the 300 ms block expired');
    const listed = (await dp.filter.blocklist()).map((b) => b.prefix).sort();
    assert.deepEqual(listed, ['2001:db8:bad::/48', '203.0.113.0/24']);
    assert.equal(dp.filter.unblock(parsePrefix('203.0.113.0/24')), true);
    assert.notEqual(dp.trace(from('203.0.113.99')).reason, abi.PwReason.BLOCKED);
  });

  it('lists a blocklist of 200,000 prefixes in batches, the expired swept after the walk, none lost or listed twice', async (t) => {
    // IPv4 /24s and IPv6 /48s; every fifth of each with a 200 ms expiry.
    const lasting: string[] = [];
    const expiring: string[] = [];
    for (let i = 0; i < 100_000; i++) {
      const v4 = `${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}.0/24`;
      const v6 = `2001:${(0xd00 + (i >> 16)).toString(16)}:${(i & 0xffff).toString(16)}::/48`;
      (i % 5 === 4 ? expiring : lasting).push(v4, v6);
    }
    const earlier = (await dp.filter.blocklist()).map((b) => b.prefix); // what the tests before left
    let t0 = performance.now();
    dp.filter.block(lasting.map((p) => parsePrefix(p)));
    dp.filter.block(
      expiring.map((p) => parsePrefix(p)),
      200,
    );
    const wrote = performance.now() - t0;
    assert.equal(dp.trace(ipv4Packet({ src: '100.0.7.9', dst: '10.9.9.9' })).reason, abi.PwReason.BLOCKED);
    await new Promise((r) => setTimeout(r, 300));
    t0 = performance.now();
    const listed = (await dp.filter.blocklist()).map((b) => b.prefix).filter((p) => !earlier.includes(p));
    const read = performance.now() - t0;
    t.diagnostic(`200,000 prefixes written in ${wrote.toFixed(0)} ms, listed (and 40,000 expired swept) in ${read.toFixed(0)} ms`);
    assert.equal(listed.length, lasting.length, 'each lasting prefix listed once');
    assert.deepEqual(new Set(listed), new Set(lasting.map((p) => formatPrefix(parsePrefix(p)))));
    assert.equal(
      [...dp.pipeline.maps.block4.keys()].length + [...dp.pipeline.maps.block6.keys()].length,
      lasting.length + earlier.length,
      'the expired deleted',
    );
    for (const p of lasting) dp.filter.unblock(parsePrefix(p));
    assert.deepEqual(
      (await dp.filter.blocklist()).map((b) => b.prefix),
      earlier,
    );
  });

  it('rate-limits per source and escalates to a block', async () => {
    dp.filter.addLimiter({ name: `t${Date.now()}`, rate: 10, burst: 5, per4: 32, per6: 128, blockAfter: 20, blockForMs: 60_000 });
    const lim = dp.filter.limiters().at(-1)!;
    dp.filter.setRules([{ action: 'ratelimit', limiter: lim.name, proto: 17, dport: [9000, 9000] }]);
    const xdp = dp.pipeline.xdp;
    const burstOf = (src: string, n: number) => {
      let passed = 0;
      for (let i = 0; i < n; i++) {
        const r = xdp.testRunSync({ data: ipv4Packet({ src, dst: '10.9.9.9', proto: 'udp', dport: 9000 }) });
        if (r.retval !== XdpAction.DROP) passed++;
      }
      return passed;
    };
    // 5 tokens of burst (plus whatever 10/s refills during the run, at most a few).
    const a = burstOf('192.0.2.10', 15);
    assert.ok(a >= 5 && a <= 7, `${a} of 15 passed`);
    // Another source has its own bucket.
    assert.ok(burstOf('192.0.2.11', 3) === 3);
    // 20 limited packets in a row block the source: the block lands in the blocklist, with
    // its expiry and its limiter, so losing the limiter's state (LRU eviction by a flood of
    // other sources) cannot lift it.
    burstOf('192.0.2.10', 25);
    const t = dp.trace(ipv4Packet({ src: '192.0.2.10', dst: '10.9.9.9', proto: 'udp', dport: 9000 }));
    assert.equal(t.reason, abi.PwReason.BLOCKED);
    const listed = (await dp.filter.blocklist()).find((b) => b.prefix === '192.0.2.10/32');
    assert.ok(listed, 'the escalation is listed');
    assert.equal(listed.origin, 'escalation');
    assert.equal(listed.limiter, lim.name);
    assert.ok(listed.expiresInMs! > 50_000 && listed.expiresInMs! <= 60_000, `expires in ${listed.expiresInMs} ms`);
    for (const [k] of [...dp.pipeline.maps.ratelimitState.entries()]) dp.pipeline.maps.ratelimitState.delete(k);
    assert.equal(dp.trace(ipv4Packet({ src: '192.0.2.10', dst: '10.9.9.9', proto: 'udp', dport: 9000 })).reason, abi.PwReason.BLOCKED);
    assert.equal(dp.filter.unblock(parsePrefix('192.0.2.10/32')), true);
    dp.filter.setRules([]);
  });

  it('skips an empty blocklist, and looks again after every insert, an escalation made meanwhile too', async () => {
    const maps = dp.pipeline.maps;
    const skipped = (f: 4 | 6) => blocklistSkipped(maps, f);
    const fate = (src: string) => dp.trace(ipv4Packet({ src, dst: '10.9.9.9', proto: 'udp', dport: 9001 })).reason;
    for (const b of await dp.filter.blocklist()) dp.filter.unblock(parsePrefix(b.prefix));
    assert.deepEqual([skipped(4), skipped(6)], [true, true], 'both empty: skipped');
    dp.filter.block([parsePrefix('203.0.113.0/24')]);
    assert.deepEqual([skipped(4), skipped(6)], [false, true]);
    assert.equal(fate('203.0.113.9'), abi.PwReason.BLOCKED);
    dp.filter.unblock(parsePrefix('203.0.113.0/24'));
    assert.equal(skipped(4), true);
    // The pipeline's own inserts: a rate limiter's escalation makes it look again.
    dp.filter.addLimiter({ name: 'esc', rate: 1, burst: 1, per4: 32, per6: 128, blockAfter: 3, blockForMs: 60_000 });
    dp.filter.setRules([{ action: 'ratelimit', limiter: 'esc', proto: 17, dport: [9001, 9001] }]);
    const flood = (src: string) => {
      for (let i = 0; i < 10; i++) dp.pipeline.xdp.testRunSync({ data: ipv4Packet({ src, dst: '10.9.9.9', proto: 'udp', dport: 9001 }) });
    };
    flood('192.0.2.20');
    assert.equal(skipped(4), false, 'the escalation cleared the mark');
    assert.equal(fate('192.0.2.20'), abi.PwReason.BLOCKED);
    dp.filter.unblock(parsePrefix('192.0.2.20/32'));
    assert.equal(skipped(4), true);
    // One made after the control plane read the word, while it found the blocklist empty: the
    // mark is refused, and the source stays blocked.
    const marked = markEmptyBlocklists(maps, (family) => {
      if (family === 4) flood('192.0.2.21');
      return 0; // what a read made before the escalation saw
    });
    assert.deepEqual(marked, [6]);
    assert.equal(skipped(4), false);
    assert.equal(fate('192.0.2.21'), abi.PwReason.BLOCKED);
    dp.filter.unblock(parsePrefix('192.0.2.21/32'));
    dp.filter.setRules([]);
    dp.filter.deleteLimiter('esc');
    for (const [k] of [...maps.ratelimitState.entries()]) maps.ratelimitState.delete(k); // its sources' state
  });

  it("counts a limiter's sources by prefix: the source masked to /20 and /60, bit for bit", () => {
    const name = `m${Date.now() % 100000}`;
    const lim = dp.filter.addLimiter({ name, rate: 1000, burst: 1000, per4: 20, per6: 60, blockAfter: 0, blockForMs: 0 });
    dp.filter.setRules([{ action: 'ratelimit', limiter: name, proto: 17 }]);
    const state = () =>
      [...dp.pipeline.maps.ratelimitState.keys()]
        .filter((k) => k.limiter === lim.id)
        .map((k) => `${k.family} ${Buffer.from(k.addr).toString('hex')}`)
        .sort();
    // 198.51.127.200 and 198.51.112.1 share 198.51.112.0/20; 2001:db8:1:12f::1 and
    // 2001:db8:1:120::9 share 2001:db8:1:120::/60 (/60 cuts the fourth word's first byte).
    for (const src of ['198.51.127.200', '198.51.112.1'])
      dp.pipeline.xdp.testRunSync({ data: ipv4Packet({ src, dst: '10.9.9.9', proto: 'udp', dport: 53 }) });
    for (const src of ['2001:db8:1:12f::1', '2001:db8:1:120::9'])
      dp.pipeline.xdp.testRunSync({ data: ipv6Packet({ src, dst: '2001:db8::2', proto: 'udp', dport: 53 }) });
    assert.deepEqual(state(), ['4 c6337000000000000000000000000000', '6 20010db8000101200000000000000000']);
    dp.filter.setRules([]);
    dp.filter.deleteLimiter(name);
  });

  it('never blocks a source for a limiter with blockAfter 0; limits across a burst exactly', async () => {
    const name = `n${Date.now() % 100000}`;
    dp.filter.addLimiter({ name, rate: 1, burst: 3, per4: 32, per6: 128, blockAfter: 0, blockForMs: 60_000 });
    dp.filter.setRules([{ action: 'ratelimit', limiter: name, proto: 17 }]);
    const send = () =>
      dp.pipeline.xdp.testRunSync({ data: ipv4Packet({ src: '192.0.2.77', dst: '10.9.9.9', proto: 'udp', dport: 53 }) }).retval;
    const verdicts = Array.from({ length: 200 }, send);
    // 1 packet/s with a burst of 3: the first three pass, the rest of this instant's packets don't.
    assert.deepEqual(
      verdicts.slice(0, 3).map((v) => v !== XdpAction.DROP),
      [true, true, true],
    );
    assert.ok(
      verdicts.slice(3).every((v) => v === XdpAction.DROP),
      'limited after the burst',
    );
    assert.equal((await dp.filter.blocklist()).filter((b) => b.origin === 'escalation').length, 0, 'nobody was blocked');
    dp.filter.setRules([]);
    dp.filter.deleteLimiter(name);
  });

  it('follows an interface a rule names when it is recreated, and says when it is missing', () => {
    const name = topo.name('if0');
    const make = () => topo.addVeth({ name: 'if0' }, { name: 'if1' });
    const drop = (ifindex: number) =>
      dp.trace(ipv4Packet({ dst: '10.9.9.9', proto: 'udp', dport: 7 }), ifindex).reason === abi.PwReason.RULE_DROP;
    make();
    const first = native().ifNameToIndex(name);
    dp.filter.setRules([{ action: 'drop', iif: name }]);
    assert.equal(drop(first), true);
    topo.exec(undefined, 'ip', ['link', 'del', name]);
    assert.equal(dp.filter.rebindInterfaces(), true);
    assert.deepEqual(dp.filter.missingInterfaces(), [name]);
    make();
    const second = native().ifNameToIndex(name);
    assert.notEqual(second, first);
    assert.equal(drop(second), false, 'the rule still names the old ifindex');
    assert.equal(dp.filter.rebindInterfaces(), true);
    assert.equal(drop(second), true, 'after the link event, the new one');
    assert.equal(dp.filter.rebindInterfaces(), false, 'nothing to do when nothing changed');
    dp.filter.setRules([]);
  });

  it('creates no flow for a dropped packet, and counts one that passes', () => {
    dp.filter.setRules([{ action: 'drop', proto: 17, dport: [9, 9] }]);
    const flows = () => [...dp.pipeline.maps.flows.keys()].filter((k) => k.src[0] === 10 && k.src[1] === 77).length;
    const send = (dport: number) =>
      dp.pipeline.xdp.testRunSync({ data: ipv4Packet({ src: '10.77.0.1', dst: '10.9.9.9', proto: 'udp', sport: 40123, dport }) });
    send(9);
    assert.equal(flows(), 0, 'a spoofed flood must not fill the flow table');
    send(10);
    assert.equal(flows(), 1);
    dp.filter.setRules([]);
  });

  it('refuses a rate below what the pipeline resolves, rather than running it unlimited', () => {
    assert.throws(
      () => dp.filter.addLimiter({ name: 'slow', rate: 0.0001, burst: 1, per4: 32, per6: 128, blockAfter: 0, blockForMs: 0 }),
      /rate must be 0.001/,
    );
  });

  it('stores a recorded limiter again at open when a crash left the map behind the record', async () => {
    const name = `c${Date.now() % 100000}`;
    const lim = dp.filter.addLimiter({ name, rate: 21, burst: 2, per4: 32, per6: 128, blockAfter: 0, blockForMs: 0 });
    const other = dp.filter.addLimiter({ name: `${name}b`, rate: 5, burst: 1, per4: 24, per6: 64, blockAfter: 0, blockForMs: 0 });
    const want = dp.pipeline.maps.ratelimits.get(lim.id)!;
    const otherWant = dp.pipeline.maps.ratelimits.get(other.id)!;
    assert.equal(want.interval_ns, 47_619_048n); // 1 s / 21
    // What a kill between the record and the map store leaves: the one entry zeroed, or old.
    dp.pipeline.maps.ratelimits.set(lim.id, abi.PwRatelimit.zero());
    dp.pipeline.maps.ratelimits.set(other.id, { ...otherWant, interval_ns: 1n });
    dp.close();
    dp = await Dataplane.open(instance);
    assert.deepEqual(dp.pipeline.maps.ratelimits.get(lim.id), want);
    assert.deepEqual(dp.pipeline.maps.ratelimits.get(other.id), otherWant);
    dp.filter.deleteLimiter(name);
    dp.filter.deleteLimiter(`${name}b`);
    assert.equal(dp.pipeline.maps.ratelimits.get(lim.id)!.interval_ns, 0n);
  });

  it('keeps rules and limiters across an upgrade that gives their maps a new layout', async () => {
    const name = `u${Date.now() % 100000}`;
    const lim = dp.filter.addLimiter({ name, rate: 7, burst: 3, per4: 32, per6: 128, blockAfter: 0, blockForMs: 0 });
    const [drop, limit] = dp.filter.setRules([
      { action: 'drop', proto: 6, dport: [22, 22], iif: 'lo' },
      { action: 'ratelimit', limiter: name, proto: 17, dport: [9200, 9200] },
    ]);
    const ssh = ipv4Packet({ dst: '10.9.9.9', proto: 'tcp', dport: 22 });
    const udp = ipv4Packet({ dst: '10.9.9.9', proto: 'udp', dport: 9200 });
    assert.equal(dp.trace(ssh, lo()).rule, drop!.id);
    // What a release that changes these maps' layout finds pinned: maps that don't match.
    const dir = pinDirOf(instance);
    for (const [map, type] of [
      ['pw_rule_iface', 'hash'],
      ['pw_ratelimits', 'array'],
    ] as const) {
      unlinkSync(join(dir, map));
      topo.exec(undefined, 'bpftool', [
        'map',
        'create',
        join(dir, map),
        'type',
        type,
        'key',
        '4',
        'value',
        '4',
        'entries',
        '8',
        'name',
        map,
      ]);
    }
    const settings = dp.pipeline.settings;
    dp.close();
    const r = await Dataplane.upgrade(instance, settings);
    dp = await Dataplane.open(instance);
    assert.deepEqual([...r.fresh].sort(), ['pw_ratelimits', 'pw_rule_iface']);
    assert.equal(r.republished, true);
    const t = dp.trace(ssh, lo());
    assert.equal(t.rule, drop!.id);
    assert.equal(t.reason, abi.PwReason.RULE_DROP);
    assert.equal(dp.trace(udp, lo()).rule, limit!.id);
    assert.equal(dp.pipeline.maps.ratelimits.get(lim.id)!.interval_ns, 142_857_143n); // 1 s / 7
    dp.filter.setRules([]);
    dp.filter.deleteLimiter(name);
  });
});
