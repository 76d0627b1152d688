/**
 * The guard stage's tables: ordered rules (compiled by src/filter/classifier.ts), rate
 * limiters and blocklists.
 *
 * Rules change by bank: the new rule set is written into the bank packets are not using, then
 * pw_guard_state.rule_bank flips to it with one store, so a packet is classified entirely by
 * the old rules or entirely by the new. What the maps cannot give back (rule text, limiter
 * names) is kept beside the pipeline's metadata in /run/pathwise/<instance>/filter.json.
 */
import { existsSync, readFileSync } from 'node:fs';

import { resolveIfindex } from '../kernel/index.js';
import * as abi from '../generated/pathwise.js';
import { PwError } from '../errors.js';
import { compileRules, BITMAP_BYTES, FLAG_SLOTS, IF_DIRECT, MAX_RULES, PORT_SLOTS, type ClassifierRule } from '../filter/classifier.js';
import { code4Text, prefix4Code, type BlockEntry } from '../filter/blocklist.js';
import { checkLimiter, gcraInterval, type Limiter } from '../filter/limiter.js';
import { presenceBitmap } from '../filter/presence.js';

import { formatRule, parseRuleTokens, validateRule, type Rule, type RuleAction, type RuleSpec } from '../filter/rule.js';
import { formatPrefix, maskAddr, type Prefix } from '../util/ip.js';
import { writeFileAtomic } from '../util/fs.js';
import { PageTurns } from '../util/turn.js';
import type { PipelineMaps } from './pipeline.js';
import { markEmptyBlocklists, markListed } from './blocklist-listing.js';
import { storeEscalations, storeRuleBank } from './guard-state.js';

interface FilterState {
  rules: { id: number; text: string }[];
  limiters: Limiter[];
  nextRuleId: number;
  /** Bitmap ids the rules' bank uses (a new bank must not overwrite them). */
  liveBitmaps: number[];
  /**
   * The bank the rules above are written in. It is recorded before the flip to it, so an
   * interrupted change (the record saved, the flip not made) is completed when the tables are
   * next opened. Absent in records from before it was kept: the live bank.
   */
  bank?: number;
  /** The ifindex each interface named by a rule was bound to (see rebindInterfaces). */
  interfaces?: Record<string, number>;
}

/** The ifindex a rule naming a missing interface is bound to: no packet arrives on it. */
export const UNBOUND_IFINDEX = 0xffffffff;

/** The ifindex of every interface the rules name, now (UNBOUND_IFINDEX for a missing one). */
function boundInterfaces(rules: RuleSpec[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of rules) {
    if (r.iif === undefined || out.has(r.iif)) continue;
    let ifindex = UNBOUND_IFINDEX;
    try {
      ifindex = resolveIfindex(r.iif);
    } catch {
      // Not there (yet): like iptables' -i, the rule stays and matches nothing until it is.
    }
    out.set(r.iif, ifindex);
  }
  return out;
}

/** What the guard needs to know about a rule set beyond its tables (pw_rule_bank.flags and
 * .proto). */
function bankFlags(rules: RuleSpec[]): { flags: number; proto: number } {
  // Rules on ports or flags cannot classify a packet that does not show them (a later
  // fragment, a truncated header): the guard drops those (PW_REASON_UNCLASSIFIED).
  let flags = rules.some((r) => r.sport || r.dport || r.tcpFlags) ? abi.PwBankFlag.L4 : 0;
  // A value field no rule names: every rule accepts any value there (each of its slots holds
  // every rule), so the guard looks it up for nothing and skips it.
  const open = (field: abi.PwRuleField, names: (r: RuleSpec) => unknown) =>
    rules.some(names) ? 0 : 1 << (abi.PwBankFlag.OPEN_SHIFT + field);
  flags |= open(abi.PwRuleField.PROTO, (r) => r.proto !== undefined);
  flags |= open(abi.PwRuleField.SPORT, (r) => r.sport);
  flags |= open(abi.PwRuleField.DPORT, (r) => r.dport);
  flags |= open(abi.PwRuleField.FLAGS, (r) => r.tcpFlags);
  flags |= open(abi.PwRuleField.IFACE, (r) => r.iif !== undefined);
  // Every rule names one protocol (as the classifier compiles it, a rule matches its own
  // protocol's slot alone): that slot's bitmap holds every rule, the others none, and the
  // guard compares the packet's protocol instead of looking its bitmap up.
  const proto = rules[0]?.proto;
  if (proto !== undefined && rules.every((r) => r.proto === proto)) return { flags: flags | abi.PwBankFlag.ONE_PROTO, proto };
  return { flags, proto: 0 };
}

/** The highest rule id: ids index the rules' hit counters (pw_rule_stats, MAX_RULES entries),
 * and 0 means no rule. */
export const MAX_RULE_ID = MAX_RULES - 1;

/** Prefixes a CIDR field has before it is looked up by length rather than in its LPM trie. */
export const EXACT_FROM = 64;

/** The 32-bit words (network order, as numbers) of a prefix's address and mask: an IPv4
 * prefix in word 0, the other words zero. */
