// Triage packets end to end: synthetic incidents with planted causes go through the engine
// (real detectors, the alert stage, the notifier) and the packet is read back through
// GET /api/v1/alerts/{id}/packet. Three incidents, each in its own tenant, on a simulated clock
// (1-minute points): a bad deploy in one region and app version (a ratio, drilled through the
// rule's SLO counters), an upstream outage in one device class (an additive aggregate drilled
// into its children), and a seasonal surge that is no incident (the packet must stay humble).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { addToken, openTestService, type TestService } from '../api/testkit.ts';
import { CHANGE_CONFIDENCE_FLOOR, type TriagePacket } from '../explain/index.ts';
import { prng, gaussian } from '../explain/testdata.ts';
import { IngestBatch } from '../ingest/index.ts';
import { startReceiver, type LocalReceiver } from '../notify/testkit.ts';
import type { ChangeInput } from '../store/index.ts';
import { windowIncrease } from './triage.ts';

const MIN = 60_000;
const T0 = Date.UTC(2025, 6, 8, 6, 0);
const ONSET = T0 + 180 * MIN; // three hours to learn
const END = ONSET + 6 * MIN;

let now = T0;
let svc: TestService;
let rx: LocalReceiver;
const tokens: Record<string, string> = {};

interface Point {
  readonly metric: string;
  readonly labels: readonly string[];
  readonly value: number;
  readonly kind: 'gauge' | 'counter';
}

interface Scenario {
  readonly tenant: string;
  readonly config: (url: string) => string;
  /** Points of one step; `t` is the sample time. */
  readonly points: (t: number) => Point[];
  readonly changes: readonly Omit<ChangeInput, 'tenant'>[];
}

async function feed(s: Scenario, from: number, to: number): Promise<void> {
  for (let t = from; t < to; t += MIN) {
    now = t + 1000;
    const b = new IngestBatch({ now: () => now, maxFutureMs: 10 * MIN });
    for (const p of s.points(t)) b.addSample(b.openSeries(p.metric, p.labels, p.labels.length, p.kind, 1), t, p.value);
    await svc.engine.ingest(s.tenant, b);
    await new Promise((r) => setImmediate(r));
    svc.engine.alerting!.pump();
  }
  await svc.engine.alerting!.settled();
}

async function packetOf(tenant: string, labels: Record<string, string>, metric: string): Promise<{ fingerprint: string; packet: TriagePacket; stored: boolean }> {
  const alerts = await svc.store.alerts.list({ tenant });
  const a = alerts.find((x) => x.metric === metric && Object.entries(labels).every(([k, v]) => x.labels[k] === v) && Object.keys(x.labels).filter((k) => !['tenant', 'rule', 'metric', 'severity', 'owner'].includes(k)).length === Object.keys(labels).length);
  assert.ok(a, `an alert on the aggregate ${metric}${JSON.stringify(labels)} in ${tenant}; got ${alerts.map((x) => `${x.metric}${JSON.stringify(x.labels)}`).join(' ')}`);
  const r = await svc.app.inject({ method: 'GET', url: `/api/v1/alerts/${a.fingerprint}/packet`, headers: { authorization: `Bearer ${tokens[tenant]}` } });
  assert.equal(r.statusCode, 200, r.body);
  const body = r.json() as { data: TriagePacket; stored: boolean };
  return { fingerprint: a.fingerprint, packet: body.data, stored: body.stored };
}

// ---- incident 1: a bad deploy of api v2.3.1 in eu-west-1 ----------------------------------

const REGIONS = ['eu-west-1', 'us-east-1', 'ap-south-1'];
const ENDPOINTS = ['/checkout', '/search'];
const DEPLOY_AT = ONSET - 4 * MIN;

