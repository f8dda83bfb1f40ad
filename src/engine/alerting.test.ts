// End to end through the engine: seasonal series judged by the real detectors, the alert stage,
// the notifier and a local HTTP receiver standing in for PagerDuty and a webhook; the store keeps
// alerts and the notification log. The clock is simulated (5-minute points over two days).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { IngestBatch } from '../ingest/index.ts';
import { startReceiver, type LocalReceiver } from '../notify/testkit.ts';
import { openSqliteStore, type Store } from '../store/index.ts';
import { createEngine, type Engine } from './index.ts';

const STEP = 5 * 60_000;
const HOUR = 3_600_000;
const T0 = Date.UTC(2025, 6, 7); // Monday 00:00 UTC; day 2 is a Tuesday
const DAY2 = T0 + 24 * HOUR;
const SERIES = [
  { service: 'a', region: 'eu' },
  { service: 'b', region: 'eu' },
  { service: 'c', region: 'us' },
  { service: 'd', region: 'ap' },
  { service: 'e', region: 'sa' },
  { service: 'f', region: 'af' },
];

let now = T0;
let dir: string;
let store: Store;
let engine: Engine;
let rx: LocalReceiver;

function config(url: string): string {
  return `
tenant: default
metrics:
  - { name: latency, type: gauge, unit: s, help: request latency, labels: [service, region] }
  - { name: ok_ratio, type: gauge, unit: ratio, help: share of good requests, range: [0, 1], labels: [region] }
receivers:
  - name: pager
    pagerduty: { routing_key: R0123456789ABCDEF0123456789ABCDE }
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
    severity: S2
    impact: { limit: { selector: ok_ratio, below: 0.98 } }
    owner: team-a
    runbook: https://runbooks.example.com/latency
    group_by: [region]
    timing: { for: 10m, keep_firing_for: 10m, group_wait: 30s, group_interval: 5m, repeat_interval: 4h }
    maintenance:
      - { weekdays: [tue], at: '14:00', duration: 2h, time_zone: UTC }
`;
}

/**
 * Daily wave plus deterministic wobble; `incident(t, i)` multiplies series i. Incidents last 45
 * minutes: shorter than the seasonal baseline's re-level run (12 points), so recovery reads as normal.
 */
function value(t: number, i: number, incident: (t: number, i: number) => boolean): number {
  const phase = ((t % (24 * HOUR)) / (24 * HOUR)) * 2 * Math.PI;
  const base = 100 + 10 * i + 40 * Math.sin(phase) + 2 * Math.sin(t / 7_000_000 + i);
  return incident(t, i) ? base * 3 : base;
}

async function feed(from: number, to: number, incident: (t: number, i: number) => boolean, okRatio: (t: number) => number): Promise<void> {
  for (let t = from; t < to; t += STEP) {
    now = t + 1000;
    const b = new IngestBatch({ now: () => now, maxFutureMs: 10 * 60_000 });
    const ok = b.openSeries('ok_ratio', ['region', 'eu'], 2, 'gauge', 1);
    b.addSample(ok, t, okRatio(t));
    SERIES.forEach((s, i) => b.addSample(b.openSeries('latency', ['service', s.service, 'region', s.region], 4, 'gauge', 1), t, value(t, i, incident)));
    await engine.ingest('default', b);
    await new Promise((r) => setImmediate(r));
    engine.alerting!.pump();
  }
  await engine.alerting!.settled();
}

const at = (h: number) => DAY2 + h * HOUR;
const none = () => false;
const healthy = () => 0.999;
type Pd = { event_action: string; dedup_key: string; payload?: { severity: string; custom_details: { group_labels: Record<string, string> } } };
const pd = (): Pd[] => rx.received.filter((r) => r.url === '/v2/enqueue').map((r) => r.body as Pd);

before(async () => {
  rx = await startReceiver({ status: 202, body: '{"status":"success"}' });
  dir = mkdtempSync(join(tmpdir(), 'tidemark-alerting-'));
  store = await openSqliteStore({ dataDir: dir, now: () => now });
  engine = await createEngine({
    store, clock: () => now, checkpointIntervalMs: 0,
    alerting: { policy: { tenantBudget: { pagesPerHour: 2, notificationsPerHour: 100 }, budgetSummaryDelayMs: 10 * 60_000 }, notify: { pagerdutyUrl: `${rx.url}/v2/enqueue` } },
  });
  await engine.putConfig(config(rx.url), 'test', null);
  await feed(T0, DAY2 + 9 * HOUR, none, healthy); // a day to learn, then a quiet morning
});

