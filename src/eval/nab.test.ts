import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  NAB_PROFILES,
  probationaryLength,
  rowAtThreshold,
  scaledSigmoid,
  scoreNab,
  scoreProfile,
  scoresByThreshold,
  sweepFile,
  type NabCostMatrix,
  type NabFile,
  type NabSweep,
} from './nab.ts';
import { mulberry32 } from './synth.ts';

// Expected numbers below are worked out by hand from NAB's rules (S(x) = 2/(1+e^(5x)) - 1,
// S(-1) = 0.98661429815), several of them from numenta/NAB's own tests.
const ONES: NabCostMatrix = { tpWeight: 1, fpWeight: 1, fnWeight: 1, tnWeight: 1 };
const STANDARD = NAB_PROFILES[0]!;
const LOW_FP = NAB_PROFILES[1]!;
const LOW_FN = NAB_PROFILES[2]!;

/** A file whose row times are 0..n-1, with detections (score 1) at the given rows. */
function file(n: number, windows: [number, number][], hits: Record<number, number> | number[], name = 'f.csv'): NabFile {
  const scores = new Float64Array(n);
  if (Array.isArray(hits)) for (const i of hits) scores[i] = 1;
  else for (const [i, s] of Object.entries(hits)) scores[Number(i)] = s;
  return { name, times: Float64Array.from({ length: n }, (_, i) => i), scores, windows };
}

/** NAB's scoreDataSet: score one file at a fixed threshold, no probation unless given. */
function scoreAt(f: NabFile, cost: NabCostMatrix, threshold = 0.5, probation = 0) {
  return rowAtThreshold(scoresByThreshold(sweepFile(f, cost, probation), cost.fnWeight), threshold);
}

const close = (actual: number, expected: number, eps = 1e-9) =>
  assert.ok(Math.abs(actual - expected) <= eps, `expected ${expected}, got ${actual}`);

test('scaled sigmoid matches the values NAB documents', () => {
  const cases: [string, number, number][] = [
    ['left edge of a window', -1, 0.98661429815],
    ['half way into a window', -0.5, 0.84828363995],
    ['right edge', 0, 0],
    ['one window past the right edge', 1, -0.98661429815],
    ['exactly 3 is still the sigmoid', 3, -0.99999938819],
    ['beyond 3 is -1', 3.0001, -1],
  ];
  for (const [name, x, want] of cases) {
    assert.ok(Math.abs(scaledSigmoid(x) - want) < 1e-10, `${name}: ${scaledSigmoid(x)}`);
  }
});

test('probationary length is min(floor(p * n), p * 5000)', () => {
  const cases: [number, number, number][] = [
    [100, 0.0, 0],
    [100, 1.0, 100],
    [100, 0.1, 10],
    [100, 0.15, 15],
    [5000, 0.1, 500],
    [6000, 0.1, 500],
    [4032, 0.15, 604],
    [22695, 0.15, 750],
  ];
  for (const [n, p, want] of cases) assert.equal(probationaryLength(n, p), want, `${n} rows at ${p}`);
});

