/**
 * Filtering: rate limiters, the ordered rules and the blocklists. Limiters come before the
 * rules that name them and go after; the rules change with one bank flip; rules that stay keep
 * their ids, and with them their hit counters.
 */
import type { Dataplane } from '../../dataplane/dataplane.js';
import { PwError } from '../../errors.js';
import { PwLimit } from '../../generated/pathwise.js';
import type { BlockEntry } from '../../filter/blocklist.js';
import { code4OfText, code4Text, parseBlockFile } from '../../filter/blocklist.js';
import { BlockKeySet } from '../../filter/block-key-set.js';
import type { Limiter, LimiterSpec } from '../../filter/limiter.js';
import { ruleSetDelta } from '../../filter/rule-delta.js';
import { formatRule, type Rule, type RuleSpec } from '../../filter/rule.js';
import { parseDuration } from '../../util/duration.js';
import { formatPrefix, parsePrefix, type Prefix } from '../../util/ip.js';
import { limiterSpecOf, ruleSpecOf } from '../config/forms.js';
import type { Config } from '../config/schema.js';
import { Phase, type ApplyTarget, type CompileContext, type Reconciler, type Undo } from '../reconcile.js';

export interface DesiredBlock {
  /** Wall-clock expiry (ms since the epoch); null: none. */
  expiresAt: number | null;
}

/** Every entry without expiry shares this one (a million-prefix file: no million objects). */
const LASTING: DesiredBlock = Object.freeze({ expiresAt: null });

/**
 * The config's blocklist entries in force, walked when the plan compares them with the
 * config's (FilterTables.configBlocksInTurns: read in turns of the event loop): an IPv4 entry
 * by its prefix4Code, an IPv6 one by its canonical text, with the ms until it expires (null:
 * never). A million-prefix list is neither turned into strings nor kept between changes.
 */
export interface RunningBlocks {
  forEach(visit: (key: number | string, expiresInMs: number | null) => void): void;
}

export interface DesiredFilter {
  limiters: Map<string, LimiterSpec>;
  rules: (RuleSpec & { id?: number })[];
  /** By canonical prefix text. */
  blocks: ReadonlyMap<string, DesiredBlock>;
}
export interface RunningFilter {
  limiters: Map<string, Limiter>;
  rules: Rule[];
  blocks: RunningBlocks;
}

export type FilterChange =
  | { kind: 'limiter'; phase: number; op: 'add' | 'update' | 'delete'; name: string; spec?: LimiterSpec; old?: Limiter }
  | { kind: 'rules'; phase: number; before: Rule[]; after: (RuleSpec & { id?: number })[] }
  | { kind: 'block'; phase: number; op: 'add' | 'delete'; prefix: string; block?: DesiredBlock; old?: BlockEntry };

type BlockChange = Extract<FilterChange, { kind: 'block' }>;

const limiterText = (l: LimiterSpec) =>
  `${l.rate}/s burst ${l.burst} per /${l.per4},/${l.per6}${l.blockAfter ? ` block after ${l.blockAfter} for ${l.blockForMs} ms` : ''}`;

/**
 * A blocklist file's prefixes as canonical text, kept for as long as the file reads the same:
 * every change the daemon applies compiles the whole config again, and parsing a
 * million-prefix file each time cost seconds, most of it garbage collection. One entry per
 * file the config names.
 */
const parsedFiles = new Map<string, { text: string; prefixes: string[] }>();

function blockFilePrefixes(file: string, text: string): string[] {
  const known = parsedFiles.get(file);
  if (known?.text === text) return known.prefixes;
  const prefixes = parseBlockFile(text, file).map((p) => formatPrefix(p));
  parsedFiles.set(file, { text, prefixes });
  return prefixes;
}

/**
 * The last blocks compiled from lists without expiry, and what they were compiled from: every
 * change the daemon applies compiles the whole config, and a million entries built again cost
 * ~0.9 s of an unrelated edit. Lists with a `ttl` or an `until` depend on the clock and are
 * compiled each time.
 */
const NO_FILE: string[] = [];
let lastLasting: { lists: string; files: string[][]; blocks: ReadonlyMap<string, DesiredBlock> } | undefined;

