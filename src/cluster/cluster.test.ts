import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MemoryBus, partitionOf } from '../bus/index.ts';
import { createEngine } from '../engine/index.ts';
import { IngestBatch } from '../ingest/index.ts';
import { openSqliteStore, type Store } from '../store/index.ts';
import { decodeInto, encodeByPartition } from './codec.ts';
import { BusSink } from './ingest.ts';
import { batchCount, fillBatch, makeWorkload, type Workload } from './testkit.ts';
import { ClusterWorker } from './worker.ts';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function sqlite(): Promise<Store> {
  const d = mkdtempSync(join(tmpdir(), 'tidemark-cluster-'));
  dirs.push(d);
  const store = await openSqliteStore({ dataDir: d });
  await store.tenants.create({ id: 'default', name: 'default' });
  return store;
}

/** Detector state per series key, as checkpoint bytes (hex), from a store. */
async function states(store: Store): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const series = await store.series.find('default', []);
  const cps = await store.checkpoints.getMany(series.map((s) => s.id));
  for (const s of series) {
    const cp = cps.get(s.id);
    const labels = Object.entries(s.labels).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}="${v}"`).join(',');
    if (cp) out.set(`${s.metric}{${labels}}`, Buffer.from(cp.blob).toString('hex'));
  }
  return out;
}

async function singleProcess(w: Workload): Promise<Map<string, string>> {
  const store = await sqlite();
  const engine = await createEngine({ store, clock: Date.now, checkpointIntervalMs: 0, alerting: false });
  const b = new IngestBatch({ maxFutureMs: Number.MAX_SAFE_INTEGER });
  for (let k = 0; k < batchCount(w); k++) await engine.ingest('default', fillBatch(w, k, b), 'live');
  await engine.close();
  const s = await states(store);
  await store.close();
  return s;
}

async function until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('cluster codec', () => {
  it('splits a batch by partition and decodes to the same samples', () => {
    const w = makeWorkload({ series: 12, steps: 4, t0: 1_700_000_000_000, stepsPerBatch: 4 });
    const b = fillBatch(w, 0, new IngestBatch({ maxFutureMs: Number.MAX_SAFE_INTEGER }));
    b.addStale(0, w.t0 + 10 * w.stepMs);
    const parts = encodeByPartition('default', b, 'live', 4);
    assert.equal(parts.reduce((n, p) => n + p.samples, 0), b.length);
    const want = b.toSamples().map((s) => JSON.stringify(s)).sort();
    const got: string[] = [];
    const out = new IngestBatch({ maxFutureMs: Number.MAX_SAFE_INTEGER });
    for (const p of parts) {
      const { tenant, mode } = decodeInto(p.data, out);
      assert.equal(tenant, 'default');
      assert.equal(mode, 'live');
      for (const s of out.toSamples()) {
        assert.equal(partitionOf(s.key, 4), p.partition);
        got.push(JSON.stringify(s));
      }
    }
    assert.deepEqual(got.sort(), want);
    assert.throws(() => decodeInto(parts[0].data.subarray(0, 9), out), /truncated/);
  });
});

describe('cluster workers on the in-process bus', () => {
  it('workers come and go; every sample is applied once and detector state equals one process', { timeout: 60_000 }, async () => {
    const w = makeWorkload({ series: 24, steps: 400, t0: Date.now() - 400 * 60_000, stepsPerBatch: 10 });
    const want = await singleProcess(w);
    const bus = new MemoryBus({ partitions: 8, leaseTtlMs: 600 });
    const last = new Map<number, number>();
    const publish = bus.publish.bind(bus);
    bus.publish = async (p, d) => {
      const seq = await publish(p, d);
      last.set(p, Math.max(last.get(p) ?? 0, seq));
      return seq;
    };
    const store = await sqlite();
    const sink = new BusSink(bus);
    const opts = { bus, store, tickMs: 50, checkpointEveryMs: 100, engine: { alerting: false as const } };
    const a = await ClusterWorker.start({ ...opts, id: 'a' });
    await until('a owns every partition', () => a.owned().length === 8);
    // c starts before any series exists: what it takes over later was interned after its start.
    const c = await ClusterWorker.start({ ...opts, id: 'c' });
    await until('a and c share the partitions', () => a.owned().length === 4 && c.owned().length === 4);
    const b = new IngestBatch({ maxFutureMs: Number.MAX_SAFE_INTEGER });
    const n = batchCount(w);
    let k = 0;
    const feed = async (upTo: number) => {
      for (; k < upTo; k++) {
        await sink.ingest('default', fillBatch(w, k, b), 'live');
        await new Promise((r) => setTimeout(r, 3));
      }
    };
    await feed(n / 3);
    const d = await ClusterWorker.start({ ...opts, id: 'd' });
    await feed((2 * n) / 3);
    await until('three workers share the partitions', () => a.owned().length + c.owned().length + d.owned().length === 8 && d.owned().length >= 2);
    await a.stop(); // c and d take a's partitions from a's checkpoints and cursors
    await feed(n);
    const appliedBy = (p: number) => Math.max(c.applied().get(p) ?? 0, d.applied().get(p) ?? 0);
    await until('c and d applied everything', () => c.owned().length + d.owned().length === 8 && [...last].every(([p, seq]) => appliedBy(p) >= seq));
    const moved = a.stats.released + c.stats.released + d.stats.released;
    assert.ok(moved >= 4 + 2, `partitions moved on joins and on a's stop (${moved})`);
    const restored = c.engine.stats().restored.checkpoint + d.engine.stats().restored.checkpoint;
    assert.ok(restored > 0, 'series were restored from checkpoints on takeover');
    await d.stop();
    await c.stop();
    const got = await states(store);
    assert.equal(got.size, w.series);
    for (const [key, hex] of want) assert.equal(got.get(key), hex, `detector state of ${key}`);
    const samples = await store.samples.range('default', 1, 0, Date.now());
    assert.equal(samples.t.length, w.steps, 'every sample stored once');
    await store.close();
    await bus.close();
  });
});
