/**
 * Backtest: "what would this config have alerted and paged over that period?", answered by the
 * live pipeline itself. Recorded samples of the selected series are read from a store and fed,
 * in time order, into a fresh engine (detectors, alert lifecycle, grouping, silences,
 * inhibition, budgets, impact gates, maintenance windows: the code `tidemark serve` runs) over a
 * scratch in-memory store, driven by a simulated clock. The clock stops at every sample time and
 * at every deadline of the alert stage in between (group_wait, group_interval, escalations,
 * budget summaries), exactly where live timers would fire. Notifications go to a sink that only
 * counts them, and alerts land in the scratch store, so nothing is sent and no live alert is
 * written.
 *
 * What differs from live, by design: detectors start fresh at `from - warmupMs` (the warm-up
 * points teach the models but do not alert), acknowledgements are not replayed (they are people,
 * not config), and points of one sample time are judged in series-id order (live: arrival order).
 */
import type { Dispatch, Suppression } from '../alert/index.ts';
import { loadConfig } from '../config/index.ts';
import { TidemarkError } from '../errors.ts';
import { IngestBatch } from '../ingest/index.ts';
import { openSqliteStore, SEVERITIES, type AlertInput, type AlertState, type Labels, type Matcher, type Series, type Severity, type Store } from '../store/index.ts';
import { createEngine } from './engine.ts';

/** Defaults of `BacktestOptions`, with units. */
export const BACKTEST_DEFAULTS = Object.freeze({
  warmupMs: 24 * 3_600_000, // 1 day of history teaches the models before `from`
  maxSeries: 5_000,
  maxPoints: 5_000_000, // samples read at most (warm-up included), ~80 MB of columns
  maxRangeMs: 31 * 86_400_000, // 31 days
});

const DAY = 86_400_000;
const YIELD_MS = 20; // longest stretch of work between two turns of the event loop
const NOTIFYING: ReadonlySet<Dispatch['kind']> = new Set(['notify', 'escalation', 'summary']);

/** Which config the backtest runs: the tenant's current one, a stored version, or YAML not saved. */
export type BacktestConfig = { readonly kind: 'current' } | { readonly kind: 'version'; readonly version: number } | { readonly kind: 'yaml'; readonly yaml: string };

export interface BacktestOptions {
  /** Where recorded samples, silences and config versions are read from; never written. */
  readonly source: Store;
  readonly tenant: string;
  readonly config?: BacktestConfig;
  /** Series selection over `__name__` and labels; empty selects every series of the tenant. */
  readonly matchers: readonly Matcher[];
  /** The period judged, from <= t < to (ms). */
  readonly from: number;
  readonly to: number;
  /** History before `from` fed to the detectors first, without alerting (ms). */
  readonly warmupMs?: number;
  /** The server's alert policy (AlertingOptions.policy), under the config's `alerting:` section. */
  readonly policy?: unknown;
  readonly maxSeries?: number;
  readonly maxPoints?: number;
  readonly maxRangeMs?: number;
  /** Stops the run between two sample times (TM_ERR_INPUT is not right for that: the caller went away). */
  readonly signal?: AbortSignal;
}

/** One alert episode (a fingerprint opens one each time it leaves `resolved`). */
export interface BacktestAlert {
  readonly fingerprint: string;
  readonly metric: string;
  readonly labels: Labels;
  /** The series id in the source store. */
  readonly seriesId: number | null;
  readonly rule: string;
  /** State at the end of the period. */
  readonly state: AlertState;
  readonly severity: Severity;
  readonly startsAt: number;
  readonly endsAt: number | null;
  /** When it started firing; null: it cleared while pending. */
  readonly firingAt: number | null;
  readonly score: number;
  readonly reasons: readonly string[];
  readonly owner: string | null;
  readonly configVersion: number | null;
  /** Why it did not page: the gate's reason (held at S1 for lack of impact), if any. */
  readonly heldReason: string | null;
  readonly suppressions: readonly Suppression[];
  /** Announced to a receiver as a page (S2+). */
  readonly paged: boolean;
}

