// PostgreSQL crashing under a worker, on a private server (never the shared one): the worker
// keeps its place in the partition, retries the message whose writes failed, and once the
// database is back it applies everything, once: the detector state ends equal to a single
// process that never saw an outage. The ingest side is covered by restart.test.ts (NATS) and
// the store's own restart test (503 while PostgreSQL is down).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MemoryBus } from '../bus/index.ts';
import { createEngine } from '../engine/index.ts';
import { IngestBatch } from '../ingest/index.ts';
import { openPostgresStore, openSqliteStore, type Store } from '../store/index.ts';
import { PrivatePostgres, postgresBinDir } from '../store/pg-private.ts';
import { BusSink } from './ingest.ts';
import { batchCount, fillBatch, makeWorkload, type Workload } from './testkit.ts';
import { ClusterWorker } from './worker.ts';

const bin = postgresBinDir();
if (!bin) {
  if (process.env.TIDEMARK_REQUIRE_SERVICES === '1') throw new Error('TIDEMARK_REQUIRE_SERVICES=1 but no PostgreSQL server binaries in /usr/lib/postgresql/*/bin');
  process.stdout.write('# NOTICE: no PostgreSQL server binaries; skipping the worker PostgreSQL restart test\n');
}

async function states(store: Store): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const series = await store.series.find('default', []);
  const cps = await store.checkpoints.getMany(series.map((s) => s.id));
  for (const s of series) {
    const cp = cps.get(s.id);
    if (cp) out.set(`${s.metric}${JSON.stringify(s.labels, Object.keys(s.labels).sort())}`, Buffer.from(cp.blob).toString('hex'));
  }
  return out;
}

async function singleProcess(w: Workload): Promise<Map<string, string>> {
  const dir = mkdtempSync(join(tmpdir(), 'tidemark-single-'));
  try {
    const store = await openSqliteStore({ dataDir: dir });
    await store.tenants.create({ id: 'default', name: 'default' });
    const engine = await createEngine({ store, clock: Date.now, checkpointIntervalMs: 0, alerting: false });
    const b = new IngestBatch({ maxFutureMs: Number.MAX_SAFE_INTEGER });
    for (let k = 0; k < batchCount(w); k++) await engine.ingest('default', fillBatch(w, k, b), 'live');
    await engine.close();
    const s = await states(store);
    await store.close();
    return s;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('a worker across a PostgreSQL crash', { skip: !bin }, () => {
  let pg: PrivatePostgres | undefined;
  after(() => pg?.destroy());

  it('retries while the database is down and ends in the single-process state', { timeout: 120_000 }, async () => {
    pg = await PrivatePostgres.create(bin!);
    const w = makeWorkload({ series: 16, steps: 300, t0: Date.now() - 300 * 60_000, stepsPerBatch: 10 });
    const want = await singleProcess(w);
    const store = await openPostgresStore({ url: pg.url, schema: 'tm_worker_restart', connectTimeoutMs: 1000 });
    await store.tenants.create({ id: 'default', name: 'default' });
    const bus = new MemoryBus({ partitions: 4, leaseTtlMs: 5000 });
    const sink = new BusSink(bus);
    const worker = await ClusterWorker.start({ bus, store, id: 'r', tickMs: 100, checkpointEveryMs: 200, engine: { alerting: false } });
    const b = new IngestBatch({ maxFutureMs: Number.MAX_SAFE_INTEGER });
    const n = batchCount(w);
    const last = new Map<number, number>();
    const publish = bus.publish.bind(bus);
    bus.publish = async (p, d) => {
      const seq = await publish(p, d);
      last.set(p, Math.max(last.get(p) ?? 0, seq));
      return seq;
    };
    const done = () => worker.owned().length === 4 && [...last].every(([p, seq]) => (worker.applied().get(p) ?? 0) >= seq);
    try {
      let k = 0;
      for (; k < n / 2; k++) await sink.ingest('default', fillBatch(w, k, b), 'live');
      for (let i = 0; i < 200 && !done(); i++) await new Promise((r) => setTimeout(r, 50));
      pg.stop('immediate'); // a crash: the worker's next writes fail
      for (; k < n; k++) await sink.ingest('default', fillBatch(w, k, b), 'live');
      for (let i = 0; i < 100 && worker.stats.retries === 0; i++) await new Promise((r) => setTimeout(r, 50));
      assert.ok(worker.stats.retries > 0, 'the worker retried while PostgreSQL was down');
      assert.ok(!done(), 'nothing past the failed message was applied');
      pg.start();
      for (let i = 0; i < 600 && !done(); i++) await new Promise((r) => setTimeout(r, 50));
      assert.ok(done(), 'every message applied after PostgreSQL came back');
      await worker.stop();
      const got = await states(store);
      assert.equal(got.size, want.size);
      for (const [key, hex] of want) assert.equal(got.get(key), hex, `detector state of ${key}`);
      const ids = await store.series.find('default', []);
      for (const s of ids) assert.equal((await store.samples.range('default', s.id, 0, Date.now() + 1)).t.length, w.steps, 'every sample stored');
    } finally {
      await worker.stop().catch(() => undefined);
      await store.close().catch(() => undefined);
      await bus.close();
    }
  });
});
