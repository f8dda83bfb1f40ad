/**
 * Wires alert -> notify behind the engine: feeds nothing itself (the engine's sample loop calls
 * `stage.classify/observe`), but runs the stage's timers, writes its alert upserts and ack
 * clears to the store in order, sends its dispatches through the notifier, and logs every
 * delivery in the store's notification log. On start it restores open alerts, active acks and
 * silences from the store, so a restart neither loses an alert nor pages twice.
 *
 * Delivery is at least once, with stable ids: before a dispatch goes out its intent is recorded
 * (a `pending` row per alert and channel, with the dispatch), and the receiver's answer settles
 * it (`sent` or `failed`). A process that dies between the send and the settlement leaves the
 * intent pending; the next owner of its alerts (a restart, or the worker taking the partition
 * over) counts the alerts as announced and sends the dispatch again with the same id
 * (`resendPending`), which receivers drop by id (webhook Idempotency-Key, PagerDuty dedup_key).
 * Treating a pending intent as announced without sending it again loses the page when the
 * process died before the send; sending again without the same id pages twice.
 */
import { AlertStage, isBudgetSummary, resolvePolicy, type AlertEffects, type AlertPolicy, type Dispatch } from '../alert/index.ts';
import type { Receiver, TenantConfig } from '../config/index.ts';
import { Notifier, type DeliveryOutcome, type IntegrationKind, type NotifierOptions } from '../notify/index.ts';
import type { Ack, Alert, Labels, NotificationIntent, NotificationSettlement, Store } from '../store/index.ts';
import { TriageWiring, type TriageOptions } from './triage.ts';

/** Options of the alerting wiring (EngineOptions.alerting). */
export interface AlertingOptions {
  /**
   * Tenant-wide policy overrides (budgets, inhibition, escalation, anti-flap, ack TTL); see
   * DEFAULT_ALERT_POLICY. A tenant config's `alerting:` section is merged over this.
   */
  readonly policy?: unknown;
  readonly notify?: Partial<Pick<NotifierOptions, 'timeoutMs' | 'retry' | 'pagerdutyUrl' | 'hooks'>>;
  /** Deliveries in flight at most, over every receiver; more wait in their receiver's queue (the backlog). */
  readonly maxConcurrentSends?: number;
  /** Deliveries in flight at most per receiver, so one slow receiver cannot take every slot. */
  readonly maxSendsPerReceiver?: number;
  /** Called after every delivery (tests, the latency benchmark). */
  readonly onDelivery?: (o: DeliveryOutcome) => void;
  /** Triage packets (src/engine/triage.ts): read limits, build concurrency, refresh interval, shutdown wait. */
  readonly triage?: TriageOptions;
  /**
   * Takes every dispatch instead of the notifier, synchronously and in order (backtests: nothing
   * leaves the process, and nothing lands in the notification log).
   */
  readonly sink?: (d: Dispatch) => void;
  /** False: no triage packets are built (backtests read their alerts, not their packets). Default true. */
  readonly packets?: boolean;
  /**
   * Cluster fencing, consulted right before each delivery for every alert of the dispatch whose
   * series the stage knows: `deliver` (this process provably owns the alert's partition),
   * `hold` (ownership not provable now: the delivery waits and asks again) or `drop` (the
   * partition is lost: its new owner restores the alert and announces it). A dispatch goes
   * without the dropped alerts, and not at all when every alert is dropped. Unset (`serve`): every dispatch goes.
   */
  readonly fence?: (alert: FencedAlert) => FenceVerdict;
  /** How often a held delivery asks the fence again (ms). Default 50. */
  readonly fenceRetryMs?: number;
}

/** An alert of a dispatch as the fence sees it: the series the stage judged it on. */
export interface FencedAlert {
  readonly tenant: string;
  readonly fingerprint: string;
  readonly metric: string;
  readonly labels: Labels;
}
export type FenceVerdict = 'deliver' | 'hold' | 'drop';

