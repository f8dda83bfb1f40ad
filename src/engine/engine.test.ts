import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { IngestBatch } from '../ingest/index.ts';
import { openSqliteStore, type Store } from '../store/index.ts';
import { createEngine, type Engine } from './index.ts';

const T0 = 1_700_000_000_000;
const MIN = 60_000;
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

interface Point {
  metric: string;
  labels?: Record<string, string>;
  t: number;
  v: number;
  stale?: boolean;
}

let now = T0 + 1000 * MIN;
const clock = () => now;

function batchOf(points: Point[]): IngestBatch {
  const b = new IngestBatch({ now: clock, maxFutureMs: 10 * 365 * 86400_000 });
  for (const p of points) {
    const flat = Object.entries(p.labels ?? {}).flat();
    const s = b.openSeries(p.metric, flat, flat.length, 'gauge', 1);
    if (p.stale) b.addStale(s, p.t);
    else b.addSample(s, p.t, p.v);
  }
  return b;
}

/** A daily-ish wave with deterministic noise, one point a minute. */
function wave(metric: string, labels: Record<string, string>, from: number, count: number, level = 100): Point[] {
  const out: Point[] = [];
  for (let i = 0; i < count; i++) {
    const t = T0 + (from + i) * MIN;
    out.push({ metric, labels, t, v: level + 10 * Math.sin((from + i) / 60) + ((((from + i) * 7919) % 13) - 6) * 0.3 });
  }
  return out;
}

async function open(dir?: string): Promise<{ store: Store; engine: Engine; dir: string }> {
  const d = dir ?? mkdtempSync(join(tmpdir(), 'tidemark-engine-'));
  if (!dir) dirs.push(d);
  const store = await openSqliteStore({ dataDir: d, now: clock });
  await store.tenants.create({ id: 'default', name: 'default' });
  await store.tenants.create({ id: 'other', name: 'other' });
  const engine = await createEngine({ store, clock, checkpointIntervalMs: 0 });
  return { store, engine, dir: d };
}

const CONFIG = (extra: string) => `
tenant: default
limits:
  active_series: 3
  label_values_per_metric: 2
metrics:
  - name: cpu
    type: gauge
    unit: ratio
    range: [0, 1000]
    labels: [host, region]
    deny_labels: [request_id]
${extra}`;

