/**
 * Compiles an ordered rule list into the classifier tables of the guard stage (see
 * bpf/include/pathwise/guard.bpf.h): for each field, every distinct class of values maps to a
 * bitmap of the rules it satisfies (bit r = rule at position r). Identical bitmaps are shared.
 * Pure logic: the Dataplane writes the result into a bank of maps.
 *
 * CIDR fields go into LPM tries: the entry for a rule prefix P carries the rules whose prefix
 * covers P (plus rules with no CIDR in that field), so the longest match for an address is
 * exactly the set of rules containing it. A /0 entry catches every address.
 */
import * as abi from '../generated/pathwise.js';
import { PwError } from '../errors.js';
import { formatPrefix, maskAddr, prefixCovers, type Family, type Prefix } from '../util/ip.js';
import { ruleFamily, type RuleMatch } from './rule.js';

export const MAX_RULES = abi.PwLimit.MAX_RULES;
const WORDS = abi.PwLimit.RULE_WORDS;
const SUMMARY = abi.PwLimit.RULE_SUMMARY;
export const PORT_SLOTS = abi.PwLimit.PORT_SLOTS;
export const FLAG_SLOTS = abi.PwLimit.FLAG_SLOTS;
/** Ifindexes below this have a slot each in the interface field; larger ones are hashed. */
export const IF_DIRECT = abi.PwLimit.IF_DIRECT;
/** Distinct interfaces the rules of one bank may name. */
export const MAX_RULE_IFACES = abi.PwLimit.MAX_IFACES;
/** Bytes of one struct pw_rule_bitmap. */
export const BITMAP_BYTES = abi.PwRuleBitmap.size;

/** A rule set as bits (WORDS 64-bit words as 2*WORDS 32-bit halves, little end first). */
class Bits {
  readonly w = new Uint32Array(WORDS * 2);
  set(r: number): void {
    this.w[r >>> 5]! |= 1 << (r & 31);
  }
  clear(r: number): void {
    this.w[r >>> 5]! &= ~(1 << (r & 31));
  }
  copy(): Bits {
    const b = new Bits();
    b.w.set(this.w);
    return b;
  }
}

export interface CompiledRules {
  /** Distinct bitmaps, BITMAP_BYTES each (struct pw_rule_bitmap). */
  bitmaps: Uint8Array[];
  /** CIDR entries: prefix -> bitmap index. */
  src4: { prefix: Prefix; bitmap: number }[];
  dst4: { prefix: Prefix; bitmap: number }[];
  src6: { prefix: Prefix; bitmap: number }[];
  dst6: { prefix: Prefix; bitmap: number }[];
  /** Value -> bitmap index. */
  proto: Uint32Array;
  sport: Uint32Array;
  dport: Uint32Array;
  flags: Uint32Array;
  /** Ingress interface -> bitmap index, for each interface a rule names; ifindex 0 stands for
   * every other interface (only rules without an interface). */
  iface: { ifindex: number; bitmap: number }[];
}

export interface ClassifierRule extends RuleMatch {
  /** Ingress interface as an ifindex (resolved by the caller); undefined: any. */
  ifindex?: number;
}

class BitmapPool {
  readonly list: Uint8Array[] = [];
  private readonly index = new Map<string, number>();
  add(b: Bits): number {
    const bytes = new Uint8Array(BITMAP_BYTES);
    const view = new DataView(bytes.buffer);
    // words[] after the summary; summary bit w set when word w is non-zero.
    const summary = new Uint32Array(SUMMARY * 2);
    for (let w = 0; w < WORDS; w++) {
      const lo = b.w[2 * w]!;
      const hi = b.w[2 * w + 1]!;
      if (lo || hi) summary[w >>> 5]! |= 1 << (w & 31);
      view.setUint32(8 * (SUMMARY + w), lo, true);
      view.setUint32(8 * (SUMMARY + w) + 4, hi, true);
    }
    for (let k = 0; k < SUMMARY * 2; k++) view.setUint32(4 * k, summary[k]!, true);
    const key = Buffer.from(b.w.buffer).toString('base64');
    const known = this.index.get(key);
    if (known !== undefined) return known;
    this.list.push(bytes);
    this.index.set(key, this.list.length - 1);
    return this.list.length - 1;
  }
}