test('per-file scores by NAB rules', async (t) => {
  const cases: { name: string; f: NabFile; cost: NabCostMatrix; score: number; counts: [number, number, number, number] }[] = [
    {
      // NAB testFirstTruePositiveWithinWindow: 10 rows, window rows 4-5.
      name: 'a TP on the first row of a window earns exactly tpWeight',
      f: file(10, [[4, 5]], [4]),
      cost: ONES,
      score: 1,
      counts: [1, 8, 0, 1],
    },
    {
      // Row 5 is the last of a 2-row window: position -(5-5+1)/2 = -0.5; S(-0.5)/S(-1) = 0.84828/0.98661.
      name: 'a late TP earns less',
      f: file(10, [[4, 5]], [5]),
      cost: ONES,
      score: 0.8597925669,
      counts: [1, 8, 0, 1],
    },
    {
      name: 'only the first detection in a window counts',
      f: file(10, [[4, 5]], [4, 5]),
      cost: ONES,
      score: 1,
      counts: [2, 8, 0, 0],
    },
    {
      // 1000 rows, 100-row window 450-549, detection at 550: FP at 1/99 of a width past the end,
      // S(1/99) = -0.0252472, times fpWeight 0.11; plus the missed window (-1).
      name: 'an FP just after a window costs little (standard profile)',
      f: file(1000, [[450, 549]], [550]),
      cost: STANDARD.costMatrix,
      score: -1 - 0.0027771875,
      counts: [0, 899, 1, 100],
    },
    {
      // NAB testTruePositiveAtRightEdgeOfWindow: TP at the last row ~ +0.0253.
      name: 'a TP on the last row of a wide window earns little',
      f: file(1000, [[450, 549]], [549]),
      cost: ONES,
      score: 0.0253339051,
      counts: [1, 900, 0, 99],
    },
    {
      name: 'an FP with no window before it costs the full fpWeight',
      f: file(1000, [[450, 459]], [0]),
      cost: STANDARD.costMatrix,
      score: -0.11 - 1,
      counts: [0, 989, 1, 10],
    },
    {
      name: 'a missed window costs fnWeight (reward_low_FN_rate: 2)',
      f: file(100, [[30, 39]], []),
      cost: LOW_FN.costMatrix,
      score: -2,
      counts: [0, 90, 0, 10],
    },
    {
      // NAB testScoringAllMetrics: windows 30-34 and 65-69; hits 30 (TP), 31 (extra TP), 37 (FP
      // 3 rows after a 5-row window: S(3/4) = -0.954045), second window missed (-1).
      name: 'all metrics at once (NAB: -0.9540)',
      f: file(100, [[30, 34], [65, 69]], [30, 31, 37]),
      cost: ONES,
      score: -0.9540452602,
      counts: [2, 89, 1, 8],
    },
    {
      // The FP at 50 is weighed against the window before it (30-34, 16 rows past, width 5:
      // 16/4 = 4 > 3, so -1), not the nearer window after it (55-59).
      name: 'an FP is weighed by the preceding window only',
      f: file(100, [[30, 34], [55, 59]], [30, 50, 55]),
      cost: ONES,
      score: 1 - 1 + 1,
      counts: [2, 89, 1, 8],
    },
    {
      name: 'no windows and no detections is 0',
      f: file(10, [], []),
      cost: ONES,
      score: 0,
      counts: [0, 10, 0, 0],
    },
  ];
  for (const c of cases) {
    await t.test(c.name, () => {
      const row = scoreAt(c.f, c.cost);
      close(row.score, c.score);
      assert.deepEqual([row.tp, row.tn, row.fp, row.fn], c.counts);
    });
  }
});

test('earlier detections score higher, and FPs further from a window cost more', () => {
  const early = scoreAt(file(10, [[4, 5]], [4]), ONES).score;
  const late = scoreAt(file(10, [[4, 5]], [5]), ONES).score;
  assert.ok(early > late);
  const nearFp = scoreAt(file(10, [[4, 5]], [6]), ONES).score;
  const farFp = scoreAt(file(10, [[4, 5]], [7]), ONES).score;
  assert.ok(nearFp > farFp);
});

test('probationary rows are not scored, windows that start in them still are', () => {
  // 20 rows, 15% -> rows 0-2 probationary; window rows 2-4. The hit at row 1 is ignored; the hit at
  // row 3 is at position -(4-3+1)/3 = -2/3: S(-2/3)/S(-1) = 0.9437422612.
  const f = file(20, [[2, 4]], [1, 3]);
  const row = scoreAt(f, ONES, 0.5, 0.15);
  close(row.score, 0.9437422612);
  assert.deepEqual([row.tp, row.tn, row.fp, row.fn], [1, 15, 0, 1]);
  assert.equal(row.total, 17);
});

