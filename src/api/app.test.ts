import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { openTestService, remoteWriteBody, type TestService } from './testkit.ts';

const MIN = 60_000;
const T0 = 1_700_000_000_000;
let now = T0 + 2000 * MIN;
const clock = () => now;

let svc: TestService;
before(async () => {
  svc = await openTestService({ clock, limits: { maxBodyBytes: 256 * 1024 } });
});
after(async () => svc.close());

type Json = Record<string, any>;

async function call(method: 'GET' | 'POST', url: string, o: { token?: string; type?: string; body?: string | Buffer; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...o.headers };
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  if (o.type) headers['content-type'] = o.type;
  const res = await svc.app.inject({ method, url, headers, payload: o.body });
  let json: Json = {};
  try {
    json = res.json();
  } catch {
    // not JSON (/metrics)
  }
  return { status: res.statusCode, json, text: res.body, headers: res.headers };
}

const samples = (list: unknown[]) => JSON.stringify({ samples: list });
const tok = (tenant: string, role: 'read' | 'write' | 'admin') => svc.tokens[tenant][role];

function wave(metric: string, labels: Record<string, string>, from: number, count: number) {
  return Array.from({ length: count }, (_, i) => ({ metric, labels, t: T0 + (from + i) * MIN, value: 50 + 5 * Math.sin((from + i) / 30) + (((from + i) * 7919) % 11) * 0.2 }));
}

describe('auth and roles', () => {
  const cases: { name: string; headers: Record<string, string>; status: number; code: string; msg: RegExp }[] = [
    { name: 'no token', headers: {}, status: 401, code: 'TM_ERR_UNAUTHORIZED', msg: /Authorization: Bearer <token>/ },
    { name: 'unknown token', headers: { authorization: 'Bearer tmk_nope' }, status: 401, code: 'TM_ERR_UNAUTHORIZED', msg: /unknown API token/ },
    { name: 'malformed header', headers: { authorization: 'Basic abc' }, status: 401, code: 'TM_ERR_UNAUTHORIZED', msg: /missing API token/ },
  ];
  for (const c of cases) {
    it(`answers 401 for ${c.name}`, async () => {
      const r = await call('POST', '/api/v1/samples', { type: 'application/json', body: samples([]), headers: c.headers });
      assert.equal(r.status, c.status);
      assert.equal(r.json.error.code, c.code);
      assert.equal(r.json.error.field, 'Authorization');
      assert.match(r.json.error.message, c.msg);
    });
  }

  const roles = [
    { name: 'a read token cannot write', method: 'POST' as const, url: '/api/v1/samples', role: 'read' as const, status: 403 },
    { name: 'a write token cannot read', method: 'GET' as const, url: '/api/v1/labels', role: 'write' as const, status: 403 },
    { name: 'a write token cannot change config', method: 'POST' as const, url: '/api/v1/config', role: 'write' as const, status: 403 },
    { name: 'a read token cannot read config', method: 'GET' as const, url: '/api/v1/config', role: 'read' as const, status: 403 },
    { name: 'an admin token reads', method: 'GET' as const, url: '/api/v1/labels', role: 'admin' as const, status: 200 },
  ];
  for (const c of roles) {
    it(c.name, async () => {
      const r = await call(c.method, c.url, { token: tok('default', c.role), type: 'application/json', body: c.method === 'POST' ? samples([]) : undefined });
      assert.equal(r.status, c.status);
      if (c.status === 403) {
        assert.equal(r.json.error.code, 'TM_ERR_FORBIDDEN');
        assert.match(r.json.error.message, new RegExp(`has role ${c.role}`));
      }
    });
  }

  it('a revoked token stops working', async () => {
    const { addToken } = await import('./testkit.ts');
    const secret = await addToken(svc.store, 'default', 'read', 'soon-revoked');
    const list = await svc.store.tokens.list('default');
    const t = list.find((x) => x.name === 'soon-revoked')!;
    await svc.store.tokens.revoke('default', t.id, clock() - 1);
    const r = await call('GET', '/api/v1/labels', { token: secret });
    assert.equal(r.status, 401);
    assert.match(r.json.error.message, /revoked or has expired/);
  });

  for (const url of ['/healthz', '/readyz', '/metrics']) {
    it(`${url} needs no token`, async () => {
      assert.equal((await call('GET', url)).status, 200);
    });
  }
});

