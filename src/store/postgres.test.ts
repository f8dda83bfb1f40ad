// The PostgreSQL store against a real server: the shared conformance suite, the migrations
// (idempotent, one runner wins a race), and what only a shared database has: several stores
// (processes) writing the same schema at once. Every store gets its own schema, dropped at
// the end. Skipped with a notice when PostgreSQL does not answer, unless
// TIDEMARK_REQUIRE_SERVICES=1.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { TidemarkError } from '../errors.ts';
import { runStoreConformance } from './conformance.ts';
import type { Migration } from './migrate.ts';
import { pgMigrations } from './migrations-pg/index.ts';
import { TEST_POSTGRES_URL, dropSchemas, postgresAvailable, uniqueSchema } from './pg-testkit.ts';
import { openStoreFromUrl } from './open-url.ts';
import { PostgresStore, type PostgresStoreOptions, createPool, migratePool, openPostgresStore } from './postgres.ts';
import type { StoreOptions } from './types.ts';

const up = await postgresAvailable('the PostgreSQL store tests');
const schemas = new Set<string>();
after(() => dropSchemas(schemas));

function open(options: StoreOptions & Partial<PostgresStoreOptions> = {}, schema = uniqueSchema()) {
  schemas.add(schema);
  return openPostgresStore({ url: TEST_POSTGRES_URL, ...options, schema });
}

const T0 = 1_700_000_040_000;

// The conformance suite wants an empty store per test. A fresh schema costs ~350 ms of DDL
// (and is what the tests below do); emptying one schema made for this run costs ~20 ms.
const CONFORMANCE_TABLES = [
  'alert_history', 'alerts', 'api_tokens', 'series', 'change_events', 'notifications', 'notification_payloads', 'silences', 'acks', 'feedback',
  'config_versions', 'audit_log', 'tenants', 'checkpoints', 'samples', 'bands', 'rollups_1m', 'store_meta',
];
const conformanceSchema = uniqueSchema();
let conformanceMigrated = false;

async function emptyStore(options: StoreOptions) {
  if (conformanceMigrated) {
    const pool = createPool(TEST_POSTGRES_URL, conformanceSchema, { poolSize: 1 });
    try {
      await pool.query(CONFORMANCE_TABLES.map((t) => `DELETE FROM ${t};`).join(' '));
    } finally {
      await pool.end();
    }
  }
  const store = await open(options, conformanceSchema);
  conformanceMigrated = true;
  return store;
}

