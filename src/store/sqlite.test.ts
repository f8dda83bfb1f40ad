import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { TidemarkError } from '../errors.ts';
import { runStoreConformance } from './conformance.ts';
import { migrations } from './migrations/index.ts';
import { SQLITE_FILE, openSqliteStore } from './sqlite.ts';

const root = mkdtempSync(join(tmpdir(), 'tidemark-store-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = () => join(root, `d${++dirs}`);

// In memory for speed (a file costs ~45 ms of fsyncs per store); the tests below and
// crash.test.ts cover what only a file has: WAL, the lock, reopening, kill -9.
runStoreConformance('sqlite', (options) => openSqliteStore({ ...options, path: ':memory:' }));

const T0 = 1_700_000_040_000;

describe('sqlite store', () => {
  it('keeps data across close and reopen, and migrates once', async () => {
    const dataDir = freshDir();
    const a = await openSqliteStore({ dataDir });
    await a.tenants.create({ id: 'acme', name: 'Acme' });
    const [id] = await a.series.intern([{ tenant: 'acme', metric: 'm', labels: { x: '1' } }]);
    await a.samples.append({ seriesId: [id], t: [T0], v: [42] });
    await a.close();
    assert.ok(existsSync(join(dataDir, SQLITE_FILE)));
    const b = await openSqliteStore({ dataDir });
    assert.deepEqual(await b.series.intern([{ tenant: 'acme', metric: 'm', labels: { x: '1' } }]), [id]);
    assert.deepEqual([...(await b.samples.range('acme', id, 0, T0 + 1)).v], [42]);
    await b.close();
    const db = new Database(join(dataDir, SQLITE_FILE), { readonly: true });
    assert.deepEqual(db.prepare('SELECT version, name FROM schema_migrations').all(), [{ version: 1, name: 'initial' }]);
    db.close();
  });

  it('runs in WAL mode with synchronous=NORMAL and refuses a second process', async () => {
    const dataDir = freshDir();
    const store = await openSqliteStore({ dataDir });
    try {
      assert.ok(existsSync(join(dataDir, `${SQLITE_FILE}-wal`)), 'the write-ahead log exists while open');
      // A second connection stands in for a second process: the exclusive lock refuses it.
      await assert.rejects(openSqliteStore({ dataDir }), (err: unknown) => err instanceof TidemarkError && err.code === 'TM_ERR_STORE' && /in use by another/.test(err.message));
    } finally {
      await store.close();
    }
    const db = new Database(join(dataDir, SQLITE_FILE));
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal', 'WAL mode is persistent in the file');
    db.close();
    const again = await openSqliteStore({ dataDir });
    await again.close();
  });

  for (const [title, retention, path] of [
    ['lateness close to raw retention', { rawMs: 60_000, lateMs: 0 }, 'rawMs'],
    ['rollups shorter than raw', { rawMs: 3600_000, rollupMs: 60_000 }, 'rollupMs'],
    ['negative', { lateMs: -1 }, 'lateMs'],
  ] as const) {
    it(`rejects retention: ${title}`, async () => {
      await assert.rejects(openSqliteStore({ path: ':memory:', retention }), (err: unknown) => err instanceof TidemarkError && err.code === 'TM_ERR_CONFIG' && (err.path ?? '').endsWith(path));
    });
  }

  it('needs a data dir or a path', async () => {
    await assert.rejects(openSqliteStore({}), (err: unknown) => err instanceof TidemarkError && err.code === 'TM_ERR_CONFIG');
  });

  it('a batch that fails in SQL fails alone; the others in its group commit', async () => {
    // A trigger that aborts on one value stands in for a failure inside the transaction.
    const poison = { version: 99, name: 'test: poison value', sqlite: "CREATE TRIGGER poison BEFORE INSERT ON samples WHEN NEW.v = 666 BEGIN SELECT RAISE(ABORT, 'poison'); END;" };
    const store = await openSqliteStore({ dataDir: freshDir(), migrations: [...migrations, poison] });
    try {
      await store.tenants.create({ id: 'acme', name: 'Acme' });
      const [id] = await store.series.intern([{ tenant: 'acme', metric: 'm', labels: {} }]);
      const results = await Promise.allSettled([
        store.samples.append({ seriesId: [id, id], t: [T0, T0 + 1], v: [1, 2] }),
        store.samples.append({ seriesId: [id, id], t: [T0 + 2, T0 + 3], v: [3, 666] }),
        store.samples.append({ seriesId: [id], t: [T0 + 4], v: [5] }),
      ]);
      assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
      const reason = (results[1] as PromiseRejectedResult).reason;
      assert.ok(reason instanceof TidemarkError && reason.code === 'TM_ERR_STORE' && /poison/.test(reason.message));
      assert.deepEqual([...(await store.samples.range('acme', id, T0, T0 + 10)).v], [1, 2, 5], 'nothing of the failed batch');
    } finally {
      await store.close();
    }
  });

  it('a large group is split across transactions and every batch resolves', async () => {
    const store = await openSqliteStore({ path: ':memory:' });
    await store.tenants.create({ id: 'acme', name: 'Acme' });
    const [id] = await store.series.intern([{ tenant: 'acme', metric: 'm', labels: {} }]);
    const batch = (k: number, n: number) => ({ seriesId: new Float64Array(n).fill(id), t: Float64Array.from({ length: n }, (_, i) => T0 + k * 100_000 + i), v: new Float64Array(n).fill(k) });
    const sizes = [15_000, 15_000, 1, 9_000, 30_000];
    const results = await Promise.all(sizes.map((n, k) => store.samples.append(batch(k, n))));
    assert.deepEqual(results.map((r) => r.inserted), sizes);
    assert.equal((await store.samples.range('acme', id, 0, T0 * 2)).t.length, sizes.reduce((a, b) => a + b, 0));
    await store.close();
  });

  it('an intern that rolls back leaves no cached id behind', async () => {
    const poison = { version: 99, name: 'test: poison metric', sqlite: "CREATE TRIGGER poison BEFORE INSERT ON series WHEN NEW.metric = 'poison' BEGIN SELECT RAISE(ABORT, 'poison'); END;" };
    const store = await openSqliteStore({ path: ':memory:', migrations: [...migrations, poison] });
    await store.tenants.create({ id: 'acme', name: 'Acme' });
    const a = { tenant: 'acme', metric: 'a', labels: {} };
    await assert.rejects(store.series.intern([a, { tenant: 'acme', metric: 'poison', labels: {} }]), /poison/);
    // SQLite reuses the rolled-back rowid for the next insert: `b` gets the id `a` briefly had.
    const [b] = await store.series.intern([{ tenant: 'acme', metric: 'b', labels: {} }]);
    const [a2] = await store.series.intern([a]);
    assert.notEqual(a2, b);
    assert.equal((await store.series.get('acme', a2))?.metric, 'a');
    await store.close();
  });

  it('without group commit each append is its own transaction', async () => {
    const store = await openSqliteStore({ path: ':memory:', groupCommit: false });
    await store.tenants.create({ id: 'acme', name: 'Acme' });
    const [id] = await store.series.intern([{ tenant: 'acme', metric: 'm', labels: {} }]);
    const r = await Promise.all([store.samples.append({ seriesId: [id], t: [T0], v: [1] }), store.samples.append({ seriesId: [id], t: [T0], v: [2] })]);
    assert.deepEqual(r, [{ inserted: 1, duplicates: 0 }, { inserted: 0, duplicates: 1 }]);
    await store.close();
  });

  it('a tiny intern cache still returns stable ids', async () => {
    const store = await openSqliteStore({ path: ':memory:', internCacheSize: 2 });
    await store.tenants.create({ id: 'acme', name: 'Acme' });
    const keys = Array.from({ length: 5 }, (_, i) => ({ tenant: 'acme', metric: 'm', labels: { i: String(i) } }));
    const first = await store.series.intern(keys);
    assert.deepEqual(await store.series.intern(keys), first);
    assert.deepEqual(await store.series.intern([...keys].reverse()), [...first].reverse());
    await store.close();
  });

  it('the rollup watermark survives a reopen', async () => {
    const dataDir = freshDir();
    const retention = { rawMs: 10 * 60_000, rollupMs: 60 * 60_000, lateMs: 60_000 };
    const a = await openSqliteStore({ dataDir, retention });
    await a.tenants.create({ id: 'acme', name: 'Acme' });
    const [id] = await a.series.intern([{ tenant: 'acme', metric: 'm', labels: {} }]);
    await a.samples.append({ seriesId: [id, id], t: [T0, T0 + 60_000], v: [1, 2] });
    await a.samples.sweep(T0 + 20 * 60_000); // rolls both minutes up, expires the raw samples
    await a.close();
    const b = await openSqliteStore({ dataDir, retention });
    assert.equal((await b.samples.range('acme', id, 0, T0 * 2)).t.length, 0);
    assert.deepEqual([...(await b.samples.rollups('acme', id, T0, T0 + 2 * 60_000)).sum], [1, 2]);
    await b.close();
  });
});
