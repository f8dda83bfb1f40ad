// Backtest against live. The live run is the serving wiring: an engine with its alert stage,
// triage packets, the notifier posting to a local HTTP receiver, and the stage's own timers
// (Alerting.pump's setTimeout) firing on virtual time at their exact deadlines. Then a backtest
// over the same recorded period must produce exactly the same alerts: fingerprints, states,
// severities, start and end times, suppressions, and the same pages.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { IngestBatch } from '../ingest/index.ts';
import { startReceiver, type LocalReceiver } from '../notify/testkit.ts';
import { openSqliteStore, type Alert, type Store } from '../store/index.ts';
import { runBacktest, type BacktestResult } from './backtest.ts';
import { createEngine, type Engine } from './index.ts';

const STEP = 5 * 60_000;
const HOUR = 3_600_000;
const T0 = Date.UTC(2025, 6, 7); // Monday 00:00 UTC; day 2 is a Tuesday
const DAY2 = T0 + 24 * HOUR;
const END = DAY2 + 20 * HOUR;
const at = (h: number) => DAY2 + h * HOUR;
const SERIES = [
  { service: 'a', region: 'eu' },
  { service: 'b', region: 'eu' },
  { service: 'c', region: 'us' },
  { service: 'd', region: 'ap' },
  { service: 'e', region: 'sa' },
  { service: 'f', region: 'af' },
];
const POLICY = { tenantBudget: { pagesPerHour: 2, notificationsPerHour: 100 }, budgetSummaryDelayMs: 10 * 60_000 };

function config(url: string, severity = 'S2'): string {
  return `
tenant: default
metrics:
  - { name: latency, type: gauge, unit: s, help: request latency, labels: [service, region] }
  - { name: ok_ratio, type: gauge, unit: ratio, help: share of good requests, range: [0, 1], labels: [region] }
receivers:
  - name: pager
    webhook: { url: '${url}/pager' }
  - name: chat
    webhook: { url: '${url}/chat' }
route:
  receiver: chat
  routes:
    - match: { severity: S2 }
      receiver: pager
rules:
  - name: latency-high
    selector: latency
    aggregation: { function: avg, window: 5m }
    detectors: [{ name: seasonal_baseline }]
    severity: ${severity}
    impact: { limit: { selector: ok_ratio, below: 0.98 } }
    owner: team-a
    runbook: https://runbooks.example.com/latency
    group_by: [region]
    timing: { for: 10m, keep_firing_for: 10m, group_wait: 30s, group_interval: 5m, repeat_interval: 4h }
    maintenance:
      - { weekdays: [tue], at: '14:00', duration: 2h, time_zone: UTC }
`;
}

/** Incidents: 10:00 three series with impact (one silenced), 14:00 in maintenance, 18:00 over the page budget. */
function incident(t: number, i: number): boolean {
  return (t >= at(10) && t < at(10.75) && i <= 2) || (t >= at(14) && t < at(14.75) && i === 0) || (t >= at(18) && t < at(18.75) && i >= 3);
}
const okRatio = (t: number) => ((t >= at(10) && t < at(10.75)) || (t >= at(14) && t < at(14.75)) || (t >= at(18) && t < at(18.75)) ? 0.95 : 0.999);

function value(t: number, i: number): number {
  const phase = ((t % (24 * HOUR)) / (24 * HOUR)) * 2 * Math.PI;
  const base = 100 + 10 * i + 40 * Math.sin(phase) + 2 * Math.sin(t / 7_000_000 + i);
  return incident(t, i) ? base * 3 : base;
}

/**
 * Virtual time for the alert stage's timers (those set from engine/alerting.ts; the HTTP client's
 * stay real): a timer fires when `advance` passes its due time, with the clock at that due time
 * (node's MockTimers runs them all at the target time instead).
 */
class VirtualTime {
  now = T0;
  #seq = 0;
  #timers = new Map<number, { at: number; fn: () => void }>();
  #real = { setTimeout: globalThis.setTimeout, clearTimeout: globalThis.clearTimeout };
  install(): void {
    const self = this;
    const real = this.#real;
    globalThis.setTimeout = ((fn: (...a: unknown[]) => void, ms = 0, ...rest: unknown[]) => {
      if (!new Error().stack?.includes('/engine/alerting.ts')) return real.setTimeout(() => fn(...rest), ms);
      const id = ++self.#seq;
      self.#timers.set(id, { at: self.now + Math.max(0, Number(ms) || 0), fn });
      return { id, unref() { return this; }, ref() { return this; }, hasRef: () => false, [Symbol.toPrimitive]: () => id };
    }) as unknown as typeof setTimeout;
    globalThis.clearTimeout = ((h: { id?: number } | undefined) => {
      if (h && typeof h === 'object' && typeof h.id === 'number') self.#timers.delete(h.id);
      else real.clearTimeout(h as Parameters<typeof clearTimeout>[0]);
    }) as typeof clearTimeout;
  }
  uninstall(): void {
    globalThis.setTimeout = this.#real.setTimeout;
    globalThis.clearTimeout = this.#real.clearTimeout;
  }
  advance(to: number): void {
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.#timers) if (e[1].at <= to && (!next || e[1].at < next[1].at || (e[1].at === next[1].at && e[0] < next[0]))) next = e;
      if (!next) break;
      this.#timers.delete(next[0]);
      this.now = Math.max(this.now, next[1].at);
      next[1].fn();
    }
    this.now = Math.max(this.now, to);
  }
}

