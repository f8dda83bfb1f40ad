// Rule aggregates and multivariate detectors in a cluster (issue 7): each aggregate group and each
// multivariate entity is computed by the one worker that owns its partition, over every series
// it reads wherever those hash, and the results (derived series' values and bands, anomalies,
// alerts) equal one process over the same data, across partition hand-overs.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MemoryBus, partitionOf } from '../bus/index.ts';
import { createEngine, type Anomaly } from '../engine/index.ts';
import { IngestBatch } from '../ingest/index.ts';
import { seriesKey } from '../ingest/names.ts';
import { openSqliteStore, type Store } from '../store/index.ts';
import { RuleAggregator, type AggregatorState } from '../engine/aggregate.ts';
import { decodeCheckpoint, encodeCheckpoint } from '../engine/checkpoint.ts';
import { applyFeed, decodeFeed, encodeFeeds, entityPartition, unitPartition } from './feeds.ts';
import { AGG_CONFIG, aggBatchCount, DERIVED, derivedSeries, fillAggBatch, INSTANCES, REGIONS, singleProcessAggregates, STEP_MS, type AggWorkload } from './feeds-testkit.ts';
import { BusSink } from './ingest.ts';
import { ClusterWorker } from './worker.ts';
import { loadConfig } from '../config/index.ts';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function sqlite(): Promise<Store> {
  const d = mkdtempSync(join(tmpdir(), 'tidemark-feeds-'));
  dirs.push(d);
  const store = await openSqliteStore({ dataDir: d });
  await store.tenants.create({ id: 'default', name: 'default' });
  return store;
}

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('rule-aggregate feeds', () => {
  const config = loadConfig(AGG_CONFIG, 'test').config!;
  const w: AggWorkload = { t0: Date.parse('2026-01-05T00:00:00Z'), steps: 6, stepsPerBatch: 6 };

  it('route each group to one partition, with the rule watermark, and decode to the same records', () => {
    const b = fillAggBatch(w, 0, new IngestBatch({ maxFutureMs: Number.MAX_SAFE_INTEGER }));
    const marks = new Map<string, number>();
    const parts = encodeFeeds('default', b, 'live', 8, { config, version: 3 }, marks);
    // 2 rules x 3 regions: 6 aggregate units; every record of a unit on the unit's partition.
    let records = 0;
    let mvRecords = 0;
    const seen = new Map<string, number>();
    for (const p of parts) {
      const f = decodeFeed(p.data);
      assert.equal(f.tenant, 'default');
      assert.equal(f.configVersion, 3);
      for (let i = 0; i < f.t.length; i++) {
        const s = f.series[f.row[i]];
        const rule = f.rules[f.rule[i]];
        if (f.kinds[f.rule[i]] === 1) {
          // Multivariate: the instance's entity lives on this partition.
          assert.ok(s.metric === 'cpu' || s.metric === 'req_count');
          assert.equal(entityPartition('default', 'instance-health', `instance=${s.labels.instance}`, 8), p.partition);
          mvRecords++;
          continue;
        }
        assert.equal(unitPartition('default', rule, `${s.labels.region}\u0000`, 8), p.partition);
        assert.ok(f.wm[i] >= f.t[i], 'the watermark includes the record');
        seen.set(`${rule}/${s.labels.region}`, p.partition);
        records++;
      }
    }
    assert.equal(seen.size, 6);
    // Load feeds one rule, requests and errors the other: every sample once.
    assert.equal(records, w.steps * REGIONS.length * INSTANCES * 3);
    assert.equal(mvRecords, w.steps * REGIONS.length * INSTANCES * 2);
    assert.equal(marks.get('default\u0000region-load'), w.t0 + (w.steps - 1) * STEP_MS);
    // A group's series hash to several partitions: only the feed brings them together.
    const eu = new Set(Array.from({ length: INSTANCES }, (_, i) => partitionOf(seriesKey('req_load', ['instance', `eu-${i}`, 'region', 'eu'], 4), 8)));
    assert.ok(eu.size > 1, 'the eu series span partitions');
    assert.throws(() => decodeFeed(parts[0].data.subarray(0, 20)), /truncated feed message/);
    assert.deepEqual(encodeFeeds('default', b, 'live', 8, { config: undefined, version: null }, new Map()), []);
  });

  it('fold in idempotently (a retried batch) and survive a checkpoint round trip as plain data', () => {
    const wl: AggWorkload = { t0: Date.parse('2026-01-05T00:00:00Z'), steps: 60, stepsPerBatch: 3 };
    const rule = config.rules.find((r) => r.name === 'region-load')!;
    const make = () => new RuleAggregator(rule, { toleranceMs: config.limits.outOfOrderToleranceMs });
    const target = (agg: RuleAggregator) => ({ aggregators: [agg], toleranceMs: config.limits.outOfOrderToleranceMs, range: () => undefined });
    const feedsOf = (k: number, marks: Map<string, number>) => encodeFeeds('default', fillAggBatch(wl, k, new IngestBatch({ maxFutureMs: Number.MAX_SAFE_INTEGER })), 'live', 1, { config, version: 1 }, marks).map((p) => decodeFeed(p.data));
    const closed = (agg: RuleAggregator) => agg.closed.splice(0).map((w) => `${w.group.key}@${w.t}=${w.value}`);
    const once = make();
    const twice = make();
    const marks = new Map<string, number>();
    const out1: string[] = [];
    const out2: string[] = [];
    let restored: RuleAggregator | undefined;
    const out3: string[] = [];
    for (let k = 0; k < wl.steps / wl.stepsPerBatch; k++) {
      for (const f of feedsOf(k, marks)) {
        applyFeed(f, target(once), 0, 1);
        applyFeed(f, target(twice), 0, 1);
        applyFeed(f, target(twice), 0, 1); // the same batch again: nothing counted twice
        if (restored) applyFeed(f, target(restored), 0, 1);
      }
      out1.push(...closed(once));
      out2.push(...closed(twice));
      if (restored) out3.push(...closed(restored));
      if (k === 7) {
        // A checkpoint mid-window, through the binary codec, into a fresh aggregator.
        const blob = encodeCheckpoint(0, 'test', once.snapshotGroups(() => true));
        restored = make();
        assert.ok(restored.restoreGroups(decodeCheckpoint(blob).state as AggregatorState));
        out3.push(...out1);
      }
    }
    assert.ok(out1.length >= 3 * 12, `${out1.length} windows closed`);
    assert.deepEqual(out2, out1);
    assert.deepEqual(out3, out1);
    const other = new RuleAggregator({ ...rule, groupBy: ['instance'] }, { toleranceMs: config.limits.outOfOrderToleranceMs });
    assert.equal(other.restoreGroups(once.snapshotGroups(() => true)), false, 'a state of another config of the rule is refused');
  });

  it('a feed routed under a newer config version makes the worker read that version first', { timeout: 30_000 }, async () => {
    const bus = new MemoryBus({ partitions: 4, leaseTtlMs: 600 });
    const store = await sqlite();
    const node = await createEngine({ store, clock: Date.now, checkpointIntervalMs: 0, alerting: false });
    await node.putConfig(AGG_CONFIG, 'test', null);
    // No announcements and no polling: only the feed's version can tell the worker.
    const wk = await ClusterWorker.start({ bus, store, tickMs: 50, checkpointEveryMs: 100, refreshEveryMs: 3_600_000, engine: { alerting: false } });
    await until('the worker owns every partition', () => wk.owned().length === 4);
    const sink = new BusSink(bus, (t) => node.config(t));
    const b = new IngestBatch({ maxFutureMs: Number.MAX_SAFE_INTEGER });
    const wl: AggWorkload = { t0: Date.now() - 60 * STEP_MS, steps: 60, stepsPerBatch: 3 };
    await sink.ingest('default', fillAggBatch(wl, 0, b), 'live');
    await until('the first feeds applied', () => wk.stats.feeds > 0);
    assert.equal(wk.engine.config('default').version, 1);
    const v2 = AGG_CONFIG.replace('group_by: [region]\n    detect_on: aggregate', 'group_by: [region, instance]\n    detect_on: aggregate');
    assert.notEqual(v2, AGG_CONFIG);
    assert.equal((await node.putConfig(v2, 'test', null)).version.version, 2);
    const before = wk.stats.feeds;
    await sink.ingest('default', fillAggBatch(wl, 1, b), 'live');
    await until('the next feeds applied', () => wk.stats.feeds > before);
    assert.equal(wk.engine.config('default').version, 2, 'read from the store before applying');
    // The new grouping is in force: groups per region and instance.
    const load = wk.engine.aggregation('default').aggregators.find((a) => a.rule.name === 'region-load')!;
    assert.deepEqual(load.rule.groupBy, ['region', 'instance']);
    assert.equal(load.groups.size, REGIONS.length * INSTANCES);
    await wk.stop();
    await node.close();
    await store.close();
    await bus.close();
  });

  it('two workers, then a third joining and the first leaving: derived series equal one process, one alert per planted break', { timeout: 120_000 }, async () => {
    const wl: AggWorkload = { t0: Math.floor((Date.now() - 600 * STEP_MS) / 3600_000) * 3600_000, steps: 600, stepsPerBatch: 3 };
    const want = await singleProcessAggregates(wl, await sqlite());
    const broken = [...new Set(want.anomalies.map((a) => `${a.metric}/${a.labels.region ?? a.labels.instance}`))].sort();
    // The forests are small and young: which entities they flag is theirs to say; the cluster must say the same.
    assert.deepEqual(broken.filter((x) => !x.startsWith('multivariate:')), ['region_errors:ratio/us', 'region_load:sum/eu'], 'one process flags the planted aggregate breaks only');
    assert.ok(broken.some((x) => x.startsWith('multivariate:')), 'one process flags an entity');

    const bus = new MemoryBus({ partitions: 8, leaseTtlMs: 600 });
    const last = new Map<number, number>();
    const publish = bus.publish.bind(bus);
    bus.publish = async (p, d) => {
      const seq = await publish(p, d);
      last.set(p, Math.max(last.get(p) ?? 0, seq));
      return seq;
    };
    const store = await sqlite();
    const node = await createEngine({ store, clock: Date.now, checkpointIntervalMs: 0, alerting: false });
    await node.putConfig(AGG_CONFIG, 'test', null);
    const sink = new BusSink(bus, (t) => node.config(t));
    const opts = { bus, store, tickMs: 50, checkpointEveryMs: 100, refreshEveryMs: 60_000 };
    const anomalies: string[] = [];
    const text = (x: Anomaly) => `${x.metric}${JSON.stringify(x.labels)} ${new Date(x.t).toISOString()} ${x.value} score ${x.score}`;
    const collect = (wk: ClusterWorker) => (wk.engine.onAnomaly = (x) => void ((DERIVED.includes(x.metric) || x.metric.startsWith('multivariate:')) && anomalies.push(text(x))));
    const a = await ClusterWorker.start({ ...opts, id: 'a' });
    const c = await ClusterWorker.start({ ...opts, id: 'c' });
    collect(a);
    collect(c);
    await until('a and c share the partitions', () => a.owned().length === 4 && c.owned().length === 4);
    const b = new IngestBatch({ maxFutureMs: Number.MAX_SAFE_INTEGER });
    const n = aggBatchCount(wl);
    let k = 0;
    const feed = async (upTo: number) => {
      for (; k < upTo; k++) {
        await sink.ingest('default', fillAggBatch(wl, k, b), 'live');
        await new Promise((r) => setTimeout(r, 2));
      }
    };
    await feed(Math.floor(n / 3));
    const d = await ClusterWorker.start({ ...opts, id: 'd' });
    collect(d);
    await feed(Math.floor((2 * n) / 3));
    await until('three workers share the partitions', () => a.owned().length + c.owned().length + d.owned().length === 8 && d.owned().length >= 2);
    await a.stop(); // its groups move with their checkpoints
    await feed(n);
    const appliedBy = (p: number) => Math.max(c.applied().get(p) ?? 0, d.applied().get(p) ?? 0);
    await until('c and d applied everything', () => c.owned().length + d.owned().length === 8 && [...last].every(([p, seq]) => appliedBy(p) >= seq));
    const feeds = a.stats.feeds + c.stats.feeds + d.stats.feeds;
    assert.ok(feeds > 0 && a.stats.released > 0, `feeds applied (${feeds}) and partitions handed over`);
    await until('the alerts are stored', async () => (await store.alerts.list({ tenant: 'default' })).length >= broken.length, 10_000).catch(() => undefined);
    await d.stop();
    await c.stop();

    const got = await derivedSeries(store);
    assert.deepEqual([...got.keys()].sort(), [...want.series.keys()].sort());
    for (const [key, rows] of want.series) {
      assert.ok(rows.length > 500 / 3, `${key}: ${rows.length} windows`);
      assert.deepEqual(got.get(key), rows, `derived series ${key}`);
    }
    // Anomalies on derived series and entities: the same points, each judged once.
    assert.deepEqual(anomalies.sort(), want.anomalies.map(text).sort());
    const alerts = await store.alerts.list({ tenant: 'default' });
    assert.deepEqual(alerts.map((x) => `${x.metric}/${x.labels.region ?? x.labels.instance}`).sort(), broken, 'exactly one alert per derived series or entity that one process flags');
    await node.close();
    await store.close();
    await bus.close();
  });
});
