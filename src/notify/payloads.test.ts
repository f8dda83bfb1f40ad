// A local HTTP receiver asserts the exact webhook, Slack and PagerDuty Events v2 payloads, and
// that each carries the documented required fields.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Receiver } from '../config/index.ts';
import { Notifier } from './notifier.ts';
import { alertmanagerBody } from './payloads.ts';
import { sampleDispatch, startReceiver, validateBody, type LocalReceiver } from './testkit.ts';

let rx: LocalReceiver;
let notifier: Notifier;
const outcomes: { integration: string; ok: boolean }[] = [];

before(async () => {
  rx = await startReceiver({ status: 202, body: '{"status":"success"}' });
  const receiver: Receiver = {
    name: 'payments-pager',
    webhook: { url: `${rx.url}/hook` },
    slack: { webhookUrl: `${rx.url}/services/T0/B0/X`, channel: '#payments-alerts' },
    pagerduty: { routingKey: 'R0123456789ABCDEF0123456789ABCDE' },
    alertmanager: undefined,
  };
  notifier = new Notifier({
    receivers: (tenant) => (tenant === 'payments' ? new Map([[receiver.name, receiver]]) : undefined),
    pagerdutyUrl: `${rx.url}/v2/enqueue`,
    onOutcome: (o) => outcomes.push({ integration: o.integration, ok: o.ok }),
  });
});
after(() => rx.close());

const SERIES = 'http_errors{region="eu",service="checkout"} = 42.5 (expected 10, band 5..15, score 0.97; robust_z: above_band, threshold: above_threshold)';
const TRIAGE = 'http://localhost:9464/ui/triage/payments/0123456789abcdef';
const LABELS = { region: 'eu', service: 'checkout', tenant: 'payments', rule: 'checkout-error-rate', metric: 'http_errors', severity: 'S2', owner: 'team-payments' };
const ALERT = {
  fingerprint: '0123456789abcdef', status: 'firing', severity: 'S2', rule: 'checkout-error-rate', metric: 'http_errors', labels: LABELS,
  value: 42.5, expected: 10, band: { lower: 5, upper: 15 }, score: 0.97,
  detectors: [{ name: 'robust_z', reason: 'above_band' }, { name: 'threshold', reason: 'above_threshold' }],
  startsAt: '2025-07-01T12:00:00.000Z', endsAt: null, owner: 'team-payments', runbook: 'https://runbooks.example.com/checkout', triageUrl: TRIAGE, heldReason: null,
};

function byPath(path: string): unknown[] {
  return rx.received.filter((r) => r.url === path).map((r) => r.body);
}

test('a firing page fans out to the receiver\'s webhook, Slack and PagerDuty with exact bodies', async () => {
  rx.received.length = 0;
  outcomes.length = 0;
  const res = await notifier.send(sampleDispatch('firing'));
  assert.deepEqual(res.map((o) => [o.integration, o.ok, o.attempts]), [['webhook', true, 1], ['slack', true, 1], ['pagerduty', true, 1]]);
  assert.deepEqual(outcomes.map((o) => `${o.integration}:${o.ok}`).sort(), ['pagerduty:true', 'slack:true', 'webhook:true']);

  assert.deepEqual(byPath('/hook'), [{
    version: 'tidemark.v1', id: 'g1:notify:1', kind: 'notify', receiver: 'payments-pager', tenant: 'payments', status: 'firing', severity: 'S2', page: true,
    title: '[FIRING:1] checkout-error-rate S2 (region=eu)', text: null, ackBy: null,
    groupKey: 'payments/payments-pager/checkout-error-rate/eu', groupId: '5f0e7d2b6a1c4e3f8a9b0c1d2e3f4a5b',
    groupLabels: { rule: 'checkout-error-rate', region: 'eu' }, commonLabels: LABELS, alerts: [ALERT],
  }]);

  assert.deepEqual(byPath('/services/T0/B0/X'), [{
    channel: '#payments-alerts',
    text: `[FIRING:1] checkout-error-rate S2 (region=eu): ${SERIES}`,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: '[FIRING:1] checkout-error-rate S2 (region=eu)' } },
      { type: 'section', text: { type: 'mrkdwn', text: `*Firing S2* ${SERIES}\nSince 2025-07-01T12:00:00.000Z · owner team-payments · <${TRIAGE}|Triage> · <https://runbooks.example.com/checkout|Runbook>` } },
    ],
  }]);

  assert.deepEqual(byPath('/v2/enqueue'), [{
    routing_key: 'R0123456789ABCDEF0123456789ABCDE',
    event_action: 'trigger',
    dedup_key: '5f0e7d2b6a1c4e3f8a9b0c1d2e3f4a5b',
    payload: {
      summary: `[FIRING:1] checkout-error-rate S2 (region=eu): ${SERIES}`,
      source: 'tidemark/payments/http_errors',
      severity: 'error',
      timestamp: '2025-07-01T12:00:00.000Z',
      component: 'http_errors',
      group: 'checkout-error-rate',
      class: 'above_band',
      custom_details: {
        notification_id: 'g1:notify:1', tenant: 'payments', firing: [SERIES], resolved: [], owner: 'team-payments', held_reason: null, text: null,
        group_labels: { rule: 'checkout-error-rate', region: 'eu' }, alerts: [ALERT],
      },
    },
    links: [{ href: TRIAGE, text: 'Triage in Tidemark' }, { href: 'https://runbooks.example.com/checkout', text: 'Runbook' }],
    client: 'Tidemark',
    client_url: TRIAGE,
  }]);
  for (const r of rx.received) {
    const kind = r.url === '/hook' ? 'webhook' : r.url === '/v2/enqueue' ? 'pagerduty' : 'slack';
    assert.deepEqual(validateBody(kind, r.body), [], kind);
  }
});

