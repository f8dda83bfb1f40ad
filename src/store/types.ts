/**
 * The store contract. One interface, grouped by domain, with two implementations: the
 * embedded SQLite store (`tidemark serve`, one process) and, later, PostgreSQL (cluster mode).
 * Both must pass `runStoreConformance` in conformance.ts.
 *
 * Conventions every implementation keeps:
 * - Every method is async so a networked database can implement it.
 * - Times are integer milliseconds since the epoch. The store never reads the wall clock for
 *   domain times (alert `at`, ack `at`, ...); the caller passes them. Only bookkeeping fields
 *   (`createdAt` of tenants, tokens, series, silences) use the injected `StoreOptions.now`.
 * - Everything a tenant owns is read and written with the tenant named; an id from another
 *   tenant reads as absent, never as another tenant's data.
 * - Mistakes in input reject with `TidemarkError` (`TM_ERR_INPUT`, `TM_ERR_NOT_FOUND`,
 *   `TM_ERR_CONFLICT`); a broken database rejects with `TM_ERR_STORE`.
 */

/** Label name -> value. Stored sorted by name; labels with an empty value are dropped. */
export type Labels = Readonly<Record<string, string>>;

export type Role = 'read' | 'write' | 'admin';
export type ChangeKind = 'deploy' | 'flag' | 'config' | 'schema' | 'infra';
export type AlertState = 'pending' | 'firing' | 'resolved';
/** S0 log-only, S1 notify, S2 page, S3 page + auto-mitigate hook (see DESIGN.md). */
export type Severity = 'S0' | 'S1' | 'S2' | 'S3';
export type FeedbackLabel = 'real' | 'noise' | 'expected' | 'new_normal';
/** `pending`: an intent recorded before the send, not settled yet (see NotificationStore.intend). */
export type NotificationStatus = 'pending' | 'sent' | 'failed';

export const ROLES: readonly Role[] = ['read', 'write', 'admin'];
export const CHANGE_KINDS: readonly ChangeKind[] = ['deploy', 'flag', 'config', 'schema', 'infra'];
export const ALERT_STATES: readonly AlertState[] = ['pending', 'firing', 'resolved'];
export const SEVERITIES: readonly Severity[] = ['S0', 'S1', 'S2', 'S3'];
export const FEEDBACK_LABELS: readonly FeedbackLabel[] = ['real', 'noise', 'expected', 'new_normal'];
export const NOTIFICATION_STATUSES: readonly NotificationStatus[] = ['pending', 'sent', 'failed'];

/**
 * A label matcher, Prometheus style: `=` and `!=` compare exactly, `=~` and `!~` are fully
 * anchored regular expressions. A missing label matches as the empty string. The metric name
 * is matched as the label `__name__`.
 */
export interface Matcher {
  readonly name: string;
  readonly op: '=' | '!=' | '=~' | '!~';
  readonly value: string;
}

// ---------------------------------------------------------------------------------------------
// Tenants and tokens

export interface Tenant {
  readonly id: string;
  readonly name: string;
  readonly createdAt: number;
}

/** A new API token. The store keeps only `hash` (see token.ts: `hashToken`). */
export interface TokenInput {
  readonly tenant: string;
  readonly name: string;
  readonly role: Role;
  /** Hex SHA-256 of the secret. */
  readonly hash: string;
  readonly expiresAt?: number | null;
}

export interface ApiToken {
  readonly id: number;
  readonly tenant: string;
  readonly name: string;
  readonly role: Role;
  readonly hash: string;
  readonly createdAt: number;
  readonly expiresAt: number | null;
  readonly revokedAt: number | null;
}

export interface TenantStore {
  /** Creates a tenant; creating an existing id again returns it unchanged (`created: false`). */
  create(input: { id: string; name: string }): Promise<{ tenant: Tenant; created: boolean }>;
  get(id: string): Promise<Tenant | undefined>;
  /** All tenants, by id. */
  list(): Promise<Tenant[]>;
}

