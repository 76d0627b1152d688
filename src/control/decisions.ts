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
import { PwBlockOrigin, PwLimit } from '../generated/pathwise.js';
import { SealTable, type FoundDecisionEntries, type SealSpec } from '../dataplane/seal-table.js';
import { ActiveDecisions, ACTIVE_COLUMNS, blockKeyOf, type HeldDecision } from './active-decisions.js';
import { checkDecision, sameDecision, SOURCE_TAG, type DecisionInput, type DecisionLimits, type DecisionSpec } from '../filter/decision.js';
import { formatDuration } from '../util/duration.js';
import { formatPrefix, parsePrefix, prefixesOverlap, type Prefix } from '../util/ip.js';
import { code4Text } from '../filter/blocklist.js';
import { BlockKeySet } from '../filter/block-key-set.js';
import { Turns } from '../util/turn.js';
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
/**
 * Most decisions one sweep ends. The pipeline expires each entry itself, so what a sweep
 * leaves for the next second is held no longer (only a weaker decision on the same prefix
 * waits that much to be written); hundreds of thousands ending in the same second do not hold
 * the API up meanwhile.
 */
const SWEEP_MAX = 20_000;
const REPAIR_MS = 5000;
/** Prefixes in force up to which the repair looks each one up rather than reading the blocklists whole. */
const REPAIR_LOOKUPS_MAX = 4096;

export class Decisions {
  private readonly db: Database.Database;
  /** The store's decisions in force, in memory (read by prefix at every write). */
  private readonly active = new ActiveDecisions();
  private readonly statements = new Map<string, Database.Statement>();
  private table: SealTable | null = null;
  /** The last log of targets the pipeline refused (writeEach). */
  private refusedLogged = { count: 0, at: 0 };
  private tableOf: Dataplane | null = null;
  private timers: NodeJS.Timeout[] = [];
  private repairTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private sweeps = 0;
  readonly stats: Omit<DecisionStats, 'active'> = { applied: 0, duplicates: 0, exempt: 0, revoked: 0, expired: 0, repaired: 0 };