describe('error catalogue', () => {
  const cases = [
    { name: '400 malformed JSON', url: '/api/v1/samples', type: 'application/json', body: '{"samples": [', status: 400, code: 'TM_ERR_INPUT', msg: /not valid JSON/ },
    { name: '400 JSON without samples', url: '/api/v1/samples', type: 'application/json', body: '{}', status: 400, code: 'TM_ERR_INPUT', field: 'samples' },
    { name: '400 corrupt remote_write', url: '/api/v1/write', type: 'application/x-protobuf', body: Buffer.from('not snappy at all'), status: 400, code: 'TM_ERR_INPUT' },
    { name: '400 bad gzip', url: '/api/v2/write', type: 'text/plain', body: Buffer.from('xx'), headers: { 'content-encoding': 'gzip' }, status: 400, code: 'TM_ERR_INPUT', field: 'Content-Encoding' },
    { name: '400 bad precision', url: '/api/v2/write?precision=fortnight', type: 'text/plain', body: 'm v=1', status: 400, code: 'TM_ERR_INPUT', field: 'precision' },
    { name: '413 body over the limit', url: '/api/v1/samples', type: 'application/json', body: 'x'.repeat(300 * 1024), status: 413, code: 'TM_ERR_TOO_LARGE', field: 'body' },
    { name: '413 gzip bomb', url: '/api/v1/samples', type: 'application/json', body: gzipSync(Buffer.alloc(80 * 1024 * 1024, 32)), headers: { 'content-encoding': 'gzip' }, status: 413, code: 'TM_ERR_TOO_LARGE' },
    { name: '415 text to the JSON endpoint', url: '/api/v1/samples', type: 'text/plain', body: 'x', status: 415, code: 'TM_ERR_MEDIA_TYPE', field: 'Content-Type', msg: /send application\/json/ },
    { name: '415 JSON to remote_write', url: '/api/v1/write', type: 'application/json', body: '{}', status: 415, code: 'TM_ERR_MEDIA_TYPE' },
    { name: '415 no content type', url: '/api/v1/samples', body: '{}', status: 415, code: 'TM_ERR_MEDIA_TYPE' },
    { name: '404 unknown endpoint', url: '/api/v1/nope', type: 'application/json', body: '{}', status: 404, code: 'TM_ERR_NOT_FOUND' },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const r = await call('POST', c.url, { token: tok('default', 'write'), type: c.type, body: c.body, headers: c.headers });
      assert.equal(r.status, c.status, r.text);
      assert.equal(r.json.error.code, c.code);
      assert.equal(typeof r.json.error.message, 'string');
      if (c.field) assert.equal(r.json.error.field, c.field);
      if (c.msg) assert.match(r.json.error.message, c.msg);
    });
  }
});

