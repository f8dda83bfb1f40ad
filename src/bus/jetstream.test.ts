import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TidemarkError } from '../errors.ts';
import { runBusConformance } from './conformance.ts';
import { JetStreamBus, openJetStreamBus } from './jetstream.ts';
import { PrivateNats, serviceSkip, TEST_NATS_URL, uniqueName } from './testkit.ts';

const skip = await serviceSkip('NATS JetStream', TEST_NATS_URL);

runBusConformance({
  name: 'NATS JetStream',
  skip,
  async open(o) {
    return openJetStreamBus({ url: TEST_NATS_URL, prefix: uniqueName('tmtest'), partitions: o.partitions, leaseTtlMs: o.leaseTtlMs });
  },
  async reopen(bus, partitions) {
    const b = bus as JetStreamBus;
    const again = await openJetStreamBus({ url: TEST_NATS_URL, prefix: b.stream, partitions });
    await again.close();
    return again;
  },
  async dispose(bus) {
    await (bus as JetStreamBus).destroy();
    await bus.close();
  },
});

describe('JetStream bus against a private nats-server', { skip: PrivateNats.available() || process.env.TIDEMARK_REQUIRE_SERVICES === '1' ? false : 'no nats-server binary (TIDEMARK_NATS_SERVER, default /usr/sbin/nats-server)' }, () => {
  it('unreachable NATS is TM_ERR_UNAVAILABLE, publishes fail fast while it is down, and the bus recovers by itself', { timeout: 60_000 }, async () => {
    const nats = await PrivateNats.start();
    // The NATS client's own timers do not keep the process alive; a server's listener would.
    const keepAlive = setInterval(() => undefined, 1000);
    try {
      const bus = await openJetStreamBus({ url: nats.url, prefix: 'restart', partitions: 2, publishTimeoutMs: 1000 });
      try {
        const before = await bus.publish(0, new TextEncoder().encode('before'));
        await nats.stop();
        await assert.rejects(bus.publish(0, new TextEncoder().encode('while down')), (e: TidemarkError) => e.code === 'TM_ERR_UNAVAILABLE');
        await nats.start();
        let after = 0;
        for (let i = 0; i < 60 && after === 0; i++) {
          after = await bus.publish(0, new TextEncoder().encode('after')).catch(() => 0);
          if (after === 0) await new Promise((r) => setTimeout(r, 250));
        }
        assert.ok(after > before, 'publishing works again after the restart');
        // What was acknowledged before the crash is still there (file storage).
        const r = await bus.reader(0, 0);
        const texts: string[] = [];
        for (let i = 0; i < 20 && !texts.includes('after'); i++) for (const m of await r.next(10, 300)) texts.push(new TextDecoder().decode(m.data));
        await r.close();
        assert.equal(texts[0], 'before');
        assert.ok(texts.includes('after'));
      } finally {
        await bus.close();
      }
      await nats.stop();
      const err = await openJetStreamBus({ url: nats.url, connectTimeoutMs: 500 }).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof TidemarkError && err.code === 'TM_ERR_UNAVAILABLE' && err.path === '--nats', String(err));
    } finally {
      clearInterval(keepAlive);
      await nats.dispose();
    }
  });
});
