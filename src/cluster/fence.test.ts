// Split brain around a takeover (issue 7): a worker whose lease renewals stall (GC, CPU
// starvation, a slow NATS round trip) past the lease TTL keeps consuming and judging its
// partitions, while another worker has taken them over. Only the owner that can prove its lease
// may page: the stalled worker holds its notifications, and drops them once its renewal finds the
// lease taken; the new owner pages once. In-process bus and SQLite store, a local webhook receiver.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MemoryBus, type Bus, type CasKv, type KvEntry } from '../bus/index.ts';
import { createEngine } from '../engine/index.ts';
import { IngestBatch } from '../ingest/index.ts';
import { startReceiver, type LocalReceiver } from '../notify/testkit.ts';
import { openSqliteStore, type Store } from '../store/index.ts';
import { BusSink } from './ingest.ts';
import { serveWorkerMetrics } from './metrics.ts';
import { ClusterWorker } from './worker.ts';

const TTL = 600;
const SERIES = 4;
const METRIC = 'fence_latency_ms';
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function config(url: string): string {
  return `tenant: default
metrics:
  - { name: ${METRIC}, type: gauge, unit: ms, labels: [instance] }
receivers:
  - name: chat
    webhook: { url: '${url}/chat' }
rules:
  - name: latency-spike
    selector: ${METRIC}
    aggregation: { function: avg, window: 1m }
    detectors: [{ name: threshold, config: { above: 1000 } }]
    severity: S1
    owner: team-a
    receiver: chat
    group_by: [instance]
    timing: { group_wait: 0s, group_interval: 1m, trigger: { m: 1, n: 1 }, recovery: { points: 200 } }
`;
}

