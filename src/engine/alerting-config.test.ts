// The tenant config's `alerting:` section reaches the alert stage: a budget set in YAML (and
// nowhere else) holds notifications back and sends exactly one summary; a config without the
// section keeps the server's policy; a reload with a new budget takes effect. Real engine, real
// detectors, the sqlite store and a local webhook receiver; the clock is simulated.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { DEFAULT_ALERT_POLICY } from '../alert/index.ts';
import { IngestBatch } from '../ingest/index.ts';
import { startReceiver, type LocalReceiver } from '../notify/testkit.ts';
import { openSqliteStore, type Store } from '../store/index.ts';
import { createEngine, type Engine } from './index.ts';

const MIN = 60_000;
const T0 = Date.UTC(2025, 6, 7, 8);
const SERVICES = ['a', 'b', 'c', 'd', 'e'];

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

function yaml(url: string, alerting: string): string {
  return `
tenant: default
metrics:
  - { name: latency, type: gauge, unit: s, labels: [service] }
receivers:
  - name: chat
    webhook: { url: '${url}/chat' }
rules:
  - name: latency-high
    selector: latency
    aggregation: { function: avg, window: 1m }
    detectors: [{ name: threshold, config: { above: 50 } }]
    severity: S1
    owner: team-a
    receiver: chat
    group_by: [service]
    timing: { group_wait: 0s, group_interval: 1m, repeat_interval: 4h }
${alerting}`;
}

const BUDGET_2 = `alerting:
  budgets:
    tenant: { notifications_per_hour: 2 }
    summary_delay: 2m
`;

interface Rig {
  engine: Engine;
  store: Store;
  rx: LocalReceiver;
  now: { t: number };
}

async function rig(): Promise<Rig> {
  const rx = await startReceiver({ status: 200, body: 'ok' });
  const dir = mkdtempSync(join(tmpdir(), 'tidemark-alerting-config-'));
  const now = { t: T0 };
  const store = await openSqliteStore({ dataDir: dir, now: () => now.t });
  const engine = await createEngine({ store, clock: () => now.t, checkpointIntervalMs: 0 });
  cleanups.push(async () => {
    await engine.close();
    await store.close();
    await rx.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { engine, store, rx, now };
}

/** One point per minute per service from `from` to `to`; `hot(service)` spikes it to 100. */
async function feed(r: Rig, from: number, to: number, hot: (service: string) => boolean): Promise<void> {
  for (let t = from; t < to; t += MIN) {
    r.now.t = t + 1000;
    const b = new IngestBatch({ now: () => r.now.t, maxFutureMs: 10 * MIN });
    for (const s of SERVICES) b.addSample(b.openSeries('latency', ['service', s], 2, 'gauge', 1), t, hot(s) ? 100 : 10);
    await r.engine.ingest('default', b);
    await new Promise((res) => setImmediate(res));
    r.engine.alerting!.pump();
  }
  await r.engine.alerting!.settled();
}

type Body = { kind: string; text: string | null; groupLabels: Record<string, string> };
const bodies = (rx: LocalReceiver): Body[] => rx.received.filter((x) => x.url === '/chat').map((x) => x.body as Body);

test('a tenant budget set in YAML holds the rest and sends exactly one summary', async () => {
  const r = await rig();
  await r.engine.putConfig(yaml(r.rx.url, BUDGET_2), 'test', null);
  await feed(r, T0, T0 + 5 * MIN, () => false);
  assert.equal(bodies(r.rx).length, 0, 'quiet series notify nobody');

  await feed(r, T0 + 5 * MIN, T0 + 20 * MIN, () => true);
  const got = bodies(r.rx);
  const notes = got.filter((b) => b.kind === 'notify');
  const summaries = got.filter((b) => b.kind === 'summary');
  assert.equal(notes.length, 2, `the YAML budget allows 2 notifications per hour: ${JSON.stringify(got.map((b) => b.groupLabels))}`);
  assert.equal(summaries.length, 1, 'exactly one summary for the held ones');
  assert.match(summaries[0].text ?? '', /^3 more alerts held: tenant default is over its budget of \d+ pages and 2 notifications per hour/);
  assert.equal(r.engine.alerting!.policyFor('default').tenantBudget.notificationsPerHour, 2);
  // Keys the file did not set keep the defaults.
  assert.equal(r.engine.alerting!.policyFor('default').tenantBudget.pagesPerHour, DEFAULT_ALERT_POLICY.tenantBudget.pagesPerHour);
  assert.equal(r.engine.alerting!.policyFor('default').budgetSummaryDelayMs, 2 * MIN);
  const held = (await r.store.alerts.list({ tenant: 'default', states: ['firing'] }))
    .filter((a) => (a.packet as { suppressions: { kind: string }[] }).suppressions.some((s) => s.kind === 'budget'));
  assert.equal(held.length, 3, 'each held alert records the budget suppression');
});

test('without an alerting section the same incident notifies every group, with no summary', async () => {
  const r = await rig();
  await r.engine.putConfig(yaml(r.rx.url, ''), 'test', null);
  await feed(r, T0, T0 + 20 * MIN, (s) => s !== 'x');
  const got = bodies(r.rx);
  assert.equal(got.filter((b) => b.kind === 'notify').length, SERVICES.length);
  assert.equal(got.filter((b) => b.kind === 'summary').length, 0);
  assert.equal(r.engine.alerting!.policyFor('default'), r.engine.alerting!.policy, 'the server policy, untouched');
});

test('a reloaded config with a new budget applies from its version on', async () => {
  const r = await rig();
  await r.engine.putConfig(yaml(r.rx.url, ''), 'test', null);
  await feed(r, T0, T0 + 3 * MIN, () => false);
  // As SIGHUP does: the same file, now with a budget, stored as the next version.
  const v = await r.engine.putConfig(yaml(r.rx.url, BUDGET_2), 'test', 'reload');
  assert.equal(v.version.version, 2);
  await feed(r, T0 + 3 * MIN, T0 + 20 * MIN, () => true);
  const got = bodies(r.rx);
  assert.equal(got.filter((b) => b.kind === 'notify').length, 2);
  assert.equal(got.filter((b) => b.kind === 'summary').length, 1);
});
