// Per-tenant engine state: the compiled config (rules, schemas, limits), the live series and
// the cardinality bookkeeping that decides whether a NEW series may be created.
import { compileSelector, DEFAULTS, type Limits, type MaintenanceWindow, type MetricSchema, type TenantConfig } from '../config/index.ts';
import { createDetectorSet, getDetector, restoreState, snapshotState, type DetectorSet } from '../detect/index.ts';
import type { Labels } from '../store/index.ts';
import { buildAggregators, type AggGroup, type Feed, type RuleAggregator } from './aggregate.ts';
import type { Anomaly } from './types.ts';

/** The detector set, threshold and name a series runs with. */
export interface CompiledRule {
  readonly name: string;
  readonly matches: (metric: string, labels: Labels) => boolean;
  readonly set: DetectorSet<unknown>;
  readonly threshold: number;
  /** The rule's maintenance windows with `exclude_from_learning`: points inside them never teach the models. */
  readonly noLearning: readonly MaintenanceWindow[];
  /** Indexes of the set's models (learned baselines, not fixed rules) in its entries and state. */
  readonly models: readonly number[];
  /** False when the rule judges only its aggregate (`detect_on: aggregate`): its series are stored, not judged. */
  readonly judgeSeries: boolean;
}

/** Indexes of a detector set's models: the entries that learn a baseline. */
function modelSlots(set: DetectorSet<unknown>): readonly number[] {
  const out: number[] = [];
  set.entries.forEach((e, i) => {
    if (getDetector(e.name).kind !== 'rule') out.push(i);
  });
  return Object.freeze(out);
}

/** One live series: its identity, its detector state and where it is in time. */
export class SeriesEntry {
  /** 0 until the store has interned the series (see `ready`). */
  id: number;
  /** Set while the series is being interned or restored; other batches wait for it. */
  ready: Promise<void> | null = null;
  readonly key: string;
  readonly metric: string;
  readonly labels: Labels;
  rule: CompiledRule;
  state: unknown;
  /** Newest timestamp fed to the detectors (ms); -Infinity before the first. */
  lastT = -Infinity;
  /** Clock reading of the last sample received, for idle eviction. */
  lastSeen = 0;
  /** State changed since the last checkpoint. */
  dirty = false;
  /** A staleness marker ended the series; the next sample starts it again. */
  ended = false;
  /** How the state began: fresh, from a checkpoint, or by replaying stored samples. */
  origin: 'new' | 'checkpoint' | 'replay' = 'new';
  /**
   * Still learning at the last point: every detector was learning, or the set has a model and
   * none of them had a band yet (rules alone judge from the first point). True until the first
   * point is judged; a restored series until its next one.
   */
  learning = true;
  /**
   * Copies of the models' states taken when a maintenance window excluded from learning began;
   * put back at the first point after it. Null outside such a window.
   */
  held: unknown[] | null = null;
  /** Stored samples replayed into the state when it was restored. */
  replayed = 0;
  /** Valid values from the metric's schema (inclusive). */
  min = -Infinity;
  max = Infinity;
  /** The rule aggregates this series feeds (aggregate.ts); null: not computed since the last config. */
  feeds: Feed[] | null = null;
  /** Set on a derived series (a rule's aggregate of one group): the group it judges. */
  group: AggGroup | undefined = undefined;

  constructor(id: number, key: string, metric: string, labels: Labels, rule: CompiledRule) {
    this.id = id;
    this.key = key;
    this.metric = metric;
    this.labels = labels;
    this.rule = rule;
    this.state = rule.set.init();
  }
}

/**
 * A point inside a maintenance window excluded from learning: the whole set sees it, so rules
 * keep their bookkeeping (no_data's cadence, counter_reset's last value), but the models' states
 * from before the window are kept aside and come back afterwards (see `resume`).
 */
export function hold(e: SeriesEntry): void {
  if (e.held !== null || e.rule.models.length === 0) return;
  const state = e.state as unknown[];
  e.held = e.rule.models.map((i) => restoreState(snapshotState(state[i])));
}

/** The first point after such a window: the models forget what they saw inside it. */
export function resume(e: SeriesEntry): void {
  if (e.held === null) return;
  const state = e.state as unknown[];
  e.rule.models.forEach((i, k) => (state[i] = e.held![k]));
  e.held = null;
}

/** The state a checkpoint records: inside a held window, the models as they were before it. */
export function checkpointState(e: SeriesEntry): unknown {
  if (e.held === null) return e.state;
  const state = [...(e.state as unknown[])];
  e.rule.models.forEach((i, k) => (state[i] = e.held![k]));
  return state;
}

const DEFAULT_SET = createDetectorSet();

