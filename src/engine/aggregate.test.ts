// Rule aggregation and hierarchical detection: the window arithmetic (rate over counter resets,
// late samples, retries), then end to end through the engine on generated data with three
// dimensions (region x app_version x device), where one combination breaks, a surge lifts
// everything alike, or one combination's error rate climbs.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfigOrThrow, type Rule } from '../config/index.ts';
import { IngestBatch } from '../ingest/index.ts';
import { startReceiver } from '../notify/testkit.ts';
import { mulberry32 } from '../series/prng.ts';
import { openSqliteStore, type Store } from '../store/index.ts';
import { derivedMetric, RuleAggregator, type ClosedWindow } from './aggregate.ts';
import { createEngine, type Anomaly, type Engine } from './index.ts';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 5); // a Monday, aligned to every window used here
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function ruleOf(yamlRule: string, metrics = '  - { name: req_total, type: counter, unit: "1", labels: [region, app_version, device, code] }\n  - { name: lat, type: gauge, unit: s, labels: [region, host] }'): Rule {
  const c = loadConfigOrThrow(`tenant: default\nmetrics:\n${metrics}\nrules:\n${yamlRule}`);
  return c.rules[0];
}

const RATE_RULE = `  - { name: req, selector: req_total, aggregation: { function: rate, window: 1m }, severity: S0, owner: t, detect_on: aggregate }`;

function closeAll(agg: RuleAggregator, t: number): ClosedWindow[] {
  // A point far ahead moves the watermark past every open window.
  const [f] = agg.feedsFor('lat', { region: 'zz', host: 'clock' }).concat(agg.feedsFor('req_total', { region: 'zz', app_version: 'x', device: 'clock' }));
  agg.add(f, t, 0);
  return agg.closed.splice(0).filter((w) => w.group === f.group);
}