let dir: string;
let store: Store;
let engine: Engine;
let rx: LocalReceiver;
const vt = new VirtualTime();
const delivered: { id: string; page: boolean; kind: string; status: string; at: number }[] = [];
let liveAlerts: Alert[] = [];
let liveNotifications = 0;
let liveRequests = 0;
let result: BacktestResult;

before(async () => {
  rx = await startReceiver({ status: 200, body: 'ok' });
  dir = mkdtempSync(join(tmpdir(), 'tidemark-backtest-'));
  store = await openSqliteStore({ dataDir: dir, now: () => vt.now });
  vt.install();
  try {
    engine = await createEngine({
      store, clock: () => vt.now, checkpointIntervalMs: 0,
      alerting: { policy: POLICY, onDelivery: (o) => delivered.push({ id: o.dispatch.id, page: o.dispatch.page, kind: o.dispatch.kind, status: o.dispatch.status, at: o.dispatch.at }) },
    });
    await engine.putConfig(config(rx.url), 'test', null);
    // An operator silenced region us for the morning incident.
    await store.silences.put({ tenant: 'default', matchers: [{ name: 'region', op: '=', value: 'us' }], startsAt: at(9.5), endsAt: at(11.5), createdBy: 'ops', reason: 'us failover drill' });
    await engine.alerting!.reloadSilences('default');
    for (let t = T0; t < END; t += STEP) {
      vt.advance(t);
      const b = new IngestBatch({ now: () => vt.now, maxFutureMs: 0 });
      b.addSample(b.openSeries('ok_ratio', ['region', 'eu'], 2, 'gauge', 1), t, okRatio(t));
      SERIES.forEach((s, i) => b.addSample(b.openSeries('latency', ['service', s.service, 'region', s.region], 4, 'gauge', 1), t, value(t, i)));
      await engine.ingest('default', b);
      await new Promise((r) => setImmediate(r)); // the engine's kick: a pump after the batch
      await engine.alerting!.settled();
    }
    vt.advance(END - 1);
    await engine.alerting!.settled();
    await engine.close();
  } finally {
    vt.uninstall();
  }
  liveAlerts = await store.alerts.list({ tenant: 'default' });
  liveNotifications = (await store.notifications.list({ tenant: 'default', limit: 100_000 })).length;
  liveRequests = rx.received.length;
  result = await runBacktest({ source: store, tenant: 'default', matchers: [], from: T0, to: END, warmupMs: 0, policy: POLICY });
  console.log(`# live: ${liveAlerts.length} alerts, ${delivered.length} deliveries; backtest: ${result.alerts.length} episodes, ${result.totals.pages} pages, ${result.totals.notifications} notifications in ${result.elapsedMs} ms`);
});

after(async () => {
  await store.close();
  await rx.close();
  rmSync(dir, { recursive: true, force: true });
});

const suppressionsOf = (a: Alert) => (a.packet as { suppressions: unknown[] }).suppressions;

test('the live run is not trivial: pages, a silence, maintenance and a budget all acted', () => {
  assert.ok(liveAlerts.length >= 5, `${liveAlerts.length} alerts`);
  const kinds = new Set(liveAlerts.flatMap((a) => (suppressionsOf(a) as { kind: string }[]).map((s) => s.kind)));
  for (const k of ['silence', 'maintenance', 'budget']) assert.ok(kinds.has(k), `a ${k} suppression in ${[...kinds].join(', ')}`);
  assert.ok(delivered.some((d) => d.page && d.kind === 'notify'), 'something paged');
  assert.ok(delivered.some((d) => d.kind === 'summary'), 'a budget summary went out');
});