describe('ingest', () => {
  it('keeps the good samples of a batch and reports the rest by reason', async () => {
    const r = await call('POST', '/api/v1/samples', {
      token: tok('default', 'write'),
      type: 'application/json',
      body: samples([
        { metric: 'jobs_done', labels: { queue: 'a' }, t: T0, value: 1 },
        { metric: 'jobs_done', labels: { queue: 'a' }, t: T0 + MIN, value: 'many' },
        { metric: '9bad', t: T0, value: 1 },
        { metric: 'jobs_done', labels: { queue: 'b' }, t: T0, value: 2 },
      ]),
    });
    assert.equal(r.status, 200);
    assert.equal(r.json.accepted, 2);
    assert.equal(r.json.rejected, 2);
    assert.deepEqual(r.json.rejections.map((x: Json) => x.reason).sort(), ['invalid_metric_name', 'non_numeric_value']);
    assert.equal(r.json.rejections.find((x: Json) => x.reason === 'non_numeric_value').examples[0].field, 'samples[1].value');
  });

  it('answers 4xx when nothing was accepted', async () => {
    const r = await call('POST', '/api/v1/samples', { token: tok('default', 'write'), type: 'application/json', body: samples([{ metric: 'x', t: T0, value: null }, { metric: 'x', t: now + 86400_000, value: 1 }]) });
    assert.equal(r.status, 400);
    assert.equal(r.json.accepted, 0);
    assert.equal(r.json.rejected, 2);
    assert.equal(r.json.error.field, 'samples[0].value');
    assert.match(r.json.error.message, /no sample was accepted; 2 rejected \(non_numeric_value: 1, timestamp_too_far_in_future: 1\)/);
  });

  it('accepts a retried batch idempotently', async () => {
    const body = samples([{ metric: 'retry_me', t: T0, value: 1 }]);
    await call('POST', '/api/v1/samples', { token: tok('default', 'write'), type: 'application/json', body });
    const r = await call('POST', '/api/v1/samples', { token: tok('default', 'write'), type: 'application/json', body });
    assert.equal(r.status, 200);
    assert.equal(r.json.duplicates, 1);
  });

  it('takes remote_write, ending a series on a staleness marker', async () => {
    const body = remoteWriteBody([
      { labels: [['__name__', 'up'], ['job', 'api']], samples: [[T0, 1], [T0 + 15_000, 1], [T0 + 30_000, 'stale']] },
      { labels: [['job', 'nameless']], samples: [[T0, 1]] },
    ]);
    const r = await call('POST', '/api/v1/write', { token: tok('default', 'write'), type: 'application/x-protobuf', body, headers: { 'content-encoding': 'snappy' } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.accepted, 2);
    assert.equal(r.json.stale, 1);
    assert.deepEqual(r.json.rejections.map((x: Json) => x.reason), ['missing_metric_name']);
  });

  it('takes line protocol, gzip and a precision', async () => {
    const lines = `cpu,host=a usage_idle=90.5,usage_user=3i ${(T0 / 1000).toFixed(0)}\ncpu,host=a broken\n`;
    const r = await call('POST', '/api/v2/write?org=x&bucket=y&precision=s', { token: tok('default', 'write'), type: 'text/plain; charset=utf-8', body: gzipSync(lines), headers: { 'content-encoding': 'gzip' } });
    assert.equal(r.status, 400, 'a partial write is a 400, as InfluxDB answers it');
    assert.match(r.json.error.message, /partial write: 2 samples accepted, 1 rejected \(malformed_line: 1\)/);
    assert.equal(r.json.accepted, 2);
    assert.equal(r.json.rejections[0].reason, 'malformed_line');
    assert.equal(r.json.rejections[0].examples[0].line, 2);
    const q = await call('GET', `/api/v1/query?query=cpu_usage_idle&time=${T0 / 1000}`, { token: tok('default', 'read') });
    assert.equal(q.json.data.result[0].value[1], '90.5');
  });

  it('takes OTLP/JSON and answers with an ExportMetricsServiceResponse', async () => {
    const body = JSON.stringify({
      resourceMetrics: [{
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'checkout' } }] },
        scopeMetrics: [{ metrics: [{ name: 'queue.depth', gauge: { dataPoints: [{ timeUnixNano: String(T0 * 1e6), asDouble: 7 }] } }] }],
      }],
    });
    const r = await call('POST', '/v1/metrics', { token: tok('default', 'write'), type: 'application/json', body });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.accepted, 1);
    const s = await call('GET', '/api/v1/series?match[]=queue_depth', { token: tok('default', 'read') });
    assert.deepEqual(s.json.data, [{ __name__: 'queue_depth', service_name: 'checkout' }]);
  });

  it('refuses new series beyond the limit with 429 naming metric and label, and keeps the rest', async () => {
    const yaml = 'tenant: other\nlimits:\n  label_values_per_metric: 2\n';
    const put = await call('POST', '/api/v1/config', { token: tok('other', 'admin'), type: 'application/yaml', body: yaml });
    assert.equal(put.status, 201, put.text);
    const w = (list: unknown[]) => call('POST', '/api/v1/samples', { token: tok('other', 'write'), type: 'application/json', body: samples(list) });
    assert.equal((await w([{ metric: 'req', labels: { user: 'u1' }, t: T0, value: 1 }, { metric: 'req', labels: { user: 'u2' }, t: T0, value: 1 }])).status, 200);
    const r = await w([{ metric: 'req', labels: { user: 'u1' }, t: T0 + MIN, value: 1 }, { metric: 'req', labels: { user: 'u3' }, t: T0 + MIN, value: 1 }]);
    assert.equal(r.status, 429);
    assert.equal(r.json.error.code, 'TM_ERR_CARDINALITY');
    assert.equal(r.json.error.metric, 'req');
    assert.equal(r.json.error.label, 'user');
    assert.equal(r.json.error.field, 'labels.user');
    assert.match(r.json.error.message, /metric req already has 2 values of label user \(limit 2\)/);
    assert.equal(r.json.accepted, 1, 'the existing series keeps flowing');
    // The other tenant is not limited.
    const d = await call('POST', '/api/v1/samples', { token: tok('default', 'write'), type: 'application/json', body: samples([{ metric: 'req', labels: { user: 'u3' }, t: T0, value: 1 }]) });
    assert.equal(d.status, 200);
  });

  it('refuses a config for another tenant and an invalid config', async () => {
    const other = await call('POST', '/api/v1/config', { token: tok('default', 'admin'), type: 'application/yaml', body: 'tenant: other\n' });
    assert.equal(other.status, 403);
    assert.equal(other.json.error.field, 'tenant');
    const bad = await call('POST', '/api/v1/config', { token: tok('default', 'admin'), type: 'application/yaml', body: 'tenant: default\nlimitz: {}\n' });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.code, 'TM_ERR_CONFIG');
    assert.match(bad.json.error.message, /limitz/);
  });
});

