/**
 * The alert stage: detector verdicts in; alert upserts and notification dispatches out.
 *
 * Per series (one rule each) it keeps an alert keyed by a stable fingerprint (tenant, rule,
 * series labels) that moves pending -> firing -> resolved, with anti-flap (M-of-N trigger,
 * separate recovery run, the rule's `for` and `keep_firing_for`; an open alert's condition also
 * holds while the value stays outside the verdict's band or a detector says its reported
 * condition goes on; a series that stops reporting is "no data", never resolved). Firing alerts
 * with severity S1+ are routed to receivers and grouped (rule + group_by labels per receiver)
 * with Alertmanager's group_wait, group_interval and repeat_interval. At each group flush,
 * silences, maintenance windows and inhibition mute alerts; budgets cap notifications per hour
 * (one summary for the rest); unacknowledged pages escalate. Paging (S2+) needs impact, else the
 * alert is held at S1 and says why. Every suppression is recorded on the alert.
 *
 * Pure: no I/O, one injected clock. The caller (src/engine/alerting.ts) feeds verdicts, calls
 * `tick()` at `nextDeadline()`, and applies `drain()`'s effects (store writes, sends).
 */
import { createHash } from 'node:crypto';
import { inMaintenance, multivariateRule, type Rule, type TenantConfig } from '../config/index.ts';
import type { Alert, AlertInput, Silence } from '../store/types.ts';
import { TimerHeap } from './heap.ts';
import { ImpactTracker, round } from './impact.ts';
import { compileLabelMatchers, compileSilence, silenceActive, type CompiledSilence, type LabelPredicate } from './match.ts';
import { DEFAULT_ALERT_POLICY, resolvePolicy } from './policy.ts';
import { routeReceivers, RESPONSE_PATH_LABEL, responsePath } from './route.ts';
import type {
  AlertEvent, FlapPolicy, AlertPolicy, AlertState, AlertView, Budget, Dispatch, DispatchKind, FeatureShare, Labels, Severity, Suppression, SuppressionKind, VerdictView,
} from './types.ts';

const HOUR = 3_600_000;
/**
 * An open budget summary is stored as an alert row under this metric (rule label
 * BUDGET_SUMMARY_RULE, no series), so a restart restores it and still resolves it.
 */
export const BUDGET_SUMMARY_METRIC = 'tidemark_budget_summary';
export const BUDGET_SUMMARY_RULE = '__budget_summary__';

/** True for the alert row of a budget summary (not an alert on a series). */
export function isBudgetSummary(a: { readonly metric: string; readonly seriesId?: number | null }): boolean {
  return a.metric === BUDGET_SUMMARY_METRIC && (a.seriesId ?? null) === null;
}

interface StoredSummary {
  readonly scope: string;
  readonly receiver: string;
  readonly counted: readonly string[];
  readonly endAt: number;
  readonly seq: number;
  readonly text: string;
}
const MAX_RECORDS = 100; // suppressions and events kept per alert
/** How long after an episode resolved the level coming back counts as its recovery. */
const RECOVERY_MS = 24 * HOUR;

/**
 * A new anomaly of a resolved alert's series is the episode's recovery: the episode resolved
 * with the value still beyond the band it opened outside of, and now, within RECOVERY_MS of its
 * end and once, the value is on the other side of the expected value and back within that band.
 * A detector whose baseline took the changed level in (the band follows a level that lasts)
 * reports the return to the old level as a change of its own; an on-call who was paged for the
 * drop needs no page for the recovery.
 */
function recovery(a: AlertRec, t: number, value: number, v: VerdictView): boolean {
  if (a.state !== 'resolved' || !a.endShifted || a.endsAt === null || t - a.endsAt > RECOVERY_MS || a.recoveredAt !== null) return false;
  const side = value > v.expected ? 1 : value < v.expected ? -1 : 0;
  return side === -a.openSide && value >= a.openLower && value <= a.openUpper;
}

const NO_DATA_SWEEP_MS = 30_000;
/**
 * Alerts written per persist interval for new values alone (transitions are written at once):
 * with thousands firing, writing every one every interval would keep the store busy full time.
 * The longest-unwritten go first, so each is written within (open alerts / this) intervals.
 */
const MAX_PERSIST_PER_TICK = 1_000;
const BUILTIN = new Set(['tenant', 'rule', 'metric', 'severity', 'owner', RESPONSE_PATH_LABEL]);
const SEV_RANK: Record<Severity, number> = { S0: 0, S1: 1, S2: 2, S3: 3 };
/** Watch flags the engine reads per series id (see `AlertStage.watch`). */
export const WATCH_UNKNOWN = 0;
export const WATCH_ANOMALIES = 1;
export const WATCH_ALL = 2;

/**
 * Ids from here up (to 2^53) name multivariate entities, not series (src/engine/multivariate.ts):
 * they are kept out of `watch`, and their caller asks `isOpen` instead.
 */
export const ENTITY_ID_BASE = 2 ** 52;

/** Packet format stored with each alert (the store keeps it as JSON). */
export const PACKET_KIND = 'tidemark.alert/v1';

/** What the caller must apply, in order. */
export interface AlertEffects {
  readonly upserts: AlertInput[];
  readonly dispatches: Dispatch[];
  /** Acks end with the episode they acknowledged. */
  readonly ackClears: { tenant: string; fingerprint: string; at: number }[];
}

/** Plain counters for /metrics (keys joined with '\u0000'). */
export interface AlertCounters {
  /** tenant, severity -> alerts that started firing. */
  readonly fired: Map<string, number>;
  /** tenant, receiver, kind, severity -> dispatches produced. */
  readonly dispatched: Map<string, number>;
  /** tenant, suppression kind -> alert notifications held back. */
  readonly held: Map<string, number>;
  verdicts: number;
}

export interface AlertStageOptions {
  readonly clock: () => number;
  /** The tenant config in force and its version (the stage reloads when the version changes). */
  readonly config: (tenant: string) => { config: TenantConfig | undefined; version: number | null };
  readonly policy?: (tenant: string) => AlertPolicy;
  /** Time to acknowledge and to resolve (ms from firing), for histograms. */
  readonly onDuration?: (kind: 'ack' | 'resolve', tenant: string, ms: number) => void;
}

interface RuleInfo {
  readonly rule: Rule;
  readonly impact: ImpactTracker | undefined;
  /** The rule's timing.trigger / timing.recovery over the tenant's anti-flap policy. */
  readonly flap: FlapPolicy;
}

interface InhibitIndex {
  readonly source: LabelPredicate;
  readonly target: LabelPredicate;
  readonly equal: readonly string[];
  /** equal-label values -> firing sources. */
  readonly sources: Map<string, Set<AlertRec>>;
}

class Meter {
  readonly scope: string;
  readonly budget: Budget;
  readonly pages: number[] = [];
  readonly notes: number[] = [];
  readonly held = new Set<string>();
  summaryAt = Infinity;
  summaryGen = 0;
  lastSummaryAt = -Infinity;
  summaryReceiver = '';
  /**
   * The summary that receivers still show as open (PagerDuty: an incident under a dedup key per
   * tenant, receiver and meter): its group, and the held alerts it counted that have not resolved.
   * It resolves when its budget hour ends with nothing more held, or when all of those resolve.
   */
  open: { group: Group; counted: Set<string>; endAt: number; gen: number } | undefined;
  constructor(scope: string, budget: Budget) {
    this.scope = scope;
    this.budget = budget;
  }
  #prune(now: number): void {
    while (this.pages.length > 0 && this.pages[0] <= now - HOUR) this.pages.shift();
    while (this.notes.length > 0 && this.notes[0] <= now - HOUR) this.notes.shift();
  }
  /** Undefined when allowed, else why not. */
  check(now: number, page: boolean): string | undefined {
    this.#prune(now);
    if (this.notes.length >= this.budget.notificationsPerHour) return `${this.scope} is over its budget of ${this.budget.notificationsPerHour} notifications per hour`;
    if (page && this.pages.length >= this.budget.pagesPerHour) return `${this.scope} is over its budget of ${this.budget.pagesPerHour} pages per hour`;
    return undefined;
  }
  use(now: number, page: boolean): void {
    this.notes.push(now);
    if (page) this.pages.push(now);
  }
}