test('PagerDuty acknowledge and resolve carry the same dedup_key; Slack and webhook say so too', async () => {
  rx.received.length = 0;
  await notifier.send(sampleDispatch('acknowledge'));
  await notifier.send(sampleDispatch('resolved'));
  assert.deepEqual(byPath('/v2/enqueue'), [
    { routing_key: 'R0123456789ABCDEF0123456789ABCDE', event_action: 'acknowledge', dedup_key: '5f0e7d2b6a1c4e3f8a9b0c1d2e3f4a5b' },
    { routing_key: 'R0123456789ABCDEF0123456789ABCDE', event_action: 'resolve', dedup_key: '5f0e7d2b6a1c4e3f8a9b0c1d2e3f4a5b' },
  ]);
  const slack = byPath('/services/T0/B0/X') as { text: string }[];
  assert.deepEqual(slack.map((s) => s.text.split(':')[0]), ['[ACKNOWLEDGED by ann] checkout-error-rate S2 (region=eu)', '[RESOLVED] checkout-error-rate (region=eu)']);
  const hooks = byPath('/hook') as { status: string; alerts: { status: string; endsAt: string | null }[] }[];
  assert.deepEqual(hooks.map((h) => [h.status, h.alerts[0].status, h.alerts[0].endsAt]), [['firing', 'firing', null], ['resolved', 'resolved', '2025-07-01T12:10:00.000Z']]);
});

test('a receiver missing from the config is a non-retryable failure, not a crash', async () => {
  const d = { ...sampleDispatch(), receiver: 'nobody' };
  const [o] = await notifier.send(d);
  assert.equal(o.ok, false);
  assert.equal(o.error?.retryable, false);
  assert.match(o.error!.message, /receiver 'nobody' is not defined in tenant payments's config/);
});

test('Alertmanager carries the triage summary as the `triage` annotation, and omits it when there is none', () => {
  const TRIAGE_TEXT = 'checkout error rate 4x its band since 12:00 in eu\nchanged just before: deploy checkout v2.3.1 (12:58)';
  const cases = [
    { name: 'with a triage summary', dispatch: { ...sampleDispatch('firing'), text: TRIAGE_TEXT }, want: TRIAGE_TEXT },
    { name: 'without one', dispatch: sampleDispatch('firing'), want: undefined },
    { name: 'an empty text', dispatch: { ...sampleDispatch('firing'), text: '' }, want: undefined },
  ];
  for (const c of cases) {
    const body = alertmanagerBody(c.dispatch) as { annotations: Record<string, string> }[];
    assert.equal(body.length, 1, c.name);
    assert.equal(body[0].annotations.triage, c.want, c.name);
    assert.equal(body[0].annotations.summary, SERIES, c.name);
    assert.deepEqual(validateBody('alertmanager', body), [], c.name);
  }
});

test('a budget summary and its resolve share one dedup key; a triage update is a trigger of its group', async () => {
  const { pagerdutyBody, webhookBody, slackBody } = await import('./payloads.ts');
  const base = sampleDispatch();
  const summary = { ...base, id: 'b1:summary:1', kind: 'summary' as const, groupId: 'b1', alerts: [], page: false, text: '4 more alerts held: receiver pager is over its budget' };
  const resolved = { ...summary, id: 'b1:summary:2', status: 'resolved' as const, text: 'budget summary resolved: its budget hour is over' };
  const t = pagerdutyBody(summary, 'R0123456789ABCDEF0123456789ABCDE') as { event_action: string; dedup_key: string; payload: { severity: string } };
  const r = pagerdutyBody(resolved, 'R0123456789ABCDEF0123456789ABCDE') as { event_action: string; dedup_key: string };
  assert.deepEqual([t.event_action, t.payload.severity, r.event_action], ['trigger', 'warning', 'resolve']);
  assert.equal(r.dedup_key, t.dedup_key);
  assert.deepEqual(validateBody('pagerduty', r), []);
  const am = alertmanagerBody(resolved) as { labels: Record<string, string>; endsAt: string }[];
  assert.deepEqual(am[0].labels, { alertname: 'TidemarkBudgetSummary', tenant: 'payments', receiver: 'payments-pager' });
  assert.equal(am[0].endsAt, new Date(resolved.at).toISOString(), 'ends now');
  assert.match((webhookBody(resolved) as { title: string }).title, /^\[RESOLVED\] budget summary: /);

  const update = { ...base, id: `${base.id}:triage`, kind: 'update' as const, text: 'where: region=eu carries 90% of the delta' };
  const u = pagerdutyBody(update, 'R0123456789ABCDEF0123456789ABCDE') as { event_action: string; dedup_key: string; payload: { custom_details: { text: string } } };
  assert.deepEqual([u.event_action, u.dedup_key], ['trigger', base.groupId]);
  assert.equal(u.payload.custom_details.text, update.text);
  assert.match((slackBody(update, undefined) as { text: string }).text, /^\[TRIAGE:1\] checkout-error-rate S2 \(region=eu\)/);
  for (const kind of ['webhook', 'slack', 'pagerduty', 'alertmanager'] as const) {
    const body = kind === 'webhook' ? webhookBody(update) : kind === 'slack' ? slackBody(update, '#x') : kind === 'pagerduty' ? u : alertmanagerBody(update);
    assert.deepEqual(validateBody(kind, body), [], kind);
  }
});
