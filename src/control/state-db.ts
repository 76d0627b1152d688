/** The instance's SQLite files (history, audit, decisions): one way to open them. */
import { chmodSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

import { PwError } from '../errors.js';

/**
 * Opens (creating) a state database: its directory 0700 and the file 0600 — configs hold API
 * tokens, the audit log and decisions name who did what — in WAL mode. `what` names it in errors.
 */
export function openStateDb(file: string, what: string): Database.Database {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  let db: Database.Database;
  try {
    db = new Database(file);
  } catch (e) {
    throw new PwError('PW_ERR_INTERNAL', `cannot open the ${what} database ${file}: ${(e as Error).message}`, { where: file });
  }
  chmodSync(file, 0o600);
  db.pragma('journal_mode = WAL');
  return db;
}