class TenantAlerting {
  readonly id: string;
  version: number | null | undefined = undefined;
  config: TenantConfig | undefined;
  policy: AlertPolicy = DEFAULT_ALERT_POLICY;
  rules = new Map<string, RuleInfo>();
  impacts: { name: string; tracker: ImpactTracker }[] = [];
  inhibit: InhibitIndex[] = [];
  silences: CompiledSilence[] = [];
  readonly acks = new Map<string, { by: string; at: number; expiresAt: number }>();
  /** Every alert in memory: open ones and resolved ones a group still has to announce. */
  readonly alerts = new Map<string, AlertRec>();
  readonly groups = new Map<string, Group>();
  meter: Meter;
  readonly receiverMeters = new Map<string, Meter>();
  constructor(id: string) {
    this.id = id;
    this.meter = new Meter(`tenant ${id}`, DEFAULT_ALERT_POLICY.tenantBudget);
  }
  receiverMeter(name: string): Meter {
    let m = this.receiverMeters.get(name);
    if (!m) this.receiverMeters.set(name, (m = new Meter(`receiver ${name}`, this.policy.receiverBudgets[name] ?? this.policy.receiverBudget)));
    return m;
  }
}

class AlertRec {
  readonly tenant: TenantAlerting;
  readonly fingerprint: string;
  readonly seriesId: number;
  readonly metric: string;
  readonly seriesLabels: Labels;
  readonly ruleName: string;
  labels: Labels = {};
  state: AlertState = 'pending';
  severity: Severity = 'S0';
  startsAt = 0;
  endsAt: number | null = null;
  firingAt: number | null = null;
  /** Sample time the trigger condition last held, and since when it has held. */
  lastTrueT = -Infinity;
  condSince = -Infinity;
  /** Sample time of the point that opened this episode. */
  crossedAt = 0;
  score = 0;
  value = NaN;
  expected = NaN;
  lower = NaN;
  upper = NaN;
  reasons: string[] = [];
  sources: string[] = [];
  /** A multivariate alert's contributions and explanation, as its latest anomalous verdict gave them. */
  features: readonly FeatureShare[] | null = null;
  explanation: string | null = null;
  /**
   * The band at the point that opened the episode, and the side of it the value was on (-1 below,
   * 1 above, 0 inside or no band); when the episode's recovery was noted. Kept in memory only: a
   * restored alert has no opening band and its recovery opens an episode as before.
   */
  openLower = NaN;
  openUpper = NaN;
  openSide = 0;
  /** It resolved with the value still beyond the opening band (the band had taken the level in). */
  endShifted = false;
  recoveredAt: number | null = null;
  heldReason: string | null = null;
  impactReason: string | null = null;
  suppressions: Suppression[] = [];
  events: AlertEvent[] = [];
  /** Clock reading of the last verdict, for "no data". */
  lastSeenAt = 0;
  unknownSince: number | null = null;
  mitigated = false;
  acked = false;
  configVersion: number | null = null;
  readonly groups = new Set<Group>();
  dirty = false;
  constructor(tenant: TenantAlerting, fingerprint: string, seriesId: number, metric: string, seriesLabels: Labels, ruleName: string) {
    this.tenant = tenant;
    this.fingerprint = fingerprint;
    this.seriesId = seriesId;
    this.metric = metric;
    this.seriesLabels = seriesLabels;
    this.ruleName = ruleName;
  }
}

class Group {
  readonly key: string;
  readonly id: string;
  readonly tenant: TenantAlerting;
  readonly receiver: string;
  readonly ruleName: string;
  readonly groupLabels: Labels;
  readonly alerts = new Map<string, AlertRec>();
  /** Fingerprints announced firing by the last notification (change detection). */
  lastFiring = new Set<string>();
  /** Fingerprints whose firing was actually sent: only those get a resolve. */
  readonly announced = new Set<string>();
  lastFlushAt = -Infinity;
  lastNotifiedAt = -Infinity;
  flushAt = Infinity;
  flushGen = 0;
  /** Escalation of the current page: who gets it next and when. */
  escalateAt = Infinity;
  escalateGen = 0;
  escalateFrom = '';
  ackSent = false;
  seq = 0;
  constructor(key: string, tenant: TenantAlerting, receiver: string, ruleName: string, groupLabels: Labels) {
    this.key = key;
    this.id = createHash('sha256').update(key).digest('hex').slice(0, 32);
    this.tenant = tenant;
    this.receiver = receiver;
    this.ruleName = ruleName;
    this.groupLabels = groupLabels;
  }
}

class SeriesWatch {
  readonly tenant: string;
  readonly metric: string;
  readonly labels: Labels;
  ruleName: string;
  impacts: { tracker: ImpactTracker; roles: number }[] = [];
  /** Last `triggerN` points as bits (1 = anomalous), newest in bit 0. */
  bits = 0;
  normalRun = 0;
  alert: AlertRec | null = null;
  constructor(tenant: string, metric: string, labels: Labels, ruleName: string) {
    this.tenant = tenant;
    this.metric = metric;
    this.labels = labels;
    this.ruleName = ruleName;
  }
}

type Timer =
  | { kind: 'flush'; group: Group }
  | { kind: 'escalate'; group: Group }
  | { kind: 'summary'; tenant: TenantAlerting; meter: Meter }
  | { kind: 'summaryEnd'; tenant: TenantAlerting; meter: Meter };

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/**
 * A stable alert fingerprint: 16 hex digits of SHA-256 over (tenant, rule, metric, sorted labels).
 * @example alertFingerprint('payments', 'checkout-error-rate', 'http_requests_total', { region: 'eu' })
 */
export function alertFingerprint(tenant: string, rule: string, metric: string, labels: Labels): string {
  const pairs = Object.keys(labels).sort().map((k) => [k, labels[k]]);
  return createHash('sha256').update(JSON.stringify([tenant, rule, metric, pairs])).digest('hex').slice(0, 16);
}

/** The triage page of an alert. */
export function triageUrl(base: string, tenant: string, fingerprint: string): string {
  return `${base}/ui/triage/${encodeURIComponent(tenant)}/${fingerprint}`;
}

function inc(map: Map<string, number>, key: string, n = 1): void {
  map.set(key, (map.get(key) ?? 0) + n);
}

