import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evalCommand } from './eval.ts';

/** Runs `tidemark eval ...` capturing stdout and stderr. */
async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const o = process.stdout.write;
  const e = process.stderr.write;
  // Only text is captured: node:test itself reports through stdout with binary frames.
  process.stdout.write = ((s: string | Uint8Array, ...rest: never[]) => (typeof s === 'string' ? out.push(s) > 0 : o.call(process.stdout, s, ...rest))) as typeof process.stdout.write;
  process.stderr.write = ((s: string | Uint8Array, ...rest: never[]) => (typeof s === 'string' ? err.push(s) > 0 : e.call(process.stderr, s, ...rest))) as typeof process.stderr.write;
  try {
    return { code: await evalCommand.run(argv), out: out.join(''), err: err.join('') };
  } finally {
    process.stdout.write = o;
    process.stderr.write = e;
  }
}

/** Two 100-row results files with one window each; `hits` rows score 1 (others 0). */
function corpus(hits: { a: number[]; b: number[] }) {
  const dir = mkdtempSync(join(tmpdir(), 'tm-evalcli-'));
  const windows: Record<string, [string, string][]> = {};
  for (const [name, rows] of Object.entries(hits)) {
    mkdirSync(join(dir, 'res', 'cat'), { recursive: true });
    const lines = ['timestamp,value,anomaly_score'];
    const ts = (i: number) => new Date(Date.UTC(2020, 0, 1) + i * 300_000).toISOString().replace('T', ' ').slice(0, 19);
    for (let i = 0; i < 100; i++) lines.push(`${ts(i)},${i},${rows.includes(i) ? 1 : 0}`);
    writeFileSync(join(dir, 'res', 'cat', `${name}.csv`), lines.join('\n') + '\n');
    windows[`cat/${name}.csv`] = [[`${ts(50)}.000000`, `${ts(59)}.000000`]];
  }
  writeFileSync(join(dir, 'windows.json'), JSON.stringify(windows));
  return { dir, res: join(dir, 'res'), labels: join(dir, 'windows.json') };
}

test('eval score --json ends with the three normalised scores', async () => {
  // a: detection on its window's first row (+1); b: missed (-1) and an FP at row 20 with no
  // window before it (-fpWeight). null = -2 * fnWeight, perfect = 2.
  const c = corpus({ a: [50], b: [20] });
  try {
    const r = await run(['score', '--results', c.res, '--labels', c.labels, '--json']);
    assert.equal(r.code, 0);
    const lines = r.out.trimEnd().split('\n');
    // At threshold 1: raw = 1 - fn - fp; normalised = 100 * (raw + 2 fn) / (2 + 2 fn).
    const want = (fp: number, fn: number) => Math.round(((100 * (1 - fn - fp + 2 * fn)) / (2 + 2 * fn)) * 1e4) / 1e4;
    assert.equal(lines.at(-1), `{"standard": ${want(0.11, 1)}, "reward_low_FP_rate": ${want(0.22, 1)}, "reward_low_FN_rate": ${want(0.11, 2)}}`);
    assert.match(r.out, /^NAB score of .*: 2 files, 200 rows, 2 windows/);
    assert.match(r.out, /standard\s+47\.25\s+1\.000000/);
  } finally {
    rmSync(c.dir, { recursive: true, force: true });
  }
});

test('eval score errors', async () => {
  const c = corpus({ a: [50], b: [] });
  try {
    await assert.rejects(run(['score', '--results', c.res]), { code: 'TM_ERR_USAGE', message: '--labels is required (see --help)' });
    await assert.rejects(run(['score', '--results', c.res, '--labels', c.labels, '--bogus']), { code: 'TM_ERR_USAGE' });
    writeFileSync(c.labels, JSON.stringify({ 'cat/a.csv': [], 'cat/zzz.csv': [] }));
    await assert.rejects(run(['score', '--results', c.res, '--labels', c.labels]), { code: 'TM_ERR_NOT_FOUND', message: /no results for labelled file 'cat\/zzz\.csv'/ });
    writeFileSync(c.labels, JSON.stringify({ 'cat/a.csv': [] }));
    await assert.rejects(run(['score', '--results', c.res, '--labels', c.labels]), { code: 'TM_ERR_INPUT', message: /no anomaly window/ });
  } finally {
    rmSync(c.dir, { recursive: true, force: true });
  }
});