describe('engine', () => {
  it('judges points in time order and stores samples and bands', async () => {
    const { store, engine } = await open();
    const pts = wave('latency', { service: 'auth' }, 0, 400);
    const o = await engine.ingest('default', batchOf(pts));
    assert.equal(o.accepted, 400);
    assert.equal(o.judged, 400);
    assert.deepEqual([...o.rejected.keys()], []);
    const [id] = await store.series.intern([{ tenant: 'default', metric: 'latency', labels: { service: 'auth' } }]);
    const stored = await store.samples.range('default', id, 0, T0 + 10_000 * MIN);
    assert.equal(stored.t.length, 400);
    const bands = await store.samples.bands('default', id, 0, T0 + 10_000 * MIN);
    assert.ok(bands.t.length > 100, `bands once learning is over, got ${bands.t.length}`);
    assert.ok(bands.score.every((x) => x >= 0 && x <= 1));
    assert.ok(Number.isFinite(bands.expected[bands.t.length - 1]), 'a learned band by the end');
    await store.close();
  });

  it('orders a shuffled batch per series before judging', async () => {
    const { engine } = await open();
    const pts = wave('q', {}, 0, 50).reverse();
    const o = await engine.ingest('default', batchOf(pts));
    assert.equal(o.judged, 50);
    assert.equal(engine.seriesInfo('default', 'q')?.lastT, T0 + 49 * MIN);
  });

  const ooo = [
    { name: 'a duplicate is accepted idempotently', t: T0 + 99 * MIN, accepted: 1, duplicates: 1, rejected: undefined },
    { name: 'a late point inside the tolerance is stored, not judged', t: T0 + 97 * MIN + 1, accepted: 1, duplicates: 0, rejected: undefined },
    { name: 'a point older than the tolerance is rejected as too_old', t: T0 + 90 * MIN, accepted: 0, duplicates: 0, rejected: 'too_old' },
  ];
  for (const c of ooo) {
    it(c.name, async () => {
      const { engine } = await open();
      await engine.ingest('default', batchOf(wave('m', {}, 0, 100)));
      const o = await engine.ingest('default', batchOf([{ metric: 'm', t: c.t, v: 1 }]));
      assert.equal(o.accepted, c.accepted);
      assert.equal(o.duplicates, c.duplicates);
      assert.equal(o.judged, 0);
      assert.deepEqual([...o.rejected.keys()], c.rejected ? [c.rejected] : []);
      if (c.rejected) assert.match(o.rejected.get(c.rejected)!.examples[0].problem, /out-of-order tolerance of 300000 ms/);
    });
  }

  it('creates a series once when concurrent batches bring it', async () => {
    const { engine, store } = await open();
    const [a, b] = await Promise.all([engine.ingest('default', batchOf(wave('c', { x: '1' }, 0, 5))), engine.ingest('default', batchOf(wave('c', { x: '1' }, 5, 5)))]);
    assert.equal(a.accepted + b.accepted, 10);
    assert.equal((await store.series.find('default', [{ name: '__name__', op: '=', value: 'c' }])).length, 1);
    assert.equal(engine.stats().activeSeries.get('default'), 1);
  });

  it('ends a series on a staleness marker without storing it', async () => {
    const { engine } = await open();
    const o = await engine.ingest('default', batchOf([...wave('s', {}, 0, 3), { metric: 's', t: T0 + 3 * MIN, v: NaN, stale: true }]));
    assert.equal(o.stale, 1);
    assert.equal(o.accepted, 3);
  });

  it('records anomalies tagged with the config version', async () => {
    const { engine } = await open();
    const put = await engine.putConfig(CONFIG(''), 'test', 'first');
    assert.equal(put.version.version, 1);
    await engine.ingest('default', batchOf(wave('cpu', { host: 'a' }, 0, 600)));
    const o = await engine.ingest('default', batchOf([{ metric: 'cpu', labels: { host: 'a' }, t: T0 + 600 * MIN, v: 900 }]));
    assert.equal(o.anomalies, 1);
    const [a] = engine.anomalies('default');
    assert.equal(a.configVersion, 1);
    assert.equal(a.value, 900);
    assert.ok(a.score >= 0.9 && a.upper < 900, `score ${a.score}, upper ${a.upper}`);
    assert.deepEqual(engine.anomalies('other'), []);
  });

  const contract: { name: string; p: Omit<Point, 't'>; reason: string; msg: RegExp }[] = [
    { name: 'undeclared metric', p: { metric: 'mem', labels: {}, v: 1 }, reason: 'undeclared_metric', msg: /metric mem is not declared/ },
    { name: 'label outside the allowed list', p: { metric: 'cpu', labels: { zone: 'z' }, v: 1 }, reason: 'label_not_allowed', msg: /label zone is not among the allowed labels of metric cpu: host, region/ },
    { name: 'denied label', p: { metric: 'cpu', labels: { request_id: 'r1' }, v: 1 }, reason: 'label_denied', msg: /label request_id is on the deny list of metric cpu/ },
    { name: 'value out of range', p: { metric: 'cpu', labels: { host: 'a' }, v: 5000 }, reason: 'out_of_range', msg: /5000 is outside the valid range \[0, 1000\] of metric cpu/ },
  ];
  for (const c of contract) {
    it(`enforces the metric schema: ${c.name}`, async () => {
      const { engine } = await open();
      await engine.putConfig(CONFIG(''), 'test', null);
      const o = await engine.ingest('default', batchOf([{ ...c.p, t: T0 }]));
      assert.equal(o.accepted, 0);
      assert.deepEqual([...o.rejected.keys()], [c.reason]);
      assert.match(o.rejected.get(c.reason)!.examples[0].problem, c.msg);
    });
  }

  it('refuses only new series beyond the limits, naming metric and label; others flow', async () => {
    const { engine } = await open();
    await engine.putConfig(CONFIG(''), 'test', null);
    // Two hosts fill the label-value limit (2) of cpu.host.
    let o = await engine.ingest('default', batchOf([{ metric: 'cpu', labels: { host: 'a' }, t: T0, v: 1 }, { metric: 'cpu', labels: { host: 'b' }, t: T0, v: 1 }]));
    assert.equal(o.accepted, 2);
    o = await engine.ingest('default', batchOf([
      { metric: 'cpu', labels: { host: 'a' }, t: T0 + MIN, v: 2 },
      { metric: 'cpu', labels: { host: 'c' }, t: T0 + MIN, v: 2 },
    ]));
    assert.equal(o.accepted, 1, 'the existing series keeps flowing');
    assert.equal(o.cardinality?.metric, 'cpu');
    assert.equal(o.cardinality?.label, 'host');
    assert.match(o.cardinality!.message, /metric cpu already has 2 values of label host \(limit 2\)/);
    // The third series reaches the tenant limit (3); the fourth is refused.
    o = await engine.ingest('default', batchOf([{ metric: 'cpu', labels: { host: 'a', region: 'eu' }, t: T0, v: 1 }]));
    assert.equal(o.accepted, 1);
    o = await engine.ingest('default', batchOf([{ metric: 'cpu', labels: { host: 'b', region: 'us' }, t: T0, v: 1 }]));
    assert.deepEqual([...o.rejected.keys()], ['series_limit']);
    assert.match(o.cardinality!.message, /tenant default has 3 active series \(limit 3\); new series of cpu are refused/);
    // Another tenant (no config: default limits) is not affected.
    o = await engine.ingest('other', batchOf([{ metric: 'cpu', labels: { host: 'z' }, t: T0, v: 1 }]));
    assert.equal(o.accepted, 1);
    assert.equal(engine.stats().activeSeries.get('default'), 3);
  });

  it('rejects an invalid config with every problem and keeps the running one', async () => {
    const { engine } = await open();
    await engine.putConfig(CONFIG(''), 'test', null);
    await assert.rejects(engine.putConfig('tenant: default\nlimits: {active_series: -1}\nbogus: 1\n', 'test', null), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'TM_ERR_CONFIG');
      assert.match(err.message, /2 problem\(s\)/);
      return true;
    });
    assert.equal(engine.config('default').version, 1);
  });

  it('resumes from the last checkpoint plus the samples after it after a crash', async () => {
    const a = await open();
    const pts = wave('lat', { service: 'auth' }, 0, 700);
    await a.engine.ingest('default', batchOf(pts.slice(0, 600)));
    assert.ok((await a.engine.checkpoint()) >= 1);
    await a.engine.ingest('default', batchOf(pts.slice(600, 650)));
    await a.store.close(); // a crash: no engine.close(), so the last 50 points are not in a checkpoint

    const b = await open(a.dir);
    const o = await b.engine.ingest('default', batchOf(pts.slice(650)));
    assert.equal(o.judged, 50);
    const info = b.engine.seriesInfo('default', 'lat{service="auth"}');
    assert.equal(info?.origin, 'checkpoint');
    assert.equal(info?.replayed, 50);
    assert.equal(b.engine.stats().restored.checkpoint, 1);

    // The same points through one uninterrupted engine give the same bands.
    const c = await open();
    await c.engine.ingest('default', batchOf(pts));
    const idB = info!.id;
    const [idC] = await c.store.series.intern([{ tenant: 'default', metric: 'lat', labels: { service: 'auth' } }]);
    const from = T0 + 650 * MIN;
    const bandsB = await b.store.samples.bands('default', idB, from, from + 100 * MIN);
    const bandsC = await c.store.samples.bands('default', idC, from, from + 100 * MIN);
    assert.equal(bandsB.t.length, 50);
    assert.deepEqual(bandsB.expected, bandsC.expected);
    assert.deepEqual(bandsB.score, bandsC.score);
    await b.engine.close();
    await b.store.close();
  });
  // Level 100 for 100 minutes, 200 for the next 60 (a known event), then 100 again.
  const level = (i: number) => (i >= 100 && i < 160 ? 200 : 100) + (((i * 7919) % 13) - 6) * 0.5;
  // no_data in the set: a window must not read as a silence either once it ends.
  const pausing = (exclude: boolean, detectors = '[{ name: no_data }, { name: robust_z }]') => CONFIG(`rules:
  - name: cpu-level
    selector: cpu
    aggregation: { function: avg, window: 1m }
    detectors: ${detectors}
    severity: S0
    owner: team-a
    maintenance:
      - start: ${new Date(T0 + 100 * MIN).toISOString()}
        end: ${new Date(T0 + 160 * MIN).toISOString()}
        exclude_from_learning: ${exclude}
`);
  const pauseCases = [
    { name: 'excluded from learning: the event does not become the baseline', exclude: true, paused: 60, anomaliesAfter: 0 },
    { name: 'not excluded: the event becomes the baseline, the old level is anomalous', exclude: false, paused: 0, anomaliesAfter: 1 },
    { name: 'excluded, the default profile', exclude: true, paused: 60, anomaliesAfter: 0, detectors: '[{ name: impossible_value }, { name: no_data }, { name: counter_reset }, { name: unit_change }, { name: novelty }]' },
  ];
  for (const c of pauseCases) {
    it(`maintenance window, ${c.name}`, async () => {
      const { store, engine } = await open();
      await engine.putConfig(pausing(c.exclude, c.detectors), 'test', null);
      const at = (from: number, to: number) => batchOf(Array.from({ length: to - from }, (_, j) => ({ metric: 'cpu', labels: { host: 'a' }, t: T0 + (from + j) * MIN, v: level(from + j) })));
      const before = await engine.ingest('default', at(0, 100));
      assert.equal(before.anomalies, 0, 'a steady level learns quietly');
      const during = await engine.ingest('default', at(100, 160));
      assert.equal(during.paused, c.paused);
      assert.equal(during.accepted, 60, 'samples inside the window are still stored');
      if (c.exclude) assert.deepEqual([during.judged, during.anomalies], [0, 0], 'no verdict, no anomaly inside the window');
      const after = await engine.ingest('default', at(160, 161));
      assert.equal(after.judged, 1);
      assert.equal(after.anomalies, c.anomaliesAfter);
      const [id] = await store.series.intern([{ tenant: 'default', metric: 'cpu', labels: { host: 'a' } }]);
      const stored = await store.samples.range('default', id, 0, T0 + 1000 * MIN);
      assert.equal(stored.t.length, 161);
    });
  }
  it('maintenance window excluded from learning: a checkpoint and crash inside it keep the pre-window baseline', async () => {
    const a = await open();
    await a.engine.putConfig(pausing(true), 'test', null);
    const at = (from: number, to: number) => batchOf(Array.from({ length: to - from }, (_, j) => ({ metric: 'cpu', labels: { host: 'a' }, t: T0 + (from + j) * MIN, v: level(from + j) })));
    await a.engine.ingest('default', at(0, 100));
    await a.engine.ingest('default', at(100, 135)); // most of robust_z's window of 48 at the event level
    assert.ok((await a.engine.checkpoint()) >= 1);
    await a.engine.ingest('default', at(135, 145));
    await a.store.close(); // a crash: the last 10 points come back by replay

    const b = await open(a.dir);
    const during = await b.engine.ingest('default', at(145, 160));
    assert.deepEqual([during.paused, during.judged, during.anomalies], [15, 0, 0]);
    assert.equal(b.engine.seriesInfo('default', 'cpu{host="a"}')?.origin, 'checkpoint');
    const after = await b.engine.ingest('default', at(160, 161));
    assert.deepEqual([after.judged, after.anomalies], [1, 0]);
    await b.engine.close();
    await b.store.close();
  });

  it('a decoder batch shared by tenants and batches finds each tenant\'s own entry, and a new one after eviction', async () => {
    const { store, engine } = await open();
    // One batch for every request, as the API keeps it: its series cache carries the engine's entries.
    const b = new IngestBatch({ now: clock, maxFutureMs: 10 * 365 * 86400_000 });
    const feed = (tenant: string, t: number) => {
      b.reset();
      let s = b.openKnownSeries('wire-bytes-of-m');
      if (s === -2) s = b.openSeries('m', ['host', 'a'], 2, 'gauge', 1, 'wire-bytes-of-m');
      b.addSample(s, t, 5);
      return engine.ingest(tenant, b);
    };
    const key = 'm{host="a"}';
    await feed('default', T0);
    await feed('other', T0 + MIN);
    await feed('default', T0 + 2 * MIN);
    const mine = engine.seriesInfo('default', key)!;
    const theirs = engine.seriesInfo('other', key)!;
    assert.notEqual(mine.id, theirs.id);
    assert.equal(mine.lastT, T0 + 2 * MIN);
    assert.equal(theirs.lastT, T0 + MIN);
    // Idle past idleMs: the checkpoint pass drops both; the next point makes a live entry again.
    now += 2 * 3600_000;
    await engine.checkpoint();
    assert.equal(engine.seriesInfo('default', key), undefined);
    await feed('default', T0 + 3 * MIN);
    assert.equal(engine.seriesInfo('default', key)?.lastT, T0 + 3 * MIN);
    assert.equal(engine.stats().activeSeries.get('default'), 1);
    await feed('default', T0 + 4 * MIN);
    assert.equal(engine.seriesInfo('default', key)?.lastT, T0 + 4 * MIN);
    await engine.close();
    await store.close();
  });
});
