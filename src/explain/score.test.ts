import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addCounts, elementKey, parseElementSet, rcaScore, scoreCase } from './score.ts';
import { TidemarkError } from '../errors.ts';

test('parseElementSet reads the benchmark notation', () => {
  assert.deepEqual(parseElementSet('a=a2&c=c3;a=a4&b=b3'), [['a=a2', 'c=c3'], ['a=a4', 'b=b3']]);
  assert.deepEqual(parseElementSet('d=d6'), [['d=d6']]);
  assert.deepEqual(parseElementSet('  '), []);
  assert.throws(() => parseElementSet('a=a1&b', 'info.csv:3'), (e: unknown) => e instanceof TidemarkError && /info\.csv:3: 'b' is not a dimension=value pair/.test(e.message));
});

test('elementKey ignores pair order', () => {
  assert.equal(elementKey(['c=c3', 'a=a2']), elementKey(['a=a2', 'c=c3']));
});

const cases: { name: string; predicted: string[][]; truth: string[][]; tp: number; fp: number; fn: number }[] = [
  { name: 'exact match', predicted: [['a=a1']], truth: [['a=a1']], tp: 1, fp: 0, fn: 0 },
  { name: 'pair order does not matter', predicted: [['c=c3', 'a=a2']], truth: [['a=a2', 'c=c3']], tp: 1, fp: 0, fn: 0 },
  { name: 'parent is a false positive and leaves a false negative', predicted: [['a=a2']], truth: [['a=a2', 'c=c3']], tp: 0, fp: 1, fn: 1 },
  { name: 'child is a false positive too', predicted: [['a=a2', 'b=b1', 'c=c3']], truth: [['a=a2', 'c=c3']], tp: 0, fp: 1, fn: 1 },
  { name: 'duplicates count once', predicted: [['a=a1'], ['a=a1'], ['b=b2']], truth: [['a=a1'], ['b=b2']], tp: 2, fp: 0, fn: 0 },
  { name: 'no prediction: every true element is missed', predicted: [], truth: [['a=a1'], ['b=b1'], ['c=c1']], tp: 0, fp: 0, fn: 3 },
  { name: 'partial hit', predicted: [['a=a1'], ['d=d4']], truth: [['a=a1'], ['b=b1']], tp: 1, fp: 1, fn: 1 },
];
for (const c of cases) {
  test(`scoreCase: ${c.name}`, () => {
    assert.deepEqual(scoreCase(c.predicted, c.truth), { tp: c.tp, fp: c.fp, fn: c.fn });
  });
}

test('rcaScore micro-averages summed counts', () => {
  // Two cases: 2 TP; then 1 TP 1 FP 2 FN -> TP 3, FP 1, FN 2.
  const total = addCounts(addCounts({ tp: 0, fp: 0, fn: 0 }, { tp: 2, fp: 0, fn: 0 }), { tp: 1, fp: 1, fn: 2 });
  const s = rcaScore(total);
  assert.equal(s.precision, 3 / 4);
  assert.equal(s.recall, 3 / 5);
  assert.equal(s.f1, 6 / 9);
});

test('rcaScore edge cases', () => {
  assert.deepEqual(rcaScore({ tp: 0, fp: 0, fn: 0 }), { tp: 0, fp: 0, fn: 0, precision: 1, recall: 1, f1: 1 });
  assert.deepEqual(rcaScore({ tp: 0, fp: 0, fn: 2 }), { tp: 0, fp: 0, fn: 2, precision: 0, recall: 0, f1: 0 });
});
