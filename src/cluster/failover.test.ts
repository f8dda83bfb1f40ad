// The cluster as users run it: one `tidemark serve --cluster` node and two `tidemark worker`
// processes on the shared NATS JetStream and PostgreSQL (a unique stream prefix and schema,
// removed afterwards). A labelled stream with planted spikes goes in over HTTP; one worker is
// SIGKILLed midway. The survivor must take its partitions within the lease time, every planted
// spike must give exactly one alert and one firing notification id (delivered at least once: a
// page the dead worker sent but never logged is sent again under its id, which the receiver
// drops by id), no notification may be missing or left unsettled, and the detector state must
// equal a single-process run over the same data.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openJetStreamBus } from '../bus/index.ts';
import { TEST_NATS_URL, uniqueName } from '../bus/testkit.ts';
import { createEngine } from '../engine/index.ts';
import { IngestBatch } from '../ingest/index.ts';
import { countDeliveries, startReceiver, type LocalReceiver, type Received } from '../notify/testkit.ts';
import { hashToken, openSqliteStore, openStoreFromUrl, type Store } from '../store/index.ts';
import { dropSchemas, TEST_POSTGRES_URL, uniqueSchema } from '../store/pg-testkit.ts';
import { batchCount, CliProc, clusterSkip, fillBatch, jsonBatch, latencyRuleConfig, makeWorkload, postSamples, seriesLabels, waitFor, type Workload } from './testkit.ts';

const TOKEN = 'tmk_test_cluster_failover_token_0123456789';
const LEASE_TTL_MS = 3000;

const skip = await clusterSkip('the cluster failover test');


/** Detector state per series key, as hex checkpoint bytes. */
async function states(store: Store): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const series = await store.series.find('default', []);
  const cps = await store.checkpoints.getMany(series.map((s) => s.id));
  for (const s of series) {
    const cp = cps.get(s.id);
    if (cp) out.set(`${s.metric}${JSON.stringify(s.labels, Object.keys(s.labels).sort())}`, Buffer.from(cp.blob).toString('hex'));
  }
  return out;
}

