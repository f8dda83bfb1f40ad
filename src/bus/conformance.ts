/**
 * The bus conformance suite: the in-process and the JetStream bus both run it (memory.test.ts,
 * jetstream.test.ts). `open` gives a fresh, empty bus each call with the given partition count
 * and lease TTL; `clock` is the clock the lease tests move (leases judge expiry by it).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { TidemarkError } from '../errors.ts';
import { Leases } from './lease.ts';
import { partitionOf, type Bus } from './types.ts';

export interface BusFactory {
  readonly name: string;
  open(o: { partitions: number; leaseTtlMs: number }): Promise<Bus>;
  /** Opens the same bus again (another node) with a different partition count: must be refused. */
  reopen?(bus: Bus, partitions: number): Promise<Bus>;
  /** Deletes what `open` created. */
  dispose(bus: Bus): Promise<void>;
  readonly skip?: string | false;
}

const te = new TextEncoder();
const td = new TextDecoder();
const msg = (s: string) => te.encode(s);

async function drain(bus: Bus, partition: number, from: number, expect: number): Promise<{ seq: number; text: string }[]> {
  const r = await bus.reader(partition, from);
  const out: { seq: number; text: string }[] = [];
  try {
    for (let i = 0; i < 50 && out.length < expect; i++) {
      for (const m of await r.next(100, 200)) out.push({ seq: m.seq, text: td.decode(m.data) });
    }
  } finally {
    await r.close();
  }
  return out;
}