function sameSet(a: Set<string>, b: Set<string>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

/** The alert stage (see the file comment). One instance serves every tenant of an engine. */
export class AlertStage {
  readonly #clock: () => number;
  readonly #configOf: AlertStageOptions['config'];
  readonly #policyOf: (tenant: string) => AlertPolicy;
  readonly #onDuration: AlertStageOptions['onDuration'];
  readonly #tenants = new Map<string, TenantAlerting>();
  readonly #series = new Map<number, SeriesWatch>();
  readonly #timers = new TimerHeap<Timer>();
  readonly #dirty = new Set<AlertRec>();
  #effects: AlertEffects = { upserts: [], dispatches: [], ackClears: [] };
  #nextPersistAt = -Infinity;
  #nextSweepAt = -Infinity;
  #lastAt = -Infinity;
  /**
   * Per series id: WATCH_UNKNOWN (call `classify`), WATCH_ANOMALIES (call `observe` only for
   * points at or over the rule threshold) or WATCH_ALL (call `observe` for every judged point:
   * an impact metric, or a series with an open alert). Replaced when it grows: read it afresh.
   */
  watch = new Uint8Array(1024);
  readonly counters: AlertCounters = { fired: new Map(), dispatched: new Map(), held: new Map(), verdicts: 0 };

  constructor(options: AlertStageOptions) {
    this.#clock = options.clock;
    this.#configOf = options.config;
    this.#policyOf = options.policy ?? (() => DEFAULT_ALERT_POLICY);
    this.#onDuration = options.onDuration;
  }

  // ---- tenants, config, silences, acks ---------------------------------------------------

  #tenant(id: string, version?: number | null): TenantAlerting {
    let t = this.#tenants.get(id);
    if (!t) this.#tenants.set(id, (t = new TenantAlerting(id)));
    if (t.version === undefined || (version !== undefined && version !== t.version)) this.#load(t);
    return t;
  }

  #load(t: TenantAlerting): void {
    const { config, version } = this.#configOf(t.id);
    t.version = version;
    t.config = config;
    t.policy = this.#policyOf(t.id);
    // New budgets start new meters; a summary still open moves over, so it is still resolved.
    const open = [t.meter, ...t.receiverMeters.values()].filter((m) => m.open !== undefined);
    t.meter = new Meter(`tenant ${t.id}`, t.policy.tenantBudget);
    t.receiverMeters.clear();
    for (const m of open) {
      const next = m.scope.startsWith('receiver ') ? t.receiverMeter(m.scope.slice('receiver '.length)) : t.meter;
      next.open = m.open;
      next.lastSummaryAt = m.lastSummaryAt;
      m.open = undefined; // its timer, still queued, now finds nothing to end
      this.#timers.push(next.open!.endAt, { kind: 'summaryEnd', tenant: t, meter: next }, next.open!.gen);
    }
    t.rules = new Map((config?.rules ?? []).map((r) => [r.name, {
      rule: r,
      impact: r.impact ? new ImpactTracker(r.impact) : undefined,
      flap: r.timing.flap ? resolvePolicy({ flap: r.timing.flap }, t.policy).flap : t.policy.flap,
    }]));
    // Multivariate detectors' entities alert under a rule of their own (src/engine/multivariate.ts).
    for (const d of config?.multivariate ?? []) {
      const r = multivariateRule(d);
      if (!t.rules.has(r.name)) t.rules.set(r.name, { rule: r, impact: undefined, flap: r.timing.flap ? resolvePolicy({ flap: r.timing.flap }, t.policy).flap : t.policy.flap });
    }
    t.impacts = [...t.rules.values()].filter((r) => r.impact).map((r) => ({ name: r.rule.name, tracker: r.impact! }));
    t.inhibit = t.policy.inhibitRules.map((r, i) => ({
      source: compileLabelMatchers(r.source, `alerting.inhibitRules[${i}].source`),
      target: compileLabelMatchers(r.target, `alerting.inhibitRules[${i}].target`),
      equal: r.equal,
      sources: new Map(),
    }));
    for (const a of t.alerts.values()) if (a.state === 'firing') this.#index(a, true);
    // Every series of the tenant is classified again against the new rules.
    for (const [id, w] of this.#series) if (w.tenant === t.id && id < this.watch.length) this.watch[id] = WATCH_UNKNOWN;
  }

  /** Replaces a tenant's silences (the caller loads them from the store and after each change). */
  setSilences(tenant: string, silences: readonly Silence[]): void {
    this.#tenant(tenant).silences = silences.map(compileSilence);
  }

  /**
   * Records an acknowledgement: no repeats and no escalation while it lasts; PagerDuty gets an
   * acknowledge once every announced alert of a group is acked. False when the alert is not open.
   */
  ack(tenant: string, fingerprint: string, by: string, at: number, ttlMs?: number): boolean {
    const t = this.#tenant(tenant);
    const a = t.alerts.get(fingerprint);
    if (!a || a.state === 'resolved') return false;
    const expiresAt = at + (ttlMs ?? t.policy.ackTtlMs);
    t.acks.set(fingerprint, { by, at, expiresAt });
    if (!a.acked && a.firingAt !== null) this.#onDuration?.('ack', tenant, Math.max(0, at - a.firingAt));
    a.acked = true;
    this.#event(a, 'acknowledged', `acknowledged by ${by} until ${new Date(expiresAt).toISOString()}`);
    const now = this.#clock();
    for (const g of a.groups) {
      if (g.ackSent || g.announced.size === 0) continue;
      let all = true;
      for (const fp of g.announced) {
        const x = g.alerts.get(fp);
        if (x && x.state === 'firing' && !this.#acked(t, fp, now)) all = false;
      }
      if (all) {
        g.ackSent = true;
        this.#dispatch(g, 'acknowledge', now, [...g.announced].map((fp) => g.alerts.get(fp)!).filter((x) => x && x.state === 'firing'), null, { ackBy: by, nonce: `ack ${at}` });
      }
    }
    this.#persist(a);
    return true;
  }

  /** The ack in force for an alert in this stage, if any (a cluster worker compares stored acks with it). */
  ackOf(tenant: string, fingerprint: string): { by: string; at: number; expiresAt: number } | undefined {
    return this.#tenants.get(tenant)?.acks.get(fingerprint);
  }

  /**
   * The series (metric and labels, as judged) of an alert held here, open or resolved but not yet
   * announced; undefined for one not here. A cluster worker maps it to the partition it leases.
   */
  seriesOf(tenant: string, fingerprint: string): { readonly metric: string; readonly labels: Labels } | undefined {
    const a = this.#tenants.get(tenant)?.alerts.get(fingerprint);
    return a && { metric: a.metric, labels: a.seriesLabels };
  }

  /**
   * Drops the open alerts (and series watches) of the series `drop` selects, without resolving
   * or announcing anything: a cluster worker gave their partition to another worker, which
   * restores them from the store. Changed alerts are persisted first (the caller pumps and
   * waits for the writes) unless `persist` is false: a partition taken over by another worker,
   * whose newer writes ours must not overwrite. Alerts already resolved stay until their groups
   * announced that. Returns the number of open alerts dropped.
   */
  forget(drop: (tenant: string, metric: string, labels: Labels) => boolean, persist = true): number {
    let n = 0;
    for (const [id, w] of [...this.#series]) {
      if (!drop(w.tenant, w.metric, w.labels)) continue;
      const a = w.alert;
      if (a && a.state !== 'resolved') {
        if (a.dirty && persist) this.#persist(a);
        else if (a.dirty) {
          this.#dirty.delete(a);
          a.dirty = false;
        }
        if (a.state === 'firing') this.#index(a, false);
        for (const g of [...a.groups]) {
          g.alerts.delete(a.fingerprint);
          g.announced.delete(a.fingerprint);
          g.lastFiring.delete(a.fingerprint);
          if (g.alerts.size === 0) this.#drop(g); // its timers see a new generation and do nothing
        }
        a.groups.clear();
        a.tenant.acks.delete(a.fingerprint);
        a.tenant.alerts.delete(a.fingerprint);
        n++;
      }
      this.#series.delete(id);
      if (id < this.watch.length) this.watch[id] = WATCH_UNKNOWN;
    }
    return n;
  }

  #acked(t: TenantAlerting, fp: string, now: number): boolean {
    const k = t.acks.get(fp);
    return k !== undefined && k.expiresAt > now;
  }

  // ---- the hot path -----------------------------------------------------------------------

  /**
   * Decides how the engine should call `observe` for a new series (see `watch`), and remembers
   * which impact gates it feeds. Returns the flag it stored.
   */
  classify(tenant: string, seriesId: number, metric: string, labels: Labels, ruleName: string, configVersion: number | null): number {
    const t = this.#tenant(tenant, configVersion);
    let w = this.#series.get(seriesId);
    const impacts: SeriesWatch['impacts'] = [];
    for (const g of t.impacts) {
      const roles = g.tracker.roles(metric, labels);
      if (roles !== 0) impacts.push({ tracker: g.tracker, roles });
    }
    if (!w && impacts.length > 0) this.#series.set(seriesId, (w = new SeriesWatch(tenant, metric, labels, ruleName)));
    if (w) {
      w.impacts = impacts;
      w.ruleName = ruleName;
    }
    const flag = impacts.length > 0 || (w?.alert != null && w.alert.state !== 'resolved') ? WATCH_ALL : WATCH_ANOMALIES;
    this.#setWatch(seriesId, flag);
    return flag;
  }

  /**
   * True while the series' alert is pending or firing. For callers with ids outside `watch`
   * (multivariate entities, ids from ENTITY_ID_BASE), which must then observe every point.
   */
  isOpen(seriesId: number): boolean {
    const a = this.#series.get(seriesId)?.alert;
    return a != null && a.state !== 'resolved';
  }

  #setWatch(id: number, flag: number): void {
    if (id >= ENTITY_ID_BASE) return;
    if (id >= this.watch.length) {
      let n = this.watch.length;
      while (n <= id) n *= 2;
      const next = new Uint8Array(n);
      next.set(this.watch);
      this.watch = next;
    }
    this.watch[id] = flag;
  }

  /**
   * One judged point of a live series. `threshold` is its rule's score threshold; `v` may be
   * reused by the caller after the call (nothing of it is kept by reference).
   */
  observe(tenant: string, seriesId: number, metric: string, labels: Labels, ruleName: string, threshold: number, t: number, value: number, v: VerdictView, configVersion: number | null): void {
    this.counters.verdicts++;
    const ten = this.#tenant(tenant, configVersion);
    let w = this.#series.get(seriesId);
    if (w === undefined) this.#series.set(seriesId, (w = new SeriesWatch(tenant, metric, labels, ruleName)));
    for (let i = 0; i < w.impacts.length; i++) w.impacts[i].tracker.observe(seriesId, w.impacts[i].roles, t, value, metric);
    if (v.learning) return;
    const anomalous = v.score >= threshold;
    const info = ten.rules.get(ruleName);
    const flap = info?.flap ?? ten.policy.flap;
    // A reported condition also holds while the value stays outside the detectors' band, or a
    // detector says its condition goes on, for an open alert or right after a point that held:
    // novelty and weekly_shift report a condition once and score the points after it 0 while it
    // lasts, and without this a latency down to 40% for three hours resolved a minute after it
    // fired, and a rule with `for` or an m-of-n trigger (m > 1) never fired at all. Neither
    // opens an alert alone.
    const open = w.alert !== null && w.alert.state !== 'resolved' && w.alert.ruleName === ruleName;
    const goesOn = v.outside === true || v.ongoing === true;
    const holds = anomalous || (goesOn && (open || (w.bits & 1) === 1));
    w.bits = ((w.bits << 1) | (holds ? 1 : 0)) & ((1 << flap.triggerN) - 1);
    w.normalRun = holds ? 0 : w.normalRun + 1;
    const triggered = popcount(w.bits) >= flap.triggerM;
    let a = w.alert;
    if (a !== null && a.ruleName !== ruleName) {
      // The config moved this series to another rule: that is another alert.
      this.#close(a, t, 'the series moved to another rule');
      a = w.alert = null;
    }
    if (a === null || a.state === 'resolved') {
      // A series that no rule selects is judged with the default profile: its anomalies are
      // listed as anomalies, but it has no owner, receiver or severity to act on, so it opens
      // no alert (an S0 rule is how a team asks for log-only alerts).
      if (!triggered || info === undefined) {
        // While a point in the trigger window held, every point is judged here, not only the
        // anomalous ones: an m-of-n window counts points, and a reported condition goes on in
        // points that score 0 (the engine passes a series' other points only when it is watched).
        this.#setWatch(seriesId, w.bits !== 0 || w.impacts.length > 0 ? WATCH_ALL : WATCH_ANOMALIES);
        return;
      }
      if (a !== null && recovery(a, t, value, v)) {
        // The last episode resolved when the band took the changed level in; the level coming
        // back is what a detector whose baseline moved reports next. Noted on it, not a new page.
        a.recoveredAt = t;
        this.#event(a, 'recovered', `back within its band from before the alert (${round(a.openLower)}..${round(a.openUpper)}) at ${new Date(t).toISOString()}: the recovery, not a new incident`);
        return;
      }
      a = this.#open(ten, w, seriesId, ruleName, t, value, v);
    }
    a.lastSeenAt = this.#clock();
    if (a.unknownSince !== null) {
      a.unknownSince = null;
      this.#event(a, 'data_back', 'data is back');
    }
    if (anomalous || a.state === 'pending') {
      a.score = v.score;
      a.value = value;
      a.expected = v.expected;
      a.lower = v.lower;
      a.upper = v.upper;
      if (anomalous && !sameList(a.reasons, v.reasons, a.sources, v.sources)) {
        a.reasons = v.reasons.slice();
        a.sources = v.sources.slice();
      }
      if (anomalous && v.explanation !== undefined) {
        a.features = v.features ?? [];
        a.explanation = v.explanation;
      }
    }
    if (configVersion !== null) a.configVersion = configVersion;
    const timing = info?.rule.timing;
    if (triggered) {
      if (a.condSince === -Infinity) a.condSince = t;
      a.lastTrueT = t;
    }
    if (a.state === 'pending') {
      if (triggered && t - a.condSince >= (timing?.forMs ?? 0)) this.#fire(ten, a, info, t);
      else if (!triggered && w.normalRun >= flap.recoveryPoints) this.#close(a, t, `cleared before its for duration of ${timing?.forMs ?? 0} ms`);
      else this.#touch(a);
      return;
    }
    // Firing.
    if (triggered) {
      if (info && a.severity !== info.rule.severity) this.#gate(ten, a, info, t);
      this.#touch(a);
      return;
    }
    if (w.normalRun >= flap.recoveryPoints && t - a.lastTrueT >= (timing?.keepFiringForMs ?? 0)) {
      // Resolved with the value still beyond the opening band: the band took the level in.
      a.endShifted = a.openSide < 0 ? value < a.openLower : a.openSide > 0 && value > a.openUpper;
      this.#close(a, t, null);
    } else this.#touch(a);
  }

  /** Opens an episode at the point (`value`, its verdict `v`) that triggered it. */
  #open(ten: TenantAlerting, w: SeriesWatch, seriesId: number, ruleName: string, t: number, value: number, v: VerdictView): AlertRec {
    const fp = alertFingerprint(ten.id, ruleName, w.metric, w.labels);
    // A new episode reuses the record, and its group memberships: a group that has not announced
    // the resolve yet sees the alert firing again, which is what its receivers still believe.
    let a = ten.alerts.get(fp);
    if (!a) ten.alerts.set(fp, (a = new AlertRec(ten, fp, seriesId, w.metric, w.labels, ruleName)));
    a.state = 'pending';
    a.startsAt = t;
    a.endsAt = null;
    a.firingAt = null;
    a.crossedAt = t;
    a.condSince = -Infinity;
    a.lastTrueT = -Infinity;
    a.heldReason = null;
    a.impactReason = null;
    a.mitigated = false;
    a.acked = false;
    a.unknownSince = null;
    a.suppressions = [];
    a.events = [];
    a.features = null;
    a.explanation = null;
    // The band and side of the opening point: what "back to before" means for `recovery`.
    a.openLower = v.lower;
    a.openUpper = v.upper;
    a.openSide = value < v.lower ? -1 : value > v.upper ? 1 : 0;
    a.endShifted = false;
    a.recoveredAt = null;
    const info = ten.rules.get(ruleName);
    a.severity = info && info.rule.severity !== 'S0' ? 'S1' : info?.rule.severity ?? 'S0';
    a.labels = this.#labels(ten, a, info?.rule);
    w.alert = a;
    this.#setWatch(seriesId, WATCH_ALL);
    this.#persist(a);
    return a;
  }

  #labels(ten: TenantAlerting, a: AlertRec, rule: Rule | undefined): Labels {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(a.seriesLabels)) out[BUILTIN.has(k) ? `exported_${k}` : k] = v;
    if (rule) for (const [k, v] of Object.entries(rule.labels)) out[k] = v;
    out.tenant = ten.id;
    out.rule = a.ruleName || 'default';
    out.metric = a.metric;
    out.severity = a.severity;
    if (rule?.owner) out.owner = rule.owner;
    const path = responsePath(a.reasons);
    if (path !== 'anomaly') out[RESPONSE_PATH_LABEL] = path;
    return Object.freeze(out);
  }

  /** Applies the impact gate: S2+ needs impact, else S1 with the reason. Severity never drops within an episode. */
  #gate(ten: TenantAlerting, a: AlertRec, info: RuleInfo, t: number): void {
    let want = info.rule.severity;
    if (SEV_RANK[want] > 1 && responsePath(a.reasons) === 'drift') {
      // Drift opens an investigation: it notifies, and never pages.
      this.#suppress(a, 'gate', `held at S1 instead of ${want}: drift opens an investigation, it does not page`);
      want = 'S1';
    }
    if (SEV_RANK[want] < 2 || !info.impact) {
      this.#setSeverity(ten, a, want, info.rule);
      return;
    }
    const g = info.impact.evaluate(t);
    if (g.ok) {
      a.heldReason = null;
      a.impactReason = g.reason;
      this.#setSeverity(ten, a, want, info.rule);
      return;
    }
    a.heldReason = `held at S1 instead of ${want}: ${g.reason}`;
    this.#suppress(a, 'gate', a.heldReason);
    if (SEV_RANK[a.severity] < 1) this.#setSeverity(ten, a, 'S1', info.rule);
  }

  #setSeverity(ten: TenantAlerting, a: AlertRec, s: Severity, rule: Rule | undefined): void {
    if (a.severity === s || SEV_RANK[s] < SEV_RANK[a.severity]) return;
    const before = a.severity;
    if (a.state === 'firing') this.#index(a, false);
    a.severity = s;
    a.labels = this.#labels(ten, a, rule);
    if (a.state === 'firing') {
      this.#index(a, true);
      this.#event(a, 'severity', `severity ${before} -> ${s}${a.impactReason ? ` (${a.impactReason})` : ''}`);
      this.#route(a, rule);
    }
    this.#persist(a);
  }

  #fire(ten: TenantAlerting, a: AlertRec, info: RuleInfo | undefined, t: number): void {
    a.firingAt = t;
    a.labels = this.#labels(ten, a, info?.rule); // the reasons are known now: the response path label
    if (info) this.#gate(ten, a, info, t); // before 'firing': the first severity is no change to announce
    a.state = 'firing';
    this.#index(a, true);
    inc(this.counters.fired, `${ten.id}\u0000${a.severity}`);
    this.#route(a, info?.rule);
    this.#persist(a);
  }

  /** Resolves an open alert at sample time t (a pending one is dropped: nothing was announced). */
  #close(a: AlertRec, t: number, why: string | null): void {
    const wasFiring = a.state === 'firing';
    a.state = 'resolved';
    a.endsAt = t;
    if (why) this.#event(a, 'resolved', `resolved: ${why}`);
    if (wasFiring) {
      this.#index(a, false);
      if (a.firingAt !== null) this.#onDuration?.('resolve', a.tenant.id, Math.max(0, t - a.firingAt));
    }
    const w = this.#series.get(a.seriesId);
    if (w && w.alert === a && a.seriesId < this.watch.length) this.watch[a.seriesId] = w.impacts.length > 0 ? WATCH_ALL : WATCH_ANOMALIES;
    const now = this.#clock();
    if (a.tenant.acks.delete(a.fingerprint) || a.acked) this.#effects.ackClears.push({ tenant: a.tenant.id, fingerprint: a.fingerprint, at: now });
    for (const g of a.groups) this.#schedule(g, now);
    if (wasFiring) this.#heldResolved(a.tenant, a.fingerprint, now);
    this.#persist(a);
    if (a.groups.size === 0 && w?.alert !== a) a.tenant.alerts.delete(a.fingerprint);
  }

  #touch(a: AlertRec): void {
    if (!a.dirty) {
      a.dirty = true;
      this.#dirty.add(a);
    }
  }

  // ---- routing and groups -----------------------------------------------------------------

  #route(a: AlertRec, rule: Rule | undefined): void {
    if (a.severity === 'S0' || !rule) return;
    const ten = a.tenant;
    const dq = rule.dataQualityReceiver !== undefined && responsePath(a.reasons) === 'data_quality' ? rule.dataQualityReceiver : undefined;
    const receivers = dq ? [dq] : rule.receiver ? [rule.receiver] : ten.config?.route ? routeReceivers(ten.config.route, a.labels) : [];
    const now = this.#clock();
    for (const r of receivers) {
      const values = rule.groupBy.map((k) => a.seriesLabels[k] ?? '');
      const key = `${ten.id}\u0000${r}\u0000${a.ruleName}\u0000${values.join('\u0000')}`;
      let g = ten.groups.get(key);
      if (!g) {
        const gl: Record<string, string> = { rule: a.ruleName };
        rule.groupBy.forEach((k, i) => (gl[k] = values[i]));
        ten.groups.set(key, (g = new Group(key, ten, r, a.ruleName, Object.freeze(gl))));
      }
      g.alerts.set(a.fingerprint, a);
      a.groups.add(g);
      this.#schedule(g, now);
    }
  }

  /** Next flush: group_wait after a new group's first alert, then every group_interval. */
  #schedule(g: Group, now: number): void {
    const timing = g.tenant.rules.get(g.ruleName)?.rule.timing;
    const wait = timing?.groupWaitMs ?? 30_000;
    const interval = timing?.groupIntervalMs ?? 300_000;
    const at = g.lastFlushAt === -Infinity ? now + wait : Math.max(now, g.lastFlushAt + interval);
    if (at >= g.flushAt) return;
    g.flushAt = at;
    this.#timers.push(at, { kind: 'flush', group: g }, ++g.flushGen);
  }

  /** Why an alert must not notify this receiver now, recorded on the alert; undefined when it may. */
  #muted(a: AlertRec, rule: Rule | undefined, now: number): string | undefined {
    const ten = a.tenant;
    for (const s of ten.silences) {
      if (s.matches(a.labels) && silenceActive(s, now)) {
        const reason = `silenced by ${s.silence.id} (${s.silence.createdBy}: ${s.silence.reason})`;
        this.#suppress(a, 'silence', reason);
        return reason;
      }
    }
    const mw = rule ? inMaintenance(rule.maintenance, now) : undefined;
    if (mw) {
      const reason = mw.kind === 'once'
        ? `maintenance window ${new Date(mw.startMs).toISOString()} to ${new Date(mw.endMs).toISOString()}${mw.comment ? ` (${mw.comment})` : ''}`
        : `recurring maintenance window ${mw.weekdays.join(',')} ${String(Math.floor(mw.startMinute / 60)).padStart(2, '0')}:${String(mw.startMinute % 60).padStart(2, '0')} ${mw.timeZone}${mw.comment ? ` (${mw.comment})` : ''}`;
      this.#suppress(a, 'maintenance', reason);
      return reason;
    }
    for (const ix of ten.inhibit) {
      if (!ix.target(a.labels)) continue;
      const set = ix.sources.get(equalKey(a.labels, ix.equal));
      if (!set) continue;
      // The lowest fingerprint names the source, so the record is the same whatever the order.
      let src: AlertRec | undefined;
      for (const s of set) if (s !== a && (!src || s.fingerprint < src.fingerprint)) src = s;
      if (src) {
        const reason = `inhibited by ${src.fingerprint} (${src.ruleName || src.metric}, ${src.severity})`;
        this.#suppress(a, 'inhibition', reason);
        return reason;
      }
    }
    return undefined;
  }

  #index(a: AlertRec, firing: boolean): void {
    for (const ix of a.tenant.inhibit) {
      if (!ix.source(a.labels)) continue;
      const k = equalKey(a.labels, ix.equal);
      let set = ix.sources.get(k);
      if (firing) {
        if (!set) ix.sources.set(k, (set = new Set()));
        set.add(a);
      } else if (set) {
        set.delete(a);
        if (set.size === 0) ix.sources.delete(k);
      }
    }
  }

  #flush(g: Group, now: number): void {
    const ten = g.tenant;
    g.flushAt = Infinity;
    g.lastFlushAt = now;
    const info = ten.rules.get(g.ruleName);
    const timing = info?.rule.timing;
    const firing: AlertRec[] = [];
    const resolved: AlertRec[] = [];
    for (const a of g.alerts.values()) {
      if (a.state === 'firing') {
        if (this.#muted(a, info?.rule, now) === undefined) firing.push(a);
      } else if (a.state === 'resolved') {
        if (g.announced.has(a.fingerprint)) resolved.push(a);
        else this.#leave(g, a);
      }
    }
    const fset = new Set(firing.map((a) => a.fingerprint));
    const changed = resolved.length > 0 || (firing.length > 0 && !sameSet(fset, g.lastFiring));
    const unacked = firing.some((a) => !this.#acked(ten, a.fingerprint, now));
    const repeat = firing.length > 0 && unacked && now - g.lastNotifiedAt >= (timing?.repeatIntervalMs ?? 4 * HOUR);
    if (changed || repeat) {
      // The same alerts announced again is a repeat (which one) or, when the set shrank without a
      // resolve (an alert muted meanwhile), an update after that set: either way a new id.
      const shrank = changed && resolved.length === 0 && [...g.lastFiring].some((fp) => !fset.has(fp));
      const nonce = !changed ? `repeat ${this.#repeatOrdinal(firing, now, timing?.repeatIntervalMs ?? 4 * HOUR)}` : shrank ? `after ${[...g.lastFiring].sort().join(',')}` : '';
      this.#notify(g, firing, resolved, now, nonce);
    }
    if (g.alerts.size > 0) this.#schedule(g, now);
    else this.#drop(g);
  }

  /** Which repeat of an unchanged notification this is: repeat intervals since its oldest firing alert started. */
  #repeatOrdinal(firing: readonly AlertRec[], now: number, intervalMs: number): number {
    let start = Infinity;
    for (const a of firing) if (a.startsAt < start) start = a.startsAt;
    return Math.max(1, Math.floor((now - start) / Math.max(1, intervalMs)));
  }

  #notify(g: Group, firing: AlertRec[], resolved: AlertRec[], now: number, nonce = ''): void {
    const ten = g.tenant;
    const page = firing.some((a) => SEV_RANK[a.severity] >= 2);
    if (firing.length > 0) {
      // Resolves always go out: holding one would leave an incident open somewhere.
      const rm = ten.receiverMeter(g.receiver);
      const why = ten.meter.check(now, page) ?? rm.check(now, page);
      if (why !== undefined) {
        const meter = ten.meter.check(now, page) !== undefined ? ten.meter : rm;
        for (const a of firing) {
          this.#suppress(a, 'budget', `${why}; see the summary notification`, g.receiver);
          meter.held.add(a.fingerprint);
        }
        if (meter.summaryReceiver === '') meter.summaryReceiver = g.receiver;
        if (meter.summaryAt === Infinity) {
          meter.summaryAt = Math.max(now + ten.policy.budgetSummaryDelayMs, meter.lastSummaryAt + HOUR);
          this.#timers.push(meter.summaryAt, { kind: 'summary', tenant: ten, meter }, ++meter.summaryGen);
        }
        g.lastFiring = new Set(firing.map((a) => a.fingerprint));
        g.lastNotifiedAt = now;
        if (resolved.length > 0) this.#sendResolvedOnly(g, resolved, now);
        return;
      }
      ten.meter.use(now, page);
      rm.use(now, page);
    }
    let crossedAt: number | null = null;
    for (const a of firing) if (!g.announced.has(a.fingerprint) && (crossedAt === null || a.crossedAt < crossedAt)) crossedAt = a.crossedAt;
    this.#dispatch(g, 'notify', now, [...firing, ...resolved], crossedAt, { nonce });
    const newOnes = firing.some((a) => !g.announced.has(a.fingerprint));
    for (const a of firing) g.announced.add(a.fingerprint);
    if (newOnes) g.ackSent = false;
    g.lastFiring = new Set(firing.map((a) => a.fingerprint));
    g.lastNotifiedAt = now;
    for (const a of resolved) this.#leave(g, a);
    // A page starts the escalation clock; a mitigation hook fires once per episode.
    const esc = ten.policy.escalations.find((e) => e.receiver === g.receiver);
    if (page && esc && g.escalateAt === Infinity) {
      g.escalateAt = now + esc.afterMs;
      g.escalateFrom = g.receiver;
      this.#timers.push(g.escalateAt, { kind: 'escalate', group: g }, ++g.escalateGen);
    }
    if (firing.length === 0) {
      g.escalateAt = Infinity;
      g.escalateGen++;
    }
    const rule = ten.rules.get(g.ruleName)?.rule;
    if (rule?.mitigationHook) {
      const due = firing.filter((a) => a.severity === 'S3' && !a.mitigated);
      if (due.length > 0) {
        for (const a of due) a.mitigated = true;
        this.#dispatch(g, 'mitigation', now, due, null, { url: rule.mitigationHook, receiver: `mitigation:${g.ruleName}` });
      }
    }
  }

  #sendResolvedOnly(g: Group, resolved: AlertRec[], now: number): void {
    this.#dispatch(g, 'notify', now, resolved, null);
    for (const a of resolved) this.#leave(g, a);
  }

  #leave(g: Group, a: AlertRec): void {
    g.alerts.delete(a.fingerprint);
    g.announced.delete(a.fingerprint);
    g.lastFiring.delete(a.fingerprint);
    a.groups.delete(g);
    if (a.groups.size === 0 && a.state === 'resolved') {
      const w = this.#series.get(a.seriesId);
      if (!w || w.alert !== a) a.tenant.alerts.delete(a.fingerprint);
    }
  }

  #drop(g: Group): void {
    g.tenant.groups.delete(g.key);
    g.flushGen++;
    g.escalateGen++;
  }

  #escalate(g: Group, now: number): void {
    const ten = g.tenant;
    g.escalateAt = Infinity;
    const open = [...g.alerts.values()].filter((a) => a.state === 'firing' && g.announced.has(a.fingerprint));
    if (open.length === 0 || open.every((a) => this.#acked(ten, a.fingerprint, now))) return;
    const esc = ten.policy.escalations.find((e) => e.receiver === g.escalateFrom);
    if (!esc) return;
    const text = `not acknowledged within ${Math.round(esc.afterMs / 60_000)} min on ${esc.receiver}; escalated to ${esc.next}`;
    for (const a of open) this.#event(a, 'escalated', text);
    // Which escalation of the episode: a page repeated after the last level escalates again, under a new id.
    this.#dispatch(g, 'escalation', now, open, null, { receiver: esc.next, text, nonce: `escalation ${this.#repeatOrdinal(open, now, esc.afterMs)}` });
    // The next level may escalate further.
    const further = ten.policy.escalations.find((e) => e.receiver === esc.next);
    if (further) {
      g.escalateFrom = esc.next;
      g.escalateAt = now + further.afterMs;
      this.#timers.push(g.escalateAt, { kind: 'escalate', group: g }, ++g.escalateGen);
    }
  }

  #summary(ten: TenantAlerting, m: Meter, now: number): void {
    m.summaryAt = Infinity;
    if (m.held.size === 0) return;
    const n = m.held.size;
    const text = `${n} more alert${n === 1 ? '' : 's'} held: ${m.scope} is over its budget of ${m.budget.pagesPerHour} pages and ${m.budget.notificationsPerHour} notifications per hour; see ${ten.policy.externalUrl}/ui/alerts?tenant=${encodeURIComponent(ten.id)}&suppressed=budget`;
    const receiver = m.open?.group.receiver ?? m.summaryReceiver;
    const counted = m.open?.counted ?? new Set<string>();
    for (const fp of m.held) {
      const a = ten.alerts.get(fp);
      if (a !== undefined && a.state !== 'resolved') counted.add(fp);
    }
    m.held.clear();
    m.lastSummaryAt = now;
    m.summaryReceiver = '';
    // The same key while it is open: a second summary updates the first, one resolve ends both.
    let g = m.open?.group;
    if (!g) {
      g = new Group(`${ten.id}\u0000${receiver}\u0000budget\u0000${m.scope}`, ten, receiver, '', Object.freeze({ tenant: ten.id }));
      g.seq = Math.floor(now);
    }
    const endAt = now + HOUR;
    const gen = (m.open?.gen ?? 0) + 1;
    m.open = { group: g, counted, endAt, gen };
    this.#timers.push(endAt, { kind: 'summaryEnd', tenant: ten, meter: m }, gen);
    this.#dispatch(g, 'summary', now, [], null, { text });
    this.#persistSummary(ten, m, now, text, 'firing');
  }

  /** Writes the open (or just resolved) summary of `m` as its alert row. */
  #persistSummary(ten: TenantAlerting, m: Meter, now: number, text: string, state: 'firing' | 'resolved', open = m.open): void {
    if (!open) return;
    const g = open.group;
    const summary: StoredSummary = { scope: m.scope, receiver: g.receiver, counted: [...open.counted], endAt: open.endAt, seq: g.seq, text };
    this.#effects.upserts.push({
      tenant: ten.id,
      fingerprint: `budget:${g.id}`,
      metric: BUDGET_SUMMARY_METRIC,
      labels: { tenant: ten.id, rule: BUDGET_SUMMARY_RULE, scope: m.scope, receiver: g.receiver },
      seriesId: null,
      state,
      severity: 'S1',
      startsAt: g.seq,
      endsAt: state === 'resolved' ? now : null,
      at: now,
      score: 0,
      reasons: ['budget'],
      // The fields every alert packet has, so lists and the UI read a summary like any alert.
      packet: { rule: BUDGET_SUMMARY_RULE, suppressions: [], heldReason: null, events: [], budgetSummary: summary },
      configVersion: ten.version ?? null,
    });
  }

  /** Resumes an open budget summary from its alert row: same group (so the same dedup key), same end. */
  #restoreSummary(stored: Alert): void {
    const p = (stored.packet as { budgetSummary?: Partial<StoredSummary> } | null)?.budgetSummary;
    if (!p || typeof p.scope !== 'string' || typeof p.receiver !== 'string' || typeof p.endAt !== 'number' || typeof p.seq !== 'number') return;
    const ten = this.#tenant(stored.tenant);
    const m = p.scope.startsWith('receiver ') ? ten.receiverMeter(p.scope.slice('receiver '.length)) : ten.meter;
    if (m.open) return;
    const g = new Group(`${ten.id}\u0000${p.receiver}\u0000budget\u0000${m.scope}`, ten, p.receiver, '', Object.freeze({ tenant: ten.id }));
    g.seq = p.seq;
    m.open = { group: g, counted: new Set(Array.isArray(p.counted) ? p.counted.filter((x): x is string => typeof x === 'string') : []), endAt: p.endAt, gen: 1 };
    m.lastSummaryAt = stored.updatedAt;
    // An hour that ended while the process was down ends at the first tick.
    this.#timers.push(p.endAt, { kind: 'summaryEnd', tenant: ten, meter: m }, 1);
  }

  /** Resolves an open budget summary: its hour is over with nothing more held, or all it counted resolved. */
  #summaryEnd(ten: TenantAlerting, m: Meter, now: number, why: string): void {
    const open = m.open;
    if (!open) return;
    // More alerts held since: the next summary (already scheduled) keeps the incident open.
    if (m.held.size > 0) return;
    m.open = undefined;
    const text = `budget summary resolved: ${why}; ${m.scope} notifications flow again`;
    this.#dispatch(open.group, 'summary', now, [], null, { text, status: 'resolved' });
    this.#persistSummary(ten, m, now, text, 'resolved', open);
  }

  /** A held alert resolved: the open summaries that counted it may be over. */
  #heldResolved(ten: TenantAlerting, fp: string, now: number): void {
    for (const m of [ten.meter, ...ten.receiverMeters.values()]) {
      if (m.open === undefined || !m.open.counted.delete(fp)) continue;
      m.held.delete(fp);
      if (m.open.counted.size === 0) this.#summaryEnd(ten, m, now, 'every alert it held has resolved');
    }
  }

  /**
   * A dispatch's id: the group id, the kind, and a hash of what it announces (receiver, status,
   * each alert with its state and episode start, plus `nonce`: which repeat, which ack). A worker
   * that takes a partition over, or a restarted process, derives the same id for the same
   * notification, so receivers can drop a second delivery by id; a new episode, a changed set
   * of alerts or a repeat reminder is a new id. Budget summaries count (their sequence is stored
   * with their alert row and restored).
   */
  #dispatchId(g: Group, kind: DispatchKind, receiver: string, status: string, views: readonly AlertView[], nonce: string): string {
    if (kind === 'summary') return `${g.id}:${kind}:${++g.seq}`;
    const alerts = views.map((a) => `${a.fingerprint}/${a.status}/${a.startsAt}`).sort();
    return `${g.id}:${kind}:${createHash('sha256').update(JSON.stringify([receiver, status, alerts, nonce])).digest('hex').slice(0, 16)}`;
  }

  #dispatch(g: Group, kind: DispatchKind, now: number, alerts: AlertRec[], crossedAt: number | null, o: { text?: string; url?: string; receiver?: string; ackBy?: string; status?: 'resolved'; nonce?: string } = {}): void {
    const ten = g.tenant;
    const base = ten.policy.externalUrl;
    const views = alerts.map((a) => view(a, base));
    const firing = views.filter((x) => x.status === 'firing');
    let sev: Severity = 'S0';
    for (const x of firing) if (SEV_RANK[x.severity] > SEV_RANK[sev]) sev = x.severity;
    const common: Record<string, string> = {};
    if (views.length > 0) {
      for (const [k, v] of Object.entries(views[0].labels)) if (views.every((x) => x.labels[k] === v)) common[k] = v;
    }
    const receiver = o.receiver ?? g.receiver;
    const status = o.status ?? (firing.length > 0 || kind === 'summary' ? 'firing' : 'resolved');
    const d: Dispatch = {
      id: this.#dispatchId(g, kind, receiver, status, views, o.nonce ?? ''),
      tenant: ten.id,
      receiver,
      kind,
      groupId: g.id,
      groupKey: g.key.replaceAll('\u0000', '/'),
      groupLabels: g.groupLabels,
      commonLabels: Object.freeze(common),
      status,
      severity: sev,
      page: SEV_RANK[sev] >= 2,
      alerts: views,
      at: now,
      crossedAt,
      text: o.text ?? null,
      url: o.url ?? null,
      validUntil: now + ten.policy.alertmanagerValidForMs,
      ackBy: o.ackBy ?? null,
    };
    inc(this.counters.dispatched, `${ten.id}\u0000${receiver}\u0000${kind}\u0000${sev}`);
    this.#effects.dispatches.push(d);
  }

  // ---- records ----------------------------------------------------------------------------

  #suppress(a: AlertRec, kind: SuppressionKind, reason: string, receiver?: string): void {
    const list = a.suppressions;
    // A gate says the same thing with new numbers at every point: keep its first record per episode.
    for (let i = list.length - 1; i >= 0; i--) {
      const s = list[i];
      if (s.kind === kind && s.receiver === receiver && (kind === 'gate' || s.reason === reason)) return;
    }
    list.push(receiver === undefined ? { kind, at: this.#clock(), reason } : { kind, at: this.#clock(), reason, receiver });
    inc(this.counters.held, `${a.tenant.id}\u0000${kind}`);
    if (list.length > MAX_RECORDS) list.shift();
    this.#touch(a);
  }

  #event(a: AlertRec, kind: AlertEvent['kind'], text: string): void {
    a.events.push({ at: this.#clock(), kind, text });
    if (a.events.length > MAX_RECORDS) a.events.shift();
    this.#touch(a);
  }

  /** Queues a store write of the alert now (transitions), not at the next persist interval. */
  #persist(a: AlertRec): void {
    this.#dirty.delete(a);
    a.dirty = false;
    this.#effects.upserts.push(this.#input(a));
  }

  #input(a: AlertRec): AlertInput {
    // The store ignores an upsert older than the stored one: keep `at` strictly increasing.
    const at = (this.#lastAt = Math.max(this.#clock(), this.#lastAt));
    const rule = a.tenant.rules.get(a.ruleName)?.rule;
    return {
      tenant: a.tenant.id,
      fingerprint: a.fingerprint,
      metric: a.metric,
      labels: a.labels,
      seriesId: a.seriesId,
      state: a.state,
      severity: a.severity,
      startsAt: a.startsAt,
      endsAt: a.endsAt,
      at,
      score: Number.isFinite(a.score) ? a.score : 0,
      reasons: a.reasons.slice(),
      owner: rule?.owner ?? null,
      runbook: rule?.runbook ?? null,
      configVersion: a.configVersion,
      packet: {
        kind: PACKET_KIND,
        rule: a.ruleName,
        value: finite(a.value),
        expected: finite(a.expected),
        lower: finite(a.lower),
        upper: finite(a.upper),
        detectors: a.reasons.map((r, i) => ({ name: a.sources[i] ?? '', reason: r })),
        configuredSeverity: rule?.severity ?? 'S0',
        heldReason: a.heldReason,
        impact: a.impactReason,
        firingAt: a.firingAt,
        crossedAt: a.crossedAt,
        lastTrueT: Number.isFinite(a.lastTrueT) ? a.lastTrueT : null,
        dataState: a.unknownSince === null ? 'ok' : 'unknown',
        unknownSince: a.unknownSince,
        acked: a.acked,
        suppressions: a.suppressions,
        events: a.events,
        triageUrl: triageUrl(a.tenant.policy.externalUrl, a.tenant.id, a.fingerprint),
        ...(a.explanation !== null ? { multivariate: { explanation: a.explanation, features: a.features ?? [] } } : {}),
      },
    };
  }

  // ---- time -------------------------------------------------------------------------------

  /** The earliest time `tick` has work (group flushes, escalations, summaries, persistence, no-data sweeps). */
  nextDeadline(): number {
    let t = this.#timers.peek();
    if (this.#dirty.size > 0) t = Math.min(t, this.#nextPersistAt);
    if (this.#openCount() > 0) t = Math.min(t, this.#nextSweepAt);
    return t;
  }

  #openCount(): number {
    let n = 0;
    for (const t of this.#tenants.values()) n += t.alerts.size;
    return n;
  }

  /** Runs everything due at the clock's current time. */
  tick(): void {
    const now = this.#clock();
    for (;;) {
      if (this.#timers.peek() > now) break;
      const e = this.#timers.pop()!;
      const x = e.target;
      if (x.kind === 'flush') {
        if (e.gen === x.group.flushGen && x.group.tenant.groups.get(x.group.key) === x.group) this.#flush(x.group, now);
      } else if (x.kind === 'escalate') {
        if (e.gen === x.group.escalateGen) this.#escalate(x.group, now);
      } else if (x.kind === 'summary') {
        if (e.gen === x.meter.summaryGen) this.#summary(x.tenant, x.meter, now);
      } else if (e.gen === x.meter.open?.gen) this.#summaryEnd(x.tenant, x.meter, now, 'its budget hour is over');
    }
    if (now >= this.#nextSweepAt) {
      this.#nextSweepAt = now + NO_DATA_SWEEP_MS;
      for (const t of this.#tenants.values()) {
        const after = t.policy.flap.noDataAfterMs;
        for (const a of t.alerts.values()) {
          if (a.state === 'resolved' || a.unknownSince !== null || now - a.lastSeenAt < after) continue;
          a.unknownSince = a.lastSeenAt;
          this.#event(a, 'no_data', `no data since ${new Date(a.lastSeenAt).toISOString()}: state unknown, kept ${a.state} (no data never resolves)`);
        }
      }
    }
    if (now >= this.#nextPersistAt) {
      let interval = DEFAULT_ALERT_POLICY.persistIntervalMs;
      for (const t of this.#tenants.values()) interval = Math.min(interval, t.policy.persistIntervalMs);
      this.#nextPersistAt = now + interval;
      let n = 0;
      for (const a of this.#dirty) {
        if (n++ >= MAX_PERSIST_PER_TICK) break;
        this.#persist(a);
      }
    }
  }

  /** Queues a store write of every alert changed since its last one (before a shutdown). */
  persistAll(): void {
    for (const a of this.#dirty) this.#persist(a);
  }

  /** Hands over the effects produced since the last call (store writes first, then sends). */
  drain(): AlertEffects {
    const e = this.#effects;
    this.#effects = { upserts: [], dispatches: [], ackClears: [] };
    return e;
  }

  // ---- restart ----------------------------------------------------------------------------

  /**
   * Resumes an open alert read back from the store after a restart. `announcedTo` lists the
   * receivers its firing was already sent to (from the notification log), so it is not sent
   * again before its repeat interval; inhibition by it holds again at once.
   */
  restore(stored: Alert, announcedTo: readonly string[], ack?: { by: string; at: number; expiresAt: number }): void {
    if (stored.state !== 'resolved' && isBudgetSummary(stored)) return this.#restoreSummary(stored);
    if (stored.state === 'resolved' || stored.seriesId === null) return;
    const ten = this.#tenant(stored.tenant);
    const p = (stored.packet ?? {}) as Record<string, unknown>;
    const ruleName = typeof p.rule === 'string' ? p.rule : stored.labels.rule === 'default' ? '' : stored.labels.rule ?? '';
    const seriesLabels: Record<string, string> = {};
    const rule = ten.rules.get(ruleName)?.rule;
    const derived = new Set([...BUILTIN, ...Object.keys(rule?.labels ?? {})]);
    for (const [k, v] of Object.entries(stored.labels)) {
      if (derived.has(k)) continue;
      seriesLabels[k.startsWith('exported_') && BUILTIN.has(k.slice(9)) ? k.slice(9) : k] = v;
    }
    const a = new AlertRec(ten, stored.fingerprint, stored.seriesId, stored.metric, Object.freeze(seriesLabels), ruleName);
    a.state = stored.state;
    a.severity = stored.severity;
    a.startsAt = stored.startsAt;
    a.score = stored.score;
    a.reasons = [...stored.reasons];
    a.sources = Array.isArray(p.detectors) ? (p.detectors as { name: string }[]).map((d) => d.name) : [];
    a.value = num(p.value);
    a.expected = num(p.expected);
    a.lower = num(p.lower);
    a.upper = num(p.upper);
    a.firingAt = typeof p.firingAt === 'number' ? p.firingAt : null;
    a.crossedAt = typeof p.crossedAt === 'number' ? p.crossedAt : stored.startsAt;
    a.lastTrueT = typeof p.lastTrueT === 'number' ? p.lastTrueT : stored.updatedAt;
    a.condSince = a.startsAt;
    a.heldReason = typeof p.heldReason === 'string' ? p.heldReason : null;
    a.impactReason = typeof p.impact === 'string' ? p.impact : null;
    a.suppressions = Array.isArray(p.suppressions) ? (p.suppressions as Suppression[]) : [];
    a.events = Array.isArray(p.events) ? (p.events as AlertEvent[]) : [];
    const mv = p.multivariate as { explanation?: unknown; features?: unknown } | undefined;
    if (mv && typeof mv.explanation === 'string') {
      a.explanation = mv.explanation;
      a.features = Array.isArray(mv.features) ? (mv.features as FeatureShare[]) : [];
    }
    a.configVersion = stored.configVersion;
    a.lastSeenAt = this.#clock();
    a.labels = this.#labels(ten, a, rule);
    ten.alerts.set(a.fingerprint, a);
    let w = this.#series.get(a.seriesId);
    if (!w) this.#series.set(a.seriesId, (w = new SeriesWatch(ten.id, a.metric, a.seriesLabels, ruleName)));
    w.alert = a;
    w.bits = 1;
    this.#setWatch(a.seriesId, WATCH_ALL);
    if (ack && ack.expiresAt > this.#clock()) {
      ten.acks.set(a.fingerprint, ack);
      a.acked = true;
    }
    if (a.state !== 'firing') return;
    this.#index(a, true);
    this.#route(a, rule);
    const now = this.#clock();
    for (const g of a.groups) {
      if (!announcedTo.includes(g.receiver)) continue;
      g.announced.add(a.fingerprint);
      g.lastFiring.add(a.fingerprint);
      g.lastNotifiedAt = now;
      g.lastFlushAt = now;
    }
  }

  /** Open alerts per tenant and severity, for /metrics. */
  openAlerts(): Map<string, number> {
    const out = new Map<string, number>();
    for (const t of this.#tenants.values()) for (const a of t.alerts.values()) if (a.state === 'firing') inc(out, `${t.id}\u0000${a.severity}`);
    return out;
  }

  /** Budget meters with notifications held and not summarised yet (backlog), per tenant. */
  heldBacklog(): Map<string, number> {
    const out = new Map<string, number>();
    for (const t of this.#tenants.values()) {
      let n = t.meter.held.size;
      for (const m of t.receiverMeters.values()) n += m.held.size;
      out.set(t.id, n);
    }
    return out;
  }
}

function equalKey(labels: Labels, equal: readonly string[]): string {
  let k = '';
  for (const n of equal) k += `${labels[n] ?? ''}\u0000`;
  return k;
}

function sameList(a: readonly string[], b: readonly string[], sa: readonly string[], sb: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] || sa[i] !== sb[i]) return false;
  return true;
}

function finite(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

function num(v: unknown): number {
  return typeof v === 'number' ? v : NaN;
}

function view(a: AlertRec, base: string): AlertView {
  const rule = a.tenant.rules.get(a.ruleName)?.rule;
  return {
    fingerprint: a.fingerprint,
    tenant: a.tenant.id,
    rule: a.ruleName,
    status: a.state === 'firing' ? 'firing' : 'resolved',
    severity: a.severity,
    metric: a.metric,
    labels: a.labels,
    value: a.value,
    expected: a.expected,
    lower: a.lower,
    upper: a.upper,
    score: a.score,
    detectors: a.reasons.map((r, i) => ({ name: a.sources[i] ?? '', reason: r })),
    startsAt: a.startsAt,
    endsAt: a.endsAt,
    owner: rule?.owner ?? null,
    runbook: rule?.runbook ?? null,
    triageUrl: triageUrl(base, a.tenant.id, a.fingerprint),
    heldReason: a.heldReason,
    ...(a.explanation !== null ? { explanation: a.explanation } : {}),
  };
}