export interface TokenStore {
  /** Stores a token hash. The tenant must exist; a hash can be stored once (`TM_ERR_CONFLICT`). */
  create(input: TokenInput): Promise<ApiToken>;
  /** The token with this hash, revoked and expired ones included (the caller decides). */
  byHash(hash: string): Promise<ApiToken | undefined>;
  /** A tenant's tokens, by id. */
  list(tenant: string): Promise<ApiToken[]>;
  /** Marks a token revoked at `at`. False when the tenant has no such token; revoking twice keeps the first time. */
  revoke(tenant: string, id: number, at: number): Promise<boolean>;
}

// ---------------------------------------------------------------------------------------------
// Series identity, samples, rollups and companion bands

export interface SeriesKey {
  readonly tenant: string;
  readonly metric: string;
  readonly labels: Labels;
}

/** An interned series. `id` is positive, never reused, and the same for the same key forever. */
export interface Series extends SeriesKey {
  readonly id: number;
}

export interface SeriesStore {
  /**
   * Returns the id of each key, in order, creating ids for new keys. Idempotent; the tenant
   * must exist. Label order does not matter; empty label values are dropped.
   */
  intern(keys: readonly SeriesKey[]): Promise<number[]>;
  get(tenant: string, id: number): Promise<Series | undefined>;
  /** A tenant's series matching every matcher, by id. No matchers lists all (up to `limit`). */
  find(tenant: string, matchers: readonly Matcher[], limit?: number): Promise<Series[]>;
  /** The highest series id of any tenant (0 when there is none), without listing the series. */
  maxId(): Promise<number>;
  /** Sorted label names (including `__name__`) over the series the matchers select. */
  labelNames(tenant: string, matchers?: readonly Matcher[]): Promise<string[]>;
  /** Sorted distinct values of one label (`__name__` gives metric names) over the selected series. */
  labelValues(tenant: string, name: string, matchers?: readonly Matcher[]): Promise<string[]>;
}

/**
 * A batch of samples as parallel arrays (typed arrays welcome: no object per sample).
 * `v` may be NaN (a missing point, stored as NULL and read back as NaN).
 */
export interface SampleBatch {
  readonly seriesId: ArrayLike<number>;
  readonly t: ArrayLike<number>;
  readonly v: ArrayLike<number>;
}

/** Duplicates (same series and `t`) keep the first value written: see SampleStore.append. */
export interface AppendResult {
  readonly inserted: number;
  readonly duplicates: number;
}

/** Points in time order. The arrays are fresh (the caller owns them). */
export interface SampleRange {
  readonly t: Float64Array;
  readonly v: Float64Array;
}

/** One-minute rollups: `t` is the minute start, `n` the count of non-missing values. */
export interface RollupRange {
  readonly t: Float64Array;
  readonly n: Float64Array;
  readonly sum: Float64Array;
  readonly min: Float64Array;
  readonly max: Float64Array;
}

/** Detector companions for each point: the band the point was compared against and its score. */
export interface BandBatch {
  readonly seriesId: ArrayLike<number>;
  readonly t: ArrayLike<number>;
  readonly expected: ArrayLike<number>;
  readonly lower: ArrayLike<number>;
  readonly upper: ArrayLike<number>;
  readonly score: ArrayLike<number>;
}

export interface BandRange {
  readonly t: Float64Array;
  readonly expected: Float64Array;
  readonly lower: Float64Array;
  readonly upper: Float64Array;
  readonly score: Float64Array;
}

