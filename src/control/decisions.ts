/**
 * Operational decisions (filter/decision.ts) kept, applied and ended: a batch is checked
 * whole, then every decision is stored (SQLite, so a restart loses none), written into the
 * pipeline's blocklists before the request is answered (dataplane/seal-table.ts), and told as
 * a notice (audited; webhooks and the event stream carry it). A batch the pipeline has no room
 * for is taken back whole: nothing stored is ever left unenforced.
 *
 * Several decisions may hold one prefix (two gateways, a detector): the prefix is held to the
 * strongest in force — a block over any limit, else the lowest rate — until the last of them
 * expires; when the strongest ends, the next is written. The pipeline enforces each entry's
 * expiry itself; a sweep every second ends the decisions whose time is up and writes what
 * remains, and a repair every few seconds writes again any entry found missing (a config
 * blocklist entry that replaced one and then went, an upgrade that emptied the maps).
 */
import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import { openStateDb } from './state-db.js';
import type { Logger } from 'pino';

import { PwError } from '../errors.js';
import type { Dataplane } from '../dataplane/dataplane.js';
import { PwLimit } from '../generated/pathwise.js';
import { SealTable, type SealSpec } from '../dataplane/seal-table.js';
import { checkDecision, sameDecision, SOURCE_TAG, type DecisionInput, type DecisionLimits, type DecisionSpec } from '../filter/decision.js';
import { formatDuration } from '../util/duration.js';
import { formatPrefix, parsePrefix, prefixesOverlap, type Prefix } from '../util/ip.js';
import type { Notices } from './notices.js';

/** done: an unblock, carried out; exempt: a block or limit whose target overlaps decisions.exempt: not applied, or ended when its prefix became exempt. */
export type DecisionState = 'active' | 'revoked' | 'expired' | 'done' | 'exempt';

export interface Decision {
  id: string;
  action: DecisionSpec['action'];
  target: string;
  rate?: number;
  burst?: number;
  api?: string;
  reason?: string;
  /** Which gateway or tool said it (the batch's source tag). */
  source: string;
  /** Who sent it: the API token's name, 'local', a detector. */
  actor: string;
  createdAt: string;
  /** block and limit: when it ends by itself. */
  expiresAt?: string;
  state: DecisionState;
  endedAt?: string;
  endedBy?: string;
}

export interface DecisionBatch {
  /** The gateway or tool the batch comes from (default: the actor). */
  source?: string;
  decisions: DecisionInput[];
}

export interface DecisionResult {
  id: string;
  /** applied: new; duplicate: this id was seen (nothing done again); unblocked: what it
   * ended; exempt: its target overlaps decisions.exempt, so nothing was applied (recorded and
   * audited as such). */
  status: 'applied' | 'duplicate' | 'unblocked' | 'exempt';
  decision: Decision;
  /** unblock: the decisions it revoked. */
  revoked?: string[];
  /** What the pipeline holds the target to now: block, limit, none — or config (a config blocklist entry is there). */
  held: 'block' | 'limit' | 'config' | 'none';
}

export interface DecisionStats {
  active: number;
  applied: number;
  duplicates: number;
  /** Blocks and limits not applied, or ended: their target overlaps decisions.exempt. */
  exempt: number;
  revoked: number;
  expired: number;
  repaired: number;
}