describe('tenant isolation', () => {
  it('a token of one tenant neither reads nor writes the other tenant', async () => {
    // The payload cannot choose the tenant: a `tenant` label is just a label of the token's tenant.
    await call('POST', '/api/v1/samples', { token: tok('other', 'write'), type: 'application/json', body: samples([{ metric: 'secret_metric', labels: { tenant: 'default' }, t: T0, value: 42 }]) });
    const mine = await call('GET', '/api/v1/series?match[]=secret_metric', { token: tok('other', 'read') });
    assert.equal(mine.json.data.length, 1);
    for (const url of ['/api/v1/series?match[]=secret_metric', `/api/v1/query?query=secret_metric&time=${T0 / 1000}`, '/api/v1/label/__name__/values']) {
      const r = await call('GET', url, { token: tok('default', 'read') });
      assert.equal(r.status, 200);
      assert.ok(!JSON.stringify(r.json).includes('secret_metric'), `${url} leaks: ${r.text}`);
    }
    await call('POST', '/api/v1/changes', { token: tok('other', 'write'), type: 'application/json', body: JSON.stringify({ kind: 'deploy', service: 'hidden', t: T0, text: 'x' }) });
    const ch = await call('GET', `/api/v1/changes?from=0&to=${now}`, { token: tok('default', 'read') });
    assert.ok(!JSON.stringify(ch.json).includes('hidden'));
  });
});