function apiLeaves(t: number): { region: string; version: string; endpoint: string; share: number; bad: boolean }[] {
  const out: { region: string; version: string; endpoint: string; share: number; bad: boolean }[] = [];
  for (const region of REGIONS) {
    const versions: [string, number, boolean][] = [['v2.3.0', 1, false]];
    // v2.3.1 has run in us-east-1 for two hours (healthy); eu-west-1 gets it at the deploy (broken there).
    if (region === 'us-east-1' && t >= ONSET - 120 * MIN) versions.splice(0, 1, ['v2.3.0', 0.5, false], ['v2.3.1', 0.5, false]);
    if (region === 'eu-west-1' && t >= ONSET) versions.splice(0, 1, ['v2.3.0', 0.5, false], ['v2.3.1', 0.5, true]);
    for (const [version, share, bad] of versions) for (const endpoint of ENDPOINTS) out.push({ region, version, endpoint, share, bad });
  }
  return out;
}

function deployScenario(): Scenario {
  const rand = prng(11);
  const totals = new Map<string, { req: number; err: number }>();
  return {
    tenant: 'payments',
    config: (url) => `
tenant: payments
metrics:
  - { name: api_error_ratio, type: gauge, unit: ratio, help: errors over requests per minute, labels: [service] }
  - { name: http_requests_total, type: counter, unit: requests, help: requests, labels: [service, region, app_version, endpoint] }
  - { name: http_errors_total, type: counter, unit: errors, help: 5xx answers, labels: [service, region, app_version, endpoint] }
receivers:
  - name: chat
    webhook: { url: '${url}/payments' }
rules:
  - name: api-errors
    selector: 'api_error_ratio{service="api"}'
    aggregation: { function: avg, window: 1m }
    detectors: [{ name: robust_z }]
    severity: S1
    receiver: chat
    impact:
      slo: { objective: 99.9, errors: 'http_errors_total{service="api"}', total: 'http_requests_total{service="api"}' }
    owner: team-api
    runbook: https://runbooks.example.com/api-errors
    timing: { group_wait: 0s }
`,
    points(t) {
      const out: Point[] = [];
      let req = 0;
      let err = 0;
      for (const l of apiLeaves(t)) {
        const key = `${l.region}/${l.version}/${l.endpoint}`;
        const r = Math.round(400 * l.share * (1 + 0.05 * gaussian(rand)) * (l.endpoint === '/checkout' ? 1 : 2));
        const rate = l.bad ? 0.2 : 0.01 * (1 + 0.2 * gaussian(rand));
        const e = Math.max(0, Math.round(r * rate));
        const c = totals.get(key) ?? { req: 0, err: 0 };
        c.req += r;
        c.err += e;
        totals.set(key, c);
        req += r;
        err += e;
        const labels = ['service', 'api', 'region', l.region, 'app_version', l.version, 'endpoint', l.endpoint];
        out.push({ metric: 'http_requests_total', labels, value: c.req, kind: 'counter' });
        out.push({ metric: 'http_errors_total', labels, value: c.err, kind: 'counter' });
      }
      out.push({ metric: 'api_error_ratio', labels: ['service', 'api'], value: err / req, kind: 'gauge' });
      return out;
    },
    changes: [
      { t: ONSET - 120 * MIN, kind: 'deploy', service: 'api', labels: { region: 'us-east-1', app_version: 'v2.3.1' }, text: 'v2.3.1' },
      { t: ONSET - 45 * MIN, kind: 'flag', service: 'api', labels: {}, text: 'new-checkout-flow to 10%' },
      { t: ONSET - 10 * MIN, kind: 'config', service: 'billing', labels: {}, text: 'raise billing worker pool' },
      { t: DEPLOY_AT, kind: 'deploy', service: 'api', labels: { region: 'eu-west-1', app_version: 'v2.3.1' }, text: 'v2.3.1', externalId: 'planted' },
      { t: ONSET - 2 * MIN, kind: 'infra', service: 'k8s', labels: { region: 'us-east-1' }, text: 'node pool scaled up' },
      { t: ONSET + 5 * MIN, kind: 'deploy', service: 'api', labels: { region: 'eu-west-1', app_version: 'v2.3.0' }, text: 'rollback to v2.3.0' },
    ],
  };
}

