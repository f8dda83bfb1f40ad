import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WATCH_ANOMALIES, alertFingerprint } from './stage.ts';
import { MIN, Sim, T0, testConfigYaml } from './testkit.ts';

const EU_A = { service: 'a', region: 'eu' };
const EU_B = { service: 'b', region: 'eu' };
const US_C = { service: 'c', region: 'us' };
const STEP = 15_000;

/** Feeds series `ids` with a point every 15 s from `from` to `to` (exclusive), advancing the clock with them. */
function run(sim: Sim, from: number, to: number, series: [number, Record<string, string>, number][], metric = 'latency'): void {
  for (let t = from; t < to; t += STEP) {
    sim.advance(t);
    for (const [id, labels, score] of series) sim.point(id, metric, labels, t, score >= 0.5 ? 50 : 10, score);
  }
}

function impact(sim: Sim, t: number, ratio: number): void {
  sim.point(100, 'ok_ratio', { region: 'eu' }, t, ratio, 0);
}

test('fingerprint is stable: same tenant, rule and labels in any order give the same id; any change gives another', () => {
  const a = alertFingerprint('t1', 'lat', 'latency', { service: 'a', region: 'eu' });
  assert.equal(a, alertFingerprint('t1', 'lat', 'latency', { region: 'eu', service: 'a' }));
  assert.match(a, /^[0-9a-f]{16}$/);
  for (const other of [
    alertFingerprint('t2', 'lat', 'latency', EU_A),
    alertFingerprint('t1', 'lat2', 'latency', EU_A),
    alertFingerprint('t1', 'lat', 'latency2', EU_A),
    alertFingerprint('t1', 'lat', 'latency', { service: 'a', region: 'us' }),
  ]) assert.notEqual(a, other);
});

test('lifecycle: pending for `for`, then firing; repeated detections stay one alert; resolve after keep_firing_for', () => {
  const sim = new Sim();
  impact(sim, T0 - 1000, 0.95);
  const fp = alertFingerprint('t1', 'lat', 'latency', EU_A);
  run(sim, T0, T0 + 45_000, [[1, EU_A, 1]]);
  assert.equal(sim.lastUpsert(fp)?.state, 'pending');
  run(sim, T0 + 45_000, T0 + 10 * MIN, [[1, EU_A, 1]]);
  const firing = sim.lastUpsert(fp)!;
  assert.equal(firing.state, 'firing');
  assert.equal(firing.severity, 'S2');
  assert.equal(firing.startsAt, T0);
  const fpUpserts = sim.effects.flatMap((e) => e.upserts).filter((u) => u.fingerprint === fp);
  assert.equal(new Set(fpUpserts.map((u) => u.fingerprint)).size, 1, 'one alert for every detection');
  const pages = sim.take('notify', 'pager');
  assert.equal(pages.length, 1, 'one page');
  assert.equal(pages[0].alerts.length, 1);
  assert.equal(pages[0].page, true);
  // Firing at T0+60s; group_wait 30s.
  assert.equal(pages[0].at, T0 + 60_000 + 30_000);
  // Normal from 10 min: keep_firing_for 2m holds it firing until 2 min after the last anomalous point.
  run(sim, T0 + 10 * MIN, T0 + 11 * MIN, [[1, EU_A, 0]]);
  assert.equal(sim.lastUpsert(fp)?.state, 'firing');
  run(sim, T0 + 11 * MIN, T0 + 20 * MIN, [[1, EU_A, 0]]);
  const resolved = sim.lastUpsert(fp)!;
  assert.equal(resolved.state, 'resolved');
  assert.equal(resolved.endsAt, T0 + 10 * MIN - STEP + 2 * MIN);
  const res = sim.take('notify', 'pager');
  assert.equal(res.length, 1);
  assert.equal(res[0].status, 'resolved');
  assert.equal(res[0].alerts[0].status, 'resolved');
});

test('a pending alert that clears before `for` is dropped without any notification', () => {
  const sim = new Sim();
  run(sim, T0, T0 + 30_000, [[1, EU_A, 1]]);
  run(sim, T0 + 30_000, T0 + 10 * MIN, [[1, EU_A, 0]]);
  const fp = alertFingerprint('t1', 'lat', 'latency', EU_A);
  assert.equal(sim.lastUpsert(fp)?.state, 'resolved');
  assert.deepEqual(sim.take(), []);
});

const flapCases = [
  { name: '1 of 1 (default) opens on a single spike', policy: {}, pattern: [1, 0, 0, 0], opens: true },
  { name: '2 of 3 ignores a single spike', policy: { flap: { triggerM: 2, triggerN: 3 } }, pattern: [1, 0, 0, 1, 0, 0], opens: false },
  { name: '2 of 3 opens on two spikes in three points', policy: { flap: { triggerM: 2, triggerN: 3 } }, pattern: [1, 0, 1, 0, 0], opens: true },
];
for (const c of flapCases) {
  test(`anti-flap M-of-N: ${c.name}`, () => {
    const sim = new Sim(testConfigYaml('', '').replace('for: 1m', 'for: 0s'), c.policy);
    c.pattern.forEach((s, i) => sim.point(1, 'latency', EU_A, T0 + i * STEP, 10, s));
    const fp = alertFingerprint('t1', 'lat', 'latency', EU_A);
    assert.equal(sim.lastUpsert(fp) !== undefined, c.opens);
  });
}

