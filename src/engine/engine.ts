/**
 * The engine: the one place that wires the stages in order. A decoded batch (ingest) becomes
 * live series (interned, admitted by the tenant's limits, restored from checkpoints), each
 * point is judged by its series' detector set (detect), and samples plus bands go to the store
 * before the caller acknowledges anything. Judged points of live batches then go to the alert
 * stage (see alerting.ts), which groups, gates and notifies.
 */
import { configDiff, inMaintenance, loadConfig, type TenantConfig } from '../config/index.ts';
import { newFusedVerdict, restoreState, type DetectorSet, type FusedVerdict } from '../detect/index.ts';
import { TidemarkError } from '../errors.ts';
import { STALE_FLAG, type IngestBatch } from '../ingest/index.ts';
import type { ChangeEvent, ChangeInput, Checkpoint, ConfigVersion, Labels, Store } from '../store/index.ts';
import { DEFAULT_RETENTION } from '../store/index.ts';
import { AGGREGATE_DEFAULTS, contributorsOf, type AggGroup, type AggregateDrill, type ClosedWindow, type RuleAggregator } from './aggregate.ts';
import { Alerting } from './alerting.ts';
import { MultivariateStage } from './multivariate.ts';
import { BINARY_CHECKPOINT, decodeCheckpoint, encodeCheckpoint } from './checkpoint.ts';
import { checkpointState, hold, resume, SeriesEntry, TenantState, type CompiledRule, type SeriesRefusal } from './tenant.ts';
import type { Anomaly, EngineOptions, IngestOutcome, RejectionCount } from './types.ts';
import type { DrillResult } from '../explain/index.ts';

/** Defaults of `EngineOptions`, with units. */
export const DEFAULT_ENGINE_OPTIONS = Object.freeze({
  checkpointIntervalMs: 60_000, // 1 min: at most this much of the log is replayed on restart
  idleMs: 3600_000, // 1 h: the "active series" window of the limits
  maxAnomalies: 1000, // per tenant
  maxReplay: 20_000, // points per series on restore (a week of 30 s points)
  sweepIntervalMs: 600_000, // 10 min between retention sweeps of the store (rollups, deletes)
});

/** Live: judged points may become anomalies. Replay (backfill, late data): state and history only. */
export type IngestMode = 'live' | 'replay';

/** JSON checkpoints, still read; new ones are binary (checkpoint.ts). */
const CHECKPOINT_FORMAT = 1;
// Series per checkpoint transaction: ~100 x 4.6 KB of state keeps each under ~10 ms, so requests
// interleave with a pass over 100,000 series instead of waiting behind 2 MB transactions.
const CHECKPOINT_CHUNK = 100;
const MV_CHECKPOINT_CHUNK = 8; // entities per transaction: ~8 ms of encoding, ~4 MB
const MAX_EXAMPLES = 5;

interface CheckpointBody {
  format: number;
  lastT: number | null;
  entries: unknown;
  state: unknown;
}

/** Counters the API exports on /metrics. */
export interface EngineStats {
  readonly activeSeries: Map<string, number>;
  /** Clock reading of the last completed checkpoint pass (0: none yet). */
  readonly lastCheckpointAt: number;
  readonly restored: { checkpoint: number; replay: number; new: number };
  readonly replayedSamples: number;
  readonly checkpointsWritten: number;
}

/**
 * Opens an engine on a store: loads each tenant's latest config and notes which series
 * existed before this start (those are restored from checkpoints plus replay when they
 * next receive data). Call `close()` to checkpoint everything before closing the store.
 * @example const engine = await createEngine({ store, clock: Date.now });
 */
export async function createEngine(options: Pick<EngineOptions, 'store' | 'clock'> & Partial<EngineOptions>): Promise<Engine> {
  const o: EngineOptions = { ...DEFAULT_ENGINE_OPTIONS, ...options };
  const engine = new Engine(o);
  await engine.init();
  return engine;
}

export class Engine {
  readonly store: Store;
  readonly clock: () => number;
  readonly options: EngineOptions;
  readonly #tenants = new Map<string, TenantState>();
  /** Series ids at or below this existed before this start: restore them, do not start fresh. */
  #maxIdAtStart = 0;
  /** Ingest sequence: wall-clock based so it keeps growing across restarts (checkpoints never roll back). */
  #seq = Date.now() * 1000;
  readonly #verdict: FusedVerdict = newFusedVerdict();
  readonly #scratch = new Scratch();
  #timer: NodeJS.Timeout | undefined;
  #checkpointing: Promise<number> | undefined;
  #inflight = new Set<Promise<unknown>>();
  #closed = false;
  #lastCheckpointAt = 0;
  #lastSweepAt = 0;
  #checkpointsWritten = 0;
  #replayedSamples = 0;
  readonly #restored = { checkpoint: 0, replay: 0, new: 0 };
  /**
   * False in a cluster worker: raw points do not feed the rule aggregates here, since each
   * aggregate group is fed on its own bus partition (src/cluster/feeds.ts, `judgeAggregates`).
   */
  feedAggregates = true;
  /** False in a cluster worker: each multivariate entity is fed on its own bus partition (src/cluster/feeds.ts). */
  feedMultivariate = true;
  /** Called for every live anomaly. */
  onAnomaly: ((a: Anomaly) => void) | undefined;
  /** Called synchronously with every batch before it is applied (src/engine/backtest-shadow.ts). */
  readonly batchListeners = new Set<(tenant: string, batch: IngestBatch, mode: IngestMode) => void>();
  /** Called after a new config version is stored through `putConfig` (a cluster node announces it to the workers). */
  readonly configListeners = new Set<(tenant: string, version: number) => void>();
  /** The alert -> notify stages; undefined when `options.alerting` is false. */
  readonly alerting: Alerting | undefined;
  /** Isolation Forests over joined series (multivariate.ts), fed every judged live point. */
  readonly multivariate = new MultivariateStage((a) => {
    const ts = this.#tenant(a.tenant);
    ts.anomalies.push(a);
    if (ts.anomalies.length > this.options.maxAnomalies) ts.anomalies.shift();
    ts.anomalyTotal++;
    this.onAnomaly?.(a);
  });

