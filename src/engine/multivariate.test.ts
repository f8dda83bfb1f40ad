import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig, type TenantConfig } from '../config/index.ts';
import { DEFAULT_PROFILE, createDetectorSet, newFusedVerdict } from '../detect/index.ts';
import { Rng } from '../series/prng.ts';
import { explainContributions, MultivariateStage } from './multivariate.ts';
import type { Anomaly } from './types.ts';

const METRICS = `tenant: acme
metrics:
  - name: latency_p95_ms
    type: gauge
    unit: ms
    labels: [service, region]
  - name: qps
    type: gauge
    unit: requests
    labels: [service, region]
  - name: cpu
    type: gauge
    unit: percent
    labels: [service]
  - name: queue_depth
    type: gauge
    unit: messages
    labels: [queue]
`;

function config(mv: string): TenantConfig {
  const { config, errors } = loadConfig(METRICS + mv, 'test.yaml');
  assert.deepEqual(errors, []);
  return config!;
}

function errorsOf(mv: string): string[] {
  return loadConfig(METRICS + mv, 'test.yaml').errors.map((e) => `${e.path}: ${e.message}`);
}

const DETECTOR = (extra = '') => `multivariate:
  - name: service-health
    features:
      - { name: latency_p95, selector: latency_p95_ms }
      - qps
      - cpu
    join_on: [service]
    step: 1m
    forest: { reservoir: 1024, min_fit: 240 }
${extra}`;

const T0 = Date.UTC(2026, 0, 5);
const MIN = 60_000;

/**
 * Three services over `steps` minutes. Latency follows load (QPS) and CPU follows QPS; at the
 * planted steps service `checkout` has latency as high as at peak load while QPS and CPU stay
 * at the trough: each value alone is ordinary, the combination is not.
 */
function feed(stage: MultivariateStage, cfg: TenantConfig, steps: number, planted: (step: number) => boolean, suspectAt: (step: number) => number = () => 0): { latency: number[] } {
  const rng = new Rng(42);
  const latency: number[] = [];
  for (let s = 0; s < steps; s++) {
    const t = T0 + s * MIN + 5_000;
    for (const service of ['checkout', 'search', 'auth']) {
      const load = 0.5 + 0.45 * Math.sin((2 * Math.PI * s) / 240); // a 4-hour cycle, 0.05..0.95
      const qps = 1000 * load * (1 + 0.03 * rng.normal());
      const cpu = 10 + 60 * load + 2 * rng.normal();
      let lat = 80 + 120 * load + 6 * rng.normal();
      const hit = service === 'checkout' && planted(s);
      if (hit) lat = 80 + 120 * 0.9 + 6 * rng.normal(); // peak-time latency at trough load
      if (service === 'checkout') latency.push(lat);
      const score = hit ? suspectAt(s) : 0;
      const region = 'eu';
      stage.observe('acme', cfg, 1, 'latency_p95_ms', frozen({ service, region }), t, lat, score);
      stage.observe('acme', cfg, 1, 'qps', frozen({ service, region }), t + 1, qps, 0);
      stage.observe('acme', cfg, 1, 'cpu', frozen({ service }), t + 2, cpu, 0);
    }
  }
  return { latency };
}

// The engine passes each series' own (persistent) labels object; the stage caches by it.
const labelCache = new Map<string, Readonly<Record<string, string>>>();
function frozen(l: Record<string, string>): Readonly<Record<string, string>> {
  const k = JSON.stringify(l);
  let v = labelCache.get(k);
  if (!v) labelCache.set(k, (v = Object.freeze(l)));
  return v;
}

/** Troughs of the load cycle, after the forest has seen four cycles. */
const PLANTED = (s: number) => s >= 1100 && s % 240 >= 170 && s % 240 < 190;

const isPlanted = (a: Anomaly) => a.labels.service === 'checkout' && PLANTED((a.t - T0) / MIN - 1);