test('anti-flap recovery: a firing alert needs `recoveryPoints` normal points in a row to resolve', () => {
  const sim = new Sim(testConfigYaml().replace('for: 1m, keep_firing_for: 2m', 'for: 0s, keep_firing_for: 0s'), { flap: { recoveryPoints: 3 } });
  const fp = alertFingerprint('t1', 'lat', 'latency', EU_A);
  const pattern = [1, 0, 0, 1, 0, 0, 0];
  const states = pattern.map((s, i) => {
    sim.point(1, 'latency', EU_A, T0 + i * STEP, 10, s);
    return sim.lastUpsert(fp)?.state;
  });
  assert.deepEqual(states, ['firing', 'firing', 'firing', 'firing', 'firing', 'firing', 'resolved']);
});

test('a condition reported once holds while the value stays outside the band (or a detector says it goes on): firing until it is back, `for` reached', () => {
  // Novelty and weekly_shift score the first point of a condition and 0 after it while it lasts.
  const yaml = testConfigYaml().replace('for: 1m, keep_firing_for: 2m', 'for: 1m, keep_firing_for: 0s');
  const fp = alertFingerprint('t1', 'lat', 'latency', EU_A);
  // Scores and `outside` per 15-second point: reported once, outside for 2 minutes, then back inside.
  const held = Array.from({ length: 8 }, (): [number, boolean] => [0, true]);
  const pattern: [number, boolean][] = [[1, true], ...held, [0, false], [0, false]];
  const sim = new Sim(yaml);
  const states = pattern.map(([score, outside], i) => {
    sim.advance(T0 + i * STEP);
    sim.point(1, 'latency', EU_A, T0 + i * STEP, outside ? 50 : 10, score, false, outside);
    return sim.lastUpsert(fp)?.state;
  });
  // Pending from the report, firing once `for` (1m) has passed with the value still outside,
  // resolved at the first point back inside the band.
  assert.deepEqual(states, [...Array(4).fill('pending'), ...Array(5).fill('firing'), 'resolved', 'resolved']);
  assert.equal(sim.lastUpsert(fp)!.endsAt, T0 + 9 * STEP);

  // Without `outside` the same report clears at the next point: `for` is never reached.
  const plain = new Sim(yaml);
  pattern.forEach(([score], i) => plain.point(1, 'latency', EU_A, T0 + i * STEP, 10, score));
  assert.equal(plain.lastUpsert(fp)!.state, 'resolved');
  assert.equal(plain.effects.flatMap((e) => e.upserts).filter((u) => u.state === 'firing').length, 0);

  // A detector saying its condition goes on (weekly_shift after its report) holds it the same way.
  const said = new Sim(yaml);
  const saidStates = pattern.map(([score, goesOn], i) => {
    said.advance(T0 + i * STEP);
    const v = { score, expected: 10, lower: 5, upper: 15, learning: false, reasons: ['normal'], sources: ['weekly_shift'], ongoing: goesOn };
    said.verdict(1, 'latency', EU_A, T0 + i * STEP, 10, v);
    return said.lastUpsert(fp)?.state;
  });
  assert.deepEqual(saidStates, states);

  // Outside the band alone opens nothing: only a score at the threshold does.
  const quiet = new Sim(yaml);
  for (let i = 0; i < 10; i++) quiet.point(1, 'latency', EU_A, T0 + i * STEP, 50, 0, false, true);
  assert.equal(quiet.lastUpsert(fp), undefined);
});

test('m-of-n counts points, as the engine passes them: two anomalies far apart do not trigger, a reported condition that goes on does', () => {
  const yaml = testConfigYaml().replace('for: 1m, keep_firing_for: 2m', 'for: 0s, keep_firing_for: 0s, trigger: { m: 2, n: 3 }');
  const fp = alertFingerprint('t1', 'lat', 'latency', EU_A);
  // Scores and `outside` per point; the engine passes a point only while the series is watched or when it scores.
  const feed = (pattern: [number, boolean][]) => {
    const sim = new Sim(yaml);
    sim.asEngine = true;
    pattern.forEach(([score, outside], i) => sim.point(1, 'latency', EU_A, T0 + i * STEP, outside || score ? 50 : 10, score, false, outside));
    return sim;
  };
  const quiet = Array.from({ length: 10 }, (): [number, boolean] => [0, false]);
  const apart = feed([[1, false], ...quiet, [1, false], ...quiet]);
  assert.equal(apart.lastUpsert(fp), undefined, 'two single anomalies 10 points apart are not 2 of 3');
  assert.equal(apart.stage.watch[1], WATCH_ANOMALIES, 'back to anomalies only once the window is clear');
  const goesOn = feed([[1, true], [0, true], [0, true], ...quiet]);
  const upserts = goesOn.effects.flatMap((e) => e.upserts).filter((u) => u.fingerprint === fp);
  assert.equal(upserts[0]?.startsAt, T0 + STEP, 'opened at the second point of the condition');
  assert.equal(goesOn.lastUpsert(fp)!.state, 'resolved');
  assert.equal(feed([[0, true], [1, false], ...quiet]).lastUpsert(fp), undefined, 'outside before the report is no part of it');
});