// ---- incident 2: an upstream outage for android_low_end ------------------------------------

const DEVICES = ['android_low_end', 'android_high_end', 'ios', 'web'];
const COUNTRIES = ['IN', 'US', 'BR', 'DE'];

function upstreamScenario(): Scenario {
  const rand = prng(23);
  const level = new Map<string, number>();
  for (const d of DEVICES) for (const c of COUNTRIES) level.set(`${d}/${c}`, 200 + Math.floor(rand() * 800));
  return {
    tenant: 'mobile',
    config: (url) => `
tenant: mobile
receivers:
  - name: chat
    webhook: { url: '${url}/mobile' }
metrics:
  - { name: app_sessions, type: gauge, unit: sessions, help: active sessions, labels: [service, device, country] }
rules:
  - name: sessions
    selector: 'app_sessions{service="app"}'
    aggregation: { function: sum, window: 1m }
    detectors: [{ name: robust_z }]
    severity: S1
    receiver: chat
    owner: team-mobile
    runbook: https://runbooks.example.com/sessions
`,
    points(t) {
      const out: Point[] = [];
      let sum = 0;
      for (const d of DEVICES) {
        for (const c of COUNTRIES) {
          const f = d === 'android_low_end' && t >= ONSET ? 0.1 : 1;
          const v = Math.round(level.get(`${d}/${c}`)! * f * (1 + 0.02 * gaussian(rand)));
          sum += v;
          out.push({ metric: 'app_sessions', labels: ['service', 'app', 'device', d, 'country', c], value: v, kind: 'gauge' });
        }
      }
      out.push({ metric: 'app_sessions', labels: ['service', 'app'], value: sum, kind: 'gauge' });
      return out;
    },
    changes: [
      { t: ONSET - 25 * MIN, kind: 'deploy', service: 'app', labels: {}, text: 'v5.2.0' },
      { t: ONSET - 6 * MIN, kind: 'infra', service: 'edge-gateway', labels: { device: 'android_low_end' }, text: 'push gateway pool for low-end android degraded', externalId: 'planted' },
      { t: ONSET - 3 * MIN, kind: 'flag', service: 'app', labels: { device: 'ios' }, text: 'dark-mode on' },
    ],
  };
}

// ---- incident 3: an evening surge everywhere (no incident) -------------------------------

function surgeScenario(): Scenario {
  const rand = prng(37);
  return {
    tenant: 'shop',
    config: (url) => `
tenant: shop
receivers:
  - name: chat
    webhook: { url: '${url}/shop' }
metrics:
  - { name: checkout_requests, type: gauge, unit: requests, help: checkouts per minute, labels: [service, region, device] }
rules:
  - name: checkouts
    selector: 'checkout_requests{service="shop"}'
    aggregation: { function: sum, window: 1m }
    detectors: [{ name: robust_z }]
    severity: S1
    receiver: chat
    owner: team-shop
`,
    points(t) {
      const out: Point[] = [];
      let sum = 0;
      const surge = t >= ONSET ? 1.6 : 1;
      for (const r of REGIONS) {
        for (const d of DEVICES) {
          const v = Math.round((300 + 40 * r.length + 25 * d.length) * surge * (1 + 0.02 * gaussian(rand)));
          sum += v;
          out.push({ metric: 'checkout_requests', labels: ['service', 'shop', 'region', r, 'device', d], value: v, kind: 'gauge' });
        }
      }
      out.push({ metric: 'checkout_requests', labels: ['service', 'shop'], value: sum, kind: 'gauge' });
      return out;
    },
    changes: [
      { t: ONSET - 150 * MIN, kind: 'deploy', service: 'shop', labels: {}, text: 'v9.1.0' },
      { t: ONSET - 20 * MIN, kind: 'config', service: 'search', labels: {}, text: 'reindex schedule' },
    ],
  };
}

