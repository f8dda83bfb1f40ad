// End to end through the engine with the default profile: a gauge whose exporter sticks (the
// same value, exactly, for an hour) opens one data-quality alert at its tenth minute, which stays
// open while the value stays stuck (no_data says the condition goes on, scoring its points 0) and
// resolves once it moves; the models skip the stuck hour, so its end is no new alert.
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
const STUCK = 900; // points of learning, then the value repeated for 60 points, then moving again
const MOVES = STUCK + 60;

test('e2e: a stuck exporter opens one alert at its tenth minute that holds while it is stuck and resolves once it moves', async () => {
  let now = T0;
  const dir = mkdtempSync(join(tmpdir(), 'tidemark-stuck-'));
  const store = await openSqliteStore({ dataDir: dir, now: () => now });
  const engine = await createEngine({ store, clock: () => now, checkpointIntervalMs: 0, alerting: {} });
  try {
    await engine.putConfig(`
tenant: default
metrics:
  - { name: cpu, type: gauge, unit: percent, help: cpu busy, labels: [host] }
rules:
  - name: cpu
    selector: 'cpu{host="a"}'
    aggregation: { function: avg, window: 1m }
    severity: S0
    owner: team-a
`, 'test', null);
    let seed = 11;
    const noise = () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 6;
    const states: string[] = [];
    let held = NaN;
    for (let i = 0; i < MOVES + 60; ) {
      const n = i < STUCK ? Math.min(50, STUCK - i) : 1;
      now = T0 + (i + n - 1) * STEP + 1000;
      const b = new IngestBatch({ now: () => now, maxFutureMs: 10 * 60_000 });
      const ref = b.openSeries('cpu', ['host', 'a'], 2, 'gauge', 1);
      for (let k = i; k < i + n; k++) {
        let x = 40 + 10 * Math.sin((2 * Math.PI * k) / 1440) + noise();
        if (k === STUCK) held = x;
        if (k > STUCK && k < MOVES) x = held;
        b.addSample(ref, T0 + k * STEP, x);
      }
      await engine.ingest('default', b);
      engine.alerting!.pump();
      await engine.alerting!.settled();
      const alerts = await store.alerts.list({ tenant: 'default' });
      for (let k = 0; k < n; k++) states.push(alerts.length === 0 ? '-' : alerts.map((a) => a.state).join(','));
      i += n;
    }
    assert.deepEqual(states.slice(0, STUCK + 9), Array(STUCK + 9).fill('-'), 'quiet before the tenth stuck minute');
    assert.equal(states[STUCK + 9], 'firing', 'the tenth minute of the same value opens the alert');
    const resolved = states.indexOf('resolved', STUCK);
    assert.ok(resolved >= MOVES, `firing while stuck (resolved at ${resolved - STUCK} of its 60 minutes)`);
    assert.deepEqual(states.slice(resolved), Array(states.length - resolved).fill('resolved'), 'one episode: the value moving again is no new alert');
    const [alert] = await store.alerts.list({ tenant: 'default' });
    assert.equal(alert.startsAt, T0 + (STUCK + 9) * STEP);
    assert.match(JSON.stringify(alert), /stuck/);
  } finally {
    await engine.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