describe('rule aggregation windows', () => {
  it('names derived series <rule>:<fn>', () => {
    assert.equal(derivedMetric(ruleOf(RATE_RULE)), 'req:rate');
    assert.equal(derivedMetric(ruleOf(`  - { name: lat-p99, selector: lat, aggregation: { function: quantile, q: 0.99, window: 1m }, severity: S0, owner: t }`)), 'lat_p99:p99');
  });

  it('rate sums increases across a counter reset, per second of window', () => {
    const agg = new RuleAggregator(ruleOf(RATE_RULE), { toleranceMs: 0 });
    const [f] = agg.feedsFor('req_total', { region: 'eu', app_version: 'v1', device: 'ios' });
    // 0s: 100, 15s: 130, 30s: 10 (reset: +10), 45s: 40, 60s: 70 (next window).
    for (const [dt, v] of [[0, 100], [15_000, 130], [30_000, 10], [45_000, 40], [60_000, 70], [75_000, 90]]) agg.add(f, T0 + dt, v);
    agg.add(f, T0 + 2 * MIN, 95);
    const w = agg.closed.splice(0);
    assert.equal(w.length, 2);
    assert.equal(w[0].t, T0 + MIN);
    assert.equal(w[0].value, (30 + 10 + 30) / 60); // the first point only sets the base
    assert.equal(w[1].value, (30 + 20) / 60);
  });

  it('late samples within the tolerance land in their window; retries count once; older ones are dropped and counted', () => {
    const rule = ruleOf(`  - { name: s, selector: lat, aggregation: { function: sum, window: 1m }, severity: S0, owner: t, detect_on: aggregate }`);
    const agg = new RuleAggregator(rule, { toleranceMs: 2 * MIN });
    const [a] = agg.feedsFor('lat', { region: 'eu', host: 'a' });
    const [b] = agg.feedsFor('lat', { region: 'eu', host: 'b' });
    agg.add(a, T0 + 10_000, 1);
    agg.add(a, T0 + MIN + 10_000, 2);
    agg.add(a, T0 + 2 * MIN + 10_000, 4);
    assert.equal(agg.closed.length, 0, 'window 0 waits for its tolerance');
    agg.add(b, T0 + 20_000, 8); // late by two minutes, still window 0
    agg.add(b, T0 + 20_000, 8); // a retry
    agg.add(a, T0 + 3 * MIN + 10_000, 16); // watermark passes 1m + 2m: window 0 closes
    assert.equal(agg.closed.length, 1);
    assert.equal(agg.closed[0].value, 1 + 8);
    agg.add(b, T0 + 30_000, 32); // window 0 is closed now
    assert.equal(agg.lateDropped, 1);
    const rest = closeAll(agg, T0 + 60 * MIN);
    assert.deepEqual([agg.closed.length, ...rest.map((w) => w.value)], [0, 9, 2, 4, 16]);
  });

  it('a late counter point splits its neighbours\' increase between their windows', () => {
    const agg = new RuleAggregator(ruleOf(RATE_RULE), { toleranceMs: 5 * MIN });
    const [f] = agg.feedsFor('req_total', { region: 'eu', app_version: 'v1', device: 'ios' });
    agg.add(f, T0 + 30_000, 100);
    agg.add(f, T0 + 90_000, 160); // +60 attributed to window 1 for now
    agg.add(f, T0 + 50_000, 130); // late: +30 in window 0, +30 in window 1
    agg.add(f, T0 + 20 * MIN, 200);
    const w = agg.closed.splice(0);
    assert.deepEqual(w.slice(0, 2).map((x) => x.value * 60), [30, 30]);
  });

  it('avg, max, min and quantile over every sample of the window', () => {
    const cases: [string, string, number][] = [
      ['avg', '{ function: avg, window: 1m }', 5.5],
      ['max', '{ function: max, window: 1m }', 10],
      ['min', '{ function: min, window: 1m }', 1],
      ['quantile', '{ function: quantile, q: 0.5, window: 1m }', 5.5],
    ];
    for (const [name, a, want] of cases) {
      const agg = new RuleAggregator(ruleOf(`  - { name: x, selector: lat, aggregation: ${a}, severity: S0, owner: t }`), { toleranceMs: 0 });
      const [p] = agg.feedsFor('lat', { region: 'eu', host: 'a' });
      const [q] = agg.feedsFor('lat', { region: 'us', host: 'b' });
      for (let i = 1; i <= 10; i++) agg.add(i % 2 ? p : q, T0 + i * 5000, i);
      agg.add(p, T0 + 5 * MIN, 0);
      assert.equal(agg.closed[0].value, want, name);
    }
  });

  it('quantile beyond the exact budget goes to a sketch, within 1% of the exact value', () => {
    const rule = ruleOf(`  - { name: x, selector: lat, aggregation: { function: quantile, q: 0.99, window: 1m }, severity: S0, owner: t }`);
    const agg = new RuleAggregator(rule, { toleranceMs: 0, exactQuantile: 16 });
    const feeds = ['a', 'b', 'c'].map((host) => agg.feedsFor('lat', { region: 'eu', host })[0]);
    const values: number[] = [];
    for (let i = 0; i < 3000; i++) {
      const v = 0.001 * Math.exp((i * 7919) % 3000 / 400); // a long tail, 1 ms .. 1.8 s
      values.push(v);
      agg.add(feeds[i % 3], T0 + i, v);
    }
    agg.add(feeds[0], T0 + 2 * MIN, 0);
    values.sort((a, b) => a - b);
    const exact = values[Math.floor(0.99 * (values.length - 1))];
    const got = agg.closed[0].value;
    assert.ok(Math.abs(got - exact) / exact < 0.02, `${got} vs ${exact}`);
  });

  it('group_by splits the aggregate into one derived series per group, labelled with the rule', () => {
    const agg = new RuleAggregator(ruleOf(`  - { name: g, selector: lat, aggregation: { function: sum, window: 1m }, severity: S0, owner: t, group_by: [region] }`), { toleranceMs: 0 });
    const [a] = agg.feedsFor('lat', { region: 'eu', host: 'a' });
    const [b] = agg.feedsFor('lat', { region: 'us', host: 'b' });
    agg.add(a, T0, 1);
    agg.add(b, T0, 2);
    agg.add(a, T0 + 2 * MIN, 0);
    const byGroup = Object.fromEntries(agg.closed.map((w) => [w.group.labels.region, [w.value, w.group.labels.tidemark_rule]]));
    assert.deepEqual(byGroup, { eu: [1, 'g'], us: [2, 'g'] });
  });
});

// ---- end to end -------------------------------------------------------------------------------

