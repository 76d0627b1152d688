/**
 * The audit trail: every decision, seal and unseal, anomaly, config change, path change,
 * backend state change and webhook delivery, in one append-only SQLite table (a trigger refuses
 * updates; only retention removes rows, oldest first). Queried by time, kind and subject;
 * exported as JSON lines. One file per instance beside the history (STATE_DIR/INSTANCE/audit.db).
 */
import type Database from 'better-sqlite3';
import { openStateDb } from './state-db.js';

export type AuditKind = 'decision' | 'anomaly' | 'config' | 'path' | 'backend' | 'webhook';
export const AUDIT_KINDS: AuditKind[] = ['decision', 'anomaly', 'config', 'path', 'backend', 'webhook'];

export interface AuditRecord {
  id: number;
  at: string;
  kind: AuditKind;
  /** applied, revoked, expired, sealed, detected, version, changed, down, up, delivered, failed... */
  event: string;
  subject: string;
  actor: string;
  summary: string;
  details: Record<string, unknown>;
}

export interface AuditQuery {
  /** Records at or after this time (ms since the epoch). */
  since?: number;
  until?: number;
  /** A subject, or the start of one: `10.0.0.` matches every subject that begins so. */
  subject?: string;
  kinds?: AuditKind[];
  /** Records after this id (to follow the log page by page). */
  afterId?: number;
  /** At most this many, oldest first (default 1000). */
  limit?: number;
  /** The newest `limit` that match rather than the oldest (still listed oldest first). */
  last?: boolean;
}

/** A record as the table holds it: its details as JSON text. */
type Row = Omit<AuditRecord, 'details'> & { details: string };

export class AuditLog {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private appended = 0;

  constructor(
    readonly file: string,
    /** Records older than this many days go (config `audit.retentionDays`). */
    private retentionDays = 90,
  ) {
    this.db = openStateDb(file, 'audit');
    this.db.exec(`CREATE TABLE IF NOT EXISTS audit (
      id INTEGER PRIMARY KEY,
      at TEXT NOT NULL,
      ms INTEGER NOT NULL,
      kind TEXT NOT NULL,
      event TEXT NOT NULL,
      subject TEXT NOT NULL,
      actor TEXT NOT NULL,
      summary TEXT NOT NULL,
      details TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS audit_ms ON audit (ms);
    CREATE INDEX IF NOT EXISTS audit_subject ON audit (subject);
    CREATE TRIGGER IF NOT EXISTS audit_append_only BEFORE UPDATE ON audit
      BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;`);
    this.insert = this.db.prepare(
      'INSERT INTO audit (at, ms, kind, event, subject, actor, summary, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
  }

  setRetention(days: number): void {
    this.retentionDays = days;
  }

  append(r: Omit<AuditRecord, 'id' | 'at'> & { at?: string }): AuditRecord {
    const at = r.at ?? new Date().toISOString();
    const info = this.insert.run(at, Date.parse(at), r.kind, r.event, r.subject, r.actor, r.summary, JSON.stringify(r.details));
    // Retention is applied as records come, not on a timer: a quiet log costs nothing.
    if (++this.appended % 1000 === 0) this.prune();
    return { ...r, at, id: Number(info.lastInsertRowid) };
  }

  /**
   * Runs `fn` with the records it appends committed together: one write to disk, not one each
   * (a batch of 10,000 decisions, or their expiry, appends as many records; each alone cost
   * ~70 µs here, most of it its commit). A commit that fails loses those records, not what
   * `fn` did: the error goes to `failed`, not to the caller.
   */
  batch<T>(fn: () => T, failed: (err: unknown) => void): T {
    if (this.db.inTransaction) return fn();
    this.db.exec('BEGIN');
    try {
      return fn();
    } finally {
      try {
        this.db.exec('COMMIT');
      } catch (err) {
        failed(err);
        try {
          if (this.db.inTransaction) this.db.exec('ROLLBACK');
        } catch {
          // Nothing more to undo: SQLite rolled the transaction back itself.
        }
      }
    }
  }

  query(q: AuditQuery = {}): AuditRecord[] {
    const where: string[] = [];
    const args: unknown[] = [];
    const when = (clause: string, ...values: unknown[]) => {
      where.push(clause);
      args.push(...values);
    };
    if (q.since !== undefined) when('ms >= ?', q.since);
    if (q.until !== undefined) when('ms < ?', q.until);
    if (q.afterId !== undefined) when('id > ?', q.afterId);
    // A subject as given, or any subject it begins (LIKE with its wildcards escaped).
    if (q.subject) when("(subject = ? OR subject LIKE ? ESCAPE '\\')", q.subject, `${q.subject.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    if (q.kinds?.length) when(`kind IN (${q.kinds.map(() => '?').join(', ')})`, ...q.kinds);
    const sql = `SELECT id, at, kind, event, subject, actor, summary, details FROM audit${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id ${q.last ? 'DESC' : ''} LIMIT ?`;
    const rows = this.db.prepare(sql).all(...args, q.limit ?? 1000) as Row[];
    if (q.last) rows.reverse();
    return rows.map((r) => ({ ...r, details: JSON.parse(r.details) as Record<string, unknown> }));
  }

  /** Removes records older than the retention; returns how many went. */
  prune(now = Date.now()): number {
    return this.db.prepare('DELETE FROM audit WHERE ms < ?').run(now - this.retentionDays * 86_400_000).changes;
  }

  close(): void {
    this.db.close();
  }
}

/** One record per line, as `pathwise audit --jsonl` and GET /v1/audit?format=jsonl give them. */
export const auditJsonLines = (records: AuditRecord[]): string => records.map((r) => `${JSON.stringify(r)}\n`).join('');