test('recovery: the level coming back after the band took it in is noted on the episode, not a new alert; once, and only then', () => {
  const yaml = testConfigYaml().replace('for: 1m, keep_firing_for: 2m', 'for: 0s, keep_firing_for: 0s');
  const fp = alertFingerprint('t1', 'lat', 'latency', EU_A);
  type View = [value: number, score: number, expected: number, lower: number, upper: number, outside: boolean];
  const feed = (sim: Sim, from: number, views: View[]) =>
    views.forEach(([value, score, expected, lower, upper, outside], i) => {
      const t = T0 + (from + i) * STEP;
      sim.advance(t);
      const reasons = score >= 0.5 ? ['dip'] : ['normal'];
      sim.verdict(1, 'latency', EU_A, t, value, { score, expected, lower, upper, learning: false, reasons, sources: ['novelty'], outside });
    });
  const episodes = (sim: Sim) =>
    new Set(sim.effects.flatMap((e) => e.upserts).filter((u) => u.fingerprint === fp).map((u) => u.startsAt)).size;
  // Latency drops from ~100 (band 90..110) to 40: reported, held while outside, then the band takes
  // the new level in (expected 40, band 35..45) and the alert resolves with the value still at 40.
  const drop: View[] = [[40, 1, 100, 90, 110, true], [40, 0, 95, 80, 110, true], [40, 0, 40, 35, 45, false]];
  // Back to 100: reported as a change against the moved band.
  const back: View = [100, 1, 40, 35, 45, true];

  const sim = new Sim(yaml);
  feed(sim, 0, drop);
  assert.equal(sim.lastUpsert(fp)!.state, 'resolved');
  feed(sim, 3, [back, [100, 0, 60, 30, 110, false]]);
  assert.equal(episodes(sim), 1, 'the recovery opens no episode');
  const last = sim.lastUpsert(fp)!;
  assert.equal(last.state, 'resolved');
  assert.match(JSON.stringify(last.packet), /back within its band from before the alert \(90\.\.110\)/);
  // Only once: a second jump back up in the same episode's wake is news.
  feed(sim, 5, [[40, 0, 100, 90, 110, false], back]);
  assert.equal(episodes(sim), 2);

  // A spike that passed (resolved back inside its band) has no recovery: a later dip opens its own alert.
  const spike = new Sim(yaml);
  feed(spike, 0, [[200, 1, 100, 90, 110, true], [100, 0, 100, 90, 110, false], [95, 1, 100, 98, 102, true]]);
  assert.equal(episodes(spike), 2);
  // Neither does a change that lands outside the opening band.
  const other = new Sim(yaml);
  feed(other, 0, [...drop, [300, 1, 40, 35, 45, true]]);
  assert.equal(episodes(other), 2);
});

test('no data is unknown, never resolved: the alert keeps firing and records it; data back clears the mark', () => {
  const sim = new Sim();
  impact(sim, T0, 0.9);
  run(sim, T0, T0 + 2 * MIN, [[1, EU_A, 1]]);
  const fp = alertFingerprint('t1', 'lat', 'latency', EU_A);
  sim.advance(T0 + 60 * MIN);
  const u = sim.lastUpsert(fp)!;
  assert.equal(u.state, 'firing');
  const p = u.packet as { dataState: string; events: { kind: string }[] };
  assert.equal(p.dataState, 'unknown');
  assert.ok(p.events.some((e) => e.kind === 'no_data'));
  assert.equal(sim.take('notify').filter((d) => d.status === 'resolved').length, 0);
  sim.point(1, 'latency', EU_A, T0 + 61 * MIN, 50, 1);
  sim.advance(T0 + 62 * MIN);
  assert.equal((sim.lastUpsert(fp)!.packet as { dataState: string }).dataState, 'ok');
});

