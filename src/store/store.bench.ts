// Embedded store throughput and latency.
//   node --import tsx src/store/store.bench.ts [--series 100000] [--rounds 10] [--batch 2000] [--dir D]
// Ingest: rounds of one sample per series ("a scrape"), appended as batches of --batch samples
// (the sample log plus the head; blocks flush into per-series chunks in the background),
// against the first design's baseline: one row per sample in samples(series_id, t, v) WITHOUT
// ROWID through a bare statement. Then: group commit against one transaction per small batch,
// 1,000-point range reads, rollup reads, a matcher lookup over all series, and a retention sweep.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { SQLITE_FILE, openSqliteStore } from './sqlite.ts';

const { values: args } = parseArgs({
  options: {
    series: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '10' },
    batch: { type: 'string', default: '2000' },
    dir: { type: 'string' },
  },
  strict: true,
});
const SERIES = Number(args.series);
const ROUNDS = Number(args.rounds);
const BATCH = Number(args.batch);
const STEP = 15_000; // a 15 s scrape interval
const T0 = 1_700_000_040_000;

const dir = args.dir ?? mkdtempSync(join(tmpdir(), 'tidemark-bench-'));
const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
const ms = (x: number) => `${x.toFixed(3)} ms`;
function quantiles(xs: number[]): { p50: number; p99: number; mean: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { p50: s[Math.floor(s.length * 0.5)], p99: s[Math.min(s.length - 1, Math.floor(s.length * 0.99))], mean: xs.reduce((a, b) => a + b, 0) / xs.length };
}