/** The rule for series that no configured rule selects: the default profile at medium sensitivity. */
export const DEFAULT_RULE: CompiledRule = Object.freeze({
  name: '',
  matches: () => true,
  set: DEFAULT_SET,
  threshold: DEFAULTS.rule.thresholds.medium,
  noLearning: Object.freeze([]),
  models: modelSlots(DEFAULT_SET),
  judgeSeries: true,
});

/** Why the engine refused a series or a sample (on top of the decoders' reasons). */
export type EngineRejectReason =
  | 'too_old'
  | 'out_of_range'
  | 'undeclared_metric'
  | 'label_not_allowed'
  | 'label_denied'
  | 'series_limit'
  | 'label_value_limit';

export const CARDINALITY_REASONS: ReadonlySet<EngineRejectReason> = new Set(['series_limit', 'label_value_limit']);

/** A refusal of a new series, naming the metric and the label responsible. */
export interface SeriesRefusal {
  readonly reason: EngineRejectReason;
  readonly metric: string;
  readonly label: string | undefined;
  readonly message: string;
}

export class TenantState {
  readonly id: string;
  config: TenantConfig | undefined;
  configVersion: number | null;
  limits: Limits;
  rules: CompiledRule[] = [];
  schemas = new Map<string, MetricSchema>();
  readonly series = new Map<string, SeriesEntry>();
  /** metric -> label name -> value -> live series using it. */
  readonly #values = new Map<string, Map<string, Map<string, number>>>();
  readonly anomalies: Anomaly[] = [];
  anomalyTotal = 0;
  /** One per configured rule: the rule's windowed aggregates and their derived series. */
  aggregators: RuleAggregator[] = [];
  /** Live derived series (in `series` too): they do not count against the active-series limit. */
  derivedCount = 0;

  constructor(id: string) {
    this.id = id;
    this.config = undefined;
    this.configVersion = null;
    this.limits = DEFAULTS.limits;
  }

  /** Installs a config (already validated and frozen). Returns the series whose rule changed. */
  applyConfig(config: TenantConfig | undefined, version: number | null): SeriesEntry[] {
    this.config = config;
    this.configVersion = version;
    this.limits = config?.limits ?? DEFAULTS.limits;
    this.schemas = new Map((config?.metrics ?? []).map((m) => [m.name, m]));
    // Shadow rules judge nothing here: they run beside the live ones (backtest-shadow.ts).
    this.rules = (config?.rules ?? []).filter((r) => r.shadow !== true).map((r) => {
      const set = createDetectorSet(r.detectors);
      return {
        name: r.name,
        matches: compileSelector(r.selector),
        set,
        threshold: r.sensitivity.threshold,
        noLearning: r.maintenance.filter((w) => w.excludeFromLearning === true),
        models: modelSlots(set),
        judgeSeries: r.detectOn !== 'aggregate',
      };
    });
    const changed: SeriesEntry[] = [];
    const kept = buildAggregators((config?.rules ?? []).filter((r) => r.detectOn !== undefined && r.shadow !== true), this.limits.outOfOrderToleranceMs, this.aggregators);
    const live = new Set(kept);
    this.aggregators = kept;
    for (const e of [...this.series.values()]) {
      if (e.group === undefined) continue;
      // A derived series lives on while its aggregation is unchanged; its rule object is the new one.
      if (!live.has(e.group.agg)) {
        this.remove(e);
        continue;
      }
      e.rule = this.ruleNamed(e.group.agg.rule.name);
    }
    for (const e of this.series.values()) {
      if (e.group !== undefined) continue;
      // Feeds into aggregators that survive keep their recent points; new ones are added lazily.
      e.feeds = e.feeds !== null && e.feeds.length > 0 ? this.#refeed(e, e.feeds.filter((f) => live.has(f.agg))) : null;
      const rule = this.ruleFor(e.metric, e.labels);
      const same = JSON.stringify(rule.set.entries) === JSON.stringify(e.rule.set.entries);
      // A new threshold keeps the learned state; a new detector set has to learn again.
      if (!same) {
        e.state = rule.set.init();
        e.lastT = -Infinity;
        e.learning = true;
        e.held = null;
        e.dirty = true;
        changed.push(e);
      }
      e.rule = rule;
      this.setRange(e);
    }
    return changed;
  }

  /** Copies the metric's valid range onto the entry, so the hot loop needs no lookup. */
  setRange(e: SeriesEntry): void {
    const schema = this.schemas.get(e.metric);
    e.min = schema?.min ?? -Infinity;
    e.max = schema?.max ?? Infinity;
  }

  /** The aggregator feeds of a raw series (computed once per config; groups and leaves are created here). */
  feedsFor(e: SeriesEntry): Feed[] {
    if (e.feeds !== null) return e.feeds;
    const out: Feed[] = [];
    for (const a of this.aggregators) for (const f of a.feedsFor(e.metric, e.labels)) out.push(f);
    return (e.feeds = out);
  }

