// Writes made on a cluster node reach the workers' alert stages (real NATS JetStream and
// PostgreSQL, a unique stream prefix and schema, removed afterwards). The node and the workers
// run in this process but each on its own NATS connection and PostgreSQL pool, as separate
// processes would. The workers' store poll is set to a minute, so within the test only the
// node's announcements can carry an ack, a silence or a config to them.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { openJetStreamBus, partitionOf, type JetStreamBus } from '../bus/index.ts';
import { TEST_NATS_URL, uniqueName } from '../bus/testkit.ts';
import { buildApp } from '../api/index.ts';
import { createEngine, type Engine } from '../engine/index.ts';
import { seriesKey } from '../ingest/names.ts';
import { startReceiver, type LocalReceiver } from '../notify/testkit.ts';
import { hashToken, openStoreFromUrl, type Alert, type Store } from '../store/index.ts';
import { dropSchemas, TEST_POSTGRES_URL, uniqueSchema } from '../store/pg-testkit.ts';
import { decodeChange, encodeChange, nodeAnnouncer, type ClusterChange } from './changes.ts';
import { BusSink } from './ingest.ts';
import { clusterSkip, jsonBatch, seriesLabels, type Workload, WORKLOAD_METRIC } from './testkit.ts';
import { ClusterWorker } from './worker.ts';

const TOKEN = 'tmk_test_cluster_writes_token_0123456789ab';
const skip = await clusterSkip('the cluster writes test');

const ESCALATE_AFTER_S = 8;

function config(url: string, ackTtl = '1h'): string {
  return `tenant: default
metrics:
  - { name: ${WORKLOAD_METRIC}, type: gauge, unit: ms, labels: [service, instance] }
receivers:
  - name: chat
    webhook: { url: '${url}/chat' }
  - name: oncall
    webhook: { url: '${url}/oncall' }
alerting:
  escalation:
    - { receiver: chat, after: ${ESCALATE_AFTER_S}s, next: oncall }
  ack_ttl: ${ackTtl}
rules:
  - name: latency-spike
    selector: ${WORKLOAD_METRIC}
    aggregation: { function: avg, window: 1m }
    detectors: [{ name: threshold, config: { above: 1000 } }, { name: ewma }, { name: robust_z }]
    severity: S1
    owner: team-a
    receiver: chat
    group_by: [instance]
    timing: { group_wait: 0s, group_interval: 1s, repeat_interval: 1s, trigger: { m: 1, n: 1 }, recovery: { points: 500 } }
`;
}

