/**
 * Request bodies for each integration, built from a dispatch (pure functions). Every body
 * carries what the alert knows: metric, value, expected value and band, score, detectors and
 * reasons, start, owner, runbook and the triage link.
 *
 * - Generic webhook: Tidemark's own JSON (`version: "tidemark.v1"`), one POST per dispatch.
 * - Slack incoming webhook: `text` (the fallback every client shows) plus Block Kit sections.
 * - PagerDuty Events API v2: one event per group, `dedup_key` = the group id, so a group is one
 *   incident: trigger while it fires, acknowledge when acked, resolve when every alert resolved.
 *   The group id is a hash of the group key, the same on every worker, so a trigger sent again
 *   after a failover (at-least-once delivery) joins the open incident; a per-dispatch key would
 *   open a second incident per notification and leave acknowledge and resolve without a target.
 *   The dispatch id rides along in custom_details.notification_id.
 *   A triage `update` is another trigger with the same key (PagerDuty adds it to the open alert's
 *   log); the budget summary has a key per tenant and receiver and is resolved like a group.
 * - Alertmanager API v2: `POST /api/v2/alerts` with postable alerts (labels, annotations,
 *   startsAt, endsAt, generatorURL); a resolve is the same alert with endsAt in the past.
 */
import type { AlertView, Dispatch } from '../alert/index.ts';

function iso(t: number | null): string | null {
  return t === null || !Number.isFinite(t) ? null : new Date(t).toISOString();
}

function num(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return 'n/a';
  return String(Math.abs(v) >= 1000 || Number.isInteger(v) ? Math.round(v * 100) / 100 : Number(v.toPrecision(4)));
}

/** `latency_p99{region="eu",service="checkout"}` from an alert's series labels. */
function seriesName(a: AlertView): string {
  const skip = new Set(['tenant', 'rule', 'metric', 'severity', 'owner']);
  const pairs = Object.entries(a.labels).filter(([k]) => !skip.has(k)).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return pairs.length > 0 ? `${a.metric}{${pairs.join(',')}}` : a.metric;
}

/** One line about an alert: what, how far off, how sure, why. */
export function alertLine(a: AlertView): string {
  const why = a.detectors.map((d) => `${d.name}: ${d.reason}`).join(', ') || 'no reason recorded';
  return `${seriesName(a)} = ${fmt(a.value)} (expected ${fmt(a.expected)}, band ${fmt(a.lower)}..${fmt(a.upper)}, score ${fmt(a.score)}; ${why})`;
}

/** A title for the dispatch: `[FIRING:2] checkout-error-rate S2 (region=eu)`. */
export function title(d: Dispatch): string {
  if (d.kind === 'summary') return d.status === 'resolved' ? `[RESOLVED] budget summary: ${d.text ?? ''}` : `[HELD] ${d.text ?? ''}`;
  const firing = d.alerts.filter((a) => a.status === 'firing').length;
  const status = d.kind === 'acknowledge' ? `ACKNOWLEDGED by ${d.ackBy}` : d.kind === 'escalation' ? `ESCALATED:${firing}` : d.kind === 'update' ? `TRIAGE:${firing}` : d.status === 'firing' ? `FIRING:${firing}` : 'RESOLVED';
  const group = Object.entries(d.groupLabels).filter(([k]) => k !== 'rule').map(([k, v]) => `${k}=${v}`).join(', ');
  const rule = d.groupLabels.rule || d.alerts[0]?.metric || 'alert';
  return `[${status}] ${rule}${d.severity !== 'S0' ? ` ${d.severity}` : ''}${group ? ` (${group})` : ''}`;
}

export function webhookBody(d: Dispatch): unknown {
  return {
    version: 'tidemark.v1',
    id: d.id,
    kind: d.kind,
    receiver: d.receiver,
    tenant: d.tenant,
    status: d.status,
    severity: d.severity,
    page: d.page,
    title: title(d),
    text: d.text,
    ackBy: d.ackBy,
    groupKey: d.groupKey,
    groupId: d.groupId,
    groupLabels: d.groupLabels,
    commonLabels: d.commonLabels,
    alerts: d.alerts.map((a) => ({
      fingerprint: a.fingerprint,
      status: a.status,
      severity: a.severity,
      rule: a.rule,
      metric: a.metric,
      labels: a.labels,
      value: num(a.value),
      expected: num(a.expected),
      band: { lower: num(a.lower), upper: num(a.upper) },
      score: num(a.score),
      detectors: a.detectors,
      startsAt: iso(a.startsAt),
      endsAt: iso(a.endsAt),
      owner: a.owner,
      runbook: a.runbook,
      triageUrl: a.triageUrl,
      heldReason: a.heldReason,
    })),
  };
}

const SLACK_MAX_ALERTS = 10; // Block Kit allows 50 blocks; ten alerts keep a message readable