function prefixWords(p: Prefix): { addr: number[]; mask: number[] } {
  const words = (b: Uint8Array) => {
    const v = new DataView(b.buffer, b.byteOffset, 16);
    return [0, 1, 2, 3].map((w) => (p.family === 4 && w > 0 ? 0 : v.getUint32(4 * w)));
  };
  return { addr: words(maskAddr(p.addr, p.plen)), mask: words(maskAddr(new Uint8Array(16).fill(0xff), p.plen)) };
}

/** A small CIDR field's entry (pw_rule_cidr): its prefixes longest first, so that the first
 * one holding an address is the longest, as an LPM lookup answers. */
function smallField(prefixes: { prefix: Prefix; bitmap: number }[], id: (local: number) => number): abi.PwRuleCidr {
  const sorted = [...prefixes].sort((a, b) => b.prefix.plen - a.prefix.plen);
  return {
    ...abi.PwRuleCidr.zero(),
    count: sorted.length,
    prefixes: sorted.map((e) => ({ ...prefixWords(e.prefix), bitmap: id(e.bitmap) })),
  };
}

const ACTION_CODE: Record<RuleAction, number> = {
  pass: abi.PwRuleAction.PASS,
  drop: abi.PwRuleAction.DROP,
  ratelimit: abi.PwRuleAction.RATELIMIT,
  count: abi.PwRuleAction.COUNT,
  log: abi.PwRuleAction.LOG,
};

const nowMonotonicNs = () => process.hrtime.bigint(); // CLOCK_MONOTONIC, as bpf_ktime_get_ns()

type BlockKey = { prefixlen: number; addr: Uint8Array };

/** A page of a blocklist read raw (MapBase.entriesRaw): keys { prefixlen u32, addr }, values pw_block. */
interface BlockPage {
  keys: Buffer;
  values: Buffer;
}
const KEY_SIZE = { 4: abi.PwBlock4Key.size, 6: abi.PwBlock6Key.size } as const;
const BLOCK = abi.PwBlock;

/** IPv4 entry i's prefix4Code. */
function code4At(page: BlockPage, i: number): number {
  const ko = i * KEY_SIZE[4];
  return prefix4Code(page.keys.readUInt32BE(ko + 4), page.keys.readUInt32LE(ko));
}

/** Entry i's prefix text (canonical). */
function blockTextAt(family: 4 | 6, page: BlockPage, i: number): string {
  if (family === 4) return code4Text(code4At(page, i));
  const ko = i * KEY_SIZE[6];
  const plen = page.keys.readUInt32LE(ko);
  return formatPrefix({ family, addr: maskAddr(page.keys.subarray(ko + 4, ko + 20), plen), plen });
}

/** Entry i's ms until it expires; null: never. */
function expiresInMsAt(page: BlockPage, i: number, now: bigint): number | null {
  const expires = page.values.readBigUInt64LE(i * BLOCK.size + BLOCK.offsets.expires_ns);
  return expires ? Number((expires - now) / 1_000_000n) : null;
}

/** An entry of a walk: its key (IPv4 a prefix4Code, IPv6 the text), origin, ms until it expires
 * (null: never) and limiter (an escalation's, or a seal's; else 0). */
type BlockVisit = (key: number | string, origin: abi.PwBlockOrigin, expiresInMs: number | null, limiter: number) => void;
type PageVisit = (family: 4 | 6, page: BlockPage, i: number) => void;

/** A PageVisit that hands `visit` the entries of the given origins, keyed as forEachBlockOf says. */
function originFilter(origins: readonly abi.PwBlockOrigin[], now: bigint, visit: BlockVisit): PageVisit {
  const wanted = new Set<number>(origins);
  return (family, page, i) => {
    const origin = page.values[i * BLOCK.size + BLOCK.offsets.origin] as abi.PwBlockOrigin;
    if (!wanted.has(origin)) return;
    const limiter = page.values.readUInt32LE(i * BLOCK.size + BLOCK.offsets.limiter);
    visit(family === 4 ? code4At(page, i) : blockTextAt(6, page, i), origin, expiresInMsAt(page, i, now), limiter);
  };
}

/** One walk of the blocklists, page by page: the entries in force to `visit`, the expired and
 * the escalations noted for the upkeep after the walk (FilterTables.finishWalk). */
class BlocklistUpkeep {
  readonly expired: (() => void)[] = [];
  escalations = 0;

  constructor(
    private readonly now: bigint,
    private readonly visit: PageVisit,
  ) {}

  page(family: 4 | 6, map: PipelineMaps['block4'], page: BlockPage & { count: number }): void {
    const keyCodec = family === 4 ? abi.PwBlock4Key : abi.PwBlock6Key;
    for (let i = 0; i < page.count; i++) {
      const expires = page.values.readBigUInt64LE(i * BLOCK.size + BLOCK.offsets.expires_ns);
      if (expires && expires <= this.now) {
        const key = keyCodec.decode(new DataView(page.keys.buffer, page.keys.byteOffset, page.keys.byteLength), i * keyCodec.size);
        this.expired.push(() => void map.delete(key as BlockKey));
        continue;
      }
      if (page.values[i * BLOCK.size + BLOCK.offsets.origin] === abi.PwBlockOrigin.ESCALATION) this.escalations++;
      this.visit(family, page, i);
    }
  }
}

/**
 * A prefix's blocklist (its family's map) and its key there. Both maps key { prefixlen, addr }
 * (addr 4 bytes or 16) and hold struct pw_block, so one type serves both.
 */