interface Row {
  id: string;
  action: DecisionSpec['action'];
  target: string;
  rate: number | null;
  burst: number | null;
  ttl_ms: number;
  api: string | null;
  reason: string | null;
  source: string;
  actor: string;
  created_ms: number;
  expires_ms: number | null;
  state: DecisionState;
  ended_ms: number | null;
  ended_by: string | null;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The prefix of decisions.exempt a target overlaps, if any. */
const exemptOf = (exempt: readonly Prefix[], target: Prefix) => exempt.find((e) => prefixesOverlap(e, target));
/** What an exempt decision records as ended by: the exempt prefix. */
const endedByExempt = (e: Prefix) => `decisions.exempt ${formatPrefix(e)}`;

function decisionOf(r: Row): Decision {
  return {
    id: r.id,
    action: r.action,
    target: r.target,
    ...(r.rate !== null ? { rate: r.rate, burst: r.burst! } : {}),
    ...(r.api !== null ? { api: r.api } : {}),
    ...(r.reason !== null ? { reason: r.reason } : {}),
    source: r.source,
    actor: r.actor,
    createdAt: iso(r.created_ms),
    ...(r.expires_ms !== null ? { expiresAt: iso(r.expires_ms) } : {}),
    state: r.state,
    ...(r.ended_ms !== null ? { endedAt: iso(r.ended_ms), endedBy: r.ended_by ?? undefined } : {}),
  };
}

const specOf = (r: Row): DecisionSpec => ({
  id: r.id,
  action: r.action,
  prefix: parsePrefix(r.target),
  target: r.target,
  ttlMs: r.ttl_ms,
  ...(r.rate !== null ? { rate: r.rate, burst: r.burst! } : {}),
  ...(r.api !== null ? { api: r.api } : {}),
});

/** Decisions ended longer ago than this leave the table (the audit log keeps them). */
const KEEP_ENDED_MS = 7 * 86_400_000;
const SWEEP_MS = 1000;
const REPAIR_MS = 5000;

export class Decisions {
  private readonly db: Database.Database;
  private table: SealTable | null = null;
  /** The last log of targets the pipeline refused (writeEach). */
  private refusedLogged = { count: 0, at: 0 };
  private tableOf: Dataplane | null = null;
  private timers: NodeJS.Timeout[] = [];
  private sweeps = 0;
  readonly stats: Omit<DecisionStats, 'active'> = { applied: 0, duplicates: 0, exempt: 0, revoked: 0, expired: 0, repaired: 0 };

  constructor(
    file: string,
    private readonly dp: () => Dataplane,
    private readonly notices: Notices,
    private readonly limits: () => DecisionLimits & { maxActive: number; exempt: readonly Prefix[] },
    private readonly log: Logger,
  ) {
    // Committed before the answer: a decision answered is on disk.
    this.db = openStateDb(file, 'decisions');
    this.db.exec(`CREATE TABLE IF NOT EXISTS decisions (
      id TEXT PRIMARY KEY,
      action TEXT NOT NULL,
      target TEXT NOT NULL,
      rate REAL,
      burst INTEGER,
      ttl_ms INTEGER NOT NULL,
      api TEXT,
      reason TEXT,
      source TEXT NOT NULL,
      actor TEXT NOT NULL,
      created_ms INTEGER NOT NULL,
      expires_ms INTEGER,
      state TEXT NOT NULL,
      ended_ms INTEGER,
      ended_by TEXT
    );
    CREATE INDEX IF NOT EXISTS decisions_state ON decisions (state, expires_ms);
    CREATE INDEX IF NOT EXISTS decisions_target ON decisions (target, state);`);
  }

  /** The seal table of the data plane in use (a new one after a program upgrade). */
  private seals(): SealTable {
    const dp = this.dp();
    if (this.tableOf !== dp || !this.table) {
      this.table = new SealTable(dp.pipeline.maps);
      this.tableOf = dp;
    }
    return this.table;
  }

  /** Starts the sweep and the repair, after writing every decision in force again. */
  start(): void {
    this.resync();
    this.timers.push(
      setInterval(() => this.guarded('sweep', () => this.sweep()), SWEEP_MS),
      setInterval(() => this.guarded('repair', () => this.repair()), REPAIR_MS),
    );
    for (const t of this.timers) t.unref();
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.db.close();
  }

