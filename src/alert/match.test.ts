import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TidemarkError } from '../errors.ts';
import { compileLabelMatchers, compileSilence, parseRecurrence, silenceActive } from './match.ts';
import type { Silence } from '../store/types.ts';

test('label matchers: = != =~ !~, anchored, missing label is empty', () => {
  const cases = [
    { m: [{ name: 'a', op: '=' as const, value: 'x' }], l: { a: 'x' }, want: true },
    { m: [{ name: 'a', op: '!=' as const, value: 'x' }], l: { a: 'x' }, want: false },
    { m: [{ name: 'a', op: '=~' as const, value: 'x|y' }], l: { a: 'y' }, want: true },
    { m: [{ name: 'a', op: '=~' as const, value: 'x' }], l: { a: 'xx' }, want: false },
    { m: [{ name: 'a', op: '!~' as const, value: 'x.*' }], l: { a: 'abc' }, want: true },
    { m: [{ name: 'b', op: '=' as const, value: '' }], l: { a: 'x' }, want: true },
  ];
  for (const c of cases) assert.equal(compileLabelMatchers(c.m)(c.l), c.want, JSON.stringify(c));
  assert.throws(() => compileLabelMatchers([{ name: 'a', op: '=~', value: '(' }]), (e: unknown) => e instanceof TidemarkError && e.path === 'matchers[0].value');
});

const MON_0300_BERLIN = Date.parse('2025-07-07T01:00:00Z'); // Monday 03:00 in Berlin (UTC+2)

const recurrenceCases = [
  { name: 'weekdays + at', rec: { weekdays: ['mon'], at: '03:00', duration: '1h', timeZone: 'Europe/Berlin' } },
  { name: 'RRULE weekly', rec: { rrule: 'FREQ=WEEKLY;BYDAY=MO;BYHOUR=3;BYMINUTE=0', duration: '1h', timeZone: 'Europe/Berlin' } },
  { name: 'RRULE daily', rec: { rrule: 'RRULE:FREQ=DAILY;BYHOUR=3', duration: 3_600_000, timeZone: 'Europe/Berlin' } },
];
for (const c of recurrenceCases) {
  test(`recurring silence (${c.name}) is active only inside its occurrences`, () => {
    const s: Silence = { id: 'x', tenant: 't', matchers: [{ name: 'a', op: '=', value: 'b' }], startsAt: 0, endsAt: MON_0300_BERLIN + 86_400_000 * 30, createdBy: 'me', reason: 'r', recurrence: c.rec, createdAt: 0 };
    const cs = compileSilence(s);
    assert.equal(silenceActive(cs, MON_0300_BERLIN - 1), false);
    assert.equal(silenceActive(cs, MON_0300_BERLIN), true);
    assert.equal(silenceActive(cs, MON_0300_BERLIN + 3_599_999), true);
    assert.equal(silenceActive(cs, MON_0300_BERLIN + 3_600_000), false);
    assert.equal(silenceActive(cs, MON_0300_BERLIN + 86_400_000), c.name === 'RRULE daily');
  });
}

const badCases = [
  { name: 'unknown key', rec: { weekdays: ['mon'], at: '03:00', duration: '1h', tz: 'UTC' }, path: 'recurrence.tz' },
  { name: 'bad zone', rec: { weekdays: ['mon'], at: '03:00', duration: '1h', timeZone: 'Mars/Base' }, path: 'recurrence.timeZone' },
  { name: 'bad time', rec: { weekdays: ['mon'], at: '3am', duration: '1h' }, path: 'recurrence.at' },
  { name: 'bad weekday', rec: { weekdays: ['funday'], at: '03:00', duration: '1h' }, path: 'recurrence.weekdays[0]' },
  { name: 'no duration', rec: { weekdays: ['mon'], at: '03:00' }, path: 'recurrence.duration' },
  { name: 'unsupported RRULE part', rec: { rrule: 'FREQ=MONTHLY', duration: '1h' }, path: 'recurrence.rrule' },
  { name: 'both forms', rec: { rrule: 'FREQ=DAILY', weekdays: ['mon'], duration: '1h' }, path: 'recurrence' },
];
for (const c of badCases) {
  test(`recurrence refused: ${c.name}`, () => {
    assert.throws(() => parseRecurrence(c.rec), (e: unknown) => e instanceof TidemarkError && e.code === 'TM_ERR_INPUT' && e.path === c.path);
  });
}