test('grouping: one notification per group after group_wait; a later alert waits for group_interval; repeat after repeat_interval', () => {
  const sim = new Sim();
  impact(sim, T0, 0.9);
  run(sim, T0, T0 + 2 * MIN, [[1, EU_A, 1], [3, US_C, 1]]);
  // Series b in eu joins later.
  run(sim, T0 + 2 * MIN, T0 + 10 * MIN, [[1, EU_A, 1], [2, EU_B, 1], [3, US_C, 1]]);
  const pages = sim.take('notify', 'pager');
  const eu = pages.filter((d) => d.groupLabels.region === 'eu');
  const us = pages.filter((d) => d.groupLabels.region === 'us');
  assert.equal(us.length, 1);
  assert.equal(eu.length, 2, 'eu: first page, then one update when b joined');
  assert.equal(eu[0].alerts.length, 1);
  assert.equal(eu[1].alerts.length, 2);
  // First flush at firing (T0+60s) + 30s; the update at the next group_interval (5m later).
  assert.equal(eu[0].at, T0 + 90_000);
  assert.equal(eu[1].at, T0 + 90_000 + 5 * MIN);
  assert.equal(eu[0].groupId, eu[1].groupId, 'same group, same PagerDuty dedup key');
  assert.notEqual(eu[0].groupId, us[0].groupId);
  // Repeat: nothing new until 4h after the last notification.
  sim.advance(T0 + 4 * 60 * MIN);
  for (let t = T0 + 10 * MIN; t < T0 + 4 * 60 * MIN + 20 * MIN; t += 5 * MIN) {
    sim.advance(t);
    for (const [id, l] of [[1, EU_A], [2, EU_B], [3, US_C]] as const) sim.point(id, 'latency', l, t, 50, 1);
  }
  const repeats = sim.take('notify', 'pager');
  assert.deepEqual(repeats.map((d) => d.groupLabels.region).sort(), ['eu', 'us']);
  assert.equal(repeats.find((d) => d.groupLabels.region === 'eu')!.at, T0 + 90_000 + 5 * MIN + 4 * 60 * MIN);
});

test('impact gate: without impact an S2 rule is held at S1 (notify, not page) and says why; impact later pages', () => {
  const sim = new Sim();
  impact(sim, T0, 0.995); // not below 0.98: no impact
  run(sim, T0, T0 + 3 * MIN, [[1, EU_A, 1]]);
  const fp = alertFingerprint('t1', 'lat', 'latency', EU_A);
  const u = sim.lastUpsert(fp)!;
  assert.equal(u.severity, 'S1');
  const p = u.packet as { heldReason: string; suppressions: { kind: string; reason: string }[] };
  assert.match(p.heldReason, /held at S1 instead of S2: no impact: ok_ratio = 0\.995 is not below the limit 0\.98/);
  assert.equal(p.suppressions.filter((s) => s.kind === 'gate').length, 1);
  assert.equal(sim.take('notify', 'pager').length, 0);
  const chat = sim.take('notify', 'chat');
  assert.equal(chat.length, 1);
  assert.equal(chat[0].page, false);
  assert.equal(chat[0].alerts[0].heldReason, p.heldReason);
  // Impact arrives: the alert becomes S2 and pages.
  impact(sim, T0 + 3 * MIN, 0.9);
  run(sim, T0 + 3 * MIN, T0 + 10 * MIN, [[1, EU_A, 1]]);
  assert.equal(sim.lastUpsert(fp)!.severity, 'S2');
  const pages = sim.take('notify', 'pager');
  assert.equal(pages.length, 1);
  assert.equal(pages[0].severity, 'S2');
});

test('silences: a matching active silence mutes the alert and is recorded; an expired one does not', () => {
  const sim = new Sim();
  sim.stage.setSilences('t1', [
    { id: 's1', tenant: 't1', matchers: [{ name: 'region', op: '=', value: 'eu' }], startsAt: T0 - MIN, endsAt: T0 + 30 * MIN, createdBy: 'ann', reason: 'deploy', recurrence: null, createdAt: T0 },
    { id: 's0', tenant: 't1', matchers: [{ name: 'region', op: '=', value: 'us' }], startsAt: T0 - 60 * MIN, endsAt: T0 - 30 * MIN, createdBy: 'bob', reason: 'old', recurrence: null, createdAt: T0 },
  ]);
  impact(sim, T0, 0.9);
  run(sim, T0, T0 + 10 * MIN, [[1, EU_A, 1], [3, US_C, 1]]);
  const pages = sim.take('notify', 'pager');
  assert.deepEqual(pages.map((d) => d.groupLabels.region), ['us']);
  const eu = sim.lastUpsert(alertFingerprint('t1', 'lat', 'latency', EU_A))!.packet as { suppressions: { kind: string; reason: string }[] };
  assert.deepEqual(eu.suppressions.filter((s) => s.kind === 'silence').map((s) => s.reason), ['silenced by s1 (ann: deploy)']);
  // The silence expires on its own: the next flush pages.
  run(sim, T0 + 10 * MIN, T0 + 40 * MIN, [[1, EU_A, 1], [3, US_C, 1]]);
  assert.deepEqual(sim.take('notify', 'pager').map((d) => d.groupLabels.region), ['eu']);
});