export function slackBody(d: Dispatch, channel: string | undefined): unknown {
  const head = title(d);
  const blocks: unknown[] = [{ type: 'header', text: { type: 'plain_text', text: head.slice(0, 150) } }];
  if (d.text) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: d.text } });
  for (const a of d.alerts.slice(0, SLACK_MAX_ALERTS)) {
    const links = [`<${a.triageUrl}|Triage>`];
    if (a.runbook) links.push(`<${a.runbook}|Runbook>`);
    const lines = [
      `*${a.status === 'firing' ? 'Firing' : 'Resolved'} ${a.severity}* ${alertLine(a)}`,
      `Since ${iso(a.startsAt)}${a.endsAt !== null ? `, resolved ${iso(a.endsAt)}` : ''}${a.owner ? ` · owner ${a.owner}` : ''} · ${links.join(' · ')}`,
    ];
    if (a.heldReason) lines.push(`_${a.heldReason}_`);
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: lines.join('\n') } });
  }
  if (d.alerts.length > SLACK_MAX_ALERTS) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `and ${d.alerts.length - SLACK_MAX_ALERTS} more` }] });
  const text = d.alerts.length > 0 ? `${head}: ${alertLine(d.alerts[0])}` : head;
  return channel === undefined ? { text, blocks } : { channel, text, blocks };
}

const PD_SEVERITY = { S0: 'info', S1: 'warning', S2: 'error', S3: 'critical' } as const;
export const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';

/** PagerDuty Events API v2 event; undefined when the dispatch means nothing to PagerDuty. */
export function pagerdutyBody(d: Dispatch, routingKey: string): unknown {
  if (d.kind === 'mitigation') return undefined;
  if (d.kind === 'acknowledge') return { routing_key: routingKey, event_action: 'acknowledge', dedup_key: d.groupId };
  if (d.status === 'resolved') return { routing_key: routingKey, event_action: 'resolve', dedup_key: d.groupId };
  const firing = d.alerts.filter((a) => a.status === 'firing');
  const first = firing[0];
  const links: { href: string; text: string }[] = [];
  if (first) links.push({ href: first.triageUrl, text: 'Triage in Tidemark' });
  if (first?.runbook) links.push({ href: first.runbook, text: 'Runbook' });
  return {
    routing_key: routingKey,
    event_action: 'trigger',
    dedup_key: d.groupId,
    payload: {
      summary: (first ? `${title(d)}: ${alertLine(first)}` : title(d)).slice(0, 1024),
      source: first ? `tidemark/${d.tenant}/${first.metric}` : `tidemark/${d.tenant}`,
      severity: d.kind === 'summary' ? 'warning' : PD_SEVERITY[d.severity],
      timestamp: iso(first?.startsAt ?? d.at),
      component: first?.metric,
      group: d.groupLabels.rule || undefined,
      class: first?.detectors[0]?.reason,
      custom_details: {
        notification_id: d.id,
        tenant: d.tenant,
        firing: firing.map((a) => alertLine(a)),
        resolved: d.alerts.filter((a) => a.status === 'resolved').map((a) => alertLine(a)),
        owner: first?.owner ?? null,
        held_reason: first?.heldReason ?? null,
        text: d.text,
        group_labels: d.groupLabels,
        alerts: (webhookBody(d) as { alerts: unknown[] }).alerts,
      },
    },
    links,
    client: 'Tidemark',
    client_url: first?.triageUrl,
  };
}

/** Alertmanager `POST /api/v2/alerts` body; undefined for acknowledgements (Alertmanager has none). */
export function alertmanagerBody(d: Dispatch): unknown {
  if (d.kind === 'acknowledge' || d.kind === 'mitigation') return undefined;
  if (d.kind === 'summary') {
    // One alert per tenant and receiver (its labels are its identity); a resolve ends it now.
    return [{
      labels: { alertname: 'TidemarkBudgetSummary', tenant: d.tenant, receiver: d.receiver },
      annotations: { summary: d.text ?? '' },
      startsAt: iso(d.at),
      endsAt: iso(d.status === 'resolved' ? d.at : d.at + 3_600_000),
    }];
  }
  return d.alerts.map((a) => {
    const annotations: Record<string, string> = {
      summary: alertLine(a),
      value: fmt(a.value),
      expected: fmt(a.expected),
      band: `${fmt(a.lower)}..${fmt(a.upper)}`,
      score: fmt(a.score),
      detectors: a.detectors.map((x) => `${x.name}: ${x.reason}`).join(', '),
      triage_url: a.triageUrl,
    };
    if (a.runbook) annotations.runbook_url = a.runbook;
    if (a.owner) annotations.owner = a.owner;
    if (a.heldReason) annotations.held_reason = a.heldReason;
    // The triage summary the other receivers show as the dispatch text (what changed, where, next).
    if (d.text) annotations.triage = d.text;
    return {
      labels: { alertname: a.rule || a.metric, ...a.labels },
      annotations,
      startsAt: iso(a.startsAt),
      endsAt: iso(a.status === 'resolved' ? a.endsAt ?? d.at : d.validUntil),
      generatorURL: a.triageUrl,
    };
  });
}