export interface BacktestDay {
  /** UTC midnight (ms). */
  readonly day: number;
  /** Episodes that started firing that day, and per severity. */
  readonly alerts: number;
  readonly bySeverity: Record<Severity, number>;
  /** Notifications that paged (S2+ notify/escalation), and all notifications (summaries included). */
  readonly pages: number;
  readonly notifications: number;
  /** Episodes that opened and cleared while pending (the rule's `for` held them). */
  readonly cleared: number;
}

export interface BacktestResult {
  readonly tenant: string;
  readonly from: number;
  readonly to: number;
  /** The config version run; for unsaved YAML, the version it would get. */
  readonly configVersion: number | null;
  readonly draft: boolean;
  readonly series: number;
  /** Samples judged in [from, to) and fed as warm-up before it. */
  readonly points: number;
  readonly warmupPoints: number;
  readonly totals: { readonly alerts: number; readonly pages: number; readonly notifications: number; readonly cleared: number; readonly bySeverity: Record<Severity, number>; readonly suppressed: Record<string, number> };
  readonly days: readonly BacktestDay[];
  /** Every episode, oldest first. */
  readonly alerts: readonly BacktestAlert[];
  /** Every notification the pipeline produced (what would have been sent), oldest first. */
  readonly dispatches: readonly BacktestDispatch[];
  readonly elapsedMs: number;
}

export interface BacktestDispatch {
  readonly id: string;
  readonly at: number;
  readonly receiver: string;
  readonly kind: Dispatch['kind'];
  readonly status: 'firing' | 'resolved';
  readonly severity: Severity;
  readonly page: boolean;
  readonly fingerprints: readonly string[];
}

/** A column of points of one series, as read from the source store. */
interface Feed {
  readonly series: Series;
  readonly flat: string[];
  readonly t: Float64Array;
  readonly v: Float64Array;
  i: number;
}

/**
 * Runs a backtest (see the file comment). Rejects with TM_ERR_INPUT naming the field for a bad
 * range, selector result or config, and TM_ERR_CONFIG listing the problems of unsaved YAML.
 * @example const r = await runBacktest({ source: store, tenant: 'default', matchers: [], from, to });
 */
