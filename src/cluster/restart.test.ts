// NATS restarting under an ingest node: while it is down, writes get a retryable 503 with a JSON
// body; everything that got a 2xx is in the stream afterwards; the node recovers by itself.
// A private nats-server (file storage in a temp dir) is SIGKILLed and restarted, so the
// machine's shared server is never touched.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildApp } from '../api/app.ts';
import { openJetStreamBus } from '../bus/index.ts';
import { PrivateNats } from '../bus/testkit.ts';
import { createEngine } from '../engine/index.ts';
import { IngestBatch } from '../ingest/index.ts';
import { openSqliteStore, hashToken } from '../store/index.ts';
import { decodeInto } from './codec.ts';
import { BusSink } from './ingest.ts';

const TOKEN = 'tmk_test_cluster_restart_0123456789';

describe('ingest node across a NATS restart', { skip: PrivateNats.available() || process.env.TIDEMARK_REQUIRE_SERVICES === '1' ? false : 'no nats-server binary (TIDEMARK_NATS_SERVER, default /usr/sbin/nats-server)' }, () => {
  it('503 while NATS is down, nothing acknowledged is lost, recovery without a restart of the node', { timeout: 60_000 }, async () => {
    const nats = await PrivateNats.start();
    const store = await openSqliteStore({ path: ':memory:' });
    await store.tenants.create({ id: 'default', name: 'default' });
    await store.tokens.create({ tenant: 'default', name: 'w', role: 'write', hash: hashToken(TOKEN) });
    const bus = await openJetStreamBus({ url: nats.url, prefix: 'restart', partitions: 4, publishTimeoutMs: 1000 });
    const engine = await createEngine({ store, clock: Date.now, checkpointIntervalMs: 0, alerting: false });
    const app = await buildApp({ store, engine, clock: Date.now, sink: new BusSink(bus) });
    const keepAlive = setInterval(() => undefined, 1000); // the NATS client's timers are unref'd
    try {
      const t0 = Date.now() - 3600_000;
      const post = (i: number) => app.inject({
        method: 'POST', url: '/api/v1/samples',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        payload: JSON.stringify({ samples: [0, 1, 2, 3, 4, 5].map((s) => ({ metric: 'restart_test', labels: { s: String(s) }, t: t0 + i * 1000, value: i })) }),
      });
      const acked = new Set<number>();
      for (let i = 0; i < 5; i++) {
        const r = await post(i);
        assert.equal(r.statusCode, 200, r.body);
        assert.equal(r.json().accepted, 6);
        acked.add(i);
      }
      await nats.stop();
      const down = await post(5);
      assert.equal(down.statusCode, 503, down.body);
      const body = down.json();
      assert.equal(body.error.code, 'TM_ERR_UNAVAILABLE');
      assert.match(body.error.message, /retry/);
      await nats.start();
      // The node reconnects by itself; a client retrying the refused batch gets through.
      let ok = false;
      for (let attempt = 0; attempt < 60 && !ok; attempt++) {
        const r = await post(5);
        ok = r.statusCode === 200;
        if (!ok) {
          assert.equal(r.statusCode, 503, r.body);
          await new Promise((res) => setTimeout(res, 250));
        }
      }
      assert.ok(ok, 'writes succeed again after NATS is back');
      acked.add(5);
      for (let i = 6; i < 8; i++) {
        const r = await post(i);
        assert.equal(r.statusCode, 200, r.body);
        acked.add(i);
      }
      // Every acknowledged batch is in the stream (as many copies as retries stored; workers ignore repeats).
      const seen = new Set<number>();
      const batch = new IngestBatch({ maxFutureMs: Number.MAX_SAFE_INTEGER });
      for (let p = 0; p < bus.partitions; p++) {
        const r = await bus.reader(p, 0);
        for (let k = 0; k < 20; k++) {
          const msgs = await r.next(100, 200);
          if (msgs.length === 0 && k > 2) break;
          for (const m of msgs) {
            decodeInto(m.data, batch);
            for (const s of batch.toSamples()) seen.add((s.t - t0) / 1000);
          }
        }
        await r.close();
      }
      for (const i of acked) assert.ok(seen.has(i), `acknowledged batch ${i} is in the stream`);
    } finally {
      clearInterval(keepAlive);
      await app.close();
      await engine.close();
      await bus.close();
      await store.close();
      await nats.dispose();
    }
  });
});
