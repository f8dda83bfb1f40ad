import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSeriesCsv, parseSeriesJson, readLabels, readSeriesInput, writeSuite } from './series-io.ts';
import { SYNTH_DEFAULTS, generateSuite } from './synth.ts';

const T0 = Date.UTC(2024, 0, 1);

test('CSV series: ms or ISO timestamps, empty values are missing, CRLF and BOM tolerated', () => {
  const text = '\ufefftimestamp,value\r\n1704067200000,1.5\r\n2024-01-01T00:01:00Z,\r\n2024-01-01 00:02:00,-3\r\n';
  const s = parseSeriesCsv(text, 'a', 'a.csv');
  assert.equal(s.name, 'a');
  assert.deepEqual(Array.from(s.times), [T0, T0 + 60_000, T0 + 120_000]);
  assert.equal(s.values[0], 1.5);
  assert.ok(Number.isNaN(s.values[1]!));
  assert.equal(s.values[2], -3);
});

test('CSV and JSON series and labels in epoch seconds read as the same instants as in ms', () => {
  const s = parseSeriesCsv('timestamp,value\n1704067200,1\n1704067260,2\n', 'a', 'a.csv');
  assert.deepEqual(Array.from(s.times), [T0, T0 + 60_000]);
  const [j] = parseSeriesJson(JSON.stringify([{ name: 'x', points: [[1704067200, 1], [1704067260.5, 2]] }]), 's.json');
  assert.deepEqual(Array.from(j!.times), [T0, T0 + 60_500]);
  const dir = mkdtempSync(join(tmpdir(), 'tm-labels-'));
  try {
    const a = join(dir, 'a.json');
    writeFileSync(a, JSON.stringify([{ series: 'a', kind: 'spike', start: 1704067260, end: 1704067260 }]));
    assert.deepEqual(readLabels(a).labels, [{ series: 'a', kind: 'spike', start: T0 + 60_000, end: T0 + 60_000 }]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CSV series errors name the file and line', () => {
  const cases: [string, string, RegExp][] = [
    ['bad timestamp', 'timestamp,value\n1,2\nlater,3\n', /^a\.csv:3: 'later' is not a timestamp/],
    ['bad value', 'timestamp,value\n1,2\n2,abc\n', /^a\.csv:3: value 'abc' is not a number/],
    ['backwards', 'timestamp,value\n5,2\n4,3\n', /^a\.csv:3: timestamps go backwards/],
    ['missing column', 'time,value\n1,2\n', /^a\.csv: missing column 'timestamp' \(found: time, value\)/],
  ];
  for (const [name, text, message] of cases) {
    assert.throws(() => parseSeriesCsv(text, 'a', 'a.csv'), { code: 'TM_ERR_INPUT', message }, name);
  }
});

test('JSON series', () => {
  const doc = [{ name: 'x', points: [[T0, 1], ['2024-01-01T00:01:00Z', null]] }];
  for (const text of [JSON.stringify(doc), JSON.stringify({ series: doc })]) {
    const [s] = parseSeriesJson(text, 's.json');
    assert.equal(s!.name, 'x');
    assert.deepEqual(Array.from(s!.times), [T0, T0 + 60_000]);
    assert.ok(Number.isNaN(s!.values[1]!));
  }
  assert.throws(() => parseSeriesJson('[{"name": "x", "points": [[1, "a"]]}]', 's.json'), {
    code: 'TM_ERR_INPUT',
    message: 's.json: series[0].points[0]: expected [timestamp, value or null]',
  });
});

test('labels: inject format or a bare list, ISO or ms', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tm-labels-'));
  try {
    const a = join(dir, 'a.json');
    writeFileSync(a, JSON.stringify({ labels: [{ series: 's', kind: 'spike', start: T0, end: T0 }], expected: [{ series: 's', kind: 'deploy', start: '2024-01-01T01:00:00Z', end: T0 + 7_200_000 }] }));
    const l = readLabels(a);
    assert.deepEqual(l.labels, [{ series: 's', kind: 'spike', start: T0, end: T0 }]);
    assert.deepEqual(l.expected, [{ series: 's', kind: 'deploy', start: T0 + 3_600_000, end: T0 + 7_200_000 }]);
    const b = join(dir, 'b.json');
    writeFileSync(b, JSON.stringify([{ series: 's', kind: 'gap', start: 5, end: 4 }]));
    assert.throws(() => readLabels(b), { code: 'TM_ERR_INPUT', message: `${b}[0]: expected start <= end, as numbers since the epoch or ISO-8601 timestamps` });
    assert.throws(() => readLabels(join(dir, 'none.json')), { code: 'TM_ERR_NOT_FOUND' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a written suite reads back point for point, labels included, labels.json skipped', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tm-suite-'));
  try {
    const options = { ...SYNTH_DEFAULTS, series: 3, days: 4, intervalMs: 600_000, kinds: ['gap' as const], cleanFraction: 0 };
    const suite = generateSuite(options);
    writeSuite(dir, suite, options);
    const read = readSeriesInput(dir);
    assert.deepEqual(read.map((s) => s.name), suite.map((s) => s.name).sort());
    for (const s of suite) {
      const r = read.find((x) => x.name === s.name)!;
      assert.deepEqual(Array.from(r.times), Array.from(s.times));
      assert.deepEqual(Array.from(r.values), Array.from(s.values));
    }
    const labels = readLabels(join(dir, 'labels.json'));
    assert.deepEqual(labels.labels, suite.flatMap((s) => s.labels));
    assert.deepEqual(labels.expected, suite.flatMap((s) => s.expected));
    assert.match(readFileSync(join(dir, `${suite[0]!.name}.csv`), 'utf8'), /^timestamp,value\n1704067200000,/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