describe('query API', () => {
  before(async () => {
    const r = await call('POST', '/api/v1/samples', { token: tok('default', 'write'), type: 'application/json', body: samples([...wave('lat_p99', { service: 'auth', metric: 'x' }, 0, 600), ...wave('lat_p99', { service: 'cart' }, 0, 10)]) });
    assert.equal(r.status, 200, r.text);
  });

  it('lists series, label names and values', async () => {
    const s = await call('GET', '/api/v1/series?match[]=lat_p99{service=~"a.*"}', { token: tok('default', 'read') });
    assert.deepEqual(s.json.data, [{ __name__: 'lat_p99', metric: 'x', service: 'auth' }]);
    const l = await call('GET', '/api/v1/labels?match[]=lat_p99', { token: tok('default', 'read') });
    assert.deepEqual(l.json.data, ['__name__', 'metric', 'service']);
    const v = await call('GET', '/api/v1/label/service/values?match[]=lat_p99', { token: tok('default', 'read') });
    assert.deepEqual(v.json.data, ['auth', 'cart']);
    const n = await call('GET', '/api/v1/label/__name__/values', { token: tok('default', 'read') });
    assert.ok(n.json.data.includes('tidemark_score') && n.json.data.includes('lat_p99'));
  });

  it('answers instant, range-selector and query_range queries', async () => {
    const at = (T0 + 100 * MIN) / 1000;
    const q = await call('GET', `/api/v1/query?query=${encodeURIComponent('lat_p99{service="auth"}')}&time=${at}`, { token: tok('default', 'read') });
    assert.equal(q.json.data.resultType, 'vector');
    assert.deepEqual(q.json.data.result[0].value[0], at);
    const m = await call('GET', `/api/v1/query?query=${encodeURIComponent('lat_p99{service="auth"}[10m]')}&time=${at}`, { token: tok('default', 'read') });
    assert.equal(m.json.data.resultType, 'matrix');
    assert.equal(m.json.data.result[0].values.length, 10);
    const form = `query=${encodeURIComponent('{__name__="lat_p99",service="auth"}')}&start=${at - 3600}&end=${at}&step=60`;
    const r = await call('POST', '/api/v1/query_range', { token: tok('default', 'read'), type: 'application/x-www-form-urlencoded', body: form });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.data.result[0].values.length, 61);
  });

  it('serves the band and score as companion series with the same labels', async () => {
    const at = (T0 + 599 * MIN) / 1000;
    const q = await call('GET', `/api/v1/query_range?query=${encodeURIComponent('tidemark_upper{metric="lat_p99",service="auth"}')}&start=${at - 600}&end=${at}&step=60`, { token: tok('default', 'read') });
    assert.equal(q.status, 200, q.text);
    const [series] = q.json.data.result;
    assert.deepEqual(series.metric, { __name__: 'tidemark_upper', metric: 'lat_p99', exported_metric: 'x', service: 'auth' });
    assert.equal(series.values.length, 11);
    const value = await call('GET', `/api/v1/query?query=${encodeURIComponent('lat_p99{service="auth"}')}&time=${at}`, { token: tok('default', 'read') });
    assert.ok(Number(series.values[10][1]) > Number(value.json.data.result[0].value[1]), 'the upper band lies above the value');
  });

  const bad = [
    { name: 'a function', url: '/api/v1/query?query=rate(x[5m])', field: 'query', msg: /functions are not supported/ },
    { name: 'an unterminated matcher', url: '/api/v1/query?query=x{a="b"', field: 'query', msg: /at character/ },
    { name: 'a selector matching everything', url: '/api/v1/query?query={a=""}', field: 'query', msg: /does not match the empty string/ },
    { name: 'a bad step', url: '/api/v1/query_range?query=x&start=1&end=2&step=0', field: 'step', msg: /positive step/ },
    { name: 'too many points', url: '/api/v1/query_range?query=x&start=0&end=100000&step=1', field: 'step', msg: /more than 11000/ },
    { name: 'series without match[]', url: '/api/v1/series', field: 'match[]', msg: /at least one match\[\]/ },
    { name: 'a bad time', url: '/api/v1/query?query=x&time=yesterday', field: 'time', msg: /neither unix seconds nor/ },
  ];
  for (const c of bad) {
    it(`answers 400 naming the field for ${c.name}`, async () => {
      const r = await call('GET', c.url, { token: tok('default', 'read') });
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json.error.field, c.field);
      assert.match(r.json.error.message, c.msg);
    });
  }
});

