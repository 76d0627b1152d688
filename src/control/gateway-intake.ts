/**
 * Logs that gateways post (Kong's http-log, APISIX's http-logger, or anything an adapter
 * reads): each entry goes through a RejectionFollower per (format, source tag) under the
 * config's `gateway:` policy, and the seals it decides are applied at once, as decisions of
 * that source. The same policy as `pathwise gateway follow`, with no process to run beside the
 * gateway.
 */
import { PwError } from '../errors.js';
import { ADAPTERS, ADAPTER_NAMES } from '../gateway/adapters.js';
import { RejectionFollower, type FollowerStats, type FollowPolicy } from '../gateway/follower.js';
import { parseSealPer, SOURCE_TAG } from '../filter/decision.js';
import { parseDuration } from '../util/duration.js';
import type { Config } from './config/schema.js';
import type { DecisionResult, Decisions } from './decisions.js';

export interface IntakeResult {
  entries: number;
  /** Entries the adapter could not read (another format, no client address or status). */
  unreadable: number;
  rejections: number;
  results: DecisionResult[];
}

export function policyOf(g: Config['gateway']): FollowPolicy {
  const ttlMs = parseDuration(g.ttl);
  return {
    statuses: g.statuses,
    threshold: g.threshold,
    windowMs: parseDuration(g.window),
    ttlMs,
    maxTtlMs: Math.max(ttlMs, parseDuration(g.maxTtl)),
    action: g.action,
    ...(g.action === 'limit' ? { rate: g.rate, burst: g.burst ?? Math.max(1, Math.ceil(g.rate!)) } : {}),
    ...parseSealPer(g.per),
  };
}

export class GatewayIntake {
  private readonly followers = new Map<string, { policy: string; follower: RejectionFollower }>();

  constructor(
    private readonly decisions: Decisions,
    private readonly config: () => Config,
  ) {}

  take(format: string, source: string, entries: unknown[], actor: string): IntakeResult {
    const adapter = ADAPTERS[format];
    if (!adapter) throw new PwError('PW_ERR_INVALID', `format: '${format}' is not one of ${ADAPTER_NAMES.join(', ')}`, { where: 'format' });
    if (!SOURCE_TAG.test(source)) throw new PwError('PW_ERR_INVALID', 'source: 1-64 letters, digits and _.:@/-', { where: 'source' });
    const policy = policyOf(this.config().gateway);
    const key = `${format} ${source}`;
    let f = this.followers.get(key);
    // A changed policy starts the follower over (its counts were made under the old one).
    if (!f || f.policy !== JSON.stringify(policy)) {
      f = { policy: JSON.stringify(policy), follower: new RejectionFollower(policy, source) };
      this.followers.set(key, f);
    }
    const out: IntakeResult = { entries: entries.length, unreadable: 0, rejections: 0, results: [] };
    const before = f.follower.stats.rejections;
    const decided = [];
    for (const o of entries) {
      const e = typeof o === 'string' ? adapter.parse(o) : adapter.parseObject(o);
      if (!e) {
        out.unreadable++;
        continue;
      }
      const d = f.follower.see(e);
      if (d) decided.push(d);
    }
    out.rejections = f.follower.stats.rejections - before;
    if (decided.length) out.results = this.decisions.submit({ source, decisions: decided }, actor);
    return out;
  }

  stats(): Record<string, FollowerStats> {
    return Object.fromEntries([...this.followers].map(([k, v]) => [k, { ...v.follower.stats }]));
  }
}