/** A lease bucket whose updates of partition leases can be held back, as a stalled worker's would be. */
class StallableKv implements CasKv {
  readonly #kv: CasKv;
  #gate: Promise<void> | undefined;
  #open: (() => void) | undefined;
  constructor(kv: CasKv) {
    this.#kv = kv;
  }
  stall(): void {
    this.#gate ??= new Promise((r) => (this.#open = r));
  }
  resume(): void {
    this.#open?.();
    this.#gate = undefined;
  }
  get(key: string): Promise<KvEntry | undefined> {
    return this.#kv.get(key);
  }
  create(key: string, value: Uint8Array): Promise<number> {
    return this.#kv.create(key, value);
  }
  async update(key: string, value: Uint8Array, revision: number): Promise<number> {
    if (key.startsWith('lease.p.') && this.#gate) await this.#gate;
    return this.#kv.update(key, value, revision);
  }
  delete(key: string, revision: number): Promise<void> {
    return this.#kv.delete(key, revision);
  }
  keys(prefix: string): Promise<string[]> {
    return this.#kv.keys(prefix);
  }
}

/** The same bus, with its own view of the lease bucket. */
function withLeases(bus: MemoryBus, leases: CasKv): Bus {
  return new Proxy(bus, {
    get(target, key) {
      if (key === 'leases') return leases;
      const v = Reflect.get(target, key, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  }) as Bus;
}

async function until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function setup(rx: LocalReceiver): Promise<Store> {
  const d = mkdtempSync(join(tmpdir(), 'tidemark-fence-'));
  dirs.push(d);
  const store = await openSqliteStore({ dataDir: d });
  await store.tenants.create({ id: 'default', name: 'default' });
  const e = await createEngine({ store, clock: Date.now, checkpointIntervalMs: 0, alerting: false });
  await e.putConfig(config(rx.url), 'test', null);
  await e.close();
  return store;
}

/** Steps `from`..`to` of every series, one point a minute; `spike` steps are far over the threshold. */
function batch(t0: number, from: number, to: number, spike: ReadonlySet<number>): IngestBatch {
  const b = new IngestBatch({ maxFutureMs: Number.MAX_SAFE_INTEGER });
  for (let s = 0; s < SERIES; s++) {
    const flat = ['instance', `i${s}`];
    const row = b.openSeries(METRIC, flat, flat.length, 'gauge', to - from);
    for (let step = from; step < to; step++) b.addSample(row, t0 + step * 60_000, spike.has(step) ? 5000 : 100 + s);
  }
  return b;
}

function firing(rx: LocalReceiver): Map<string, number> {
  const per = new Map<string, number>();
  for (const r of rx.received) {
    const body = r.body as { kind?: string; status?: string; groupLabels?: Record<string, string> };
    if (r.url !== '/chat' || body.kind !== 'notify' || body.status !== 'firing') continue;
    const i = body.groupLabels?.instance ?? '?';
    per.set(i, (per.get(i) ?? 0) + 1);
  }
  return per;
}

describe('delivery fence of cluster workers', () => {
  it('a worker whose lease renewals stall past the TTL holds its pages and drops them once the lease is found taken; the new owner pages once', { timeout: 60_000 }, async () => {
    const rx = await startReceiver({ status: 200, body: 'ok' });
    const bus = new MemoryBus({ partitions: 2, leaseTtlMs: TTL });
    const kv = new StallableKv(bus.leases);
    let store: Store | undefined;
    let a: ClusterWorker | undefined;
    let b: ClusterWorker | undefined;
    try {
      store = await setup(rx);
      const opts = { store, tickMs: 50, checkpointEveryMs: 100 };
      const w = (a = await ClusterWorker.start({ ...opts, bus: withLeases(bus, kv), id: 'a' }));
      await until('a owns both partitions', () => w.owned().length === 2);
      const sink = new BusSink(bus);
      const t0 = Date.now() - 100 * 60_000;
      await sink.ingest('default', batch(t0, 0, 30, new Set()), 'live');
      await until('a applied the first batch', () => w.stats.samples === SERIES * 30);

      kv.stall();
      await new Promise((r) => setTimeout(r, TTL + 100)); // a's leases have lapsed; a does not know
      b = await ClusterWorker.start({ ...opts, bus, id: 'b' });
      await until('b owns both partitions', () => b!.owned().length === 2);
      assert.equal(w.owned().length, 2, 'a still believes it owns both (its renewals hang)');

      // Both consume the spike; only b may page.
      await sink.ingest('default', batch(t0, 30, 40, new Set([35])), 'live');
      const al = w.engine.alerting!;
      await until('b paged every instance', () => firing(rx).size === SERIES);
      // A held page also holds a's next checkpoint, and with it a's other partition: either sign will do.
      await until('a judged the spike too', () => w.stats.samples === SERIES * 40 || al.fenceCounters.held > 0);
      await new Promise((r) => setTimeout(r, 300)); // a's pages would have arrived by now
      assert.equal(firing(rx).size, SERIES);
      assert.ok([...firing(rx).values()].every((n) => n === 1), `one page each while a holds: ${JSON.stringify([...firing(rx)])}`);

      assert.ok(al.fenceCounters.held > 0 && al.backlog() > 0, 'a holds its pages');
      kv.resume(); // a's renewals go through now, and find both leases taken
      await until('a lost both partitions', () => w.owned().length === 0 && w.stats.lost === 2);
      await al.settled();
      await new Promise((r) => setTimeout(r, 300)); // a late page would have arrived by now
      assert.ok(al.fenceCounters.droppedDispatches > 0, 'a dropped the pages it held');
      assert.deepEqual([...firing(rx)].sort(), [...Array(SERIES).keys()].map((s) => [`i${s}`, 1]));
      assert.equal(b.engine.alerting!.fenceCounters.droppedDispatches, 0);
      // The fence's verdicts on GET /metrics: a held and dropped, b delivered.
      for (const [worker, want] of [[w, { held: true, dropped: true, delivered: false }], [b, { held: false, dropped: false, delivered: true }]] as const) {
        const m = await serveWorkerMetrics(worker, '127.0.0.1', 0);
        try {
          const text = await (await fetch(`${m.url}/metrics`)).text();
          const value = (verdict: string) => Number(new RegExp(`^tidemark_notify_fence_total\\{verdict="${verdict}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
          assert.equal(value('held') > 0, want.held, `${worker.id} held: ${value('held')}`);
          assert.equal(value('dropped') > 0, want.dropped, `${worker.id} dropped: ${value('dropped')}`);
          assert.equal(value('delivered') >= SERIES, want.delivered, `${worker.id} delivered: ${value('delivered')}`);
          assert.match(text, /^tidemark_notify_intents_total\{event="recorded"\} \d+$/m);
        } finally {
          await m.close();
        }
      }
    } finally {
      kv.resume();
      await b?.stop();
      await a?.stop();
      await rx.close();
      await store?.close();
      await bus.close();
    }
  });

  it('rejects a fence margin that leaves no time to deliver', async () => {
    const rx = await startReceiver();
    const bus = new MemoryBus({ partitions: 2, leaseTtlMs: TTL });
    let store: Store | undefined;
    try {
      store = await setup(rx);
      await assert.rejects(ClusterWorker.start({ store, bus, fenceMarginMs: TTL }), /fenceMarginMs must be at least 0 and below the lease TTL/);
    } finally {
      await rx.close();
      await store?.close();
      await bus.close();
    }
  });
});
