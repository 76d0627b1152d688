/**
 * Operational decisions: what a gateway, an operator or a detector says about a source —
 * block it, hold it to a rate (a seal), or lift what was said — with a time to live, the
 * source that said it and an idempotency id. They are operational state, not config: no
 * version each (control/decisions.ts keeps them and audits every one).
 *
 * The pipeline can hold a source address or prefix; it cannot tell two APIs apart inside one
 * connection. A decision may name the API it is about (recorded, listed, audited), and it
 * holds the whole source.
 */
import { PwError } from '../errors.js';
import { parseDuration } from '../util/duration.js';
import { formatPrefix, parsePrefix, type Prefix } from '../util/ip.js';
import { MAX_BURST, MAX_RATE, MIN_RATE, parsePer } from './limiter.js';

export type DecisionAction = 'block' | 'limit' | 'unblock';
export const DECISION_ACTIONS: DecisionAction[] = ['block', 'limit', 'unblock'];

/** One decision as a client sends it (POST /v1/decisions, `pathwise decision add`). */
export interface DecisionInput {
  /** Idempotency id: the same id again is the same decision (answered, not applied twice). */
  id?: string;
  action: DecisionAction;
  /** An address or CIDR prefix. */
  target: string;
  /** block and limit: how long (a duration such as 10m, or seconds). */
  ttl?: string | number;
  /** limit: packets per second for the target as a whole, and the burst above it. */
  rate?: number;
  burst?: number;
  /** The API the decision is about (recorded; the pipeline holds the whole source). */
  api?: string;
  reason?: string;
}

/** A decision checked and in canonical form. */
export interface DecisionSpec {
  id: string | null;
  action: DecisionAction;
  prefix: Prefix;
  /** The prefix's canonical text. */
  target: string;
  ttlMs: number;
  rate?: number;
  burst?: number;
  api?: string;
  reason?: string;
}

/** The widest a decision's target may be (prefix lengths). A decision comes from a gateway, a
 * detector or a one-off command; one on 0.0.0.0/0 (a gateway's bug, a leaked token) would cut
 * the host off from everyone. A wider block belongs in the config's blocklists, written,
 * reviewed and versioned. */
export const WIDEST_DECISION = { 4: 8, 6: 16 } as const;

/** What one source is for a gateway's seals (`address`, or /24,/56…): no wider than a decision
 * may be, or every seal would be refused. */
export function parseSealPer(s: string, where = 'per'): { per4: number; per6: number } {
  const per = parsePer(s, where);
  if (per.per4 < WIDEST_DECISION[4] || per.per6 < WIDEST_DECISION[6])
    throw new PwError(
      'PW_ERR_INVALID',
      `'${s}' is wider than a decision may be (/${WIDEST_DECISION[4]} at most for IPv4, /${WIDEST_DECISION[6]} for IPv6)`,
      { where },
    );
  return per;
}

export interface DecisionLimits {
  defaultTtlMs: number;
  maxTtlMs: number;
}

const ID = /^[A-Za-z0-9_.:@/-]{1,128}$/;
export const SOURCE_TAG = /^[A-Za-z0-9_.:@/-]{1,64}$/;

/** Checks one decision; `where` names it in errors (e.g. decisions[3]). */
export function checkDecision(d: DecisionInput, limits: DecisionLimits, where: string): DecisionSpec {
  const bad = (field: string, msg: string, hint?: string) =>
    new PwError('PW_ERR_INVALID', `${where}.${field}: ${msg}`, { where: `${where}.${field}`, hint });
  if (!DECISION_ACTIONS.includes(d.action)) throw bad('action', `'${String(d.action)}' is not one of ${DECISION_ACTIONS.join(', ')}`);
  if (d.id !== undefined && !ID.test(d.id)) throw bad('id', 'ids are 1-128 letters, digits and _.:@/-');
  if (typeof d.target !== 'string') throw bad('target', 'an address or prefix is needed');
  const prefix = parsePrefix(d.target, `${where}.target`);
  const spec: DecisionSpec = { id: d.id ?? null, action: d.action, prefix, target: formatPrefix(prefix), ttlMs: 0 };
  if (d.api !== undefined) {
    if (!/^[A-Za-z0-9_.:/{}-]{1,128}$/.test(d.api)) throw bad('api', 'an API name: letters, digits and _.:/{}- (1-128)');
    spec.api = d.api;
  }
  if (d.reason !== undefined) spec.reason = String(d.reason).slice(0, 512);
  if (d.action !== 'unblock' && prefix.plen < WIDEST_DECISION[prefix.family])
    throw bad(
      'target',
      `${spec.target} is wider than a decision may be (/${WIDEST_DECISION[prefix.family]} at most for IPv${prefix.family})`,
      'decisions hold sources; a block this wide belongs in the config (blocklists:)',
    );
  if (d.action === 'unblock') {
    if (d.ttl !== undefined || d.rate !== undefined || d.burst !== undefined) throw bad('action', 'unblock takes no ttl, rate or burst');
    return spec;
  }
  const ttlMs = d.ttl === undefined ? limits.defaultTtlMs : typeof d.ttl === 'number' ? d.ttl * 1000 : parseDuration(d.ttl, `${where}.ttl`);
  if (!(ttlMs >= 1000 && ttlMs <= limits.maxTtlMs))
    throw bad(
      'ttl',
      `must be 1s..${limits.maxTtlMs / 1000}s, got ${ttlMs / 1000}s`,
      'decisions are temporary; a lasting block belongs in the config',
    );
  spec.ttlMs = ttlMs;
  if (d.action === 'limit') {
    if (typeof d.rate !== 'number' || !(d.rate >= MIN_RATE && d.rate <= MAX_RATE))
      throw bad('rate', `packets per second, ${MIN_RATE}..${MAX_RATE}`);
    const burst = d.burst ?? Math.max(1, Math.ceil(d.rate));
    if (!(Number.isInteger(burst) && burst >= 1 && burst <= MAX_BURST)) throw bad('burst', `a whole number of packets, 1..${MAX_BURST}`);
    spec.rate = d.rate;
    spec.burst = burst;
  } else if (d.rate !== undefined || d.burst !== undefined) {
    throw bad('rate', 'only a limit takes a rate and a burst');
  }
  return spec;
}

/** Whether two decisions say the same (an idempotent repeat), ignoring when they were made. */
export function sameDecision(a: DecisionSpec, b: DecisionSpec): boolean {
  return (
    a.action === b.action && a.target === b.target && a.ttlMs === b.ttlMs && a.rate === b.rate && a.burst === b.burst && a.api === b.api
  );
}