/** Blocked prefixes in force, from the lists and the files they name; expired entries left out. */
function desiredBlocks(cfg: Config, ctx: CompileContext): ReadonlyMap<string, DesiredBlock> {
  const files = new Set(cfg.blocklists.map((b) => b.file));
  for (const f of parsedFiles.keys()) if (!files.has(f)) parsedFiles.delete(f);
  // Read (and checked) first: a file that changed is compiled anew.
  const inFiles = cfg.blocklists.map((b, i) => (b.file ? blockFilePrefixes(b.file, ctx.files(b.file, `blocklists[${i}].file`)) : NO_FILE));
  const lasting = cfg.blocklists.every((b) => !b.ttl && !b.until);
  const lists = JSON.stringify(cfg.blocklists);
  if (lasting && lastLasting?.lists === lists && lastLasting.files.every((f, i) => f === inFiles[i])) return lastLasting.blocks;

  const blocks = new Map<string, DesiredBlock>();
  cfg.blocklists.forEach((b, i) => {
    const listed = b.prefixes.map((p, k) => formatPrefix(parsePrefix(p, `blocklists[${i}].prefixes[${k}]`)));
    // Looped, not spread into push(): a million arguments overflow the call stack.
    const inFile = inFiles[i]!;
    for (const key of listed.length ? [...listed, ...inFile] : inFile) {
      let expiresAt: number | null = null;
      if (b.until) expiresAt = Date.parse(b.until);
      else if (b.ttl) expiresAt = (ctx.blockedSince.get(key) ?? ctx.now) + parseDuration(b.ttl);
      if (expiresAt !== null && expiresAt <= ctx.now) continue;
      const prev = blocks.get(key);
      // The same prefix in two lists: the longer-lived entry wins.
      if (!prev || (prev.expiresAt !== null && (expiresAt === null || expiresAt > prev.expiresAt)))
        blocks.set(key, expiresAt === null ? LASTING : { expiresAt });
    }
  });
  let v6 = 0;
  for (const key of blocks.keys()) if (key.includes(':')) v6++;
  for (const [family, n] of [
    [4, blocks.size - v6],
    [6, v6],
  ] as const)
    if (n > PwLimit.BLOCK_MAX)
      throw new PwError(
        'PW_ERR_FULL',
        `blocklists: ${n.toLocaleString('en')} IPv${family} prefixes in force; the pipeline holds at most ${PwLimit.BLOCK_MAX.toLocaleString('en')}`,
        {
          where: 'blocklists',
          hint: 'merge neighbouring prefixes into covering ones; rate-limit escalations and decisions need room there too',
        },
      );
  lastLasting = lasting ? { lists, files: inFiles, blocks } : undefined;
  return blocks;
}

/** The IPv4 entries of a compiled blocks map as sorted prefix4Codes, once per map (a
 * compiled map is reused while the lists and their files stay the same). */
const codesByMap = new WeakMap<ReadonlyMap<string, DesiredBlock>, Float64Array>();

function desiredCodes4(desired: ReadonlyMap<string, DesiredBlock>): Float64Array {
  let codes = codesByMap.get(desired);
  if (!codes) {
    const list: number[] = [];
    for (const prefix of desired.keys()) {
      const code = code4OfText(prefix);
      if (code !== undefined) list.push(code);
    }
    codes = Float64Array.from(list).sort();
    codesByMap.set(desired, codes);
  }
  return codes;
}

const addBlock = (prefix: string, block: DesiredBlock): FilterChange => ({ kind: 'block', phase: Phase.BLOCKS, op: 'add', prefix, block });
const deleteBlock = (prefix: string, expiresInMs: number | null): FilterChange => ({
  kind: 'block',
  phase: Phase.UNBLOCK,
  op: 'delete',
  prefix,
  old: { prefix, expiresInMs, origin: 'config' },
});

/**
 * The block changes, from one walk of what runs. IPv4 entries are compared as two sorted
 * arrays of prefix4Codes merged: a million entries cost a sort, where a string and a hash
 * lookup each cost ~1 µs. IPv6 entries are compared by text.
 */
function planBlocks(running: RunningBlocks, desired: ReadonlyMap<string, DesiredBlock>): FilterChange[] {
  const want4 = desiredCodes4(desired);
  const have4 = new BlockKeySet();
  const expiring4 = new Map<number, number>(); // the IPv4 entries in force with an expiry
  const met6: string[] = [];
  const deletes: FilterChange[] = [];
  running.forEach((key, expiresInMs) => {
    if (typeof key === 'number') {
      have4.add(key);
      if (expiresInMs !== null) expiring4.set(key, expiresInMs);
    } else if (desired.has(key)) met6.push(key);
    else deletes.push(deleteBlock(key, expiresInMs));
  });

  const adds: FilterChange[] = [];
  const have = have4.codes4();
  let i = 0;
  let j = 0;
  while (i < have.length || j < want4.length) {
    if (j === want4.length || (i < have.length && have[i]! < want4[j]!)) {
      deletes.push(deleteBlock(code4Text(have[i]!), expiring4.get(have[i]!) ?? null));
      i++;
    } else if (i === have.length || want4[j]! < have[i]!) {
      const prefix = code4Text(want4[j]!);
      adds.push(addBlock(prefix, desired.get(prefix)!));
      j++;
    } else {
      i++;
      j++;
    }
  }

  if (met6.length !== desired.size - want4.length) {
    const inForce = new Set(met6);
    for (const [prefix, block] of desired)
      if (!inForce.has(prefix) && code4OfText(prefix) === undefined) adds.push(addBlock(prefix, block));
  }
  return [...adds, ...deletes];
}

/**
 * A run of block changes (one alone, or consecutive ones: all adds, phase BLOCKS, or all
 * deletes, UNBLOCK), written in batches; how to undo it. A run that fails undoes its own part.
 */