  constructor(options: EngineOptions) {
    this.options = options;
    this.store = options.store;
    this.clock = options.clock;
    this.alerting = options.alerting === false ? undefined : new Alerting(this.store, this.clock, (t) => this.config(t), options.alerting);
    // The packet of an alert on a rule's aggregate shows the drill the engine ran when it closed the window.
    if (this.alerting) this.alerting.triage.builder.aggregateDrill = (tenant, seriesId, at) => this.aggregateDrill(tenant, seriesId, at);
    // Multivariate anomalies alert through the same stage as series verdicts.
    this.multivariate.alerts = this.alerting?.stage;
  }

  /** @internal Called by createEngine. */
  async init(): Promise<void> {
    this.#lastSweepAt = this.clock(); // the first sweep one interval after start
    for (const t of await this.store.tenants.list()) {
      const state = this.#tenant(t.id);
      const latest = await this.store.config.latest(t.id);
      if (latest) {
        const { config, errors } = loadConfig(latest.yaml, `config v${latest.version}`);
        // A stored version was valid when stored; if a newer Tidemark refuses it, run on defaults and say so.
        if (config) state.applyConfig(config, latest.version);
        else process.emitWarning(`tenant ${t.id}: stored config v${latest.version} no longer loads: ${errors[0]?.message}`);
      }
    }
    // Not a listing of every series: at 1M series that built ~0.5 GB of objects at each start.
    this.#maxIdAtStart = await this.store.series.maxId();
    // Forests and reservoirs from the last checkpoints, so they need not learn a day again.
    await this.multivariate.restore(this.store.checkpoints, [...this.#tenants.values()].map((ts) => [ts.id, ts.config] as const));
    await this.alerting?.init([...this.#tenants.keys()], this.options.restoreEvery !== true);
    if (this.options.checkpointIntervalMs > 0) {
      this.#timer = setInterval(() => void this.checkpoint().catch((err) => process.emitWarning(`checkpoint failed: ${(err as Error).message}`)), this.options.checkpointIntervalMs);
      this.#timer.unref();
    }
  }

  #tenant(id: string): TenantState {
    let t = this.#tenants.get(id);
    if (!t) this.#tenants.set(id, (t = new TenantState(id)));
    return t;
  }

  /** The config in force for a tenant and its version (undefined/null: defaults). */
  config(tenant: string): { config: TenantConfig | undefined; version: number | null } {
    const t = this.#tenant(tenant);
    return { config: t.config, version: t.configVersion };
  }

  /**
   * Validates and stores a new config version for its tenant (creating the tenant if needed),
   * with an audit entry carrying the diff, then applies it. Identical YAML stores nothing.
   * Throws TM_ERR_CONFIG listing every problem (the running config stays).
   */
  async putConfig(yaml: string, author: string, comment: string | null, source = '<config>'): Promise<{ version: ConfigVersion; created: boolean; relearning: number }> {
    const { config, errors } = loadConfig(yaml, source);
    if (!config) {
      const lines = errors.map((e) => `${e.path || '(root)'}${e.line === undefined ? '' : ` (line ${e.line})`}: ${e.message}`);
      throw new TidemarkError('TM_ERR_CONFIG', `${errors.length} problem(s) in ${source}:\n  ${lines.join('\n  ')}`, errors[0]?.path || source);
    }
    await this.store.tenants.create({ id: config.tenant, name: config.tenant });
    const previous = await this.store.config.latest(config.tenant);
    const { config: stored, created } = await this.store.config.put({
      tenant: config.tenant,
      yaml,
      author,
      at: this.clock(),
      comment,
      baseVersion: previous?.version ?? 0,
      diff: configDiff(previous?.yaml ?? '', yaml),
    });
    const changed = this.#tenant(config.tenant).applyConfig(config, stored.version);
    if (created) for (const l of this.configListeners) l(config.tenant, stored.version);
    return { version: stored, created, relearning: changed.length };
  }

  /**
   * Applies a decoded batch for a tenant: admits new series, judges points in time order per
   * series, stores samples and bands durably, and records anomalies (live mode only).
   * Resolves once the store has acknowledged the writes.
   */
  ingest(tenant: string, batch: IngestBatch, mode: IngestMode = 'live'): Promise<IngestOutcome> {
    if (this.#closed) return Promise.reject(new TidemarkError('TM_ERR_STORE', 'the engine is shutting down; retry against the restarted server'));
    // Listeners read the batch now (it may be reset once ingest returns); shadow rules ride here.
    for (const l of this.batchListeners) l(tenant, batch, mode);
    let p: Promise<IngestOutcome>;
    try {
      p = this.#ingest(tenant, batch, mode);
    } catch (err) {
      p = Promise.reject(err);
    }
    this.#inflight.add(p);
    const done = () => this.#inflight.delete(p);
    p.then(done, done);
    return p;
  }

  /**
   * Reads the batch only before it returns, so the caller may reset it at once: when every
   * series is live, the whole pass runs now and only the store's commit is awaited; otherwise
   * (new series to intern or restore) the batch is copied first.
   */
  #ingest(tenantId: string, b: IngestBatch, mode: IngestMode): Promise<IngestOutcome> {
    const ts = this.#tenant(tenantId);
    const now = this.clock();
    const rows = b.seriesCount;
    const entries = new Array<SeriesEntry | null>(rows);
    const refusals = new Array<SeriesRefusal | undefined>(rows);
    const missing: number[] = [];
    for (let s = 0; s < rows; s++) {
      // The decoder's series cache keeps each known series' entry: no second lookup by key.
      let e = b.seriesRef(s, ts) as SeriesEntry | undefined;
      if (e === undefined || e.removed) {
        e = ts.series.get(b.seriesKey(s));
        if (e === undefined) {
          missing.push(s);
          continue;
        }
        b.setSeriesRef(s, ts, e);
      }
      entries[s] = e;
      e.lastSeen = now;
    }
    if (missing.length === 0) {
      let ready = true;
      for (let s = 0; s < rows && ready; s++) {
        const e = entries[s]!;
        if (e.ready !== null) ready = false;
        else if (e.id === 0) entries[s] = null; // failed to materialise in another batch
      }
      if (ready) return this.#apply(ts, b, entries, refusals, mode);
    }
    return this.#ingestSlow(ts, new BatchCopy(b), missing, entries, refusals, mode, now);
  }

  async #ingestSlow(ts: TenantState, b: BatchView, missing: number[], entries: (SeriesEntry | null)[], refusals: (SeriesRefusal | undefined)[], mode: IngestMode, now: number): Promise<IngestOutcome> {
    const rows = b.seriesCount;
    if (missing.length > 0) await this.#materialise(ts, b, missing, entries, refusals, now);
    // Series another batch is still interning or restoring: wait for it to finish.
    let waits: Set<Promise<void>> | undefined;
    for (let s = 0; s < rows; s++) {
      const r = entries[s]?.ready;
      if (r) (waits ??= new Set()).add(r);
    }
    if (waits) await Promise.all(waits);
    // A series that failed to materialise in another batch is gone from the map: refuse here too.
    for (let s = 0; s < rows; s++) {
      const e = entries[s];
      if (e && e.id === 0) entries[s] = null;
    }
    return this.#apply(ts, b, entries, refusals, mode);
  }

  /** Creates entries for series not live yet: admission, interning, restore. */
  async #materialise(ts: TenantState, b: BatchView, missing: number[], entries: (SeriesEntry | null)[], refusals: (SeriesRefusal | undefined)[], now: number): Promise<void> {
    const created: SeriesEntry[] = [];
    const keys: { tenant: string; metric: string; labels: Labels }[] = []; // for interning; entries keep only their keys
    for (const s of missing) {
      const key = b.seriesKey(s);
      const raced = ts.series.get(key); // the same new series twice in this batch, or a concurrent batch
      if (raced) {
        entries[s] = raced;
        continue;
      }
      const metric = b.seriesMetric(s);
      const flat = b.seriesLabels(s);
      const labels: Record<string, string> = {};
      for (let j = 0; j < flat.length; j += 2) labels[flat[j]] = flat[j + 1];
      const refusal = ts.admit(metric, labels);
      if (refusal) {
        refusals[s] = refusal;
        entries[s] = null;
        continue;
      }
      const e = new SeriesEntry(0, key, metric, Object.freeze(labels), ts.ruleFor(metric, labels));
      e.lastSeen = now;
      ts.add(e, labels); // counted at once, so the next series of this batch sees the limit
      entries[s] = e;
      created.push(e);
      keys.push({ tenant: ts.id, metric, labels });
    }
    if (created.length === 0) return;
    let release!: () => void;
    const ready = new Promise<void>((r) => (release = r));
    for (const e of created) e.ready = ready;
    try {
      const ids = await this.store.series.intern(keys);
      for (let i = 0; i < created.length; i++) created[i].id = ids[i];
      const old = created.filter((e) => this.options.restoreEvery === true || e.id <= this.#maxIdAtStart);
      if (old.length > 0) await this.#restore(ts, old, now);
      for (const e of created) if (e.origin === 'new') this.#restored.new++;
    } catch (err) {
      for (const e of created) ts.remove(e);
      throw err;
    } finally {
      for (const e of created) e.ready = null;
      release();
    }
  }

  /** Resumes series that existed before this start: their last checkpoint, then the stored samples after it. */
  async #restore(ts: TenantState, list: SeriesEntry[], now: number): Promise<void> {
    const cps = await this.store.checkpoints.getMany(list.map((e) => e.id));
    const out = this.#verdict;
    for (const e of list) {
      const cp = cps.get(e.id);
      if (cp) {
        try {
          // A checkpoint of another detector set (the config changed meanwhile) does not apply.
          if (cp.blob[0] === BINARY_CHECKPOINT) {
            const body = decodeCheckpoint(cp.blob);
            if (body.entries === entriesText(e.rule.set)) {
              // A state of another layout (an older build) throws: replayed below instead.
              e.rule.set.check?.(body.state);
              e.state = body.state;
              e.lastT = body.lastT;
              e.origin = 'checkpoint';
            }
          } else {
            // Format 1 (JSON), written before binary checkpoints.
            const body = JSON.parse(Buffer.from(cp.blob).toString('utf8')) as CheckpointBody;
            if (body.format === CHECKPOINT_FORMAT && JSON.stringify(body.entries) === entriesText(e.rule.set)) {
              const state = restoreState(JSON.stringify(body.state));
              e.rule.set.check?.(state);
              e.state = state;
              e.lastT = body.lastT ?? -Infinity;
              e.origin = 'checkpoint';
            }
          }
        } catch (err) {
          process.emitWarning(`series ${e.id}: checkpoint not restored, replaying history instead: ${(err as Error).message}`);
        }
      }
      const from = e.lastT > -Infinity ? e.lastT + 1 : Math.max(0, now - DEFAULT_RETENTION.rawMs);
      const r = this.options.replayStored === false ? NO_SAMPLES : await this.store.samples.range(ts.id, e.id, from, now + ts.limits.maxFutureSkewMs + 1, this.options.maxReplay);
      // Replay into state only: these points were judged (and stored) before the restart.
      for (let i = 0; i < r.t.length; i++) {
        const v = r.v[i];
        if (v !== v) continue;
        e.lastT = r.t[i];
        if (e.rule.noLearning.length > 0 && inMaintenance(e.rule.noLearning, r.t[i]) !== undefined) {
          hold(e);
          e.rule.set.update(e.state, r.t[i], v, out);
          continue;
        }
        resume(e);
        e.learning = stillLearning(e, e.rule.set.update(e.state, r.t[i], v, out));
      }
      e.replayed = r.t.length;
      this.#replayedSamples += r.t.length;
      if (e.origin === 'new' && r.t.length > 0) e.origin = 'replay';
      if (e.origin !== 'new') this.#restored[e.origin]++;
      e.dirty = r.t.length > 0;
    }
  }

  /** The synchronous per-sample pass and the store writes. */
  #apply(ts: TenantState, b: BatchView, entries: (SeriesEntry | null)[], refusals: (SeriesRefusal | undefined)[], mode: IngestMode): Promise<IngestOutcome> {
    const n = b.length;
    const sids = b.seriesIds;
    const times = b.timestamps;
    const values = b.values;
    const flags = b.flags;
    const order = timeOrder(b, this.#scratch);
    const tolerance = ts.limits.outOfOrderToleranceMs;
    const live = mode === 'live';
    const outcome: IngestOutcome = {
      accepted: 0, duplicates: 0, stale: 0, judged: 0, paused: 0, anomalies: 0,
      rejected: new Map(), rejectedTotal: 0, cardinality: undefined, detectNs: 0, storeMs: 0,
    };
    // Reused for every batch: the store copies them before append returns.
    const { sId, sT, sV, bId, bT, bE, bL, bU, bS } = this.#scratch.reserve(n);
    let k = 0;
    let kb = 0;
    const out = this.#verdict;
    // Alert stage: `watch` says per series id whether every judged point or only anomalies go in.
    const al = live ? this.alerting?.stage : undefined;
    const observed = al?.counters.verdicts ?? 0;
    const aggs = this.feedAggregates && ts.aggregators.length > 0;
    const mv = this.feedMultivariate && (ts.config?.multivariate?.length ?? 0) > 0;
    const started = process.hrtime.bigint();
    for (let j = 0; j < n; j++) {
      const i = order === null ? j : order[j];
      const row = sids[i];
      const e = entries[row];
      if (e === null || e === undefined) {
        const r = refusals[row];
        if (r) this.#reject(outcome, r.reason, `series ${b.seriesKey(row)}`, r.message, r);
        continue;
      }
      const t = times[i];
      if ((flags[i] & STALE_FLAG) !== 0) {
        e.ended = true;
        outcome.stale++;
        continue;
      }
      const v = values[i];
      const range = e.range;
      if (v < range.min || v > range.max) {
        this.#reject(outcome, 'out_of_range', `series ${e.key}`, `${v} is outside the valid range [${e.min}, ${e.max}] of metric ${e.metric}`);
        continue;
      }
      if (t <= e.lastT) {
        // Already judged past this time: a duplicate or a late point. Late points within the
        // tolerance (and any point in replay) are stored for history but not judged, since
        // detector state only moves forward.
        if (live && t < e.lastT - tolerance) {
          this.#reject(outcome, 'too_old', `series ${e.key}`, `sample at ${new Date(t).toISOString()} is older than the newest (${new Date(e.lastT).toISOString()}) minus the out-of-order tolerance of ${tolerance} ms; send history through /api/v1/backfill`);
          continue;
        }
        sId[k] = e.id;
        sT[k] = t;
        sV[k++] = v;
        if (aggs) feed(ts, e, t, v);
        continue;
      }
      if (aggs) feed(ts, e, t, v);
      if (!e.rule.judgeSeries) {
        // Judged through its rule's aggregate only (hierarchical detection): stored for history and
        // the drill. An impact gate may still read it (SLO counters): the stage gets it unjudged.
        if (al !== undefined) {
          let w = e.id < al.watch.length ? al.watch[e.id] : 0;
          if (w === 0) w = al.classify(ts.id, e.id, e.metric, e.labelsNow(), e.rule.name, ts.configVersion);
          if (w === 2) al.observe(ts.id, e.id, e.metric, e.labels, e.rule.name, e.rule.threshold, t, v, NOT_JUDGED, ts.configVersion);
        }
        e.lastT = t;
        e.ended = false;
        sId[k] = e.id;
        sT[k] = t;
        sV[k++] = v;
        continue;
      }
      if (e.rule.noLearning.length > 0 && inMaintenance(e.rule.noLearning, t) !== undefined) {
        // A maintenance window excluded from learning: the point is stored for history and the
        // rules see it, but its verdict is dropped and the models' pre-window states come back
        // afterwards, so the event can neither alert nor become the new baseline.
        hold(e);
        e.rule.set.update(e.state, t, v, out);
        e.lastT = t;
        e.dirty = true;
        e.ended = false;
        outcome.paused++;
        sId[k] = e.id;
        sT[k] = t;
        sV[k++] = v;
        continue;
      }
      if (e.held !== null) resume(e);
      const verdict = e.rule.set.update(e.state, t, v, out);
      e.learning = stillLearning(e, verdict);
      if (al !== undefined) {
        let w = e.id < al.watch.length ? al.watch[e.id] : 0;
        if (w === 0) w = al.classify(ts.id, e.id, e.metric, e.labelsNow(), e.rule.name, ts.configVersion);
        if (w === 2 || (!verdict.learning && verdict.score >= e.rule.threshold)) al.observe(ts.id, e.id, e.metric, e.labels, e.rule.name, e.rule.threshold, t, v, verdict, ts.configVersion);
      }
      e.lastT = t;
      e.dirty = true;
      e.ended = false;
      outcome.judged++;
      sId[k] = e.id;
      sT[k] = t;
      sV[k++] = v;
      // Only tenants with multivariate detectors make an entry keep its labels (bindings are keyed by them).
      if (live && mv) this.multivariate.observe(ts.id, ts.config, ts.configVersion, e.metric, e.labels, t, v, verdict.learning ? 0 : verdict.score);
      if (!verdict.learning) {
        bId[kb] = e.id;
        bT[kb] = t;
        bE[kb] = verdict.expected;
        bL[kb] = verdict.lower;
        bU[kb] = verdict.upper;
        bS[kb++] = verdict.score;
        if (live && verdict.score >= e.rule.threshold) this.#anomaly(ts, e, t, v, verdict, outcome);
      }
    }
    // Rule aggregates whose windows this batch closed: judged after the raw points, written beside them.
    const derived = aggs ? this.#judgeClosed(ts, live, outcome) : undefined;
    outcome.detectNs = Number(process.hrtime.bigint() - started);
    if (al !== undefined && al.counters.verdicts !== observed) this.alerting!.kick();
    this.#seq++;
    if (k === 0 && kb === 0) return derived ? derived.then(() => outcome) : Promise.resolve(outcome);
    const t0 = performance.now();
    // Both calls copy their columns now and commit together (group commit).
    const samples = k > 0 ? this.store.samples.append({ seriesId: sId.subarray(0, k), t: sT.subarray(0, k), v: sV.subarray(0, k) }) : { inserted: 0, duplicates: 0 };
    const bands = kb > 0 ? this.store.samples.appendBands({ seriesId: bId.subarray(0, kb), t: bT.subarray(0, kb), expected: bE.subarray(0, kb), lower: bL.subarray(0, kb), upper: bU.subarray(0, kb), score: bS.subarray(0, kb) }) : 0;
    return Promise.all([samples, bands, derived]).then(([res]) => {
      outcome.storeMs = performance.now() - t0;
      outcome.accepted = k;
      outcome.duplicates = res.duplicates;
      return outcome;
    });
  }

  #reject(o: IngestOutcome, reason: string, field: string, problem: string, refusal?: SeriesRefusal): void {
    let r: RejectionCount | undefined = o.rejected.get(reason);
    if (!r) o.rejected.set(reason, (r = { reason, count: 0, examples: [] }));
    r.count++;
    o.rejectedTotal++;
    if (r.examples.length < MAX_EXAMPLES && !r.examples.some((x) => x.field === field)) r.examples.push({ field, problem });
    if (refusal && o.cardinality === undefined && (reason === 'series_limit' || reason === 'label_value_limit')) {
      o.cardinality = { metric: refusal.metric, label: refusal.label, message: refusal.message };
    }
  }