export async function runBacktest(o: BacktestOptions): Promise<BacktestResult> {
  const started = performance.now();
  const maxSeries = o.maxSeries ?? BACKTEST_DEFAULTS.maxSeries;
  const maxPoints = o.maxPoints ?? BACKTEST_DEFAULTS.maxPoints;
  const maxRangeMs = o.maxRangeMs ?? BACKTEST_DEFAULTS.maxRangeMs;
  const warmupMs = o.warmupMs ?? BACKTEST_DEFAULTS.warmupMs;
  if (!Number.isSafeInteger(o.from) || o.from < 0) throw new TidemarkError('TM_ERR_INPUT', `expected a time in ms since the epoch, got ${o.from}`, 'from');
  if (!Number.isSafeInteger(o.to) || o.to <= o.from) throw new TidemarkError('TM_ERR_INPUT', 'to must be after from', 'to');
  if (o.to - o.from > maxRangeMs) throw new TidemarkError('TM_ERR_INPUT', `the range is ${fmtDays(o.to - o.from)}, more than the limit of ${fmtDays(maxRangeMs)}; backtest a shorter period`, 'to');
  if (!Number.isSafeInteger(warmupMs) || warmupMs < 0) throw new TidemarkError('TM_ERR_INPUT', `expected a non-negative duration in ms, got ${warmupMs}`, 'warmup');

  const { source, tenant } = o;
  if (!(await source.tenants.get(tenant))) throw new TidemarkError('TM_ERR_NOT_FOUND', `no tenant ${tenant} in the store`, 'tenant');
  const versions = await configVersions(source, tenant, o.config ?? { kind: 'current' });

  const found = await source.series.find(tenant, o.matchers, maxSeries + 1);
  if (found.length > maxSeries) throw new TidemarkError('TM_ERR_INPUT', `the selector matches more than ${maxSeries} series; narrow it`, 'selector');
  // Intern order is first-seen order, which is the order live batches judged them in.
  found.sort((a, b) => a.id - b.id);
  const start = o.from - warmupMs;
  const feeds: Feed[] = [];
  let total = 0;
  for (const s of found) {
    const r = await source.samples.range(tenant, s.id, start, o.to, maxPoints - total + 1);
    total += r.t.length;
    if (total > maxPoints) throw new TidemarkError('TM_ERR_INPUT', `more than ${maxPoints} samples in the range (warm-up included); narrow the selector or the range`, 'selector');
    if (r.t.length === 0) continue;
    const flat: string[] = [];
    for (const [k, v] of Object.entries(s.labels)) flat.push(k, v);
    feeds.push({ series: s, flat, t: r.t, v: r.v, i: 0 });
  }

  let now = start;
  const scratch = await openSqliteStore({ path: ':memory:', groupCommit: false, now: () => now });
  const dispatches: BacktestDispatch[] = [];
  const upserts: AlertInput[] = [];
  try {
    await scratch.tenants.create({ id: tenant, name: tenant });
    for (const v of versions.stored) await scratch.config.put({ tenant, yaml: v.yaml, author: v.author, at: v.at, comment: v.comment, baseVersion: v.version - 1 });
    // Silences are replayed with their own times: the stage applies each only while it is active.
    for (const s of await source.silences.list({ tenant })) {
      await scratch.silences.put({ tenant, id: s.id, matchers: s.matchers, startsAt: s.startsAt, endsAt: s.endsAt, createdBy: s.createdBy, reason: s.reason, recurrence: s.recurrence });
    }
    const recorder: Store = { ...storeParts(scratch), alerts: {
      upsert: (i) => (upserts.push(i), scratch.alerts.upsert(i)),
      upsertMany: (is) => (upserts.push(...is), scratch.alerts.upsertMany(is)),
      get: (t, fp) => scratch.alerts.get(t, fp),
      list: (q) => scratch.alerts.list(q),
      counts: (q) => scratch.alerts.counts(q),
      history: (t, fp) => scratch.alerts.history(t, fp),
    } };
    const engine = await createEngine({
      store: recorder,
      clock: () => now,
      checkpointIntervalMs: 0,
      sweepIntervalMs: 0,
      maxReplay: 0,
      alerting: {
        ...(o.policy !== undefined && { policy: o.policy }),
        packets: false,
        sink: (d) => dispatches.push({ id: d.id, at: d.at, receiver: d.receiver, kind: d.kind, status: d.status, severity: d.severity, page: d.page, fingerprints: d.alerts.map((a) => a.fingerprint) }),
      },
    });
    const idOf = new Map<number, number>();
    let judged = 0;
    let warm = 0;
    try {
      if (versions.draft !== undefined) await engine.putConfig(versions.draft, 'backtest', 'unsaved draft', 'config');
      const al = engine.alerting!;
      const batch = new IngestBatch({ now: () => now, maxFutureMs: 0, seriesCacheSize: 0 });
      // Runs the alert stage's timers due up to (and including) `t`, each at its own time.
      const until = (t: number) => {
        for (let guard = 0; guard < 1_000_000; guard++) {
          const d = al.stage.nextDeadline();
          if (d > t) break;
          if (d > now) now = d;
          al.pump();
          if (al.stage.nextDeadline() <= now) break; // nothing left that this clock reading can run
        }
        now = Math.max(now, t);
      };
      let yielded = performance.now();
      for (;;) {
        let t = Infinity;
        for (const f of feeds) if (f.i < f.t.length && f.t[f.i] < t) t = f.t[f.i];
        if (t === Infinity) break;
        // The embedded store answers synchronously, so without this a run would hold the event
        // loop (ingest, the API) for its whole length. Between sample times, every due timer has
        // run: a live timer of the wiring firing here finds nothing to do.
        if (performance.now() - yielded > YIELD_MS) {
          await new Promise((r) => setImmediate(r));
          yielded = performance.now();
        }
        if (o.signal?.aborted) throw new TidemarkError('TM_ERR_INPUT', 'the backtest was cancelled', 'signal');
        const live = t >= o.from;
        if (live) until(t);
        else now = t;
        batch.reset();
        for (const f of feeds) {
          while (f.i < f.t.length && f.t[f.i] === t) {
            const v = f.v[f.i++];
            if (v !== v) continue; // a stored gap
            batch.addSample(batch.openSeries(f.series.metric, f.flat, f.flat.length, 'gauge', 1), t, v);
          }
        }
        if (batch.length === 0) continue;
        await engine.ingest(tenant, batch, live ? 'live' : 'replay');
        if (live) {
          judged += batch.length;
          al.pump();
        } else warm += batch.length;
      }
      until(o.to - 1);
      now = Math.max(now, o.to - 1);
      for (const f of feeds) {
        const info = engine.seriesInfo(tenant, keyOf(f.series));
        if (info) idOf.set(info.id, f.series.id);
      }
    } finally {
      await engine.close();
    }
    return summarise(o, versions, feeds.length, judged, warm, upserts, dispatches, idOf, performance.now() - started);
  } finally {
    await scratch.close();
  }
}