describe('multivariate stage', () => {
  it('catches latency up at trough load, which no single series reveals, and names latency', () => {
    const cfg = config(DETECTOR('    cascade: { every: 1 }\n    threshold: 0.85\n'));
    const found: Anomaly[] = [];
    const stage = new MultivariateStage((a) => found.push(a));
    const { latency } = feed(stage, cfg, 1500, PLANTED);

    const planted = found.filter(isPlanted);
    const falseAlarms = found.filter((a) => !isPlanted(a));
    const plantedSteps = Array.from({ length: 1500 }, (_, s) => s).filter(PLANTED).length;
    assert.ok(planted.length >= 0.6 * plantedSteps, `caught ${planted.length} of ${plantedSteps} planted steps: ${planted.map((a) => (a.t - T0) / MIN - 1).join(',')}`);
    assert.ok(falseAlarms.length <= 0.005 * 1500 * 3, `${falseAlarms.length} false alarms: ${falseAlarms.map((a) => `${a.labels.service}@${(a.t - T0) / MIN - 1} ${a.score.toFixed(2)}`).join(', ')}`);
    for (const a of planted) {
      assert.equal(a.labels.service, 'checkout');
      assert.deepEqual(a.reasons, ['multivariate']);
      assert.equal(a.metric, 'multivariate:service-health');
      assert.equal(a.features![0].feature, 'latency_p95', `top feature of ${a.explanation}`);
      assert.ok(a.features![0].z > 0);
    }
    assert.match(planted[0].explanation!, /^latency_p95 up .* while .*qps.* flat$/);

    // The univariate default profile on the latency series alone stays below the alert level there.
    const set = createDetectorSet(DEFAULT_PROFILE);
    const st = set.init();
    const out = newFusedVerdict();
    let maxPlanted = 0;
    latency.forEach((v, s) => {
      set.update(st, T0 + s * MIN, v, out);
      if (PLANTED(s)) maxPlanted = Math.max(maxPlanted, out.score);
    });
    assert.ok(maxPlanted < 0.9, `univariate max score in the planted steps: ${maxPlanted}`);
  });

  it('cascade: scores a fraction of vectors, and still the planted ones the cheap detectors flag', () => {
    const cfg = config(DETECTOR('    cascade: { level: 0.5, every: 10 }\n    threshold: 0.85\n'));
    const found: Anomaly[] = [];
    const stage = new MultivariateStage((a) => found.push(a));
    // The cheap detector suspects the planted points a little (0.6): the cascade scores them.
    feed(stage, cfg, 1500, PLANTED, () => 0.6);
    const st = stage.stats;
    assert.equal(st.vectors, st.scored + st.skipped);
    assert.ok(st.scored < 0.15 * st.vectors, `scored ${st.scored} of ${st.vectors}`);
    const planted = found.filter(isPlanted);
    // Fewer than with every vector scored: vectors the cascade skips are learned unscreened.
    assert.ok(planted.length >= 0.5 * Array.from({ length: 1500 }, (_, s) => s).filter(PLANTED).length, `caught ${planted.length}`);
  });

  it('ignores series of other metrics or without the join labels, and tenants with no detector', () => {
    const cfg = config(DETECTOR());
    const stage = new MultivariateStage(() => assert.fail('no anomaly expected'));
    stage.observe('acme', cfg, 1, 'queue_depth', frozen({ queue: 'q1' }), T0, 5, 0);
    stage.observe('acme', cfg, 1, 'cpu', frozen({}), T0, 5, 0);
    stage.observe('acme', undefined, null, 'cpu', frozen({ service: 'a' }), T0, 5, 0);
    assert.equal(stage.stats.vectors, 0);
  });

  it('explanations read as a sentence', () => {
    assert.equal(explainContributions([
      { feature: 'latency_p95', value: 190, z: 0.94, gain: 0.2 },
      { feature: 'qps', value: 100, z: -1.6, gain: 0.01 },
      { feature: 'cpu', value: 14, z: -1.5, gain: 0 },
    ]), 'latency_p95 up (+0.9 sigma) while qps, cpu are flat');
    assert.equal(explainContributions([
      { feature: 'cpu', value: 90, z: 3, gain: 0.2 },
      { feature: 'qps', value: 10, z: -2, gain: 0.15 },
      { feature: 'latency', value: 100, z: 0, gain: 0.05 },
    ]), 'cpu up (+3.0 sigma), qps down (-2.0 sigma)');
  });
});