export function blockEntry(maps: PipelineMaps, p: Prefix): { map: PipelineMaps['block4']; key: BlockKey } {
  return p.family === 4
    ? { map: maps.block4, key: { prefixlen: p.plen, addr: p.addr.subarray(0, 4) } }
    : { map: maps.block6 as unknown as PipelineMaps['block4'], key: { prefixlen: p.plen, addr: p.addr } };
}

/**
 * Deletes blocklist entries, whoever listed them, in batches; those not listed are skipped.
 * (FilterTables.unblockMany, and the decisions' SealTable for its own entries.)
 */
export function deleteBlocks(maps: PipelineMaps, prefixes: readonly Prefix[]): void {
  for (const family of [4, 6] as const) {
    const entries = prefixes.filter((p) => p.family === family).map((p) => blockEntry(maps, p));
    if (!entries.length) continue;
    const map = entries[0]!.map;
    const keys = entries.map((e) => e.key);
    try {
      map.deleteBatch(keys);
    } catch {
      // A batch stops at the first key not listed (or the kernel has no batch deletes for
      // LPM tries): the rest one by one, the missing skipped.
      for (const k of keys) map.delete(k);
    }
  }
}

export class FilterTables {
  /** The maps whose contents filter.json describes (republish() fills them again). */
  static readonly MAPS: readonly string[] = [
    'pw_guard_state', // the live bank's number
    'pw_rule_banks',
    'pw_rules',
    'pw_rule_bitmaps',
    'pw_rule_proto',
    'pw_rule_sport',
    'pw_rule_dport',
    'pw_rule_flags',
    'pw_rule_iface',
    'pw_rule_iface_hi',
    'pw_rule_src4',
    'pw_rule_dst4',
    'pw_rule_src6',
    'pw_rule_dst6',
    // A bank whose flags send a field to these must find them filled: empty, they would give
    // every address the field's catch-all.
    'pw_rule_exact',
    'pw_rule_cidr',
    'pw_ratelimits',
  ];
  private state: FilterState;

  constructor(
    private readonly maps: PipelineMaps,
    private readonly stateFile: string,
    private readonly bitmapCapacity: number,
  ) {
    this.state = existsSync(stateFile)
      ? JSON.parse(readFileSync(stateFile, 'utf8'))
      : { rules: [], limiters: [], nextRuleId: 1, liveBitmaps: [] };
    this.completeFlip();
    this.completeLimiters();
  }

  /** Lets the pipeline skip each blocklist that holds no entry (blocklist-listing.ts): when
   * the pipeline is made, after an unblock, and at each sweep (blocklist()). */
  markEmptyBlocklists(): void {
    const empty = (family: 4 | 6) => (family === 4 ? this.maps.block4 : this.maps.block6).isEmpty();
    markEmptyBlocklists(this.maps, (family) => (empty(family) ? 0 : 1));
  }

  /**
   * A limiter change is recorded, then stored in the map. A crash between the two leaves the
   * map behind the record, and a restart that applies the same config again sees nothing to
   * change: the recorded limiters whose map entry differs are stored now. (A deleted limiter
   * that is still in the map is harmless: no rule names its id, and a new limiter that takes
   * the id overwrites it.)
   */
  private completeLimiters(): void {
    for (const l of this.state.limiters) {
      const want = limiterValue(l);
      const have = this.maps.ratelimits.get(l.id);
      if (!have || (Object.keys(want) as (keyof abi.PwRatelimit)[]).some((k) => have[k] !== want[k])) this.maps.ratelimits.set(l.id, want);
    }
  }

  /**
   * A rule change writes the idle bank, records it, then flips to it. A crash between the
   * record and the flip leaves the record ahead of the live bank: the flip is made now (the
   * bank was complete before the record was written).
   */
  private completeFlip(): void {
    const recorded = this.state.bank;
    if (recorded === undefined) return;
    if (this.liveBank() === recorded) return;
    const written = this.maps.ruleBanks.get(recorded);
    if (!written || written.count !== this.state.rules.length) return; // not this record's bank
    storeRuleBank(this.maps, recorded);
  }

  /** The bank of rules the pipeline classifies by. */
  liveBank(): 0 | 1 {
    return ((this.maps.guardState.get(0)?.rule_bank ?? 0) & 1) as 0 | 1;
  }

  private save(): void {
    writeFileAtomic(this.stateFile, JSON.stringify(this.state, null, 2));
  }

  // ---- rules -----------------------------------------------------------------------------

  /**
   * Writes the limiters and rules this instance keeps (filter.json) into the maps: for a
   * program upgrade whose guard maps changed layout (they start empty, while filter.json
   * still describes what should be in them).
   */
  republish(): void {
    for (const l of this.state.limiters) this.maps.ratelimits.set(l.id, limiterValue(l));
    // Into the idle bank, then the flip, as any rule change; the ids stay.
    this.setRules(this.rules());
  }

  rules(): Rule[] {
    return this.state.rules.map(({ id, text }) => ({ ...parseRuleTokens(text.split(' '), () => `rule ${id}`), id }));
  }