test('recurring silence (weekly, local time in a zone) mutes only inside its occurrences', () => {
  const sim = new Sim();
  // T0 is Tuesday 12:00 UTC = 14:00 Europe/Berlin (summer).
  sim.stage.setSilences('t1', [{
    id: 'weekly', tenant: 't1', matchers: [{ name: 'rule', op: '=', value: 'lat' }], startsAt: T0 - 86_400_000, endsAt: T0 + 30 * 86_400_000,
    createdBy: 'ops', reason: 'patching', recurrence: { weekdays: ['tue'], at: '13:55', duration: '1h', timeZone: 'Europe/Berlin' }, createdAt: T0,
  }]);
  impact(sim, T0, 0.9);
  run(sim, T0, T0 + 50 * MIN, [[1, EU_A, 1]]);
  assert.equal(sim.take('notify', 'pager').length, 0, 'muted inside 13:55-14:55 Berlin');
  run(sim, T0 + 50 * MIN, T0 + 70 * MIN, [[1, EU_A, 1]]);
  assert.equal(sim.take('notify', 'pager').length, 1, 'pages after the occurrence ends');
});

test('recurring maintenance window of the rule: no page inside, recorded as maintenance', () => {
  const yaml = testConfigYaml().replace('    group_by: [region]\n', `    group_by: [region]
    maintenance:
      - { weekdays: [tue], at: '11:30', duration: 2h, time_zone: UTC }
`);
  const sim = new Sim(yaml);
  impact(sim, T0, 0.9);
  run(sim, T0, T0 + 60 * MIN, [[1, EU_A, 1]]);
  assert.equal(sim.take('notify').length, 0);
  const p = sim.lastUpsert(alertFingerprint('t1', 'lat', 'latency', EU_A))!.packet as { suppressions: { kind: string; reason: string }[] };
  assert.deepEqual(p.suppressions.map((s) => [s.kind, s.reason]), [['maintenance', 'recurring maintenance window tue 11:30 UTC']]);
  run(sim, T0 + 60 * MIN, T0 + 100 * MIN, [[1, EU_A, 1]]);
  assert.equal(sim.take('notify', 'pager').length, 1, 'pages once the window ends at 13:30');
});

test('inhibition: a firing source mutes targets with equal labels, whatever the order of arrival', () => {
  const yaml = testConfigYaml(`
  - name: err
    selector: errors
    aggregation: { function: avg, window: 1m }
    severity: S1
    owner: team-a
    group_by: [region]
    timing: { for: 0s }
`);
  const policy = { inhibitRules: [{ source: [{ name: 'rule', op: '=', value: 'err' }], target: [{ name: 'rule', op: '=', value: 'lat' }], equal: ['region'] }] };
  for (const order of ['source first', 'target first']) {
    const sim = new Sim(yaml, policy);
    impact(sim, T0, 0.9);
    const src: [number, Record<string, string>, number][] = [[10, EU_A, 1]];
    const tgt: [number, Record<string, string>, number][] = [[1, EU_A, 1], [3, US_C, 1]];
    for (let t = T0; t < T0 + 10 * MIN; t += STEP) {
      sim.advance(t);
      const batches = order === 'source first' ? [[src, 'errors'], [tgt, 'latency']] as const : [[tgt, 'latency'], [src, 'errors']] as const;
      for (const [list, metric] of batches) for (const [id, l, s] of list) sim.point(id, metric, l, t, 50, s);
    }
    const pages = sim.take('notify', 'pager');
    assert.deepEqual(pages.map((d) => d.groupLabels.region), ['us'], `${order}: eu target inhibited`);
    const p = sim.lastUpsert(alertFingerprint('t1', 'lat', 'latency', EU_A))!.packet as { suppressions: { kind: string; reason: string }[] };
    const srcFp = alertFingerprint('t1', 'err', 'errors', EU_A);
    assert.deepEqual(p.suppressions.map((s) => s.reason), [`inhibited by ${srcFp} (err, S1)`]);
  }
});

test('budgets: beyond the receiver cap per hour, notifications are held and ONE summary says how many', () => {
  const sim = new Sim(testConfigYaml().replace('group_by: [region]', 'group_by: [service]'), { receiverBudget: { pagesPerHour: 2, notificationsPerHour: 10 }, budgetSummaryDelayMs: 60_000 });
  impact(sim, T0, 0.9);
  const series: [number, Record<string, string>, number][] = [];
  for (let i = 0; i < 6; i++) series.push([i + 1, { service: `s${i}`, region: 'eu' }, 1]);
  run(sim, T0, T0 + 20 * MIN, series);
  const pages = sim.take('notify', 'pager');
  assert.equal(pages.length, 2);
  const summaries = sim.take('summary');
  assert.equal(summaries.length, 1);
  assert.equal(summaries[0].receiver, 'pager');
  assert.match(summaries[0].text!, /^4 more alerts held: receiver pager is over its budget of 2 pages and 10 notifications per hour; see http:\/\/localhost:9464\/ui\/alerts\?tenant=t1&suppressed=budget$/);
  const held = series.map(([, l]) => sim.lastUpsert(alertFingerprint('t1', 'lat', 'latency', l))!.packet as { suppressions: { kind: string }[] })
    .filter((p) => p.suppressions.some((s) => s.kind === 'budget'));
  assert.equal(held.length, 4);
});

