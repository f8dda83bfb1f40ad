/**
 * Sends dispatches to receivers: each receiver fans out to its integrations (webhook, Slack,
 * PagerDuty, Alertmanager), each delivered with a timeout and retries, and every outcome is
 * reported (for the persisted notification log and the per-receiver failure metrics).
 */
import type { Dispatch } from '../alert/index.ts';
import type { Receiver } from '../config/index.ts';
import { DEFAULT_RETRY, NotifyError, postJson, withRetry, type RetryHooks, type RetryPolicy } from './http.ts';
import { alertmanagerBody, PAGERDUTY_EVENTS_URL, pagerdutyBody, slackBody, webhookBody } from './payloads.ts';

export type IntegrationKind = 'webhook' | 'slack' | 'pagerduty' | 'alertmanager';

/** One way of reaching a receiver: where to POST and what body a dispatch becomes. */
export interface Integration {
  readonly kind: IntegrationKind;
  readonly url: string;
  /** The request body, or undefined when this integration has nothing to say (e.g. Slack on an ack). */
  body(d: Dispatch): unknown;
}

export function webhookIntegration(url: string): Integration {
  return { kind: 'webhook', url, body: (d) => webhookBody(d) };
}

export function slackIntegration(url: string, channel: string | undefined): Integration {
  return { kind: 'slack', url, body: (d) => slackBody(d, channel) };
}

export function pagerdutyIntegration(routingKey: string, url = PAGERDUTY_EVENTS_URL): Integration {
  return { kind: 'pagerduty', url, body: (d) => pagerdutyBody(d, routingKey) };
}

export function alertmanagerIntegration(baseUrl: string): Integration {
  return { kind: 'alertmanager', url: `${baseUrl.replace(/\/+$/, '')}/api/v2/alerts`, body: (d) => alertmanagerBody(d) };
}

/** The integrations of a configured receiver, in a fixed order. */
export function integrationsOf(r: Receiver, o: { pagerdutyUrl?: string } = {}): Integration[] {
  const out: Integration[] = [];
  if (r.webhook) out.push(webhookIntegration(r.webhook.url));
  if (r.slack) out.push(slackIntegration(r.slack.webhookUrl, r.slack.channel));
  if (r.pagerduty) out.push(pagerdutyIntegration(r.pagerduty.routingKey, o.pagerdutyUrl));
  if (r.alertmanager) out.push(alertmanagerIntegration(r.alertmanager.url));
  return out;
}

/** What happened to one dispatch on one integration. */
export interface DeliveryOutcome {
  readonly dispatch: Dispatch;
  readonly receiver: string;
  readonly integration: IntegrationKind;
  readonly ok: boolean;
  readonly attempts: number;
  readonly error: NotifyError | null;
  /** When the last request left (wall clock, ms). */
  readonly sentAt: number;
}

export interface NotifierOptions {
  /** A tenant's receivers by name (from its config). */
  readonly receivers: (tenant: string) => ReadonlyMap<string, Receiver> | undefined;
  readonly timeoutMs?: number;
  readonly retry?: RetryPolicy;
  readonly hooks?: RetryHooks;
  /** Override of the PagerDuty Events API URL (tests, proxies). */
  readonly pagerdutyUrl?: string;
  /** Wall clock for `sentAt` (default Date.now). */
  readonly now?: () => number;
  /** Called once per integration per dispatch, after its last attempt. */
  readonly onOutcome?: (o: DeliveryOutcome) => void;
}

/** Counters per receiver and integration, for /metrics. */
export interface NotifierCounters {
  /** `receiver\u0000integration` -> deliveries that succeeded / failed for good / retries made. */
  readonly sent: Map<string, number>;
  readonly failed: Map<string, number>;
  readonly retries: Map<string, number>;
}

export const DEFAULT_NOTIFY_TIMEOUT_MS = 10_000; // 10 s per request

/** Delivers dispatches. Sends to different integrations run concurrently. */
export class Notifier {
  readonly #o: NotifierOptions;
  readonly counters: NotifierCounters = { sent: new Map(), failed: new Map(), retries: new Map() };
  /** Deliveries started and not finished (the backlog). */
  inflight = 0;

  constructor(o: NotifierOptions) {
    this.#o = o;
  }

  /** The integrations a dispatch goes to: the rule's mitigation hook, or the receiver's. */
  integrations(d: Dispatch): { receiver: string; list: Integration[] } {
    if (d.kind === 'mitigation' && d.url) return { receiver: d.receiver, list: [webhookIntegration(d.url)] };
    const r = this.#o.receivers(d.tenant)?.get(d.receiver);
    return { receiver: d.receiver, list: r ? integrationsOf(r, { pagerdutyUrl: this.#o.pagerdutyUrl }) : [] };
  }

  /** Sends one dispatch to every integration of its receiver; never rejects (outcomes say what failed). */
  async send(d: Dispatch): Promise<DeliveryOutcome[]> {
    const { receiver, list } = this.integrations(d);
    if (list.length === 0) {
      const error = new NotifyError(`receiver '${receiver}' is not defined in tenant ${d.tenant}'s config`, false, null, `receivers.${receiver}`);
      const o: DeliveryOutcome = { dispatch: d, receiver, integration: 'webhook', ok: false, attempts: 0, error, sentAt: (this.#o.now ?? Date.now)() };
      this.#count(this.counters.failed, receiver, 'webhook');
      this.#o.onOutcome?.(o);
      return [o];
    }
    const outcomes = await Promise.all(list.map((i) => this.deliver(d, receiver, i)));
    return outcomes.filter((o): o is DeliveryOutcome => o !== undefined);
  }

  /** One integration: body, POST with retries, counters, outcome. Undefined when it had nothing to send. */
  async deliver(d: Dispatch, receiver: string, i: Integration): Promise<DeliveryOutcome | undefined> {
    const body = i.body(d);
    if (body === undefined) return undefined;
    const now = this.#o.now ?? Date.now;
    const timeoutMs = this.#o.timeoutMs ?? DEFAULT_NOTIFY_TIMEOUT_MS;
    let sentAt = 0;
    this.inflight++;
    try {
      const attempts = await withRetry(
        () => {
          sentAt = now();
          return postJson(i.url, body, { timeoutMs });
        },
        this.#o.retry ?? DEFAULT_RETRY,
        { ...this.#o.hooks, onRetry: (e, n) => {
          this.#count(this.counters.retries, receiver, i.kind);
          this.#o.hooks?.onRetry?.(e, n);
        } },
      );
      this.#count(this.counters.sent, receiver, i.kind);
      const o: DeliveryOutcome = { dispatch: d, receiver, integration: i.kind, ok: true, attempts, error: null, sentAt };
      this.#o.onOutcome?.(o);
      return o;
    } catch (err) {
      const e = err instanceof NotifyError ? err : new NotifyError((err as Error).message, false, null, i.kind);
      this.#count(this.counters.failed, receiver, i.kind);
      const o: DeliveryOutcome = { dispatch: d, receiver, integration: i.kind, ok: false, attempts: (e as { attempts?: number }).attempts ?? 1, error: e, sentAt };
      this.#o.onOutcome?.(o);
      return o;
    } finally {
      this.inflight--;
    }
  }

  #count(map: Map<string, number>, receiver: string, kind: string): void {
    const k = `${receiver}\u0000${kind}`;
    map.set(k, (map.get(k) ?? 0) + 1);
  }
}
