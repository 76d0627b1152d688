/** Filter operations over a data plane: rules, rate limiters, blocklists. */
import type { BlockEntry } from '../filter/blocklist.js';
import type { Dataplane } from '../dataplane/dataplane.js';
import type { Limiter, LimiterSpec } from '../filter/limiter.js';
import { formatRule, type Rule, type RuleSpec } from '../filter/rule.js';
import { PwError } from '../errors.js';
import { formatPrefix, type Prefix } from '../util/ip.js';
import type { RuleRow } from './operations.js';

/** The rules in order, with their hit counters. */
export function listRules(dp: Dataplane): RuleRow[] {
  const counters = dp.filter.ruleCounters();
  const missing = new Set(dp.filter.missingInterfaces());
  return dp.filter.rules().map((r, i) => ({
    position: i + 1,
    id: r.id,
    text: formatRule(r),
    ...(counters.get(r.id) ?? { packets: 0, bytes: 0 }),
    ...(r.iif && missing.has(r.iif) ? { missingInterface: r.iif } : {}),
  }));
}

export const addRule = (dp: Dataplane, spec: RuleSpec, at?: number): Rule => dp.filter.addRule(spec, at);
export const deleteRule = (dp: Dataplane, id: number): Rule => dp.filter.deleteRule(id);

export const listLimiters = (dp: Dataplane): Limiter[] => dp.filter.limiters();
export const addLimiter = (dp: Dataplane, l: LimiterSpec): Limiter => dp.filter.addLimiter(l);
export const deleteLimiter = (dp: Dataplane, name: string): Limiter => dp.filter.deleteLimiter(name);

export const listBlocks = (dp: Dataplane): Promise<BlockEntry[]> => dp.filter.blocklist();

/** Blocks prefixes (ttlMs: expiry; none: until unblocked). Returns how many. */
export const block = (dp: Dataplane, prefixes: Prefix[], ttlMs?: number): number => dp.filter.block(prefixes, ttlMs);

/** Unblocks prefixes, all or none: one that is not blocked is an error, and nothing is unblocked. */
export function unblock(dp: Dataplane, prefixes: Prefix[]): { prefix: string; removed: boolean }[] {
  const unique = [...new Map(prefixes.map((p) => [formatPrefix(p), p])).entries()];
  const missing = unique.find(([, p]) => !dp.filter.isBlocked(p));
  if (missing)
    throw new PwError('PW_ERR_NOT_FOUND', `${missing[0]} is not blocked; nothing was unblocked`, {
      where: missing[0],
      hint: "'pathwise block list' shows what is",
    });
  return unique.map(([prefix, p]) => ({ prefix, removed: dp.filter.unblock(p) }));
}
