// The alerting runner's send lanes: a group's dispatches go out in order, so a resolve never
// overtakes a page that is still being retried (the receiver would end up believing it fires),
// while other groups of the same receiver are not held behind it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { VerdictView } from '../alert/index.ts';
import { loadConfigOrThrow } from '../config/index.ts';
import { Alerting } from './alerting.ts';
import { HOT, storeAndReceiver } from './testkit.ts';

const COLD: VerdictView = { score: 0, expected: 10, lower: 5, upper: 15, learning: false, reasons: ['normal'], sources: ['threshold'] };

const fx = storeAndReceiver('lanes');

test('a resolve waits for its page\'s retries; another group of the receiver goes meanwhile', async () => {
  const config = loadConfigOrThrow(`
tenant: lanes
metrics:
  - { name: latency, type: gauge, unit: s, help: x, labels: [shard] }
receivers:
  - name: hook
    webhook: { url: '${fx.rx.url}/hook' }
rules:
  - name: lat
    selector: latency
    aggregation: { function: avg, window: 1m }
    severity: S1
    owner: team-a
    receiver: hook
    group_by: [shard]
    timing: { for: 0s, keep_firing_for: 0s, group_wait: 0s, group_interval: 1s, trigger: { m: 1, n: 1 }, recovery: { points: 1 } }
`, 'lanes.yaml');
  let now = Date.UTC(2025, 6, 1, 12);
  let release!: () => void;
  const retryGate = new Promise<void>((r) => (release = r));
  const alerting = new Alerting(fx.store, () => now, () => ({ config, version: 1 }), {
    packets: false,
    // The first attempt of shard a's page fails with a 503; its retry waits until the test says so.
    notify: { retry: { attempts: 3, baseMs: 1, maxMs: 1 }, hooks: { sleep: () => retryGate } },
  });
  const stage = alerting.stage;
  const a = { shard: 'a' };
  const b = { shard: 'b' };
  stage.classify('lanes', 1, 'latency', a, 'lat', 1);
  stage.classify('lanes', 2, 'latency', b, 'lat', 1);
  fx.rx.script = [{ status: 503 }];
  stage.observe('lanes', 1, 'latency', a, 'lat', 0.9, now, 50, HOT, 1);
  alerting.pump(); // shard a's page: first attempt answered 503, retry held
  const kinds = () => fx.rx.received.map((r) => { const x = r.body as { status: string; groupLabels: { shard: string } }; return `${x.groupLabels.shard}:${x.status}`; });
  for (let i = 0; i < 200 && fx.rx.received.length < 1; i++) await new Promise((r) => setTimeout(r, 10));
  now += 2_000;
  stage.observe('lanes', 1, 'latency', a, 'lat', 0.9, now, 10, COLD, 1); // shard a resolves
  stage.observe('lanes', 2, 'latency', b, 'lat', 0.9, now, 50, HOT, 1); // shard b starts
  alerting.pump();
  for (let i = 0; i < 200 && fx.rx.received.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 100)); // a resolve overtaking the retry would have arrived by now
  assert.deepEqual(kinds(), ['a:firing', 'b:firing'], 'b is not held behind a; a\'s resolve waits for its page');
  assert.equal(alerting.backlog(), 2, 'a\'s page (retrying) and its resolve (queued)');
  release();
  await alerting.settled();
  assert.deepEqual(kinds(), ['a:firing', 'b:firing', 'a:firing', 'a:resolved']);
  await alerting.close();
});
