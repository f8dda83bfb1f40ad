/**
 * The sample store's write path as the ingest benchmark drives it: rounds of one sample and one
 * band per series (`series` series, 2,000-point batches, 4 batches per group commit), then the
 * flush of the block into per-series chunks. Two layouts, interleaved, best of `rounds` each:
 *   baseline: the log in the `sample_log` table, 4 KiB pages (the layout before the file log);
 *   file log: one append-only file per block, 16 KiB pages (the default now).
 * Reported per sample: main-thread CPU µs for appending (log + head) and for the flush, and
 * the ratio of the totals. 20 rounds make chunks of ~1 KB, the size the ingest bench's blocks
 * give (4,000,000 points over 100,000 series) and the one 4 KiB pages had to spill.
 *
 *   node --import tsx src/store/sample-log.bench.ts [--series 100000] [--points 20] [--rounds 2]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openSqliteStore, type SqliteStoreOptions } from './sqlite.ts';

const BATCH = 2000;
const IN_FLIGHT = 4;
const T0 = 1_700_000_000_000;

export interface SampleStoreBenchOptions {
  series: number;
  points: number;
  rounds: number;
}

interface Cost {
  appendUs: number;
  flushUs: number;
}

function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

async function once(dir: string, o: SampleStoreBenchOptions, layout: Pick<SqliteStoreOptions, 'sampleLog' | 'pageSize'>): Promise<Cost> {
  // Blocks never seal on their own here: the flush is timed apart, as one block.
  const store = await openSqliteStore({ dataDir: dir, sampleBlockPoints: Number.MAX_SAFE_INTEGER, ...layout });
  try {
    await store.tenants.create({ id: 'b', name: 'b' });
    const ids = new Float64Array(o.series);
    for (let lo = 0; lo < o.series; lo += 1000) {
      const keys = [];
      for (let i = lo; i < Math.min(o.series, lo + 1000); i++) keys.push({ tenant: 'b', metric: 'm', labels: { i: String(i) } });
      ids.set(await store.series.intern(keys), lo);
    }
    const cols = Array.from({ length: IN_FLIGHT }, () => ({ sid: new Float64Array(BATCH), t: new Float64Array(BATCH), v: new Float64Array(BATCH) }));
    const c0 = cpuUs();
    for (let r = 0; r < o.points; r++) {
      for (let lo = 0; lo < o.series; lo += BATCH * IN_FLIGHT) {
        const pending = [];
        for (let k = 0; k < IN_FLIGHT && lo + k * BATCH < o.series; k++) {
          const from = lo + k * BATCH;
          const n = Math.min(BATCH, o.series - from);
          const c = cols[k];
          for (let i = 0; i < n; i++) {
            c.sid[i] = ids[from + i];
            c.t[i] = T0 + r * 15_000;
            c.v[i] = 100 + Math.sin(from + i + r);
          }
          const sid = c.sid.subarray(0, n);
          const t = c.t.subarray(0, n);
          const v = c.v.subarray(0, n);
          pending.push(store.samples.append({ seriesId: sid, t, v }), store.samples.appendBands({ seriesId: sid, t, expected: v, lower: v, upper: v, score: v }));
        }
        await Promise.all(pending);
      }
    }
    const c1 = cpuUs();
    store.samples.flushAll();
    const c2 = cpuUs();
    const n = o.series * o.points;
    return { appendUs: (c1 - c0) / n, flushUs: (c2 - c1) / n };
  } finally {
    await store.close();
  }
}

export async function runSampleStoreBench(options: Partial<SampleStoreBenchOptions> = {}): Promise<Record<string, unknown>> {
  const o: SampleStoreBenchOptions = { series: 100_000, points: 20, rounds: 2, ...options };
  const root = mkdtempSync(join(tmpdir(), 'tidemark-sample-bench-'));
  const layouts = [
    { name: 'baseline (table log, 4 KiB pages)', layout: { sampleLog: 'table', pageSize: 4096 } },
    { name: 'file log, 16 KiB pages', layout: { sampleLog: 'file', pageSize: 16384 } },
  ] as const;
  const best: Cost[] = layouts.map(() => ({ appendUs: Infinity, flushUs: Infinity }));
  try {
    let k = 0;
    for (let r = 0; r < o.rounds; r++) {
      for (let i = 0; i < layouts.length; i++) {
        const c = await once(join(root, String(k++)), o, layouts[i].layout);
        if (c.appendUs + c.flushUs < best[i].appendUs + best[i].flushUs) best[i] = c;
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  console.log(`sample store write path: ${o.series.toLocaleString('en-US')} series x ${o.points} points (+ a band each), best of ${o.rounds} interleaved rounds`);
  for (let i = 0; i < layouts.length; i++) {
    const c = best[i];
    console.log(`${layouts[i].name.padEnd(36)} append ${c.appendUs.toFixed(3)} µs/sample  flush ${c.flushUs.toFixed(3)} µs/sample  total ${(c.appendUs + c.flushUs).toFixed(3)} CPU-µs/sample`);
  }
  const [base, now] = best;
  const ratio = (base.appendUs + base.flushUs) / (now.appendUs + now.flushUs);
  console.log(`file log: x${ratio.toFixed(2)} less CPU per sample than the baseline`);
  return {
    name: 'store.sample_write_path',
    cpu_us_per_sample: Number((now.appendUs + now.flushUs).toFixed(3)),
    baseline_cpu_us_per_sample: Number((base.appendUs + base.flushUs).toFixed(3)),
    ratio_vs_baseline: Number(ratio.toFixed(2)),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { series: { type: 'string' }, points: { type: 'string' }, rounds: { type: 'string' } }, strict: true });
  const rec = await runSampleStoreBench({
    ...(values.series && { series: Number(values.series) }),
    ...(values.points && { points: Number(values.points) }),
    ...(values.rounds && { rounds: Number(values.rounds) }),
  });
  console.log(`BENCH ${JSON.stringify(rec)}`);
}