  constructor(
    file: string,
    private readonly dp: () => Dataplane,
    private readonly notices: Notices,
    private readonly limits: () => DecisionLimits & { maxActive: number; exempt: readonly Prefix[] },
    private readonly log: Logger,
    /** Runs what publishes many notices at once so that they are recorded together (the audit log's batch). */
    private readonly together: <T>(fn: () => T) => T = (fn) => fn(),
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
    CREATE INDEX IF NOT EXISTS decisions_target ON decisions (target, state);
    CREATE INDEX IF NOT EXISTS decisions_listed ON decisions (state, created_ms);`);
    this.loadActive();
  }

  /** The store's decisions in force read into memory (at the start, and after a rollback). */
  private loadActive(): void {
    this.active.load(this.sql(`SELECT ${ACTIVE_COLUMNS} FROM decisions WHERE state = 'active'`).raw().iterate() as Iterable<unknown[]>);
  }

  /** A statement prepared once (a prepare costs as much as the query it runs). */
  private sql(text: string): Database.Statement {
    let st = this.statements.get(text);
    if (!st) {
      st = this.db.prepare(text);
      this.statements.set(text, st);
    }
    return st;
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
    const { kept, written } = this.resync();
    if (kept + written)
      this.log.info({ kept, written }, 'decisions: the entries in force were found in the pipeline (kept) or written again');
    this.timers.push(setInterval(() => this.guarded('sweep', () => this.sweep()), SWEEP_MS));
    this.timers[0]!.unref();
    this.scheduleRepair(REPAIR_MS);
  }

  /**
   * The repair runs every REPAIR_MS, or, when it takes longer than a twentieth of that (it
   * reads both blocklists whole when many prefixes are in force: ~0.5 s with 500,000 here, in
   * turns of the event loop), twenty times as long as it took, so that it never takes more than
   * ~5 % of the daemon's time.
   */
  private scheduleRepair(delay: number): void {
    if (this.stopped) return;
    this.repairTimer = setTimeout(() => {
      const t0 = performance.now();
      void this.repair()
        .catch((err: unknown) => this.log.error({ err }, 'decisions: the repair failed; it runs again shortly'))
        .finally(() => this.scheduleRepair(Math.max(REPAIR_MS, 20 * (performance.now() - t0))));
    }, delay);
    this.repairTimer.unref();
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    clearTimeout(this.repairTimer);
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
    const active = this.active.size;
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
          for (const d of [...this.active.on(s.target)]) {
            this.end(d.id, s.target, 'revoked', now, actor);
            revoked.push(d.id);
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
        this.sql(
          `INSERT INTO decisions (id, action, target, rate, burst, ttl_ms, api, reason, source, actor, created_ms, expires_ms, state, ended_ms, ended_by)
             VALUES (@id, @action, @target, @rate, @burst, @ttl_ms, @api, @reason, @source, @actor, @created_ms, @expires_ms, @state, @ended_ms, @ended_by)`,
        ).run(row);
        if (row.state === 'active') this.active.add(row.target, heldOf(row));
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
      // The store rolled back: so does what is held in memory.
      this.loadActive();
      for (const t of touched) this.guarded(`restore of ${t}`, () => this.write(t));
      throw e;
    }
    // Told together: the audit log records a batch's notices in one commit.
    this.together(() =>
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
      }),
    );
    return results;
  }

  /** Ends one decision now (DELETE /v1/decisions/ID). */
  revoke(id: string, actor: string): Decision {
    const row = this.row(id);
    if (!row) throw new PwError('PW_ERR_NOT_FOUND', `no decision with id '${id}'`, { hint: "see 'pathwise decision list --all'" });
    if (row.state !== 'active') throw new PwError('PW_ERR_EXISTS', `decision '${id}' is ${row.state} already`);
    const now = Date.now();
    this.end(row.id, row.target, 'revoked', now, actor);
    this.write(row.target);
    const d = decisionOf({ ...row, state: 'revoked', ended_ms: now, ended_by: actor });
    this.tell(d, 'revoked', actor);
    return d;
  }

  // ---- out ---------------------------------------------------------------------------------

  /** Decisions newest first, `limit` (10,000) from `offset`; in force only unless `all`. */
  list(q: DecisionFilter & { limit?: number; offset?: number } = {}): Decision[] {
    const { where, args } = whereOf(q);
    const rows = this.sql(`SELECT * FROM decisions${where} ORDER BY created_ms DESC, rowid DESC LIMIT ? OFFSET ?`).all(
      ...args,
      q.limit ?? 10_000,
      q.offset ?? 0,
    ) as Row[];
    return rows.map(decisionOf);
  }

  /** How many decisions list() would give without a limit. */
  count(q: DecisionFilter = {}): number {
    const { where, args } = whereOf(q);
    return (this.sql(`SELECT COUNT(*) AS n FROM decisions${where}`).get(...args) as { n: number }).n;
  }

  get(id: string): Decision {
    const row = this.row(id);
    if (!row) throw new PwError('PW_ERR_NOT_FOUND', `no decision with id '${id}'`);
    return decisionOf(row);
  }

  counts(): DecisionStats {
    return { active: this.active.size, ...this.stats };
  }

  // ---- upkeep ------------------------------------------------------------------------------

  /**
   * Ends the decisions whose time is up (at most SWEEP_MAX of them) and writes what remains on
   * their prefixes. Returns how many ended.
   */
  sweep(now = Date.now()): number {
    const due = this.sql("SELECT * FROM decisions WHERE state = 'active' AND expires_ms <= ? ORDER BY expires_ms LIMIT ?").all(
      now,
      SWEEP_MAX,
    ) as Row[];
    const targets = new Set<string>();
    this.transaction(() => {
      for (const r of due) {
        this.end(r.id, r.target, 'expired', r.expires_ms!, 'ttl');
        targets.add(r.target);
      }
    });
    this.together(() => {
      for (const r of due) {
        this.stats.expired++;
        this.tell(decisionOf({ ...r, state: 'expired', ended_ms: r.expires_ms, ended_by: 'ttl' }), 'expired', 'ttl');
      }
    });
    this.writeEach(targets, 'after the sweep');
    if (++this.sweeps % 3600 === 0)
      this.sql("DELETE FROM decisions WHERE state != 'active' AND COALESCE(ended_ms, created_ms) < ?").run(now - KEEP_ENDED_MS);
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
    const hit = [...this.active.targets()].flatMap((t) => {
      const by = exemptOf(exempt, parsePrefix(t));
      return by ? [{ t, by, rows: this.sql("SELECT * FROM decisions WHERE target = ? AND state = 'active'").all(t) as Row[] }] : [];
    });
    this.transaction(() => {
      for (const { by, rows } of hit) for (const r of rows) this.end(r.id, r.target, 'exempt', now, endedByExempt(by));
    });
    let n = 0;
    this.together(() => {
      for (const { by, rows } of hit) {
        for (const r of rows) {
          this.stats.exempt++;
          n++;
          this.tell(
            decisionOf({ ...r, state: 'exempt', ended_ms: now, ended_by: endedByExempt(by) }),
            'exempt',
            actor,
            undefined,
            `ended: it overlaps ${formatPrefix(by)}, now in decisions.exempt`,
          );
        }
      }
    });
    this.writeEach(
      hit.map((h) => h.t),
      'after exempt decisions ended',
    );
    return n;
  }

  /**
   * Writes again every prefix whose entry is not in the pipeline (returns how many). A few
   * prefixes are looked up one by one; more than REPAIR_LOOKUPS_MAX, the blocklists are read
   * in one walk and compared with what is held in memory (a lookup is a system call: seconds
   * for hundreds of thousands; a walk reads a million-entry config list too, ~0.5 s). The walk
   * and the comparison run in turns of the event loop.
   */
  async repair(): Promise<number> {
    let held: (target: string) => boolean;
    // The targets in force before the walk: one written while it ran may have been passed by
    // it. A target revoked meanwhile is skipped below (nothing in force on it any more).
    const targets = [...this.active.targets()];
    if (targets.length <= REPAIR_LOOKUPS_MAX) {
      const seals = this.seals();
      held = (target) => seals.holds(parsePrefix(target));
    } else {
      const inForce = new BlockKeySet();
      // A config entry holding a target leaves nothing to repair; an escalation there is written over.
      await this.dp().filter.forEachBlockOfInTurns([PwBlockOrigin.DECISION, PwBlockOrigin.CONFIG], (key) => inForce.add(key));
      held = (target) => inForce.has(blockKeyOf(target));
    }
    // An entry the pipeline let expire, on decisions the sweep has not ended yet (it ends
    // SWEEP_MAX a second), is not missing: the sweep ends them.
    const due = Date.now() + SWEEP_MS;
    const missing: string[] = [];
    const turns = new Turns(10, 1024);
    for (const [i, target] of targets.entries()) {
      if (turns.due(i)) await turns.take();
      if (this.stopped) return 0;
      if (this.active.on(target).some((d) => d.expiresMs > due) && !held(target)) missing.push(target);
    }
    // A target a config entry holds is written as 'config': nothing was missing there.
    const n = this.writeEach(missing, 'in the repair').filter((h) => h !== 'config').length;
    if (n) this.log.warn({ prefixes: n }, 'decisions: entries missing from the blocklists were written again');
    this.stats.repaired += n;
    return n;
  }

  /**
   * Writes every decision in force again, and removes decision entries no decision explains:
   * at the start and after a program upgrade. One walk of the blocklists finds the config's
   * entries (which hold their prefixes already) and the decisions' own; those that hold what
   * is in force stay as they are (a restart rewrites nothing and opens no gap: see
   * SealTable.beginResync), the rest is written in batches. Returns how many stayed and how many
   * were written.
   */
  resync(): { kept: number; written: number } {
    while (this.sweep() === SWEEP_MAX);
    this.endExempt('decisions.exempt');
    const seals = this.seals();
    const config = new BlockKeySet();
    const ours: (number | string)[] = [];
    const found: FoundDecisionEntries = { expiresInMs: new Map(), limiter: new Map(), at: Date.now() };
    this.dp().filter.forEachBlockOf([PwBlockOrigin.DECISION, PwBlockOrigin.CONFIG], (key, origin, expiresInMs, limiter) => {
      if (origin === PwBlockOrigin.CONFIG) return config.add(key);
      ours.push(key);
      if (expiresInMs !== null) found.expiresInMs.set(key, expiresInMs);
      if (limiter) found.limiter.set(key, limiter);
    });
    // What the pinned blocklists hold already stays, seals with their limiters; the rest is
    // written. The prefix of one kept is not parsed (at 500,000, parsing them cost ~0.5 s).
    seals.beginResync(found);
    const known = new BlockKeySet(); // the keys of the prefixes in force: the other decision entries go
    const toWrite: (SealSpec & { text: string })[] = [];
    let kept = 0;
    for (const target of this.active.targets()) {
      const key = blockKeyOf(target);
      known.add(key);
      if (config.has(key)) continue;
      const held = heldBy(this.active.on(target));
      const family = typeof key === 'number' ? 4 : 6;
      const plen = Number(target.slice(target.lastIndexOf('/') + 1));
      if (seals.keeps({ ...held, text: target, key, family, plen })) kept++;
      else toWrite.push({ ...held, prefix: parsePrefix(target), text: target });
    }
    try {
      try {
        seals.writeMany(toWrite);
      } catch (err) {
        // Refused (the blocklist full, or no batch writes here): one by one, each refused logged.
        this.log.warn({ err }, 'decisions: writing the decisions in force in batches failed; writing them one by one');
        this.writeEach(
          toWrite.map((s) => s.text),
          'at start',
        );
      }
      seals.clearMany(ours.filter((key) => !known.has(key)).map((key) => (typeof key === 'number' ? code4Text(key) : key)));
    } finally {
      seals.endResync();
    }
    return { kept, written: toWrite.length };
  }

  // ---- the store and the pipeline ----------------------------------------------------------

  private row(id: string): Row | undefined {
    return this.sql('SELECT * FROM decisions WHERE id = ?').get(id) as Row | undefined;
  }

  /** Runs `fn` in one transaction of the store; rolled back, what is held in memory is read again. */
  private transaction(fn: () => void): void {
    try {
      this.db.transaction(fn)();
    } catch (e) {
      this.loadActive();
      throw e;
    }
  }

  private end(id: string, target: string, state: 'revoked' | 'expired' | 'exempt', at: number, by: string): void {
    this.sql('UPDATE decisions SET state = ?, ended_ms = ?, ended_by = ? WHERE id = ?').run(state, at, by, id);
    this.active.remove(target, id);
    if (state === 'revoked') this.stats.revoked++;
  }

  /** What a prefix's entry holds, from the decisions in force on it: the strongest (a block, else the lowest rate), until the last of them ends. */
  private specOn(target: string, held: readonly HeldDecision[]): SealSpec {
    return { prefix: parsePrefix(target), ...heldBy(held) };
  }

  /** Writes a prefix's entry from the decisions in force on it (specOn); none left, the entry goes. */
  private write(target: string): DecisionResult['held'] {
    const held = this.active.on(target);
    const seals = this.seals();
    if (!held.length) {
      seals.clear(parsePrefix(target));
      return 'none';
    }
    const spec = this.specOn(target, held);
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
    const held = this.active.on(target);
    if (!held.length) return 'none';
    if (!this.seals().holds(parsePrefix(target))) return 'config';
    return held.some((d) => d.action === 'block') ? 'block' : 'limit';
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

/** Which decisions a listing takes: in force only unless `all`; of one source, on one target. */
export interface DecisionFilter {
  all?: boolean;
  source?: string;
  target?: string;
}

function whereOf(q: DecisionFilter): { where: string; args: string[] } {
  const where: string[] = [];
  const args: string[] = [];
  if (!q.all) where.push("state = 'active'");
  if (q.source) {
    where.push('source = ?');
    args.push(q.source);
  }
  if (q.target) {
    where.push('target = ?');
    args.push(q.target);
  }
  return { where: where.length ? ` WHERE ${where.join(' AND ')}` : '', args };
}

/** Strength for choosing among decisions on one prefix: lower is stronger. */
const rank = (d: HeldDecision) => (d.action === 'block' ? -Infinity : d.rate!);

/** What the decisions on a prefix hold it to (SealSpec but the prefix): the strongest, until the last of them ends. */
function heldBy(held: readonly HeldDecision[]): Omit<SealSpec, 'prefix'> {
  const strongest = held.reduce((a, b) => (rank(b) < rank(a) ? b : a));
  return {
    action: strongest.action,
    ...(strongest.action === 'limit' ? { rate: strongest.rate!, burst: strongest.burst! } : {}),
    expiresAt: held.reduce((m, d) => Math.max(m, d.expiresMs), 0),
  };
}

/** A stored decision in force as it is held in memory. */
const heldOf = (r: Row): HeldDecision => ({
  id: r.id,
  action: r.action as HeldDecision['action'],
  rate: r.rate,
  burst: r.burst,
  expiresMs: r.expires_ms!,
});
