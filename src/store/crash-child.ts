// The writer half of crash.test.ts: appends sample batches and change events to the store in
// the data dir given as argv[2], printing `ack <k>` once batch k is acknowledged (its promise
// resolved), until the parent kills it. Several batches are in flight at once, so group commit
// is on the path. Each batch also writes bands (expected = k) for the same points. With a
// block size (argv[3]) the head is sealed and flushed into chunks every few batches, so the
// kill also lands mid-flush. Run: node --import tsx src/store/crash-child.ts <dataDir> [blockPoints]
import { pathToFileURL } from 'node:url';
import { openSqliteStore } from './sqlite.ts';

export const CRASH_T0 = 1_700_000_000_000;
export const CRASH_SERIES = 100;
/** Timestamps per series per batch: a batch is CRASH_SERIES * CRASH_POINTS samples. */
export const CRASH_POINTS = 5;
const IN_FLIGHT = 4;

async function main(dataDir: string, blockPoints: number | undefined): Promise<void> {
  const store = await openSqliteStore({ dataDir, sampleBlockPoints: blockPoints });
  await store.tenants.create({ id: 'crash', name: 'Crash test' });
  const ids = await store.series.intern(Array.from({ length: CRASH_SERIES }, (_, i) => ({ tenant: 'crash', metric: 'm', labels: { i: String(i) } })));
  process.stdout.write('ready\n');
  const n = CRASH_SERIES * CRASH_POINTS;
  const seriesId = new Float64Array(n);
  for (let i = 0; i < n; i++) seriesId[i] = ids[i % CRASH_SERIES];
  const write = async (k: number): Promise<void> => {
    const t = new Float64Array(n);
    const v = new Float64Array(n).fill(k);
    for (let i = 0; i < n; i++) t[i] = CRASH_T0 + k * CRASH_POINTS + Math.floor(i / CRASH_SERIES);
    await Promise.all([
      store.samples.append({ seriesId, t, v }),
      store.samples.appendBands({ seriesId, t, expected: v, lower: v, upper: v, score: v }),
      store.changes.add({ tenant: 'crash', t: CRASH_T0 + k, kind: 'deploy', service: 'api', text: `batch ${k}`, externalId: String(k) }),
    ]);
    // Pipes are written synchronously on Linux: once this returns the parent can read it.
    process.stdout.write(`ack ${k}\n`);
  };
  for (let k = 0; ; k += IN_FLIGHT) {
    await Promise.all(Array.from({ length: IN_FLIGHT }, (_, j) => write(k + j)));
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv[2], process.argv[3] === undefined ? undefined : Number(process.argv[3])).catch((err) => {
    process.stderr.write(`crash-child: ${(err as Error).stack}\n`);
    process.exit(1);
  });
}