async function waitFor(what: string, ok: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Body {
  kind: string;
  status: string;
  alerts: { fingerprint: string; status: string }[];
}

describe('cluster change announcements', () => {
  it('round-trip, and anything else on the subject is ignored', () => {
    const all: ClusterChange[] = [{ kind: 'ack', tenant: 't', fingerprint: 'abc' }, { kind: 'silences', tenant: 't' }, { kind: 'config', tenant: 'u' }];
    for (const c of all) assert.deepEqual(decodeChange(encodeChange(c)), c);
    const te = new TextEncoder();
    for (const junk of ['', 'not json', 'null', '{"v":2,"kind":"config","tenant":"t"}', '{"v":1,"kind":"ack","tenant":"t"}', '{"v":1,"kind":"drop","tenant":"t"}', '{"v":1,"kind":"config"}']) {
      assert.equal(decodeChange(te.encode(junk)), undefined, junk);
    }
  });
});

describe('cluster writes on a node reach the workers (real NATS and PostgreSQL)', { skip }, () => {
  const schema = uniqueSchema('tm_writes_');
  const prefix = uniqueName('tmwrites');
  const pgUrl = `${TEST_POSTGRES_URL}?schema=${schema}`;
  const closers: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
    const bus = await openJetStreamBus({ url: TEST_NATS_URL, prefix }).catch(() => undefined);
    await bus?.destroy();
    await bus?.close();
    await dropSchemas([schema]);
  });

  it('ack stops repeats and escalation, a silence mutes a new alert, a config change applies, released alerts are forgotten', { timeout: 120_000 }, async () => {
    const rx: LocalReceiver = await startReceiver({ status: 200, body: 'ok' });
    closers.push(() => rx.close());
    const bodies = (path: string) => rx.received.filter((r) => r.url === path).map((r) => r.body as Body);
    const firingTo = (path: string, fp: string) => bodies(path).filter((b) => b.kind !== 'acknowledge' && b.alerts.some((a) => a.fingerprint === fp && a.status === 'firing')).length;

    // The node: its own bus connection and store, no alert stage, as `serve --cluster` builds it.
    const nodeBus: JetStreamBus = await openJetStreamBus({ url: TEST_NATS_URL, prefix, partitions: 4, leaseTtlMs: 2000 });
    closers.push(() => nodeBus.close());
    const nodeStore: Store = await openStoreFromUrl(pgUrl);
    closers.push(() => nodeStore.close());
    await nodeStore.tenants.create({ id: 'default', name: 'default' });
    await nodeStore.tokens.create({ tenant: 'default', name: 'test-admin', role: 'admin', hash: hashToken(TOKEN) });
    const nodeEngine: Engine = await createEngine({ store: nodeStore, clock: Date.now, checkpointIntervalMs: 0, alerting: false });
    closers.push(() => nodeEngine.close());
    const app: FastifyInstance = await buildApp({ store: nodeStore, engine: nodeEngine, clock: Date.now, sink: new BusSink(nodeBus), announce: nodeAnnouncer(nodeBus, nodeEngine) });
    closers.push(() => app.close());
    const auth = { authorization: `Bearer ${TOKEN}` };
    const api = async (method: 'GET' | 'POST' | 'DELETE', url: string, body?: string, type = 'application/json') => {
      const r = await app.inject({ method, url, headers: body === undefined ? auth : { ...auth, 'content-type': type }, payload: body });
      return { status: r.statusCode, json: r.json() as { data: Record<string, unknown> } };
    };
    const put = await api('POST', '/api/v1/config', config(rx.url), 'application/yaml');
    assert.equal(put.status, 201, JSON.stringify(put.json));

    const workerBus = await openJetStreamBus({ url: TEST_NATS_URL, prefix });
    closers.push(() => workerBus.close());
    const workerStore = await openStoreFromUrl(pgUrl);
    closers.push(() => workerStore.close());
    const a = await ClusterWorker.start({ bus: workerBus, store: workerStore, id: 'wa', tickMs: 100, checkpointEveryMs: 500, refreshEveryMs: 60_000 });
    closers.push(() => a.stop());
    await waitFor('worker a owns every partition', () => a.owned().length === 4);

    // Series i0 spikes at step 130 (after the detectors warmed up), i1 at step 170.
    const w: Workload = { series: 2, steps: 200, stepMs: 60_000, t0: Date.now() - 200 * 60_000, stepsPerBatch: 10, planted: [{ series: 0, step: 130 }, { series: 1, step: 170 }] };
    const ingest = async (from: number, to: number) => {
      for (let k = from; k < to; k++) {
        const r = await app.inject({ method: 'POST', url: '/api/v1/samples', headers: { ...auth, 'content-type': 'application/json' }, payload: jsonBatch(w, k) });
        assert.ok(r.statusCode < 300, r.body);
      }
    };
    const firing = async (instance: string): Promise<Alert | undefined> =>
      (await nodeStore.alerts.list({ tenant: 'default', states: ['firing'] })).find((x) => x.labels.instance === instance);

    // ---- an ack on the node stops the worker's repeats and its escalation ----
    await ingest(0, 15);
    await waitFor('the alert of i0 fires', async () => (await firing('i0')) !== undefined);
    const fp0 = (await firing('i0'))!.fingerprint;
    await waitFor('a first notification and a repeat to chat', () => firingTo('/chat', fp0) >= 2);
    const unknown = await api('POST', '/api/v1/alerts/no-such-alert/ack', JSON.stringify({ ttl: '30m' }));
    assert.equal(unknown.status, 404);
    assert.equal((unknown.json as unknown as { error: { field: string } }).error.field, 'id');
    const changes0 = a.stats.changes;
    const ack = await api('POST', `/api/v1/alerts/${fp0}/ack`, JSON.stringify({ ttl: '30m', comment: 'looking' }));
    assert.equal(ack.status, 201, JSON.stringify(ack.json));
    assert.equal(ack.json.data.fingerprint, fp0);
    assert.equal(Number(ack.json.data.expiresAt) - Number(ack.json.data.at), 30 * 60_000);
    await waitFor('the worker applied the ack', () => a.stats.changes > changes0, 5_000);
    assert.equal(a.engine.alerting!.stage.ackOf('default', fp0)?.by, 'test-admin');
    // A flush already under way may still go out; after that, nothing more for this alert.
    await sleep(1_500);
    const afterAck = firingTo('/chat', fp0);
    const firstFiring = rx.received.find((r) => r.url === '/chat')!.at;
    await sleep(Math.max(3_000, firstFiring + (ESCALATE_AFTER_S + 2) * 1000 - Date.now()));
    assert.equal(firingTo('/chat', fp0), afterAck, 'no repeat while acked');
    assert.equal(bodies('/oncall').length, 0, 'no escalation of an acked alert');
    await a.checkpoint(); // persists the stage: the acknowledged event is on the stored alert
    const detail = await api('GET', `/api/v1/alerts/${fp0}`);
    assert.ok((detail.json.data.events as { kind: string }[]).some((e) => e.kind === 'acknowledged'), JSON.stringify(detail.json.data.events));
    assert.equal((detail.json.data.acks as unknown[]).length, 1);

    // ---- a silence made on the node mutes a new matching alert on the worker ----
    const changes1 = a.stats.changes;
    const sil = await api('POST', '/api/v1/silences', JSON.stringify({ matchers: '{instance="i1"}', duration: '1h', reason: 'maintenance of i1' }));
    assert.equal(sil.status, 201, JSON.stringify(sil.json));
    await waitFor('the worker loaded the silence', () => a.stats.changes > changes1, 5_000);
    await ingest(15, 20);
    await waitFor('the alert of i1 fires', async () => (await firing('i1')) !== undefined);
    const fp1 = (await firing('i1'))!.fingerprint;
    await sleep(2_500); // group_wait 0s and group_interval 1s: it would have gone out by now
    assert.equal(firingTo('/chat', fp1), 0, 'the silenced alert paged nobody');
    await a.checkpoint();
    const d1 = await api('GET', `/api/v1/alerts/${fp1}`);
    assert.ok((d1.json.data.suppressions as { kind: string }[]).some((s) => s.kind === 'silence'), JSON.stringify(d1.json.data.suppressions));

    // ---- a config change through the node's admin API reaches the worker ----
    const v2 = await api('POST', '/api/v1/config', config(rx.url, '2h'), 'application/yaml');
    assert.equal(v2.status, 201);
    const version = Number(v2.json.data.version);
    await waitFor('the worker runs the new config version', () => a.engine.config('default').version === version, 5_000);
    assert.equal(a.engine.alerting!.policyFor('default').ackTtlMs, 2 * 3600_000);

    // ---- a worker giving partitions up forgets their open alerts ----
    const partitionOfAlert = (x: Alert) => {
      const flat = Object.entries(seriesLabels(Number(x.labels.instance.slice(1)))).sort(([p], [q]) => (p < q ? -1 : 1)).flat();
      return partitionOf(seriesKey(WORKLOAD_METRIC, flat, flat.length), 4);
    };
    const open = (await nodeStore.alerts.list({ tenant: 'default', states: ['firing'] })).filter((x) => x.labels.instance === 'i0' || x.labels.instance === 'i1');
    assert.equal(open.length, 2);
    const b = await ClusterWorker.start({ bus: workerBus, store: workerStore, id: 'wb', tickMs: 100, checkpointEveryMs: 500, refreshEveryMs: 60_000 });
    closers.push(() => b.stop());
    await waitFor('a and b share the partitions', () => a.owned().length === 2 && b.owned().length === 2 && a.stats.released === 2);
    const moved = open.filter((x) => !a.owned().includes(partitionOfAlert(x)));
    assert.equal(a.stats.forgotten, moved.length, `alerts on the partitions a gave up (${moved.map(partitionOfAlert)}; a keeps ${a.owned()})`);
    const firingIn = (wk: ClusterWorker) => [...wk.engine.alerting!.stage.openAlerts().values()].reduce((s, n) => s + n, 0);
    assert.equal(firingIn(a), open.length - moved.length, 'a keeps only the alerts of its partitions');
  });
});
