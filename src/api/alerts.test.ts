import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { IngestBatch } from '../ingest/index.ts';
import { openTestService, type TestService } from './testkit.ts';

const NOW = Date.UTC(2025, 6, 1, 12, 0, 0);
let svc: TestService;

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function call(method: 'GET' | 'POST' | 'DELETE', url: string, token: string, body?: unknown): Promise<{ status: number; json: Json }> {
  const r = await svc.app.inject({
    method, url,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    payload: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: r.statusCode, json: r.json() as Json };
}

async function seed(fingerprint: string, state: 'firing' | 'resolved', severity: 'S1' | 'S2', owner: string, region: string): Promise<void> {
  await svc.store.alerts.upsert({
    tenant: 'default', fingerprint, metric: 'latency', labels: { region, rule: 'lat', severity, owner }, seriesId: null, state, severity,
    startsAt: NOW - 60_000, at: NOW - 30_000, score: 0.95, reasons: ['above_band'], owner, runbook: null,
    packet: { suppressions: [{ kind: 'gate', at: NOW - 30_000, reason: 'held at S1 instead of S2: no impact' }], events: [] },
  });
}

describe('alert and silence API', () => {
  before(async () => {
    svc = await openTestService({ clock: () => NOW });
    await seed('aaaa000000000001', 'firing', 'S2', 'team-a', 'eu');
    await seed('aaaa000000000002', 'firing', 'S1', 'team-b', 'us');
    await seed('aaaa000000000003', 'resolved', 'S1', 'team-a', 'eu');
  });
  after(() => svc.close());

  const filters = [
    { name: 'all', q: '', want: ['aaaa000000000001', 'aaaa000000000002', 'aaaa000000000003'] },
    { name: 'state', q: '?state=firing', want: ['aaaa000000000001', 'aaaa000000000002'] },
    { name: 'severity', q: '?severity=S1', want: ['aaaa000000000002', 'aaaa000000000003'] },
    { name: 'owner', q: '?owner=team-a', want: ['aaaa000000000001', 'aaaa000000000003'] },
    { name: 'label matcher', q: `?match[]=${encodeURIComponent('{region="eu"}')}`, want: ['aaaa000000000001', 'aaaa000000000003'] },
    { name: 'combined', q: `?state=firing&match[]=${encodeURIComponent('latency{region=~"e.*"}')}`, want: ['aaaa000000000001'] },
  ];
  for (const f of filters) {
    it(`GET /api/v1/alerts filters: ${f.name}`, async () => {
      const r = await call('GET', `/api/v1/alerts${f.q}`, svc.tokens.default.read);
      assert.equal(r.status, 200);
      assert.deepEqual(r.json.data.map((a: Json) => a.fingerprint).sort(), f.want);
    });
  }

  it('GET /api/v1/alerts?view=summary: no packet, why it did not page as held; the same alerts', async () => {
    await svc.store.alerts.upsert({
      tenant: 'default', fingerprint: 'aaaa000000000009', metric: 'latency', labels: { region: 'ap', rule: 'lat', severity: 'S1', owner: 'team-c' }, seriesId: null, state: 'firing', severity: 'S1',
      startsAt: NOW - 120_000, at: NOW - 30_000, score: 0.9, reasons: ['above_band'], owner: 'team-c', runbook: null,
      packet: { heldReason: 'held at S1 instead of S2: no impact (ok_ratio 0.999 >= 0.98)', suppressions: [], events: [{ at: NOW, kind: 'fired', text: 'x'.repeat(5000) }], triage: { summary: ['big'] } },
    });
    const full = await call('GET', '/api/v1/alerts', svc.tokens.default.read);
    const sum = await call('GET', '/api/v1/alerts?view=summary', svc.tokens.default.read);
    assert.equal(sum.status, 200);
    assert.deepEqual(sum.json.data.map((a: Json) => a.fingerprint), full.json.data.map((a: Json) => a.fingerprint));
    const byFp = Object.fromEntries(sum.json.data.map((a: Json) => [a.fingerprint, a]));
    assert.equal(byFp.aaaa000000000009.packet, undefined);
    assert.deepEqual(byFp.aaaa000000000009.held, { kind: 'gate', reason: 'held at S1 instead of S2: no impact (ok_ratio 0.999 >= 0.98)' });
    assert.deepEqual(byFp.aaaa000000000001.held, { kind: 'gate', reason: 'held at S1 instead of S2: no impact' });
    assert.equal(byFp.aaaa000000000001.severity, 'S2');
    assert.equal((await call('GET', '/api/v1/alerts?view=tiny', svc.tokens.default.read)).json.error.field, 'view');
    // The store's cut packet holds what a list shows, nothing more.
    const [cut] = await svc.store.alerts.list({ tenant: 'default', summary: true, matchers: [{ name: 'region', op: '=', value: 'ap' }] });
    assert.deepEqual(cut.packet, { suppressions: [], heldReason: 'held at S1 instead of S2: no impact (ok_ratio 0.999 >= 0.98)' });
  });

  it('bad filters are 400 with the field named', async () => {
    const r = await call('GET', '/api/v1/alerts?severity=S9', svc.tokens.default.read);
    assert.equal(r.status, 400);
    assert.equal(r.json.error.field, 'severity');
  });

  it('GET /api/v1/alerts pages in the triage order, filters in the store and counts on request', async () => {
    const sevs = ['S0', 'S1', 'S2', 'S3'] as const;
    for (let i = 0; i < 12; i++) {
      await svc.store.alerts.upsert({
        tenant: 'default', fingerprint: `pg${String(i).padStart(14, '0')}`, metric: 'pagetest', labels: { service: `svc-${i % 3}`, rule: 'p' }, seriesId: null,
        state: i % 4 === 3 ? 'resolved' : 'firing', severity: sevs[i % 4], startsAt: NOW - i * 1000, at: NOW, score: 0.5, reasons: ['above_band'], owner: `own-${i % 2}`, runbook: null,
        packet: i % 5 === 0 ? { suppressions: [{ kind: 'budget', at: NOW, reason: 'page budget spent' }] } : {},
      });
    }
    const fps = (r: { json: Json }) => r.json.data.map((a: Json) => a.fingerprint.slice(-2));
    const one = await call('GET', '/api/v1/alerts?q=pagetest&sort=severity&limit=5&view=summary&counts=1', svc.tokens.default.read);
    assert.equal(one.status, 200);
    assert.deepEqual(fps(one), ['03', '07', '11', '02', '06'], 'S3 first, then newest');
    const two = await call('GET', '/api/v1/alerts?q=pagetest&sort=severity&limit=5&offset=5&view=summary', svc.tokens.default.read);
    assert.deepEqual(fps(two), ['10', '01', '05', '09', '00']);
    assert.equal(two.json.counts, undefined, 'counts only when asked');
    assert.equal(one.json.total, 12);
    const n = (g: Json[], f: (x: Json) => boolean) => g.filter(f).reduce((s, x) => s + x.n, 0);
    assert.equal(n(one.json.counts.groups, (g) => g.severity === 'S0'), 3);
    assert.equal(n(one.json.counts.groups, (g) => g.state === 'resolved'), 3);
    assert.equal(n(one.json.counts.groups, (g) => g.held), 3);
    assert.deepEqual(one.json.counts.owners, [{ value: 'own-0', n: 6 }, { value: 'own-1', n: 6 }]);
    // Filters and the total they match; the groups keep every state and severity for the tabs.
    const f = await call('GET', '/api/v1/alerts?q=pagetest&service=svc-1&state=firing&held=false&counts=1', svc.tokens.default.read);
    assert.deepEqual(fps(f), ['01', '04'], 'svc-1 is 1, 4, 7 and 10; 7 is resolved, 10 was held');
    assert.equal(f.json.total, 2);
    assert.equal(n(f.json.counts.groups, () => true), 4);
    assert.equal((await call('GET', '/api/v1/alerts?q=pagetest&tenant=elsewhere&counts=1', svc.tokens.default.read)).json.total, 0);
    for (const [q, field] of [['offset=-1', 'offset'], ['limit=0', 'limit'], ['sort=loud', 'sort'], ['held=maybe', 'held'], ['counts=yes', 'counts']]) {
      const r = await call('GET', `/api/v1/alerts?${q}`, svc.tokens.default.read);
      assert.equal(r.status, 400, q);
      assert.equal(r.json.error.field, field, q);
    }
  });

  it('read-only tokens cannot write; another tenant cannot see', async () => {
    for (const [method, url, body] of [
      ['POST', '/api/v1/alerts/aaaa000000000001/ack', {}],
      ['POST', '/api/v1/alerts/aaaa000000000001/feedback', { label: 'noise' }],
      ['POST', '/api/v1/silences', { matchers: '{region="eu"}', duration: '1h', reason: 'x' }],
      ['DELETE', '/api/v1/silences/whatever', undefined],
    ] as const) {
      const r = await call(method, url, svc.tokens.default.read, body);
      assert.equal(r.status, 403, `${method} ${url}`);
      assert.equal(r.json.error.code, 'TM_ERR_FORBIDDEN');
    }
    const other = await call('GET', '/api/v1/alerts/aaaa000000000001', svc.tokens.other.read);
    assert.equal(other.status, 404);
  });

  it('ack and feedback are recorded with who and when, and the detail shows them with history and suppressions', async () => {
    const ack = await call('POST', '/api/v1/alerts/aaaa000000000001/ack', svc.tokens.default.write, { ttl: '30m', comment: 'looking' });
    assert.equal(ack.status, 201);
    assert.equal(ack.json.data.by, 'default-write');
    assert.equal(ack.json.data.expiresAt, NOW + 30 * 60_000);
    const fb = await call('POST', '/api/v1/alerts/aaaa000000000001/feedback', svc.tokens.default.write, { label: 'noise' });
    assert.equal(fb.status, 201);
    const d = await call('GET', '/api/v1/alerts/aaaa000000000001', svc.tokens.default.read);
    assert.equal(d.status, 200);
    assert.equal(d.json.data.alert.state, 'firing');
    assert.deepEqual(d.json.data.history.map((h: Json) => h.state), ['firing']);
    assert.deepEqual(d.json.data.suppressions.map((s: Json) => s.kind), ['gate']);
    assert.deepEqual(d.json.data.acks.map((a: Json) => [a.by, a.comment]), [['default-write', 'looking']]);
    assert.deepEqual(d.json.data.feedback.map((f: Json) => f.label), ['noise']);
    assert.ok(Array.isArray(d.json.data.notifications));
    const resolved = await call('POST', '/api/v1/alerts/aaaa000000000003/ack', svc.tokens.default.write, {});
    assert.equal(resolved.status, 409);
    const badLabel = await call('POST', '/api/v1/alerts/aaaa000000000001/feedback', svc.tokens.default.write, { label: 'meh' });
    assert.equal(badLabel.status, 400);
    assert.equal(badLabel.json.error.field, 'label');
  });

  it('silences: create (selector or matcher list, with recurrence), list with status, expire; audited', async () => {
    const c = await call('POST', '/api/v1/silences', svc.tokens.default.write, {
      matchers: '{region="eu",severity=~"S[23]"}', duration: '2h', reason: 'deploy',
      recurrence: { weekdays: ['sat', 'sun'], at: '03:00', duration: '2h', timeZone: 'Europe/Berlin' },
    });
    assert.equal(c.status, 201, JSON.stringify(c.json));
    assert.equal(c.json.data.createdBy, 'default-write');
    assert.equal(c.json.data.status, 'active');
    assert.deepEqual(c.json.data.matchers, [{ name: 'region', op: '=', value: 'eu' }, { name: 'severity', op: '=~', value: 'S[23]' }]);
    const c2 = await call('POST', '/api/v1/silences', svc.tokens.default.write, { matchers: [{ name: 'owner', op: '=', value: 'team-b' }], startsAt: NOW + 3_600_000, endsAt: NOW + 7_200_000, reason: 'later' });
    assert.equal(c2.status, 201);
    assert.equal(c2.json.data.status, 'pending');
    const listed = await call('GET', '/api/v1/silences?status=active', svc.tokens.default.read);
    assert.deepEqual(listed.json.data.map((s: Json) => s.id), [c.json.data.id]);
    const del = await call('DELETE', `/api/v1/silences/${c.json.data.id}`, svc.tokens.default.write);
    assert.equal(del.status, 200);
    assert.equal(del.json.data.status, 'expired');
    const audit = await svc.store.audit.list({ tenant: 'default' });
    assert.deepEqual(audit.map((a) => a.action).filter((a) => a.startsWith('silence') || a.startsWith('alert')).sort(), ['alert.ack', 'silence.create', 'silence.create', 'silence.expire']);
  });

  const bad = [
    { name: 'no matchers', body: { matchers: [], duration: '1h', reason: 'x' }, field: 'matchers' },
    { name: 'no end', body: { matchers: '{a="b"}', reason: 'x' }, field: 'endsAt' },
    { name: 'no reason', body: { matchers: '{a="b"}', duration: '1h' }, field: 'reason' },
    { name: 'bad regex', body: { matchers: [{ name: 'a', op: '=~', value: '(' }], duration: '1h', reason: 'x' }, field: 'matchers[0].value' },
    { name: 'bad recurrence', body: { matchers: '{a="b"}', duration: '1h', reason: 'x', recurrence: { weekdays: ['mon'], at: '25:00', duration: '1h' } }, field: 'recurrence.at' },
    { name: 'unknown field', body: { matchers: '{a="b"}', duration: '1h', reason: 'x', comment: 'y' }, field: 'comment' },
  ];
  for (const b of bad) {
    it(`POST /api/v1/silences refuses: ${b.name}`, async () => {
      const r = await call('POST', '/api/v1/silences', svc.tokens.default.write, b.body);
      assert.equal(r.status, 400);
      assert.equal(r.json.error.field, b.field);
    });
  }

  it('/metrics has the alerting self-metrics', async () => {
    const r = await svc.app.inject({ method: 'GET', url: '/metrics' });
    for (const name of ['tidemark_alerts_fired_total', 'tidemark_alerts_firing', 'tidemark_alert_suppressions_total', 'tidemark_notifier_failures_total', 'tidemark_notifier_backlog', 'tidemark_alert_time_to_ack_seconds', 'tidemark_alert_feedback_total{tenant="default",label="noise"} 1']) {
      assert.ok(r.body.includes(name), name);
    }
  });
  it('/metrics has the share of alerts labelled noise per tenant, latest label per alert', async () => {
    const scrape = async () => (await svc.app.inject({ method: 'GET', url: '/metrics' })).body;
    // Alert 1 was labelled noise above; alert 2 now gets 'real': one of two is noise.
    const fb = await call('POST', '/api/v1/alerts/aaaa000000000002/feedback', svc.tokens.default.write, { label: 'real' });
    assert.equal(fb.status, 201);
    assert.match(await scrape(), /^tidemark_alert_noise_share\{tenant="default"\} 0\.5$/m);
    assert.doesNotMatch(await scrape(), /tidemark_alert_noise_share\{tenant="other"\}/, 'no feedback, no share');
    // The same person relabels it: the newer label replaces the old one.
    await call('POST', '/api/v1/alerts/aaaa000000000002/feedback', svc.tokens.default.write, { label: 'noise' });
    assert.match(await scrape(), /^tidemark_alert_noise_share\{tenant="default"\} 1$/m);
  });

  it('/metrics has series coverage (learning versus monitored) per tenant and metric', async () => {
    const b = new IngestBatch({ now: () => NOW, maxFutureMs: 86_400_000 });
    const feed = (metric: string, host: string, points: number) => {
      const s = b.openSeries(metric, ['host', host], 2, 'gauge', 1);
      for (let i = 0; i < points; i++) b.addSample(s, NOW - (points - i) * 60_000, 100 + (i % 5));
    };
    feed('lat', 'a', 200); // long enough for the default detectors to finish learning
    feed('lat', 'b', 200);
    feed('lat', 'c', 3);
    feed('queue', 'a', 3);
    const o = await svc.engine.ingest('other', b);
    assert.equal(o.accepted, 406);
    const body = (await svc.app.inject({ method: 'GET', url: '/metrics' })).body;
    const lines = body.split('\n').filter((l) => l.startsWith('tidemark_series_coverage{tenant="other"'));
    assert.deepEqual(lines.sort(), [
      'tidemark_series_coverage{tenant="other",metric="lat",state="learning"} 1',
      'tidemark_series_coverage{tenant="other",metric="lat",state="monitored"} 2',
      'tidemark_series_coverage{tenant="other",metric="queue",state="learning"} 1',
      'tidemark_series_coverage{tenant="other",metric="queue",state="monitored"} 0',
    ]);
  });
});