const MAX_CONCURRENT_SENDS = 256;
const MAX_SENDS_PER_RECEIVER = 64;
const LOOKAHEAD = 64; // queued dispatches of a receiver scanned for one whose group has nothing in flight
const WRITE_BATCH = 500; // alerts or log rows per store transaction: bounds how long one synchronous write holds the loop
const WRITE_SLICE_MS = 10; // the store's writes are synchronous: the event loop gets a turn after this long
const RECENT_IDS = 10_000; // dispatch ids remembered against sending the same notification twice

/**
 * One receiver's sends (per tenant): dispatches wait in order, at most `maxSendsPerReceiver` go
 * at once, and a group's dispatches go one after another, so a resolve never overtakes its
 * trigger (PagerDuty would keep the incident open) even when a retry delays the trigger.
 */
interface Lane {
  readonly queue: Dispatch[];
  inflight: number;
  /** Group ids with a dispatch in flight. */
  readonly busy: Set<string>;
}

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
  /**
   * The notification log's own chain: a delivered notification is logged without waiting behind
   * alert upserts and triage packets, because until its row is stored a takeover (cluster) or a
   * restart cannot know the page went out and would send it again.
   */
  #logWrites: Promise<void> = Promise.resolve();
  /** Intents on a chain of their own: a page's send waits for its intent, never for a backlog of earlier outcomes. */
  #intentWrites: Promise<void> = Promise.resolve();
  readonly #lanes = new Map<string, Lane>();
  #queued = 0;
  readonly #sending = new Set<Promise<unknown>>();
  /** Triage follow-ups waiting for their packets. */
  readonly #followUps = new Set<Promise<unknown>>();
  /**
   * With a fence: each queued dispatch's alerts and their series, looked up when the stage
   * produced it (a partition given up later forgets its alerts, and its queued dispatches must
   * still be mapped to it to be dropped).
   */
  readonly #fenced = new WeakMap<Dispatch, readonly FencedAlert[]>();
  /**
   * The fence's verdicts (tests, /metrics): deliveries held, alerts and dispatches dropped,
   * dispatches let through (`delivered`, each attempt's check counted once), and retries called
   * off because the lease was lost meanwhile (`stoppedRetries`).
   */
  readonly fenceCounters = { held: 0, droppedAlerts: 0, droppedDispatches: 0, delivered: 0, stoppedRetries: 0 };
  /** Intents recorded, settled, and sent again after a restart or takeover (tests, /metrics). */
  readonly intentCounters = { recorded: 0, resent: 0, unwritten: 0, deduplicated: 0 };
  /** Re-sends of pending intents: the channels still pending (nothing of the triage is redone). */
  readonly #resends = new WeakMap<Dispatch, ReadonlySet<IntegrationKind>>();
  /**
   * Ids of dispatches queued, in flight or sent by this process, oldest first (at most
   * RECENT_IDS): the stage deriving a notification again (a new owner replaying the points its
   * re-sent intent announced) does not send it a second time.
   */
  readonly #recent = new Map<string, 'queued' | 'sent'>();
  /** Intents waiting for the next store task (one write for all that piled up), with who waits on each. */
  #intents: { intent: NotificationIntent; done: () => void }[] = [];
  /** Per receiver and group: the id of its latest notification (a follow-up only follows that one). */
  readonly #latest = new Map<string, string>();
  /** Settlements not written yet: one store task writes all that piled up. */
  #logRows: NotificationSettlement[] = [];
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
    this.triage = new TriageWiring(store, config, clock, (fn) => this.#write(fn), { pagesWaiting: () => this.#queued > 0, ...o.triage });
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
  async init(tenants: readonly string[], openAlerts = true): Promise<void> {
    const now = this.#clock();
    for (const tenant of tenants) {
      this.stage.setSilences(tenant, await this.#store.silences.list({ tenant }));
      // A cluster worker loads open alerts per partition it takes (restoreOpen), not all at start.
      if (!openAlerts) continue;
      const acks = new Map<string, Ack>();
      for (const a of await this.#store.acks.active(tenant, now)) acks.set(a.fingerprint, a);
      const before = this.#clock();
      for (const alert of await this.#store.alerts.list({ tenant, states: ['pending', 'firing'] })) {
        const announced = await this.#announced(tenant, alert);
        const ack = acks.get(alert.fingerprint);
        this.stage.restore(alert, [...announced], ack && { by: ack.by, at: ack.at, expiresAt: ack.expiresAt });
        // A budget summary has no series to explain.
        if (!isBudgetSummary(alert)) this.triage.restore(alert);
      }
      // What the last run recorded and never settled goes again, with its id.
      await this.resendPending(tenant, undefined, before);
    }
    this.pump();
  }

  /**
   * The receivers an open alert's firing was announced to: the newest row per channel, `sent`
   * or `pending` (an unsettled intent is sent again by resendPending, so it counts as told).
   */
  async #announced(tenant: string, alert: Alert): Promise<Set<string>> {
    const announced = new Set<string>();
    const seen = new Set<string>();
    // Newest first: the latest record per channel says whether its receiver believes it is firing.
    for (const n of await this.#store.notifications.list({ tenant, fingerprint: alert.fingerprint, limit: 100 })) {
      if (n.status === 'failed' || seen.has(n.channel)) continue;
      seen.add(n.channel);
      if (n.alertState === 'firing' && n.at >= alert.startsAt) announced.add(n.channel.split('/')[0]);
    }
    return announced;
  }

  /**
   * Sends again every dispatch of a tenant whose intent is still pending (recorded before
   * `before`), with its id, to the channels still pending: those a process recorded and died
   * before settling. `keep` selects by the dispatch's fenced alerts (a cluster worker: those of
   * the partitions it just took; a dispatch without series, such as a budget summary, has none).
   * Each goes through the fence like any delivery. Resolves to the number queued.
   */
  async resendPending(tenant: string, keep?: (alerts: readonly FencedAlert[]) => boolean, before = this.#clock()): Promise<number> {
    if (this.#o.sink || this.#closed) return 0;
    let n = 0;
    for (const p of await this.#store.notifications.pending({ tenant, before })) {
      const payload = p.payload as { dispatch?: Dispatch; fenced?: FencedAlert[] } | null;
      const d = payload?.dispatch;
      if (!d || typeof d.id !== 'string' || d.id !== p.dispatchId) {
        process.emitWarning(`notification ${p.dispatchId} of tenant ${tenant} is pending without its dispatch; not sent again`);
        continue;
      }
      const fenced = Array.isArray(payload.fenced) ? payload.fenced : [];
      if (keep && !keep(fenced)) continue;
      // The stage here derived it again already (same id, same content): that one goes.
      if (this.#recent.has(d.id)) {
        this.intentCounters.deduplicated++;
        continue;
      }
      const only = new Set<IntegrationKind>();
      for (const c of p.channels) only.add(c.slice(c.lastIndexOf('/') + 1) as IntegrationKind);
      this.#resends.set(d, only);
      if (this.#o.fence) this.#fenced.set(d, fenced);
      this.intentCounters.resent++;
      this.#enqueue(d);
      n++;
    }
    if (n > 0) this.#drainQueue();
    return n;
  }

  /**
   * Loads the open alerts of one tenant that `keep` selects (with who was told, and their acks)
   * into the stage: a cluster worker calls it for the series of a partition it takes over, so
   * the episodes the previous owner opened continue here instead of paging again.
   */
  async restoreOpen(tenant: string, keep: (alert: Alert) => boolean, onlyAnnounced = false): Promise<number> {
    const now = this.#clock();
    let n = 0;
    const acks = new Map<string, Ack>();
    for (const a of await this.#store.acks.active(tenant, now)) acks.set(a.fingerprint, a);
    for (const alert of await this.#store.alerts.list({ tenant, states: ['pending', 'firing'] })) {
      // Budget summaries are the tenant's, not a partition's: the process that loads tenants (init) resumes them.
      if (isBudgetSummary(alert) || !keep(alert)) continue;
      const announced = await this.#announced(tenant, alert);
      const ack = acks.get(alert.fingerprint);
      // onlyAnnounced: an episode nobody was told about is left to the replay of the partition,
      // which judges its points again and opens (and announces) it afresh.
      if (onlyAnnounced && announced.size === 0 && !ack) continue;
      this.stage.restore(alert, [...announced], ack && { by: ack.by, at: ack.at, expiresAt: ack.expiresAt });
      this.triage.restore(alert);
      n++;
    }
    this.pump();
    return n;
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
        // Batches (one transaction each) rather than one commit per alert: a storm's 9,000 changed
        // alerts at shutdown took half a minute; the chunks still let sends and ingest in between.
        const slice = new Slice();
        for (let i = 0; i < e.upserts.length; i += WRITE_BATCH) {
          await this.#store.alerts.upsertMany(e.upserts.slice(i, i + WRITE_BATCH).map((u) => this.triage.decorate(u)));
          await slice.next();
        }
        for (const c of e.ackClears) await this.#store.acks.clear(c.tenant, c.fingerprint, c.at);
      });
    }
    if (this.#o.packets !== false) this.triage.observe(e.upserts.some(isBudgetSummary) ? e.upserts.filter((u) => !isBudgetSummary(u)) : e.upserts);
    if (this.#o.sink) {
      for (const d of e.dispatches) this.#o.sink(d);
      return;
    }
    for (const d of e.dispatches) this.#enqueue(d);
    this.#drainQueue();
  }

  #enqueue(d: Dispatch): void {
    if (d.kind !== 'update') {
      // Same id, same notification (see AlertStage's dispatch ids): already going or gone.
      if (this.#recent.has(d.id)) {
        this.intentCounters.deduplicated++;
        return;
      }
      this.#recent.set(d.id, 'queued');
      if (this.#recent.size > RECENT_IDS) this.#recent.delete(this.#recent.keys().next().value!);
    }
    const key = `${d.tenant}\u0000${d.receiver}`;
    let lane = this.#lanes.get(key);
    if (!lane) this.#lanes.set(key, (lane = { queue: [], inflight: 0, busy: new Set() }));
    lane.queue.push(d);
    this.#queued++;
    if (this.#o.fence && !this.#fenced.has(d)) this.#fenced.set(d, this.#fencedAlerts(d));
    // A re-sent intent is older than what the stage said since: no follow-up waits for it.
    if (d.kind === 'update' || this.#resends.has(d)) return;
    const group = `${key}\u0000${d.groupId}`;
    if (d.status === 'resolved') this.#latest.delete(group);
    else this.#latest.set(group, d.id);
  }

  /** Store writes run one after another, in the order the stage produced them. */
  #writeLog(fn: () => Promise<unknown>): void {
    this.#logWrites = this.#logWrites.then(fn).then(
      () => undefined,
      (err) => process.emitWarning(`notification log write failed: ${(err as Error).message}`),
    );
  }

  #write(fn: () => Promise<unknown>): void {
    this.#writes = this.#writes.then(fn).then(
      () => undefined,
      (err) => process.emitWarning(`alert store write failed: ${(err as Error).message}`),
    );
  }

  #drainQueue(): void {
    const max = this.#o.maxConcurrentSends ?? MAX_CONCURRENT_SENDS;
    const perReceiver = this.#o.maxSendsPerReceiver ?? MAX_SENDS_PER_RECEIVER;
    if (this.#queued === 0) return;
    for (const [key, lane] of this.#lanes) {
      while (lane.queue.length > 0 && lane.inflight < perReceiver && this.#sending.size < max) {
        let i = 0;
        const scan = Math.min(lane.queue.length, LOOKAHEAD);
        while (i < scan && lane.busy.has(lane.queue[i].groupId)) i++;
        if (i === scan) break;
        const d = lane.queue.splice(i, 1)[0];
        this.#queued--;
        this.#send(lane, d);
      }
      if (lane.queue.length === 0 && lane.inflight === 0) this.#lanes.delete(key);
      if (this.#sending.size >= max) break;
    }
  }

  #send(lane: Lane, d: Dispatch): void {
    lane.inflight++;
    lane.busy.add(d.groupId);
    // Held at most briefly for a triage packet: what is ready goes now, the rest follows in an update.
    // A re-sent intent went through that already.
    const only = this.#resends.get(d);
    const annotated = only ? Promise.resolve({ dispatch: d, followUp: undefined }) : this.triage.annotate(d).catch(() => ({ dispatch: d, followUp: undefined }));
    const p = annotated.then(async ({ dispatch, followUp }) => {
      if (followUp) this.#follow(d, followUp);
      const fence = this.#o.fence;
      // Not even the intent of a dispatch this process may not send (its partition's new owner sends it).
      let out = fence ? await this.#fence(d, dispatch) : dispatch;
      if (!out) return;
      // The intent is stored before the first byte leaves: whoever owns these alerts next sends it again if it never settles.
      if (!only) await this.#intend(out, d);
      if (fence) out = await this.#fence(d, out);
      // Nothing awaited between the fence's answer and the send: a stall cannot slip in between.
      if (!out) return;
      this.fenceCounters.delivered += fence ? 1 : 0;
      const proceed = fence && (async () => {
        // A retry goes only while the lease is still provably ours; a lost one leaves the intent pending for the new owner.
        const ok = (await this.#fence(d, out!)) !== undefined;
        if (!ok) this.fenceCounters.stoppedRetries++;
        return ok;
      });
      return this.notifier.send(out, { only, proceed: proceed || undefined });
    }).then((outcomes) => {
      // Delivered everywhere: remembered as sent. Dropped, failed or called off: a later identical dispatch may try again.
      if (outcomes && outcomes.length > 0 && outcomes.every((o) => o.ok)) this.#recent.set(d.id, 'sent');
      else this.#recent.delete(d.id);
    }, () => this.#recent.delete(d.id)).finally(() => {
      lane.inflight--;
      lane.busy.delete(d.groupId);
      this.#sending.delete(p);
      this.#drainQueue();
    });
    this.#sending.add(p);
  }

  /** Sends a triage follow-up once its packets are built, unless a newer notification of the group went out. */
  #follow(d: Dispatch, followUp: Promise<Dispatch | undefined>): void {
    const group = `${d.tenant}\u0000${d.receiver}\u0000${d.groupId}`;
    const f: Promise<unknown> = followUp
      .then((u) => {
        // A newer notification of the group carries the summary itself (or it resolved).
        if (u === undefined || this.#closed || this.#latest.get(group) !== d.id) return;
        // The same alerts as the notification it follows (the stage may have let them go by now).
        const fenced = this.#fenced.get(d);
        if (fenced) this.#fenced.set(u, fenced);
        this.#enqueue(u);
        this.#drainQueue();
      })
      .catch((err) => process.emitWarning(`triage follow-up of ${d.id} not sent: ${(err as Error).message}`))
      .finally(() => this.#followUps.delete(f));
    this.#followUps.add(f);
  }

  /** The alerts of a dispatch whose series the stage holds (a budget summary's alerts have none: never fenced). */
  #fencedAlerts(d: Dispatch): readonly FencedAlert[] {
    const out: FencedAlert[] = [];
    for (const a of d.alerts) {
      const s = this.stage.seriesOf(d.tenant, a.fingerprint);
      if (s) out.push({ tenant: d.tenant, fingerprint: a.fingerprint, metric: s.metric, labels: s.labels });
    }
    return out;
  }

  /**
   * Asks the fence about every alert of a dispatch, waiting while any is held; resolves to what
   * may go (without the dropped alerts) or undefined when nothing may. The lane's slot and the
   * group stay taken meanwhile, so later notifications of the group cannot overtake this one.
   */
  async #fence(queued: Dispatch, d: Dispatch): Promise<Dispatch | undefined> {
    const fence = this.#o.fence!;
    const alerts = this.#fenced.get(queued) ?? [];
    if (alerts.length === 0) return d;
    for (let held = false; ; held = true) {
      const dropped = new Set<string>();
      let hold = false;
      for (const a of alerts) {
        const v = fence(a);
        if (v === 'hold') hold = true;
        else if (v === 'drop') dropped.add(a.fingerprint);
      }
      if (hold) {
        if (!held) this.fenceCounters.held++;
        await new Promise((r) => setTimeout(r, this.#o.fenceRetryMs ?? 50));
        continue;
      }
      if (dropped.size === 0) return d;
      this.fenceCounters.droppedAlerts += dropped.size;
      const rest = d.alerts.filter((a) => !dropped.has(a.fingerprint));
      if (rest.length === 0) {
        this.fenceCounters.droppedDispatches++;
        return undefined;
      }
      return { ...d, alerts: rest };
    }
  }

  /** Notifications waiting for a free slot, plus those being delivered. */
  backlog(): number {
    return this.#queued + this.#sending.size;
  }

  /**
   * Records the intent of a dispatch on the channels that will send something, and resolves
   * once it is stored. A failed write is warned about and the send goes anyway: a page sent
   * without an intent can at worst go twice (its id is stable), one held back can be lost.
   */
  #intend(d: Dispatch, queued: Dispatch): Promise<void> {
    const { receiver, list } = this.notifier.channels(d);
    if (list.length === 0) return Promise.resolve();
    const intent: NotificationIntent = {
      tenant: d.tenant,
      dispatchId: d.id,
      channels: list.map((i) => `${receiver}/${i.kind}`),
      alerts: logAlerts(d),
      at: this.#clock(),
      payload: { dispatch: d, fenced: this.#fenced.get(queued) ?? [] },
    };
    return new Promise<void>((done) => {
      const first = this.#intents.length === 0;
      this.#intents.push({ intent, done });
      if (!first) return;
      // One store task for every intent recorded until it runs.
      this.#intentWrites = this.#intentWrites.then(async () => {
        const batch = this.#intents;
        this.#intents = [];
        try {
          for (let i = 0; i < batch.length; i += WRITE_BATCH) {
            const part = batch.slice(i, i + WRITE_BATCH);
            try {
              await this.#store.notifications.intend(part.map((x) => x.intent));
              this.intentCounters.recorded += part.length;
            } catch (err) {
              this.intentCounters.unwritten += part.length;
              process.emitWarning(`notification intents not recorded (sent anyway): ${(err as Error).message}`);
            }
          }
        } finally {
          for (const x of batch) x.done();
        }
      }).catch((err: Error) => process.emitWarning(`notification intents: ${err.message}`));
    });
  }

  #log(o: DeliveryOutcome): void {
    this.#o.onDelivery?.(o);
    // Called off by the fence between attempts: the intent stays pending for the partition's new owner.
    if (o.stopped) return;
    const d = o.dispatch;
    const first = this.#logRows.length === 0;
    this.#logRows.push({
      tenant: d.tenant,
      dispatchId: d.id,
      channels: [`${o.receiver}/${o.integration}`],
      alerts: logAlerts(d),
      at: this.#clock(),
      status: o.ok ? 'sent' : 'failed',
      attempt: Math.max(1, o.attempts),
      error: o.error ? o.error.message : null,
    });
    // One store task for every outcome logged until it runs, not one per delivery.
    if (first) {
      this.#writeLog(async () => {
        const batch = this.#logRows;
        this.#logRows = [];
        const slice = new Slice();
        for (let i = 0; i < batch.length; i += WRITE_BATCH) {
          await this.#store.notifications.settle(batch.slice(i, i + WRITE_BATCH));
          await slice.next();
        }
      });
    }
  }

  /** Records an ack in the store and in the stage (which may send PagerDuty an acknowledge). */
  async ack(tenant: string, fingerprint: string, by: string, ttlMs: number | undefined, comment: string | null): Promise<Ack> {
    const at = this.#clock();
    const ack = await this.#store.acks.add({ tenant, fingerprint, by, at, ttlMs: ttlMs ?? this.policyFor(tenant).ackTtlMs, comment });
    this.stage.ack(tenant, fingerprint, by, at, ack.expiresAt - at);
    this.pump();
    return ack;
  }

  /**
   * Applies acks stored by another process (a cluster node's API) to the open alerts of this
   * stage: all of a tenant's active acks, or only those of `fingerprint`. An ack the stage holds
   * already (restored with the alert, or applied before) is skipped, so polling this repeats no
   * acknowledged event. Resolves to the number applied; acks of alerts not open here (another
   * worker's) are not counted.
   */
  async syncAcks(tenant: string, fingerprint?: string): Promise<number> {
    const now = this.#clock();
    let n = 0;
    for (const a of await this.#store.acks.active(tenant, now)) {
      if (fingerprint !== undefined && a.fingerprint !== fingerprint) continue;
      if ((this.stage.ackOf(tenant, a.fingerprint)?.at ?? -Infinity) >= a.at) continue;
      if (this.stage.ack(tenant, a.fingerprint, a.by, a.at, a.expiresAt - a.at)) n++;
    }
    if (n > 0) this.pump();
    return n;
  }

  /** Reloads a tenant's silences after a change through the API. */
  async reloadSilences(tenant: string): Promise<void> {
    this.stage.setSilences(tenant, await this.#store.silences.list({ tenant }));
    this.pump();
  }

  /** Waits until every delivery, packet, triage follow-up and store write queued so far is done (tests, shutdown). */
  async settled(): Promise<void> {
    for (;;) {
      if (this.#sending.size > 0) await Promise.allSettled([...this.#sending]);
      await this.triage.settled();
      if (this.#followUps.size > 0) await Promise.allSettled([...this.#followUps]);
      await this.#writes;
      await this.#intentWrites;
      await this.#logWrites;
      if (this.#sending.size === 0 && this.#followUps.size === 0 && this.triage.backlog() === 0) break;
    }
  }

  /**
   * Stops the timer, writes every changed alert, stops building triage packets (waiting a
   * bounded time for those being built), and waits for deliveries in flight.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.stage.persistAll();
    this.#apply(this.stage.drain());
    await this.triage.close();
    await this.settled();
  }
}

/** A dispatch's rows in the notification log: its alerts, or one row for the group when it has none (budget summaries). */
function logAlerts(d: Dispatch): NotificationIntent['alerts'] {
  return d.alerts.length > 0
    ? d.alerts.map((a) => ({ fingerprint: a.fingerprint, alertState: a.status }))
    : [{ fingerprint: `${d.kind}:${d.groupId}`, alertState: d.status }];
}

/**
 * Time slices for a run of store writes: the embedded store's calls do their work before they
 * return, so ten thousand upserts in a row would hold sends, timers and ingest for seconds.
 */
class Slice {
  #start = performance.now();

  /** Resolves at once within the slice, else after one turn of the event loop. */
  next(): Promise<void> | undefined {
    if (performance.now() - this.#start < WRITE_SLICE_MS) return undefined;
    return new Promise<void>((r) => setImmediate(() => {
      this.#start = performance.now();
      r();
    }));
  }
}
