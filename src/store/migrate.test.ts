import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { TidemarkError } from '../errors.ts';
import { type Migration, type MigrationDriver, migrationChecksum, runMigrations } from './migrate.ts';
import { migrations } from './migrations/index.ts';
import { sqliteMigrationDriver } from './sqlite.ts';

const m1: Migration = { version: 1, name: 'one', sqlite: 'CREATE TABLE a (x INTEGER);' };
const m2: Migration = { version: 2, name: 'two', sqlite: 'CREATE TABLE b (y INTEGER);' };
const now = () => 1234;

function tables(db: Database.Database): string[] {
  return (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all() as string[]).filter((n) => n !== 'schema_migrations');
}

async function rejectsStore(p: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => err instanceof TidemarkError && err.code === 'TM_ERR_STORE' && message.test(err.message));
}

describe('runMigrations', () => {
  it('applies new migrations in order, once', async () => {
    const db = new Database(':memory:');
    assert.deepEqual(await runMigrations(sqliteMigrationDriver(db), [m1], now), [1]);
    assert.deepEqual(await runMigrations(sqliteMigrationDriver(db), [m1, m2], now), [2]);
    assert.deepEqual(await runMigrations(sqliteMigrationDriver(db), [m1, m2], now), []);
    assert.deepEqual(tables(db), ['a', 'b']);
    assert.deepEqual(db.prepare('SELECT version, name, checksum, applied_at FROM schema_migrations').all(), [
      { version: 1, name: 'one', checksum: migrationChecksum(m1.sqlite), applied_at: 1234 },
      { version: 2, name: 'two', checksum: migrationChecksum(m2.sqlite), applied_at: 1234 },
    ]);
  });

  it('rolls a failing migration back whole and keeps the ones before it', async () => {
    const db = new Database(':memory:');
    const bad: Migration = { version: 2, name: 'bad', sqlite: 'CREATE TABLE c (z INTEGER); CREATE TABLE a (x INTEGER);' };
    await rejectsStore(runMigrations(sqliteMigrationDriver(db), [m1, bad], now), /migration 2 \(bad\) failed and was rolled back: .*already exists/);
    assert.deepEqual(tables(db), ['a'], 'table c from the failed migration is gone');
    assert.deepEqual(db.prepare('SELECT version FROM schema_migrations').pluck().all(), [1]);
  });

  const refusals: [string, Migration[], Migration[], RegExp][] = [
    ['an applied migration was edited', [m1], [{ ...m1, sqlite: 'CREATE TABLE a (x TEXT);' }], /migration 1 \(one\) was changed after it was applied/],
    ['the database is newer than the code', [m1, m2], [m1], /has schema migration 2 \(two\).*knows migrations up to 1/],
    ['versions do not increase', [], [m2, m1], /must increase: 2 then 1/],
    ['a version repeats', [], [m1, { ...m2, version: 1 }], /must increase: 1 then 1/],
  ];
  for (const [title, first, second, message] of refusals) {
    it(`refuses when ${title}`, async () => {
      const db = new Database(':memory:');
      await runMigrations(sqliteMigrationDriver(db), first, now);
      await rejectsStore(runMigrations(sqliteMigrationDriver(db), second, now), message);
    });
  }

  it('refuses a migration without SQL for the driver dialect', async () => {
    const applied: number[] = [];
    const driver: MigrationDriver = {
      dialect: 'postgres',
      applied: async () => [],
      apply: async (m) => void applied.push(m.version),
    };
    await rejectsStore(runMigrations(driver, [{ ...m1, postgres: 'CREATE TABLE a (x BIGINT)' }, m2], now), /migration 2 \(two\) has no postgres SQL/);
    assert.deepEqual(applied, [1]);
  });

  it('the shipped migrations apply to an empty database', async () => {
    const db = new Database(':memory:');
    db.pragma('foreign_keys = ON');
    assert.deepEqual(await runMigrations(sqliteMigrationDriver(db), migrations, now), migrations.map((m) => m.version));
    assert.ok(tables(db).includes('samples'));
    const withoutRowid = db.prepare("SELECT sql FROM sqlite_master WHERE name = 'samples'").pluck().get() as string;
    assert.match(withoutRowid, /PRIMARY KEY \(series_id, t\)\s*\) WITHOUT ROWID/);
  });

  it('0004 fills held and service for alerts written before it, as the store computes them', async () => {
    const db = new Database(':memory:');
    await runMigrations(sqliteMigrationDriver(db), migrations.filter((m) => m.version < 4), now);
    db.prepare("INSERT INTO tenants (id, name, created_at) VALUES ('t', 't', 0)").run();
    const ins = db.prepare("INSERT INTO alerts (tenant, fingerprint, metric, labels, state, severity, starts_at, updated_at, score, reasons, packet) VALUES ('t', ?, 'm', ?, 'firing', 'S1', 0, 0, 1, '[]', ?)");
    const rows: [string, string, string | null][] = [
      ['a', '[["region","eu"],["service","api"]]', '{"suppressions":[{"kind":"silence","at":1,"reason":"x"}]}'],
      ['b', '[["exported_service","db"]]', '{"suppressions":[],"heldReason":"no impact"}'],
      ['c', '[["exported_service","db"],["service","web"]]', '{"suppressions":[],"heldReason":null}'],
      ['d', '[]', null],
      ['e', '[]', '[1,2]'],
    ];
    for (const r of rows) ins.run(...r);
    await runMigrations(sqliteMigrationDriver(db), migrations, now);
    assert.deepEqual(db.prepare('SELECT fingerprint, held, service FROM alerts ORDER BY fingerprint').all(), [
      { fingerprint: 'a', held: 1, service: 'api' },
      { fingerprint: 'b', held: 1, service: 'db' },
      { fingerprint: 'c', held: 0, service: 'web' },
      { fingerprint: 'd', held: 0, service: null },
      { fingerprint: 'e', held: 0, service: null },
    ]);
  });

  it('0005 keeps the notification log (ids, keys, indexes) and lets it hold pending intents', async () => {
    const db = new Database(':memory:');
    db.pragma('foreign_keys = ON');
    await runMigrations(sqliteMigrationDriver(db), migrations.filter((m) => m.version < 5), now);
    db.prepare("INSERT INTO tenants (id, name, created_at) VALUES ('t', 't', 0)").run();
    const ins = db.prepare("INSERT INTO notifications (tenant, fingerprint, channel, alert_state, status, attempt, at, error, idempotency_key) VALUES ('t', ?, 'chat/webhook', 'firing', ?, 1, ?, ?, ?)");
    ins.run('a', 'sent', 10, null, 'k1');
    ins.run('b', 'failed', 20, 'HTTP 503', null);
    assert.throws(() => ins.run('c', 'pending', 30, null, null), /CHECK constraint failed/);
    await runMigrations(sqliteMigrationDriver(db), migrations, now);
    assert.deepEqual(db.prepare('SELECT id, fingerprint, status, at, error, idempotency_key, dispatch_id FROM notifications ORDER BY id').all(), [
      { id: 1, fingerprint: 'a', status: 'sent', at: 10, error: null, idempotency_key: 'k1', dispatch_id: null },
      { id: 2, fingerprint: 'b', status: 'failed', at: 20, error: 'HTTP 503', idempotency_key: null, dispatch_id: null },
    ]);
    ins.run('c', 'pending', 30, null, 'k2');
    assert.throws(() => ins.run('d', 'sent', 40, null, 'k1'), /UNIQUE constraint failed/, 'the key index is back');
    assert.throws(() => ins.run('d', 'lost', 40, null, null), /CHECK constraint failed/);
    const indexes = db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'notifications' AND sql IS NOT NULL ORDER BY name").pluck().all();
    assert.deepEqual(indexes, ['notifications_alert', 'notifications_dispatch', 'notifications_key', 'notifications_pending', 'notifications_time']);
    assert.ok(tables(db).includes('notification_payloads'));
  });
});