test('budgets: the summary resolves when its hour ends with nothing more held, under the same key', () => {
  const sim = new Sim(testConfigYaml().replace('group_by: [region]', 'group_by: [service]'), { receiverBudget: { pagesPerHour: 2, notificationsPerHour: 10 }, budgetSummaryDelayMs: 60_000 });
  impact(sim, T0, 0.9);
  const series: [number, Record<string, string>, number][] = [];
  for (let i = 0; i < 6; i++) series.push([i + 1, { service: `s${i}`, region: 'eu' }, 1]);
  run(sim, T0, T0 + 20 * MIN, series);
  const [trigger] = sim.take('summary');
  assert.equal(trigger.status, 'firing');
  // Still firing, nothing new held: the summary stays open for its hour, then resolves (once,
  // across a config reload, which starts new meters).
  run(sim, T0 + 20 * MIN, T0 + 30 * MIN, series);
  sim.version = 2;
  run(sim, T0 + 30 * MIN, trigger.at + 59 * MIN, series);
  assert.equal(sim.take('summary').length, 0, 'open during its hour');
  run(sim, trigger.at + 59 * MIN, trigger.at + 62 * MIN, series);
  const [end, ...more] = sim.take('summary');
  assert.equal(more.length, 0);
  assert.equal(end.status, 'resolved');
  assert.equal(end.groupId, trigger.groupId, 'the dedup key of the summary it ends');
  assert.equal(end.receiver, 'pager');
  assert.equal(end.at, trigger.at + 60 * MIN);
  assert.match(end.text!, /^budget summary resolved: its budget hour is over; receiver pager notifications flow again$/);
  assert.deepEqual(end.alerts, []);
});

test('budgets: the summary resolves as soon as every alert it held has resolved; new holds keep it open', () => {
  const policy = { receiverBudget: { pagesPerHour: 2, notificationsPerHour: 10 }, budgetSummaryDelayMs: 60_000 };
  const yaml = testConfigYaml().replace('group_by: [region]', 'group_by: [service]');
  const series: [number, Record<string, string>, number][] = [];
  for (let i = 0; i < 6; i++) series.push([i + 1, { service: `s${i}`, region: 'eu' }, 1]);
  const calm = series.map(([id, l]): [number, Record<string, string>, number] => [id, l, 0]);

  const sim = new Sim(yaml, policy);
  impact(sim, T0, 0.9);
  run(sim, T0, T0 + 20 * MIN, series);
  const [trigger] = sim.take('summary');
  run(sim, T0 + 20 * MIN, T0 + 30 * MIN, calm);
  const [end] = sim.take('summary');
  assert.ok(end, 'a resolve before the hour is over');
  assert.equal(end.status, 'resolved');
  assert.equal(end.groupId, trigger.groupId);
  assert.ok(end.at <= T0 + 25 * MIN && end.at < trigger.at + 60 * MIN, `resolved at +${(end.at - trigger.at) / MIN} min`);
  assert.match(end.text!, /every alert it held has resolved/);

  // Alerts held after the summary went out: the next summary updates it (same key) instead of it resolving.
  // (A tenant budget: every notification counts, whatever its receiver and severity.)
  const busy = new Sim(yaml, { tenantBudget: { pagesPerHour: 2, notificationsPerHour: 2 }, budgetSummaryDelayMs: 60_000 });
  impact(busy, T0, 0.9);
  run(busy, T0, T0 + 20 * MIN, series);
  const [first] = busy.take('summary');
  const later: [number, Record<string, string>, number][] = [[20, { service: 'late', region: 'eu' }, 1]];
  run(busy, T0 + 20 * MIN, T0 + 90 * MIN, [...series, ...later]);
  const after = busy.take('summary');
  assert.deepEqual(after.map((d) => d.status), ['firing'], 'the second summary, no resolve in between');
  assert.equal(after[0].groupId, first.groupId);
  assert.match(after[0].text!, /^1 more alert held/);
});