/** How long chart history is kept. Defaults: DEFAULT_RETENTION. */
export interface RetentionPolicy {
  /** Raw samples and bands are kept this long. */
  readonly rawMs: number;
  /** One-minute rollups are kept this long. */
  readonly rollupMs: number;
  /** Minutes this recent are not rolled up yet, and rolled-up minutes this recent are recomputed (late samples). Must be < rawMs. */
  readonly lateMs: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = Object.freeze({
  rawMs: 48 * 3600_000, // 48 h
  rollupMs: 30 * 86400_000, // 30 d
  lateMs: 5 * 60_000, // 5 min
});

export interface SweepResult {
  /** Rollup rows written (new or recomputed). */
  readonly rolledUp: number;
  readonly deletedSamples: number;
  readonly deletedBands: number;
  readonly deletedRollups: number;
}

export interface SampleStore {
  /**
   * Appends a batch in one transaction. When the promise resolves the batch is durable
   * (see the implementation for what "durable" covers). A sample whose (series, t) is
   * already stored is ignored: the first value wins, so a retried batch is a no-op and the
   * stored history stays what the detectors saw. Rejects the whole batch, writing nothing,
   * on a bad time or series id. The store copies the batch before `append` returns, so the
   * caller may refill its arrays at once (the engine reuses them for every batch). Series ids
   * are not checked against `series` (that would cost a lookup per sample): pass ids from
   * `series.intern`.
   */
  append(batch: SampleBatch): Promise<AppendResult>;
  /** Raw samples of one series with from <= t < to, in time order, at most `limit` (the earliest). */
  range(tenant: string, seriesId: number, from: number, to: number, limit?: number): Promise<SampleRange>;
  /**
   * One-minute rollups over from <= t < to. Minutes already rolled up come from the rollup
   * table; newer minutes are computed from raw samples, so the answer is complete either way.
   */
  rollups(tenant: string, seriesId: number, from: number, to: number): Promise<RollupRange>;
  /**
   * Writes bands, durable on resolve; a band for an existing (series, t) replaces it (a
   * re-score wins). Like `append`, copies the batch before it returns.
   */
  appendBands(batch: BandBatch): Promise<number>;
  bands(tenant: string, seriesId: number, from: number, to: number, limit?: number): Promise<BandRange>;
  /**
   * Retention sweep: rolls up raw minutes older than `now - lateMs`, then deletes raw samples
   * and bands older than `now - rawMs` and rollups older than `now - rollupMs`. Works in
   * small transactions so ingest is not blocked for long.
   */
  sweep(now: number): Promise<SweepResult>;
}

// ---------------------------------------------------------------------------------------------
// Change events

export interface ChangeInput {
  readonly tenant: string;
  readonly t: number;
  readonly kind: ChangeKind;
  readonly service: string;
  readonly labels?: Labels;
  readonly text: string;
  readonly author?: string | null;
  readonly link?: string | null;
  /** The sender's id for this event; a second event with the same id is not stored again. */
  readonly externalId?: string | null;
}

export interface ChangeEvent {
  readonly id: number;
  readonly tenant: string;
  readonly t: number;
  readonly kind: ChangeKind;
  readonly service: string;
  readonly labels: Labels;
  readonly text: string;
  readonly author: string | null;
  readonly link: string | null;
  readonly externalId: string | null;
}

export interface ChangeQuery {
  readonly tenant: string;
  readonly from: number;
  readonly to: number;
  readonly services?: readonly string[];
  readonly kinds?: readonly ChangeKind[];
  readonly limit?: number;
}

export interface ChangeStore {
  /** Stores an event durably. With an `externalId` already stored, returns that event (`created: false`). */
  add(input: ChangeInput): Promise<{ event: ChangeEvent; created: boolean }>;
  /** Events with from <= t < to, oldest first. */
  list(query: ChangeQuery): Promise<ChangeEvent[]>;
}

// ---------------------------------------------------------------------------------------------
// Alerts and their history

export interface AlertInput {
  readonly tenant: string;
  readonly fingerprint: string;
  readonly metric: string;
  readonly labels: Labels;
  readonly seriesId?: number | null;
  readonly state: AlertState;
  readonly severity: Severity;
  readonly startsAt: number;
  readonly endsAt?: number | null;
  /** When this observation was made. An upsert older than the stored one is ignored. */
  readonly at: number;
  readonly score: number;
  readonly reasons: readonly string[];
  readonly owner?: string | null;
  readonly runbook?: string | null;
  /** The triage packet, any JSON value. */
  readonly packet?: unknown;
  readonly configVersion?: number | null;
}

export interface Alert {
  readonly tenant: string;
  readonly fingerprint: string;
  readonly metric: string;
  readonly labels: Labels;
  readonly seriesId: number | null;
  readonly state: AlertState;
  readonly severity: Severity;
  readonly startsAt: number;
  readonly endsAt: number | null;
  readonly updatedAt: number;
  readonly score: number;
  readonly reasons: readonly string[];
  readonly owner: string | null;
  readonly runbook: string | null;
  readonly packet: unknown;
  readonly configVersion: number | null;
}

/** One row of an alert's history: written when it is created and when its state or severity changes. */
export interface AlertTransition {
  readonly t: number;
  readonly state: AlertState;
  readonly severity: Severity;
  readonly score: number;
}

export interface AlertUpsert {
  readonly alert: Alert;
  readonly created: boolean;
  /** True when the state or severity changed (a history row was written). */
  readonly transitioned: boolean;
  /** True when the input was older than the stored alert and was ignored. */
  readonly stale: boolean;
  readonly previousState: AlertState | null;
}

export interface AlertBatchResult {
  /** Inputs written (an alert changed twice in one batch counts twice). */
  readonly written: number;
  /** Inputs older than the stored alert, ignored. */
  readonly stale: number;
}

export interface AlertQuery {
  readonly tenant: string;
  readonly states?: readonly AlertState[];
  readonly severities?: readonly Severity[];
  readonly owner?: string;
  /** Over the alert's labels and `__name__` (its metric). */
  readonly matchers?: readonly Matcher[];
  readonly limit?: number;
  /**
   * Lists read thousands of alerts and a packet can be kilobytes: true asks for `packet` cut to
   * `{suppressions, heldReason}` (what a list shows). An implementation may return it whole.
   */
  readonly summary?: boolean;
  /** Skip this many matching alerts first (the next page of a list). */
  readonly offset?: number;
  /** `recent` (the default): newest `startsAt` first; `severity`: worst severity (S3) first, then newest (the triage order). */
  readonly order?: AlertOrder;
  /** The alert's `service` label (else its `exported_service`). */
  readonly service?: string;
  /**
   * Words that must all occur, case-insensitively, in the metric, fingerprint, owner, reasons,
   * labels (a word `name=value` matches a label pair) or why it was held.
   */
  readonly text?: string;
  /** true: only alerts something held back (a suppression, or the impact gate); false: only the others. */
  readonly held?: boolean;
}

export type AlertOrder = 'recent' | 'severity';
export const ALERT_ORDERS: readonly AlertOrder[] = ['recent', 'severity'];

/** What a list's counts need: how many alerts per (state, severity, held), and the values to filter by. */
export interface AlertCounts {
  readonly groups: readonly { readonly state: AlertState; readonly severity: Severity; readonly held: boolean; readonly n: number }[];
  /** Distinct owners and services with how many alerts each, most first. */
  readonly owners: readonly { readonly value: string; readonly n: number }[];
  readonly services: readonly { readonly value: string; readonly n: number }[];
}

export interface AlertStore {
  /** Idempotent upsert keyed by (tenant, fingerprint). */
  upsert(input: AlertInput): Promise<AlertUpsert>;
  /**
   * Applies `inputs` in order as `upsert` would (stale ones ignored, a history row per state or
   * severity change), in one transaction: a flush of thousands of changed alerts at shutdown
   * costs one commit instead of one each. All or nothing: an invalid input writes none.
   */
  upsertMany(inputs: readonly AlertInput[]): Promise<AlertBatchResult>;
  get(tenant: string, fingerprint: string): Promise<Alert | undefined>;
  /** Newest `startsAt` first (or as `query.order` says). */
  list(query: AlertQuery): Promise<Alert[]>;
  /**
   * Counts over the alerts matching `query` (limit, offset, order and summary are ignored), in
   * one grouped read, so a list can show totals without reading every alert.
   */
  counts(query: AlertQuery): Promise<AlertCounts>;
  /** Oldest first. */
  history(tenant: string, fingerprint: string): Promise<AlertTransition[]>;
}

// ---------------------------------------------------------------------------------------------
// Notification log

export interface NotificationInput {
  readonly tenant: string;
  readonly fingerprint: string;
  readonly channel: string;
  /** The alert state this notification announced. */
  readonly alertState: AlertState;
  readonly status: NotificationStatus;
  readonly attempt: number;
  readonly at: number;
  readonly error?: string | null;
  /**
   * Makes `record` idempotent: a second record with the same key (per tenant) stores nothing
   * and returns the first. Derive it from what the notification is about (alert, transition,
   * channel, attempt), so a cluster worker replaying a partition logs each send once.
   */
  readonly idempotencyKey?: string | null;
}

export interface NotificationRecord extends Required<NotificationInput> {
  readonly id: number;
  readonly error: string | null;
  readonly idempotencyKey: string | null;
  /** The dispatch this row logs (rows written by `intend` and `settle`), else null. */
  readonly dispatchId: string | null;
}

/**
 * One dispatch on some of its channels, as intents and settlements name it. The log keeps a row
 * per alert per channel, keyed by (dispatch id, channel, fingerprint): writing the same dispatch
 * again, from this process or another worker, finds its rows instead of adding some.
 */
export interface NotificationDispatch {
  readonly tenant: string;
  /** The dispatch's stable id: the same on every worker that sends it (Dispatch.id). */
  readonly dispatchId: string;
  /** `receiver/integration` of each channel. */
  readonly channels: readonly string[];
  /** The alerts it announces, with the state announced for each. */
  readonly alerts: readonly { readonly fingerprint: string; readonly alertState: AlertState }[];
  readonly at: number;
}

/** An intent: recorded before the send, so that whoever owns the alerts next can send it again if it never settles. */
export interface NotificationIntent extends NotificationDispatch {
  /** What a re-send needs, as JSON (kept until every row of the dispatch is settled). */
  readonly payload: unknown;
}

/** The outcome of a dispatch on its channels. */
export interface NotificationSettlement extends NotificationDispatch {
  readonly status: 'sent' | 'failed';
  readonly attempt: number;
  readonly error?: string | null;
}

/** A dispatch with rows still pending: what a restart or a new owner sends again, with the same id. */
export interface PendingNotification {
  readonly tenant: string;
  readonly dispatchId: string;
  /** Its channels with a pending row, sorted. */
  readonly channels: readonly string[];
  /** The alerts of those rows, sorted. */
  readonly fingerprints: readonly string[];
  readonly payload: unknown;
  /** When the oldest of its pending rows was recorded. */
  readonly at: number;
}

export interface NotificationQuery {
  readonly tenant: string;
  readonly fingerprint?: string;
  readonly channel?: string;
  readonly status?: NotificationStatus;
  readonly from?: number;
  readonly to?: number;
  readonly limit?: number;
}

export interface NotificationStore {
  /** Appends to the log; with an `idempotencyKey` already recorded, returns that record instead. */
  record(input: NotificationInput): Promise<NotificationRecord>;
  /**
   * Appends every input in one transaction (all or nothing), skipping those whose
   * `idempotencyKey` is already recorded (or repeats one earlier in the batch). Returns how many were stored.
   */
  recordMany(inputs: readonly NotificationInput[]): Promise<number>;
  /** Newest first. */
  list(query: NotificationQuery): Promise<NotificationRecord[]>;
  /** The newest `sent` record for this alert and channel: what the notifier dedupes against. */
  lastSent(tenant: string, fingerprint: string, channel: string): Promise<NotificationRecord | undefined>;
  /**
   * Records intents in one transaction: a `pending` row (attempt 0) per alert and channel, and
   * the payload. Rows the log holds already (the same dispatch, channel and alert, in any
   * status) are left as they are, so re-recording a settled dispatch stores nothing. Returns
   * the rows stored.
   */
  intend(intents: readonly NotificationIntent[]): Promise<number>;
  /**
   * Settles dispatches in one transaction, row by row (stored when the intent was not): a row
   * once `sent` stays sent (a late failure or a second worker's outcome does not undo it); `failed`
   * replaces `pending` or an earlier failure. A payload is dropped with the dispatch's last
   * pending row. Returns the rows stored or changed.
   */
  settle(settlements: readonly NotificationSettlement[]): Promise<number>;
  /** Dispatches of a tenant with pending rows recorded before `before` (default: all), oldest first. */
  pending(query: { readonly tenant: string; readonly before?: number; readonly limit?: number }): Promise<PendingNotification[]>;
}

// ---------------------------------------------------------------------------------------------
// Silences, acks, feedback

export interface SilenceInput {
  readonly tenant: string;
  /** Give an id to update that silence (or to make a retried create idempotent). */
  readonly id?: string;
  readonly matchers: readonly Matcher[];
  readonly startsAt: number;
  readonly endsAt: number;
  readonly createdBy: string;
  readonly reason: string;
  /** A recurrence rule (any JSON); `alert/` interprets it inside [startsAt, endsAt). */
  readonly recurrence?: unknown;
}

export interface Silence {
  readonly id: string;
  readonly tenant: string;
  readonly matchers: readonly Matcher[];
  readonly startsAt: number;
  readonly endsAt: number;
  readonly createdBy: string;
  readonly reason: string;
  readonly recurrence: unknown;
  readonly createdAt: number;
}

export interface SilenceQuery {
  readonly tenant: string;
  /** Only silences with startsAt <= activeAt < endsAt (recurrence not applied). */
  readonly activeAt?: number;
}

export interface SilenceStore {
  /** Creates a silence, or replaces the one with `input.id`. */
  put(input: SilenceInput): Promise<Silence>;
  get(tenant: string, id: string): Promise<Silence | undefined>;
  /** By startsAt, then id. */
  list(query: SilenceQuery): Promise<Silence[]>;
  /** Ends a silence at `at` (no-op if it already ended). Undefined when there is no such silence. */
  expire(tenant: string, id: string, at: number): Promise<Silence | undefined>;
}

export interface AckInput {
  readonly tenant: string;
  readonly fingerprint: string;
  readonly by: string;
  readonly at: number;
  readonly ttlMs: number;
  readonly comment?: string | null;
}

export interface Ack {
  readonly id: number;
  readonly tenant: string;
  readonly fingerprint: string;
  readonly by: string;
  readonly at: number;
  readonly expiresAt: number;
  readonly comment: string | null;
  readonly clearedAt: number | null;
}

export interface AckStore {
  /** Records an ack. The same (tenant, fingerprint, by, at) again returns the stored ack. */
  add(input: AckInput): Promise<Ack>;
  /** Acks in force at `at` (not cleared before `at`, not expired), for one alert or all of a tenant's. */
  active(tenant: string, at: number, fingerprint?: string): Promise<Ack[]>;
  /** Clears the acks of an alert in force at `at`; returns how many. */
  clear(tenant: string, fingerprint: string, at: number): Promise<number>;
  /** Every ack of an alert, oldest first. */
  history(tenant: string, fingerprint: string): Promise<Ack[]>;
}

export interface FeedbackInput {
  readonly tenant: string;
  readonly fingerprint: string;
  readonly label: FeedbackLabel;
  readonly by: string;
  readonly at: number;
  readonly comment?: string | null;
}

export interface Feedback extends Required<FeedbackInput> {
  readonly comment: string | null;
}

export interface FeedbackQuery {
  readonly tenant: string;
  readonly fingerprint?: string;
  readonly label?: FeedbackLabel;
  readonly from?: number;
  readonly to?: number;
}

export interface FeedbackStore {
  /** One label per person per alert: a newer one replaces it, an older one is ignored. */
  put(input: FeedbackInput): Promise<Feedback>;
  /** Oldest first. */
  list(query: FeedbackQuery): Promise<Feedback[]>;
}

// ---------------------------------------------------------------------------------------------
// Config versions and audit log

export interface ConfigInput {
  readonly tenant: string;
  readonly yaml: string;
  readonly author: string;
  readonly at: number;
  readonly comment?: string | null;
  /** The version this edit was based on (0 for the first). A mismatch rejects with TM_ERR_CONFLICT. */
  readonly baseVersion?: number;
  /** Written to the audit log with the new version. */
  readonly diff?: string | null;
}

export interface ConfigVersion {
  readonly tenant: string;
  readonly version: number;
  readonly yaml: string;
  readonly author: string;
  readonly at: number;
  readonly comment: string | null;
}

export interface ConfigStore {
  /**
   * Stores the next version (1, 2, ...) and an audit entry (`config.put`) in one transaction.
   * YAML identical to the latest version stores nothing and returns the latest.
   */
  put(input: ConfigInput): Promise<{ config: ConfigVersion; created: boolean }>;
  get(tenant: string, version: number): Promise<ConfigVersion | undefined>;
  latest(tenant: string): Promise<ConfigVersion | undefined>;
  /** Newest first. */
  list(tenant: string, limit?: number): Promise<ConfigVersion[]>;
}

export interface AuditInput {
  readonly tenant: string;
  readonly at: number;
  readonly actor: string;
  /** A dotted verb, e.g. `silence.create`, `config.put`, `token.revoke`. */
  readonly action: string;
  /** What was changed, e.g. `silence/3f2a`, `config/v7`. */
  readonly target: string;
  readonly diff?: string | null;
}

export interface AuditEntry extends Required<AuditInput> {
  readonly id: number;
  readonly diff: string | null;
}

export interface AuditQuery {
  readonly tenant: string;
  readonly from?: number;
  readonly to?: number;
  readonly actor?: string;
  readonly action?: string;
  readonly limit?: number;
}

export interface AuditStore {
  add(input: AuditInput): Promise<AuditEntry>;
  /** Newest first. */
  list(query: AuditQuery): Promise<AuditEntry[]>;
}

// ---------------------------------------------------------------------------------------------
// Detector-state checkpoints

export interface Checkpoint {
  readonly seriesId: number;
  /** The ingest sequence number the state covers: replay resumes after it. */
  readonly seq: number;
  readonly blob: Uint8Array;
  readonly at: number;
}

export interface CheckpointStore {
  /**
   * Writes checkpoints in one transaction. One whose `seq` is lower than the stored one is
   * skipped (a slow worker cannot roll state back). Returns how many were written.
   */
  put(checkpoints: readonly Checkpoint[]): Promise<number>;
  get(seriesId: number): Promise<Checkpoint | undefined>;
  /** The stored checkpoints among `seriesIds` (absent ids are left out). */
  getMany(seriesIds: readonly number[]): Promise<Map<number, Checkpoint>>;
}

// ---------------------------------------------------------------------------------------------

/** Options every implementation accepts; each adds its own (a path, a connection string). */
export interface StoreOptions {
  /** The clock for bookkeeping timestamps (createdAt). Default Date.now. */
  readonly now?: () => number;
  readonly retention?: Partial<RetentionPolicy>;
}

/** Everything Tidemark persists, grouped by domain. */
export interface Store {
  readonly tenants: TenantStore;
  readonly tokens: TokenStore;
  readonly series: SeriesStore;
  readonly samples: SampleStore;
  readonly changes: ChangeStore;
  readonly alerts: AlertStore;
  readonly notifications: NotificationStore;
  readonly silences: SilenceStore;
  readonly acks: AckStore;
  readonly feedback: FeedbackStore;
  readonly config: ConfigStore;
  readonly audit: AuditStore;
  readonly checkpoints: CheckpointStore;
  /** Waits for pending writes, then releases the database. Further calls reject. */
  close(): Promise<void>;
}