async function singleProcess(w: Workload, yaml: string): Promise<Map<string, string>> {
  const dir = mkdtempSync(join(tmpdir(), 'tidemark-single-'));
  try {
    const store = await openSqliteStore({ dataDir: dir });
    await store.tenants.create({ id: 'default', name: 'default' });
    const engine = await createEngine({ store, clock: Date.now, checkpointIntervalMs: 0, alerting: false });
    await engine.putConfig(yaml, 'test', null);
    const b = new IngestBatch({ maxFutureMs: Number.MAX_SAFE_INTEGER });
    for (let k = 0; k < batchCount(w); k++) await engine.ingest('default', fillBatch(w, k, b), 'live');
    await engine.close();
    const s = await states(store);
    await store.close();
    return s;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('cluster failover (serve --cluster + two workers, real NATS and PostgreSQL)', { skip }, () => {
  const schema = uniqueSchema('tm_cluster_');
  const prefix = uniqueName('tmfail');
  const pgUrl = `${TEST_POSTGRES_URL}?schema=${schema}`;
  const procs: CliProc[] = [];
  let rx: LocalReceiver | undefined;
  const dataDir = mkdtempSync(join(tmpdir(), 'tidemark-cluster-node-'));
  after(async () => {
    for (const p of procs) await p.kill('SIGKILL');
    await rx?.close();
    const bus = await openJetStreamBus({ url: TEST_NATS_URL, prefix }).catch(() => undefined);
    await bus?.destroy();
    await bus?.close();
    await dropSchemas([schema]);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('a SIGKILLed worker loses nothing, pages once per anomaly, and ends in the single-process state', { timeout: 180_000 }, async () => {
    rx = await startReceiver({ status: 200, body: 'ok' });
    const yaml = latencyRuleConfig(rx.url, '{ name: threshold, config: { above: 1000 } }, { name: ewma }, { name: robust_z }');
    const w = makeWorkload({ series: 24, steps: 400, t0: Date.now() - 400 * 60_000, stepsPerBatch: 10, plantEvery: 20 });
    const want = await singleProcess(w, yaml);

    // The cluster's tenant, token and config, as an operator would have set them up.
    const store = await openStoreFromUrl(pgUrl);
    try {
      await store.tenants.create({ id: 'default', name: 'default' });
      await store.tokens.create({ tenant: 'default', name: 'test-admin', role: 'admin', hash: hashToken(TOKEN) });
      const setup = await createEngine({ store, clock: Date.now, checkpointIntervalMs: 0, alerting: false });
      await setup.putConfig(yaml, 'test', null);
      await setup.close();

      const cluster = ['--nats', TEST_NATS_URL, '--postgres', pgUrl, '--prefix', prefix, '--lease-ttl', `${LEASE_TTL_MS}ms`];
      const node = new CliProc(['serve', '--cluster', ...cluster, '--partitions', '8', '--listen', '127.0.0.1:0', '--data', dataDir]);
      procs.push(node);
      const logs = () => procs.map((p, i) => `--- process ${i}\n${p.text}`).join('\n');
      await waitFor('the ingest node', () => /listening on http/.test(node.text), logs);
      const url = /listening on (http:\/\/[^\s]+)/.exec(node.text)![1];
      const a = new CliProc(['worker', ...cluster, '--id', 'a', '--checkpoint-every', '300ms']);
      const b = new CliProc(['worker', ...cluster, '--id', 'b', '--checkpoint-every', '300ms']);
      procs.push(a, b);
      const owned = (p: CliProc, id: string) => p.owned(id);
      await waitFor('both workers hold partitions', () => owned(a, 'a').size + owned(b, 'b').size === 8 && owned(a, 'a').size > 0 && owned(b, 'b').size > 0, logs);

      const post = (k: number) => postSamples(url, TOKEN, jsonBatch(w, k), `batch ${k}`);
      const n = batchCount(w);
      let k = 0;
      for (; k < n / 2; k++) {
        await post(k);
        await new Promise((r) => setTimeout(r, 30));
      }
      const aHeld = owned(a, 'a');
      const killedAt = Date.now();
      await a.kill('SIGKILL');
      for (; k < n; k++) await post(k);
      await waitFor('b takes every partition', () => owned(b, 'b').size === 8, logs, 30_000);
      // When b logged the last of a's partitions (its log lines carry no time: measure by polling).
      const takeoverMs = Date.now() - killedAt;
      process.stdout.write(`# takeover of ${aHeld.size} partitions after SIGKILL: <= ${takeoverMs} ms (lease TTL ${LEASE_TTL_MS} ms)\n`);
      assert.ok(takeoverMs <= LEASE_TTL_MS + 3000, `took over in ${takeoverMs} ms`);

      // Every acknowledged sample is stored, once.
      const ids = await store.series.find('default', []);
      const complete = async () => {
        if (ids.length < w.series) ids.splice(0, ids.length, ...(await store.series.find('default', [])));
        if (ids.length < w.series) return false;
        for (const s of ids) if ((await store.samples.range('default', s.id, 0, Date.now() + 1)).t.length !== w.steps) return false;
        return true;
      };
      await waitFor('every sample applied', complete, logs, 60_000);
      const firing = () => {
        const per = new Map<string, number>();
        for (const r of rx!.received) {
          const body = r.body as { kind?: string; status?: string; groupLabels?: Record<string, string> };
          if (r.url !== '/chat' || body.kind !== 'notify' || body.status !== 'firing') continue;
          const i = body.groupLabels?.instance ?? '?';
          per.set(i, (per.get(i) ?? 0) + 1);
        }
        return per;
      };
      const plantedInstances = w.planted.map((p) => seriesLabels(p.series).instance).sort();
      const alertsNow = async () => (await store.alerts.list({ tenant: 'default' })).map((x) => `${x.labels.instance}:${x.state}`).join(' ');
      let seen = '';
      await waitFor('a notification per planted spike', async () => {
        seen = `notified ${JSON.stringify([...firing()])}; alerts ${await alertsNow()}; planted ${plantedInstances.join(' ')}`;
        return firing().size >= plantedInstances.length;
      }, () => `${seen}\n${logs()}`, 30_000);
      await new Promise((r) => setTimeout(r, 1500)); // a duplicate would have arrived by now
      await b.kill('SIGTERM'); // checkpoints everything it holds
      assert.match(b.text, /worker b: stopped|tidemark worker: stopped/);

      const per = firing();
      assert.deepEqual([...per.keys()].sort(), plantedInstances, 'notified series are the planted ones');
      const isFiring = (r: Received) => {
        const body = r.body as { kind?: string; status?: string };
        return r.url === '/chat' && body.kind === 'notify' && body.status === 'firing';
      };
      const byInstance = new Map(plantedInstances.map((i) => [i, countDeliveries(rx!, (r) => isFiring(r) && (r.body as { groupLabels?: Record<string, string> }).groupLabels?.instance === i)]));
      const all = countDeliveries(rx!, isFiring);
      // For the soak loop: runs are counted by this line.
      process.stdout.write(`# failover notifications: ${JSON.stringify({ planted: plantedInstances.length, ids: all.ids.size, deliveries: all.raw, repeated: all.repeated.length, badKeys: all.badKeys, multiIdInstances: [...byInstance].filter(([, c]) => c.ids.size > 1).map(([i]) => i) })}\n`);
      // Who sent what when: the dispatch ids (same id: one stage's dispatch sent twice), receipt
      // times against the kill, and the log rows the store kept for the instance's alerts.
      const detail = async (i: string) => {
        const pages = rx!.received.filter((r) => r.url === '/chat' && (r.body as { groupLabels?: Record<string, string> }).groupLabels?.instance === i)
          .map((r) => { const x = r.body as { id: string; kind: string; status: string; alerts: { fingerprint: string; startsAt: number }[] }; return `${x.id} ${x.kind}/${x.status} at kill${r.at - killedAt >= 0 ? '+' : ''}${r.at - killedAt}ms fps ${x.alerts.map((al) => al.fingerprint).join(',')}`; });
        const fps = new Set((await store.alerts.list({ tenant: 'default' })).filter((x) => x.labels.instance === i).map((x) => x.fingerprint));
        const rows = [];
        for (const fp of fps) for (const n of await store.notifications.list({ tenant: 'default', fingerprint: fp })) rows.push(`${n.status} ${n.alertState} at kill${n.at - killedAt >= 0 ? '+' : ''}${n.at - killedAt}ms`);
        return `${pages.join('\n')}\nlog rows: ${rows.join('; ')}\n${logs()}`;
      };
      // Exactly one notification id per planted spike, delivered at least once (a repeat under the same id is at-least-once delivery).
      for (const [i, c] of byInstance) if (c.ids.size !== 1 || c.raw < 1) assert.fail(`firing notification ids for ${i}: ${[...c.ids].map(([id, n]) => `${id} x${n}`).join(', ') || 'none'}\n${await detail(i)}`);
      assert.equal(all.badKeys, 0, 'every delivery carries its id as Idempotency-Key');
      // None missing: nothing left pending, and every page logged as sent reached the receiver.
      assert.deepEqual(await store.notifications.pending({ tenant: 'default' }), [], 'no notification left unsettled');
      const logged = new Set((await store.notifications.list({ tenant: 'default', status: 'sent', limit: 100_000 })).map((r) => r.dispatchId));
      for (const id of logged) if (id !== null) assert.ok(rx.received.some((r) => (r.body as { id?: string }).id === id), `notification ${id} is logged as sent but never arrived`);
      const alerts = await store.alerts.list({ tenant: 'default' });
      assert.deepEqual(alerts.map((x) => x.labels.instance).sort(), plantedInstances, 'one alert per planted spike');

      const got = await states(store);
      assert.equal(got.size, want.size);
      for (const [key, hex] of want) assert.equal(got.get(key), hex, `detector state of ${key}`);
    } finally {
      await store.close();
    }
  });
});
