// PostgreSQL going away and coming back under an open store, on a private server (never the
// shared one): calls fail with TM_ERR_UNAVAILABLE (503, retryable) while it is down, what was
// acknowledged before survives a crash, and the same store works again once it is back,
// without reopening. Skipped with a notice without the server binaries, unless
// TIDEMARK_REQUIRE_SERVICES=1.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { TidemarkError } from '../errors.ts';
import { PrivatePostgres, postgresBinDir } from './pg-private.ts';
import { openPostgresStore, type PostgresStore } from './postgres.ts';

const bin = postgresBinDir();
if (!bin) {
  if (process.env.TIDEMARK_REQUIRE_SERVICES === '1') throw new Error('TIDEMARK_REQUIRE_SERVICES=1 but no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (apt-get install postgresql)');
  process.stdout.write('# NOTICE: no PostgreSQL server binaries (apt-get install postgresql); skipping the PostgreSQL restart test\n');
}

const T0 = 1_700_000_040_000;
let server: PrivatePostgres | undefined;
let store: PostgresStore | undefined;

before(async () => {
  if (bin) server = await PrivatePostgres.create(bin);
});
after(async () => {
  await store?.close().catch(() => undefined);
  server?.destroy();
});

function unavailable(err: unknown): boolean {
  return err instanceof TidemarkError && err.code === 'TM_ERR_UNAVAILABLE' && err.status === 503;
}

it('a crash of PostgreSQL: 503s while it is down, nothing acknowledged lost, recovers by itself', { skip: !bin }, async () => {
  const pg = server!;
  store = await openPostgresStore({ url: pg.url, schema: 'tm_restart', connectTimeoutMs: 2000 });
  await store.tenants.create({ id: 'acme', name: 'Acme' });
  const [id] = await store.series.intern([{ tenant: 'acme', metric: 'm', labels: {} }]);
  const batch = (from: number, n: number) => ({ seriesId: new Array(n).fill(id), t: Array.from({ length: n }, (_, i) => T0 + (from + i) * 1000), v: Array.from({ length: n }, (_, i) => from + i) });
  assert.deepEqual(await store.samples.append(batch(0, 100)), { inserted: 100, duplicates: 0 });
  await store.alerts.upsert({ tenant: 'acme', fingerprint: 'fp', metric: 'm', labels: {}, state: 'firing', severity: 'S2', startsAt: T0, at: T0, score: 0.9, reasons: ['spike'] });

  pg.stop('immediate');
  await assert.rejects(store.samples.append(batch(100, 100)), unavailable);
  await assert.rejects(store.tenants.get('acme'), unavailable);
  await assert.rejects(store.alerts.upsert({ tenant: 'acme', fingerprint: 'fp', metric: 'm', labels: {}, state: 'resolved', severity: 'S2', startsAt: T0, at: T0 + 1, score: 0.1, reasons: [] }), unavailable);

  pg.start();
  // The pool may still hold a connection from before the crash; it fails once and is replaced.
  let retried: { inserted: number; duplicates: number } | undefined;
  for (let attempt = 0; attempt < 5 && retried === undefined; attempt++) {
    try {
      retried = await store.samples.append(batch(100, 100));
    } catch (err) {
      if (!unavailable(err)) throw err;
    }
  }
  assert.deepEqual(retried, { inserted: 100, duplicates: 0 }, 'the retried batch lands once');
  const all = await store.samples.range('acme', id, 0, T0 * 2);
  assert.equal(all.t.length, 200);
  assert.deepEqual([...all.v.subarray(0, 3)], [0, 1, 2]);
  assert.equal((await store.alerts.get('acme', 'fp'))?.state, 'firing');
});
