// At-least-once notifications with stable ids (issue 7), in one process: the intent of a
// dispatch is stored before its first byte leaves and settled by the receiver's answer; a
// restart finds what was sent and never settled, counts its alerts as announced, and sends it
// again with the same id (the receiver drops the repeat by id), never under a new one.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfigOrThrow } from '../config/index.ts';
import { countDeliveries } from '../notify/testkit.ts';
import { Alerting } from './alerting.ts';
import { HOT, storeAndReceiver } from './testkit.ts';

const fx = storeAndReceiver('it');

const config = () => loadConfigOrThrow(`
tenant: it
metrics:
  - { name: latency, type: gauge, unit: s, help: x, labels: [shard] }
receivers:
  - name: hook
    webhook: { url: '${fx.rx.url}/hook' }
rules:
  - name: lat
    selector: latency
    aggregation: { function: avg, window: 1m }
    severity: S1
    owner: team-a
    receiver: hook
    group_by: [shard]
    timing: { for: 0s, keep_firing_for: 0s, group_wait: 0s, group_interval: 1s, trigger: { m: 1, n: 1 }, recovery: { points: 1 } }
`, 'it.yaml');

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('the intent is stored before the send; the 2xx settles it', async () => {
  fx.rx.received.length = 0;
  const cfg = config();
  const now = Date.UTC(2025, 6, 1, 12);
  let release!: () => void;
  fx.rx.script = [{ status: 200, until: new Promise<void>((r) => (release = r)) }];
  const al = new Alerting(fx.store, () => now, () => ({ config: cfg, version: 1 }), { packets: false });
  try {
    al.stage.classify('it', 1, 'latency', { shard: 'a' }, 'lat', 1);
    al.stage.observe('it', 1, 'latency', { shard: 'a' }, 'lat', 0.9, now, 50, HOT, 1);
    al.pump();
    await until('the page reached the receiver', () => fx.rx.received.length === 1);
    const id = (fx.rx.received[0].body as { id: string }).id;
    assert.equal(fx.rx.received[0].headers['idempotency-key'], id);
    const pending = await fx.store.notifications.pending({ tenant: 'it' });
    assert.deepEqual(pending.map((p) => [p.dispatchId, p.channels]), [[id, ['hook/webhook']]], 'pending while the receiver has not answered');
    release();
    await al.settled();
    assert.deepEqual(await fx.store.notifications.pending({ tenant: 'it' }), []);
    assert.deepEqual((await fx.store.notifications.list({ tenant: 'it' })).map((r) => [r.dispatchId, r.status, r.attempt]), [[id, 'sent', 1]]);
    assert.equal(al.intentCounters.recorded, 1);
  } finally {
    release();
    await al.close();
  }
});

test('a restart sends a dispatch that was sent and never settled again, with its id, and does not page anew', async () => {
  fx.rx.received.length = 0;
  const cfg = config();
  let now = Date.UTC(2025, 6, 2, 12);
  // The first process's page reaches the receiver, which does not answer: the process dies before it can settle.
  let answer!: () => void;
  const held = new Promise<void>((r) => (answer = r));
  fx.rx.script = [{ status: 200, until: held }];
  const first = new Alerting(fx.store, () => now, () => ({ config: cfg, version: 1 }), { packets: false, notify: { retry: { attempts: 1, baseMs: 1, maxMs: 1 } } });
  let second: Alerting | undefined;
  try {
    first.stage.classify('it', 2, 'latency', { shard: 'b' }, 'lat', 1);
    first.stage.observe('it', 2, 'latency', { shard: 'b' }, 'lat', 0.9, now, 50, HOT, 1);
    first.pump();
    await until('the page reached the receiver', () => fx.rx.received.length === 1);
    first.stage.persistAll();
    first.pump();
    await until('the alert is stored firing', async () => (await fx.store.alerts.list({ tenant: 'it', states: ['firing'] })).some((a) => a.labels.shard === 'b'));
    const id = (fx.rx.received[0].body as { id: string }).id;
    assert.deepEqual((await fx.store.notifications.list({ tenant: 'it', status: 'pending' })).map((r) => r.dispatchId), [id], 'the state a crash after the send leaves');

    now += 5_000;
    second = new Alerting(fx.store, () => now, () => ({ config: cfg, version: 1 }), { packets: false });
    await second.init(['it']);
    await second.settled();
    const c = countDeliveries(fx.rx);
    assert.deepEqual([c.raw, [...c.ids.keys()], c.badKeys], [2, [id], 0], 'delivered twice under one id');
    assert.equal(second.intentCounters.resent, 1);
    assert.deepEqual(await fx.store.notifications.pending({ tenant: 'it' }), [], 'settled by the restart');
    const fingerprint = (fx.rx.received[0].body as { alerts: { fingerprint: string }[] }).alerts[0].fingerprint;
    assert.deepEqual((await fx.store.notifications.list({ tenant: 'it', fingerprint })).map((r) => [r.dispatchId, r.status]), [[id, 'sent']]);

    // The alert is restored as announced: it keeps firing without another page.
    second.stage.observe('it', 2, 'latency', { shard: 'b' }, 'lat', 0.9, now + 1_000, 50, HOT, 1);
    now += 2_000;
    second.pump();
    await second.settled();
    assert.equal(countDeliveries(fx.rx).raw, 2);
  } finally {
    answer(); // the first process's late answer changes nothing: sent is final
    await first.close();
    await second?.close();
  }
  assert.deepEqual((await fx.store.notifications.list({ tenant: 'it', status: 'sent' })).length, 2, 'one sent row per page of the two tests');
});