  /** Old feeds where still valid, fresh ones for aggregators the old config lacked. */
  #refeed(e: SeriesEntry, old: Feed[]): Feed[] {
    const out: Feed[] = [];
    for (const a of this.aggregators) {
      const mine = old.filter((f) => f.agg === a);
      out.push(...(mine.length > 0 ? mine : a.feedsFor(e.metric, e.labels)));
    }
    return out;
  }

  /** The compiled rule of that name (the default rule when there is none). */
  ruleNamed(name: string): CompiledRule {
    return this.rules.find((r) => r.name === name) ?? DEFAULT_RULE;
  }

  ruleFor(metric: string, labels: Labels): CompiledRule {
    for (const r of this.rules) if (r.matches(metric, labels)) return r;
    return DEFAULT_RULE;
  }

  /**
   * Checks the event contract (declared metrics, allowed and denied labels) and the
   * cardinality limits for a series that is not live yet. Undefined means it may be created.
   */
  admit(metric: string, labels: Labels): SeriesRefusal | undefined {
    const schemas = this.schemas;
    if (schemas.size > 0) {
      const schema = schemas.get(metric) ?? schemas.get(histogramBase(metric));
      if (schema === undefined) {
        return { reason: 'undeclared_metric', metric, label: undefined, message: `metric ${metric} is not declared in the tenant config (metrics[].name)` };
      }
      for (const name of Object.keys(labels)) {
        if (schema.denyLabels.includes(name)) {
          return { reason: 'label_denied', metric, label: name, message: `label ${name} is on the deny list of metric ${metric}` };
        }
        if (!schema.labels.includes(name)) {
          return { reason: 'label_not_allowed', metric, label: name, message: `label ${name} is not among the allowed labels of metric ${metric}: ${schema.labels.join(', ') || '(none)'}` };
        }
      }
    }
    const limits = this.limits;
    const perLabel = this.#values.get(metric);
    const maxValues = schemas.get(metric)?.maxLabelValues ?? limits.labelValuesPerMetric;
    if (perLabel) {
      for (const [name, value] of Object.entries(labels)) {
        const values = perLabel.get(name);
        if (values && values.size >= maxValues && !values.has(value)) {
          return {
            reason: 'label_value_limit',
            metric,
            label: name,
            message: `metric ${metric} already has ${values.size} values of label ${name} (limit ${maxValues}); new series with another ${name} are refused`,
          };
        }
      }
    }
    if (this.series.size - this.derivedCount >= limits.activeSeries) {
      const label = this.#widestLabel(metric);
      return {
        reason: 'series_limit',
        metric,
        label,
        message: `tenant ${this.id} has ${this.series.size - this.derivedCount} active series (limit ${limits.activeSeries}); new series of ${metric} are refused` +
          (label ? `; its label with the most values is ${label}` : ''),
      };
    }
    return undefined;
  }

  add(e: SeriesEntry): void {
    if (e.group !== undefined && !this.series.has(e.key)) this.derivedCount++;
    this.series.set(e.key, e);
    this.setRange(e);
    let perLabel = this.#values.get(e.metric);
    if (!perLabel) this.#values.set(e.metric, (perLabel = new Map()));
    for (const [name, value] of Object.entries(e.labels)) {
      let values = perLabel.get(name);
      if (!values) perLabel.set(name, (values = new Map()));
      values.set(value, (values.get(value) ?? 0) + 1);
    }
  }

  remove(e: SeriesEntry): void {
    if (this.series.get(e.key) !== e) return;
    this.series.delete(e.key);
    if (e.group !== undefined) {
      this.derivedCount--;
      // Interned again (and restored when it existed before this start) at its next window.
      if (e.group.entry === e) e.group.entry = undefined;
    }
    const perLabel = this.#values.get(e.metric);
    if (!perLabel) return;
    for (const [name, value] of Object.entries(e.labels)) {
      const values = perLabel.get(name);
      if (!values) continue;
      const n = (values.get(value) ?? 1) - 1;
      if (n <= 0) values.delete(value);
      else values.set(value, n);
    }
  }

  /** The label of `metric` with the most distinct values among live series: the likely culprit. */
  #widestLabel(metric: string): string | undefined {
    let best: string | undefined;
    let most = 0;
    for (const [name, values] of this.#values.get(metric) ?? []) {
      if (values.size > most) {
        most = values.size;
        best = name;
      }
    }
    return best;
  }
}

/** `h_p99` -> `h`: series derived from a declared histogram belong to its schema. */
function histogramBase(metric: string): string {
  const m = /^(.*)_(count|sum|bucket|p50|p95|p99)$/.exec(metric);
  return m ? m[1] : metric;
}
