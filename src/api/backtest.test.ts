import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openTestService, type TestService } from './testkit.ts';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 5);
const END = T0 + 2 * 1440 * MIN;
let svc: TestService;

const config = (above: number) => `
tenant: default
metrics:
  - { name: cpu, type: gauge, unit: percent, help: cpu use, labels: [service] }
receivers:
  - name: chat
    webhook: { url: 'http://127.0.0.1:9/hook' }
route:
  receiver: chat
rules:
  - name: cpu-high
    selector: cpu
    aggregation: { function: avg, window: 1m }
    detectors: [{ name: threshold, config: { above: ${above} } }]
    severity: S1
    owner: team-a
    timing: { for: 5m, group_wait: 30s }
`;

before(async () => {
  svc = await openTestService({ clock: () => END + MIN });
  const ids = await svc.store.series.intern([{ tenant: 'default', metric: 'cpu', labels: { service: 'a' } }, { tenant: 'other', metric: 'cpu', labels: { service: 'a' } }]);
  for (const id of ids) {
    const n = 2 * 1440;
    const t = Float64Array.from({ length: n }, (_, i) => T0 + i * MIN);
    await svc.store.samples.append({ seriesId: new Float64Array(n).fill(id), t, v: t.map((_, i) => (i % 1440 >= 720 && i % 1440 < 750 ? 90 : 10)) });
  }
  await svc.engine.putConfig(config(50), 'test', null);
});

after(() => svc.close());

const post = (body: unknown, token = svc.tokens.default.read) =>
  svc.app.inject({ method: 'POST', url: '/api/v1/backtest', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, payload: JSON.stringify(body) });

test('POST /api/v1/backtest: a read token gets alerts per day through the pipeline', async () => {
  const res = await post({ from: new Date(T0).toISOString(), to: END, warmup: '0' });
  assert.equal(res.statusCode, 200, res.body);
  const d = res.json().data;
  assert.equal(d.configVersion, 1);
  assert.equal(d.totals.alerts, 2);
  assert.deepEqual(d.days.map((x: { alerts: number }) => x.alerts), [1, 1]);
  assert.equal(d.alerts[0].firingAt, T0 + 725 * MIN);
  assert.equal(d.dispatchCount, 4, 'each episode: one firing and one resolved notification');
  // Nothing was written to the live tenant.
  assert.deepEqual(await svc.store.alerts.list({ tenant: 'default' }), []);
});

test('POST /api/v1/backtest: an edited config and a stored version', async () => {
  const draft = await post({ config: config(95), from: T0, to: END, warmup: '0' });
  assert.equal(draft.statusCode, 200, draft.body);
  assert.equal(draft.json().data.totals.alerts, 0);
  assert.equal(draft.json().data.draft, true);
  const v1 = await post({ configVersion: 1, selector: 'cpu{service="a"}', from: T0, to: END, warmup: '0' });
  assert.equal(v1.json().data.totals.alerts, 2);
});

test('POST /api/v1/backtest: bad input is a 4xx naming the field', async () => {
  const cases: [unknown, number, string][] = [
    [{ to: END }, 400, 'from'],
    [{ from: 'yesterday' }, 400, 'from'],
    [{ from: END, to: T0 }, 400, 'to'],
    [{ from: T0 - 60 * 86_400_000, to: END }, 400, 'to'],
    [{ from: T0, selector: 'cpu{' }, 400, 'selector'],
    [{ from: T0, configVersion: 9 }, 400, 'configVersion'],
    [{ from: T0, configVersion: 'x' }, 400, 'configVersion'],
    [{ from: T0, config: 'tenant: default\nrules: [{ name: x }]\n' }, 400, 'config.rules[0].selector'],
    [{ from: T0, config: config(5).replace('tenant: default', 'tenant: other') }, 400, 'config.tenant'],
    [{ from: T0, warmup: 'long' }, 400, 'warmup'],
    [{ from: T0, speed: 'fast' }, 400, 'speed'],
  ];
  for (const [body, status, field] of cases) {
    const res = await post(body);
    assert.equal(res.statusCode, status, `${JSON.stringify(body)}: ${res.body}`);
    assert.equal(res.json().error.field, field, JSON.stringify(body));
  }
  const forbidden = await post({ from: T0 }, svc.tokens.default.write);
  assert.equal(forbidden.statusCode, 403);
});

test('POST /api/v1/backtest: one run at a time per tenant; other tenants are not held up', async () => {
  const [a, b, c] = await Promise.all([post({ from: T0, to: END, warmup: '0' }), post({ from: T0, to: END, warmup: '0' }), post({ from: T0, to: END, warmup: '0' }, svc.tokens.other.read)]);
  assert.deepEqual([a.statusCode, b.statusCode].sort(), [200, 409]);
  assert.equal([a, b].find((r) => r.statusCode === 409)!.json().error.code, 'TM_ERR_CONFLICT');
  assert.equal(c.statusCode, 200, c.body);
  assert.equal(c.json().data.configVersion, null, 'tenant other runs on defaults');
});
