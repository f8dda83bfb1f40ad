import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { IngestBatch } from '../ingest/index.ts';
import { openTestService, type TestService } from './testkit.ts';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 5);
let now = T0;
let svc: TestService;

const CONFIG = `
tenant: default
metrics:
  - { name: cpu, type: gauge, unit: percent, help: cpu use, labels: [service] }
receivers:
  - name: chat
    webhook: { url: 'http://127.0.0.1:9/hook' }
route:
  receiver: chat
rules:
  - name: cpu-strict
    selector: cpu
    aggregation: { function: avg, window: 1m }
    detectors: [{ name: threshold, config: { above: 50 } }]
    severity: S1
    owner: team-a
    shadow: true
`;

before(async () => {
  svc = await openTestService({ clock: () => now });
  await svc.engine.putConfig(CONFIG, 'test', null);
});

after(() => svc.close());

const get = (url: string, token: string) => svc.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });

test('GET /api/v1/shadow and /metrics: a shadow rule served by the app, counted, never live', async () => {
  for (let i = 0; i < 40; i++) {
    now = T0 + i * MIN;
    const b = new IngestBatch({ now: () => now });
    b.addSample(b.openSeries('cpu', ['service', 'a'], 2, 'gauge', 1), now, i >= 10 && i < 30 ? 90 : 10);
    await svc.engine.ingest('default', b);
    for (let k = 0; k < 5; k++) await new Promise((r) => setImmediate(r));
  }
  let data: { rules: { rule: string; notifications: number }[]; live: { notifications: number } } | undefined;
  for (let tries = 0; tries < 100; tries++) {
    const r = await get('/api/v1/shadow', svc.tokens.default.read);
    assert.equal(r.statusCode, 200, r.body);
    data = r.json().data;
    if (data!.rules[0]?.notifications > 0) break;
    await new Promise((res) => setTimeout(res, 20));
  }
  assert.deepEqual(data!.rules.map((x) => [x.rule, x.notifications]), [['cpu-strict', 1]]);
  assert.equal(data!.live.notifications, 0);
  assert.deepEqual(await svc.store.alerts.list({ tenant: 'default' }), [], 'nothing live');
  const metrics = (await svc.app.inject({ method: 'GET', url: '/metrics' })).body;
  assert.match(metrics, /tidemark_shadow_notifications_total\{tenant="default",rule="cpu-strict"\} 1/);
  assert.equal((await get('/api/v1/shadow', svc.tokens.default.write)).statusCode, 403);
});
