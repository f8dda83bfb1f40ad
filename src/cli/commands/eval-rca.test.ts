import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { evalRcaCommand } from './eval-rca.ts';
import { syntheticTable } from '../../explain/testdata.ts';
import type { PlantedCause } from '../../explain/testdata.ts';
import type { LeafTable } from '../../explain/index.ts';
import { TidemarkError } from '../../errors.ts';

function toCsv(t: LeafTable): string {
  const lines = [['real', 'predict', ...t.dimensions].join(',')];
  for (let i = 0; i < t.real.length; i++) {
    lines.push([t.real[i], t.predict[i], ...t.dimensions.map((_, d) => t.values[d][t.codes[d][i]])].join(','));
  }
  return lines.join('\n') + '\n';
}

async function run(argv: string[]): Promise<{ code: number; stdout: string }> {
  const write = process.stdout.write;
  let stdout = '';
  process.stdout.write = ((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  }) as typeof process.stdout.write;
  try {
    return { code: await evalRcaCommand.run(argv), stdout };
  } finally {
    process.stdout.write = write;
  }
}

test('eval rca localises every case, writes JSON lines and scores settings with ground truth', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tidemark-rca-'));
  try {
    const cards = [4, 6, 5];
    const planted: { setting: string; ts: string; causes: PlantedCause[]; truth: string }[] = [
      { setting: 'S1', ts: '100', causes: [{ pairs: ['a=a2'], factor: 0.2 }], truth: 'a=a2' },
      // The truth lists b&c as c&b: element identity is order-free.
      { setting: 'S1', ts: '200', causes: [{ pairs: ['b=b3', 'c=c1'], factor: 0 }, { pairs: ['a=a4'], factor: 0.5 }], truth: 'c=c1&b=b3;a=a4' },
      // Truth deliberately names the parent: one FP and one FN.
      { setting: 'S2', ts: '300', causes: [{ pairs: ['a=a1', 'b=b2'], factor: 0.1 }], truth: 'a=a1' },
      { setting: 'S3', ts: '400', causes: [{ pairs: ['c=c5'], factor: 2 }], truth: '' },
    ];
    for (const [k, p] of planted.entries()) {
      mkdirSync(join(dir, p.setting), { recursive: true });
      const table = syntheticTable({ seed: 100 + k, cardinalities: cards, causes: p.causes });
      const csv = toCsv(table);
      if (p.setting === 'S3') writeFileSync(join(dir, p.setting, `${p.ts}.csv`), csv);
      else writeFileSync(join(dir, p.setting, `${p.ts}.csv.gz`), gzipSync(csv));
    }
    writeFileSync(join(dir, 'S1', 'injection_info.csv'), 'normal_predict_amount,set,timestamp\n1,a=a2,100\n2,c=c1&b=b3;a=a4,200\n');
    writeFileSync(join(dir, 'S2', 'injection_info.csv'), 'set,timestamp\na=a1,300\n');
    const out = join(dir, 'out.jsonl');

    const { code, stdout } = await run(['--data', dir, '--out', out, '--json']);
    assert.equal(code, 0);
    const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { case: string; root_causes: string[][] });
    // Elements come strongest first; compare them as sets, but pairs must be in dimension order.
    const bySet = lines.map((l) => ({ case: l.case, root_causes: l.root_causes.map((e) => e.join('&')).sort() }));
    assert.deepEqual(bySet, [
      { case: 'S1/100', root_causes: ['a=a2'] },
      { case: 'S1/200', root_causes: ['a=a4', 'b=b3&c=c1'] },
      { case: 'S2/300', root_causes: ['a=a1&b=b2'] },
      { case: 'S3/400', root_causes: ['c=c5'] },
    ]);
    assert.match(stdout, /^S1\s+2\s+3\s+0\s+0\s+1\.000\s+1\.000\s+1\.000$/m);
    assert.match(stdout, /^S2\s+1\s+0\s+1\s+1\s+0\.000\s+0\.000\s+0\.000$/m);
    assert.doesNotMatch(stdout, /^S3/m);
    assert.match(stdout, /^overall\s+3\s+3\s+1\s+1\s+0\.750\s+0\.750\s+0\.750\s+\(micro\)$/m);
    const last = stdout.trim().split('\n').at(-1)!;
    assert.ok(last.startsWith('RCA '));
    const summary = JSON.parse(last.slice(4));
    assert.equal(summary.micro_f1, 0.75);
    assert.ok(summary.seconds_per_case > 0 && summary.seconds_per_case_total >= summary.seconds_per_case);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('eval rca: bad usage is a TidemarkError naming the flag', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tidemark-rca-'));
  try {
    const isUsage = (flag: string) => (e: unknown) => e instanceof TidemarkError && e.code === 'TM_ERR_USAGE' && e.path === flag;
    await assert.rejects(run(['--out', join(dir, 'o')]), isUsage('--data'));
    await assert.rejects(run(['--data', dir]), isUsage('--out'));
    await assert.rejects(run(['--data', dir, '--out', join(dir, 'o')]), (e: unknown) => isUsage('--data')(e) && /no cases under/.test((e as Error).message));
    await assert.rejects(run(['--data', join(dir, 'missing'), '--out', join(dir, 'o')]), isUsage('--data'));
    await assert.rejects(run(['--data', dir, '--out', join(dir, 'o'), '--max-layer', 'x']), isUsage('--max-layer'));
    await assert.rejects(run(['--data', dir, '--bogus']), (e: unknown) => (e as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
