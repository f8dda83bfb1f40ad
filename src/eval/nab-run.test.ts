import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DetectorSet, FusedVerdict } from '../detect/types.ts';
import { loadNabResults } from './nab-io.ts';
import { resultScore, runNab } from './nab-run.ts';

interface Recorder {
  seen: [number, number][];
}

/**
 * A tiny detector set for the harness: it records what it is fed, learns for 2 points, then
 * scores the value itself clamped to [0, 1] (so the data say what the score must be).
 */
function recordingSet(states: Recorder[]): DetectorSet<Recorder> {
  return {
    entries: [{ name: 'test_value_as_score' }],
    init() {
      const s = { seen: [] as [number, number][] };
      states.push(s);
      return s;
    },
    update(state, t, value, out: FusedVerdict) {
      state.seen.push([t, value]);
      out.learning = state.seen.length <= 2;
      out.score = out.learning ? 0 : value;
      out.reasons.length = 0;
      out.reasons.push(out.learning ? 'learning' : 'normal');
      return out;
    },
  };
}

test('resultScore clamps to [0, 1] and is 0 while learning', () => {
  const cases: [boolean, number, number][] = [[true, 0.7, 0], [false, 0.7, 0.7], [false, 1.5, 1], [false, -1, 0], [false, NaN, 0]];
  for (const [learning, score, want] of cases) assert.equal(resultScore(learning, score), want);
});

test('eval nab streams each file in order through a fresh state and writes one row per row', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tm-nabrun-'));
  try {
    mkdirSync(join(dir, 'data', 'b'), { recursive: true });
    mkdirSync(join(dir, 'data', 'a'), { recursive: true });
    writeFileSync(join(dir, 'data', 'a', 'x.csv'), 'timestamp,value\r\n2014-04-10 00:00:00,0.1\r\n2014-04-10 00:05:00,0.2\r\n2014-04-10 00:10:00,0.95\r\n2014-04-10 00:15:00,7\r\n');
    writeFileSync(join(dir, 'data', 'b', 'y.csv'), 'timestamp,value\n2015-01-01 12:00:00,0.5\n2015-01-01 12:01:00,0.6\n2015-01-01 12:02:00,0.4\n');
    const states: Recorder[] = [];
    const summary = runNab(join(dir, 'data'), join(dir, 'out'), recordingSet(states));
    assert.equal(summary.rows, 7);
    assert.deepEqual(summary.files.map((f) => f.name), ['a/x.csv', 'b/y.csv']);
    // One fresh state per file, fed every row in order, timestamps as UTC.
    assert.equal(states.length, 2);
    const t = (y: number, mo: number, d: number, h: number, mi: number) => Date.UTC(y, mo - 1, d, h, mi);
    assert.deepEqual(states[0]!.seen, [[t(2014, 4, 10, 0, 0), 0.1], [t(2014, 4, 10, 0, 5), 0.2], [t(2014, 4, 10, 0, 10), 0.95], [t(2014, 4, 10, 0, 15), 7]]);
    assert.equal(states[1]!.seen.length, 3);
    // Timestamps and values verbatim, learning rows 0, scores clamped.
    assert.equal(
      readFileSync(join(dir, 'out', 'a', 'x.csv'), 'utf8'),
      'timestamp,value,anomaly_score\n2014-04-10 00:00:00,0.1,0\n2014-04-10 00:05:00,0.2,0\n2014-04-10 00:10:00,0.95,0.95\n2014-04-10 00:15:00,7,1\n',
    );
    assert.equal(
      readFileSync(join(dir, 'out', 'b', 'y.csv'), 'utf8'),
      'timestamp,value,anomaly_score\n2015-01-01 12:00:00,0.5,0\n2015-01-01 12:01:00,0.6,0\n2015-01-01 12:02:00,0.4,0.4\n',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('eval nab --reasons writes each scored row\'s reasons and detectors, and the scorer still reads the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tm-nabrun-'));
  try {
    mkdirSync(join(dir, 'data', 'a'), { recursive: true });
    writeFileSync(join(dir, 'data', 'a', 'x.csv'), 'timestamp,value\n2014-04-10 00:00:00,0.5\n2014-04-10 00:05:00,0.5\n2014-04-10 00:10:00,0\n2014-04-10 00:15:00,0.8\n');
    // Scores the value; a value of 0.8 or more is a spike seen by two detectors.
    const set: DetectorSet<{ n: number }> = {
      entries: [{ name: 'a' }, { name: 'b' }],
      init: () => ({ n: 0 }),
      update(state, _t, value, out: FusedVerdict) {
        out.learning = ++state.n <= 2;
        out.score = out.learning ? 0 : value;
        out.reasons = value >= 0.8 ? ['spike', 'level_shift_up'] : value > 0 ? ['spike'] : ['normal'];
        out.sources = value >= 0.8 ? ['a', 'b'] : value > 0 ? ['a'] : [];
        return out;
      },
    };
    runNab(join(dir, 'data'), join(dir, 'out'), set, undefined, { reasons: true });
    assert.equal(
      readFileSync(join(dir, 'out', 'a', 'x.csv'), 'utf8'),
      'timestamp,value,anomaly_score,reason,detector\n2014-04-10 00:00:00,0.5,0,,\n2014-04-10 00:05:00,0.5,0,,\n' +
        '2014-04-10 00:10:00,0,0,,\n2014-04-10 00:15:00,0.8,0.8,spike;level_shift_up,a;b\n',
    );
    writeFileSync(join(dir, 'labels.json'), JSON.stringify({ 'a/x.csv': [] }));
    const corpus = loadNabResults(join(dir, 'out'), join(dir, 'labels.json'));
    assert.deepEqual(Array.from(corpus.files[0]!.scores), [0, 0, 0, 0.8]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('eval nab rejects unparsable rows with file and line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tm-nabrun-'));
  try {
    mkdirSync(join(dir, 'data', 'a'), { recursive: true });
    writeFileSync(join(dir, 'data', 'a', 'x.csv'), 'timestamp,value\n2014-04-10 00:00:00,1\nnot-a-time,2\n');
    assert.throws(() => runNab(join(dir, 'data'), join(dir, 'out'), recordingSet([])), {
      code: 'TM_ERR_INPUT',
      message: `${join(dir, 'data', 'a', 'x.csv')}:3: 'not-a-time' is not a timestamp`,
    });
    assert.throws(() => runNab(join(dir, 'nothing'), join(dir, 'out'), recordingSet([])), { code: 'TM_ERR_NOT_FOUND' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