const SCENARIOS = [deployScenario(), upstreamScenario(), surgeScenario()];

describe('triage packet end to end', () => {
  before(async () => {
    rx = await startReceiver({ status: 200, body: 'ok' });
    svc = await openTestService({ clock: () => now });
    for (const s of SCENARIOS) {
      await svc.engine.putConfig(s.config(rx.url), 'test', null);
      tokens[s.tenant] = await addToken(svc.store, s.tenant, 'read');
      for (const c of s.changes) await svc.engine.addChange({ tenant: s.tenant, ...c });
    }
    // The three tenants advance together on the one clock.
    for (let t = T0; t < END; t += MIN) {
      for (const s of SCENARIOS) await feed(s, t, t + MIN);
    }
  });
  after(async () => {
    await svc.close();
    await rx.close();
  });

  it('bad deploy: names region & app version first, the eu-west-1 deploy first, and suggests the rollback', async () => {
    const { packet: p, stored } = await packetOf('payments', { service: 'api' }, 'api_error_ratio');
    assert.equal(stored, true, 'built when the episode fired and stored on the alert');
    assert.equal(p.where.mode, 'ratio');
    const top = p.where.segments[0];
    assert.ok(top?.suspect, JSON.stringify(p.where));
    assert.deepEqual(top.pairs.map((x) => `${x.dimension}=${x.value}`).sort(), ['app_version=v2.3.1', 'region=eu-west-1']);
    assert.ok(top.share > 0.8, `share ${top.share}`);
    const c = p.why.changes[0];
    assert.equal(c.kind, 'deploy');
    assert.deepEqual(c.labels, { region: 'eu-west-1', app_version: 'v2.3.1' });
    assert.ok(c.suspect && c.confidence > 0.8, JSON.stringify(p.why));
    assert.match(c.evidence, /^deploy api v2\.3\.1 in eu-west-1, 4 minutes before onset; .*carry \d+% of the delta/);
    assert.ok(p.why.changes.slice(1).every((x) => x.confidence < c.confidence - 0.3), 'the decoys rank well below');
    assert.equal(p.next.suggestions[0].action, 'rollback');
    assert.match(p.next.suggestions[0].text, /roll back deploy api v2\.3\.1 in eu-west-1/);
    assert.ok(p.next.suggestions.some((x) => x.action === 'failover' && /eu-west-1/.test(x.text)));
    assert.equal(p.next.owner, 'team-api');
    assert.equal(p.impact.kind, 'slo');
    assert.ok(p.impact.kind === 'slo' && p.impact.burnRates[0].short > 14.4, JSON.stringify(p.impact));
    assert.equal(p.what.metric, 'api_error_ratio');
    assert.ok(p.what.detectors.length > 0 && p.what.configVersion === 1);
    assert.ok(p.when.onset <= p.when.start && p.when.start >= ONSET);
    // The page carries the packet's summary, or (when it went out before the packet was built:
    // pages never wait for it) the triage update that follows it does.
    const sent = rx.received.filter((r) => r.url === '/payments').map((r) => r.body as { text: string | null; status: string; kind: string; id: string });
    const firing = sent.find((b) => b.status === 'firing' && b.kind === 'notify');
    assert.ok(firing, 'a firing notification was sent');
    const update = sent.find((b) => b.kind === 'update' && b.id === `${firing.id}:triage`);
    const text = firing.text || update?.text || '';
    assert.ok(!(firing.text && update), 'no update when the page already had the summary');
    assert.match(text, /where: app_version=v2\.3\.1 & region=eu-west-1 carries/);
    assert.match(text, /next: roll back deploy api v2\.3\.1/);
  });

  it('upstream outage: names device=android_low_end and the gateway event first; links the leaf alerts', async () => {
    const { packet: p } = await packetOf('mobile', { service: 'app' }, 'app_sessions');
    assert.equal(p.where.mode, 'additive');
    const top = p.where.segments[0];
    assert.ok(top?.suspect);
    assert.deepEqual(top.pairs, [{ dimension: 'device', value: 'android_low_end' }]);
    assert.ok(top.share > 0.9 && top.ratio < 0.2, JSON.stringify(top));
    assert.equal(p.why.changes[0].service, 'edge-gateway');
    assert.ok(p.why.changes[0].suspect, JSON.stringify(p.why.changes));
    assert.match(p.why.changes[0].evidence, /6 minutes before onset; android_low_end carries \d+% of the delta/);
    assert.ok(p.next.suggestions.some((x) => /upstream dependency or client release serving device=android_low_end/.test(x.text)));
    assert.ok(p.related.length >= 1 && p.related.every((r) => /same service app/.test(r.reason)), JSON.stringify(p.related));
    assert.ok(p.related.some((r) => r.labels.device === 'android_low_end'));
  });

  it('seasonal surge: stays humble (no segment named, no change above the floor) and says to verify', async () => {
    const { packet: p } = await packetOf('shop', { service: 'shop' }, 'checkout_requests');
    assert.ok(p.where.global, JSON.stringify(p.where));
    assert.ok(p.where.global.ratio > 1.4 && p.where.global.ratio < 1.8);
    assert.equal(p.where.segments.filter((s) => s.suspect).length, 0, JSON.stringify(p.where.segments));
    assert.ok(p.why.changes.length === 2 && p.why.changes.every((c) => !c.suspect && c.confidence < CHANGE_CONFIDENCE_FLOOR), JSON.stringify(p.why.changes));
    assert.match(p.why.verdict, /no recorded change is a likely cause/);
    assert.ok(p.next.suggestions.some((s) => s.action === 'verify'));
    assert.ok(!p.next.suggestions.some((s) => s.action === 'rollback' || s.action === 'failover'));
  });

  it('an unknown alert is 404; refresh=1 recomputes without storing', async () => {
    const r = await svc.app.inject({ method: 'GET', url: '/api/v1/alerts/ffffffffffffffff/packet', headers: { authorization: `Bearer ${tokens.shop}` } });
    assert.equal(r.statusCode, 404);
    const { fingerprint } = await packetOf('shop', { service: 'shop' }, 'checkout_requests');
    const again = await svc.app.inject({ method: 'GET', url: `/api/v1/alerts/${fingerprint}/packet?refresh=1`, headers: { authorization: `Bearer ${tokens.shop}` } });
    assert.equal(again.statusCode, 200);
    assert.equal((again.json() as { stored: boolean }).stored, false);
    assert.ok((again.json() as { data: TriagePacket }).data.where.global);
  });
});

describe('windowIncrease', () => {
  const t = Float64Array.from([0, 10, 20, 30, 40]);
  const cases: { name: string; v: number[]; from: number; to: number; counter: boolean; want: { sum: number; span: number } }[] = [
    { name: 'counter: increases after the base sample', v: [100, 110, 130, 130, 150], from: 10, to: 40, counter: true, want: { sum: 40, span: 30 } },
    { name: 'counter: a reset restarts from 0', v: [100, 110, 5, 15, 20], from: 0, to: 40, counter: true, want: { sum: 30, span: 40 } },
    { name: 'counter: a series born in the window counts from 0', v: [NaN, NaN, 7, 9, 12], from: 0, to: 40, counter: true, want: { sum: 12, span: 20 } },
    { name: 'gauge: per-interval values add up', v: [1, 2, 3, 4, 5], from: 10, to: 30, counter: false, want: { sum: 7, span: 20 } },
    { name: 'nothing in the window', v: [1, 2, 3, 4, 5], from: 40, to: 50, counter: false, want: { sum: 0, span: 0 } },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(windowIncrease(t, Float64Array.from(c.v), c.from, c.to, c.counter), c.want));
});
