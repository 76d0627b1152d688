/**
 * Filtering: rate limiters, the ordered rules and the blocklists. Limiters come before the
 * rules that name them and go after; the rules change with one bank flip; rules that stay keep
 * their ids, and with them their hit counters.
 */
import type { Dataplane } from '../../dataplane/dataplane.js';
import type { BlockEntry } from '../../filter/blocklist.js';
import { parseBlockFile } from '../../filter/blocklist.js';
import type { Limiter, LimiterSpec } from '../../filter/limiter.js';
import { formatRule, type Rule, type RuleSpec } from '../../filter/rule.js';
import { parseDuration } from '../../util/duration.js';
import { formatPrefix, parsePrefix, type Prefix } from '../../util/ip.js';
import { limiterSpecOf, ruleSpecOf } from '../config/forms.js';
import type { Config } from '../config/schema.js';
import { Phase, type CompileContext, type Reconciler } from '../reconcile.js';

export interface DesiredBlock {
  prefix: Prefix;
  /** Wall-clock expiry (ms since the epoch); null: none. */
  expiresAt: number | null;
}

export interface FilterState<L, B> {
  limiters: Map<string, L>;
  rules: (RuleSpec & { id?: number })[];
  /** By canonical prefix text. */
  blocks: Map<string, B>;
}
export type DesiredFilter = FilterState<LimiterSpec, DesiredBlock>;
export type RunningFilter = Omit<FilterState<Limiter, BlockEntry>, 'rules'> & { rules: Rule[] };

export type FilterChange =
  | { kind: 'limiter'; phase: number; op: 'add' | 'update' | 'delete'; name: string; spec?: LimiterSpec; old?: Limiter }
  | { kind: 'rules'; phase: number; before: Rule[]; after: (RuleSpec & { id?: number })[] }
  | { kind: 'block'; phase: number; op: 'add' | 'delete'; prefix: string; block?: DesiredBlock; old?: BlockEntry };

const limiterText = (l: LimiterSpec) =>
  `${l.rate}/s burst ${l.burst} per /${l.per4},/${l.per6}${l.blockAfter ? ` block after ${l.blockAfter} for ${l.blockForMs} ms` : ''}`;

/**
 * A blocklist file's prefixes with their canonical text, kept for as long as the file reads
 * the same: every change the daemon applies compiles the whole config again, and parsing a
 * million-prefix file (a Uint8Array per prefix) each time cost seconds, most of it garbage
 * collection. One entry per file the config names.
 */
const parsedFiles = new Map<string, { text: string; entries: [string, Prefix][] }>();

function blockFileEntries(file: string, text: string): [string, Prefix][] {
  const known = parsedFiles.get(file);
  if (known?.text === text) return known.entries;
  const entries = parseBlockFile(text, file).map((p): [string, Prefix] => [formatPrefix(p), p]);
  parsedFiles.set(file, { text, entries });
  return entries;
}

/** Blocked prefixes in force, from the lists and the files they name; expired entries left out. */
function desiredBlocks(cfg: Config, ctx: CompileContext): Map<string, DesiredBlock> {
  const blocks = new Map<string, DesiredBlock>();
  const files = new Set(cfg.blocklists.map((b) => b.file));
  for (const f of parsedFiles.keys()) if (!files.has(f)) parsedFiles.delete(f);
  cfg.blocklists.forEach((b, i) => {
    const listed: [string, Prefix][] = b.prefixes.map((p, k) => {
      const prefix = parsePrefix(p, `blocklists[${i}].prefixes[${k}]`);
      return [formatPrefix(prefix), prefix];
    });
    // Looped, not spread into push(): a million arguments overflow the call stack.
    const inFile = b.file ? blockFileEntries(b.file, ctx.files(b.file, `blocklists[${i}].file`)) : [];
    for (const [key, prefix] of listed.length ? [...listed, ...inFile] : inFile) {
      let expiresAt: number | null = null;
      if (b.until) expiresAt = Date.parse(b.until);
      else if (b.ttl) expiresAt = (ctx.blockedSince.get(key) ?? ctx.now) + parseDuration(b.ttl);
      if (expiresAt !== null && expiresAt <= ctx.now) continue;
      const prev = blocks.get(key);
      // The same prefix in two lists: the longer-lived entry wins.
      if (!prev || (prev.expiresAt !== null && (expiresAt === null || expiresAt > prev.expiresAt))) blocks.set(key, { prefix, expiresAt });
    }
  });
  return blocks;
}

export const filterReconciler: Reconciler<DesiredFilter, RunningFilter, FilterChange> = {
  kinds: ['limiter', 'rules', 'block'],
  desired: (cfg, ctx) => ({
    limiters: new Map(Object.entries(cfg.ratelimits).map(([name, l]) => [name, limiterSpecOf(name, l)])),
    rules: cfg.rules.map((r, i) => ruleSpecOf(r, `rules[${i}]`)),
    blocks: desiredBlocks(cfg, ctx),
  }),
  running: (dp: Dataplane) => ({
    limiters: new Map(dp.filter.limiters().map((l) => [l.name, l])),
    rules: dp.filter.rules(),
    // Escalations are the rate limiters' own, listed beside the config's: never reconciled away.
    blocks: dp.filter.configBlocks(),
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

    for (const [prefix, block] of desired.blocks)
      if (!running.blocks.has(prefix)) out.push({ kind: 'block', phase: Phase.BLOCKS, op: 'add', prefix, block });
    for (const [prefix, old] of running.blocks)
      if (!desired.blocks.has(prefix)) out.push({ kind: 'block', phase: Phase.UNBLOCK, op: 'delete', prefix, old });
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
      case 'block': {
        const prefix = parsePrefix(c.prefix);
        if (c.op === 'add') {
          const ttl = c.block!.expiresAt === null ? undefined : Math.max(0, c.block!.expiresAt - Date.now());
          f.block([prefix], ttl);
          return () => void t.dp().filter.unblock(prefix);
        }
        f.unblock(prefix);
        return () => void t.dp().filter.block([prefix], c.old!.expiresInMs ?? undefined);
      }
    }
  },
  summarize(c) {
    switch (c.kind) {
      case 'limiter':
        return { kind: c.kind, op: c.op, key: c.name, before: c.old && limiterText(c.old), after: c.spec && limiterText(c.spec) };
      case 'rules':
        return {
          kind: c.kind,
          op: 'replace',
          key: `${c.after.length} rules`,
          before: c.before.map(formatRule).join('; '),
          after: c.after.map((r) => formatRule(r)).join('; '),
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
