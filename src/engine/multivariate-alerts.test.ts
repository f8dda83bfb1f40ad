// Multivariate anomalies through the alert stage (lifecycle, routing, packet), and forest
// checkpoints: an engine restarted mid-stream scores exactly as one that ran through.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AlertStage, type Dispatch } from '../alert/index.ts';
import { loadConfig, type TenantConfig } from '../config/index.ts';
import { IngestBatch } from '../ingest/index.ts';
import { Rng } from '../series/prng.ts';
import { openSqliteStore, type AlertInput } from '../store/index.ts';
import { createEngine, type Engine } from './index.ts';
import { entityId, MultivariateStage } from './multivariate.ts';
import type { Anomaly } from './types.ts';

const T0 = Date.UTC(2026, 0, 5);
const MIN = 60_000;
const SERVICES = ['checkout', 'search', 'auth'];

const YAML = (tenant: string, extra = '', threshold = 0.85) => `tenant: ${tenant}
metrics:
  - { name: latency_p95_ms, type: gauge, unit: ms, labels: [service, region] }
  - { name: qps, type: gauge, unit: requests, labels: [service, region] }
  - { name: cpu, type: gauge, unit: percent, labels: [service] }
receivers:
  - name: oncall
    webhook: { url: "http://127.0.0.1:9/hook" }
route:
  receiver: oncall
multivariate:
  - name: service-health
    features:
      - { name: latency_p95, selector: latency_p95_ms }
      - qps
      - cpu
    join_on: [service]
    step: 1m
    threshold: ${threshold}
    owner: platform
    forest: { reservoir: 1024, min_fit: 240 }
${extra}`;

/** One step's values per service: latency follows load, CPU follows QPS; `planted` is latency up at flat QPS. */
function values(steps: number, planted: (s: number) => boolean): Map<string, Float64Array> {
  const rng = new Rng(42);
  const out = new Map<string, Float64Array>(SERVICES.map((s) => [s, new Float64Array(steps * 3)]));
  for (let s = 0; s < steps; s++) {
    const load = 0.5 + 0.45 * Math.sin((2 * Math.PI * s) / 240); // a 4-hour cycle
    for (const service of SERVICES) {
      const v = out.get(service)!;
      v[s * 3] = service === 'checkout' && planted(s) ? 80 + 120 * 0.9 + 6 * rng.normal() : 80 + 120 * load + 6 * rng.normal();
      v[s * 3 + 1] = 1000 * load * (1 + 0.03 * rng.normal());
      v[s * 3 + 2] = 10 + 60 * load + 2 * rng.normal();
    }
  }
  return out;
}

// The engine passes each series' own labels object; the stage caches bindings by it.
const labelCache = new Map<string, Readonly<Record<string, string>>>();
function frozen(l: Record<string, string>): Readonly<Record<string, string>> {
  const k = JSON.stringify(l);
  let v = labelCache.get(k);
  if (!v) labelCache.set(k, (v = Object.freeze(l)));
  return v;
}

/** A trough of the load cycle (QPS low) after the forest has seen four cycles. */
const PLANTED = (s: number) => s >= 1130 && s < 1150;