const REGIONS = ['eu', 'us', 'ap'];
const VERSIONS = ['v1', 'v2'];
const DEVICES = ['ios', 'android', 'web'];
const STEP = 30_000;
const LEAVES = REGIONS.flatMap((region, r) => VERSIONS.flatMap((app_version, v) => DEVICES.map((device, d) => ({ labels: { region, app_version, device }, base: 40 + 30 * r + 15 * v + 10 * d }))));

const E2E_CONFIG = `
tenant: default
metrics:
  - { name: req_total, type: counter, unit: "1", labels: [region, app_version, device, code] }
rules:
  - name: checkout
    selector: 'req_total{code="200"}'
    aggregation: { function: rate, window: 1m }
    detectors: [{ name: robust_z, config: { window: 60, minPoints: 20 } }]
    sensitivity: high
    severity: S0
    owner: team-checkout
    detect_on: aggregate
  - name: checkout-errors
    selector: 'req_total{code="500"}'
    denominator: 'req_total{code="200"}'
    aggregation: { function: rate, window: 1m }
    detectors: [{ name: robust_z, config: { window: 60, minPoints: 20 } }]
    sensitivity: high
    severity: S0
    owner: team-checkout
`;

type Factor = (leaf: Record<string, string>, minute: number) => number;

/** Runs an engine over `minutes` of counters: requests per leaf x `ok`, errors (1% of requests) x `err`. */
async function scenario(seed: number, minutes: number, ok: Factor, err: Factor, alerting = false, dir?: string, from = 0, yaml = E2E_CONFIG): Promise<{ engine: Engine; store: Store; anomalies: Anomaly[]; now: () => number; dir: string }> {
  const d = dir ?? mkdtempSync(join(tmpdir(), 'tidemark-aggregate-'));
  if (!dir) dirs.push(d);
  let now = T0 + from * MIN;
  const clock = () => now;
  const store = await openSqliteStore({ dataDir: d, now: clock });
  await store.tenants.create({ id: 'default', name: 'default' });
  const engine = await createEngine({ store, clock, checkpointIntervalMs: 0, alerting: alerting ? {} : false });
  await engine.putConfig(yaml, 'test', null);
  const anomalies: Anomaly[] = [];
  engine.onAnomaly = (a) => anomalies.push(a);
  const rnd = mulberry32(seed);
  const counters = LEAVES.map(() => ({ ok: 100 * from, err: from }));
  for (let t = T0 + from * MIN; t < T0 + minutes * MIN; t += STEP) {
    now = t + 1000;
    const minute = (t - T0) / MIN;
    const b = new IngestBatch({ now: clock, maxFutureMs: 60_000 });
    LEAVES.forEach((leaf, i) => {
      const c = counters[i];
      const reqs = leaf.base * ok(leaf.labels, minute) * (1 + 0.04 * (rnd() - 0.5));
      c.ok += Math.round(reqs);
      c.err += Math.round(reqs * 0.01 * err(leaf.labels, minute) + rnd());
      const flat = Object.entries(leaf.labels).flat();
      b.addSample(b.openSeries('req_total', [...flat, 'code', '200'], flat.length + 2, 'counter', 1), t, c.ok);
      b.addSample(b.openSeries('req_total', [...flat, 'code', '500'], flat.length + 2, 'counter', 1), t, c.err);
    });
    await engine.ingest('default', b);
    if (alerting) {
      await new Promise((r) => setImmediate(r));
      engine.alerting!.pump();
    }
  }
  if (alerting) await engine.alerting!.settled();
  return { engine, store, anomalies, now: clock, dir: d };
}

const one = () => 1;
const PLANTED = { region: 'eu', app_version: 'v2', device: 'android' };
const planted = (l: Record<string, string>) => l.region === PLANTED.region && l.app_version === PLANTED.app_version && l.device === PLANTED.device;