/** Rules of a family (or of none) with a CIDR field, per prefix. */
function cidrTable(rules: ClassifierRule[], family: Family, field: 'src' | 'dst', pool: BitmapPool): { prefix: Prefix; bitmap: number }[] {
  const base = new Bits(); // rules with no CIDR in this field (and not of the other family)
  const byPrefix = new Map<string, { prefix: Prefix; rules: number[] }>();
  rules.forEach((r, i) => {
    const fam = ruleFamily(r);
    if (fam && fam !== family) return;
    const p = r[field];
    if (!p) base.set(i);
    else {
      const k = formatPrefix(p);
      const e = byPrefix.get(k) ?? { prefix: p, rules: [] };
      e.rules.push(i);
      byPrefix.set(k, e);
    }
  });
  const zero: Prefix = { family, addr: new Uint8Array(16), plen: 0, v4: 0 };
  if (!byPrefix.has(formatPrefix(zero))) byPrefix.set(formatPrefix(zero), { prefix: zero, rules: [] });
  const entries = [...byPrefix.values()];
  // For each prefix, the rules of every prefix covering it: walk its ancestors.
  return entries.map(({ prefix }) => {
    const b = base.copy();
    for (let l = 0; l <= prefix.plen; l++) {
      const anc = byPrefix.get(formatPrefix({ family, addr: maskAddr(prefix.addr, l), plen: l }));
      if (anc && prefixCovers(anc.prefix, prefix)) for (const i of anc.rules) b.set(i);
    }
    return { prefix, bitmap: pool.add(b) };
  });
}

/** A value field: slots [0, n) plus the caller's meaning of each; `match(rule, slot)`. */
function valueTable(
  rules: ClassifierRule[],
  slots: number,
  match: (r: ClassifierRule, slot: number) => boolean,
  pool: BitmapPool,
): Uint32Array {
  const out = new Uint32Array(slots);
  // Slots with the same matching rules share a bitmap: compute per slot, dedup in the pool.
  for (let s = 0; s < slots; s++) {
    const b = new Bits();
    rules.forEach((r, i) => {
      if (match(r, s)) b.set(i);
    });
    out[s] = pool.add(b);
  }
  return out;
}

/** Interface field: an entry per interface the rules name, plus the catch-all (ifindex 0). */
function ifaceTable(rules: ClassifierRule[], pool: BitmapPool): { ifindex: number; bitmap: number }[] {
  const named = [...new Set(rules.flatMap((r) => (r.ifindex === undefined ? [] : [r.ifindex])))];
  if (named.filter((i) => i >= IF_DIRECT).length > MAX_RULE_IFACES)
    throw new PwError(
      'PW_ERR_FULL',
      `the rules name ${named.length} interfaces: at most ${MAX_RULE_IFACES} with an ifindex of ${IF_DIRECT} or more`,
    );
  return [0, ...named].map((ifindex) => {
    const b = new Bits();
    rules.forEach((r, i) => {
      if (r.ifindex === undefined || (ifindex !== 0 && r.ifindex === ifindex)) b.set(i);
    });
    return { ifindex, bitmap: pool.add(b) };
  });
}

/** Port field: a sweep over the range boundaries, one bitmap per elementary interval. */
function portTable(rules: ClassifierRule[], field: 'sport' | 'dport', pool: BitmapPool): Uint32Array {
  const out = new Uint32Array(PORT_SLOTS);
  const starts = new Map<number, number[]>();
  const ends = new Map<number, number[]>();
  const cur = new Bits();
  rules.forEach((r, i) => {
    const range = r[field];
    if (!range) cur.set(i);
    else {
      (starts.get(range[0]) ?? starts.set(range[0], []).get(range[0])!).push(i);
      (ends.get(range[1] + 1) ?? ends.set(range[1] + 1, []).get(range[1] + 1)!).push(i);
    }
  });
  // The "no port" slot: only rules without a port condition.
  out[PORT_SLOTS - 1] = pool.add(cur);
  const bounds = [...new Set([0, ...starts.keys(), ...ends.keys()])].filter((p) => p <= 65535).sort((a, b) => a - b);
  for (let k = 0; k < bounds.length; k++) {
    const p = bounds[k]!;
    for (const i of ends.get(p) ?? []) cur.clear(i);
    for (const i of starts.get(p) ?? []) cur.set(i);
    const id = pool.add(cur);
    out.fill(id, p, k + 1 < bounds.length ? bounds[k + 1]! : 65536);
  }
  return out;
}

export function compileRules(rules: ClassifierRule[]): CompiledRules {
  if (rules.length > MAX_RULES) throw new PwError('PW_ERR_FULL', `${rules.length} rules: at most ${MAX_RULES}`);
  const pool = new BitmapPool();
  return {
    src4: cidrTable(rules, 4, 'src', pool),
    dst4: cidrTable(rules, 4, 'dst', pool),
    src6: cidrTable(rules, 6, 'src', pool),
    dst6: cidrTable(rules, 6, 'dst', pool),
    proto: valueTable(rules, 256, (r, v) => r.proto === undefined || r.proto === v, pool),
    sport: portTable(rules, 'sport', pool),
    dport: portTable(rules, 'dport', pool),
    // Slot FLAG_SLOTS-1 is "not TCP": only rules without a flags condition.
    flags: valueTable(rules, FLAG_SLOTS, (r, f) => !r.tcpFlags || (f < 256 && (f & r.tcpFlags.mask) === r.tcpFlags.value), pool),
    iface: ifaceTable(rules, pool),
    bitmaps: pool.list,
  };
}
