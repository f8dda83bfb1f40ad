// At-least-once pages with stable ids across a worker's death (issue 7), on the real servers:
// one `serve --cluster` node, worker a alone, then worker b after a is SIGKILLed. Two planted
// spikes page while a owns everything; the receiver makes a's two deliveries end in the two
// windows a crash can hit:
// - i0: the request arrives and the receiver holds its reply until a is dead (the page was
//   delivered; a never saw the 2xx, so its log row is never settled);
// - i3: the receiver answers 503 with Retry-After 10 s (the notifier's cap) to every attempt of
//   a's, and a dies while waiting to retry (the intent is recorded, nothing was delivered: a page
//   lost unless someone sends it again). Every attempt, not the first alone: on a loaded machine
//   i0's page can come more than one Retry-After later than i3's, and a retry of i3 answered 2xx
//   would settle it before a dies.
// b takes the partitions over, finds both intents pending and sends them again with the same
// ids: i0 arrives twice under one id (a duplicate the receiver drops by id), i3 arrives once
// answered 2xx. Nothing stays pending, and no page goes out under a new id.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openJetStreamBus } from '../bus/index.ts';
import { TEST_NATS_URL, uniqueName } from '../bus/testkit.ts';
import { createEngine } from '../engine/index.ts';
import { countDeliveries, startReceiver, type LocalReceiver, type Received } from '../notify/testkit.ts';
import { hashToken, openStoreFromUrl } from '../store/index.ts';
import { dropSchemas, TEST_POSTGRES_URL, uniqueSchema } from '../store/pg-testkit.ts';
import { batchCount, CliProc, clusterSkip, jsonBatch, latencyRuleConfig, makeWorkload, seriesLabels, waitFor } from './testkit.ts';

const TOKEN = 'tmk_test_cluster_notify_token_0123456789ab';
const LEASE_TTL_MS = 2000;

const skip = await clusterSkip('the cluster notification failover test');


const firing = (r: Received) => {
  const b = r.body as { kind?: string; status?: string };
  return r.url === '/chat' && b.kind === 'notify' && b.status === 'firing';
};
const instanceOf = (r: Received) => (r.body as { groupLabels?: Record<string, string> }).groupLabels?.instance ?? '?';

