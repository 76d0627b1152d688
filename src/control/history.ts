/**
 * The audit log: every applied change is a numbered version with who, how, when, what changed
 * and the whole config it produced (which makes any version a rollback target). SQLite through
 * better-sqlite3, in WAL mode, one file per instance.
 */
import type Database from 'better-sqlite3';
import { openStateDb } from './state-db.js';

import { PwError } from '../errors.js';
import type { Config } from './config/schema.js';
import type { ChangeSummary } from './reconcile.js';

export interface VersionRecord {
  version: number;
  at: string;
  /** Who asked: 'daemon', a token's name, 'local' (unix socket). */
  actor: string;
  /** How: 'start', 'reload (SIGHUP)', 'api: POST /v1/routes', 'rollback to 3'. */
  source: string;
  /** What changed: all of it, or the first MAX_RECORDED_CHANGES when changesTotal is set. */
  changes: ChangeSummary[];
  /** How many changes the version made, when there were more than `changes` lists. */
  changesTotal?: number;
  config: Config;
}

/**
 * The changes a version keeps a line for. A daemon that starts on a full table its config
 * does not hold removes 900k routes in one version: their summaries were ~70 MB of JSON per
 * version (twice, with the audit log's copy), parsed again at every later reconcile. The
 * count stays exact; the config stays whole, so a rollback loses nothing.
 */
export const MAX_RECORDED_CHANGES = 1000;

/**
 * The changes as a version records them: the first MAX_RECORDED_CHANGES, and the count when
 * there were more (`total`: how many the list was cut from, when the caller cut it already).
 */
export function recordedChanges(changes: ChangeSummary[], total = changes.length): { changes: ChangeSummary[]; changesTotal?: number } {
  const kept = changes.length > MAX_RECORDED_CHANGES ? changes.slice(0, MAX_RECORDED_CHANGES) : changes;
  return total > kept.length ? { changes: kept, changesTotal: total } : { changes: kept };
}

/** A path group's decision: what the new flows' shares were and became, and why. */
export interface PathDecisionRecord {
  at: string;
  group: string;
  /** Shares per path before and after ('fallback: kernel' when every path is down). */
  from: Record<string, number> | string;
  to: Record<string, number> | string;
  reason: string;
  /** The measurements that decided it, per path. */
  paths: Record<string, { state: string; rttMs: number | null; lossRatio: number; loadBps: number }>;
}

/** A version without its config, as `pathwise history` lists it. */
export type HistoryEntry = Omit<VersionRecord, 'config'>;

export class History {
  private readonly db: Database.Database;

  constructor(readonly file: string) {
    // Configs hold API tokens: the history is for root's eyes only (0600).
    this.db = openStateDb(file, 'history');
    this.db.exec(`CREATE TABLE IF NOT EXISTS versions (
      version INTEGER PRIMARY KEY,
      at TEXT NOT NULL,
      actor TEXT NOT NULL,
      source TEXT NOT NULL,
      changes TEXT NOT NULL,
      config TEXT NOT NULL
    )`);
    // Added 2026-12-03: the count of a version's changes when `changes` lists only the first.
    const columns = this.db.prepare('PRAGMA table_info(versions)').all() as { name: string }[];
    if (!columns.some((c) => c.name === 'changes_total')) this.db.exec('ALTER TABLE versions ADD COLUMN changes_total INTEGER');
    // Path decisions are operational state, not config: their own table, not a version each.
    this.db.exec(`CREATE TABLE IF NOT EXISTS path_decisions (
      id INTEGER PRIMARY KEY,
      at TEXT NOT NULL,
      grp TEXT NOT NULL,
      decision TEXT NOT NULL
    )`);
  }

  /** Records a path group's decision (control/path-manager.ts); keeps the newest `keep`. */
  recordDecision(d: PathDecisionRecord, keep = 10_000): void {
    const { at, group, ...rest } = d;
    const info = this.db.prepare('INSERT INTO path_decisions (at, grp, decision) VALUES (?, ?, ?)').run(at, group, JSON.stringify(rest));
    if (Number(info.lastInsertRowid) % 100 === 0)
      this.db.prepare('DELETE FROM path_decisions WHERE id <= ?').run(Number(info.lastInsertRowid) - keep);
  }

  /** Path decisions, newest first (of one group, or all). */
  decisions(opts: { limit?: number; group?: string } = {}): PathDecisionRecord[] {
    const limit = opts.limit ?? 100;
    const rows = (
      opts.group
        ? this.db.prepare('SELECT at, grp, decision FROM path_decisions WHERE grp = ? ORDER BY id DESC LIMIT ?').all(opts.group, limit)
        : this.db.prepare('SELECT at, grp, decision FROM path_decisions ORDER BY id DESC LIMIT ?').all(limit)
    ) as { at: string; grp: string; decision: string }[];
    return rows.map((r) => ({ at: r.at, group: r.grp, ...(JSON.parse(r.decision) as Omit<PathDecisionRecord, 'at' | 'group'>) }));
  }

  /** Records a version (its changes as recordedChanges() keeps them). */
  record(v: Omit<VersionRecord, 'version' | 'at'>): VersionRecord {
    const at = new Date().toISOString();
    const kept = recordedChanges(v.changes, v.changesTotal);
    const info = this.db
      .prepare('INSERT INTO versions (at, actor, source, changes, changes_total, config) VALUES (?, ?, ?, ?, ?, ?)')
      .run(at, v.actor, v.source, JSON.stringify(kept.changes), kept.changesTotal ?? null, JSON.stringify(v.config));
    return { ...v, ...kept, version: Number(info.lastInsertRowid), at };
  }

  latest(): VersionRecord | null {
    const row = this.db.prepare('SELECT * FROM versions ORDER BY version DESC LIMIT 1').get() as Row | undefined;
    return row ? decode(row) : null;
  }

  get(version: number): VersionRecord {
    const row = this.db.prepare('SELECT * FROM versions WHERE version = ?').get(version) as Row | undefined;
    if (!row) throw new PwError('PW_ERR_NOT_FOUND', `no version ${version} in the history`, { hint: "see 'pathwise history'" });
    return decode(row);
  }

  /** Newest first, without the configs. */
  list(limit = 50): HistoryEntry[] {
    const rows = this.db
      .prepare('SELECT version, at, actor, source, changes, changes_total FROM versions ORDER BY version DESC LIMIT ?')
      .all(limit) as Row[];
    return rows.map((r) => ({
      version: r.version,
      at: r.at,
      actor: r.actor,
      source: r.source,
      changes: JSON.parse(r.changes),
      ...(r.changes_total === null ? {} : { changesTotal: r.changes_total }),
    }));
  }

  /** Keeps the newest `keep` versions (config `history.keep`): the history does not grow without bound. */
  prune(keep: number): number {
    return this.db.prepare('DELETE FROM versions WHERE version <= (SELECT MAX(version) FROM versions) - ?').run(keep).changes;
  }

  close(): void {
    this.db.close();
  }
}

interface Row {
  version: number;
  at: string;
  actor: string;
  source: string;
  changes: string;
  changes_total: number | null;
  config: string;
}

const decode = ({ changes_total, ...r }: Row): VersionRecord => ({
  ...r,
  changes: JSON.parse(r.changes),
  ...(changes_total === null ? {} : { changesTotal: changes_total }),
  config: JSON.parse(r.config),
});