test('scores by threshold reproduce NAB sweeper_test exactly', () => {
  // numenta/NAB tests/integration/sweeper_test.py testCalcScoreByThresholdReturnsExpectedScores.
  const P = -2;
  const N = -1;
  const s: NabSweep = {
    scores: Float64Array.of(0.5, 0.5, 0.0, 0.2, 0.3, 0.5, 0.5),
    sweep: Float64Array.of(-1000, -1000, -3, 20, 10, 5, -3),
    window: Int32Array.of(P, P, N, 0, 0, 1, N),
    windowCount: 2,
  };
  const fn = 5;
  assert.deepEqual(scoresByThreshold(s, fn), [
    { threshold: 1.1, score: -2 * fn, tp: 0, tn: 2, fp: 0, fn: 3, total: 5 },
    { threshold: 0.5, score: 5 - 3 - fn, tp: 1, tn: 1, fp: 1, fn: 2, total: 5 },
    { threshold: 0.3, score: 5 - 3 + 10, tp: 2, tn: 1, fp: 1, fn: 1, total: 5 },
    { threshold: 0.2, score: 5 - 3 + 20, tp: 3, tn: 1, fp: 1, fn: 0, total: 5 },
    { threshold: 0.0, score: 5 - 3 + 20 - 3, tp: 3, tn: 0, fp: 2, fn: 0, total: 5 },
  ]);
});

test('a threshold between two scores uses the row of the next higher score', () => {
  const f = file(10, [[4, 5]], { 4: 0.8, 7: 0.3 });
  const rows = scoresByThreshold(sweepFile(f, ONES, 0), 1);
  assert.equal(rowAtThreshold(rows, 0.5).threshold, 0.8);
  assert.equal(rowAtThreshold(rows, 0.3).threshold, 0.3);
  assert.equal(rowAtThreshold(rows, 0.1).threshold, 0.3);
});

test('the threshold is optimised over all files jointly', () => {
  // A: TP at row 6 with score 0.9 and an FP (no preceding window) at row 2 with 0.5.
  // B: TP at row 6 with 0.5. Alone, A is best at 0.9 (+1) and B at 0.5 (+1): 2.0 in total.
  // Jointly: 1.1 -> -2; 0.9 -> +1 -1 = 0; 0.5 -> +1 -0.11 +1 = 1.89; 0.0 -> 0.24296 (all rows).
  const a = file(10, [[6, 7]], { 6: 0.9, 2: 0.5 }, 'a.csv');
  const b = file(10, [[6, 7]], { 6: 0.5 }, 'b.csv');
  const r = scoreProfile([a, b], STANDARD, 0);
  assert.equal(r.threshold, 0.5);
  close(r.raw, 1.89);
  close(r.files[0]!.score, 0.89);
  close(r.files[1]!.score, 1);
});

test('on a tie the higher threshold wins', () => {
  // The extra detection at row 7 (score 0.8) cannot raise the window's best: 0.9 and 0.8 tie.
  const f = file(10, [[6, 7]], { 6: 0.9, 7: 0.8 });
  assert.equal(scoreProfile([f], STANDARD, 0).threshold, 0.9);
});