  /** Rule hit counters (summed over CPUs), by rule id. */
  ruleCounters(): Map<number, { packets: number; bytes: number }> {
    const out = new Map<number, { packets: number; bytes: number }>();
    const stats = this.maps.ruleStats;
    for (const { id } of this.state.rules) {
      const per = stats.get(id) ?? [];
      out.set(id, { packets: Number(per.reduce((a, c) => a + c.packets, 0n)), bytes: Number(per.reduce((a, c) => a + c.bytes, 0n)) });
    }
    return out;
  }

  /**
   * The ids of a new rule list: a rule's own id when it carries one, else a free id. Free ids
   * come round from where the last change stopped, skipping those of the live rules (the live
   * bank counts into them until the flip) and of the carried ones. Only when those leave too
   * few (the live and the new lists together over MAX_RULE_ID) are ids of live rules that this
   * change removes given again: their counters are zeroed before the flip, so a new rule may
   * start with a few of the old one's last hits. Ids never grow past the counters' map.
   */
  private assignRuleIds(specs: { id?: number }[]): { ids: number[]; next: number } {
    const carried = new Uint8Array(MAX_RULE_ID + 1);
    for (const [i, r] of specs.entries()) {
      if (r.id === undefined) continue;
      if (!Number.isInteger(r.id) || r.id < 1 || r.id > MAX_RULE_ID || carried[r.id]) {
        throw new PwError('PW_ERR_INVALID', `rule id ${r.id}: not an id 1-${MAX_RULE_ID} that no other rule holds`, {
          where: `rule ${i + 1}`,
        });
      }
      carried[r.id] = 1;
    }
    const live = new Uint8Array(MAX_RULE_ID + 1);
    for (const r of this.state.rules) if (r.id >= 1 && r.id <= MAX_RULE_ID) live[r.id] = 1;
    // The ids not carried, in turn from the cursor: those no live rule holds, then the others.
    // (There are enough: the list holds at most MAX_RULE_ID rules, carried ones included.)
    const fresh: number[] = [];
    const reused: number[] = [];
    const start = this.state.nextRuleId >= 1 && this.state.nextRuleId <= MAX_RULE_ID ? this.state.nextRuleId : 1;
    for (let k = 0, id = start; k < MAX_RULE_ID; k++, id = id === MAX_RULE_ID ? 1 : id + 1) {
      if (!carried[id]) (live[id] ? reused : fresh).push(id);
    }
    const pool = fresh.concat(reused);
    let taken = 0;
    const ids = specs.map((r) => r.id ?? pool[taken++]!);
    return { ids, next: taken ? (pool[taken - 1]! % MAX_RULE_ID) + 1 : start };
  }

  /**
   * Replaces the whole rule list (new rules without an id get one). Validates everything
   * first; the live bank changes only at the final flip.
   */
  setRules(specs: (RuleSpec & { id?: number })[]): Rule[] {
    if (specs.length > MAX_RULE_ID) {
      throw new PwError('PW_ERR_FULL', `${specs.length} rules: at most ${MAX_RULE_ID}`, {
        hint: `rule ids 1-${MAX_RULE_ID} name the rules' hit counters`,
      });
    }
    const { ids: ruleIds, next: nextRuleId } = this.assignRuleIds(specs);
    const limiterIds = new Map(this.state.limiters.map((l) => [l.name, l.id]));
    const bound = boundInterfaces(specs);
    const classifier: ClassifierRule[] = specs.map((r, i) => {
      validateRule(r, `rule ${i + 1}`);
      if (r.action === 'ratelimit' && !limiterIds.has(r.limiter!)) {
        throw new PwError('PW_ERR_NOT_FOUND', `no rate limiter named '${r.limiter}'`, {
          where: `rule ${i + 1}`,
          hint: "create it with 'pathwise ratelimit add'",
        });
      }
      return { ...r, ifindex: r.iif === undefined ? undefined : bound.get(r.iif) };
    });
    const compiled = compileRules(classifier);
    const inUse = new Set(this.state.liveBitmaps);
    const free: number[] = [];
    for (let id = 0; id < this.bitmapCapacity && free.length < compiled.bitmaps.length; id++) if (!inUse.has(id)) free.push(id);
    if (free.length < compiled.bitmaps.length) {
      throw new PwError(
        'PW_ERR_FULL',
        `the rules need ${compiled.bitmaps.length} classifier bitmaps; ${this.bitmapCapacity - inUse.size} of pipeline.ruleBitmaps (${this.bitmapCapacity}) are free`,
        {
          // The rules in force keep theirs until the new ones are in place.
          hint: `give pipeline.ruleBitmaps at least ${compiled.bitmaps.length + inUse.size} (${2 * compiled.bitmaps.length} to replace these rules with as many later); it is fixed while the pipeline runs: 'pathwise down' first`,
        },
      );
    }
    // Stable ids: kept for rules that have one, new ones (with zeroed counters) otherwise.
    const withIds = specs.map((r, i) => ({ ...r, id: ruleIds[i]! }));
    for (const [i, r] of specs.entries()) if (r.id === undefined) this.maps.ruleStats.set(ruleIds[i]!, abi.PwCounter.zero());

    const bank = this.liveBank() ? 0 : 1; // the idle one
    const cidr = this.writeBank(bank, compiled, free, withIds, limiterIds);
    const { flags, proto } = bankFlags(withIds);
    this.maps.ruleBanks.set(bank, { count: withIds.length, proto, flags: flags | cidr.flags, any: cidr.any, lens: cidr.lens });
    // Recorded before the flip: see completeFlip().
    this.state.rules = withIds.map((r) => ({ id: r.id, text: formatRule(r) }));
    this.state.nextRuleId = nextRuleId;
    this.state.liveBitmaps = free.slice(0, compiled.bitmaps.length);
    this.state.bank = bank;
    this.state.interfaces = Object.fromEntries(bound);
    this.save();
    storeRuleBank(this.maps, bank); // the flip
    return withIds;
  }

