// Helpers for notifier tests: a local HTTP receiver that answers from a script, sample dispatches,
// and validators for each integration's documented required fields.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AlertView, Dispatch } from '../alert/index.ts';

export interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: unknown;
  readonly at: number;
}

/**
 * What the receiver does with one request: answer a status (after a delay, or once `until`
 * settles: a reply held while a test kills the sender), or drop the connection.
 */
export type Reply = { status: number; delayMs?: number; until?: Promise<unknown>; body?: string; headers?: Record<string, string> } | { drop: true };

export interface LocalReceiver {
  readonly url: string;
  readonly received: Received[];
  /** Replies for the next requests, in order; when empty, `fallback` answers. */
  script: Reply[];
  /** Asked first for every request: a reply chosen by content (undefined: the script or fallback answers). */
  decide: ((r: Received) => Reply | undefined) | undefined;
  fallback: Reply;
  close(): Promise<void>;
}

/** Starts an HTTP server on 127.0.0.1 (random port) that records JSON bodies and replies from a script. */
export async function startReceiver(fallback: Reply = { status: 200, body: 'ok' }): Promise<LocalReceiver> {
  const received: Received[] = [];
  const state = { script: [] as Reply[], fallback, decide: undefined as ((r: Received) => Reply | undefined) | undefined };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // Recorded as text: the test asserts it was JSON.
      }
      const rec: Received = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, at: Date.now() };
      received.push(rec);
      const r = state.decide?.(rec) ?? state.script.shift() ?? state.fallback;
      if ('drop' in r) {
        req.socket.destroy();
        return;
      }
      const answer = () => {
        if (res.destroyed) return;
        res.writeHead(r.status, { 'content-type': 'text/plain', ...r.headers });
        res.end(r.body ?? '');
      };
      if (r.until) void r.until.then(answer, answer);
      else if (r.delayMs) setTimeout(answer, r.delayMs).unref();
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    get script() {
      return state.script;
    },
    set script(s: Reply[]) {
      state.script = s;
    },
    get fallback() {
      return state.fallback;
    },
    get decide() {
      return state.decide;
    },
    set decide(f: ((r: Received) => Reply | undefined) | undefined) {
      state.decide = f;
    },
    set fallback(f: Reply) {
      state.fallback = f;
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** Deliveries a receiver got, as one that deduplicates by notification id would count them. */
export interface DeliveryCount {
  /** Requests received (every repeat counted). */
  readonly raw: number;
  /** Per notification id (the webhook body's `id`, which the Idempotency-Key header repeats): requests with it. */
  readonly ids: ReadonlyMap<string, number>;
  /** Ids received more than once: what a receiver without deduplication would show twice. */
  readonly repeated: readonly string[];
  /** Requests whose Idempotency-Key header did not match the body's id. */
  readonly badKeys: number;
}

/** Counts the webhook deliveries `rx` received that `keep` selects (all by default). */
export function countDeliveries(rx: Pick<LocalReceiver, 'received'>, keep: (r: Received) => boolean = () => true): DeliveryCount {
  const ids = new Map<string, number>();
  let raw = 0;
  let badKeys = 0;
  for (const r of rx.received) {
    if (!keep(r)) continue;
    raw++;
    const id = String((r.body as { id?: unknown }).id);
    ids.set(id, (ids.get(id) ?? 0) + 1);
    if (r.headers['idempotency-key'] !== id) badKeys++;
  }
  return { raw, ids, repeated: [...ids].filter(([, n]) => n > 1).map(([id]) => id), badKeys };
}

const START = Date.UTC(2025, 6, 1, 12, 0, 0);

export const SAMPLE_ALERT: AlertView = Object.freeze({
  fingerprint: '0123456789abcdef',
  tenant: 'payments',
  rule: 'checkout-error-rate',
  status: 'firing',
  severity: 'S2',
  metric: 'http_errors',
  labels: Object.freeze({ region: 'eu', service: 'checkout', tenant: 'payments', rule: 'checkout-error-rate', metric: 'http_errors', severity: 'S2', owner: 'team-payments' }),
  value: 42.5,
  expected: 10,
  lower: 5,
  upper: 15,
  score: 0.97,
  detectors: Object.freeze([Object.freeze({ name: 'robust_z', reason: 'above_band' }), Object.freeze({ name: 'threshold', reason: 'above_threshold' })]),
  startsAt: START,
  endsAt: null,
  owner: 'team-payments',
  runbook: 'https://runbooks.example.com/checkout',
  triageUrl: 'http://localhost:9464/ui/triage/payments/0123456789abcdef',
  heldReason: null,
}) as AlertView;

/** A firing page (or the same group resolved / acknowledged). */
export function sampleDispatch(kind: 'firing' | 'resolved' | 'acknowledge' = 'firing'): Dispatch {
  const alert: AlertView = kind === 'resolved' ? { ...SAMPLE_ALERT, status: 'resolved', endsAt: START + 600_000 } : SAMPLE_ALERT;
  return {
    id: `g1:${kind === 'acknowledge' ? 'acknowledge' : 'notify'}:1`,
    tenant: 'payments',
    receiver: 'payments-pager',
    kind: kind === 'acknowledge' ? 'acknowledge' : 'notify',
    groupId: '5f0e7d2b6a1c4e3f8a9b0c1d2e3f4a5b',
    groupKey: 'payments/payments-pager/checkout-error-rate/eu',
    groupLabels: { rule: 'checkout-error-rate', region: 'eu' },
    commonLabels: alert.labels,
    status: kind === 'resolved' ? 'resolved' : 'firing',
    severity: kind === 'resolved' ? 'S0' : 'S2',
    page: kind !== 'resolved',
    alerts: [alert],
    at: START + 90_000,
    crossedAt: START,
    text: null,
    url: null,
    validUntil: START + 90_000 + 4 * 3_600_000,
    ackBy: kind === 'acknowledge' ? 'ann' : null,
  };
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** Problems with a body against the integration's documented required fields (empty: valid). */
export function validateBody(kind: 'webhook' | 'slack' | 'pagerduty' | 'alertmanager', body: unknown): string[] {
  const p: string[] = [];
  const o = body as Record<string, unknown>;
  if (kind === 'pagerduty') {
    // developer.pagerduty.com "Send an Alert Event" / "Acknowledge" / "Resolve" (Events API v2).
    if (typeof o.routing_key !== 'string' || o.routing_key.length !== 32) p.push('routing_key: 32-character integration key required');
    if (!['trigger', 'acknowledge', 'resolve'].includes(o.event_action as string)) p.push('event_action: trigger|acknowledge|resolve required');
    if (o.dedup_key !== undefined && (typeof o.dedup_key !== 'string' || o.dedup_key.length > 255)) p.push('dedup_key: string of at most 255 characters');
    if (o.event_action !== 'trigger') {
      if (typeof o.dedup_key !== 'string') p.push('dedup_key: required for acknowledge and resolve');
    } else {
      const pl = o.payload as Record<string, unknown> | undefined;
      if (!pl) p.push('payload: required for trigger');
      else {
        if (typeof pl.summary !== 'string' || pl.summary.length === 0 || pl.summary.length > 1024) p.push('payload.summary: 1..1024 characters required');
        if (typeof pl.source !== 'string' || pl.source.length === 0) p.push('payload.source: required');
        if (!['critical', 'error', 'warning', 'info'].includes(pl.severity as string)) p.push('payload.severity: critical|error|warning|info required');
        if (pl.timestamp !== undefined && !ISO.test(pl.timestamp as string)) p.push('payload.timestamp: ISO 8601');
      }
      for (const l of (o.links as { href?: unknown; text?: unknown }[] | undefined) ?? []) if (typeof l.href !== 'string') p.push('links[].href: required');
    }
  } else if (kind === 'slack') {
    // api.slack.com incoming webhooks: `text` is required as the notification fallback when blocks are sent.
    if (typeof o.text !== 'string' || o.text.length === 0) p.push('text: required');
    if (o.blocks !== undefined && (!Array.isArray(o.blocks) || o.blocks.length > 50 || o.blocks.some((b) => typeof (b as { type?: unknown }).type !== 'string'))) p.push('blocks: up to 50 blocks, each with a type');
  } else if (kind === 'alertmanager') {
    // Alertmanager api/v2/openapi.yaml: postableAlerts = [postableAlert{labels (required), annotations, startsAt, endsAt, generatorURL}].
    if (!Array.isArray(body) || body.length === 0) p.push('body: a non-empty array of postable alerts');
    else for (const [i, a] of (body as Record<string, unknown>[]).entries()) {
      const labels = a.labels as Record<string, unknown> | undefined;
      if (!labels || Object.keys(labels).length === 0) p.push(`[${i}].labels: required, non-empty`);
      for (const [k, v] of Object.entries(labels ?? {})) if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(k) || typeof v !== 'string' || v === '') p.push(`[${i}].labels.${k}: valid name, non-empty string`);
      for (const [k, v] of Object.entries((a.annotations as Record<string, unknown>) ?? {})) if (typeof v !== 'string') p.push(`[${i}].annotations.${k}: string`);
      for (const k of ['startsAt', 'endsAt']) if (a[k] !== undefined && !ISO.test(a[k] as string)) p.push(`[${i}].${k}: date-time`);
      if (a.generatorURL !== undefined && !/^https?:\/\//.test(a.generatorURL as string)) p.push(`[${i}].generatorURL: uri`);
    }
  } else {
    if (o.version !== 'tidemark.v1') p.push('version: tidemark.v1');
    if (!['firing', 'resolved'].includes(o.status as string)) p.push('status: firing|resolved');
    if (!Array.isArray(o.alerts)) p.push('alerts: array');
    for (const a of (o.alerts as Record<string, unknown>[]) ?? []) {
      for (const k of ['fingerprint', 'metric', 'severity', 'startsAt', 'triageUrl']) if (typeof a[k] !== 'string') p.push(`alerts[].${k}: string`);
      for (const k of ['value', 'expected', 'score']) if (typeof a[k] !== 'number' && a[k] !== null) p.push(`alerts[].${k}: number or null`);
      if (typeof a.band !== 'object' || a.band === null) p.push('alerts[].band: {lower, upper}');
      if (!Array.isArray(a.detectors)) p.push('alerts[].detectors: array');
    }
  }
  return p;
}