export function runBusConformance(f: BusFactory): void {
  describe(`bus conformance: ${f.name}`, { skip: f.skip }, () => {
    const opened: Bus[] = [];
    const open = async (partitions = 4, leaseTtlMs = 2000) => {
      const b = await f.open({ partitions, leaseTtlMs });
      opened.push(b);
      return b;
    };
    after(async () => {
      for (const b of opened) await f.dispose(b).catch(() => undefined);
    });

    it('publish resolves with increasing sequences; a partition reads back in order', async () => {
      const bus = await open();
      assert.equal(bus.partitions, 4);
      const seqs: number[] = [];
      for (let i = 0; i < 20; i++) seqs.push(await bus.publish(i % 2, msg(`m${i}`)));
      for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i] > seqs[i - 1], 'sequences grow');
      const p0 = await drain(bus, 0, 0, 10);
      assert.deepEqual(p0.map((m) => m.text), Array.from({ length: 10 }, (_, i) => `m${2 * i}`));
      assert.deepEqual(p0.map((m) => m.seq), seqs.filter((_, i) => i % 2 === 0));
      const p1 = await drain(bus, 1, 0, 10);
      assert.deepEqual(p1.map((m) => m.text), Array.from({ length: 10 }, (_, i) => `m${2 * i + 1}`));
      assert.deepEqual(await drain(bus, 2, 0, 0), [], 'an empty partition reads nothing');
    });

    it('concurrent publishes are all stored, each partition in publish-ack order', async () => {
      const bus = await open();
      const acks = await Promise.all(Array.from({ length: 60 }, (_, i) => bus.publish(i % 3, msg(`c${i}`)).then((seq) => ({ seq, i }))));
      for (let p = 0; p < 3; p++) {
        const got = await drain(bus, p, 0, 20);
        const want = acks.filter((a) => a.i % 3 === p).sort((a, b) => a.seq - b.seq);
        assert.deepEqual(got.map((m) => m.seq), want.map((a) => a.seq));
        assert.deepEqual(got.map((m) => m.text), want.map((a) => `c${a.i}`));
      }
    });

    it('announcements reach every listener, in order, and are not stored in a partition', async () => {
      const bus = await open();
      const a: string[] = [];
      const b: string[] = [];
      const offA = bus.onAnnounce((d) => a.push(td.decode(d)));
      const offB = bus.onAnnounce((d) => b.push(td.decode(d)));
      if ('nc' in bus) await (bus as { nc: { flush(): Promise<void> } }).nc.flush(); // the subscriptions reach the server first
      for (let i = 0; i < 5; i++) await bus.announce(msg(`x${i}`));
      for (let i = 0; i < 100 && (a.length < 5 || b.length < 5); i++) await new Promise((r) => setTimeout(r, 20));
      const want = ['x0', 'x1', 'x2', 'x3', 'x4'];
      assert.deepEqual(a, want);
      assert.deepEqual(b, want);
      offA();
      await bus.announce(msg('late'));
      for (let i = 0; i < 100 && b.length < 6; i++) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(b.at(-1), 'late');
      assert.equal(a.length, 5, 'an unsubscribed listener hears nothing more');
      offB();
      for (let p = 0; p < bus.partitions; p++) assert.deepEqual(await drain(bus, p, 0, 0), []);
    });

    it('a reader starts at a sequence and sees later publishes', async () => {
      const bus = await open();
      const seqs: number[] = [];
      for (let i = 0; i < 6; i++) seqs.push(await bus.publish(3, msg(`s${i}`)));
      const from = await drain(bus, 3, seqs[3], 3);
      assert.deepEqual(from.map((m) => m.text), ['s3', 's4', 's5']);
      const r = await bus.reader(3, seqs[5] + 1);
      try {
        assert.deepEqual(await r.next(10, 100), [], 'nothing new yet');
        const late = bus.publish(3, msg('late'));
        let got: string[] = [];
        for (let i = 0; i < 20 && got.length === 0; i++) got = (await r.next(10, 300)).map((m) => td.decode(m.data));
        assert.deepEqual(got, ['late']);
        await late;
      } finally {
        await r.close();
      }
    });

    it('next returns at most max messages and continues where it stopped', async () => {
      const bus = await open();
      for (let i = 0; i < 7; i++) await bus.publish(0, msg(`n${i}`));
      const r = await bus.reader(0, 0);
      try {
        const seen: string[] = [];
        for (let i = 0; i < 20 && seen.length < 7; i++) {
          const batch = await r.next(3, 200);
          assert.ok(batch.length <= 3);
          for (const m of batch) seen.push(td.decode(m.data));
        }
        assert.deepEqual(seen, ['n0', 'n1', 'n2', 'n3', 'n4', 'n5', 'n6']);
      } finally {
        await r.close();
      }
    });

    it('trim drops older messages of one partition only', async () => {
      const bus = await open();
      const s: number[] = [];
      for (let i = 0; i < 4; i++) s.push(await bus.publish(0, msg(`t${i}`)));
      await bus.publish(1, msg('other'));
      await bus.trim(0, s[2]);
      assert.deepEqual((await drain(bus, 0, 0, 2)).map((m) => m.text), ['t2', 't3']);
      assert.deepEqual((await drain(bus, 1, 0, 1)).map((m) => m.text), ['other']);
    });

    it('a partition out of range is refused', async () => {
      const bus = await open();
      await assert.rejects(bus.publish(4, msg('x')), (e: TidemarkError) => e.code === 'TM_ERR_INPUT' && e.path === 'partition');
      await assert.rejects(bus.publish(-1, msg('x')), (e: TidemarkError) => e.code === 'TM_ERR_INPUT');
    });

    it('the partition count is fixed at creation', { skip: f.reopen ? false : 'one process: nothing to reopen' }, async () => {
      const bus = await open(8);
      await assert.rejects(f.reopen!(bus, 16), (e: TidemarkError) => e.code === 'TM_ERR_CONFIG' && /8 partitions/.test(e.message));
    });

    it('kv: create once, update and delete by revision, keys by prefix', async () => {
      const bus = await open();
      for (const kv of [bus.meta, bus.leases]) {
        assert.equal(await kv.get('a.1'), undefined);
        const r1 = await kv.create('a.1', msg('one'));
        await assert.rejects(kv.create('a.1', msg('again')), (e: TidemarkError) => e.code === 'TM_ERR_CONFLICT');
        const r2 = await kv.update('a.1', msg('two'), r1);
        assert.ok(r2 > r1);
        await assert.rejects(kv.update('a.1', msg('stale'), r1), (e: TidemarkError) => e.code === 'TM_ERR_CONFLICT');
        const e = await kv.get('a.1');
        assert.equal(td.decode(e!.value), 'two');
        assert.equal(e!.revision, r2);
        await kv.create('a.2', msg('x'));
        await kv.create('b.1', msg('y'));
        assert.deepEqual(await kv.keys('a.'), ['a.1', 'a.2']);
        await assert.rejects(kv.delete('a.1', r1), (err: TidemarkError) => err.code === 'TM_ERR_CONFLICT');
        await kv.delete('a.1', r2);
        assert.equal(await kv.get('a.1'), undefined);
        assert.deepEqual(await kv.keys('a.'), ['a.2']);
        const r3 = await kv.create('a.1', msg('back')); // a deleted key can be created again
        assert.ok(r3 > r2);
      }
    });

    it('leases: one holder at a time, renewal by revision, takeover after expiry, release', async () => {
      const bus = await open(4, 2000);
      let now = Date.now();
      const leases = new Leases(bus.leases, () => now);
      const a = await leases.acquire('lease.p.1', 'worker-a', 1000);
      assert.ok(a);
      assert.equal(await leases.acquire('lease.p.1', 'worker-b', 1000), null, 'held: b cannot take it');
      const a2 = await leases.renew(a, 1000);
      assert.ok(a2 && a2.revision > a.revision);
      assert.equal(await leases.renew(a, 1000), null, 'renewing at an old revision fails');
      now += 1500; // a's lease expired (judged by the clock, before the bucket's TTL removes it)
      const b = await leases.acquire('lease.p.1', 'worker-b', 1000);
      assert.ok(b, 'b takes the expired lease');
      assert.equal(await leases.renew(a2!, 1000), null, 'a learns it lost the lease');
      assert.deepEqual((await leases.list('lease.')).map((l) => l.owner), ['worker-b']);
      assert.equal(await leases.release(b!), true);
      assert.equal(await leases.get('lease.p.1'), undefined);
      const c = await leases.acquire('lease.p.1', 'worker-a', 1000);
      assert.ok(c, 'a released lease is free at once');
    });

    it('leases: concurrent takers of a free lease, exactly one wins', async () => {
      const bus = await open();
      const leases = new Leases(bus.leases);
      const got = await Promise.all(['w1', 'w2', 'w3', 'w4'].map((w) => leases.acquire('lease.race', w, 5000)));
      assert.equal(got.filter((l) => l !== null).length, 1);
    });

    it('lease keys expire by themselves after the TTL', async () => {
      const bus = await open(4, 1000);
      await bus.leases.create('hb.w1', msg('alive'));
      await bus.meta.create('cursor.0', msg('5'));
      let gone = false;
      // JetStream expires by max_age on a timer of its own: allow a few seconds.
      for (let i = 0; i < 40 && !gone; i++) {
        await new Promise((r) => setTimeout(r, 150));
        gone = (await bus.leases.get('hb.w1')) === undefined;
      }
      assert.ok(gone, 'the lease key expired');
      assert.ok(await bus.meta.get('cursor.0'), 'meta keys do not expire');
    });

    it('partitionOf spreads keys and is stable', () => {
      const counts = new Array(16).fill(0);
      for (let i = 0; i < 16_000; i++) counts[partitionOf(`m{host="h${i}"}`, 16)]++;
      for (const c of counts) assert.ok(c > 800 && c < 1200, `balanced: ${counts}`);
      assert.equal(partitionOf('up{job="x"}', 64), partitionOf('up{job="x"}', 64));
    });
  });
}
