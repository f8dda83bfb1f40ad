/**
 * Wires alert -> notify behind the engine: feeds nothing itself (the engine's sample loop calls
 * `stage.classify/observe`), but runs the stage's timers, writes its alert upserts and ack
 * clears to the store in order, sends its dispatches through the notifier, and logs every
 * delivery in the store's notification log. On start it restores open alerts, active acks and
 * silences from the store, so a restart neither loses an alert nor pages twice.
 */
import { AlertStage, resolvePolicy, type AlertEffects, type AlertPolicy, type Dispatch } from '../alert/index.ts';
import type { Receiver, TenantConfig } from '../config/index.ts';
import { Notifier, type DeliveryOutcome, type NotifierOptions } from '../notify/index.ts';
import type { Ack, Store } from '../store/index.ts';
import { TriageWiring, type TriageOptions } from './triage.ts';

/** Options of the alerting wiring (EngineOptions.alerting). */
export interface AlertingOptions {
  /**
   * Tenant-wide policy overrides (budgets, inhibition, escalation, anti-flap, ack TTL); see
   * DEFAULT_ALERT_POLICY. A tenant config's `alerting:` section is merged over this.
   */
  readonly policy?: unknown;
  readonly notify?: Partial<Pick<NotifierOptions, 'timeoutMs' | 'retry' | 'pagerdutyUrl' | 'hooks'>>;
  /** Deliveries in flight at most; more wait in a queue (the backlog). */
  readonly maxConcurrentSends?: number;
  /** Called after every delivery (tests, the latency benchmark). */
  readonly onDelivery?: (o: DeliveryOutcome) => void;
  /** Triage packets (src/engine/triage.ts): read limits, build concurrency, how long a notification waits. */
  readonly triage?: TriageOptions;
}

const MAX_CONCURRENT_SENDS = 32;

export class Alerting {
  readonly stage: AlertStage;
  readonly notifier: Notifier;
  readonly policy: AlertPolicy;
  /** Builds each firing episode's triage packet, stores it on the alert and puts its summary in notifications. */
  readonly triage: TriageWiring;
  /** Listeners for time to acknowledge / resolve (the API's histograms). */
  readonly durationListeners = new Set<(kind: 'ack' | 'resolve', tenant: string, ms: number) => void>();
  readonly #store: Store;
  readonly #clock: () => number;
  readonly #config: (tenant: string) => { config: TenantConfig | undefined; version: number | null };
  readonly #o: AlertingOptions;
  #writes: Promise<void> = Promise.resolve();
  readonly #queue: Dispatch[] = [];
  readonly #sending = new Set<Promise<unknown>>();
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  #kicked = false;
  #closed = false;
  readonly #receivers = new WeakMap<TenantConfig, Map<string, Receiver>>();
  /** Each loaded config's policy, merged once per config object (a reload is a new object). */
  readonly #policies = new WeakMap<TenantConfig, AlertPolicy>();