  private guarded(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err }, `decisions: the ${what} failed; it runs again shortly`);
    }
  }

  // ---- in ----------------------------------------------------------------------------------

  /**
   * Applies a batch: all of it is checked first (a bad decision, an id reused for another
   * decision, too many in force: nothing is applied), then each is stored and written; a write
   * the pipeline refuses (its blocklist full) takes the whole batch back.
   */
  submit(batch: DecisionBatch, actor: string): DecisionResult[] {
    const source = batch.source ?? actor;
    if (!SOURCE_TAG.test(source)) throw new PwError('PW_ERR_INVALID', 'source: 1-64 letters, digits and _.:@/-', { where: 'source' });
    if (!Array.isArray(batch.decisions) || !batch.decisions.length)
      throw new PwError('PW_ERR_INVALID', 'decisions: at least one decision is needed', { where: 'decisions' });
    const limits = this.limits();
    const specs = batch.decisions.map((d, i) => checkDecision(d, limits, `decisions[${i}]`));
    const seen = new Map<string, number>();
    const known = specs.map((s, i) => {
      if (s.id === null) return null;
      const where = `decisions[${i}].id`;
      if (seen.has(s.id)) throw new PwError('PW_ERR_INVALID', `${where}: '${s.id}' is also decisions[${seen.get(s.id)}]'s id`, { where });
      seen.set(s.id, i);
      const row = this.row(s.id);
      if (row && !sameDecision(specOf(row), s))
        throw new PwError('PW_ERR_EXISTS', `${where}: '${s.id}' names another decision (${row.action} ${row.target})`, {
          where,
          hint: 'an id is kept for one decision; send a new id for a new decision',
        });
      return row;
    });
    // A block or limit on a target that overlaps an exempt prefix is recorded, never applied:
    // a gateway that logs its load balancer's address, or a detector that takes it for a
    // flood, must not cut the operators off. (A covering target is not applied in part: the
    // pipeline holds a prefix whole.)
    const exemptBy = specs.map((s) => (s.action === 'unblock' ? undefined : exemptOf(limits.exempt, s.prefix)));
    const adding = specs.filter((s, i) => s.action !== 'unblock' && !known[i] && !exemptBy[i]).length;
    const active = this.activeCount();
    if (active + adding > limits.maxActive)
      throw new PwError('PW_ERR_FULL', `${active} decisions are in force and the batch adds ${adding}: at most ${limits.maxActive}`, {
        hint: 'decisions.maxActive in the config; or seal a covering prefix',
      });

    const now = Date.now();
    const results: DecisionResult[] = [];
    const touched = new Set<string>();
    const apply = this.db.transaction(() => {
      specs.forEach((s, i) => {
        const old = known[i];
        if (old) {
          this.stats.duplicates++;
          results.push({ id: old.id, status: 'duplicate', decision: decisionOf(old), held: 'none' });
          return;
        }
        const id = s.id ?? randomUUID();
        const exempt = exemptBy[i];
        const revoked: string[] = [];
        if (s.action === 'unblock') {
          for (const r of this.activeOn(s.target)) {
            this.end(r, 'revoked', now, actor);
            revoked.push(r.id);
          }
        }
        const row: Row = {
          id,
          action: s.action,
          target: s.target,
          rate: s.rate ?? null,
          burst: s.burst ?? null,
          ttl_ms: s.ttlMs,
          api: s.api ?? null,
          reason: s.reason ?? null,
          source,
          actor,
          created_ms: now,
          expires_ms: s.action === 'unblock' || exempt ? null : now + s.ttlMs,
          state: s.action === 'unblock' ? 'done' : exempt ? 'exempt' : 'active',
          ended_ms: exempt ? now : null,
          ended_by: exempt ? endedByExempt(exempt) : null,
        };
        this.db
          .prepare(
            `INSERT INTO decisions (id, action, target, rate, burst, ttl_ms, api, reason, source, actor, created_ms, expires_ms, state, ended_ms, ended_by)
             VALUES (@id, @action, @target, @rate, @burst, @ttl_ms, @api, @reason, @source, @actor, @created_ms, @expires_ms, @state, @ended_ms, @ended_by)`,
          )
          .run(row);
        if (exempt) {
          results.push({ id, status: 'exempt', decision: decisionOf(row), held: 'none' });
          return;
        }
        touched.add(s.target);
        results.push({ id, status: s.action === 'unblock' ? 'unblocked' : 'applied', decision: decisionOf(row), revoked, held: 'none' });
      });
    });
    // Written before the commit, so that a write the pipeline refuses (its blocklist full)
    // rolls the batch back; the targets written by then are written again from what the store
    // holds after the rollback. What the pipeline holds is always what the store says.
    const held = new Map<string, DecisionResult['held']>();
    try {
      this.db.transaction(() => {
        apply();
        for (const t of touched) held.set(t, this.writeOrExplain(t));
      })();
    } catch (e) {
      for (const t of touched) this.guarded(`restore of ${t}`, () => this.write(t));
      throw e;
    }
    results.forEach((r, i) => {
      if (r.status === 'duplicate') {
        r.held = this.heldNow(r.decision.target);
        return;
      }
      if (r.status === 'exempt') {
        r.held = this.heldNow(r.decision.target);
        this.stats.exempt++;
        this.tell(r.decision, 'exempt', actor, undefined, `not applied: it overlaps ${formatPrefix(exemptBy[i]!)} in decisions.exempt`);
        return;
      }
      r.held = held.get(r.decision.target)!;
      this.stats.applied++;
      this.tell(r.decision, r.status === 'unblocked' ? 'unblocked' : 'applied', actor, r.revoked);
    });
    return results;
  }

  /** Ends one decision now (DELETE /v1/decisions/ID). */
  revoke(id: string, actor: string): Decision {
    const row = this.row(id);
    if (!row) throw new PwError('PW_ERR_NOT_FOUND', `no decision with id '${id}'`, { hint: "see 'pathwise decision list --all'" });
    if (row.state !== 'active') throw new PwError('PW_ERR_EXISTS', `decision '${id}' is ${row.state} already`);
    const now = Date.now();
    this.end(row, 'revoked', now, actor);
    this.write(row.target);
    const d = decisionOf({ ...row, state: 'revoked', ended_ms: now, ended_by: actor });
    this.tell(d, 'revoked', actor);
    return d;
  }

  // ---- out ---------------------------------------------------------------------------------

  list(q: { all?: boolean; source?: string; target?: string; limit?: number } = {}): Decision[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (!q.all) where.push("state = 'active'");
    if (q.source) {
      where.push('source = ?');
      args.push(q.source);
    }
    if (q.target) {
      where.push('target = ?');
      args.push(q.target);
    }
    const rows = this.db
      .prepare(`SELECT * FROM decisions${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY created_ms DESC LIMIT ?`)
      .all(...args, q.limit ?? 10_000) as Row[];
    return rows.map(decisionOf);
  }

  get(id: string): Decision {
    const row = this.row(id);
    if (!row) throw new PwError('PW_ERR_NOT_FOUND', `no decision with id '${id}'`);
    return decisionOf(row);
  }

  counts(): DecisionStats {
    return { active: this.activeCount(), ...this.stats };
  }

  // ---- upkeep ------------------------------------------------------------------------------

  /** Ends the decisions whose time is up and writes what remains on their prefixes. */
  sweep(now = Date.now()): number {
    const due = this.db.prepare("SELECT * FROM decisions WHERE state = 'active' AND expires_ms <= ?").all(now) as Row[];
    const targets = new Set<string>();
    for (const r of due) {
      this.end(r, 'expired', r.expires_ms!, 'ttl');
      targets.add(r.target);
      this.stats.expired++;
      this.tell(decisionOf({ ...r, state: 'expired', ended_ms: r.expires_ms, ended_by: 'ttl' }), 'expired', 'ttl');
    }
    this.writeEach(targets, 'after the sweep');
    if (++this.sweeps % 3600 === 0)
      this.db.prepare("DELETE FROM decisions WHERE state != 'active' AND COALESCE(ended_ms, created_ms) < ?").run(now - KEEP_ENDED_MS);
    return due.length;
  }

  /**
   * Ends the decisions in force whose target overlaps decisions.exempt, as a config that adds
   * a prefix there is applied (and at the start, for one applied while the daemon was down):
   * an operator who exempts a blocked load balancer frees it at once. Returns how many ended.
   */
  endExempt(actor: string, now = Date.now()): number {
    const exempt = this.limits().exempt;
    if (!exempt.length) return 0;
    let n = 0;
    const ended: string[] = [];
    for (const t of this.activeTargets()) {
      const by = exemptOf(exempt, parsePrefix(t));
      if (!by) continue;
      const endedBy = endedByExempt(by);
      for (const r of this.activeOn(t)) {
        this.end(r, 'exempt', now, endedBy);
        this.stats.exempt++;
        n++;
        this.tell(
          decisionOf({ ...r, state: 'exempt', ended_ms: now, ended_by: endedBy }),
          'exempt',
          actor,
          undefined,
          `ended: it overlaps ${formatPrefix(by)}, now in decisions.exempt`,
        );
      }
      ended.push(t);
    }
    this.writeEach(ended, 'after exempt decisions ended');
    return n;
  }

  /** Writes again every prefix whose entry is not in the pipeline (returns how many). */
  repair(): number {
    const seals = this.seals();
    const missing = this.activeTargets().filter((t) => !seals.holds(parsePrefix(t)));
    // A config entry holding a target leaves nothing to repair.
    const n = this.writeEach(missing, 'in the repair').filter((held) => held !== 'config').length;
    if (n) this.log.warn({ prefixes: n }, 'decisions: entries missing from the blocklists were written again');
    this.stats.repaired += n;
    return n;
  }

  /** Writes every decision in force again, and removes decision entries no decision explains. */
  resync(): void {
    this.sweep();
    this.endExempt('decisions.exempt');
    const seals = this.seals();
    seals.resetLimiters();
    const targets = new Set(this.activeTargets());
    this.writeEach(targets, 'at start');
    for (const p of seals.orphans((t) => targets.has(t))) seals.clear(p);
  }

  // ---- the store and the pipeline ----------------------------------------------------------

  private row(id: string): Row | undefined {
    return this.db.prepare('SELECT * FROM decisions WHERE id = ?').get(id) as Row | undefined;
  }

  private activeOn(target: string): Row[] {
    return this.db.prepare("SELECT * FROM decisions WHERE target = ? AND state = 'active'").all(target) as Row[];
  }

  private activeTargets(): string[] {
    return (this.db.prepare("SELECT DISTINCT target FROM decisions WHERE state = 'active'").all() as { target: string }[]).map(
      (r) => r.target,
    );
  }

  private activeCount(): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM decisions WHERE state = 'active'").get() as { n: number }).n;
  }

  private end(r: Row, state: 'revoked' | 'expired' | 'exempt', at: number, by: string): void {
    this.db.prepare('UPDATE decisions SET state = ?, ended_ms = ?, ended_by = ? WHERE id = ?').run(state, at, by, r.id);
    if (state === 'revoked') this.stats.revoked++;
  }

  /**
   * Writes a prefix's entry from the decisions in force on it: the strongest (a block, else the
   * lowest rate), until the last of them ends; none left, the entry goes.
   */
  private write(target: string): DecisionResult['held'] {
    const rows = this.activeOn(target).filter((r) => r.action !== 'unblock');
    const prefix = parsePrefix(target);
    const seals = this.seals();
    if (!rows.length) {
      seals.clear(prefix);
      return 'none';
    }
    const strongest = rows.reduce((a, b) => (rank(b) < rank(a) ? b : a));
    const spec: SealSpec = {
      prefix,
      action: strongest.action === 'block' ? 'block' : 'limit',
      ...(strongest.action === 'limit' ? { rate: strongest.rate!, burst: strongest.burst! } : {}),
      expiresAt: Math.max(...rows.map((r) => r.expires_ms!)),
    };
    return seals.write(spec) === 'covered' ? 'config' : spec.action;
  }

  /**
   * write() for each target, one refused (its blocklist full) not stopping the others: the
   * refused stay in force in the store, are logged (at most once a minute while their count
   * stays the same), and the repair tries them again. Returns what the written ones hold.
   */
  private writeEach(targets: Iterable<string>, what: string): DecisionResult['held'][] {
    const held: DecisionResult['held'][] = [];
    const refused: { target: string; err: unknown }[] = [];
    for (const t of targets) {
      try {
        held.push(this.write(t));
      } catch (err) {
        refused.push({ target: t, err });
      }
    }
    const now = Date.now();
    if (refused.length && (refused.length !== this.refusedLogged.count || now - this.refusedLogged.at >= 60_000)) {
      this.refusedLogged = { count: refused.length, at: now };
      this.log.error(
        { err: refused[0]!.err, targets: refused.slice(0, 10).map((r) => r.target), count: refused.length },
        `decisions: ${refused.length} target(s) could not be written into the pipeline ${what}; they stay in force and the repair tries them again`,
      );
    }
    if (!refused.length && held.length) this.refusedLogged = { count: 0, at: 0 };
    return held;
  }

  /** write(), its failure said in the decisions' terms. */
  private writeOrExplain(target: string): DecisionResult['held'] {
    try {
      return this.write(target);
    } catch (e) {
      const err = e instanceof PwError ? e : new PwError('PW_ERR_KERNEL', (e as Error).message, { cause: e });
      // The blocklist full (ENOSPC), not the seal limiters (their own error and hint).
      const listFull = (err.details as { errno?: number } | undefined)?.errno === -28;
      throw new PwError(
        err.code,
        `writing the decisions on ${target} into the pipeline failed: ${err.message}; nothing of the batch was applied`,
        {
          where: target,
          hint: listFull
            ? `the IPv${target.includes(':') ? 6 : 4} blocklist holds at most ${PwLimit.BLOCK_MAX.toLocaleString('en')} entries, the config's blocklists and rate-limit escalations among them: shorten the config's lists, or seal covering prefixes`
            : err.hint,
          cause: e,
        },
      );
    }
  }

  private heldNow(target: string): DecisionResult['held'] {
    const rows = this.activeOn(target);
    if (!rows.length) return 'none';
    if (!this.seals().holds(parsePrefix(target))) return 'config';
    return rows.some((r) => r.action === 'block') ? 'block' : 'limit';
  }

  /** `note`: said after what the decision is (why an exempt one was not applied or ended). */
  private tell(d: Decision, event: string, actor: string, revoked?: string[], note?: string): void {
    const what =
      d.action === 'block'
        ? `block ${d.target}`
        : d.action === 'limit'
          ? `limit ${d.target} to ${d.rate} packets/s (burst ${d.burst})`
          : `unblock ${d.target}`;
    const ttl = d.expiresAt ? ` for ${formatDuration(Date.parse(d.expiresAt) - Date.parse(d.createdAt))}` : '';
    this.notices.publish({
      kind: 'decision',
      event,
      subject: d.target,
      actor,
      summary: `${event}: ${what}${event === 'applied' ? ttl : ''}${note ? ` ${note}` : ''} (from ${d.source}${d.api ? `, API ${d.api}` : ''}${d.reason ? `: ${d.reason}` : ''})`,
      details: { decision: d, ...(revoked?.length ? { revoked } : {}) },
    });
  }
}

/** Strength for choosing among decisions on one prefix: lower is stronger. */
const rank = (r: Row) => (r.action === 'block' ? -Infinity : r.rate!);
