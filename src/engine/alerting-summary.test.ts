// A budget summary open at a restart: it is stored as an alert row, restored by the next
// process, and still resolved there (under the same PagerDuty dedup key) once the alert it held
// recovers. Real detectors, store and notifier; a local receiver stands in for PagerDuty.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { BUDGET_SUMMARY_METRIC } from '../alert/index.ts';
import { IngestBatch } from '../ingest/index.ts';
import { startReceiver } from '../notify/testkit.ts';
import { openSqliteStore, type Store } from '../store/index.ts';
import { createEngine, type Engine } from './index.ts';

const STEP = 5 * 60_000;
const HOUR = 3_600_000;
const T0 = Date.UTC(2025, 6, 7);
const DAY2 = T0 + 24 * HOUR;
const at = (h: number) => DAY2 + h * HOUR;
const SERIES = ['a', 'b', 'c', 'd'];

const CONFIG = (url: string) => `
tenant: default
metrics:
  - { name: latency, type: gauge, unit: s, labels: [service] }
receivers:
  - name: pager
    pagerduty: { routing_key: R0123456789ABCDEF0123456789ABCDE }
route:
  receiver: pager
rules:
  - name: latency-high
    selector: latency
    aggregation: { function: avg, window: 5m }
    detectors: [{ name: seasonal_baseline }]
    severity: S2
    impact: { limit: { selector: latency, above: 0 } }
    owner: team-a
    runbook: https://runbooks.example.com/latency
    group_by: [service]
    timing: { group_wait: 30s, group_interval: 5m, repeat_interval: 4h }
`;

let now = T0;
const dir = mkdtempSync(join(tmpdir(), 'tidemark-summary-'));
const rx = await startReceiver({ status: 202, body: '{"status":"success"}' });
after(async () => {
  await rx.close();
  rmSync(dir, { recursive: true, force: true });
});

async function open(): Promise<{ store: Store; engine: Engine }> {
  const store = await openSqliteStore({ dataDir: dir, now: () => now });
  const engine = await createEngine({
    store, clock: () => now, checkpointIntervalMs: 0,
    alerting: { policy: { tenantBudget: { pagesPerHour: 2, notificationsPerHour: 100 }, budgetSummaryDelayMs: 10 * 60_000 }, notify: { pagerdutyUrl: `${rx.url}/v2/enqueue` } },
  });
  return { store, engine };
}

async function feed(engine: Engine, from: number, to: number, sick: (t: number, i: number) => boolean): Promise<void> {
  for (let t = from; t < to; t += STEP) {
    now = t + 1000;
    const b = new IngestBatch({ now: () => now, maxFutureMs: 10 * 60_000 });
    SERIES.forEach((s, i) => {
      const base = 100 + 10 * i + 40 * Math.sin(((t % (24 * HOUR)) / (24 * HOUR)) * 2 * Math.PI);
      b.addSample(b.openSeries('latency', ['service', s], 2, 'gauge', 1), t, sick(t, i) ? base * 3 : base);
    });
    await engine.ingest('default', b);
    await new Promise((r) => setImmediate(r));
    engine.alerting!.pump();
  }
  await engine.alerting!.settled();
}

type Pd = { event_action: string; dedup_key: string; payload?: { summary: string; custom_details: { group_labels: Record<string, string> } } };
const pd = (): Pd[] => rx.received.filter((r) => r.url === '/v2/enqueue').map((r) => r.body as Pd);

test('an open budget summary survives a restart and is resolved after it', async () => {
  let { store, engine } = await open();
  await engine.putConfig(CONFIG(rx.url), 'test', null);
  await feed(engine, T0, at(9), () => false);
  // Three services sick at once, two pages per hour: one is held and summarised.
  const sick = (t: number, i: number) => t >= at(10) && (i <= 1 ? t < at(10.75) : i === 2 && t < at(12));
  await feed(engine, at(9), at(10.5), sick);
  const summary = pd().find((e) => e.event_action === 'trigger' && !e.payload!.custom_details.group_labels.service);
  assert.ok(summary, JSON.stringify(pd().map((e) => [e.event_action, e.payload?.summary])));
  const [row] = await store.alerts.list({ tenant: 'default', matchers: [{ name: '__name__', op: '=', value: BUDGET_SUMMARY_METRIC }] });
  assert.equal(row?.state, 'firing', 'the open summary is stored');

  await engine.close();
  await store.close();
  ({ store, engine } = await open());
  try {
    // The held alert recovers after the restart (well inside the summary's hour).
    await feed(engine, at(10.5), at(12.5), sick);
    const ends = pd().filter((e) => e.event_action === 'resolve' && e.dedup_key === summary.dedup_key);
    assert.equal(ends.length, 1, JSON.stringify(pd().map((e) => [e.event_action, e.dedup_key, e.payload?.summary])));
    const [after] = await store.alerts.list({ tenant: 'default', matchers: [{ name: '__name__', op: '=', value: BUDGET_SUMMARY_METRIC }] });
    assert.equal(after.state, 'resolved');
  } finally {
    await engine.close();
    await store.close();
  }
});