if (up) {
  runStoreConformance('postgres', emptyStore);

  describe('postgres migrations', () => {
    const m1: Migration = { version: 1, name: 'one', sqlite: 'CREATE TABLE a (x INTEGER);', postgres: 'CREATE TABLE a (x BIGINT);' };
    const m2: Migration = { version: 2, name: 'two', sqlite: 'CREATE TABLE b (y INTEGER);', postgres: 'CREATE TABLE b (y BIGINT); SELECT pg_sleep(0.2);' };

    async function tables(schema: string): Promise<string[]> {
      const pool = createPool(TEST_POSTGRES_URL, 'public', { poolSize: 1 });
      try {
        const { rows } = await pool.query('SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name', [schema]);
        return rows.map((r) => r.table_name as string);
      } finally {
        await pool.end();
      }
    }

    it('applies the shipped migrations once; a second open is a no-op', async () => {
      const schema = uniqueSchema();
      const a = await open({}, schema);
      await a.close();
      const b = await open({}, schema);
      await b.close();
      const pool = createPool(TEST_POSTGRES_URL, schema, { poolSize: 1 });
      try {
        assert.deepEqual(await migratePool(pool, schema), [], 'nothing left to apply');
        const { rows } = await pool.query('SELECT version, name FROM schema_migrations ORDER BY version');
        assert.deepEqual(
          rows.map((r) => [r.version, r.name]),
          pgMigrations.map((m) => [m.version, m.name]),
        );
      } finally {
        await pool.end();
      }
      const t = await tables(schema);
      for (const name of ['alerts', 'samples', 'bands', 'rollups_1m', 'series', 'checkpoints', 'schema_migrations']) assert.ok(t.includes(name), `${name} in ${t.join(', ')}`);
    });

    it('two runners starting together: one applies, the other waits and finds nothing to do', async () => {
      const schema = uniqueSchema();
      schemas.add(schema);
      const pools = [createPool(TEST_POSTGRES_URL, schema, { poolSize: 1 }), createPool(TEST_POSTGRES_URL, schema, { poolSize: 1 })];
      try {
        const results = await Promise.all(pools.map((p) => migratePool(p, schema, [m1, m2], () => 1234)));
        assert.deepEqual(
          results.map((r) => r.join(',')).sort(),
          ['', '1,2'],
        );
        assert.deepEqual(await tables(schema), ['a', 'b', 'schema_migrations']);
      } finally {
        await Promise.all(pools.map((p) => p.end()));
      }
    });

    it('rolls a failing migration back whole and keeps the ones before it', async () => {
      const schema = uniqueSchema();
      schemas.add(schema);
      const bad: Migration = { version: 2, name: 'bad', sqlite: '', postgres: 'CREATE TABLE c (z BIGINT); CREATE TABLE a (x BIGINT);' };
      const pool = createPool(TEST_POSTGRES_URL, schema, { poolSize: 1 });
      try {
        await assert.rejects(migratePool(pool, schema, [m1, bad]), (err: unknown) => err instanceof TidemarkError && err.code === 'TM_ERR_STORE' && /migration 2 \(bad\) failed and was rolled back: .*already exists/.test(err.message));
        assert.deepEqual(await tables(schema), ['a', 'schema_migrations']);
        await assert.rejects(migratePool(pool, schema, [{ ...m1, postgres: 'CREATE TABLE a (x TEXT);' }]), /migration 1 \(one\) was changed after it was applied/);
      } finally {
        await pool.end();
      }
    });
  });

  describe('postgres store, several processes on one schema', () => {
    it('interning the same new keys from two stores at once gives one id per key', async () => {
      const schema = uniqueSchema();
      const [a, b] = [await open({}, schema), await open({}, schema)];
      try {
        await a.tenants.create({ id: 'acme', name: 'Acme' });
        const keys = Array.from({ length: 200 }, (_, i) => ({ tenant: 'acme', metric: 'm', labels: { i: String(i) } }));
        const [x, y] = await Promise.all([a.series.intern(keys), b.series.intern([...keys].reverse())]);
        assert.deepEqual(x, [...y].reverse());
        assert.equal(new Set(x).size, 200);
        assert.equal((await b.series.find('acme', [])).length, 200);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    it('a long label set is interned (the unique key is a hash of the labels)', async () => {
      const s = await open();
      try {
        await s.tenants.create({ id: 'acme', name: 'Acme' });
        const labels = { query: 'x'.repeat(10_000) };
        const [id] = await s.series.intern([{ tenant: 'acme', metric: 'm', labels }]);
        assert.deepEqual(await s.series.intern([{ tenant: 'acme', metric: 'm', labels }]), [id]);
        assert.equal((await s.series.get('acme', id))?.labels.query.length, 10_000);
      } finally {
        await s.close();
      }
    });

    it('a replayed alert stream from two workers at once: one alert, one history row per transition', async () => {
      const schema = uniqueSchema();
      const [a, b] = [await open({}, schema), await open({}, schema)];
      try {
        await a.tenants.create({ id: 'acme', name: 'Acme' });
        const steps = [
          { at: T0, state: 'pending' as const, severity: 'S1' as const },
          { at: T0 + 1000, state: 'firing' as const, severity: 'S2' as const },
          { at: T0 + 2000, state: 'firing' as const, severity: 'S2' as const },
          { at: T0 + 9000, state: 'resolved' as const, severity: 'S2' as const },
        ];
        const replay = async (s: typeof a) => {
          const out = [];
          for (const st of steps) {
            out.push(await s.alerts.upsert({ tenant: 'acme', fingerprint: 'fp', metric: 'm', labels: {}, startsAt: T0, score: 0.9, reasons: ['spike'], ...st }));
          }
          return out;
        };
        const [ra, rb] = await Promise.all([replay(a), replay(b)]);
        assert.equal([...ra, ...rb].filter((r) => r.created).length, 1, 'created once');
        assert.deepEqual(
          (await a.alerts.history('acme', 'fp')).map((h) => h.state),
          ['pending', 'firing', 'resolved'],
        );
        assert.equal((await b.alerts.list({ tenant: 'acme' })).length, 1);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    it('config versions from two stores at once never share a number', async () => {
      const schema = uniqueSchema();
      const [a, b] = [await open({}, schema), await open({}, schema)];
      try {
        await a.tenants.create({ id: 'acme', name: 'Acme' });
        await Promise.all(
          Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).config.put({ tenant: 'acme', yaml: `v: ${i}\n`, author: 'x', at: T0 + i })),
        );
        assert.deepEqual((await a.config.list('acme')).map((c) => c.version), [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
        assert.equal((await b.audit.list({ tenant: 'acme', action: 'config.put' })).length, 10);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    it('a sample a concurrent transaction has not committed yet: counted once, as a duplicate, after it commits', async () => {
      const schema = uniqueSchema();
      const s = await open({}, schema);
      const other = createPool(TEST_POSTGRES_URL, schema, { poolSize: 1 });
      const c = await other.connect();
      try {
        await s.tenants.create({ id: 'acme', name: 'Acme' });
        const [id] = await s.series.intern([{ tenant: 'acme', metric: 'm', labels: {} }]);
        await c.query('BEGIN');
        await c.query('INSERT INTO samples (series_id, t, v) VALUES ($1, $2, 7)', [id, T0 + 1000]);
        // The store's fast insert does not see the uncommitted row, waits on its key, and hits
        // the unique violation once the other transaction commits; the exact retry must count it.
        const pending = s.samples.append({ seriesId: [id, id, id], t: [T0, T0 + 1000, T0 + 2000], v: [1, 2, 3] });
        await new Promise((r) => setTimeout(r, 300));
        await c.query('COMMIT');
        assert.deepEqual(await pending, { inserted: 2, duplicates: 1 });
        assert.deepEqual([...(await s.samples.range('acme', id, T0, T0 + 3000)).v], [1, 7, 3]);
      } finally {
        c.release();
        await other.end();
        await s.close();
      }
    });

    it('two stores appending the same points at once: each point stored once, every insert counted once', async () => {
      const schema = uniqueSchema();
      const [a, b] = [await open({}, schema), await open({}, schema)];
      try {
        await a.tenants.create({ id: 'acme', name: 'Acme' });
        const [id] = await a.series.intern([{ tenant: 'acme', metric: 'm', labels: {} }]);
        const write = (s: typeof a, v: number) =>
          Promise.all(Array.from({ length: 20 }, (_, k) => {
            const t = Array.from({ length: 50 }, (_, i) => T0 + (k * 25 + i) * 1000); // batches overlap by half
            return Promise.all([
              s.samples.append({ seriesId: t.map(() => id), t, v: t.map(() => v) }),
              s.samples.appendBands({ seriesId: t.map(() => id), t, expected: t.map(() => v), lower: t.map(() => v), upper: t.map(() => v), score: t.map(() => v) }),
            ]).then(([r]) => r);
          }));
        const [ra, rb] = await Promise.all([write(a, 1), write(b, 2)]);
        const points = 19 * 25 + 50;
        assert.equal([...ra, ...rb].reduce((n, r) => n + r.inserted, 0), points);
        assert.equal([...ra, ...rb].reduce((n, r) => n + r.inserted + r.duplicates, 0), 2 * 20 * 50);
        const got = await b.samples.range('acme', id, T0, T0 + points * 1000);
        assert.equal(got.t.length, points);
        assert.ok([...got.v].every((v) => v === 1 || v === 2));
        assert.equal((await a.samples.bands('acme', id, T0, T0 + points * 1000)).t.length, points);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    it('times, values and bands at the ends of their ranges come back bit for bit', async () => {
      const s = await open();
      try {
        await s.tenants.create({ id: 'acme', name: 'Acme' });
        const [id] = await s.series.intern([{ tenant: 'acme', metric: 'm', labels: {} }]);
        const t = [-Number.MAX_SAFE_INTEGER, -(2 ** 32) - 1, -(2 ** 32), -1, 0, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER - 1];
        const v = [5e-324, -0, Number.MAX_VALUE, -Number.MAX_VALUE, NaN, Infinity, -Infinity, 0.1 + 0.2];
        assert.deepEqual(await s.samples.append({ seriesId: t.map(() => id), t, v }), { inserted: t.length, duplicates: 0 });
        assert.equal(await s.samples.appendBands({ seriesId: t.map(() => id), t, expected: v, lower: v, upper: v, score: [...v].reverse() }), t.length);
        const got = await s.samples.range('acme', id, -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
        assert.deepEqual([...got.t], t);
        assert.deepEqual([...got.v], v);
        const b = await s.samples.bands('acme', id, -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
        assert.deepEqual([...b.t], t);
        assert.deepEqual([...b.expected], v);
        assert.deepEqual([...b.score], [...v].reverse());
        // A second band batch over some of the same keys replaces them (the upsert path).
        assert.equal(await s.samples.appendBands({ seriesId: [id, id], t: [0, 1], expected: [42, 43], lower: [0, 0], upper: [0, 0], score: [0, 0] }), 2);
        const again = await s.samples.bands('acme', id, -1, 2);
        assert.deepEqual([...again.t], [-1, 0, 1]);
        assert.deepEqual([...again.expected], [-Number.MAX_VALUE, 42, 43]);
      } finally {
        await s.close();
      }
    });

    it('sweeps from two stores at once do the work once', async () => {
      const MIN = 60_000;
      const schema = uniqueSchema();
      const retention = { rawMs: 10 * MIN, rollupMs: 60 * MIN, lateMs: MIN };
      const [a, b] = [await open({ retention }, schema), await open({ retention }, schema)];
      try {
        await a.tenants.create({ id: 'acme', name: 'Acme' });
        const [id] = await a.series.intern([{ tenant: 'acme', metric: 'm', labels: {} }]);
        const t = Array.from({ length: 30 }, (_, i) => T0 + i * MIN);
        await a.samples.append({ seriesId: t.map(() => id), t, v: t.map(() => 1) });
        const [x, y] = await Promise.all([a.samples.sweep(T0 + 30 * MIN), b.samples.sweep(T0 + 30 * MIN)]);
        assert.equal(x.deletedSamples + y.deletedSamples, 20);
        assert.deepEqual([...(await b.samples.rollups('acme', id, T0, T0 + 30 * MIN)).n], t.map(() => 1));
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });
  });

  describe('openStoreFromUrl with a postgres:// URL', () => {
    it('opens the PostgreSQL store in the schema the URL names', async () => {
      const schema = uniqueSchema();
      schemas.add(schema);
      const store = await openStoreFromUrl(`${TEST_POSTGRES_URL}?schema=${schema}`, { now: () => 7 });
      try {
        assert.ok(store instanceof PostgresStore);
        assert.equal(store.schema, schema);
        assert.equal((await store.tenants.create({ id: 'acme', name: 'A' })).tenant.createdAt, 7);
      } finally {
        await store.close();
      }
    });
  });

  describe('postgres store errors', () => {
    it('an unreachable server is TM_ERR_UNAVAILABLE (503: retry), not a crash', async () => {
      await assert.rejects(
        openPostgresStore({ url: 'postgres://127.0.0.1:1/test', schema: 'tm_never', connectTimeoutMs: 1000 }),
        (err: unknown) => err instanceof TidemarkError && err.code === 'TM_ERR_UNAVAILABLE' && err.status === 503,
      );
    });
    for (const [title, options, path] of [
      ['a schema name that would need quoting', { url: TEST_POSTGRES_URL, schema: 'Tm-x' }, 'store.schema'],
      ['not a URL', { url: 'localhost:5432' }, 'store.postgres'],
      ['another scheme', { url: 'mysql://127.0.0.1/test' }, 'store.postgres'],
    ] as const) {
      it(`refuses ${title}`, async () => {
        await assert.rejects(openPostgresStore(options), (err: unknown) => err instanceof TidemarkError && err.code === 'TM_ERR_CONFIG' && err.path === path);
      });
    }
  });
}