describe('multivariate alerts', () => {
  for (const [name, cascade, threshold, suspect] of [
    ['every vector scored', '{ every: 1 }', 0.85, () => 0],
    // The cheap detectors suspect only the first planted points: the episode is followed
    // (scored every step while open) until it resolves, whatever the cascade would skip.
    // Vectors the cascade skips are learned unscreened, so this forest scores the break lower.
    ['cascade, suspected at the start', '{ level: 0.5, every: 10 }', 0.75, (s: number) => (s >= 1130 && s < 1133 ? 0.6 : 0)],
  ] as const) it(`latency up at flat QPS fires one alert naming latency, which resolves when data is normal again (${name})`, () => {
    const { config, errors } = loadConfig(YAML('acme', `    cascade: ${cascade}\n`, threshold), 't.yaml');
    assert.deepEqual(errors, []);
    const cfg = config as TenantConfig;
    assert.equal(cfg.multivariate![0].severity, 'S1');
    let now = T0;
    const stage = new AlertStage({ clock: () => now, config: () => ({ config: cfg, version: 1 }) });
    const anomalies: Anomaly[] = [];
    const mv = new MultivariateStage((a) => anomalies.push(a));
    mv.alerts = stage;
    const upserts: AlertInput[] = [];
    const dispatches: Dispatch[] = [];
    const steps = 1200;
    const data = values(steps, PLANTED);
    for (let s = 0; s < steps; s++) {
      const t = T0 + s * MIN + 5_000;
      now = t + 1_000;
      for (const service of SERVICES) {
        const v = data.get(service)!;
        mv.observe('acme', cfg, 1, 'latency_p95_ms', frozen({ service, region: 'eu' }), t, v[s * 3], service === 'checkout' ? suspect(s) : 0);
        mv.observe('acme', cfg, 1, 'qps', frozen({ service, region: 'eu' }), t + 1, v[s * 3 + 1], 0);
        mv.observe('acme', cfg, 1, 'cpu', frozen({ service }), t + 2, v[s * 3 + 2], 0);
      }
      stage.tick();
      const e = stage.drain();
      upserts.push(...e.upserts);
      dispatches.push(...e.dispatches);
    }
    // Past group_wait and group_interval, so the resolve is sent.
    for (let i = 0; i < 12; i++) {
      now += MIN;
      stage.tick();
      const e = stage.drain();
      upserts.push(...e.upserts);
      dispatches.push(...e.dispatches);
    }

    assert.ok(anomalies.some((a) => a.labels.service === 'checkout'), 'the planted stretch is an anomaly');
    const fps = new Set(upserts.map((u) => u.fingerprint));
    assert.equal(fps.size, 1, `alerts: ${[...fps].join(', ')}`);
    const last = upserts.at(-1)!;
    assert.deepEqual({ ...last.labels }, { service: 'checkout', tenant: 'acme', rule: 'multivariate:service-health', metric: 'multivariate:service-health', severity: 'S1', owner: 'platform' });
    assert.equal(last.seriesId, entityId('acme', 'service-health', 'service=checkout'));
    assert.equal(last.state, 'resolved');
    assert.ok(last.endsAt! > T0 + 1130 * MIN && last.endsAt! < T0 + 1170 * MIN, `resolved at step ${(last.endsAt! - T0) / MIN}`);
    const firing = upserts.filter((u) => u.state === 'firing');
    assert.ok(firing.length > 0, 'it fired');
    assert.ok(firing.every((u) => u.startsAt > T0 + 1130 * MIN), 'not before the planted stretch');
    const packet = firing.at(-1)!.packet as { multivariate: { explanation: string; features: { feature: string; z: number }[] } };
    assert.equal(packet.multivariate.features[0].feature, 'latency_p95');
    assert.ok(packet.multivariate.features[0].z > 0);
    // The episode's contributions (a mean over its anomalous vectors), not one vector's.
    assert.match(packet.multivariate.explanation, /^latency_p95 up .* while .*qps.* flat$/);
    // One episode: one firing and one resolved notification to the routed receiver.
    const notes = dispatches.filter((d) => d.kind === 'notify');
    assert.deepEqual(notes.map((d) => `${d.receiver} ${d.status}`), ['oncall firing', 'oncall resolved']);
    assert.match(notes[0].alerts[0].explanation ?? '', /^latency_p95 up/);
  });

  it('severity comes from the config; S3 and a rule of the same name are refused', () => {
    const s2 = loadConfig(YAML('acme', '    severity: S2\n'), 't.yaml');
    assert.equal(s2.config!.multivariate![0].severity, 'S2');
    const s3 = loadConfig(YAML('acme', '    severity: S3\n'), 't.yaml');
    assert.ok(s3.errors.some((e) => e.path === 'multivariate[0].severity'), JSON.stringify(s3.errors));
    const clash = loadConfig(YAML('acme').replace('multivariate:\n', `rules:
  - { name: "multivariate:service-health", selector: qps, aggregation: { function: avg, window: 1m }, severity: S1, owner: platform }
multivariate:\n`), 't.yaml');
    assert.deepEqual(clash.errors.map((e) => `${e.path}: ${e.message}`), ["multivariate[0].name: its alerts run under the rule name 'multivariate:service-health', which a rule already has: rename the rule or the detector"]);
  });
});