  /** Returns the bank's catch-all-only CIDR fields (flags and bitmaps: see struct pw_rule_bank). */
  private writeBank(
    bank: number,
    c: ReturnType<typeof compileRules>,
    ids: number[],
    rules: Rule[],
    limiterIds: Map<string, number>,
  ): { flags: number; any: number[]; lens: Uint8Array[] } {
    const m = this.maps;
    // Bitmaps, in slots the live bank does not use.
    const keys = Buffer.alloc(4 * c.bitmaps.length);
    const values = Buffer.alloc(BITMAP_BYTES * c.bitmaps.length);
    c.bitmaps.forEach((b, i) => {
      keys.writeUInt32LE(ids[i]!, 4 * i);
      values.set(b, BITMAP_BYTES * i);
    });
    m.ruleBitmaps.updateBatchRaw(keys, values, c.bitmaps.length, 512);
    const id = (local: number) => ids[local]!;
    // Value fields: one contiguous range per bank.
    const writeField = (map: PipelineMaps['ruleProto'], slots: number, table: Uint32Array) => {
      const k = Buffer.alloc(4 * slots);
      const v = Buffer.alloc(4 * slots);
      for (let s = 0; s < slots; s++) {
        k.writeUInt32LE(bank * slots + s, 4 * s);
        v.writeUInt32LE(id(table[s]!), 4 * s);
      }
      map.updateBatchRaw(k, v, slots);
    };
    writeField(m.ruleProto, 256, c.proto);
    writeField(m.ruleSport, PORT_SLOTS, c.sport);
    writeField(m.ruleDport, PORT_SLOTS, c.dport);
    writeField(m.ruleFlags, FLAG_SLOTS, c.flags);
    // The interface field: slots for small ifindexes (slot 0, and every interface no rule
    // names, holds the catch-all), hash entries for large ones (this bank's old ones go).
    const ifaceSlots = new Uint32Array(IF_DIRECT).fill(c.iface.find((e) => e.ifindex === 0)!.bitmap);
    for (const e of c.iface) if (e.ifindex < IF_DIRECT) ifaceSlots[e.ifindex] = e.bitmap;
    writeField(m.ruleIface, IF_DIRECT, ifaceSlots);
    for (const k of [...m.ruleIfaceHi.keys()]) if (k.bank === bank) m.ruleIfaceHi.delete(k);
    for (const e of c.iface) if (e.ifindex >= IF_DIRECT) m.ruleIfaceHi.set({ bank, ifindex: e.ifindex }, id(e.bitmap));
    // CIDR fields: clear this bank's old entries, then write the new ones. (LPM tries have no
    // batch operations.)
    const lpm4 = (map: PipelineMaps['ruleSrc4'], entries: { prefix: Prefix; bitmap: number }[]) => {
      for (const k of [...map.keys()]) if (k.bank === bank) map.delete(k);
      for (const e of entries) map.set({ prefixlen: 8 + e.prefix.plen, bank, addr: e.prefix.addr.subarray(0, 4) }, id(e.bitmap));
    };
    const lpm6 = (map: PipelineMaps['ruleSrc6'], entries: { prefix: Prefix; bitmap: number }[]) => {
      for (const k of [...map.keys()]) if (k.bank === bank) map.delete(k);
      for (const e of entries) map.set({ prefixlen: 8 + e.prefix.plen, bank, addr: e.prefix.addr }, id(e.bitmap));
    };
    lpm4(m.ruleSrc4, c.src4);
    lpm4(m.ruleDst4, c.dst4);
    lpm6(m.ruleSrc6, c.src6);
    lpm6(m.ruleDst6, c.dst6);
    // A field no rule names a prefix in holds its catch-all alone: the guard takes that bitmap
    // without the LPM lookup (the entries stay written, for a program that does not know this).
    const cidr = { flags: 0, any: [0, 0, 0, 0], lens: [0, 1, 2, 3].map(() => new Uint8Array(abi.PwLimit.CIDR_EXACT_LENS)) };
    // A field of a few prefixes (up to CIDR_SMALL_MAX) is also written as a list (pw_rule_cidr):
    // the guard compares the address with each, which costs less than the LPM trie's walk (a
    // profile put ~70 ns in the walk for 10 /24s; the list saved ~30 ns a packet, alternated)
    // or a hash of a key. A field of many prefixes with few lengths
    // is also written by length (pw_rule_exact): the guard looks its address up once per
    // length, longest first, instead of walking the trie, whose walk grows with the number of
    // prefixes (10,000 rules' /24s cost it ~100 ns more than 10 did). A field of many prefixes
    // (by length or in the trie) also has a presence bitmap (src/filter/presence.ts), read
    // before either. Each way the catch-all goes to `any`, for an address no prefix holds.
    for (const k of [...m.ruleExact.keys()]) if (k.bank === bank) m.ruleExact.delete(k);
    [c.src4, c.dst4, c.src6, c.dst6].forEach((entries, field) => {
      const catchAll = entries.find((e) => e.prefix.plen === 0);
      // No rule accepts an address that none of the field's prefixes holds: the guard ends
      // there, without the catch-all's bitmap (it is still written, for the LPM trie's /0).
      if (catchAll && c.bitmaps[catchAll.bitmap]!.every((b) => b === 0)) cidr.flags |= 1 << (abi.PwBankFlag.EMPTY_ANY_SHIFT + field);
      if (entries.length === 1 && catchAll) {
        cidr.flags |= 1 << (abi.PwBankFlag.ANY_SHIFT + field);
        cidr.any[field] = id(catchAll.bitmap);
        return;
      }
      const prefixes = entries.filter((e) => e.prefix.plen > 0);
      if (catchAll && prefixes.length <= abi.PwLimit.CIDR_SMALL_MAX) {
        m.ruleCidr.set(bank * abi.PwCidrField.FIELDS + field, smallField(prefixes, id));
        cidr.flags |= 1 << (abi.PwBankFlag.SMALL_SHIFT + field);
        cidr.any[field] = id(catchAll.bitmap);
        return;
      }
      if (!catchAll) return;
      // Many prefixes: a presence bitmap first, so that an address near none of them is not
      // looked up at all (see src/filter/presence.ts).
      const presence = presenceBitmap(
        field < abi.PwCidrField.SRC6 ? 4 : 6,
        prefixes.map((e) => e.prefix),
      );
      if (presence) {
        m.ruleCidr.set(bank * abi.PwCidrField.FIELDS + field, { ...abi.PwRuleCidr.zero(), presence });
        cidr.flags |= 1 << (abi.PwBankFlag.PRESENCE_SHIFT + field);
        cidr.any[field] = id(catchAll.bitmap);
      }
      const lengths = [...new Set(prefixes.map((e) => e.prefix.plen))].sort((a, b) => b - a);
      if (entries.length < EXACT_FROM || lengths.length > abi.PwLimit.CIDR_EXACT_LENS) return;
      for (const e of entries) {
        if (e.prefix.plen > 0) m.ruleExact.set({ field, bank, plen: e.prefix.plen, addr: e.prefix.addr }, id(e.bitmap));
      }
      lengths.forEach((l, i) => (cidr.lens[field]![i] = l + 1));
      cidr.flags |= 1 << (abi.PwBankFlag.EXACT_SHIFT + field);
      cidr.any[field] = id(catchAll.bitmap);
    });
    // Actions, by position.
    if (rules.length) {
      const rk = Buffer.alloc(4 * rules.length);
      const rv = Buffer.alloc(abi.PwRule.size * rules.length);
      const view = new DataView(rv.buffer, rv.byteOffset, rv.byteLength);
      rules.forEach((r, pos) => {
        rk.writeUInt32LE(bank * MAX_RULES + pos, 4 * pos);
        abi.PwRule.encode(
          { action: ACTION_CODE[r.action], limiter: r.limiter ? limiterIds.get(r.limiter)! : 0, id: r.id },
          view,
          abi.PwRule.size * pos,
        );
      });
      m.rules.updateBatchRaw(rk, rv, rules.length);
    }
    return cidr;
  }