test('normalisation: null detector = 0, perfect = 100, others in between', async (t) => {
  // Two 1000-row files with two and one windows; 150 probationary rows each.
  const windowsA: [number, number][] = [[300, 339], [700, 739]];
  const windowsB: [number, number][] = [[500, 549]];
  const make = (score: (f: 'a' | 'b', i: number) => number): NabFile[] =>
    (['a', 'b'] as const).map((k) => {
      const n = 1000;
      return {
        name: `${k}.csv`,
        times: Float64Array.from({ length: n }, (_, i) => i),
        scores: Float64Array.from({ length: n }, (_, i) => score(k, i)),
        windows: k === 'a' ? windowsA : windowsB,
      };
    });
  const starts = { a: [300, 700], b: [500] };

  await t.test('null detector scores 0 on every profile', () => {
    for (const p of scoreNab(make(() => 0.5))) close(p.score, 0, 1e-9);
  });
  await t.test('perfect detector scores 100 on every profile', () => {
    const res = scoreNab(make((k, i) => (starts[k].includes(i) ? 1 : 0)));
    for (const p of res) {
      close(p.score, 100, 1e-9);
      assert.equal(p.windowsDetected, 3);
      // Three windows, null detector at its best misses all of them: -3 * fnWeight.
      close(p.nullScore, -3 * p.costMatrix.fnWeight);
      close(p.perfectScore, 3);
    }
  });
  await t.test('two of three windows found at the start, one FP far from any window', () => {
    // raw = 1 + 1 - fnWeight - fpWeight (FP at row 200 of b: no preceding window).
    const res = scoreNab(make((k, i) => ((k === 'a' && starts.a.includes(i)) || (k === 'b' && i === 200) ? 1 : 0)));
    for (const p of res) {
      const { fnWeight, fpWeight } = p.costMatrix;
      const raw = 2 - fnWeight - fpWeight;
      const nul = -3 * fnWeight;
      close(p.raw, raw);
      close(p.score, (100 * (raw - nul)) / (3 - nul));
    }
    assert.deepEqual(
      res.map((p) => p.profile),
      ['standard', 'reward_low_FP_rate', 'reward_low_FN_rate'],
    );
  });
  await t.test('the null baseline takes its own best threshold', () => {
    // Tiny corpus of the joint-threshold test: the null detector (all rows 0.5) scores 0.24296
    // by detecting everything, better than -2 by detecting nothing; raw is 1.89.
    const a = file(10, [[6, 7]], { 6: 0.9, 2: 0.5 }, 'a.csv');
    const b = file(10, [[6, 7]], { 6: 0.5 }, 'b.csv');
    const p = scoreNab([a, b], { profiles: [STANDARD], probationPercent: 0 })[0]!;
    close(p.nullScore, 0.2429648295);
    close(p.score, (100 * (1.89 - 0.2429648295)) / (2 - 0.2429648295), 1e-7);
  });
  await t.test('the low-FP profile penalises the same FPs twice as hard', () => {
    const f = make((k, i) => (k === 'a' && (i === 300 || i === 200) ? 1 : 0));
    const std = scoreProfile(f, STANDARD).raw;
    const lowFp = scoreProfile(f, LOW_FP).raw;
    close(std, 1 - 0.11 - 2);
    close(lowFp, 1 - 0.22 - 2);
  });
});

test('a corpus without windows cannot be normalised', () => {
  assert.throws(() => scoreNab([file(10, [], [])]), /no anomaly window/);
});

test('agrees with numenta/NAB on a reference corpus', () => {
  // Expected values were produced by numenta/NAB's own nab/sweeper.py (commit ea702d75, the NAB
  // commit of nab-dev) driven like optimizer.py, scorer.py and runner.normalize, on this corpus
  // written to CSV. Scores have 3 decimals (as NAB's detectors write them), so thresholds tie.
  const specs: { n: number; windows: [number, number][] }[] = [
    { n: 1000, windows: [[200, 299], [600, 649]] },
    { n: 1500, windows: [[150, 300]] }, // starts inside the 225 probationary rows
    { n: 6000, windows: [[1000, 1599], [3000, 3099], [5990, 5999]] }, // probation capped at 750
  ];
  const files: NabFile[] = specs.map((s, k) => {
    const rnd = mulberry32(7 + k);
    const scores = new Float64Array(s.n);
    for (let i = 0; i < s.n; i++) {
      const w = s.windows.find(([a, b]) => i >= a && i <= b);
      let score = rnd() * 0.5;
      if (w && i < w[0] + (w[1] - w[0] + 1) / 10) score = 0.5 + 0.5 * rnd();
      if (rnd() < 0.01) score = 0.6 + 0.4 * rnd();
      scores[i] = Math.round(score * 1000) / 1000;
    }
    return { name: `c/f${k}.csv`, times: Float64Array.from({ length: s.n }, (_, i) => i), scores, windows: s.windows };
  });
  const want = {
    standard: { threshold: 0.655, raw: 0.5031871973966018, null: -6, score: 54.19322664497168, counts: [68, 6389, 50, 868] },
    reward_low_FP_rate: { threshold: 0.953, raw: -1.4432971491628441, null: -6, score: 37.9725237569763, counts: [10, 6432, 7, 926] },
    reward_low_FN_rate: { threshold: 0.655, raw: 0.5031871973966018, null: -12, score: 69.4621510966478, counts: [68, 6389, 50, 868] },
  };
  for (const p of scoreNab(files)) {
    const w = want[p.profile];
    assert.equal(p.threshold, w.threshold, p.profile);
    close(p.raw, w.raw, 1e-12);
    close(p.nullScore, w.null, 1e-12);
    close(p.score, w.score, 1e-10);
    assert.deepEqual([p.counts.tp, p.counts.tn, p.counts.fp, p.counts.fn], w.counts, p.profile);
  }
});
