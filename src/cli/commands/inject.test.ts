import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { injectCommand } from './inject.ts';

async function run(argv: string[]): Promise<{ code: number; out: string }> {
  const out: string[] = [];
  const o = process.stdout.write;
  // Only text is captured: node:test itself reports through stdout with binary frames.
  process.stdout.write = ((s: string | Uint8Array, ...rest: never[]) => (typeof s === 'string' ? out.push(s) > 0 : o.call(process.stdout, s, ...rest))) as typeof process.stdout.write;
  try {
    return { code: await injectCommand.run(argv), out: out.join('') };
  } finally {
    process.stdout.write = o;
  }
}

test('inject writes one CSV per series and labels.json', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tm-inject-'));
  try {
    const r = await run(['--out', dir, '--series', '4', '--days', '3', '--interval', '10m', '--kinds', 'spike,gap', '--clean-fraction', '0.5', '--seed', '9']);
    assert.equal(r.code, 0);
    assert.match(r.out, /^wrote 4 series \(2 clean\), \d+ points, \d+ labelled anomalies to /);
    const files = readdirSync(dir).sort();
    assert.deepEqual(files, ['0-qps-spike.csv', '1-qps-gap.csv', '2-qps-clean.csv', '3-latency_p50-clean.csv', 'labels.json']);
    const doc = JSON.parse(readFileSync(join(dir, 'labels.json'), 'utf8'));
    assert.equal(doc.format, 'tidemark-synth/1');
    assert.equal(doc.generator.intervalMs, 600_000);
    assert.deepEqual([...new Set(doc.labels.map((l: { kind: string }) => l.kind))].sort(), ['gap', 'spike']);
    const csv = readFileSync(join(dir, '2-qps-clean.csv'), 'utf8').split('\n');
    assert.equal(csv[0], 'timestamp,value');
    assert.equal(csv.length - 2, 3 * 144);
    // Same seed, same bytes.
    const dir2 = mkdtempSync(join(tmpdir(), 'tm-inject-'));
    await run(['--out', dir2, '--series', '4', '--days', '3', '--interval', '10m', '--kinds', 'spike,gap', '--clean-fraction', '0.5', '--seed', '9']);
    for (const f of files) assert.equal(readFileSync(join(dir2, f), 'utf8'), readFileSync(join(dir, f), 'utf8'), f);
    rmSync(dir2, { recursive: true, force: true });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('inject usage errors', async () => {
  const cases: [string[], RegExp][] = [
    [[], /--out is required/],
    [['--out', '/tmp/x', '--kinds', 'spike,meteor'], /unknown anomaly kind 'meteor'/],
    [['--out', '/tmp/x', '--series', '0'], /--series must be an integer from 1/],
    [['--out', '/tmp/x', '--interval', 'soon'], /--interval must be a duration/],
    [['--out', '/tmp/x', '--clean', '--clean-fraction', '0.5'], /cannot be combined/],
    [['--out', '/tmp/x', '--days', '30', '--interval', '1s'], /more than 2,000,000 points/],
  ];
  for (const [argv, message] of cases) await assert.rejects(run(argv), { code: 'TM_ERR_USAGE', message }, argv.join(' '));
});
