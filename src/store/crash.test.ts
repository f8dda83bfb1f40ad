import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, it } from 'node:test';
import { CRASH_POINTS, CRASH_SERIES, CRASH_T0 } from './crash-child.ts';
import { SQLITE_FILE, openSqliteStore } from './sqlite.ts';

const root = mkdtempSync(join(tmpdir(), 'tidemark-crash-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** Kills the writer with SIGKILL once it has acknowledged `acks` batches; returns the acked ks. */
function runAndKill(dataDir: string, acks: number, blockPoints?: number): Promise<{ acked: Set<number>; signal: NodeJS.Signals | null; walExisted: boolean }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./crash-child.ts', import.meta.url)), dataDir, ...(blockPoints ? [String(blockPoints)] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
  const acked = new Set<number>();
  let buffered = '';
  let stderr = '';
  let walExisted = false;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the writer acknowledged only ${acked.size} batches in time; stderr: ${stderr}`));
    }, 20_000);
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) if (line.startsWith('ack ')) acked.add(Number(line.slice(4)));
      if (acked.size >= acks && child.exitCode === null && !child.killed) {
        walExisted = existsSync(join(dataDir, `${SQLITE_FILE}-wal`));
        child.kill('SIGKILL');
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      // Acks still in the pipe were written before the kill: count them too.
      for (const line of buffered.split('\n')) if (line.startsWith('ack ')) acked.add(Number(line.slice(4)));
      if (code !== null && code !== 0) reject(new Error(`the writer failed (exit ${code}): ${stderr}`));
      else resolve({ acked, signal, walExisted });
    });
  });
}

// Default blocks: everything acknowledged sits in the sample log. 2,000-point blocks: a block
// is sealed every two batches and flushed into chunks in the background, so the kill also
// lands between flush transactions; reopening re-flushes those blocks.
for (const [title, blockPoints] of [
  ['in the log', undefined],
  ['while the head is flushed into chunks', 2000],
] as const) {
  it(`every acknowledged batch survives kill -9, and no batch is half-written (${title})`, { timeout: 30_000 }, async () => {
    const dataDir = join(root, `data-${blockPoints ?? 'default'}`);
    const { acked, signal, walExisted } = await runAndKill(dataDir, 60, blockPoints);
    assert.equal(signal, 'SIGKILL');
    assert.ok(walExisted, 'the writer had a write-ahead log to recover from');
    assert.ok(acked.size >= 60, `acked ${acked.size}`);

    const store = await openSqliteStore({ dataDir });
    try {
      const series = await store.series.find('crash', []);
      assert.equal(series.length, CRASH_SERIES);
      // For each batch k: how many samples (and bands) carry it (value k at a time of batch k).
      const perBatch = new Map<number, number>();
      const bandsPerBatch = new Map<number, number>();
      for (const s of series) {
        const r = await store.samples.range('crash', s.id, CRASH_T0, CRASH_T0 + 10_000_000);
        for (let i = 0; i < r.t.length; i++) {
          const k = r.v[i];
          assert.equal(Math.floor((r.t[i] - CRASH_T0) / CRASH_POINTS), k, 'a sample sits at a time of its own batch');
          perBatch.set(k, (perBatch.get(k) ?? 0) + 1);
        }
        const b = await store.samples.bands('crash', s.id, CRASH_T0, CRASH_T0 + 10_000_000);
        for (let i = 0; i < b.t.length; i++) bandsPerBatch.set(b.expected[i], (bandsPerBatch.get(b.expected[i]) ?? 0) + 1);
      }
      for (const k of acked) assert.equal(perBatch.get(k), CRASH_SERIES * CRASH_POINTS, `acknowledged batch ${k} is complete`);
      for (const [k, count] of perBatch) assert.equal(count, CRASH_SERIES * CRASH_POINTS, `batch ${k} is all or nothing`);
      for (const k of acked) assert.equal(bandsPerBatch.get(k), CRASH_SERIES * CRASH_POINTS, `the bands of acknowledged batch ${k} are complete`);
      const events = await store.changes.list({ tenant: 'crash', from: CRASH_T0, to: CRASH_T0 + 10_000_000 });
      const eventKs = new Set(events.map((e) => Number(e.externalId)));
      for (const k of acked) assert.ok(eventKs.has(k), `the change event of acknowledged batch ${k} is there`);
      // A retried batch after the restart is a no-op: duplicates are found in chunks and the head alike.
      const k = Math.max(...acked);
      const n = CRASH_SERIES * CRASH_POINTS;
      const again = await store.samples.append({
        seriesId: Array.from({ length: n }, (_, i) => series[i % CRASH_SERIES].id),
        t: Array.from({ length: n }, (_, i) => CRASH_T0 + k * CRASH_POINTS + Math.floor(i / CRASH_SERIES)),
        v: new Array(n).fill(-1),
      });
      assert.deepEqual(again, { inserted: 0, duplicates: n });
    } finally {
      await store.close();
    }
  });
}
