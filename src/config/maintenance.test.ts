import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalTimeZone, inMaintenance, parseTimeOfDay, parseTimestamp, parseWeekday, zonedTime } from './maintenance.ts';
import type { MaintenanceWindow, RecurringWindow } from './types.ts';

const TIMESTAMPS: Array<[string, number | undefined]> = [
  ['2025-07-01T02:00:00Z', Date.UTC(2025, 6, 1, 2)],
  ['2025-07-01t02:00:00z', Date.UTC(2025, 6, 1, 2)],
  ['2025-07-01T04:00:00+02:00', Date.UTC(2025, 6, 1, 2)],
  ['2025-07-01T02:00Z', Date.UTC(2025, 6, 1, 2)],
  ['2025-07-01T02:00:00.250Z', Date.UTC(2025, 6, 1, 2, 0, 0, 250)],
  ['2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29)],
  ['2025-02-29T00:00:00Z', undefined], // not a leap year
  ['2025-02-30T00:00:00Z', undefined],
  ['2025-13-01T00:00:00Z', undefined],
  ['2025-07-01T24:00:00Z', undefined],
  ['2025-07-01T02:00:00', undefined], // no offset
  ['2025-07-01 02:00:00Z', undefined],
  ['2025-07-01T02:00:00+25:00', undefined],
  ['yesterday', undefined],
];

for (const [text, ms] of TIMESTAMPS) {
  test(`parseTimestamp('${text}')`, () => assert.equal(parseTimestamp(text), ms));
}

test('time zones are checked and canonicalised by Intl', () => {
  assert.equal(canonicalTimeZone('Europe/Berlin'), 'Europe/Berlin');
  assert.equal(canonicalTimeZone('europe/berlin'), 'Europe/Berlin');
  assert.equal(canonicalTimeZone('UTC'), 'UTC');
  assert.equal(canonicalTimeZone('Europe/Berln'), undefined);
  assert.equal(canonicalTimeZone('+01:00'), undefined);
});

test('times of day and weekdays', () => {
  assert.equal(parseTimeOfDay('00:00'), 0);
  assert.equal(parseTimeOfDay('02:30'), 150);
  assert.equal(parseTimeOfDay('23:59'), 1439);
  for (const bad of ['24:00', '2:30', '02:60', '0230', '02:30:00']) assert.equal(parseTimeOfDay(bad), undefined, bad);
  assert.equal(parseWeekday('Mon'), 'mon');
  assert.equal(parseWeekday('SUNDAY'), 'sun');
  assert.equal(parseWeekday('fryday'), undefined);
  assert.equal(parseWeekday('constructor'), undefined);
});

test('zonedTime follows daylight saving time', () => {
  const z = 'Europe/Berlin';
  assert.equal(zonedTime(2025, 1, 15, 120, z), Date.UTC(2025, 0, 15, 1)); // CET, +1
  assert.equal(zonedTime(2025, 7, 15, 120, z), Date.UTC(2025, 6, 15, 0)); // CEST, +2
  // 02:30 does not exist on 2025-03-30 in Berlin: it moves forward to 03:30 CEST.
  assert.equal(zonedTime(2025, 3, 30, 150, z), Date.UTC(2025, 2, 30, 1, 30));
  // 02:30 happens twice on 2025-10-26: the first (CEST) one is taken.
  assert.equal(zonedTime(2025, 10, 26, 150, z), Date.UTC(2025, 9, 26, 0, 30));
  assert.equal(zonedTime(2025, 3, 9, 120, 'America/New_York'), Date.UTC(2025, 2, 9, 7)); // gap: 02:00 -> 03:00 EDT
});

const weekend: RecurringWindow = { kind: 'recurring', weekdays: ['sat', 'sun'], startMinute: 23 * 60, durationMs: 2 * 3_600_000, timeZone: 'Europe/Berlin', comment: '' };
const once: MaintenanceWindow = { kind: 'once', startMs: Date.UTC(2025, 6, 1, 2), endMs: Date.UTC(2025, 6, 1, 4), comment: 'migration' };

const CASES: Array<[string, number, MaintenanceWindow | undefined]> = [
  ['one-off: at its start', Date.UTC(2025, 6, 1, 2), once],
  ['one-off: just before its end', Date.UTC(2025, 6, 1, 4) - 1, once],
  ['one-off: at its end (half-open)', Date.UTC(2025, 6, 1, 4), undefined],
  // Saturday 2025-07-05 23:00 CEST = 21:00 UTC, for 2h: until Sunday 01:00 local.
  ['recurring: Saturday 23:00 local', Date.UTC(2025, 6, 5, 21), weekend],
  ['recurring: crosses midnight into Sunday', Date.UTC(2025, 6, 5, 22, 59), weekend],
  ['recurring: ends at 01:00 local', Date.UTC(2025, 6, 5, 23), undefined],
  ['recurring: Saturday 22:59 local is before it', Date.UTC(2025, 6, 5, 20, 59), undefined],
  ['recurring: Friday night is not a weekday listed', Date.UTC(2025, 6, 4, 21, 30), undefined],
  // Sunday 2025-07-06 23:30 local starts Sunday's window, running into Monday.
  ['recurring: Sunday late into Monday', Date.UTC(2025, 6, 6, 22, 30), weekend],
  // In winter the same local time is 22:00 UTC.
  ['recurring: winter offset', Date.UTC(2025, 0, 4, 22, 30), weekend],
  ['recurring: winter, an hour early in UTC terms', Date.UTC(2025, 0, 4, 21, 30), undefined],
];

for (const [name, t, expected] of CASES) {
  test(`inMaintenance ${name}`, () => assert.equal(inMaintenance([once, weekend], t), expected));
}

test('a week-long recurring window covers the whole week', () => {
  const always: RecurringWindow = { ...weekend, weekdays: ['mon'], startMinute: 0, durationMs: 7 * 86_400_000, timeZone: 'UTC' };
  for (let d = 0; d < 14; d++) assert.equal(inMaintenance([always], Date.UTC(2025, 6, 7 + d, 12)), always, `day ${d}`);
});
