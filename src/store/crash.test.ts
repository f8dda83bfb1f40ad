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
function runAndKill(dataDir: string, acks: number): Promise<{ acked: Set<number>; signal: NodeJS.Signals | null; walExisted: boolean }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./crash-child.ts', import.meta.url)), dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
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

it('every acknowledged batch survives kill -9, and no batch is half-written', { timeout: 30_000 }, async () => {
  const dataDir = join(root, 'data');
  const { acked, signal, walExisted } = await runAndKill(dataDir, 60);
  assert.equal(signal, 'SIGKILL');
  assert.ok(walExisted, 'the writer had a write-ahead log to recover from');
  assert.ok(acked.size >= 60, `acked ${acked.size}`);

  const store = await openSqliteStore({ dataDir });
  try {
    const series = await store.series.find('crash', []);
    assert.equal(series.length, CRASH_SERIES);
    // For each batch k: how many samples carry it (value k at a time of batch k).
    const perBatch = new Map<number, number>();
    for (const s of series) {
      const r = await store.samples.range('crash', s.id, CRASH_T0, CRASH_T0 + 10_000_000);
      for (let i = 0; i < r.t.length; i++) {
        const k = r.v[i];
        assert.equal(Math.floor((r.t[i] - CRASH_T0) / CRASH_POINTS), k, 'a sample sits at a time of its own batch');
        perBatch.set(k, (perBatch.get(k) ?? 0) + 1);
      }
    }
    for (const k of acked) assert.equal(perBatch.get(k), CRASH_SERIES * CRASH_POINTS, `acknowledged batch ${k} is complete`);
    for (const [k, count] of perBatch) assert.equal(count, CRASH_SERIES * CRASH_POINTS, `batch ${k} is all or nothing`);
    const events = await store.changes.list({ tenant: 'crash', from: CRASH_T0, to: CRASH_T0 + 10_000_000 });
    const eventKs = new Set(events.map((e) => Number(e.externalId)));
    for (const k of acked) assert.ok(eventKs.has(k), `the change event of acknowledged batch ${k} is there`);
  } finally {
    await store.close();
  }
});