describe('multivariate checkpoints', () => {
  const STEPS = 1200;
  const RESTART = 502; // the second fit starts at step 497 and builds 10 trees a vector until 506: mid-refit
  const data = values(STEPS, PLANTED);

  async function ingestStep(engine: Engine, s: number, setNow: (t: number) => void): Promise<void> {
    const t = T0 + s * MIN + 5_000;
    setNow(t + 1_000);
    const b = new IngestBatch({ now: () => t + 1_000, maxFutureMs: 86_400_000 });
    for (const service of SERVICES) {
      const v = data.get(service)!;
      const lab = ['region', 'eu', 'service', service];
      b.addSample(b.openSeries('latency_p95_ms', lab, lab.length, 'gauge', 1), t, v[s * 3]);
      b.addSample(b.openSeries('qps', lab, lab.length, 'gauge', 1), t, v[s * 3 + 1]);
      b.addSample(b.openSeries('cpu', ['service', service], 2, 'gauge', 1), t, v[s * 3 + 2]);
    }
    await engine.ingest('default', b);
  }

  /** Runs the stream, restarting (engine and store) before step `restartAt`; returns the anomalies after it and the final forests. */
  async function run(restartAt: number | undefined): Promise<{ after: string[]; forests: unknown; refitting: boolean; restored: number }> {
    const dir = mkdtempSync(join(tmpdir(), 'tidemark-mvcp-'));
    let now = T0;
    const clock = () => now;
    const setNow = (t: number) => (now = t);
    let store = await openSqliteStore({ dataDir: dir, now: clock });
    let engine = await createEngine({ store, clock, checkpointIntervalMs: 0, alerting: false });
    const after: string[] = [];
    const listen = (e: Engine) => (e.onAnomaly = (a) => {
      if (a.metric.startsWith('multivariate:') && a.t > T0 + (restartAt ?? RESTART) * MIN) after.push(`${a.labels.service}@${a.t} ${a.score}`);
    });
    listen(engine);
    let refitting = false;
    let restored = 0;
    try {
      await engine.putConfig(YAML('default'), 'test', null);
      for (let s = 0; s < STEPS; s++) {
        if (s === restartAt) {
          const snap = engine.multivariate.snapshot('default', 'service-health') as Record<string, { refit: unknown }>;
          refitting = snap['service=checkout'].refit != null;
          await engine.close();
          await store.close();
          store = await openSqliteStore({ dataDir: dir, now: clock });
          engine = await createEngine({ store, clock, checkpointIntervalMs: 0, alerting: false });
          listen(engine);
          restored = Object.keys(engine.multivariate.snapshot('default', 'service-health')).length;
        }
        await ingestStep(engine, s, setNow);
      }
      return { after, forests: engine.multivariate.snapshot('default', 'service-health'), refitting, restored };
    } finally {
      await engine.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }

  for (const restartAt of [undefined, 1140]) {
    it(`through the engine: the alert stage, the store and the dispatches${restartAt ? ', restarted while the alert fires' : ''}`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'tidemark-mval-'));
      let now = T0;
      const clock = () => now;
      let store = await openSqliteStore({ dataDir: dir, now: clock });
      const sent: Dispatch[] = [];
      const open = () => createEngine({ store, clock, checkpointIntervalMs: 0, alerting: { sink: (d) => sent.push(d) } });
      let engine = await open();
      try {
        await engine.putConfig(YAML('default', '    cascade: { every: 1 }\n'), 'test', null);
        let startsAt = NaN;
        for (let s = 0; s < STEPS; s++) {
          if (s === restartAt) {
            await engine.close();
            const before = await store.alerts.list({ tenant: 'default' });
            assert.deepEqual(before.map((a) => a.state), ['firing']);
            startsAt = before[0].startsAt;
            await store.close();
            store = await openSqliteStore({ dataDir: dir, now: clock });
            engine = await open();
          }
          await ingestStep(engine, s, (t) => (now = t));
          engine.alerting!.pump();
        }
        now += 15 * MIN;
        engine.alerting!.pump();
        await engine.alerting!.settled();
        const alerts = await store.alerts.list({ tenant: 'default' });
        assert.deepEqual(alerts.map((a) => `${a.metric} ${a.labels.service} ${a.state}`), ['multivariate:service-health checkout resolved']);
        // The restarted engine took the open episode up (restored alert, restored forest) and resolved it.
        if (restartAt) assert.equal(alerts[0].startsAt, startsAt);
        const packet = alerts[0].packet as { multivariate?: { features: { feature: string }[] } };
        assert.equal(packet.multivariate?.features[0].feature, 'latency_p95');
        const notes = sent.filter((d) => d.kind === 'notify').map((d) => `${d.receiver} ${d.status}`);
        // A sink leaves no notification log, so the restarted engine cannot know the firing was sent.
        assert.deepEqual(notes, restartAt ? ['oncall firing', 'oncall firing', 'oncall resolved'] : ['oncall firing', 'oncall resolved']);
      } finally {
        await engine.close();
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('an engine restarted mid-stream (mid-refit) scores afterwards exactly as one that ran through', async () => {
    const through = await run(undefined);
    const restarted = await run(RESTART);
    assert.ok(restarted.refitting, 'the restart falls in a refit');
    assert.equal(restarted.restored, 3, 'all three entities came back from checkpoints');
    assert.ok(through.after.some((a) => a.startsWith('checkout@')), `planted anomalies: ${through.after.join(', ')}`);
    assert.deepEqual(restarted.after, through.after);
    assert.deepEqual(restarted.forests, through.forests);
  });
});