  /**
   * Rules name interfaces, the pipeline matches ifindexes: when an interface named by a rule
   * is created, deleted or recreated (a new ifindex), the rules are written again. Returns
   * whether they were.
   */
  rebindInterfaces(): boolean {
    const rules = this.rules();
    const now = boundInterfaces(rules);
    const was = this.state.interfaces ?? {};
    if ([...now].every(([name, ifindex]) => was[name] === ifindex)) return false;
    this.setRules(rules);
    return true;
  }

  /** Interfaces rules name that do not exist (their rules match nothing until they do). */
  missingInterfaces(): string[] {
    return [...boundInterfaces(this.rules())].filter(([, ifindex]) => ifindex === UNBOUND_IFINDEX).map(([name]) => name);
  }

  addRule(spec: RuleSpec, at?: number): Rule {
    const current = this.rules();
    const pos = at === undefined ? current.length : Math.max(0, Math.min(current.length, at - 1));
    const next = [...current.slice(0, pos), spec as Rule, ...current.slice(pos)];
    const applied = this.setRules(next);
    return applied[pos]!;
  }

  deleteRule(id: number): Rule {
    const current = this.rules();
    const victim = current.find((r) => r.id === id);
    if (!victim) throw new PwError('PW_ERR_NOT_FOUND', `no rule with id ${id}`, { hint: "see 'pathwise rule list'" });
    this.setRules(current.filter((r) => r.id !== id));
    return victim;
  }

  // ---- rate limiters ---------------------------------------------------------------------

  limiters(): Limiter[] {
    return this.state.limiters;
  }

