import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { discoverNabFiles, loadNabResults } from './nab-io.ts';

/** A results dir with `cat/a.csv` (10 rows, 5-minute steps from 2014-04-10 00:00) and extra files. */
function corpus(scores: (i: number) => string = () => '0') {
  const dir = mkdtempSync(join(tmpdir(), 'tm-nab-'));
  mkdirSync(join(dir, 'res', 'cat'), { recursive: true });
  const rows = ['timestamp,value,anomaly_score'];
  for (let i = 0; i < 10; i++) rows.push(`2014-04-10 00:${String(i * 5).padStart(2, '0')}:00,${i},${scores(i)}`);
  writeFileSync(join(dir, 'res', 'cat', 'a.csv'), rows.join('\n') + '\n');
  writeFileSync(join(dir, 'res', 'cat', 'extra.csv'), rows.join('\n') + '\n');
  const labels = (windows: unknown) => {
    const p = join(dir, 'windows.json');
    writeFileSync(p, JSON.stringify(windows));
    return p;
  };
  return { dir, res: join(dir, 'res'), labels };
}

test('results load with windows resolved to row times (NAB microsecond bounds match)', () => {
  const c = corpus((i) => (i === 6 ? '1' : '0.25'));
  try {
    const loaded = loadNabResults(c.res, c.labels({ 'cat/a.csv': [['2014-04-10 00:30:00.000000', '2014-04-10 00:35:00.000000']] }));
    assert.equal(loaded.rows, 10);
    assert.deepEqual(loaded.unlabelled, ['cat/extra.csv']);
    const [f] = loaded.files;
    assert.equal(f!.name, 'cat/a.csv');
    assert.deepEqual(f!.windows, [[Date.UTC(2014, 3, 10, 0, 30), Date.UTC(2014, 3, 10, 0, 35)]]);
    assert.equal(f!.scores[6], 1);
    assert.equal(f!.scores[0], 0.25);
    assert.deepEqual(discoverNabFiles(c.res), ['cat/a.csv', 'cat/extra.csv']);
  } finally {
    rmSync(c.dir, { recursive: true, force: true });
  }
});

test('results and labels errors', () => {
  const c = corpus();
  try {
    const cases: [string, unknown, string, RegExp][] = [
      ['a labelled file without results', { 'cat/a.csv': [], 'cat/missing.csv': [] }, 'TM_ERR_NOT_FOUND', /no results for labelled file 'cat\/missing\.csv'/],
      ['a window bound that is not a row', { 'cat/a.csv': [['2014-04-10 00:31:00.000000', '2014-04-10 00:35:00.000000']] }, 'TM_ERR_INPUT', /timestamp '2014-04-10 00:31:00\.000000' is not a row of the file/],
      ['overlapping windows', { 'cat/a.csv': [['2014-04-10 00:10:00', '2014-04-10 00:30:00'], ['2014-04-10 00:20:00', '2014-04-10 00:40:00']] }, 'TM_ERR_INPUT', /window 1: starts .* before window 0 ends/],
      ['a window that ends before it starts', { 'cat/a.csv': [['2014-04-10 00:30:00', '2014-04-10 00:10:00']] }, 'TM_ERR_INPUT', /window 0: ends/],
      ['a malformed window', { 'cat/a.csv': [['2014-04-10 00:30:00']] }, 'TM_ERR_INPUT', /cat\/a\.csv\[0\]: expected a window/],
      ['labels that are not an object', [1, 2], 'TM_ERR_INPUT', /expected an object mapping/],
    ];
    for (const [name, labels, code, message] of cases) {
      assert.throws(() => loadNabResults(c.res, c.labels(labels)), { code, message }, name);
    }
  } finally {
    rmSync(c.dir, { recursive: true, force: true });
  }
});

test('scores outside [0, 1] or not numbers are rejected with file and line', () => {
  for (const bad of ['1.5', '-0.1', 'NaN', '']) {
    const c = corpus((i) => (i === 3 ? bad : '0'));
    try {
      assert.throws(() => loadNabResults(c.res, c.labels({ 'cat/a.csv': [] })), {
        code: 'TM_ERR_INPUT',
        message: new RegExp(`a\\.csv:5: anomaly_score '${bad}' is not a number in \\[0, 1\\]`),
      }, bad);
    } finally {
      rmSync(c.dir, { recursive: true, force: true });
    }
  }
});