/** The canonical series key the ingest batch builds (metric, then sorted labels). */
function keyOf(s: Series): string {
  const b = new IngestBatch({ seriesCacheSize: 0 });
  const flat: string[] = [];
  for (const [k, v] of Object.entries(s.labels)) flat.push(k, v);
  return b.seriesKey(b.openSeries(s.metric, flat, flat.length, 'gauge', 0));
}

interface Versions {
  readonly stored: { version: number; yaml: string; author: string; at: number; comment: string | null }[];
  readonly draft: string | undefined;
  readonly version: number | null;
}

/**
 * The config versions the scratch store gets: every stored version up to the one run, so the
 * alerts carry the same version numbers as live; unsaved YAML becomes the next version.
 */
async function configVersions(source: Store, tenant: string, c: BacktestConfig): Promise<Versions> {
  const all = (await source.config.list(tenant)).sort((a, b) => a.version - b.version);
  const latest = all.length > 0 ? all[all.length - 1].version : 0;
  if (c.kind === 'current') return { stored: all, draft: undefined, version: latest || null };
  if (c.kind === 'version') {
    if (!all.some((v) => v.version === c.version)) {
      throw new TidemarkError('TM_ERR_INPUT', all.length === 0 ? `tenant ${tenant} has no stored config` : `no config version ${c.version}; stored versions are 1 to ${latest}`, 'configVersion');
    }
    return { stored: all.filter((v) => v.version <= c.version), draft: undefined, version: c.version };
  }
  const { config, errors } = loadConfig(c.yaml, 'config');
  if (!config) {
    const lines = errors.map((e) => `${e.path || '(root)'}${e.line === undefined ? '' : ` (line ${e.line})`}: ${e.message}`);
    throw new TidemarkError('TM_ERR_CONFIG', `${errors.length} problem(s) in the config:\n  ${lines.join('\n  ')}`, errors[0]?.path ? `config.${errors[0].path}` : 'config');
  }
  if (config.tenant !== tenant) throw new TidemarkError('TM_ERR_INPUT', `the config is for tenant ${config.tenant}, not ${tenant}`, 'config.tenant');
  const same = all.length > 0 && all[all.length - 1].yaml === c.yaml;
  return { stored: all, draft: same ? undefined : c.yaml, version: same ? latest : latest + 1 };
}

