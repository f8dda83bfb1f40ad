// Rule aggregates across a real cluster (issue 7): one `serve --cluster` node and two workers on
// the shared NATS JetStream and PostgreSQL (unique stream prefix and schema, removed after). The
// series of each region hash to several partitions; each region's aggregate group lives on one.
// Each multivariate entity (per instance) likewise. The worker owning the eu load group is
// SIGKILLed midway: the survivor restores its groups and entities from their checkpoints and
// replays their feeds, and at the end every derived series (values and bands) equals one process
// over the same data, with exactly one alert per derived series or entity one process flags.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openJetStreamBus } from '../bus/index.ts';
import { TEST_NATS_URL, uniqueName } from '../bus/testkit.ts';
import { createEngine } from '../engine/index.ts';
import { hashToken, openSqliteStore, openStoreFromUrl } from '../store/index.ts';
import { dropSchemas, TEST_POSTGRES_URL, uniqueSchema } from '../store/pg-testkit.ts';
import { unitPartition } from './feeds.ts';
import { CliProc, clusterSkip, postSamples, waitFor } from './testkit.ts';
import { AGG_CONFIG, aggBatchCount, derivedSeries, jsonAggBatch, singleProcessAggregates, STEP_MS, type AggWorkload } from './feeds-testkit.ts';

const TOKEN = 'tmk_test_cluster_feeds_token_0123456789ab';
const LEASE_TTL_MS = 3000;
const PARTITIONS = 8;

const skip = await clusterSkip('the cluster aggregate failover test');

describe('rule aggregates on a cluster (serve --cluster + two workers, real NATS and PostgreSQL)', { skip }, () => {
  const schema = uniqueSchema('tm_feeds_');
  const prefix = uniqueName('tmfeeds');
  const pgUrl = `${TEST_POSTGRES_URL}?schema=${schema}`;
  const procs: CliProc[] = [];
  const dirs = [mkdtempSync(join(tmpdir(), 'tidemark-feeds-node-')), mkdtempSync(join(tmpdir(), 'tidemark-feeds-single-'))];
  after(async () => {
    for (const p of procs) await p.kill('SIGKILL');
    const bus = await openJetStreamBus({ url: TEST_NATS_URL, prefix }).catch(() => undefined);
    await bus?.destroy();
    await bus?.close();
    await dropSchemas([schema]);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('the owner of an aggregate group is SIGKILLed midway: derived series equal one process, one alert per planted break', { timeout: 240_000 }, async () => {
    const w: AggWorkload = { t0: Math.floor((Date.now() - 600 * STEP_MS) / 3600_000) * 3600_000, steps: 600, stepsPerBatch: 3 };
    const single = await openSqliteStore({ dataDir: dirs[1] });
    await single.tenants.create({ id: 'default', name: 'default' });
    const want = await singleProcessAggregates(w, single);
    const broken = [...new Set(want.anomalies.map((a) => `${a.metric}/${a.labels.region ?? a.labels.instance}`))].sort();
    assert.deepEqual(broken.filter((x) => !x.startsWith('multivariate:')), ['region_errors:ratio/us', 'region_load:sum/eu']);
    assert.ok(broken.some((x) => x.startsWith('multivariate:')), 'one process flags an entity');

    const store = await openStoreFromUrl(pgUrl);
    try {
      await store.tenants.create({ id: 'default', name: 'default' });
      await store.tokens.create({ tenant: 'default', name: 'test-admin', role: 'admin', hash: hashToken(TOKEN) });
      const setup = await createEngine({ store, clock: Date.now, checkpointIntervalMs: 0, alerting: false });
      await setup.putConfig(AGG_CONFIG, 'test', null);
      await setup.close();

      const cluster = ['--nats', TEST_NATS_URL, '--postgres', pgUrl, '--prefix', prefix, '--lease-ttl', `${LEASE_TTL_MS}ms`];
      const node = new CliProc(['serve', '--cluster', ...cluster, '--partitions', String(PARTITIONS), '--listen', '127.0.0.1:0', '--data', dirs[0]]);
      procs.push(node);
      const logs = () => procs.map((p, i) => `--- process ${i}\n${p.text}`).join('\n');
      await waitFor('the ingest node', () => /listening on http/.test(node.text), logs);
      const url = /listening on (http:\/\/[^\s]+)/.exec(node.text)![1];
      const a = new CliProc(['worker', ...cluster, '--id', 'a', '--checkpoint-every', '300ms']);
      const b = new CliProc(['worker', ...cluster, '--id', 'b', '--checkpoint-every', '300ms']);
      procs.push(a, b);
      await waitFor('both workers hold partitions', () => a.owned('a').size + b.owned('b').size === PARTITIONS && a.owned('a').size > 0 && b.owned('b').size > 0, logs);

      const post = (k: number) => postSamples(url, TOKEN, jsonAggBatch(w, k), `batch ${k}`);
      const n = aggBatchCount(w);
      let k = 0;
      for (; k < n / 2; k++) {
        await post(k);
        await new Promise((r) => setTimeout(r, 15));
      }
      // Kill whoever owns the eu load group now, mid-stream.
      const eu = unitPartition('default', 'region-load', 'eu\u0000', PARTITIONS);
      const [victim, victimId, survivor, survivorId] = a.owned('a').has(eu) ? [a, 'a', b, 'b'] : [b, 'b', a, 'a'];
      assert.ok(victim.owned(victimId).has(eu), `partition ${eu} of the eu group is held`);
      await victim.kill('SIGKILL');
      for (; k < n; k++) await post(k);
      await waitFor('the survivor takes every partition', () => survivor.owned(survivorId).size === PARTITIONS, logs, 30_000);

      const complete = async () => {
        const got = await derivedSeries(store);
        for (const [key, rows] of want.series) if ((got.get(key)?.length ?? 0) < rows.length) return false;
        return true;
      };
      await waitFor('every derived point', complete, logs, 90_000);
      await waitFor('the alerts', async () => (await store.alerts.list({ tenant: 'default' })).length >= broken.length, logs, 30_000);
      await new Promise((r) => setTimeout(r, 1500)); // a duplicate alert would have been written by now
      await survivor.kill('SIGTERM');

      const got = await derivedSeries(store);
      assert.deepEqual([...got.keys()].sort(), [...want.series.keys()].sort());
      for (const [key, rows] of want.series) assert.deepEqual(got.get(key), rows, `derived series ${key}`);
      const alerts = await store.alerts.list({ tenant: 'default' });
      assert.deepEqual(alerts.map((x) => `${x.metric}/${x.labels.region ?? x.labels.instance}`).sort(), broken, 'exactly one alert per derived series or entity that one process flags');
    } finally {
      await store.close();
    }
  });
});