  addLimiter(l: Omit<Limiter, 'id'>): Limiter {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(l.name)) throw new PwError('PW_ERR_INVALID', `invalid limiter name '${l.name}'`);
    if (this.state.limiters.some((x) => x.name === l.name)) throw new PwError('PW_ERR_EXISTS', `a rate limiter named '${l.name}' exists`);
    checkLimiter(l);
    const used = new Set(this.state.limiters.map((x) => x.id));
    let id = 1;
    while (used.has(id)) id++;
    // Ids from PW_SEAL_LIMITER_BASE up are the decisions' seals (seal-table.ts).
    if (id >= abi.PwLimit.SEAL_LIMITER_BASE) throw new PwError('PW_ERR_FULL', `at most ${abi.PwLimit.SEAL_LIMITER_BASE - 1} rate limiters`);
    const lim: Limiter = { ...l, id };
    // Recorded first, as every limiter change: see completeLimiters().
    this.state.limiters.push(lim);
    this.save();
    this.maps.ratelimits.set(id, limiterValue(lim));
    return lim;
  }

  /** Changes a limiter's parameters in place (one map store; sources keep their buckets). */
  updateLimiter(l: Omit<Limiter, 'id'>): Limiter {
    const k = this.state.limiters.findIndex((x) => x.name === l.name);
    if (k < 0) throw new PwError('PW_ERR_NOT_FOUND', `no rate limiter named '${l.name}'`);
    checkLimiter(l);
    const lim: Limiter = { ...l, id: this.state.limiters[k]!.id };
    this.state.limiters[k] = lim;
    this.save();
    this.maps.ratelimits.set(lim.id, limiterValue(lim));
    return lim;
  }

  deleteLimiter(name: string): Limiter {
    const lim = this.state.limiters.find((l) => l.name === name);
    if (!lim) throw new PwError('PW_ERR_NOT_FOUND', `no rate limiter named '${name}'`);
    const users = this.rules().filter((r) => r.limiter === name);
    if (users.length)
      throw new PwError('PW_ERR_EXISTS', `rate limiter '${name}' is used by rule(s) ${users.map((r) => r.id).join(', ')}`, {
        hint: 'delete those rules first',
      });
    this.state.limiters = this.state.limiters.filter((l) => l !== lim);
    this.save();
    this.maps.ratelimits.set(lim.id, abi.PwRatelimit.zero());
    return lim;
  }

  // ---- blocklists ------------------------------------------------------------------------

  /** Adds (or refreshes) blocked prefixes; ttlMs undefined: no expiry. */
  block(prefixes: Prefix[], ttlMs?: number): number {
    const expires = ttlMs === undefined ? 0n : nowMonotonicNs() + BigInt(Math.round(ttlMs)) * 1_000_000n;
    for (const family of [4, 6] as const) {
      const entries = prefixes
        .filter((p) => p.family === family)
        .map((p) => {
          const { map, key } = blockEntry(this.maps, p);
          return { map, key, value: { expires_ns: expires, origin: abi.PwBlockOrigin.CONFIG, plen: p.plen, limiter: 0 } };
        });
      if (!entries.length) continue;
      const map = entries[0]!.map;
      if (entries.length === 1) {
        map.set(entries[0]!.key, entries[0]!.value); // a change's one prefix: no batch buffers
        continue;
      }
      try {
        // Many at a time (a million-prefix list: ~3 s instead of ~9 one by one).
        map.updateBatch(entries.map((e) => [e.key, e.value]));
      } catch (e) {
        // A kernel without batch writes to LPM tries refuses the first; anything else is reported.
        if (((e as PwError).details as { applied?: number } | undefined)?.applied !== 0) throw e;
        for (const x of entries) map.set(x.key, x.value);
      }
    }
    // After the entries are in: the pipeline looks the blocklists up again.
    for (const family of new Set(prefixes.map((p) => p.family))) markListed(this.maps, family);
    return prefixes.length;
  }

  /** Whether exactly this prefix is blocked now (listed and not expired). */
  isBlocked(p: Prefix): boolean {
    const { map, key } = blockEntry(this.maps, p);
    const v = map.get(key);
    return v !== undefined && (!v.expires_ns || v.expires_ns > nowMonotonicNs());
  }

  /** Removes a blocked prefix, whoever listed it (an escalation too). */
  unblock(p: Prefix): boolean {
    const { map, key } = blockEntry(this.maps, p);
    const removed = map.delete(key);
    if (removed) this.markEmptyBlocklists();
    return removed;
  }

  /** Removes blocked prefixes, whoever listed them, in batches; those not listed are skipped. */
  unblockMany(prefixes: Prefix[]): void {
    deleteBlocks(this.maps, prefixes);
    this.markEmptyBlocklists();
  }

  /**
   * Entries in force, the control plane's and the rate limiters' escalations; expired ones are
   * swept out on the way, the escalations still listed are counted for the pipeline's cap, and
   * a blocklist left empty is marked so (the pipeline skips it). Read in turns of the event
   * loop: a million entries take ~1.5 s.
   */
  async blocklist(): Promise<BlockEntry[]> {
    const now = nowMonotonicNs();
    const out: BlockEntry[] = [];
    const names = new Map(this.state.limiters.map((l) => [l.id, l.name]));
    await this.walkBlocklistsInTurns(now, (family, page, i) => {
      const origin = page.values[i * BLOCK.size + BLOCK.offsets.origin];
      const limiter = page.values.readUInt32LE(i * BLOCK.size + BLOCK.offsets.limiter);
      const escalation = origin === abi.PwBlockOrigin.ESCALATION;
      out.push({
        prefix: blockTextAt(family, page, i),
        expiresInMs: expiresInMsAt(page, i, now),
        origin: escalation ? 'escalation' : origin === abi.PwBlockOrigin.DECISION ? 'decision' : 'config',
        ...(escalation ? { limiter: names.get(limiter) ?? `#${limiter}` } : {}),
        ...(origin === abi.PwBlockOrigin.DECISION && limiter ? { sealed: true } : {}),
      });
    });
    return out;
  }

  /**
   * The config's entries in force, with the ms until each expires (null: never): what the
   * reconciler compares the config with at every change, read with the listing's upkeep in
   * turns of the event loop (read on the daemon's thread, a million-prefix list held it 0.6 s
   * at every change), and kept to be walked as often as the caller likes. An IPv4 entry comes
   * as its prefix4Code, an IPv6 one as its canonical text: a string for each entry cost more
   * than reading it.
   */
  async configBlocksInTurns(): Promise<{ forEach(visit: (key: number | string, expiresInMs: number | null) => void): void }> {
    const keys: (number | string)[] = [];
    const expires: (number | null)[] = [];
    await this.forEachBlockOfInTurns([abi.PwBlockOrigin.CONFIG], (key, _origin, expiresInMs) => {
      keys.push(key);
      expires.push(expiresInMs);
    });
    return { forEach: (visit) => keys.forEach((key, i) => visit(key, expires[i]!)) };
  }

  /**
   * The entries in force of the given origins, each to `visit` keyed as configBlocksInTurns'
   * (the decisions' resync compares hundreds of thousands of prefixes with them this way).
   */
  forEachBlockOf(origins: readonly abi.PwBlockOrigin[], visit: BlockVisit): void {
    const now = nowMonotonicNs();
    this.walkBlocklists(now, originFilter(origins, now, visit));
  }

  /** forEachBlockOf in turns of the event loop (the decisions' repair, every few seconds). */
  forEachBlockOfInTurns(origins: readonly abi.PwBlockOrigin[], visit: BlockVisit): Promise<void> {
    const now = nowMonotonicNs();
    return this.walkBlocklistsInTurns(now, originFilter(origins, now, visit));
  }

  /**
   * Both blocklists' entries in force to `visit`, raw, read as the batches come (not gathered
   * first: a million decoded entries held at once cost the garbage collector 4× the reading);
   * then the upkeep every reader owes (BlocklistUpkeep).
   */
  private walkBlocklists(now: bigint, visit: PageVisit): void {
    const upkeep = new BlocklistUpkeep(now, visit);
    for (const family of [4, 6] as const) {
      const map = this.blocklistMap(family);
      for (const page of map.entriesRaw(16384)) upkeep.page(family, map, page);
    }
    this.finishWalk(upkeep);
  }

  /**
   * walkBlocklists with the batches read on a worker thread and a turn of the event loop
   * between pages once 10 ms have gone: what runs in the daemon's own time. An entry written
   * or deleted meanwhile may or may not be seen, as with any walk of a map that changes.
   */
  private async walkBlocklistsInTurns(now: bigint, visit: PageVisit): Promise<void> {
    const upkeep = new BlocklistUpkeep(now, visit);
    const turns = new PageTurns();
    for (const family of [4, 6] as const) {
      const map = this.blocklistMap(family);
      for await (const page of map.entriesRawAsync(4096)) {
        upkeep.page(family, map, page);
        await turns.afterPage();
      }
    }
    this.finishWalk(upkeep);
  }

  private blocklistMap(family: 4 | 6): PipelineMaps['block4'] {
    return family === 4 ? this.maps.block4 : (this.maps.block6 as unknown as PipelineMaps['block4']);
  }

  /** The upkeep after a whole walk: the expired deleted (after it, as a walk from a deleted key
   * would start the trie over), the escalations in force counted for the pipeline's cap, a list
   * left empty marked so. */
  private finishWalk(upkeep: BlocklistUpkeep): void {
    for (const del of upkeep.expired) del();
    if (this.maps.guardState.get(0)?.escalations !== upkeep.escalations) storeEscalations(this.maps, upkeep.escalations);
    this.markEmptyBlocklists();
  }

  /** Escalations the pipeline did not make because PW_ESCALATIONS_MAX were in force. */
  escalationsRefused(): number {
    return Number(this.maps.guardState.get(0)?.escalations_refused ?? 0n);
  }
}

/**
 * A limiter as the pipeline runs it: GCRA, one packet per interval, a burst of them ahead of
 * schedule within the tolerance (src/filter/limiter.ts checks the numbers fit).
 */
export function limiterValue(l: Limiter): abi.PwRatelimit {
  const interval = gcraInterval(l.rate);
  return {
    interval_ns: interval,
    tolerance_ns: interval * BigInt(Math.max(0, Math.ceil(l.burst) - 1)),
    // blockAfter 0 means "never block": the pipeline reads block_after 0 so.
    block_ns: l.blockAfter ? BigInt(l.blockForMs) * 1_000_000n : 0n,
    block_after: l.blockAfter,
    plen4: l.per4,
    plen6: l.per6,
  };
}