test('backtest: exactly the alerts the live pipeline produced over the period', () => {
  // The latest episode of each fingerprint is what the store keeps.
  const latest = new Map<string, (typeof result.alerts)[number]>();
  for (const a of result.alerts) if (!latest.has(a.fingerprint) || latest.get(a.fingerprint)!.startsAt <= a.startsAt) latest.set(a.fingerprint, a);
  assert.deepEqual([...latest.keys()].sort(), liveAlerts.map((a) => a.fingerprint).sort());
  for (const live of liveAlerts) {
    const b = latest.get(live.fingerprint)!;
    assert.deepEqual(
      { state: b.state, severity: b.severity, startsAt: b.startsAt, endsAt: b.endsAt, score: b.score, reasons: b.reasons, configVersion: b.configVersion, labels: b.labels, suppressions: b.suppressions, seriesId: b.seriesId },
      { state: live.state, severity: live.severity, startsAt: live.startsAt, endsAt: live.endsAt, score: live.score, reasons: live.reasons, configVersion: live.configVersion, labels: live.labels, suppressions: suppressionsOf(live), seriesId: live.seriesId },
      live.fingerprint,
    );
  }
});

test('backtest: the same notifications and pages, with the same ids and times', () => {
  const sent = (xs: readonly { id: string; kind: string; at: number }[]) => xs.filter((d) => d.kind !== 'acknowledge').map((d) => `${d.at} ${d.id}`).sort();
  // The live notifier delivered to two webhooks per dispatch at most once each: one outcome per dispatch here.
  assert.deepEqual(sent(result.dispatches), sent([...new Map(delivered.map((d) => [d.id, d])).values()]));
  const livePages = new Set(delivered.filter((d) => d.page && d.status === 'firing' && d.kind !== 'summary').map((d) => d.id));
  assert.equal(result.totals.pages, livePages.size);
  assert.ok(result.totals.pages > 0);
  const day2 = result.days.find((d) => d.day === DAY2)!;
  assert.equal(day2.pages, livePages.size, 'every page was on day 2');
  assert.ok(day2.alerts >= 3 && day2.bySeverity.S2 + day2.bySeverity.S1 === day2.alerts, JSON.stringify(day2));
});

test('backtest: reads the source store only', async () => {
  assert.deepEqual((await store.alerts.list({ tenant: 'default' })).map((a) => [a.fingerprint, a.updatedAt]), liveAlerts.map((a) => [a.fingerprint, a.updatedAt]));
  assert.equal((await store.notifications.list({ tenant: 'default', limit: 100_000 })).length, liveNotifications);
  assert.equal(rx.received.length, liveRequests, 'nothing more reached the receiver');
});

test('backtest: an edited config, not saved, changes the answer (S1: notifications, no pages)', async () => {
  const r = await runBacktest({ source: store, tenant: 'default', config: { kind: 'yaml', yaml: config(rx.url, 'S1') }, matchers: [], from: T0, to: END, warmupMs: 0, policy: POLICY });
  assert.equal(r.draft, true);
  assert.equal(r.configVersion, 2);
  assert.equal(r.totals.pages, 0);
  assert.ok(r.totals.notifications > 0);
  assert.equal((await store.config.latest('default'))!.version, 1, 'the draft was not stored');
});

test('backtest: a selector and a warm-up narrow what is judged', async () => {
  const r = await runBacktest({ source: store, tenant: 'default', matchers: [{ name: 'region', op: '=', value: 'eu' }], from: DAY2, to: END, warmupMs: 24 * HOUR, policy: POLICY });
  assert.equal(r.series, 3); // ok_ratio and latency of a and b
  assert.equal(r.warmupPoints, 3 * 288);
  assert.ok(r.alerts.every((a) => a.labels.region === 'eu'));
  assert.ok(r.alerts.length > 0);
});

test('backtest: bad input names the field', async () => {
  const cases: [Parameters<typeof runBacktest>[0], string][] = [
    [{ source: store, tenant: 'default', matchers: [], from: END, to: T0 }, 'to'],
    [{ source: store, tenant: 'default', matchers: [], from: T0, to: T0 + 40 * 86_400_000 }, 'to'],
    [{ source: store, tenant: 'default', config: { kind: 'version', version: 7 }, matchers: [], from: T0, to: END }, 'configVersion'],
    [{ source: store, tenant: 'default', config: { kind: 'yaml', yaml: 'tenant: default\nrules: [{ name: x }]\n' }, matchers: [], from: T0, to: END }, 'config.rules[0].selector'],
    [{ source: store, tenant: 'default', config: { kind: 'yaml', yaml: 'tenant: other\n' }, matchers: [], from: T0, to: END }, 'config.tenant'],
    [{ source: store, tenant: 'default', matchers: [], from: T0, to: END, maxPoints: 100 }, 'selector'],
  ];
  for (const [o, field] of cases) await assert.rejects(runBacktest(o), (err: { path?: string }) => (assert.equal(err.path, field), true), field);
});
