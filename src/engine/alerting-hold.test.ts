// End to end through the engine with the default profile, whose novelty reports a condition once
// and scores the points after it 0 while it lasts: the alert stays open while the value stays
// outside the band, so a rule with `for` fires, and it does not resolve a point after firing;
// the level coming back is that episode's recovery, not a new alert; and a 2-of-3 trigger fires.
// (S0: log-only alerts, the same lifecycle without notifications.)
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { IngestBatch } from '../ingest/index.ts';
import { openSqliteStore } from '../store/index.ts';
import { createEngine } from './index.ts';

const STEP = 60_000;
const T0 = Date.UTC(2025, 6, 7);
const DROP = 500; // points of learning, then latency at 40% for 100 points, then back
const BACK = DROP + 100;

test('e2e: a latency drop reported once holds a `for: 3m` rule firing until the band takes it in; its return is the recovery', async () => {
  let now = T0;
  const dir = mkdtempSync(join(tmpdir(), 'tidemark-hold-'));
  const store = await openSqliteStore({ dataDir: dir, now: () => now });
  const engine = await createEngine({ store, clock: () => now, checkpointIntervalMs: 0, alerting: {} });
  try {
    await engine.putConfig(`
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
`, 'test', null);
    let seed = 7;
    const noise = () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 4;
    const states: string[] = [];
    const states2: string[] = []; // service b, judged by the 2-of-3 rule
    // The learning points in batches of 50 (one commit each), then one point per batch.
    for (let i = 0; i < BACK + 60; ) {
      const n = i < DROP ? Math.min(50, DROP - i) : 1;
      now = T0 + (i + n - 1) * STEP + 1000;
      const b = new IngestBatch({ now: () => now, maxFutureMs: 10 * 60_000 });
      const ref = b.openSeries('latency', ['service', 'a'], 2, 'gauge', 1);
      const ref2 = b.openSeries('latency', ['service', 'b'], 2, 'gauge', 1);
      for (let k = i; k < i + n; k++) {
        const x = (k >= DROP && k < BACK ? 40 : 100) + noise();
        b.addSample(ref, T0 + k * STEP, x);
        b.addSample(ref2, T0 + k * STEP, x);
      }
      await engine.ingest('default', b);
      engine.alerting!.pump();
      await engine.alerting!.settled();
      const alerts = await store.alerts.list({ tenant: 'default' });
      const state = alerts.find((a) => a.labels.service === 'a')?.state ?? '-';
      const state2 = alerts.find((a) => a.labels.service === 'b')?.state ?? '-';
      for (let k = 0; k < n; k++) {
        states.push(state);
        states2.push(state2);
      }
      i += n;
    }
    assert.deepEqual(states.slice(0, DROP), Array(DROP).fill('-'), 'quiet while learning and before the drop');
    assert.equal(states[DROP], 'pending', 'the drop opens the alert');
    assert.equal(states[DROP + 3], 'firing', '`for: 3m` reached: the value stayed outside the band');
    const resolved = states.indexOf('resolved', DROP);
    assert.ok(resolved > DROP + 20 && resolved < BACK, `firing for ${resolved - DROP} of the drop's 100 minutes, not one`);
    assert.deepEqual(states.slice(DROP + 3, resolved), Array(resolved - DROP - 3).fill('firing'), 'one episode, no flapping');
    // The latency coming back (novelty reports it against the moved band) is the recovery: noted
    // on the episode, no new one.
    assert.deepEqual(states.slice(resolved), Array(states.length - resolved).fill('resolved'));
    const alert = (await store.alerts.list({ tenant: 'default' })).find((a) => a.labels.service === 'a');
    assert.equal(alert!.startsAt, T0 + DROP * STEP);
    assert.match(JSON.stringify(alert!.packet), /the recovery, not a new incident/);
    // 2 of 3: the report and the point after it, still outside the band (the engine passes a
    // series' next points while its trigger window holds one).
    assert.equal(states2[DROP], '-');
    assert.equal(states2[DROP + 1], 'firing');
  } finally {
    await engine.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