describe('hierarchical detection end to end', () => {
  it('one broken combination: the aggregate alerts and its top contributor is the planted combination', async () => {
    const { engine, store, anomalies } = await scenario(7, 100, (l, m) => (m >= 90 && planted(l) ? 4 : 1), one);
    const agg = anomalies.filter((a) => a.metric === 'checkout:rate');
    assert.ok(agg.length > 0, 'the aggregate was judged anomalous');
    const first = agg[0];
    assert.ok(first.t > T0 + 90 * MIN && first.t <= T0 + 93 * MIN, `fired at ${(first.t - T0) / MIN} min`);
    assert.deepEqual(first.labels, { tidemark_rule: 'checkout' });
    assert.ok(first.contributors && first.contributors.length > 0, 'contributors attached');
    assert.deepEqual(first.contributors[0].labels, PLANTED, first.contributors[0].text);
    assert.ok(first.contributors[0].share > 0.8, `share ${first.contributors[0].share}`);
    assert.ok(first.contributors[0].confidence >= 0.99);
    // Only the aggregate is judged (detect_on: aggregate): no raw series of the rule alerted.
    assert.ok(anomalies.every((a) => a.metric !== 'req_total' || a.labels.code === '500'));
    // The derived series is stored with its band, so it can be charted and queried.
    const [s] = await store.series.find('default', [{ name: '__name__', op: '=', value: 'checkout:rate' }]);
    assert.ok(s, 'derived series interned');
    const pts = await store.samples.range('default', s.id, T0, T0 + 200 * MIN);
    assert.ok(pts.t.length >= 90, `${pts.t.length} derived points`);
    const bands = await store.samples.bands('default', s.id, T0, T0 + 200 * MIN);
    assert.ok(bands.t.length > 50);
    // Coverage counts the aggregate, not the series it judges through it.
    const cov = engine.coverage().get('default')!;
    assert.equal(cov.get('req_total'), undefined);
    assert.equal((cov.get('checkout:rate')?.monitored ?? 0) + (cov.get('checkout:rate')?.learning ?? 0), 1);
    // The engine keeps the drill for the alert's triage packet.
    const d = engine.aggregateDrill('default', s.id, first.t);
    assert.equal(d?.drill.segments[0].text, 'app_version=v2 & device=android & region=eu');
    await engine.close();
    await store.close();
  });

  it('the alert on the aggregate carries the drill in its triage packet', async () => {
    const { engine, store } = await scenario(7, 100, (l, m) => (m >= 90 && planted(l) ? 4 : 1), one, true);
    const alerts = (await store.alerts.list({ tenant: 'default' })).filter((a) => a.metric === 'checkout:rate');
    assert.equal(alerts.length, 1, 'one alert: the aggregate, not each series');
    const packet = (alerts[0].packet as { triage?: { where: { segments: { text: string; suspect: boolean; share: number }[]; verdict: string } } }).triage;
    assert.ok(packet, 'triage packet stored on the alert');
    assert.equal(packet.where.segments[0].text, 'app_version=v2 & device=android & region=eu');
    assert.ok(packet.where.segments[0].suspect);
    assert.match(packet.where.verdict, /^app_version=v2 & device=android & region=eu carries \d+% of the delta/);
    await engine.close();
    await store.close();
  });

  it('series judged only through their aggregate still feed an SLO impact gate: the aggregate alert pages', async () => {
    const rx = await startReceiver({ status: 200, body: 'ok' });
    try {
      const yaml = E2E_CONFIG.replace(`    severity: S0
    owner: team-checkout
    detect_on: aggregate`, `    severity: S2
    owner: team-checkout
    detect_on: aggregate
    runbook: https://runbooks.example.com/checkout
    receiver: hook
    impact:
      slo:
        objective: 99.9
        errors: 'req_total{code="500"}'
        total: req_total
        windows: [{ long: 30m, short: 5m, burn_rate: 2 }]`).replace('rules:', `receivers:
  - { name: hook, webhook: { url: '${rx.url}/hook' } }
rules:`);
      const { engine, store } = await scenario(7, 100, (l, m) => (m >= 90 && planted(l) ? 4 : 1), one, true, undefined, 0, yaml);
      const [alert] = (await store.alerts.list({ tenant: 'default' })).filter((a) => a.metric === 'checkout:rate');
      assert.ok(alert, 'the aggregate alerted');
      // About 1.5% errors burn a 99.9% objective 15 times over: the gate holds, so the page goes out at S2.
      assert.equal(alert.severity, 'S2', JSON.stringify((alert.packet as { heldReason?: unknown }).heldReason));
      await engine.close();
      await store.close();
    } finally {
      await rx.close();
    }
  });

  it('group_by: only the broken group alerts, and its drill names segments within the group', async () => {
    const yaml = E2E_CONFIG.replace('    detect_on: aggregate', '    detect_on: both\n    group_by: [region]');
    const { engine, store, anomalies } = await scenario(7, 100, (l, m) => (m >= 90 && planted(l) ? 4 : 1), one, false, undefined, 0, yaml);
    const agg = anomalies.filter((a) => a.metric === 'checkout:rate');
    assert.ok(agg.length > 0, JSON.stringify(anomalies.map((a) => [a.metric, a.labels, (a.t - T0) / MIN])));
    assert.ok(agg.every((a) => a.labels.region === 'eu'), JSON.stringify(agg.map((a) => a.labels)));
    assert.deepEqual(agg[0].labels, { region: 'eu', tidemark_rule: 'checkout' });
    assert.deepEqual(agg[0].contributors![0].labels, { app_version: 'v2', device: 'android' });
    // detect_on: both also judges each series (here its raw counter value): each has a band.
    const [raw] = await store.series.find('default', [{ name: '__name__', op: '=', value: 'req_total' }, ...Object.entries({ ...PLANTED, code: '200' }).map(([name, value]) => ({ name, op: '=' as const, value }))]);
    assert.ok((await store.samples.bands('default', raw.id, T0, T0 + 200 * MIN)).t.length > 0);
    const groups = await store.series.find('default', [{ name: '__name__', op: '=', value: 'checkout:rate' }]);
    assert.deepEqual(groups.map((g) => g.labels.region).sort(), ['ap', 'eu', 'us']);
    await engine.close();
    await store.close();
  });

  it('a derived series resumes from its checkpoint after a restart', async () => {
    const first = await scenario(5, 60, one, one);
    await first.engine.close();
    await first.store.close();
    const again = await scenario(5, 75, one, one, false, first.dir, 60);
    const info = again.engine.seriesInfo('default', '\u0001checkout\u0000');
    assert.equal(info?.origin, 'checkpoint');
    assert.equal(again.engine.aggregates('default').find((a) => a.rule === 'checkout')?.groups, 1);
    const [s] = await again.store.series.find('default', [{ name: '__name__', op: '=', value: 'checkout:rate' }]);
    assert.equal(info?.id, s.id);
    await again.engine.close();
    await again.store.close();
  });

  it('a surge spread evenly over every combination names no single suspect above the confidence floor', async () => {
    const { engine, store, anomalies } = await scenario(11, 100, (_l, m) => (m >= 90 ? 1.6 : 1), one);
    const agg = anomalies.filter((a) => a.metric === 'checkout:rate');
    assert.ok(agg.length > 0, 'the surge is anomalous in the aggregate');
    for (const a of agg) {
      assert.ok(a.contributors!.every((c) => c.confidence < 0.99 || Math.abs(c.share) < 0.2), JSON.stringify(a.contributors));
      assert.match(a.global ?? '', /whole aggregate moved up ×1\.[56]/);
    }
    await engine.close();
    await store.close();
  });

  it('a ratio rule: a bad deploy in one region and app version; the ratio localiser names it, a traffic shift alone does not', async () => {
    const deploy = (l: Record<string, string>) => l.region === 'eu' && l.app_version === 'v2';
    const { engine, store, anomalies } = await scenario(13, 100, (l, m) => (m >= 90 && l.region === 'us' ? 1.5 : 1), (l, m) => (m >= 90 && deploy(l) ? 10 : 1));
    const ratio = anomalies.filter((a) => a.metric === 'checkout_errors:ratio');
    assert.ok(ratio.length > 0, 'the error ratio was judged anomalous');
    assert.deepEqual(ratio[0].contributors![0].labels, { region: 'eu', app_version: 'v2' }, JSON.stringify(ratio[0].contributors));
    assert.ok(ratio[0].contributors![0].share > 0.8);
    assert.ok(!ratio[0].contributors!.some((c) => c.labels.region === 'us' && Object.keys(c.labels).length === 1), 'the traffic shift in us is no cause');
    // Both rules judge only their aggregates: no raw series was judged anomalous.
    assert.ok(anomalies.every((a) => a.metric === 'checkout:rate' || a.metric === 'checkout_errors:ratio'), JSON.stringify(anomalies.map((a) => a.metric)));
    await engine.close();
    await store.close();
  });
});