describe('changes, anomalies, backfill, metrics', () => {
  it('stores and lists change events, refusing bad ones by field', async () => {
    const ev = { kind: 'deploy', service: 'auth', t: T0 + 5 * MIN, text: 'auth v2.3.1', labels: { version: '2.3.1' }, author: 'ci', link: 'https://ci.example.com/1', id: 'deploy-1' };
    const r = await call('POST', '/api/v1/changes', { token: tok('default', 'write'), type: 'application/json', body: JSON.stringify(ev) });
    assert.equal(r.status, 201, r.text);
    const again = await call('POST', '/api/v1/changes', { token: tok('default', 'write'), type: 'application/json', body: JSON.stringify(ev) });
    assert.equal(again.status, 200, 'the same id again is not stored twice');
    const l = await call('GET', `/api/v1/changes?from=${T0}&to=${T0 + 10 * MIN}&service=auth&kind=deploy`, { token: tok('default', 'read') });
    assert.equal(l.json.data.length, 1);
    assert.equal(l.json.data[0].text, 'auth v2.3.1');
    for (const [field, patch] of [['kind', { kind: 'reboot' }], ['t', { t: 1700000000 }], ['service', { service: '' }], ['labels.x', { labels: { x: 1 } }], ['link', { link: 'ftp://x' }], ['colour', { colour: 'red' }]] as const) {
      const b = await call('POST', '/api/v1/changes', { token: tok('default', 'write'), type: 'application/json', body: JSON.stringify({ ...ev, ...patch }) });
      assert.equal(b.status, 400, field);
      assert.equal(b.json.error.field, field);
    }
  });

  it('backfills CSV history into state and storage without live anomalies', async () => {
    const rows = ['metric,t,value,service'];
    // The backfilled spike is old news by the live point (novelty treats a spike within its
    // hold period as the same condition: the alert stage keeps that alert open instead).
    for (let i = 0; i < 400; i++) rows.push(`orders_rate,${T0 + i * MIN},${i === 200 ? 5000 : 100 + (i % 7)},checkout`);
    const r = await call('POST', '/api/v1/backfill', { token: tok('default', 'write'), type: 'text/csv', body: rows.join('\n') });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.accepted, 400);
    assert.deepEqual(svc.engine.anomalies('default').filter((a) => a.metric === 'orders_rate'), []);
    assert.equal(svc.engine.seriesInfo('default', 'orders_rate{service="checkout"}')?.lastT, T0 + 399 * MIN);
    // The next live point is judged with the learned band.
    await call('POST', '/api/v1/samples', { token: tok('default', 'write'), type: 'application/json', body: samples([{ metric: 'orders_rate', labels: { service: 'checkout' }, t: T0 + 400 * MIN, value: 9000 }]) });
    const a = await call('GET', `/api/v1/anomalies?from=${T0}&to=${now}`, { token: tok('default', 'read') });
    const hit = a.json.data.find((x: Json) => x.metric === 'orders_rate');
    assert.ok(hit, a.text);
    assert.equal(hit.value, 9000);
  });

  it('exports self-metrics in Prometheus format', async () => {
    const r = await call('GET', '/metrics');
    for (const re of [
      /tidemark_samples_ingested_total\{tenant="default",format="json"\} \d+/,
      /tidemark_samples_rejected_total\{tenant="default",reason="non_numeric_value"\} \d+/,
      /tidemark_active_series\{tenant="default"\} \d+/,
      /tidemark_detector_seconds_per_sample_count \d+/,
      /tidemark_checkpoint_age_seconds \d/,
      /tidemark_store_write_seconds_bucket/,
    ]) assert.match(r.text, re);
  });
});
