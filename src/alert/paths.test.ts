// Response paths: anomalies may page, drift notifies and never pages, data-quality alerts go to
// the owning pipeline's receiver.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../config/index.ts';
import { responsePath } from './route.ts';
import { alertFingerprint } from './stage.ts';
import { MIN, Sim, T0, testConfigYaml } from './testkit.ts';
import type { VerdictView } from './types.ts';

const EU_A = { service: 'a', region: 'eu' };
const STEP = 15_000;
const FP = alertFingerprint('t1', 'lat', 'latency', EU_A);

/** Feeds `latency` for service a with the given reason, with impact (ok_ratio 0.9 < 0.98) present. */
function fire(sim: Sim, reason: string, source: string): void {
  sim.point(100, 'ok_ratio', { region: 'eu' }, T0 - 1000, 0.9, 0);
  const v: VerdictView = { score: 1, expected: 10, lower: 5, upper: 15, learning: false, reasons: [reason], sources: [source] };
  if (sim.stage.watch[1] === 0 || sim.stage.watch.length <= 1) sim.stage.classify('t1', 1, 'latency', EU_A, 'lat', sim.version);
  for (let t = T0; t < T0 + 3 * MIN; t += STEP) {
    sim.advance(t);
    sim.stage.observe('t1', 1, 'latency', EU_A, 'lat', 0.9, t, 50, v, sim.version);
    sim.collect();
  }
}

const cases = [
  { reason: 'level_shift_up', source: 'novelty', path: 'anomaly', severity: 'S2', receiver: 'pager' },
  { reason: 'spike', source: 'robust_z', path: 'anomaly', severity: 'S2', receiver: 'pager' },
  { reason: 'drift', source: 'drift', path: 'drift', severity: 'S1', receiver: 'chat' },
  { reason: 'unit_change', source: 'unit_change', path: 'data_quality', severity: 'S2', receiver: 'boss' },
  { reason: 'null_rate', source: 'null_rate', path: 'data_quality', severity: 'S2', receiver: 'boss' },
] as const;

for (const c of cases) {
  test(`${c.reason}: path ${c.path}, ${c.severity}, to ${c.receiver}`, () => {
    const sim = new Sim(testConfigYaml('', '    data_quality_receiver: boss'));
    fire(sim, c.reason, c.source);
    const u = sim.lastUpsert(FP)!;
    assert.equal(u.state, 'firing');
    assert.equal(u.severity, c.severity);
    assert.equal(u.labels.response_path, c.path === 'anomaly' ? undefined : c.path);
    const sent = sim.take('notify');
    assert.deepEqual([...new Set(sent.map((d) => d.receiver))], [c.receiver]);
    if (c.path === 'drift') {
      assert.equal(sent[0].page, false);
      const p = u.packet as { suppressions: { kind: string; reason: string }[] };
      assert.ok(p.suppressions.some((s) => s.kind === 'gate' && /drift opens an investigation/.test(s.reason)));
    }
  });
}

test('without data_quality_receiver, data-quality alerts follow the routing tree, which can match response_path', () => {
  const yaml = testConfigYaml().replace(
    `  routes:
    - match: { severity: S2 }`,
    `  routes:
    - match: { response_path: data_quality }
      receiver: boss
    - match: { severity: S2 }`,
  );
  const sim = new Sim(yaml);
  fire(sim, 'unit_change', 'unit_change');
  assert.deepEqual([...new Set(sim.take('notify').map((d) => d.receiver))], ['boss']);
});

test('config: data_quality_receiver must name a receiver', () => {
  const { errors } = loadConfig(testConfigYaml('', '    data_quality_receiver: pipelines'), 't.yaml');
  assert.ok(errors.some((e) => e.path === 'rules[0].data_quality_receiver' && /receiver 'pipelines' is not defined/.test(e.message)), JSON.stringify(errors));
});

test('responsePath reads the strongest reason', () => {
  assert.equal(responsePath(['drift', 'spike']), 'drift');
  assert.equal(responsePath(['spike', 'drift']), 'anomaly');
  assert.equal(responsePath(['impossible_value']), 'data_quality');
  assert.equal(responsePath([]), 'anomaly');
});