test('series that no rule selects open no alert; an S0 rule opens log-only alerts', () => {
  const sim = new Sim();
  // `errors` has no rule in this config: the default profile judges it, and its anomalies stay anomalies.
  run(sim, T0, T0 + 20 * MIN, [[7, EU_A, 1]], 'errors');
  assert.deepEqual(sim.effects.flatMap((e) => e.upserts), []);
  assert.deepEqual(sim.dispatches, []);
  assert.equal(sim.stage.openAlerts().size, 0);

  const s0 = new Sim(testConfigYaml(`
  - name: quiet
    selector: errors
    aggregation: { function: avg, window: 1m }
    severity: S0
    owner: team-a
`));
  run(s0, T0, T0 + 20 * MIN, [[7, EU_A, 1]], 'errors');
  const u = s0.lastUpsert(alertFingerprint('t1', 'quiet', 'errors', EU_A));
  assert.equal(u?.state, 'firing');
  assert.equal(u?.severity, 'S0');
  assert.deepEqual(s0.dispatches, [], 'log-only: never notified');
});

test('escalation: a page not acknowledged in time goes to the next receiver; an ack stops it and sends acknowledge', () => {
  const policy = { escalations: [{ receiver: 'pager', afterMs: 15 * MIN, next: 'boss' }] };
  const sim = new Sim(testConfigYaml(), policy);
  impact(sim, T0, 0.9);
  run(sim, T0, T0 + 30 * MIN, [[1, EU_A, 1]]);
  assert.equal(sim.take('notify', 'pager').length, 1);
  const esc = sim.take('escalation');
  assert.equal(esc.length, 1);
  assert.equal(esc[0].receiver, 'boss');
  assert.equal(esc[0].at, T0 + 90_000 + 15 * MIN);
  assert.match(esc[0].text!, /not acknowledged within 15 min on pager; escalated to boss/);

  const acked = new Sim(testConfigYaml(), policy);
  impact(acked, T0, 0.9);
  run(acked, T0, T0 + 5 * MIN, [[1, EU_A, 1]]);
  const fp = alertFingerprint('t1', 'lat', 'latency', EU_A);
  assert.equal(acked.stage.ack('t1', fp, 'ann', acked.now), true);
  acked.collect();
  const ack = acked.take('acknowledge');
  assert.equal(ack.length, 1);
  assert.equal(ack[0].receiver, 'pager');
  assert.equal(ack[0].ackBy, 'ann');
  run(acked, T0 + 5 * MIN, T0 + 30 * MIN, [[1, EU_A, 1]]);
  assert.equal(acked.take('escalation').length, 0);
});

test('ack with TTL: repeats stop while acked and resume after the ack expires', () => {
  const sim = new Sim(testConfigYaml().replace('repeat_interval: 4h', 'repeat_interval: 10m'), { ackTtlMs: 30 * MIN });
  impact(sim, T0, 0.9);
  run(sim, T0, T0 + 5 * MIN, [[1, EU_A, 1]]);
  assert.equal(sim.take('notify', 'pager').length, 1);
  sim.stage.ack('t1', alertFingerprint('t1', 'lat', 'latency', EU_A), 'ann', sim.now);
  run(sim, T0 + 5 * MIN, T0 + 30 * MIN, [[1, EU_A, 1]]);
  assert.equal(sim.take('notify', 'pager').length, 0, 'no repeat while acked');
  run(sim, T0 + 30 * MIN, T0 + 50 * MIN, [[1, EU_A, 1]]);
  assert.ok(sim.take('notify', 'pager').length >= 1, 'repeats resume after the ack expired');
});

test('S3 sends the mitigation hook once per episode; S0 never notifies', () => {
  const yaml = testConfigYaml(`
  - name: quiet
    selector: errors
    aggregation: { function: avg, window: 1m }
    severity: S0
    owner: team-a
`).replace('severity: S2\n', 'severity: S3\n    mitigation_hook: https://hooks.example.com/mitigate\n');
  const sim = new Sim(yaml);
  impact(sim, T0, 0.9);
  run(sim, T0, T0 + 20 * MIN, [[1, EU_A, 1]]);
  run(sim, T0 + 20 * MIN, T0 + 30 * MIN, [[7, EU_A, 1]], 'errors');
  const m = sim.take('mitigation');
  assert.equal(m.length, 1);
  assert.equal(m[0].url, 'https://hooks.example.com/mitigate');
  assert.equal(sim.take('notify')[0].severity, 'S3'); // the route sends S2 to pager; S3 falls to chat
  assert.equal(sim.take().length, 0, 'S0 rule produced no dispatch');
  assert.equal(sim.lastUpsert(alertFingerprint('t1', 'quiet', 'errors', EU_A))?.severity, 'S0');
});

