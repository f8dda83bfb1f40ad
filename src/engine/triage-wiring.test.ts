// The triage wiring's scheduling, on a real store whose change reads a test can hold: pages never
// stand in the build queue (the summary follows in an update), packets are refreshed while the
// alert fires, and shutdown waits a bounded time.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Dispatch } from '../alert/index.ts';
import { sampleDispatch } from '../notify/testkit.ts';
import { openSqliteStore, type AlertInput, type Store } from '../store/index.ts';
import { TriageWiring, type TriageOptions } from './triage.ts';

const T0 = Date.UTC(2025, 6, 1, 12);
let dir: string;
let store: Store;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tidemark-triage-wiring-'));
  store = await openSqliteStore({ dataDir: dir });
  await store.tenants.create({ id: 'payments', name: 'payments' });
});
after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A wiring whose change reads wait for `open()`: builds block there until the test lets them go. */
function wiring(o: TriageOptions = {}): { w: TriageWiring; open: () => void; clock: { now: number }; persisted: string[] } {
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const held = new Proxy(store, {
    get(target, key) {
      if (key === 'changes') return { list: async (q: Parameters<Store['changes']['list']>[0]) => (await gate, target.changes.list(q)) };
      return Reflect.get(target, key);
    },
  });
  const clock = { now: T0 };
  const persisted: string[] = [];
  const w = new TriageWiring(held, () => ({ config: undefined }), () => clock.now, (fn) => void fn().then(() => persisted.push('x')), { concurrency: 1, notifyWaitMs: 50, ...o });
  return { w, open, clock, persisted };
}

function upsert(fp: string, o: Partial<AlertInput> = {}): AlertInput {
  return {
    tenant: 'payments', fingerprint: fp, metric: 'http_errors', labels: { service: 'checkout', rule: 'checkout-error-rate' }, seriesId: null, state: 'firing', severity: 'S1',
    startsAt: T0, endsAt: null, at: T0, score: 0.97, reasons: ['above_band'], owner: 'team-payments', runbook: null, packet: { rule: 'checkout-error-rate', firingAt: T0 }, ...o,
  };
}

function dispatchFor(fp: string): Dispatch {
  const d = sampleDispatch();
  return { ...d, id: `g-${fp}:notify:1`, alerts: d.alerts.map((a) => ({ ...a, fingerprint: fp, startsAt: T0 })) };
}

test('a page never waits for a queued packet: its summary follows in an update once built', async () => {
  // A wait for a build is 1 s here, so that not waiting stands out on a loaded machine too.
  const { w, open } = wiring({ notifyWaitMs: 1000 });
  w.observe([upsert('a'), upsert('b')]); // concurrency 1: a builds (held at the gate), b waits in the queue
  const t0 = performance.now();
  const b = await w.annotate(dispatchFor('b'));
  assert.ok(performance.now() - t0 < 500, 'no wait for a queued build');
  assert.equal(b.dispatch.text, null, 'sent without a summary');
  assert.ok(b.followUp);
  const t1 = performance.now();
  const a = await w.annotate(dispatchFor('a')); // being built: waits notifyWaitMs, then goes
  assert.ok(performance.now() - t1 >= 900, 'a build under way is waited for');
  assert.equal(a.dispatch.text, null);
  open();
  const [ua, ub] = await Promise.all([a.followUp, b.followUp]);
  for (const [u, fp] of [[ua, 'a'], [ub, 'b']] as const) {
    assert.ok(u, `an update for ${fp}`);
    assert.equal(u.kind, 'update');
    assert.equal(u.id, `g-${fp}:notify:1:triage`);
    assert.equal(u.status, 'firing');
    assert.match(u.text ?? '', /^where: /m);
    assert.match(u.text ?? '', /^next: /m);
  }
  await w.settled();
  // Once built, the summary rides in the notification itself, with nothing to follow.
  const again = await w.annotate(dispatchFor('a'));
  assert.match(again.dispatch.text ?? '', /^where: /m);
  assert.equal(again.followUp, undefined);
});

test('no update for an alert that resolved meanwhile', async () => {
  const { w, open } = wiring();
  w.observe([upsert('c')]);
  const c = await w.annotate(dispatchFor('c'));
  w.observe([upsert('c', { state: 'resolved', endsAt: T0 + 60_000, at: T0 + 60_000 })]);
  open();
  assert.equal(await c.followUp, undefined);
  await w.settled();
});

test('a firing alert\'s packet is rebuilt on a severity change and at most every refreshMs', async () => {
  const { w, open, clock } = wiring({ refreshMs: 60_000 });
  open();
  w.observe([upsert('d')]);
  await w.settled();
  assert.deepEqual([w.counters.built, w.counters.refreshed], [1, 0]);
  const first = w.packet('payments', 'd')!;
  clock.now += 30_000;
  w.observe([upsert('d', { at: clock.now })]);
  await w.settled();
  assert.equal(w.counters.refreshed, 0, 'not before refreshMs');
  w.observe([upsert('d', { at: clock.now, severity: 'S2' })]);
  await w.settled();
  assert.equal(w.counters.refreshed, 1, 'a severity change rebuilds at once');
  assert.equal(w.packet('payments', 'd')!.what.severity, 'S2');
  clock.now += 60_000;
  w.observe([upsert('d', { at: clock.now, severity: 'S2', packet: { rule: 'checkout-error-rate', firingAt: T0, lastTrueT: clock.now } })]);
  await w.settled();
  assert.equal(w.counters.refreshed, 2, 'refreshed after refreshMs');
  const now = w.packet('payments', 'd')!;
  assert.ok(now.generatedAt > first.generatedAt);
  assert.equal(now.when.start, T0, 'the same episode');
});

test('close drops queued builds and waits at most closeWaitMs for running ones', async () => {
  const { w, open, persisted } = wiring({ closeWaitMs: 100 });
  w.observe([upsert('e'), upsert('f'), upsert('g')]);
  const pending = await w.annotate(dispatchFor('f'));
  const t0 = performance.now();
  await w.close();
  const took = performance.now() - t0;
  assert.ok(took >= 90 && took < 2_000, `close took ${took} ms`);
  assert.equal(w.counters.dropped, 2);
  assert.equal(await pending.followUp, undefined, 'no update after shutdown');
  open(); // the running build now ends: cancelled, nothing stored
  await w.settled();
  assert.equal(w.counters.built, 0);
  assert.deepEqual(persisted, []);
  w.observe([upsert('h')]);
  assert.equal(w.backlog(), 0, 'nothing new starts after close');
});