describe('aggregation through the engine', () => {
  it('a late sample within the tolerance lands in its window; a retried batch counts once', async () => {
    const d = mkdtempSync(join(tmpdir(), 'tidemark-aggregate-'));
    dirs.push(d);
    let now = T0 + 10 * MIN;
    const clock = () => now;
    const store = await openSqliteStore({ dataDir: d, now: clock });
    await store.tenants.create({ id: 'default', name: 'default' });
    const engine = await createEngine({ store, clock, checkpointIntervalMs: 0, alerting: false });
    await engine.putConfig(`tenant: default
metrics:
  - { name: lat, type: gauge, unit: s, labels: [region, host] }
rules:
  - { name: total, selector: lat, aggregation: { function: sum, window: 1m }, severity: S0, owner: t, detect_on: aggregate }
`, 'test', null);
    const batch = (pts: [string, number, number][]) => {
      const b = new IngestBatch({ now: clock, maxFutureMs: 60_000 });
      for (const [host, t, v] of pts) b.addSample(b.openSeries('lat', ['region', 'eu', 'host', host], 4, 'gauge', 1), T0 + t, v);
      return b;
    };
    await engine.ingest('default', batch([['a', 0, 1], ['b', 0, 10]]));
    await engine.ingest('default', batch([['a', 60_000, 2], ['b', 60_000, 20]]));
    await engine.ingest('default', batch([['a', 30_000, 100]])); // late for a, inside the 5m tolerance
    await engine.ingest('default', batch([['a', 0, 1], ['b', 0, 10]])); // a retry
    await engine.ingest('default', batch([['a', 7 * MIN, 0]])); // the watermark passes 1m + 5m (and 2m + 5m)
    await engine.close();
    const [s] = await store.series.find('default', [{ name: '__name__', op: '=', value: 'total:sum' }]);
    assert.deepEqual(s.labels, { tidemark_rule: 'total' });
    const r = await store.samples.range('default', s.id, T0, T0 + 60 * MIN);
    assert.deepEqual([...r.t].map((t) => (t - T0) / MIN), [1, 2]);
    assert.deepEqual([...r.v], [1 + 10 + 100, 2 + 20]);
    await store.close();
  });
});