test('restart: a restored firing alert is not announced again, and its resolve still goes out', () => {
  const sim = new Sim();
  impact(sim, T0, 0.9);
  run(sim, T0, T0 + 5 * MIN, [[1, EU_A, 1]]);
  assert.equal(sim.take('notify', 'pager').length, 1);
  const fp = alertFingerprint('t1', 'lat', 'latency', EU_A);
  const u = sim.lastUpsert(fp)!;
  const stored = { ...u, seriesId: u.seriesId ?? null, endsAt: u.endsAt ?? null, updatedAt: u.at, owner: u.owner ?? null, runbook: u.runbook ?? null, packet: JSON.parse(JSON.stringify(u.packet)), configVersion: u.configVersion ?? null };
  const next = new Sim();
  next.now = sim.now;
  next.stage.restore(stored, ['pager']);
  run(next, sim.now, sim.now + 20 * MIN, [[1, EU_A, 1]]);
  assert.equal(next.take('notify', 'pager').length, 0, 'no duplicate page after restart');
  run(next, sim.now + 20 * MIN, sim.now + 40 * MIN, [[1, EU_A, 0]]);
  const res = next.take('notify', 'pager');
  assert.equal(res.length, 1);
  assert.equal(res[0].status, 'resolved');
});

test('determinism: the same input gives the same dispatches and upserts', () => {
  const once = () => {
    const sim = new Sim(testConfigYaml(), { receiverBudget: { pagesPerHour: 1, notificationsPerHour: 5 } });
    impact(sim, T0, 0.9);
    run(sim, T0, T0 + 30 * MIN, [[1, EU_A, 1], [2, EU_B, 1], [3, US_C, 1]]);
    run(sim, T0 + 30 * MIN, T0 + 50 * MIN, [[1, EU_A, 0], [2, EU_B, 1], [3, US_C, 0]]);
    return JSON.stringify([sim.dispatches, sim.effects.flatMap((e) => e.upserts)]);
  };
  assert.equal(once(), once());
});

test('dispatch ids are stable: another stage (a new owner) fed the same points derives the same ids; a changed set, a repeat, a resolve and a new episode get new ones', () => {
  const feed = (sim: Sim) => {
    impact(sim, T0, 0.9);
    run(sim, T0, T0 + 2 * MIN, [[1, EU_A, 1]]);
    run(sim, T0 + 2 * MIN, T0 + 10 * MIN, [[1, EU_A, 1], [2, EU_B, 1]]);
    run(sim, T0 + 10 * MIN, T0 + 4 * 60 * MIN + 20 * MIN, [[1, EU_A, 1], [2, EU_B, 1]]);
    run(sim, T0 + 4 * 60 * MIN + 20 * MIN, T0 + 5 * 60 * MIN, [[1, EU_A, 0], [2, EU_B, 0]]);
    // The next episode pages again: the same group (receiver, labels) starts afresh.
    impact(sim, T0 + 5 * 60 * MIN, 0.9);
    run(sim, T0 + 5 * 60 * MIN, T0 + 5 * 60 * MIN + 15 * MIN, [[1, EU_A, 1]]);
  };
  const a = new Sim();
  const b = new Sim();
  feed(a);
  // The second owner starts later on the wall clock: ids must not depend on it.
  b.now = T0 - 7 * MIN;
  feed(b);
  const da = a.take();
  const db = b.take();
  assert.ok(da.length >= 5, `first page, the joined alert, a repeat, the resolve, the next episode: ${da.map((d) => `${d.kind}/${d.status}`).join(' ')}`);
  assert.deepEqual(db.map((d) => d.id), da.map((d) => d.id), 'same notifications, same ids');
  assert.equal(new Set(da.map((d) => d.id)).size, da.length, `every notification has its own id: ${da.map((d) => d.id).join(' ')}`);
  for (const d of da) assert.match(d.id, new RegExp(`^${d.groupId}:${d.kind}:[0-9a-f]{16}$`));
  const pages = da.filter((d) => d.receiver === 'pager' && d.status === 'firing');
  assert.equal(pages[0].groupId, pages[pages.length - 1].groupId, 'the last episode pages in the group of the first');
});

test('dispatch ids: a group announcing an earlier set again after an alert was muted gets a new id', () => {
  const sim = new Sim();
  impact(sim, T0, 0.9);
  run(sim, T0, T0 + 2 * MIN, [[1, EU_A, 1]]);
  run(sim, T0 + 2 * MIN, T0 + 10 * MIN, [[1, EU_A, 1], [2, EU_B, 1]]);
  // b is silenced while it keeps firing: the group is {a} again, without a resolve.
  sim.stage.setSilences('t1', [{ id: 's1', tenant: 't1', matchers: [{ name: 'service', op: '=', value: 'b' }], startsAt: T0 + 10 * MIN, endsAt: T0 + 60 * MIN, createdBy: 'ann', reason: 'known', recurrence: null, createdAt: T0 }]);
  run(sim, T0 + 10 * MIN, T0 + 20 * MIN, [[1, EU_A, 1], [2, EU_B, 1]]);
  const pages = sim.take('notify', 'pager');
  assert.deepEqual(pages.map((d) => d.alerts.map((a) => a.labels.service).sort().join('+')), ['a', 'a+b', 'a']);
  assert.equal(new Set(pages.map((d) => d.id)).size, 3, `three notifications, three ids: ${pages.map((d) => d.id).join(' ')}`);
});
