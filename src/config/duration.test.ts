import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, MAX_DURATION_MS, parseDuration } from './duration.ts';

const VALID: Array<[string, number]> = [
  ['0', 0],
  ['0s', 0],
  ['250ms', 250],
  ['30s', 30_000],
  ['5m', 300_000],
  ['1h', 3_600_000],
  ['1h30m', 5_400_000],
  ['1d', 86_400_000],
  ['2w', 1_209_600_000],
  ['1w2d3h4m5s6ms', 604_800_000 + 2 * 86_400_000 + 3 * 3_600_000 + 4 * 60_000 + 5_000 + 6],
  ['90s', 90_000],
];

for (const [text, ms] of VALID) {
  test(`parseDuration('${text}') = ${ms}`, () => assert.equal(parseDuration(text), ms));
}

const INVALID: Array<[string, string]> = [
  ['empty', ''],
  ['bare number', '300'],
  ['unknown unit', '5y'],
  ['units out of order', '5m1h'],
  ['unit repeated', '1m1m'],
  ['negative', '-1m'],
  ['fraction', '1.5h'],
  ['space', '5 m'],
  ['upper case', '5M'],
  ['trailing junk', '5mx'],
  ['over ten years', '600w'],
];

for (const [name, text] of INVALID) {
  test(`parseDuration rejects ${name} ('${text}')`, () => assert.equal(parseDuration(text), undefined));
}

test('formatDuration is the inverse of parseDuration on random values', () => {
  let seed = 42;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let i = 0; i < 500; i++) {
    const ms = Math.floor(rnd() ** 3 * MAX_DURATION_MS);
    const text = formatDuration(ms);
    assert.equal(parseDuration(text), ms, text);
  }
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(5_400_000), '1h30m');
});