function applyBlocks(blocks: BlockChange[], t: ApplyTarget): Undo {
  const f = t.dp().filter;
  const prefixes = blocks.map((c) => parsePrefix(c.prefix));
  // The run's prefixes by their ms to live (-1: none), each group one write.
  const byTtl = (ttlOf: (c: BlockChange) => number | null) => {
    const groups = new Map<number, Prefix[]>();
    blocks.forEach((c, i) => {
      const ttl = ttlOf(c) ?? -1;
      const g = groups.get(ttl);
      if (g) g.push(prefixes[i]!);
      else groups.set(ttl, [prefixes[i]!]);
    });
    return groups;
  };
  const write = (groups: Map<number, Prefix[]>) => {
    for (const [ttl, ps] of groups) t.dp().filter.block(ps, ttl < 0 ? undefined : ttl);
  };
  if (blocks[0]!.op === 'add') {
    const now = Date.now();
    try {
      write(byTtl((c) => (c.block!.expiresAt === null ? null : Math.max(0, c.block!.expiresAt - now))));
    } catch (e) {
      f.unblockMany(prefixes);
      throw e;
    }
    return () => t.dp().filter.unblockMany(prefixes);
  }
  const old = byTtl((c) => c.old!.expiresInMs);
  try {
    f.unblockMany(prefixes);
  } catch (e) {
    write(old);
    throw e;
  }
  return () => write(old);
}

export const filterReconciler: Reconciler<DesiredFilter, RunningFilter, FilterChange> = {
  kinds: ['limiter', 'rules', 'block'],
  runKinds: ['block'],
  desired: (cfg, ctx) => ({
    limiters: new Map(Object.entries(cfg.ratelimits).map(([name, l]) => [name, limiterSpecOf(name, l)])),
    rules: cfg.rules.map((r, i) => ruleSpecOf(r, `rules[${i}]`)),
    blocks: desiredBlocks(cfg, ctx),
  }),
  running: async (dp: Dataplane) => ({
    limiters: new Map(dp.filter.limiters().map((l) => [l.name, l])),
    rules: dp.filter.rules(),
    // Escalations and decisions are not the config's: never reconciled away.
    blocks: await dp.filter.configBlocksInTurns(),
  }),
  plan(running, desired) {
    const out: FilterChange[] = [];
    for (const [name, spec] of desired.limiters) {
      const old = running.limiters.get(name);
      if (!old) out.push({ kind: 'limiter', phase: Phase.LIMITERS, op: 'add', name, spec });
      else if (limiterText(old) !== limiterText(spec)) out.push({ kind: 'limiter', phase: Phase.LIMITERS, op: 'update', name, spec, old });
    }
    for (const [name, old] of running.limiters)
      if (!desired.limiters.has(name)) out.push({ kind: 'limiter', phase: Phase.LIMITER_DELETE, op: 'delete', name, old });

    const after = desired.rules.map(formatRule);
    if (running.rules.map(formatRule).join('\n') !== after.join('\n')) {
      // Rules that stay keep their ids, and with them their hit counters (the same rule
      // written twice keeps both ids, first to first).
      const idsByText = new Map<string, number[]>();
      for (const r of running.rules) {
        const text = formatRule(r);
        const ids = idsByText.get(text);
        if (ids) ids.push(r.id);
        else idsByText.set(text, [r.id]);
      }
      const withIds = desired.rules.map((spec, i) => {
        const id = idsByText.get(after[i]!)?.shift();
        return id !== undefined ? { ...spec, id } : { ...spec };
      });
      out.push({ kind: 'rules', phase: Phase.RULES, before: running.rules, after: withIds });
    }

    // Looped, not spread into push(): a first start adds a million.
    for (const c of planBlocks(running.blocks, desired.blocks)) out.push(c);
    return out;
  },
  apply(c, t) {
    const f = t.dp().filter;
    switch (c.kind) {
      case 'limiter':
        if (c.op === 'add') {
          f.addLimiter(c.spec!);
          return () => void t.dp().filter.deleteLimiter(c.name);
        }
        if (c.op === 'update') {
          f.updateLimiter(c.spec!);
          return () => void t.dp().filter.updateLimiter(c.old!);
        }
        f.deleteLimiter(c.name);
        return () => void t.dp().filter.addLimiter(c.old!);
      case 'rules':
        f.setRules(c.after);
        return () => void t.dp().filter.setRules(c.before);
      case 'block':
        return applyBlocks([c], t);
    }
  },
  applyRun: (cs, t) => applyBlocks(cs as BlockChange[], t),
  summarize(c) {
    switch (c.kind) {
      case 'limiter':
        return { kind: c.kind, op: c.op, key: c.name, before: c.old && limiterText(c.old), after: c.spec && limiterText(c.spec) };
      case 'rules':
        return {
          kind: c.kind,
          op: 'replace',
          key: `${c.after.length} rules`,
          ...ruleSetDelta(
            c.before.map(formatRule),
            c.after.map((r) => formatRule(r)),
          ),
        };
      case 'block':
        return {
          kind: c.kind,
          op: c.op,
          key: c.prefix,
          after: c.block ? (c.block.expiresAt ? `until ${new Date(c.block.expiresAt).toISOString()}` : 'no expiry') : undefined,
        };
    }
  },
};