test('eval dispatches sub-commands and rejects unknown ones', async () => {
  const none = await run([]);
  assert.equal(none.code, 2);
  assert.match(none.err, /a sub-command is required \(nab, score, rca\)/);
  const bad = await run(['nap']);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /unknown sub-command 'nap' \(valid: nab, score, rca\)/);
  for (const sub of ['eval nab', 'eval score', 'eval rca']) {
    assert.ok(evalCommand.help.includes(sub), `overview lists ${sub}`);
    const cmd = evalCommand.subcommands?.find((c) => c.name === sub);
    assert.ok(cmd?.help.includes(`Usage: tidemark ${sub}`), `${sub} has its own help`);
  }
});

test('eval nab then eval score: the pipeline on a tiny corpus with a threshold detector', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tm-evalnab-'));
  try {
    mkdirSync(join(dir, 'data', 'cat'), { recursive: true });
    const ts = (i: number) => new Date(Date.UTC(2020, 0, 1) + i * 300_000).toISOString().replace('T', ' ').slice(0, 19);
    const rows = ['timestamp,value'];
    for (let i = 0; i < 100; i++) rows.push(`${ts(i)},${i === 20 || i === 50 ? 500 : 10}`);
    writeFileSync(join(dir, 'data', 'cat', 'a.csv'), rows.join('\n') + '\n');
    writeFileSync(join(dir, 'windows.json'), JSON.stringify({ 'cat/a.csv': [[`${ts(50)}.000000`, `${ts(59)}.000000`]] }));
    writeFileSync(join(dir, 'det.yaml'), 'detectors: [{name: threshold, config: {above: 100}}]\n');
    const nab = await run(['nab', '--data', join(dir, 'data'), '--out', join(dir, 'res'), '--detectors', join(dir, 'det.yaml')]);
    assert.equal(nab.code, 0);
    assert.match(nab.out, /^cat\/a\.csv {2}100 rows {2}\d+ points\/s\n1 files, 100 rows in /);
    const score = await run(['score', '--results', join(dir, 'res'), '--labels', join(dir, 'windows.json'), '--json']);
    // Row 50 opens the window (+1); row 20 is an FP with no window before it (-fpWeight).
    // normalised = 100 * (1 - fp + fn) / (1 + fn).
    assert.equal(score.out.trimEnd().split('\n').at(-1), '{"standard": 94.5, "reward_low_FP_rate": 89, "reward_low_FN_rate": 96.3333}');
    // --reasons adds why each scored row scored; the score is the same file's.
    const why = await run(['nab', '--data', join(dir, 'data'), '--out', join(dir, 'why'), '--detectors', join(dir, 'det.yaml'), '--reasons', '--quiet']);
    assert.equal(why.code, 0);
    const lines = readFileSync(join(dir, 'why', 'cat', 'a.csv'), 'utf8').trimEnd().split('\n');
    assert.equal(lines[0], 'timestamp,value,anomaly_score,reason,detector');
    const scored = lines.slice(1).filter((l) => !l.endsWith(',,'));
    assert.deepEqual(scored.map((l) => l.split(',').slice(1)), [['500', '1', 'above_threshold', 'threshold'], ['500', '1', 'above_threshold', 'threshold']]);
    const again = await run(['score', '--results', join(dir, 'why'), '--labels', join(dir, 'windows.json'), '--json']);
    assert.equal(again.out.trimEnd().split('\n').at(-1), score.out.trimEnd().split('\n').at(-1));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