describe('aggregation config', () => {
  const base = `tenant: default\nmetrics:\n  - { name: req_total, type: counter, unit: "1", labels: [region, code] }\n  - { name: lat, type: gauge, unit: s, labels: [region] }\n  - { name: dur, type: histogram, unit: s, labels: [region] }\nrules:\n`;
  const cases: [string, string, RegExp][] = [
    ['ratio needs rate or sum', `  - { name: r, selector: 'req_total{code="500"}', denominator: req_total, aggregation: { function: max, window: 1m }, severity: S0, owner: t }`, /ratio rule .* use function rate or sum, not max/],
    ['ratio is judged on its aggregate', `  - { name: r, selector: 'req_total{code="500"}', denominator: req_total, aggregation: { function: rate, window: 1m }, severity: S0, owner: t, detect_on: series }`, /use detect_on aggregate or both/],
    ['rate needs a counter denominator', `  - { name: r, selector: 'req_total{code="500"}', denominator: lat, aggregation: { function: rate, window: 1m }, severity: S0, owner: t }`, /rate needs a counter, and 'lat' is a gauge/],
    ['an aggregate needs samples, which a histogram has none of', `  - { name: r, selector: dur, aggregation: { function: quantile, q: 0.99, window: 1m }, severity: S0, owner: t, detect_on: aggregate }`, /histogram 'dur' has none of its own: select dur_p99/],
    ['detect_on values', `  - { name: r, selector: lat, aggregation: { function: avg, window: 1m }, severity: S0, owner: t, detect_on: everything }`, /expected one of series, aggregate, both/],
  ];
  for (const [name, rule, re] of cases) {
    it(name, () => assert.throws(() => loadConfigOrThrow(base + rule), re));
  }
  it('defaults: detect_on absent is per series; a ratio rule defaults to its aggregate', () => {
    const c = loadConfigOrThrow(`${base}  - { name: a, selector: lat, aggregation: { function: avg, window: 1m }, severity: S0, owner: t }\n  - { name: r, selector: 'req_total{code="500"}', denominator: req_total, aggregation: { function: rate, window: 1m }, severity: S0, owner: t, group_by: [region] }`);
    assert.equal(c.rules[0].detectOn, undefined);
    assert.equal(c.rules[1].detectOn, 'aggregate');
    assert.equal(c.rules[1].denominator?.text, 'req_total');
  });
});