  constructor(store: Store, clock: () => number, config: (tenant: string) => { config: TenantConfig | undefined; version: number | null }, o: AlertingOptions = {}) {
    this.#store = store;
    this.#clock = clock;
    this.#config = config;
    this.#o = o;
    this.policy = resolvePolicy(o.policy ?? {});
    this.stage = new AlertStage({
      clock,
      config,
      policy: (tenant) => this.policyFor(tenant),
      onDuration: (kind, tenant, ms) => {
        for (const l of this.durationListeners) l(kind, tenant, ms);
      },
    });
    this.triage = new TriageWiring(store, config, clock, (fn) => this.#write(fn), o.triage);
    this.notifier = new Notifier({
      ...o.notify,
      receivers: (tenant) => {
        const c = this.#config(tenant).config;
        if (!c) return undefined;
        let m = this.#receivers.get(c);
        if (!m) this.#receivers.set(c, (m = new Map(c.receivers.map((r) => [r.name, r]))));
        return m;
      },
      onOutcome: (out) => this.#log(out),
    });
  }

  /**
   * The policy in force for a tenant: its config's `alerting:` section merged over the engine's
   * policy, or the engine's policy when the config has none.
   */
  policyFor(tenant: string): AlertPolicy {
    const c = this.#config(tenant).config;
    if (c?.alerting === undefined) return this.policy;
    let p = this.#policies.get(c);
    if (!p) {
      try {
        p = resolvePolicy(c.alerting, this.policy);
      } catch (err) {
        // The loader ran the same merge over the defaults; only an engine policy at odds with it lands here.
        process.emitWarning(`tenant ${tenant}: alerting section not applied, using the server's policy: ${(err as Error).message}`);
        p = this.policy;
      }
      this.#policies.set(c, p);
    }
    return p;
  }

  /** Loads silences, open alerts (with who was already told) and active acks of these tenants. */
  async init(tenants: readonly string[]): Promise<void> {
    const now = this.#clock();
    for (const tenant of tenants) {
      this.stage.setSilences(tenant, await this.#store.silences.list({ tenant }));
      const acks = new Map<string, Ack>();
      for (const a of await this.#store.acks.active(tenant, now)) acks.set(a.fingerprint, a);
      for (const alert of await this.#store.alerts.list({ tenant, states: ['pending', 'firing'] })) {
        const announced = new Set<string>();
        const seen = new Set<string>();
        // Newest first: the latest record per channel says whether its receiver believes it is firing.
        for (const n of await this.#store.notifications.list({ tenant, fingerprint: alert.fingerprint, status: 'sent', limit: 100 })) {
          if (seen.has(n.channel)) continue;
          seen.add(n.channel);
          if (n.alertState === 'firing' && n.at >= alert.startsAt) announced.add(n.channel.split('/')[0]);
        }
        const ack = acks.get(alert.fingerprint);
        this.stage.restore(alert, [...announced], ack && { by: ack.by, at: ack.at, expiresAt: ack.expiresAt });
        this.triage.restore(alert);
      }
    }
    this.pump();
  }

  /** Schedules a pump soon (after the current batch): the engine calls it when verdicts went in. */
  kick(): void {
    if (this.#kicked || this.#closed) return;
    this.#kicked = true;
    setImmediate(() => {
      this.#kicked = false;
      this.pump();
    });
  }

  /** Runs the stage's due timers, applies its effects and sets the timer for the next deadline. */
  pump(): void {
    if (this.#closed) return;
    this.stage.tick();
    this.#apply(this.stage.drain());
    const next = this.stage.nextDeadline();
    if (next === this.#timerAt && this.#timer) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = next;
    if (next === Infinity) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      this.pump();
    }, Math.max(0, Math.min(2 ** 31 - 1, next - this.#clock())));
    this.#timer.unref();
  }

  #apply(e: AlertEffects): void {
    if (e.upserts.length > 0 || e.ackClears.length > 0) {
      this.#write(async () => {
        for (const u of e.upserts) await this.#store.alerts.upsert(this.triage.decorate(u));
        for (const c of e.ackClears) await this.#store.acks.clear(c.tenant, c.fingerprint, c.at);
      });
    }
    this.triage.observe(e.upserts);
    for (const d of e.dispatches) this.#queue.push(d);
    this.#drainQueue();
  }

  /** Store writes run one after another, in the order the stage produced them. */
  #write(fn: () => Promise<unknown>): void {
    this.#writes = this.#writes.then(fn).then(
      () => undefined,
      (err) => process.emitWarning(`alert store write failed: ${(err as Error).message}`),
    );
  }

  #drainQueue(): void {
    const max = this.#o.maxConcurrentSends ?? MAX_CONCURRENT_SENDS;
    while (this.#queue.length > 0 && this.#sending.size < max) {
      const d = this.#queue.shift()!;
      const p = this.triage.annotate(d).catch(() => d).then((x) => this.notifier.send(x)).finally(() => {
        this.#sending.delete(p);
        this.#drainQueue();
      });
      this.#sending.add(p);
    }
  }

  /** Notifications waiting for a free slot, plus those being delivered. */
  backlog(): number {
    return this.#queue.length + this.#sending.size;
  }

  #log(o: DeliveryOutcome): void {
    this.#o.onDelivery?.(o);
    const d = o.dispatch;
    const at = this.#clock();
    const channel = `${o.receiver}/${o.integration}`;
    const error = o.error ? o.error.message : null;
    const status = o.ok ? 'sent' : 'failed';
    const rows = d.alerts.length > 0
      ? d.alerts.map((a) => ({ fingerprint: a.fingerprint, alertState: a.status }))
      : [{ fingerprint: `${d.kind}:${d.groupId}`, alertState: 'firing' as const }];
    this.#write(async () => {
      for (const r of rows) await this.#store.notifications.record({ tenant: d.tenant, fingerprint: r.fingerprint, channel, alertState: r.alertState, status, attempt: o.attempts, at, error });
    });
  }

  /** Records an ack in the store and in the stage (which may send PagerDuty an acknowledge). */
  async ack(tenant: string, fingerprint: string, by: string, ttlMs: number | undefined, comment: string | null): Promise<Ack> {
    const at = this.#clock();
    const ack = await this.#store.acks.add({ tenant, fingerprint, by, at, ttlMs: ttlMs ?? this.policyFor(tenant).ackTtlMs, comment });
    this.stage.ack(tenant, fingerprint, by, at, ack.expiresAt - at);
    this.pump();
    return ack;
  }

  /** Reloads a tenant's silences after a change through the API. */
  async reloadSilences(tenant: string): Promise<void> {
    this.stage.setSilences(tenant, await this.#store.silences.list({ tenant }));
    this.pump();
  }

  /** Waits until every store write queued so far is done (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.#sending.size > 0 || this.#queue.length > 0) await Promise.allSettled([...this.#sending]);
    await this.triage.settled();
    await this.#writes;
  }

  /** Stops the timer, writes every changed alert, and waits for deliveries in flight. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.stage.persistAll();
    this.#apply(this.stage.drain());
    await this.settled();
  }
}
