/**
 * The version history: a version keeps a line for at most MAX_RECORDED_CHANGES changes and
 * the exact count past that (a daemon that removes a full table in one version), and a history
 * written before the count existed reads as it was.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

import Database from 'better-sqlite3';

import type { Config } from '../../src/control/config/schema.js';
import { History, MAX_RECORDED_CHANGES, recordedChanges } from '../../src/control/history.js';
import type { ChangeSummary } from '../../src/control/reconcile.js';

const dir = mkdtempSync(join(tmpdir(), 'pw-history-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const routeDeletes = (n: number): ChangeSummary[] =>
  Array.from({ length: n }, (_, i) => ({ kind: 'route', op: 'delete', key: `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}/32` }));
const config = { instance: 'h', routes: [] } as unknown as Config;

describe('version history', () => {
  it('keeps the first changes of a big version and their exact count; a small one whole', () => {
    const h = new History(join(dir, 'a.db'));
    const big = h.record({ actor: 'daemon', source: 'start', changes: routeDeletes(2500), config });
    const small = h.record({ actor: 'local', source: 'apply', changes: routeDeletes(3), config });
    assert.equal(big.changesTotal, 2500);
    assert.equal(big.changes.length, MAX_RECORDED_CHANGES);
    for (const v of [h.get(big.version), h.list().find((e) => e.version === big.version)!]) {
      assert.equal(v.changesTotal, 2500);
      assert.deepEqual(v.changes, routeDeletes(MAX_RECORDED_CHANGES));
    }
    assert.deepEqual(h.get(big.version).config, config, 'the config stays whole');
    for (const v of [small, h.get(small.version), h.latest()!]) {
      assert.equal(v.changesTotal, undefined);
      assert.deepEqual(v.changes, routeDeletes(3));
    }
    h.close();
  });

  it('counts the changes a caller described only the first of (a reconcile describes at most the first 1,000)', () => {
    assert.deepEqual(recordedChanges(routeDeletes(1000), 901_904), { changes: routeDeletes(1000), changesTotal: 901_904 });
    assert.deepEqual(recordedChanges(routeDeletes(1200)), { changes: routeDeletes(1000), changesTotal: 1200 });
    assert.deepEqual(recordedChanges(routeDeletes(1000)), { changes: routeDeletes(1000) });
    const h = new History(join(dir, 'b.db'));
    const v = h.record({ actor: 'daemon', source: 'start', changes: routeDeletes(1000), changesTotal: 901_904, config });
    assert.equal(h.get(v.version).changesTotal, 901_904);
    h.close();
  });

  it('reads a history written before versions counted their changes', () => {
    const file = join(dir, 'old.db');
    const db = new Database(file);
    db.exec(`CREATE TABLE versions (
      version INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, source TEXT NOT NULL,
      changes TEXT NOT NULL, config TEXT NOT NULL)`);
    db.prepare('INSERT INTO versions (at, actor, source, changes, config) VALUES (?, ?, ?, ?, ?)').run(
      '2026-12-01T00:00:00.000Z',
      'daemon',
      'start',
      JSON.stringify(routeDeletes(1500)),
      JSON.stringify(config),
    );
    db.close();
    const h = new History(file);
    const [old] = h.list();
    assert.equal(old!.changes.length, 1500, 'an old version lists all it recorded');
    assert.equal(old!.changesTotal, undefined);
    const next = h.record({ actor: 'daemon', source: 'reload', changes: routeDeletes(1001), config });
    assert.equal(h.get(next.version).changesTotal, 1001);
    h.close();
  });
});
