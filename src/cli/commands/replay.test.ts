import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { replayCommand } from './replay.ts';

async function run(argv: string[]): Promise<{ code: number; out: string }> {
  const out: string[] = [];
  const o = process.stdout.write;
  // Only text is captured: node:test itself reports through stdout with binary frames.
  process.stdout.write = ((s: string | Uint8Array, ...rest: never[]) => (typeof s === 'string' ? out.push(s) > 0 : o.call(process.stdout, s, ...rest))) as typeof process.stdout.write;
  try {
    return { code: await replayCommand.run(argv), out: out.join('') };
  } finally {
    process.stdout.write = o;
  }
}

const T0 = Date.UTC(2024, 0, 1);
const MIN = 60_000;

/** Two series of 120 one-minute points at 10 with excursions to 500; labels; a threshold detector file. */
function fixture() {
  const dir = mkdtempSync(join(tmpdir(), 'tm-replay-'));
  const csv = (high: number[]) =>
    ['timestamp,value', ...Array.from({ length: 120 }, (_, i) => `${T0 + i * MIN},${high.includes(i) ? 500 : 10}`)].join('\n') + '\n';
  writeFileSync(join(dir, 'a.csv'), csv([30, 31, 33, 90]));
  // The same kind of series as JSON with ISO timestamps.
  writeFileSync(
    join(dir, 'b.json'),
    JSON.stringify([{ name: 'b', points: Array.from({ length: 120 }, (_, i) => [new Date(T0 + i * MIN).toISOString(), i === 60 ? 500 : 10]) }]),
  );
  writeFileSync(
    join(dir, 'labels.json'),
    JSON.stringify({ labels: [{ series: 'a', kind: 'spike', start: T0 + 30 * MIN, end: T0 + 30 * MIN }, { series: 'b', kind: 'drop_to_zero', start: T0 + 100 * MIN, end: T0 + 105 * MIN }] }),
  );
  writeFileSync(join(dir, 'det.yaml'), 'detectors:\n  - name: threshold\n    config: {above: 100}\n');
  return dir;
}

test('replay lists events and scores them (threshold detector from a file)', async () => {
  const dir = fixture();
  try {
    const r = await run(['--input', dir, '--labels', join(dir, 'labels.json'), '--detectors', join(dir, 'det.yaml'), '--json']);
    assert.equal(r.code, 0);
    const doc = JSON.parse(r.out);
    assert.equal(doc.series, 2);
    assert.equal(doc.points, 240);
    // a: 30, 31, 33 merge (gap 2 < 5 intervals) and match the spike; 90 is false. b: 60 is false.
    assert.deepEqual(
      doc.events.map((e: { series: string; start: number; end: number; verdict: string }) => [e.series, (e.start - T0) / MIN, (e.end - T0) / MIN, e.verdict]),
      [['a', 30, 33, 'true'], ['a', 90, 90, 'false'], ['b', 60, 60, 'false']],
    );
    assert.deepEqual(doc.events[0].reasons, ['above_threshold']);
    assert.equal(doc.overall.precision, 0.3333);
    assert.equal(doc.overall.recall, 0.5);
    assert.equal(doc.overall.f1, 0.4);
    assert.equal(doc.overall.mean_delay_ms, 0);
    const text = await run(['--input', dir, '--labels', join(dir, 'labels.json'), '--detectors', join(dir, 'det.yaml')]);
    assert.match(text.out, /anomalies found: 3/);
    assert.match(text.out, /^a\s+2024-01-01T00:30:00Z\s+2024-01-01T00:33:00Z\s+1\.000\s+true \(spike\)\s+above_threshold$/m);
    assert.match(text.out, /^overall\s+2\s+1\s+0\.500\s+0\.333\s+0\.400\s+0\.0\s+2\s+/m);
    assert.match(text.out, /missed: b drop_to_zero @ 2024-01-01T01:40:00Z/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('replay usage and input errors', async () => {
  const dir = fixture();
  try {
    const det = join(dir, 'det.yaml');
    const cases: [string[], string, RegExp][] = [
      [[], 'TM_ERR_USAGE', /--input is required/],
      [['--input', dir, '--threshold', '1.5'], 'TM_ERR_USAGE', /--threshold must be a number from 0 to 1/],
      [['--input', dir, '--merge-gap', '0'], 'TM_ERR_USAGE', /--merge-gap must be an integer from 1/],
      [['--input', join(dir, 'nope')], 'TM_ERR_NOT_FOUND', /no such file or directory/],
      [['--input', dir, '--labels', join(dir, 'a.csv'), '--detectors', det], 'TM_ERR_INPUT', /not valid JSON/],
    ];
    for (const [argv, code, message] of cases) await assert.rejects(run(argv), { code, message }, argv.join(' '));
    writeFileSync(det, 'detectors:\n  - name: thresholds\n');
    await assert.rejects(run(['--input', dir, '--detectors', det]), { code: 'TM_ERR_UNKNOWN_DETECTOR' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