describe('notifications across a SIGKILLed worker (real NATS and PostgreSQL)', { skip }, () => {
  const schema = uniqueSchema('tm_notify_');
  const prefix = uniqueName('tmnotify');
  const pgUrl = `${TEST_POSTGRES_URL}?schema=${schema}`;
  const procs: CliProc[] = [];
  let rx: LocalReceiver | undefined;
  let killed!: () => void;
  const dataDir = mkdtempSync(join(tmpdir(), 'tidemark-notify-node-'));
  after(async () => {
    killed?.();
    for (const p of procs) await p.kill('SIGKILL');
    await rx?.close();
    const bus = await openJetStreamBus({ url: TEST_NATS_URL, prefix }).catch(() => undefined);
    await bus?.destroy();
    await bus?.close();
    await dropSchemas([schema]);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('the new owner sends unsettled pages again with their ids: delivered-but-unlogged arrives twice under one id, undelivered arrives once', { timeout: 120_000 }, async () => {
    rx = await startReceiver({ status: 200, body: 'ok' });
    const dead = new Promise<void>((r) => (killed = r));
    // Only the two planted spikes page (a plain threshold). a's deliveries end in their windows:
    // i0's first is held until a is dead, each of i3's is answered 503; everything after a's
    // death (b's) is answered 200.
    let aDead = false;
    void dead.then(() => (aDead = true));
    let i0Held = false;
    rx.decide = (r) => {
      if (!firing(r) || aDead) return undefined;
      if (instanceOf(r) !== 'i0') return { status: 503, headers: { 'retry-after': '10' } };
      if (i0Held) return undefined;
      i0Held = true;
      return { status: 200, until: dead };
    };
    const yaml = latencyRuleConfig(rx.url, '{ name: threshold, config: { above: 1000 } }');
    // Both spikes at the same step, so a judges them in one batch and sends both pages at once:
    // a held delivery holds a's next checkpoint, and with it the partitions' later messages.
    const w = { ...makeWorkload({ series: 4, steps: 150, t0: Date.now() - 150 * 60_000, stepsPerBatch: 10 }), planted: [{ series: 0, step: 125 }, { series: 3, step: 125 }] };
    const planted = w.planted.map((p) => seriesLabels(p.series).instance).sort();
    assert.deepEqual(planted, ['i0', 'i3']);

    const store = await openStoreFromUrl(pgUrl);
    try {
      await store.tenants.create({ id: 'default', name: 'default' });
      await store.tokens.create({ tenant: 'default', name: 'test-admin', role: 'admin', hash: hashToken(TOKEN) });
      const setup = await createEngine({ store, clock: Date.now, checkpointIntervalMs: 0, alerting: false });
      await setup.putConfig(yaml, 'test', null);
      await setup.close();

      const cluster = ['--nats', TEST_NATS_URL, '--postgres', pgUrl, '--prefix', prefix, '--lease-ttl', `${LEASE_TTL_MS}ms`];
      const node = new CliProc(['serve', '--cluster', ...cluster, '--partitions', '4', '--listen', '127.0.0.1:0', '--data', dataDir]);
      procs.push(node);
      const logs = () => procs.map((p, i) => `--- process ${i}\n${p.text}`).join('\n');
      await waitFor('the ingest node', () => /listening on http/.test(node.text), logs);
      const url = /listening on (http:\/\/[^\s]+)/.exec(node.text)![1];
      const a = new CliProc(['worker', ...cluster, '--id', 'a', '--checkpoint-every', '300ms']);
      procs.push(a);
      await waitFor('a holds every partition', () => a.owned('a').size === 4, logs);
      for (let k = 0; k < batchCount(w); k++) {
        const res = await fetch(`${url}/api/v1/samples`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: jsonBatch(w, k), signal: AbortSignal.timeout(10_000) });
        assert.equal(res.status, 200, await res.text());
      }
      await waitFor('a page of each spike reached the receiver', () => new Set(rx!.received.filter(firing).map(instanceOf)).size === 2, logs, 30_000);
      const first = new Map<string, { id: string; reply: string }>();
      for (const r of rx.received.filter(firing)) {
        if (!first.has(instanceOf(r))) first.set(instanceOf(r), { id: (r.body as { id: string }).id, reply: instanceOf(r) === 'i0' ? 'held' : '503' });
      }
      assert.deepEqual([...first.keys()].sort(), planted, 'one page of each spike reached the receiver');
      await a.kill('SIGKILL');
      killed(); // the held reply goes to a dead socket
      const killedAt = Date.now();

      // The state a crash in those windows leaves: both intents pending, neither settled.
      const pending = await store.notifications.pending({ tenant: 'default' });
      assert.deepEqual(pending.map((p) => p.dispatchId).sort(), [...first.values()].map((x) => x.id).sort(), 'both intents recorded before the sends, neither settled');
      assert.equal((await store.notifications.list({ tenant: 'default', status: 'sent' })).length, 0, 'no page is logged as sent: without a re-send, the 503 one is lost');

      const b = new CliProc(['worker', ...cluster, '--id', 'b', '--checkpoint-every', '300ms', '--metrics', '127.0.0.1:0']);
      procs.push(b);
      await waitFor('b takes every partition', () => b.owned('b').size === 4, logs, 30_000);
      await waitFor('b sends both again', () => rx!.received.filter((r) => firing(r) && r.at >= killedAt).length >= 2, logs, 30_000);
      await waitFor('nothing pending', async () => (await store.notifications.pending({ tenant: 'default' })).length === 0, logs, 15_000);
      await new Promise((r) => setTimeout(r, 1000)); // a page under a new id would have arrived by now
      assert.match(b.text, /worker b: sending \d+ unsettled notifications? of tenant default again/);

      const all: Received[] = rx.received;
      for (const inst of planted) {
        const c = countDeliveries(rx, (r) => firing(r) && instanceOf(r) === inst);
        assert.deepEqual([...c.ids.keys()], [first.get(inst)!.id], `${inst}: one notification id, the one a sent`);
        const seen: string = all.map((r) => { const x = r.body as { id: string; kind: string; status: string }; return `${instanceOf(r)} ${x.kind}/${x.status} ${x.id} at ${r.at}`; }).join('\n');
        const mtext = await (await fetch(/metrics on (http:\/\/\S+\/metrics)/.exec(b.text)![1])).text();
        const byA: number = all.filter((r) => firing(r) && instanceOf(r) === inst && r.at < killedAt).length;
        const why: string = `\n${seen}\n${b.text}\n${mtext.split('\n').filter((l) => /^tidemark_(notif|notify)/.test(l)).join('\n')}`;
        // i0: a's one delivery (held); i3: a's attempts (each answered 503, one or more).
        assert.ok(inst === 'i0' ? byA === 1 : byA >= 1, `${inst}: a's deliveries (${byA})${why}`);
        assert.equal(c.raw - byA, 1, `${inst}: b's one re-send${why}`);
        assert.equal(c.badKeys, 0, 'the Idempotency-Key header carries the id');
      }
      const sent = await store.notifications.list({ tenant: 'default', status: 'sent' });
      assert.deepEqual(sent.map((r) => r.dispatchId).sort(), [...first.values()].map((x) => x.id).sort(), 'each page logged sent once, under its id');
      const alerts = await store.alerts.list({ tenant: 'default' });
      assert.deepEqual(alerts.map((x) => x.labels.instance).sort(), planted, 'one alert per planted spike');
      // b's GET /metrics counts the two re-sent intents and the deliveries its fence let through.
      const metricsUrl = /metrics on (http:\/\/\S+\/metrics)/.exec(b.text)?.[1];
      assert.ok(metricsUrl, 'b serves /metrics');
      const text = await (await fetch(metricsUrl)).text();
      // Usually two; one when b's replay derived a page first (same id: the re-send is skipped), more when a
      // loaded b lost a lease to its own late renewal and took the partition again (its fence dropped the first try).
      assert.match(text, /^tidemark_notify_intents_total\{event="resent"\} [1-9]\d*$/m);
      assert.match(text, /^tidemark_notify_fence_total\{verdict="delivered"\} [1-9]\d*$/m);
      const resent = Number(/^tidemark_notify_intents_total\{event="resent"\} (\d+)$/m.exec(text)?.[1]);
      process.stdout.write(`# notify failover: ${JSON.stringify({ ...Object.fromEntries(planted.map((i) => [i, { id: first.get(i)!.id, reply: first.get(i)!.reply, deliveries: countDeliveries(rx!, (r) => firing(r) && instanceOf(r) === i).raw }])), resent })}\n`);
      await b.kill('SIGTERM');
    } finally {
      await store.close();
    }
  });
});