function summarise(o: BacktestOptions, versions: Versions, series: number, judged: number, warm: number, upserts: AlertInput[], dispatches: BacktestDispatch[], idOf: Map<number, number>, elapsedMs: number): BacktestResult {
  // Episodes: the last upsert of each (fingerprint, startsAt) holds its final state.
  const episodes = new Map<string, AlertInput>();
  for (const u of upserts) episodes.set(`${u.fingerprint}\u0000${u.startsAt}`, u);
  const alerts: BacktestAlert[] = [];
  for (const u of episodes.values()) {
    const p = (u.packet ?? {}) as { rule?: string; firingAt?: number | null; heldReason?: string | null; suppressions?: Suppression[] };
    const firingAt = typeof p.firingAt === 'number' && p.firingAt >= u.startsAt ? p.firingAt : null;
    alerts.push({
      fingerprint: u.fingerprint, metric: u.metric, labels: u.labels,
      seriesId: u.seriesId == null ? null : idOf.get(u.seriesId) ?? null,
      rule: p.rule ?? '', state: u.state, severity: u.severity, startsAt: u.startsAt, endsAt: u.endsAt ?? null, firingAt,
      score: u.score, reasons: u.reasons, owner: u.owner ?? null, configVersion: u.configVersion ?? null,
      heldReason: p.heldReason ?? null, suppressions: p.suppressions ?? [],
      // A page names the fingerprint; the episode it paged for is the one firing at the time.
      paged: firingAt !== null && dispatches.some((d) => d.page && d.status === 'firing' && d.at >= firingAt && (u.endsAt == null || d.at <= u.endsAt) && (d.kind === 'notify' || d.kind === 'escalation') && d.fingerprints.includes(u.fingerprint)),
    });
  }
  alerts.sort((a, b) => a.startsAt - b.startsAt || (a.fingerprint < b.fingerprint ? -1 : 1));
  const zero = (): Record<Severity, number> => Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  const days = new Map<number, { day: number; alerts: number; bySeverity: Record<Severity, number>; pages: number; notifications: number; cleared: number }>();
  const dayOf = (t: number) => {
    const d = Math.floor(t / DAY) * DAY;
    let x = days.get(d);
    if (!x) days.set(d, (x = { day: d, alerts: 0, bySeverity: zero(), pages: 0, notifications: 0, cleared: 0 }));
    return x;
  };
  for (let d = Math.floor(o.from / DAY) * DAY; d < o.to; d += DAY) dayOf(d);
  const totals = { alerts: 0, pages: 0, notifications: 0, cleared: 0, bySeverity: zero(), suppressed: {} as Record<string, number> };
  for (const a of alerts) {
    if (a.firingAt === null) {
      if (a.state === 'resolved') {
        dayOf(a.startsAt).cleared++;
        totals.cleared++;
      }
      continue;
    }
    const x = dayOf(a.firingAt);
    x.alerts++;
    x.bySeverity[a.severity]++;
    totals.alerts++;
    totals.bySeverity[a.severity]++;
    for (const s of a.suppressions) totals.suppressed[s.kind] = (totals.suppressed[s.kind] ?? 0) + 1;
  }
  for (const d of dispatches) {
    if (!NOTIFYING.has(d.kind) || d.status !== 'firing') continue;
    const x = dayOf(d.at);
    x.notifications++;
    totals.notifications++;
    if (d.page && d.kind !== 'summary') {
      x.pages++;
      totals.pages++;
    }
  }
  return {
    tenant: o.tenant, from: o.from, to: o.to, configVersion: versions.version, draft: versions.draft !== undefined,
    series, points: judged, warmupPoints: warm, totals,
    days: [...days.values()].sort((a, b) => a.day - b.day),
    alerts, dispatches, elapsedMs: Math.round(elapsedMs),
  };
}

function fmtDays(ms: number): string {
  const d = ms / DAY;
  return `${Number.isInteger(d) ? d : d.toFixed(1)} days`;
}

/** The store's domain objects, methods bound (a class instance does not spread). */
function storeParts(s: Store): Store {
  return {
    tenants: s.tenants, tokens: s.tokens, series: s.series, samples: s.samples, changes: s.changes, alerts: s.alerts,
    notifications: s.notifications, silences: s.silences, acks: s.acks, feedback: s.feedback, config: s.config,
    audit: s.audit, checkpoints: s.checkpoints, close: () => s.close(),
  };
}
