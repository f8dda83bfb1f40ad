import { test } from 'node:test';
import assert from 'node:assert/strict';
import { epochMs, formatTimestamp, parseDuration, parseTimestamp } from './time.ts';

test('parseTimestamp', () => {
  const cases: [string, string, number][] = [
    ['NAB data row', '2014-04-10 07:15:00', Date.UTC(2014, 3, 10, 7, 15)],
    ['NAB window bound with microseconds', '2014-04-10 07:15:00.000000', Date.UTC(2014, 3, 10, 7, 15)],
    ['ISO with Z', '2024-01-01T00:00:00Z', Date.UTC(2024, 0, 1)],
    ['ISO with offset', '2024-01-01T02:00:00+02:00', Date.UTC(2024, 0, 1)],
    ['compact offset', '2024-01-01T00:00:00-0130', Date.UTC(2024, 0, 1, 1, 30)],
    ['minutes only', '2024-01-01 12:30', Date.UTC(2024, 0, 1, 12, 30)],
    ['date only', '2024-02-29', Date.UTC(2024, 1, 29)],
    ['fraction keeps sub-ms', '2024-01-01T00:00:00.0005Z', Date.UTC(2024, 0, 1) + 0.5],
    ['epoch ms', '1704067200000', 1704067200000],
    ['epoch seconds (Prometheus API, date +%s)', '1704067200', 1704067200000],
    ['epoch seconds with a fraction', '1704067200.25', 1704067200250],
    ['epoch microseconds', '1704067200000000', 1704067200000],
    ['epoch nanoseconds (Influx)', '1704067200000000000', 1704067200000],
    ['small numbers are ms as given (relative times)', '60000', 60000],
    ['surrounding spaces', ' 2024-01-01T00:00:00Z ', Date.UTC(2024, 0, 1)],
  ];
  for (const [name, text, want] of cases) assert.equal(parseTimestamp(text), want, name);
});

test('parseTimestamp rejects what is not a time', () => {
  for (const bad of ['', 'yesterday', '2023-02-29', '2024-13-01', '2024-01-01 24:00:00', '2024-01-01T00:00:00+2', '1e9']) {
    assert.ok(Number.isNaN(parseTimestamp(bad)), bad);
  }
});

test('epochMs tells the unit apart by magnitude, at the edges of each band', () => {
  const cases: [number, number][] = [
    [0, 0],
    [999_999_999, 999_999_999], // below 1e9: ms as given
    [1e9, 1e12], // 2001-09-09 in seconds
    [99_999_999_999, 99_999_999_999_000], // the last seconds (year 5138)
    [1e11, 1e11], // milliseconds from here (1973)
    [99_999_999_999_999, 99_999_999_999_999],
    [1e14, 1e11], // microseconds (1973)
    [1e17, 1e11], // nanoseconds (1973)
    [-1704067200, -1704067200000], // before the epoch, seconds
  ];
  for (const [n, want] of cases) assert.equal(epochMs(n), want, String(n));
  // One instant in every unit reads the same.
  const t = Date.UTC(2026, 10, 21, 12, 34, 56);
  for (const n of [t / 1000, t, t * 1000, t * 1e6]) assert.equal(epochMs(n), t, String(n));
});

test('formatTimestamp drops zero milliseconds', () => {
  assert.equal(formatTimestamp(Date.UTC(2024, 0, 1)), '2024-01-01T00:00:00Z');
  assert.equal(formatTimestamp(Date.UTC(2024, 0, 1) + 5), '2024-01-01T00:00:00.005Z');
});

test('parseDuration', () => {
  const cases: [string, number][] = [['60s', 60_000], ['5m', 300_000], ['1h', 3_600_000], ['2d', 172_800_000], ['250ms', 250], ['30', 30_000]];
  for (const [text, want] of cases) assert.equal(parseDuration(text), want, text);
  for (const bad of ['0s', '-5m', '5 minutes', '']) assert.ok(Number.isNaN(parseDuration(bad)), bad);
});
