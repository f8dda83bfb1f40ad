/**
 * Sends dispatches to receivers: each receiver fans out to its integrations (webhook, Slack,
 * PagerDuty, Alertmanager), each delivered with a timeout and retries, and every outcome is
 * reported (for the persisted notification log and the per-receiver failure metrics).
 */
import type { Dispatch } from '../alert/index.ts';
import type { Receiver } from '../config/index.ts';
import { DEFAULT_RETRY, DeliveryStopped, NotifyError, postJson, withRetry, type RetryHooks, type RetryPolicy } from './http.ts';
import { alertmanagerBody, PAGERDUTY_EVENTS_URL, pagerdutyBody, slackBody, webhookBody } from './payloads.ts';

export type IntegrationKind = 'webhook' | 'slack' | 'pagerduty' | 'alertmanager';

/**
 * One way of reaching a receiver: where to POST and what body a dispatch becomes.
 *
 * Delivery is at least once: a dispatch whose outcome was not logged (the process died after
 * the send) is sent again, with the same `Dispatch.id`, by the next owner of its alerts. What
 * a receiver can do with the repeat differs:
 * - webhook: the body's `id` and the `Idempotency-Key` header carry the dispatch id; a receiver
 *   that remembers ids it processed drops the repeat;
 * - PagerDuty: `dedup_key` is the group id (stable on every worker): a repeated trigger joins
 *   the open incident instead of opening another;
 * - Alertmanager: dedupes alerts by their labels; a repeat only refreshes endsAt;
 * - Slack: incoming webhooks have no idempotency key, so a repeat shows as a second message.
 */
export interface Integration {
  readonly kind: IntegrationKind;
  readonly url: string;
  /** The request body, or undefined when this integration has nothing to say (e.g. Slack on an ack). */
  body(d: Dispatch): unknown;
  /** Extra request headers. */
  headers?(d: Dispatch): Record<string, string>;
}

export function webhookIntegration(url: string): Integration {
  return { kind: 'webhook', url, body: (d) => webhookBody(d), headers: (d) => ({ 'idempotency-key': d.id }) };
}

// Slack's incoming webhooks take no idempotency key: a re-sent dispatch is a second message.
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
  /** True when `SendOptions.proceed` called it off between attempts: neither sent nor failed. */
  readonly stopped?: boolean;
}

/** Per send: which integrations, and whether a retry may go. */
export interface SendOptions {
  /** Only these integrations of the receiver (a re-send of the channels still pending). */
  readonly only?: ReadonlySet<IntegrationKind>;
  /** Asked before each retry; false stops the delivery (see RetryHooks.proceed). */
  readonly proceed?: () => boolean | Promise<boolean>;
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

  /** The integrations that have something to send for this dispatch (its channels in the notification log). */
  channels(d: Dispatch): { receiver: string; list: Integration[] } {
    const { receiver, list } = this.integrations(d);
    return { receiver, list: list.filter((i) => i.body(d) !== undefined) };
  }

  /** Sends one dispatch to every integration of its receiver (or `o.only`); never rejects (outcomes say what failed). */
  async send(d: Dispatch, o: SendOptions = {}): Promise<DeliveryOutcome[]> {
    const { receiver, list: all } = this.integrations(d);
    const list = o.only ? all.filter((i) => o.only!.has(i.kind)) : all;
    if (list.length === 0) {
      const error = new NotifyError(`receiver '${receiver}' is not defined in tenant ${d.tenant}'s config`, false, null, `receivers.${receiver}`);
      const o: DeliveryOutcome = { dispatch: d, receiver, integration: 'webhook', ok: false, attempts: 0, error, sentAt: (this.#o.now ?? Date.now)() };
      this.#count(this.counters.failed, receiver, 'webhook');
      this.#o.onOutcome?.(o);
      return [o];
    }
    const outcomes = await Promise.all(list.map((i) => this.deliver(d, receiver, i, o.proceed)));
    return outcomes.filter((o): o is DeliveryOutcome => o !== undefined);
  }

  /** One integration: body, POST with retries, counters, outcome. Undefined when it had nothing to send. */
  async deliver(d: Dispatch, receiver: string, i: Integration, proceed?: () => boolean | Promise<boolean>): Promise<DeliveryOutcome | undefined> {
    const body = i.body(d);
    if (body === undefined) return undefined;
    const headers = i.headers?.(d);
    const now = this.#o.now ?? Date.now;
    const timeoutMs = this.#o.timeoutMs ?? DEFAULT_NOTIFY_TIMEOUT_MS;
    let sentAt = 0;
    this.inflight++;
    try {
      const attempts = await withRetry(
        () => {
          sentAt = now();
          return postJson(i.url, body, { timeoutMs, headers });
        },
        this.#o.retry ?? DEFAULT_RETRY,
        { ...this.#o.hooks, proceed: proceed ?? this.#o.hooks?.proceed, onRetry: (e, n) => {
          this.#count(this.counters.retries, receiver, i.kind);
          this.#o.hooks?.onRetry?.(e, n);
        } },
      );
      this.#count(this.counters.sent, receiver, i.kind);
      const o: DeliveryOutcome = { dispatch: d, receiver, integration: i.kind, ok: true, attempts, error: null, sentAt };
      this.#o.onOutcome?.(o);
      return o;
    } catch (err) {
      if (err instanceof DeliveryStopped) {
        const o: DeliveryOutcome = { dispatch: d, receiver, integration: i.kind, ok: false, attempts: (err as { attempts?: number }).attempts ?? 1, error: err, sentAt, stopped: true };
        this.#o.onOutcome?.(o);
        return o;
      }
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
