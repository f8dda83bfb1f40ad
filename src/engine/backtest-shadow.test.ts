// Shadow mode end to end: a live rule and a stricter shadow rule over the same series. Live keeps
// its rule and sends only its own notifications; the shadow rule's would-have-sent volume is
// counted beside it, never sent, and changes nothing live.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { loadConfig } from '../config/index.ts';
import { IngestBatch } from '../ingest/index.ts';
import { startReceiver, type LocalReceiver } from '../notify/testkit.ts';
import { openSqliteStore, type Store } from '../store/index.ts';
import { ShadowRunner } from './backtest-shadow.ts';
import { createEngine, type Engine } from './index.ts';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 5);
let now = T0;
let store: Store;
let engine: Engine;
let runner: ShadowRunner;
let rx: LocalReceiver;

const config = (url: string) => `
tenant: default
metrics:
  - { name: cpu, type: gauge, unit: percent, help: cpu use, labels: [service] }
receivers:
  - name: chat
    webhook: { url: '${url}/chat' }
route:
  receiver: chat
rules:
  - name: cpu-live
    selector: cpu
    aggregation: { function: avg, window: 1m }
    detectors: [{ name: threshold, config: { above: 80 } }]
    severity: S1
    owner: team-a
    timing: { group_wait: 30s }
  - name: cpu-strict
    selector: cpu
    aggregation: { function: avg, window: 1m }
    detectors: [{ name: threshold, config: { above: 50 } }]
    severity: S1
    owner: team-a
    timing: { group_wait: 30s }
    shadow: true
`;

/** 60 for half an hour (only the shadow rule minds), then 90 for half an hour (both do). */
const value = (i: number) => (i >= 60 && i < 90 ? 60 : i >= 120 && i < 150 ? 90 : 10);

before(async () => {
  rx = await startReceiver({ status: 200, body: 'ok' });
  store = await openSqliteStore({ path: ':memory:', now: () => now });
  engine = await createEngine({ store, clock: () => now, checkpointIntervalMs: 0 });
  runner = new ShadowRunner(engine);
  await engine.putConfig(config(rx.url), 'test', null);
  for (let i = 0; i < 200; i++) {
    now = T0 + i * MIN;
    const b = new IngestBatch({ now: () => now });
    b.addSample(b.openSeries('cpu', ['service', 'a'], 2, 'gauge', 1), now, value(i));
    await engine.ingest('default', b);
    await runner.settled();
    await new Promise((r) => setImmediate(r));
    engine.alerting!.pump();
    await engine.alerting!.settled();
  }
});

after(async () => {
  await runner.close();
  await engine.close();
  await store.close();
  await rx.close();
});

test('shadow: the rule runs beside live, counted and never sent', async () => {
  const r = await runner.report('default');
  assert.equal(r.rules.length, 1);
  const strict = r.rules[0];
  assert.equal(strict.rule, 'cpu-strict');
  // Two episodes (60s and 90s); live saw one (90s).
  assert.equal(strict.alerts, 1, 'one series');
  assert.equal(strict.bySeverity.S1, 2, 'two episodes');
  assert.equal(strict.notifications, 2);
  assert.equal(strict.wouldPage, 0);
  assert.deepEqual(r.live, { pages: 0, notifications: 1 });
  // Live: its own rule only, and only its notification reached the receiver.
  const live = await store.alerts.list({ tenant: 'default' });
  assert.deepEqual(live.map((a) => a.labels.rule), ['cpu-live']);
  const firing = rx.received.filter((x) => JSON.stringify(x.body).includes('"status":"firing"'));
  assert.equal(firing.length, 1);
  assert.ok(!JSON.stringify(rx.received.map((x) => x.body)).includes('cpu-strict'), 'nothing of the shadow rule was sent');
  assert.equal(engine.anomalies('default').every((a) => a.rule === 'cpu-live'), true);
});

test('shadow: a config without shadow rules reports none', async () => {
  assert.deepEqual(ShadowRunner.shadowRules(engine.config('default').config), ['cpu-strict']);
  assert.deepEqual(ShadowRunner.shadowRules(undefined), []);
});

test('shadow: the config says true or false', () => {
  const { errors } = loadConfig(config('http://127.0.0.1:9').replace('shadow: true', 'shadow: yes'), 'c.yaml');
  assert.deepEqual(errors.map((e) => `${e.path}: ${e.message}`), ['rules[1].shadow: expected true or false, got "yes"']);
});
