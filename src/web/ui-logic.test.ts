// The UI's pure helpers (no DOM), run in node. The browser behaviour is in ui.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lineDiff } from './ui/diff.ts';
import { fmtDuration, fmtNum, fmtShare, safeHref, stepFor } from './ui/format.ts';
import { companionSelector, matchesAll, pickAlertSeries, seriesLabelsOfAlert, seriesSelector, silencePrefill, type Matcher } from './ui/labels.ts';
import { describeRecurrence, silenceMutesAt } from './ui/recurrence.ts';

describe('format', () => {
  const durations = [
    { name: 'seconds', ms: 45_000, want: '45s' },
    { name: 'minutes and seconds', ms: 12 * 60_000 + 5_000, want: '12m 5s' },
    { name: 'hours drop a zero part', ms: 3 * 3_600_000, want: '3h' },
    { name: 'days and hours', ms: 2 * 86_400_000 + 4 * 3_600_000 + 59_000, want: '2d 4h' },
    { name: 'zero', ms: 0, want: '0s' },
  ];
  for (const c of durations) it(`fmtDuration: ${c.name}`, () => assert.equal(fmtDuration(c.ms), c.want));

  const nums = [
    { name: 'missing', v: null, want: '–' },
    { name: 'NaN', v: NaN, want: '–' },
    { name: '4 significant digits', v: 123.456, want: '123.5' },
    { name: 'grouped', v: 1234567, want: '1,235,000' },
    { name: 'tiny', v: 0.00001234, want: '1.23e-5' },
    { name: 'infinite', v: -Infinity, want: '-Inf' },
  ];
  for (const c of nums) it(`fmtNum: ${c.name}`, () => assert.equal(fmtNum(c.v), c.want));

  it('fmtShare: one decimal under 10%', () => assert.deepEqual([0.8234, 0.04, -0.5, NaN].map(fmtShare), ['82%', '4.0%', '-50%', '–']));

  const steps = [
    { name: '6 h', ms: 6 * 3_600_000, want: 2 },
    { name: '7 d of 1-minute points stays one step per minute', ms: 7 * 86_400_000, want: 60 },
    { name: 'a year', ms: 365 * 86_400_000, want: 3600 },
  ];
  for (const c of steps) it(`stepFor: ${c.name}`, () => assert.equal(stepFor(c.ms), c.want));

  const hrefs = [
    { name: 'https', url: 'https://runbooks.example.com/x?a=1', want: 'https://runbooks.example.com/x?a=1' },
    { name: 'javascript', url: 'javascript:alert(1)', want: undefined },
    { name: 'data', url: 'data:text/html,<script>alert(1)</script>', want: undefined },
    { name: 'relative', url: '/wiki/x', want: undefined },
    { name: 'not a string', url: 42, want: undefined },
  ];
  for (const c of hrefs) it(`safeHref: ${c.name}`, () => assert.equal(safeHref(c.url), c.want));
});