const store = await openSqliteStore({ dataDir: dir, retention: { rawMs: 48 * 3600_000, rollupMs: 30 * 86400_000, lateMs: 5 * 60_000 } });
try {
  await store.tenants.create({ id: 'bench', name: 'Bench' });
  console.log(`store bench: ${fmt(SERIES)} series, ${ROUNDS} rounds, ${fmt(BATCH)}-sample batches, dir ${dir}`);

  // Series interning, in API-sized chunks.
  let t = performance.now();
  const ids = new Float64Array(SERIES);
  for (let lo = 0; lo < SERIES; lo += 1000) {
    const keys = [];
    for (let i = lo; i < Math.min(SERIES, lo + 1000); i++) keys.push({ tenant: 'bench', metric: `m${i % 50}`, labels: { host: `h${i % 1000}`, shard: String(Math.floor(i / 1000)) } });
    const got = await store.series.intern(keys);
    ids.set(got, lo);
  }
  let dt = performance.now() - t;
  console.log(`intern (new)       ${fmt(SERIES / (dt / 1000))} series/s`);
  t = performance.now();
  for (let lo = 0; lo < SERIES; lo += 1000) {
    const keys = [];
    for (let i = lo; i < Math.min(SERIES, lo + 1000); i++) keys.push({ tenant: 'bench', metric: `m${i % 50}`, labels: { host: `h${i % 1000}`, shard: String(Math.floor(i / 1000)) } });
    await store.series.intern(keys);
  }
  dt = performance.now() - t;
  console.log(`intern (cached)    ${fmt(SERIES / (dt / 1000))} series/s`);

  // Ingest: the measured figure. Buffers are reused batch to batch, as an ingest loop would.
  const bIds = new Float64Array(BATCH);
  const bT = new Float64Array(BATCH);
  const bV = new Float64Array(BATCH);
  const perRound: number[] = [];
  let rows = 0;
  const start = performance.now();
  for (let r = 0; r < ROUNDS; r++) {
    const r0 = performance.now();
    for (let lo = 0; lo < SERIES; lo += BATCH) {
      const n = Math.min(BATCH, SERIES - lo);
      for (let i = 0; i < n; i++) {
        bIds[i] = ids[lo + i];
        bT[i] = T0 + r * STEP;
        bV[i] = Math.sin(lo + i + r) * 100;
      }
      const res = await store.samples.append(n === BATCH ? { seriesId: bIds, t: bT, v: bV } : { seriesId: bIds.subarray(0, n), t: bT.subarray(0, n), v: bV.subarray(0, n) });
      rows += res.inserted;
    }
    perRound.push(SERIES / ((performance.now() - r0) / 1000));
  }
  const ingestS = (performance.now() - start) / 1000;
  console.log(`ingest             ${fmt(rows / ingestS)} rows/s  (${fmt(rows)} rows in ${ingestS.toFixed(2)} s; first round ${fmt(perRound[0])}, last ${fmt(perRound[perRound.length - 1])} rows/s)`);

  // Baseline: the same rows, one row per sample, through a bare prepared statement on a bare
  // connection with the same pragmas: the layout the store used before the sample log.
  {
    const raw = new Database(join(dir, 'baseline.db'));
    raw.pragma('locking_mode = EXCLUSIVE');
    raw.pragma('journal_mode = WAL');
    raw.pragma('synchronous = NORMAL');
    raw.pragma('cache_size = -65536');
    raw.exec('CREATE TABLE samples (series_id INTEGER NOT NULL, t INTEGER NOT NULL, v REAL, PRIMARY KEY (series_id, t)) WITHOUT ROWID');
    const ins = raw.prepare('INSERT OR IGNORE INTO samples (series_id, t, v) VALUES (?, ?, ?)');
    const tx = raw.transaction((lo: number, n: number, r: number) => {
      for (let i = 0; i < n; i++) ins.run(lo + i + 1, T0 + r * STEP, Math.sin(lo + i + r) * 100);
    });
    const b0 = performance.now();
    for (let r = 0; r < ROUNDS; r++) for (let lo = 0; lo < SERIES; lo += BATCH) tx(lo, Math.min(BATCH, SERIES - lo), r);
    const baseS = (performance.now() - b0) / 1000;
    raw.close();
    console.log(`  baseline         ${fmt((SERIES * ROUNDS) / baseS)} rows/s bare better-sqlite3 (store at x${(baseS / ingestS).toFixed(2)} of it)`);
  }

  // Group commit vs one transaction per batch, for many small concurrent batches (10 samples).
  const small = 10;
  const concurrent = 200;
  const smallBatches = (r: number, idOf: (k: number) => number) =>
    Array.from({ length: concurrent }, (_, b) => ({
      seriesId: Float64Array.from({ length: small }, (_, i) => idOf(b * small + i)),
      t: new Float64Array(small).fill(T0 + r * STEP),
      v: new Float64Array(small).fill(1),
    }));
  const baseline = await openSqliteStore({ dataDir: join(dir, 'nogroup'), groupCommit: false });
  await baseline.tenants.create({ id: 'bench', name: 'Bench' });
  const bIdsSmall = await baseline.series.intern(Array.from({ length: concurrent * small }, (_, i) => ({ tenant: 'bench', metric: 'm', labels: { i: String(i) } })));
  let solo = 0;
  let grouped = 0;
  const SMALL_ROUNDS = 20;
  for (let r = 0; r < SMALL_ROUNDS; r++) {
    const a = smallBatches(ROUNDS + 1000 + r, (k) => bIdsSmall[k]);
    let s = performance.now();
    await Promise.all(a.map((b) => baseline.samples.append(b)));
    solo += performance.now() - s;
    const g = smallBatches(ROUNDS + 1000 + r, (k) => ids[k % SERIES]);
    s = performance.now();
    await Promise.all(g.map((b) => store.samples.append(b)));
    grouped += performance.now() - s;
  }
  await baseline.close();
  const smallRows = SMALL_ROUNDS * concurrent * small;
  console.log(
    `small batches      ${concurrent} concurrent x ${small} samples: one tx each ${fmt(smallRows / (solo / 1000))} rows/s, group commit ${fmt(smallRows / (grouped / 1000))} rows/s (x${(solo / grouped).toFixed(1)})`,
  );

  // 1,000-point range reads: give 200 series 1,000 more points each, then read them back.
  const QSERIES = 200;
  const QPOINTS = 1000;
  const qFrom = T0 + (ROUNDS + 2000) * STEP;
  for (let s = 0; s < QSERIES; s += BATCH / QPOINTS) {
    const n = (BATCH / QPOINTS) * QPOINTS;
    const sid = new Float64Array(n);
    const tt = new Float64Array(n);
    const vv = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      sid[i] = ids[s + Math.floor(i / QPOINTS)];
      tt[i] = qFrom + (i % QPOINTS) * STEP;
      vv[i] = i;
    }
    await store.samples.append({ seriesId: sid, t: tt, v: vv });
  }
  const lat: number[] = [];
  const rlat: number[] = [];
  for (let q = 0; q < 1000; q++) {
    const id = ids[(q * 7919) % QSERIES];
    let s = performance.now();
    const r = await store.samples.range('bench', id, qFrom, qFrom + QPOINTS * STEP);
    lat.push(performance.now() - s);
    if (r.t.length !== QPOINTS) throw new Error(`expected ${QPOINTS} points, got ${r.t.length}`);
    s = performance.now();
    await store.samples.rollups('bench', id, qFrom, qFrom + QPOINTS * STEP);
    rlat.push(performance.now() - s);
  }
  const q1 = quantiles(lat);
  const q2 = quantiles(rlat);
  console.log(`range 1,000 points p50 ${ms(q1.p50)}  p99 ${ms(q1.p99)}  mean ${ms(q1.mean)}`);
  console.log(`rollups (250 min)  p50 ${ms(q2.p50)}  p99 ${ms(q2.p99)}  mean ${ms(q2.mean)}  (computed from raw before the first sweep)`);

  // Matcher lookups over the interned label sets (done in TypeScript). The first lookup of a
  // tenant loads its catalogue of parsed label sets; later ones match in memory.
  let s0 = performance.now();
  await store.series.find('bench', [{ name: 'host', op: '=', value: 'h999' }]);
  const firstFind = performance.now() - s0;
  const flat: number[] = [];
  const pinned: number[] = [];
  for (let q = 0; q < 10; q++) {
    s0 = performance.now();
    const a = await store.series.find('bench', [{ name: 'host', op: '=', value: `h${q}` }]);
    flat.push(performance.now() - s0);
    s0 = performance.now();
    const b = await store.series.find('bench', [{ name: '__name__', op: '=', value: `m${q}` }, { name: 'host', op: '=~', value: 'h1.*' }]);
    pinned.push(performance.now() - s0);
    if (a.length === 0 || b.length === 0) throw new Error('matchers found nothing');
  }
  console.log(`find host="hN"     first ${ms(firstFind)} (loads the catalogue), then mean ${ms(quantiles(flat).mean)} over ${fmt(SERIES)} series`);
  console.log(`find __name__="mN",host=~"h1.*"  mean ${ms(quantiles(pinned).mean)} (SQL narrows to one metric, parses its label sets)`);

  // A retention sweep that rolls everything up (first sweep) and expires nothing.
  t = performance.now();
  const sw = await store.samples.sweep(qFrom + (QPOINTS + 100) * STEP);
  console.log(`sweep              ${(performance.now() - t).toFixed(0)} ms: ${fmt(sw.rolledUp)} rollup rows written, ${fmt(sw.deletedSamples)} samples deleted`);
  const size = statSync(join(dir, SQLITE_FILE)).size + statSync(join(dir, `${SQLITE_FILE}-wal`)).size;
  console.log(`file size          ${(size / 1024 / 1024).toFixed(1)} MiB incl. WAL (${(size / (rows + QSERIES * QPOINTS)).toFixed(1)} bytes per sample)`);
} finally {
  await store.close();
  if (!args.dir) rmSync(dir, { recursive: true, force: true });
}
