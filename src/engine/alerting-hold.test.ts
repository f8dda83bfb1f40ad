// End to end through the engine with the default profile, whose novelty reports a condition once
// and scores the points after it 0 while it lasts: the alert stays open while the value stays
// outside the band, so a rule with `for` fires, and it does not resolve a point after firing;
// the level coming back is that episode's recovery, not a new alert; and a 2-of-3 trigger fires.
// A stuck exporter (no_data's stuck value) opens one alert that holds while the value stays stuck.
// (S0: log-only alerts, the same lifecycle without notifications.)
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { IngestBatch } from '../ingest/index.ts';
import { openSqliteStore, type Store } from '../store/index.ts';
import { createEngine } from './index.ts';

const STEP = 60_000;
const T0 = Date.UTC(2025, 6, 7);

/**
 * Runs `points` minute points through an engine on a fresh SQLite store with `config`: the first
 * `learn` in batches of 50 (one commit each), then one point per batch. `sample(b, k)` adds point
 * k's samples to batch b. After each batch, `look(alerts)` reads the alerts once for each point
 * of the batch. Returns the store's alerts at the end.
 */
async function drive(
  config: string,
  learn: number,
  points: number,
  sample: (b: IngestBatch, k: number) => void,
  look: (alerts: Awaited<ReturnType<Store['alerts']['list']>>, n: number) => void,
) {
  let now = T0;
  const dir = mkdtempSync(join(tmpdir(), 'tidemark-hold-'));
  const store = await openSqliteStore({ dataDir: dir, now: () => now });
  const engine = await createEngine({ store, clock: () => now, checkpointIntervalMs: 0, alerting: {} });
  try {
    await engine.putConfig(config, 'test', null);
    for (let i = 0; i < points; ) {
      const n = i < learn ? Math.min(50, learn - i) : 1;
      now = T0 + (i + n - 1) * STEP + 1000;
      const b = new IngestBatch({ now: () => now, maxFutureMs: 10 * 60_000 });
      for (let k = i; k < i + n; k++) sample(b, k);
      await engine.ingest('default', b);
      engine.alerting!.pump();
      await engine.alerting!.settled();
      look(await store.alerts.list({ tenant: 'default' }), n);
      i += n;
    }
    return await store.alerts.list({ tenant: 'default' });
  } finally {
    await engine.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const DROP = 500; // points of learning, then latency at 40% for 100 points, then back
const BACK = DROP + 100;

test('e2e: a latency drop reported once holds a `for: 3m` rule firing until the band takes it in; its return is the recovery', async () => {
  let seed = 7;
  const noise = () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 4;
  const states: string[] = [];
  const states2: string[] = []; // service b, judged by the 2-of-3 rule
  const alerts = await drive(
    `
tenant: default
metrics:
  - { name: latency, type: gauge, unit: ms, help: request latency, labels: [service] }
rules:
  - name: latency
    selector: 'latency{service="a"}'
    aggregation: { function: avg, window: 1m }
    sensitivity: high
    severity: S0
    owner: team-a
    timing: { for: 3m }
  - name: latency-2-of-3
    selector: 'latency{service="b"}'
    aggregation: { function: avg, window: 1m }
    sensitivity: high
    severity: S0
    owner: team-a
    timing: { trigger: { m: 2, n: 3 } }
`,
    DROP,
    BACK + 60,
    (b, k) => {
      const ref = b.openSeries('latency', ['service', 'a'], 2, 'gauge', 1);
      const ref2 = b.openSeries('latency', ['service', 'b'], 2, 'gauge', 1);
      const x = (k >= DROP && k < BACK ? 40 : 100) + noise();
      b.addSample(ref, T0 + k * STEP, x);
      b.addSample(ref2, T0 + k * STEP, x);
    },
    (list, n) => {
      const state = list.find((a) => a.labels.service === 'a')?.state ?? '-';
      const state2 = list.find((a) => a.labels.service === 'b')?.state ?? '-';
      for (let k = 0; k < n; k++) {
        states.push(state);
        states2.push(state2);
      }
    },
  );
  assert.deepEqual(states.slice(0, DROP), Array(DROP).fill('-'), 'quiet while learning and before the drop');
  assert.equal(states[DROP], 'pending', 'the drop opens the alert');
  assert.equal(states[DROP + 3], 'firing', '`for: 3m` reached: the value stayed outside the band');
  const resolved = states.indexOf('resolved', DROP);
  assert.ok(resolved > DROP + 20 && resolved < BACK, `firing for ${resolved - DROP} of the drop's 100 minutes, not one`);
  assert.deepEqual(states.slice(DROP + 3, resolved), Array(resolved - DROP - 3).fill('firing'), 'one episode, no flapping');
  // The latency coming back (novelty reports it against the moved band) is the recovery: noted
  // on the episode, no new one.
  assert.deepEqual(states.slice(resolved), Array(states.length - resolved).fill('resolved'));
  const alert = alerts.find((a) => a.labels.service === 'a');
  assert.equal(alert!.startsAt, T0 + DROP * STEP);
  assert.match(JSON.stringify(alert!.packet), /the recovery, not a new incident/);
  // 2 of 3: the report and the point after it, still outside the band (the engine passes a
  // series' next points while its trigger window holds one).
  assert.equal(states2[DROP], '-');
  assert.equal(states2[DROP + 1], 'firing');
});

const STUCK = 900; // points of learning, then the value repeated for 60 points, then moving again
const MOVES = STUCK + 60;

test('e2e: a stuck exporter opens one alert at its tenth minute that holds while it is stuck and resolves once it moves', async () => {
  // The models skip the stuck hour (no_data hides it from them), so its end is no new alert.
  let seed = 11;
  const noise = () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 6;
  const states: string[] = [];
  let held = NaN;
  const [alert, ...more] = await drive(
    `
tenant: default
metrics:
  - { name: cpu, type: gauge, unit: percent, help: cpu busy, labels: [host] }
rules:
  - name: cpu
    selector: 'cpu{host="a"}'
    aggregation: { function: avg, window: 1m }
    severity: S0
    owner: team-a
`,
    STUCK,
    MOVES + 60,
    (b, k) => {
      const ref = b.openSeries('cpu', ['host', 'a'], 2, 'gauge', 1);
      let x = 40 + 10 * Math.sin((2 * Math.PI * k) / 1440) + noise();
      if (k === STUCK) held = x;
      if (k > STUCK && k < MOVES) x = held;
      b.addSample(ref, T0 + k * STEP, x);
    },
    (list, n) => {
      for (let k = 0; k < n; k++) states.push(list.length === 0 ? '-' : list.map((a) => a.state).join(','));
    },
  );
  assert.deepEqual(states.slice(0, STUCK + 9), Array(STUCK + 9).fill('-'), 'quiet before the tenth stuck minute');
  assert.equal(states[STUCK + 9], 'firing', 'the tenth minute of the same value opens the alert');
  const resolved = states.indexOf('resolved', STUCK);
  assert.ok(resolved >= MOVES, `firing while stuck (resolved at ${resolved - STUCK} of its 60 minutes)`);
  assert.deepEqual(states.slice(resolved), Array(states.length - resolved).fill('resolved'), 'one episode: the value moving again is no new alert');
  assert.equal(more.length, 0);
  assert.equal(alert.startsAt, T0 + (STUCK + 9) * STEP);
  assert.match(JSON.stringify(alert), /stuck/);
});