describe('labels and matchers', () => {
  it('selectors quote values and move a series `metric` label for companions', () => {
    assert.equal(seriesSelector('up', { b: 'x"y', a: 'back\\slash' }), '{__name__="up", a="back\\\\slash", b="x\\"y"}');
    assert.equal(companionSelector('tidemark_upper', 'lat', { metric: 'p99', region: 'eu' }), 'tidemark_upper{metric="lat", exported_metric="p99", region="eu"}');
  });

  it('the silence prefill keeps every alert label but severity, values with commas intact', () => {
    assert.equal(silencePrefill({ severity: 'S2', region: 'eu, west', rule: 'r' }), '{region="eu, west",rule="r"}');
  });

  const labels = { region: 'eu-west-1', service: 'checkout' };
  const cases: { name: string; m: Matcher[]; want: boolean }[] = [
    { name: 'equal', m: [{ name: 'region', op: '=', value: 'eu-west-1' }], want: true },
    { name: 'not equal', m: [{ name: 'region', op: '!=', value: 'eu-west-1' }], want: false },
    { name: 'regex is anchored', m: [{ name: 'region', op: '=~', value: 'eu' }], want: false },
    { name: 'regex full', m: [{ name: 'region', op: '=~', value: 'eu-.*' }], want: true },
    { name: 'negative regex', m: [{ name: 'service', op: '!~', value: 'check.*' }], want: false },
    { name: 'missing label reads as empty', m: [{ name: 'zone', op: '=', value: '' }], want: true },
    { name: 'invalid regex matches nothing', m: [{ name: 'region', op: '=~', value: '(' }], want: false },
    { name: 'all must hold', m: [{ name: 'region', op: '=', value: 'eu-west-1' }, { name: 'service', op: '=', value: 'search' }], want: false },
  ];
  for (const c of cases) it(`matchesAll: ${c.name}`, () => assert.equal(matchesAll(c.m, labels), c.want));

  it('finds the alert series among candidates: built-ins dropped, exported_ names restored, most labels wins', () => {
    const alert = { tenant: 't', rule: 'r', metric: 'lat', severity: 'S2', owner: 'o', region: 'eu', exported_owner: 'db-team', team_static: 'x' };
    assert.deepEqual(seriesLabelsOfAlert(alert), { region: 'eu', owner: 'db-team', team_static: 'x' });
    const candidates: { labels: Record<string, string> }[] = [{ labels: { region: 'eu' } }, { labels: { region: 'eu', owner: 'db-team' } }, { labels: { region: 'us', owner: 'db-team' } }, { labels: { region: 'eu', pod: 'a' } }];
    assert.equal(pickAlertSeries(alert, candidates), candidates[1]);
    assert.equal(pickAlertSeries({ region: 'ap' }, candidates), undefined);
  });
});

describe('silence recurrence', () => {
  // 2025-07-05 is a Saturday; Berlin is UTC+2 in July.
  const sat0230berlin = Date.UTC(2025, 6, 5, 0, 30);
  const s = { startsAt: Date.UTC(2025, 6, 1), endsAt: Date.UTC(2025, 7, 1), recurrence: { weekdays: ['sat', 'sun'], at: '02:00', duration: '2h', timeZone: 'Europe/Berlin' } };
  const cases = [
    { name: 'inside an occurrence (local 02:30 Saturday)', t: sat0230berlin, want: true },
    { name: 'after it (local 04:30)', t: sat0230berlin + 2 * 3_600_000, want: false },
    { name: 'a weekday', t: sat0230berlin - 3 * 86_400_000, want: false },
    { name: 'outside the silence', t: Date.UTC(2025, 7, 2, 0, 30), want: false },
  ];
  for (const c of cases) it(`silenceMutesAt: ${c.name}`, () => assert.equal(silenceMutesAt(s, c.t), c.want));
  it('silenceMutesAt: no recurrence mutes for the whole window; an RRULE works as weekdays', () => {
    assert.equal(silenceMutesAt({ ...s, recurrence: null }, sat0230berlin + 3 * 86_400_000), true);
    assert.equal(silenceMutesAt({ ...s, recurrence: { rrule: 'FREQ=WEEKLY;BYDAY=SA;BYHOUR=2', duration: '1h', timeZone: 'Europe/Berlin' } }, sat0230berlin), true);
  });
  it('describes recurrences', () => {
    assert.equal(describeRecurrence(s.recurrence), 'Sat, Sun at 02:00 for 2h (Europe/Berlin)');
    assert.equal(describeRecurrence({ rrule: 'FREQ=DAILY;BYHOUR=3;BYMINUTE=30', duration: '30m', timeZone: 'UTC' }), 'Every day at 03:30 for 30m (UTC)');
    assert.equal(describeRecurrence(null), '');
  });
});

describe('config diff', () => {
  const cases = [
    { name: 'same', a: 'a\nb', b: 'a\nb', want: ['  a', '  b'] },
    { name: 'one line changed', a: 'a\nb\nc', b: 'a\nB\nc', want: ['  a', '- b', '+ B', '  c'] },
    { name: 'added at the end', a: 'a', b: 'a\nb', want: ['  a', '+ b'] },
    { name: 'from nothing', a: '', b: 'x', want: ['+ x'] },
    { name: 'moved block keeps the common part', a: 'x\ny\nz', b: 'y\nz\nx', want: ['- x', '  y', '  z', '+ x'] },
  ];
  for (const c of cases) {
    it(`lineDiff: ${c.name}`, () => assert.deepEqual(lineDiff(c.a, c.b).map((l) => `${l.op} ${l.text}`), c.want));
  }
});