describe('multivariate config', () => {
  it('loads with defaults', () => {
    const d = config(DETECTOR()).multivariate![0];
    assert.deepEqual(d.features.map((f) => f.name), ['latency_p95', 'qps', 'cpu']);
    assert.deepEqual(d.joinOn, ['service']);
    assert.equal(d.stepMs, 60_000);
    assert.equal(d.threshold, 0.9);
    assert.deepEqual(d.cascade, { level: 0.5, every: 5 });
    assert.equal(d.forest.trees, 100);
    assert.equal(d.forest.minFit, 240);
    assert.equal(loadConfig(METRICS, 't').config!.multivariate, undefined);
  });

  const bad: Array<[string, string, string]> = [
    ['unknown key', DETECTOR('    windw: 5\n'), "multivariate[0].windw: unknown key 'windw'"],
    ['one feature', DETECTOR().replace('      - qps\n      - cpu\n', ''), 'multivariate[0].features: a multivariate detector needs 2 to 32 features, got 1'],
    ['missing join label', DETECTOR().replace('      - cpu\n', '      - queue_depth\n'), "multivariate[0].features[2]: metric 'queue_depth' has no label 'service' to join on"],
    ['duplicate feature', DETECTOR().replace('      - cpu\n', '      - qps\n'), "feature 'qps' is already defined at multivariate[0].features[1]"],
    ['unknown metric', DETECTOR().replace('      - cpu\n', '      - cpux\n'), "multivariate[0].features[2].selector: metric 'cpux' is not declared"],
    ['min_fit above reservoir', DETECTOR().replace('reservoir: 1024, min_fit: 240', 'reservoir: 100, min_fit: 200'), 'multivariate[0].forest.min_fit: must be at most reservoir (100), got 200'],
    ['cascade every 0', DETECTOR('    cascade: { every: 0 }\n'), 'multivariate[0].cascade.every: expected'],
    ['empty join_on', DETECTOR().replace('join_on: [service]', 'join_on: []'), 'multivariate[0].join_on: join on at least one label'],
    ['step missing', DETECTOR().replace('    step: 1m\n', ''), "multivariate[0].step: required key 'step' is missing"],
  ];
  for (const [name, yaml, want] of bad) {
    it(`rejects: ${name}`, () => {
      const errs = errorsOf(yaml);
      assert.ok(errs.some((e) => e.includes(want)), `want ${want}\ngot ${errs.join('\n')}`);
    });
  }
});

describe('multivariate in the engine', () => {
  it('judged live points reach the stage, and its anomalies are listed with their explanation', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { IngestBatch } = await import('../ingest/index.ts');
    const { openSqliteStore } = await import('../store/index.ts');
    const { createEngine } = await import('./index.ts');
    const dir = mkdtempSync(join(tmpdir(), 'tidemark-mv-'));
    let now = T0;
    const clock = () => now;
    const store = await openSqliteStore({ dataDir: dir, now: clock });
    const engine = await createEngine({ store, clock, checkpointIntervalMs: 0, alerting: false });
    try {
      await engine.putConfig(METRICS.replace('tenant: acme', 'tenant: default') + DETECTOR('    cascade: { every: 1 }\n    threshold: 0.85\n'), 'test', null);
      const rng = new Rng(3);
      for (let s = 0; s < 1160; s++) {
        const t = T0 + s * MIN + 5_000;
        now = t + 1000;
        const load = 0.5 + 0.45 * Math.sin((2 * Math.PI * s) / 240);
        const planted = s >= 1130 && s < 1150;
        const b = new IngestBatch({ now: clock, maxFutureMs: 86_400_000 });
        const add = (metric: string, labels: string[], v: number) => b.addSample(b.openSeries(metric, labels, labels.length, 'gauge', 1), t, v);
        add('latency_p95_ms', ['region', 'eu', 'service', 'checkout'], planted ? 188 + 6 * rng.normal() : 80 + 120 * load + 6 * rng.normal());
        add('qps', ['region', 'eu', 'service', 'checkout'], 1000 * load * (1 + 0.03 * rng.normal()));
        add('cpu', ['service', 'checkout'], 10 + 60 * load + 2 * rng.normal());
        await engine.ingest('default', b);
      }
      const mv = engine.anomalies('default', -Infinity, Infinity, 1000).filter((a) => a.metric === 'multivariate:service-health');
      assert.ok(mv.length >= 5, `${mv.length} multivariate anomalies`);
      const outside = mv.filter((a) => !(a.t > T0 + 1130 * MIN));
      assert.ok(outside.length <= 3, `outside the planted stretch: ${outside.map((a) => `${(a.t - T0) / MIN} ${a.score.toFixed(2)}`).join(', ')} of ${mv.length}`);
      assert.equal(mv[0].labels.service, 'checkout');
      assert.match(mv[0].explanation!, /^latency_p95 up/);
      assert.ok(engine.multivariate.stats.vectors >= 1100);
    } finally {
      await engine.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
