import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { TidemarkError } from '../errors.ts';
import { runStoreConformance } from './conformance.ts';
import { runMigrations } from './migrate.ts';
import { migrations } from './migrations/index.ts';
import { SQLITE_FILE, openSqliteStore, sqliteMigrationDriver } from './sqlite.ts';

const root = mkdtempSync(join(tmpdir(), 'tidemark-store-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = () => join(root, `d${++dirs}`);

// In memory for speed (a file costs ~45 ms of fsyncs per store); the tests below and
// crash.test.ts cover what only a file has: WAL, the lock, reopening, kill -9.
runStoreConformance('sqlite', (options) => openSqliteStore({ ...options, path: ':memory:' }));
// Tiny head blocks: every few points are sealed and flushed into chunks in the background, so
// reads merge chunks, blocks being flushed and the head.
runStoreConformance('sqlite, 3-point head blocks', (options) => openSqliteStore({ ...options, path: ':memory:', sampleBlockPoints: 3 }));

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
    assert.deepEqual(db.prepare('SELECT version, name FROM schema_migrations').all(), [
      { version: 1, name: 'initial' },
      { version: 2, name: 'sample chunks' },
      { version: 3, name: 'notification keys' },
      { version: 4, name: 'alert list columns' },
      { version: 5, name: 'notification intents' },
    ]);
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
    // A trigger that aborts on a log row holding the value 666 (float64 0x4084D00000000000,
    // little-endian) stands in for a failure inside the group's transaction.
    const poison = { version: 99, name: 'test: poison value', sqlite: "CREATE TRIGGER poison BEFORE INSERT ON sample_log WHEN instr(NEW.data, X'0000000000D08440') > 0 BEGIN SELECT RAISE(ABORT, 'poison'); END;" };
    // The table log: a trigger can fail its insert (the file log's failures are I/O errors).
    const store = await openSqliteStore({ dataDir: freshDir(), migrations: [...migrations, poison], sampleLog: 'table' });
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
      // Its times are free again: the failed batch left no trace in the head either.
      assert.deepEqual(await store.samples.append({ seriesId: [id], t: [T0 + 2], v: [3] }), { inserted: 1, duplicates: 0 });
    } finally {
      await store.close();
    }
  });

  it('a large group commits as one log row and every batch resolves', async () => {
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

  it('converts rows of the one-row-per-point tables into chunks on open', async () => {
    const dataDir = freshDir();
    // A database of the first schema, as an older Tidemark left it.
    mkdirSync(dataDir, { recursive: true });
    const db = new Database(join(dataDir, SQLITE_FILE));
    await runMigrations(sqliteMigrationDriver(db), migrations.slice(0, 1), Date.now);
    db.exec(`INSERT INTO tenants VALUES ('acme', 'Acme', 0);
      INSERT INTO series (id, tenant, metric, labels, created_at) VALUES (1, 'acme', 'm', '[["x","1"]]', 0), (2, 'acme', 'm', '[["x","2"]]', 0);`);
    const [a, b] = [1, 2];
    const put = db.prepare('INSERT INTO samples (series_id, t, v) VALUES (?, ?, ?)');
    for (let i = 0; i < 5; i++) put.run(a, T0 + i * 1000, i);
    put.run(b, T0, null);
    db.prepare('INSERT INTO bands (series_id, t, expected, lower, upper, score) VALUES (?, ?, ?, ?, ?, ?)').run(a, T0 + 4000, 2, 1, 3, 0.5);
    db.close();
    const store = await openSqliteStore({ dataDir });
    try {
      assert.deepEqual([...(await store.samples.range('acme', a, 0, T0 * 2)).v], [0, 1, 2, 3, 4]);
      assert.deepEqual([...(await store.samples.range('acme', b, 0, T0 * 2)).v], [NaN]);
      const bands = await store.samples.bands('acme', a, 0, T0 * 2);
      assert.deepEqual([...bands.t, ...bands.expected, ...bands.lower, ...bands.upper, ...bands.score], [T0 + 4000, 2, 1, 3, 0.5]);
      assert.deepEqual(await store.samples.append({ seriesId: [a, a], t: [T0 + 2000, T0 + 2500], v: [9, 9] }), { inserted: 1, duplicates: 1 }, 'converted samples count as stored');
    } finally {
      await store.close();
    }
  });

  it('a sweep trims every series of a block that straddles the raw cut, samples and bands apart', async () => {
    const MIN = 60_000;
    const store = await openSqliteStore({ path: ':memory:', retention: { rawMs: 10 * MIN, rollupMs: 60 * MIN, lateMs: MIN } });
    try {
      await store.tenants.create({ id: 'acme', name: 'Acme' });
      const ids = await store.series.intern(Array.from({ length: 5 }, (_, i) => ({ tenant: 'acme', metric: 'm', labels: { i: String(i) } })));
      // 20 minutes of points, one a minute per series, value = 100 * series + minute; series 4 has no bands.
      const sid: number[] = [];
      const t: number[] = [];
      const v: number[] = [];
      for (let m = 0; m < 20; m++) {
        for (let k = 0; k < ids.length; k++) {
          sid.push(ids[k]);
          t.push(T0 + m * MIN);
          v.push(100 * k + m);
        }
      }
      await store.samples.append({ seriesId: sid, t, v });
      const withBands = sid.map((_, i) => i).filter((i) => sid[i] !== ids[4]);
      const pick = (a: number[]) => withBands.map((i) => a[i]);
      await store.samples.appendBands({ seriesId: pick(sid), t: pick(t), expected: pick(v), lower: pick(v).map((x) => x - 1), upper: pick(v).map((x) => x + 1), score: pick(v).map(() => 0.5) });
      const r = await store.samples.sweep(T0 + 20 * MIN);
      assert.equal(r.deletedSamples, 5 * 10, 'minutes 0..9 of every series');
      assert.equal(r.deletedBands, 4 * 10);
      const minutes = Array.from({ length: 10 }, (_, m) => T0 + (10 + m) * MIN);
      for (let k = 0; k < ids.length; k++) {
        const raw = await store.samples.range('acme', ids[k], 0, T0 + 30 * MIN);
        assert.deepEqual([...raw.t], minutes, `series ${k}: times`);
        assert.deepEqual([...raw.v], minutes.map((_, m) => 100 * k + 10 + m), `series ${k}: values`);
        const b = await store.samples.bands('acme', ids[k], 0, T0 + 30 * MIN);
        assert.deepEqual([...b.expected], k === 4 ? [] : minutes.map((_, m) => 100 * k + 10 + m), `series ${k}: bands`);
        assert.deepEqual([...b.upper], k === 4 ? [] : minutes.map((_, m) => 100 * k + 11 + m));
      }
    } finally {
      await store.close();
    }
  });

  it('head, flushed chunks and reopen agree: late points, duplicates and replaced bands', async () => {
    const dataDir = freshDir();
    // 4-point blocks: most of what follows is in chunks by the time it is read.
    const a = await openSqliteStore({ dataDir, sampleBlockPoints: 4 });
    await a.tenants.create({ id: 'acme', name: 'Acme' });
    const [id] = await a.series.intern([{ tenant: 'acme', metric: 'm', labels: {} }]);
    const at = (k: number) => T0 + k * 15_000;
    for (let k = 0; k < 20; k += 2) await a.samples.append({ seriesId: [id], t: [at(k)], v: [k] });
    await a.samples.appendBands({ seriesId: [id, id], t: [at(0), at(2)], expected: [1, 1], lower: [0, 0], upper: [2, 2], score: [0, 0] });
    // Late points fill the odd slots; repeats of stored times are duplicates wherever those sit.
    assert.deepEqual(await a.samples.append({ seriesId: [id, id, id, id], t: [at(1), at(3), at(4), at(1)], v: [1, 3, -1, -1] }), { inserted: 2, duplicates: 2 });
    await a.samples.appendBands({ seriesId: [id], t: [at(0)], expected: [5], lower: [4], upper: [6], score: [0.9] });
    const expectV = [0, 1, 2, 3, 4, 6, 8, 10, 12, 14, 16, 18];
    const check = async (s: typeof a, when: string) => {
      assert.deepEqual([...(await s.samples.range('acme', id, 0, at(100))).v], expectV, when);
      assert.deepEqual([...(await s.samples.range('acme', id, at(3), at(100), 3)).v], [3, 4, 6], `${when}: limit keeps the earliest`);
      const b = await s.samples.bands('acme', id, 0, at(100));
      assert.deepEqual([...b.expected], [5, 1], `${when}: the newer band wins`);
    };
    await check(a, 'before close');
    await a.close();
    const b = await openSqliteStore({ dataDir });
    try {
      await check(b, 'after reopen');
      assert.deepEqual(await b.samples.append({ seriesId: [id, id], t: [at(5), at(3)], v: [5, -1] }), { inserted: 1, duplicates: 1 });
      assert.deepEqual([...(await b.samples.range('acme', id, at(2), at(6))).v], [2, 3, 4, 5]);
    } finally {
      await b.close();
    }
  });
});