after(async () => {
  await engine.close();
  await store.close();
  await rx.close();
  rmSync(dir, { recursive: true, force: true });
});

test('e2e: quiet seasonal series page nobody', () => {
  assert.deepEqual(pd(), []);
  assert.equal(rx.received.length, 0);
});

test('e2e: an incident pages exactly once per group with the right severity, and resolves when it recovers', async () => {
  const inc = (t: number, i: number) => t >= at(10) && t < at(10.75) && i <= 2;
  const ok = (t: number) => (t >= at(10) && t < at(10.75) ? 0.95 : 0.999);
  await feed(at(9), at(10.5), inc, ok);
  const triggers = pd().filter((e) => e.event_action === 'trigger');
  assert.equal(triggers.length, 2, JSON.stringify(triggers.map((e) => e.payload?.custom_details.group_labels)));
  assert.deepEqual(triggers.map((e) => e.payload!.custom_details.group_labels.region).sort(), ['eu', 'us']);
  assert.deepEqual(triggers.map((e) => e.payload!.severity), ['error', 'error'], 'S2 maps to PagerDuty error');
  assert.equal(new Set(triggers.map((e) => e.dedup_key)).size, 2);
  const firing = await store.alerts.list({ tenant: 'default', states: ['firing'] });
  assert.equal(firing.length, 3);
  assert.ok(firing.every((a) => a.severity === 'S2'));

  await feed(at(10.5), at(12), inc, ok);
  assert.equal(pd().filter((e) => e.event_action === 'trigger').length, 2, 'still one page per group');
  const resolves = pd().filter((e) => e.event_action === 'resolve');
  assert.deepEqual(resolves.map((e) => e.dedup_key).sort(), triggers.map((e) => e.dedup_key).sort());
  assert.equal((await store.alerts.list({ tenant: 'default', states: ['firing', 'pending'] })).length, 0);
  // Every delivery is in the notification log.
  const log = await store.notifications.list({ tenant: 'default', channel: 'pager/pagerduty' });
  assert.equal(log.filter((n) => n.status === 'sent' && n.alertState === 'firing').length, 3);
  assert.equal(log.filter((n) => n.status === 'sent' && n.alertState === 'resolved').length, 3);
});

test('e2e: no page during the recurring maintenance window; the alert says why', async () => {
  const before = pd().length;
  const inc = (t: number, i: number) => t >= at(14) && t < at(14.75) && i === 0;
  await feed(at(12), at(16), inc, (t) => (t >= at(14) && t < at(14.75) ? 0.95 : 0.999));
  assert.equal(pd().length, before, 'nothing sent to PagerDuty');
  const [a] = (await store.alerts.list({ tenant: 'default' })).filter((x) => (x.packet as { suppressions: { kind: string }[] }).suppressions.some((s) => s.kind === 'maintenance'));
  assert.ok(a, 'an alert records the maintenance suppression');
  assert.match(JSON.stringify(a.packet), /recurring maintenance window tue 14:00 UTC/);
});

test('e2e: beyond the tenant page budget, one summary instead of more pages', async () => {
  const before = pd().length;
  const inc = (t: number, i: number) => t >= at(18) && t < at(18.75) && i >= 3;
  await feed(at(16), at(19), inc, (t) => (t >= at(18) && t < at(18.75) ? 0.95 : 0.999));
  const events = pd().slice(before);
  const triggers = events.filter((e) => e.event_action === 'trigger' && e.payload!.custom_details.group_labels.region);
  assert.equal(triggers.length, 2, 'two pages fit the budget of 2 per hour');
  const summaries = events.filter((e) => e.event_action === 'trigger' && !e.payload!.custom_details.group_labels.region);
  assert.equal(summaries.length, 1);
  assert.match(JSON.stringify(summaries[0]), /1 more alert held: tenant default is over its budget of 2 pages/);
  // The held alert recovers: the summary's incident is resolved under its own dedup key, once.
  await feed(at(19), at(20), none, healthy);
  const ends = pd().slice(before).filter((e) => e.event_action === 'resolve' && e.dedup_key === summaries[0].dedup_key);
  assert.equal(ends.length, 1, JSON.stringify(pd().slice(before).map((e) => [e.event_action, e.dedup_key])));
});