  #anomaly(ts: TenantState, e: SeriesEntry, t: number, value: number, v: FusedVerdict, o: IngestOutcome | undefined, d?: DrillResult): void {
    const a: Anomaly = Object.freeze({
      tenant: ts.id, seriesId: e.id, metric: e.metric, labels: e.labels, t, value,
      score: v.score, expected: v.expected, lower: v.lower, upper: v.upper, reasons: v.reasons.slice(),
      rule: e.rule.name, configVersion: ts.configVersion,
      ...(e.group !== undefined ? { contributors: contributorsOf(d), global: d?.global?.text ?? null } : {}),
    });
    ts.anomalies.push(a);
    if (ts.anomalies.length > this.options.maxAnomalies) ts.anomalies.shift();
    ts.anomalyTotal++;
    if (o) o.anomalies++;
    this.onAnomaly?.(a);
  }

  /**
   * Judges the windows the rule aggregates closed, in time order per rule. A group whose derived
   * series is not interned yet keeps its windows pending and starts interning it. Resolves when
   * the derived points and bands are stored.
   */
  #judgeClosed(ts: TenantState, live: boolean, o: IngestOutcome | undefined): Promise<unknown> | undefined {
    let sink: DerivedSink | undefined;
    for (const a of ts.aggregators) {
      if (a.closed.length === 0) continue;
      for (const w of a.closed.splice(0)) {
        const g = w.group;
        const e = g.entry as SeriesEntry | undefined;
        if (e === undefined || e.ready !== null || g.pending.length > 0) {
          if (g.pending.length >= AGGREGATE_DEFAULTS.maxPending) g.pending.shift();
          g.pending.push({ window: w, live });
          this.#materialiseDerived(ts, g);
          continue;
        }
        this.#judgeWindow(ts, e, w, live, (sink ??= new DerivedSink()), o);
      }
    }
    return sink?.write(this.store);
  }

  #judgeWindow(ts: TenantState, e: SeriesEntry, w: ClosedWindow, live: boolean, sink: DerivedSink, o: IngestOutcome | undefined): void {
    const t = w.t;
    const v = w.value;
    // Undefined (a ratio over no traffic), or judged before a restart (restored past it).
    if (v !== v || t <= e.lastT) return;
    const agg = w.group.agg;
    const out = this.#verdict;
    e.lastSeen = this.clock();
    e.dirty = true;
    e.ended = false;
    sink.sample(e.id, t, v);
    if (e.rule.noLearning.length > 0 && inMaintenance(e.rule.noLearning, t) !== undefined) {
      // As for raw series: seen by the rules, learned by nothing, the leaves' expectations included.
      hold(e);
      e.rule.set.update(e.state, t, v, out);
      e.lastT = t;
      return;
    }
    if (e.held !== null) resume(e);
    const verdict = e.rule.set.update(e.state, t, v, out);
    e.learning = stillLearning(e, verdict);
    e.lastT = t;
    const al = live ? this.alerting?.stage : undefined;
    if (al !== undefined) {
      let wf = e.id < al.watch.length ? al.watch[e.id] : 0;
      if (wf === 0) wf = al.classify(ts.id, e.id, e.metric, e.labelsNow(), e.rule.name, ts.configVersion);
      if (wf === 2 || (!verdict.learning && verdict.score >= e.rule.threshold)) al.observe(ts.id, e.id, e.metric, e.labels, e.rule.name, e.rule.threshold, t, v, verdict, ts.configVersion);
    }
    const anomalous = !verdict.learning && verdict.score >= e.rule.threshold;
    if (!verdict.learning) sink.band(e.id, t, verdict.expected, verdict.lower, verdict.upper, verdict.score);
    const d = agg.settle(w, anomalous, verdict.expected);
    if (d) {
      const g = w.group;
      g.drills.push({ t, drill: d, scope: Object.fromEntries(Object.entries(g.labels).filter(([k]) => agg.rule.groupBy.includes(k))) });
      if (g.drills.length > AGGREGATE_DEFAULTS.drills) g.drills.shift();
    }
    if (live && anomalous) this.#anomaly(ts, e, t, v, verdict, o, d);
  }

  /** Interns (and, when it existed before this start, restores) a group's derived series, then judges its pending windows. */
  #materialiseDerived(ts: TenantState, g: AggGroup): void {
    if (g.materialising) return;
    g.materialising = true;
    const agg = g.agg;
    if (!ts.aggregators.includes(agg)) {
      g.materialising = false;
      return;
    }
    const e = new SeriesEntry(0, `\u0001${agg.rule.name}\u0000${g.key}`, agg.metric, g.labels, ts.ruleNamed(agg.rule.name));
    e.group = g;
    e.lastSeen = this.clock();
    const p: Promise<void> = (async () => {
      try {
        const [id] = await this.store.series.intern([{ tenant: ts.id, metric: e.metric, labels: g.labels }]);
        e.id = id;
        if (this.options.restoreEvery === true || id <= this.#maxIdAtStart) await this.#restore(ts, [e], this.clock());
        else this.#restored.new++;
      } finally {
        g.materialising = false;
      }
      // A config reload meanwhile may have dropped the aggregation.
      if (!ts.aggregators.includes(agg)) return;
      ts.add(e, g.labels);
      g.entry = e;
      const sink = new DerivedSink();
      for (const { window, live } of g.pending.splice(0)) this.#judgeWindow(ts, e, window, live, sink, undefined);
      if (this.alerting?.stage.counters.verdicts) this.alerting.kick();
      await sink.write(this.store);
    })().catch((err) => process.emitWarning(`tenant ${ts.id}: aggregate ${agg.metric} of rule ${agg.rule.name} not stored: ${(err as Error).message}`));
    this.#inflight.add(p);
    g.settling = p;
    void p.finally(() => {
      this.#inflight.delete(p);
      if (g.settling === p) g.settling = undefined;
    });
  }

  /** Cluster feeds (src/cluster/feeds.ts): the compiled rule a series of a tenant runs with. */
  seriesRule(tenant: string, metric: string, labels: Labels): CompiledRule {
    return this.#tenant(tenant).ruleFor(metric, labels);
  }

  /** Cluster feeds (src/cluster/feeds.ts): a tenant's rule aggregators and what feeding them checks. */
  aggregation(tenant: string): { aggregators: readonly RuleAggregator[]; toleranceMs: number; configVersion: number | null; range: (metric: string) => { min?: number; max?: number } | undefined } {
    const ts = this.#tenant(tenant);
    return { aggregators: ts.aggregators, toleranceMs: ts.limits.outOfOrderToleranceMs, configVersion: ts.configVersion, range: (m) => ts.schemas.get(m) };
  }

  /**
   * Cluster: judges the windows that feeds closed (as a batch's pass does in one process).
   * Resolves once their derived points are stored and new derived series interned, so a
   * checkpoint taken after it covers them.
   */
  async judgeAggregates(tenant: string, mode: IngestMode): Promise<void> {
    const ts = this.#tenant(tenant);
    const al = mode === 'live' ? this.alerting?.stage : undefined;
    const observed = al?.counters.verdicts ?? 0;
    const groups = new Set<AggGroup>();
    for (const a of ts.aggregators) for (const w of a.closed) groups.add(w.group);
    await this.#judgeClosed(ts, mode === 'live', undefined);
    if (al !== undefined && al.counters.verdicts !== observed) this.alerting!.kick();
    for (const g of groups) await g.settling;
  }

  /**
   * Cluster: forgets the aggregate groups `drop` selects (their partition moved) with their
   * derived series; with `save`, checkpoints first so the next owner restores the derived state.
   */
  async dropAggregateGroups(drop: (tenant: string, g: AggGroup) => boolean, save: boolean): Promise<number> {
    if (save) await this.checkpoint();
    let n = 0;
    for (const ts of this.#tenants.values()) {
      for (const a of ts.aggregators) {
        for (const g of a.dropGroups((g) => drop(ts.id, g))) {
          const e = g.entry as SeriesEntry | undefined;
          if (e !== undefined) ts.remove(e);
          n++;
        }
      }
    }
    return n;
  }

  /**
   * The drill the engine ran for an anomalous window of a rule aggregate (a derived series):
   * the latest at or before `at`, else the latest. Undefined for other series.
   */
  aggregateDrill(tenant: string, seriesId: number, at: number): AggregateDrill | undefined {
    const ts = this.#tenants.get(tenant);
    if (!ts) return undefined;
    for (const a of ts.aggregators) {
      for (const g of a.groups.values()) {
        const e = g.entry as SeriesEntry | undefined;
        if (e?.id !== seriesId || g.drills.length === 0) continue;
        let best: AggregateDrill | undefined;
        for (const d of g.drills) if (d.t <= at) best = d;
        return best ?? g.drills[g.drills.length - 1];
      }
    }
    return undefined;
  }

  /** Per rule aggregate of a tenant: groups, watermark, and samples too late for their window. */
  aggregates(tenant: string): { rule: string; metric: string; groups: number; watermark: number; lateDropped: number }[] {
    return (this.#tenants.get(tenant)?.aggregators ?? []).map((a) => ({ rule: a.rule.name, metric: a.metric, groups: a.groups.size, watermark: a.watermark, lateDropped: a.lateDropped }));
  }

  /** Recent anomalies of a tenant with from <= t < to, newest first. */
  anomalies(tenant: string, from = -Infinity, to = Infinity, limit = 100): Anomaly[] {
    const list = this.#tenants.get(tenant)?.anomalies ?? [];
    const out: Anomaly[] = [];
    for (let i = list.length - 1; i >= 0 && out.length < limit; i--) if (list[i].t >= from && list[i].t < to) out.push(list[i]);
    return out;
  }

  /** Stores a change event (deploy, flag, ...) for correlation; durable on resolve. */
  addChange(input: ChangeInput): Promise<{ event: ChangeEvent; created: boolean }> {
    return this.store.changes.add(input);
  }

  /** How one live series started (for tests and debugging): undefined when it is not live. */
  seriesInfo(tenant: string, key: string): { id: number; origin: string; replayed: number; lastT: number; labels: Labels } | undefined {
    const e = this.#tenants.get(tenant)?.series.get(key);
    return e && { id: e.id, origin: e.origin, replayed: e.replayed, lastT: e.lastT, labels: e.labelsNow() };
  }

  /**
   * Forgets what a live series' models learned (an operator accepted its new level as normal):
   * they learn again from its next point, and the next checkpoint keeps the fresh state. False
   * when the series is not live. Walks the tenant's series: an operator action, not a hot path.
   */
  resetSeries(tenant: string, metric: string, labels: Labels): boolean {
    const ts = this.#tenants.get(tenant);
    if (!ts) return false;
    const want = Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)).join('\u0000');
    for (const e of ts.series.values()) {
      if (e.metric !== metric || e.id === 0 || Object.entries(e.labelsNow()).sort(([a], [b]) => (a < b ? -1 : 1)).join('\u0000') !== want) continue;
      e.state = e.rule.set.init();
      e.learning = true;
      e.held = null;
      e.dirty = true;
      return true;
    }
    return false;
  }

  /**
   * Detector coverage: per tenant and metric, how many live series are still learning and how
   * many are monitored (a learned model gives their points a band). Walks every live series:
   * call it per scrape, not per sample.
   */
  coverage(): Map<string, Map<string, { learning: number; monitored: number }>> {
    const out = new Map<string, Map<string, { learning: number; monitored: number }>>();
    for (const [id, ts] of this.#tenants) {
      const byMetric = new Map<string, { learning: number; monitored: number }>();
      for (const e of ts.series.values()) {
        if (!e.rule.judgeSeries && e.group === undefined) continue; // judged through its aggregate, which is counted
        let c = byMetric.get(e.metric);
        if (!c) byMetric.set(e.metric, (c = { learning: 0, monitored: 0 }));
        if (e.learning) c.learning++;
        else c.monitored++;
      }
      out.set(id, byMetric);
    }
    return out;
  }

  stats(): EngineStats {
    const activeSeries = new Map<string, number>();
    for (const [id, t] of this.#tenants) activeSeries.set(id, t.series.size);
    return {
      activeSeries,
      lastCheckpointAt: this.#lastCheckpointAt,
      restored: { ...this.#restored },
      replayedSamples: this.#replayedSamples,
      checkpointsWritten: this.#checkpointsWritten,
    };
  }

  /**
   * Writes a checkpoint of every series whose state changed since its last one, in small
   * transactions between which ingest keeps running, then drops series idle for `idleMs`.
   * Concurrent calls share one pass. Resolves to the number of checkpoints written.
   */
  checkpoint(): Promise<number> {
    this.#checkpointing ??= this.#checkpointPass().finally(() => (this.#checkpointing = undefined));
    return this.#checkpointing;
  }

  async #checkpointPass(): Promise<number> {
    const now = this.clock();
    let written = 0;
    for (const ts of this.#tenants.values()) {
      const dirty: SeriesEntry[] = [];
      for (const e of ts.series.values()) if (e.dirty && e.id !== 0) dirty.push(e);
      for (let i = 0; i < dirty.length; i += CHECKPOINT_CHUNK) {
        const chunk = dirty.slice(i, i + CHECKPOINT_CHUNK);
        const seq = this.options.checkpointSeq?.() ?? this.#seq;
        const cps: Checkpoint[] = chunk.map((e) => {
          e.dirty = false;
          return { seriesId: e.id, seq, blob: encodeCheckpoint(e.lastT, entriesText(e.rule.set), checkpointState(e)), at: now };
        });
        try {
          written += await this.store.checkpoints.put(cps);
        } catch (err) {
          for (const e of chunk) e.dirty = true;
          throw err;
        }
        if (i + CHECKPOINT_CHUNK < dirty.length) await new Promise((r) => setImmediate(r));
      }
      const idleBefore = now - this.options.idleMs;
      for (const e of [...ts.series.values()]) if (!e.dirty && e.ready === null && e.lastSeen < idleBefore) ts.remove(e);
    }
    // Multivariate forests (~1 ms and ~0.5 MB each to encode), a few per transaction as above.
    for (let left = this.multivariate.changed(); left > 0;) {
      const mv = this.multivariate.checkpoints(this.options.checkpointSeq?.() ?? this.#seq, now, MV_CHECKPOINT_CHUNK);
      if (mv.length === 0) break;
      try {
        written += await this.store.checkpoints.put(mv);
      } catch (err) {
        this.multivariate.unwritten(mv);
        throw err;
      }
      left -= mv.length;
      if (left > 0) await new Promise((r) => setImmediate(r));
    }
    this.#lastCheckpointAt = now;
    this.#checkpointsWritten += written;
    // Retention rides on the same timer: bounded chart history without another loop.
    if (this.options.sweepIntervalMs > 0 && now - this.#lastSweepAt >= this.options.sweepIntervalMs) {
      this.#lastSweepAt = now;
      await this.store.samples.sweep(now);
    }
    return written;
  }

  /**
   * Checkpoints, then drops from memory the live raw series for which `drop(tenant, key)` is
   * true (`key` as IngestBatch.seriesKey). A cluster worker calls it for the series of a
   * partition it gives up, after it stopped feeding that partition: the next owner restores
   * them from these checkpoints. Resolves to the number of series dropped. With `save` false
   * nothing is checkpointed and changed series are dropped too.
   */
  async release(drop: (tenant: string, key: string) => boolean, save = true): Promise<number> {
    // save=false: the partition was taken over; its new owner's checkpoints must not be overwritten.
    if (save) await this.checkpoint();
    let n = 0;
    for (const ts of this.#tenants.values()) {
      for (const e of [...ts.series.values()]) {
        if (e.ready !== null || e.key.startsWith('\u0001') || !drop(ts.id, e.key)) continue;
        if (save && e.dirty) continue; // changed since the pass above: the caller did not stop feeding it
        ts.remove(e);
        n++;
      }
    }
    return n;
  }

  /**
   * Applies each tenant's latest stored config when it is newer than the one in force (another
   * node stored it). Resolves to the number of tenants whose config changed.
   */
  async refreshConfigs(): Promise<number> {
    let changed = 0;
    for (const t of await this.store.tenants.list()) {
      const state = this.#tenant(t.id);
      const latest = await this.store.config.latest(t.id);
      if (!latest || latest.version === state.configVersion) continue;
      const { config, errors } = loadConfig(latest.yaml, `config v${latest.version}`);
      if (!config) {
        process.emitWarning(`tenant ${t.id}: stored config v${latest.version} does not load: ${errors[0]?.message}`);
        continue;
      }
      state.applyConfig(config, latest.version);
      changed++;
    }
    return changed;
  }

  /** Stops accepting batches, waits for those in flight, and checkpoints every changed series. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    await Promise.allSettled([...this.#inflight]);
    if (this.#checkpointing) await this.#checkpointing.catch(() => undefined);
    await this.checkpoint();
    await this.alerting?.close();
  }
}

/**
 * A permutation that visits samples in (series, time) order, or null when every series'
 * samples are already ascending (the common case: no allocation).
 */
function timeOrder(b: BatchView, scratch: Scratch): Int32Array | null {
  const n = b.length;
  const sids = b.seriesIds;
  const times = b.timestamps;
  const last = scratch.lastTimes(b.seriesCount);
  let sorted = true;
  for (let i = 0; i < n; i++) {
    const s = sids[i];
    if (times[i] < last[s]) {
      sorted = false;
      break;
    }
    last[s] = times[i];
  }
  if (sorted) return null;
  const idx = Array.from({ length: n }, (_, i) => i);
  idx.sort((a, c) => sids[a] - sids[c] || times[a] - times[c] || a - c);
  return Int32Array.from(idx);
}

/** What the alert stage sees of a point that no detector judged: it feeds impact gates only. */
const NOT_JUDGED = Object.freeze({ score: 0, expected: NaN, lower: NaN, upper: NaN, learning: true, reasons: Object.freeze([]), sources: Object.freeze([]) });

/** Feeds one accepted raw point to the rule aggregates its series belongs to. */
function feed(ts: TenantState, e: SeriesEntry, t: number, v: number): void {
  const fs = e.feeds ?? ts.feedsFor(e);
  for (let i = 0; i < fs.length; i++) fs[i].agg.add(fs[i], t, v);
}

/** Derived points and bands of one pass, written together. */
class DerivedSink {
  readonly #sId: number[] = [];
  readonly #sT: number[] = [];
  readonly #sV: number[] = [];
  readonly #b: number[][] = [[], [], [], [], [], []];

  sample(id: number, t: number, v: number): void {
    this.#sId.push(id);
    this.#sT.push(t);
    this.#sV.push(v);
  }

  band(id: number, t: number, expected: number, lower: number, upper: number, score: number): void {
    const b = this.#b;
    b[0].push(id);
    b[1].push(t);
    b[2].push(expected);
    b[3].push(lower);
    b[4].push(upper);
    b[5].push(score);
  }

  write(store: Store): Promise<unknown> | undefined {
    const b = this.#b;
    if (this.#sId.length === 0 && b[0].length === 0) return undefined;
    return Promise.all([
      this.#sId.length > 0 ? store.samples.append({ seriesId: Int32Array.from(this.#sId), t: Float64Array.from(this.#sT), v: Float64Array.from(this.#sV) }) : undefined,
      b[0].length > 0 ? store.samples.appendBands({ seriesId: Int32Array.from(b[0]), t: Float64Array.from(b[1]), expected: Float64Array.from(b[2]), lower: Float64Array.from(b[3]), upper: Float64Array.from(b[4]), score: Float64Array.from(b[5]) }) : undefined,
    ]);
  }
}

/** Coverage: a series is learning until a learned model (not just a rule) gives its points a band. */
function stillLearning(e: SeriesEntry, v: FusedVerdict): boolean {
  return v.learning || (e.rule.models.length > 0 && v.expected !== v.expected);
}

const entriesTexts = new WeakMap<DetectorSet<unknown>, string>();

/** A detector set's entries as JSON: what a checkpoint records to be matched on restore. */
function entriesText(set: DetectorSet<unknown>): string {
  let text = entriesTexts.get(set);
  if (text === undefined) entriesTexts.set(set, (text = JSON.stringify(set.entries)));
  return text;
}

const NO_SAMPLES = Object.freeze({ t: new Float64Array(0), v: new Float64Array(0) });

/** What the engine reads of a decoded batch. */
type BatchView = Pick<IngestBatch, 'length' | 'seriesCount' | 'seriesIds' | 'timestamps' | 'values' | 'flags' | 'seriesKey' | 'seriesMetric' | 'seriesLabels'>;

/** Per-batch work arrays, reused: the pass is synchronous and the store copies what it keeps. */
class Scratch {
  #n = 0;
  sId = new Int32Array(0);
  sT = new Float64Array(0);
  sV = new Float64Array(0);
  bId = new Int32Array(0);
  bT = new Float64Array(0);
  bE = new Float64Array(0);
  bL = new Float64Array(0);
  bU = new Float64Array(0);
  bS = new Float64Array(0);
  #last = new Float64Array(0);

  reserve(n: number): this {
    if (n > this.#n) {
      const cap = Math.max(n, 2 * this.#n, 1024);
      this.#n = cap;
      this.sId = new Int32Array(cap);
      this.bId = new Int32Array(cap);
      [this.sT, this.sV, this.bT, this.bE, this.bL, this.bU, this.bS] = Array.from({ length: 7 }, () => new Float64Array(cap));
    }
    return this;
  }

  /** -Infinity per series row (valid until the next call). */
  lastTimes(rows: number): Float64Array {
    if (this.#last.length < rows) this.#last = new Float64Array(Math.max(rows, 2 * this.#last.length));
    const a = this.#last.subarray(0, rows);
    a.fill(-Infinity);
    return a;
  }
}

/**
 * A copy of what the engine reads from a decoded batch, for the passes that outlive the
 * caller's batch (new series must be interned first). Series rows share the batch's label
 * arrays, which the batch never mutates.
 */
class BatchCopy implements BatchView {
  readonly length: number;
  readonly seriesCount: number;
  readonly seriesIds: Int32Array;
  readonly timestamps: Float64Array;
  readonly values: Float64Array;
  readonly flags: Uint8Array;
  readonly #keys: string[] = [];
  readonly #metrics: string[] = [];
  readonly #labels: (readonly string[])[] = [];

  constructor(b: IngestBatch) {
    const n = b.length;
    this.length = n;
    this.seriesCount = b.seriesCount;
    this.seriesIds = b.seriesIds.slice(0, n);
    this.timestamps = b.timestamps.slice(0, n);
    this.values = b.values.slice(0, n);
    this.flags = b.flags.slice(0, n);
    for (let s = 0; s < b.seriesCount; s++) {
      this.#keys.push(b.seriesKey(s));
      this.#metrics.push(b.seriesMetric(s));
      this.#labels.push(b.seriesLabels(s));
    }
  }

  seriesKey(i: number): string {
    return this.#keys[i];
  }
  seriesMetric(i: number): string {
    return this.#metrics[i];
  }
  seriesLabels(i: number): readonly string[] {
    return this.#labels[i];
  }
}
