// Per-tenant engine state: the compiled config (rules, schemas, limits), the live series and
// the cardinality bookkeeping that decides whether a NEW series may be created.
import { compileSelector, DEFAULTS, type Limits, type MaintenanceWindow, type MetricSchema, type TenantConfig } from '../config/index.ts';
import { createDetectorSet, getDetector, restoreState, snapshotState, type DetectorSet } from '../detect/index.ts';
import type { Labels } from '../store/index.ts';
import { isValidLabelName, isValidMetricName, parseSeriesKey } from '../ingest/names.ts';
import { buildAggregators, type AggGroup, type Feed, type RuleAggregator } from './aggregate.ts';
import { ValueCounts } from './cardinality.ts';
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

/** A metric's valid values (inclusive), shared by every series of the metric. */
export interface ValueRange {
  readonly min: number;
  readonly max: number;
}

const ANY_VALUE: ValueRange = Object.freeze({ min: -Infinity, max: Infinity });
const NONE: Feed[] = [];

// SeriesEntry.#bits: flags, origin and the replayed count in one small integer instead of a
// pointer-sized field each.
const DIRTY = 1;
const ENDED = 2;
const LEARNING = 4;
/** Feeds no rule aggregate (the common case when a tenant has some): no side object for that. */
const NO_FEEDS = 8;
/** Set once the tenant dropped the entry: a decoder's cached reference to it is stale. */
const REMOVED = 16;
const ORIGIN_SHIFT = 5;
const ORIGINS = ['new', 'checkpoint', 'replay'] as const;
const REPLAYED_SHIFT = ORIGIN_SHIFT + 2;
const MAX_REPLAYED = 2 ** (30 - REPLAYED_SHIFT) - 1; // the bits stay a small integer
/** 2020-09-13: clock readings within ~68 years of it are whole seconds that fit a small integer. */
const SEEN_EPOCH_MS = 1.6e12;
export type SeriesOrigin = (typeof ORIGINS)[number];

/** What few series carry: kept off the entry so that the many pay one null field for all of it. */
class SeriesExtra {
  ready: Promise<void> | null = null;
  held: unknown[] | null = null;
  feeds: Feed[] | null = null;
  group: AggGroup | undefined = undefined;
  /** Labels that the key does not spell (derived series), or parsed once for a hot caller. */
  labels: Labels | undefined = undefined;
}

/**
 * One live series: its identity, its detector state and where it is in time. A million of them
 * stay in memory, so an entry holds its key (which spells metric and labels; `labels` parses it
 * when asked), its rule and state, two times (one as a small integer) and one integer of flags
 * and counts; the rare parts (in-flight interning, held model states, aggregate feeds,
 * derived-series group, parsed labels) live in one optional side object. About 130 bytes per
 * series instead of ~420 with a labels object and its value strings, four boxed doubles and a
 * field per flag (measured with heap snapshots, Node 20 without pointer compression).
 */
export class SeriesEntry {
  /** 0 until the store has interned the series (see `ready`). */
  id: number;
  readonly key: string;
  readonly metric: string;
  rule: CompiledRule;
  state: unknown;
  /** Newest timestamp fed to the detectors (ms); -Infinity before the first. */
  lastT = -Infinity;
  /** Valid values from the metric's schema (see TenantState.setRange). */
  range: ValueRange = ANY_VALUE;
  #bits = LEARNING;
  /** `lastSeen` in whole seconds from SEEN_EPOCH_MS: a small integer, not a boxed double per series. */
  #seen = 0;
  #extra: SeriesExtra | null = null;

  /**
   * `labels` must be the labels `key` spells (as IngestBatch.seriesKey writes it); they are
   * kept only when the key does not spell them.
   */
  constructor(id: number, key: string, metric: string, labels: Labels, rule: CompiledRule) {
    this.id = id;
    this.key = key;
    this.metric = metric;
    this.rule = rule;
    this.state = rule.set.init();
    // The usual case (labels in the key's order) is checked without parsing the key.
    if (!spellsInOrder(key, metric, labels)) {
      const parsed = parseSeriesKey(key);
      if (parsed === undefined || parsed.metric !== metric || !sameLabels(parsed.labels, labels)) this.#more().labels = labels;
    }
  }

  #more(): SeriesExtra {
    return (this.#extra ??= new SeriesExtra());
  }

  /**
   * Clock reading of the last sample received (ms), for idle eviction; kept to the second,
   * rounded up, so a series is never evicted early.
   */
  get lastSeen(): number {
    return SEEN_EPOCH_MS + 1000 * this.#seen;
  }
  set lastSeen(ms: number) {
    this.#seen = Math.ceil((ms - SEEN_EPOCH_MS) / 1000);
  }

  /** Drops the side object once nothing is left in it (every new series has one while it is interned). */
  #trim(): void {
    const x = this.#extra!;
    if (x.ready === null && x.held === null && x.feeds === null && x.group === undefined && x.labels === undefined) this.#extra = null;
  }

  #flag(bit: number, on: boolean): void {
    this.#bits = on ? this.#bits | bit : this.#bits & ~bit;
  }

  /** State changed since the last checkpoint. */
  get dirty(): boolean {
    return (this.#bits & DIRTY) !== 0;
  }
  set dirty(on: boolean) {
    this.#flag(DIRTY, on);
  }
  /** No longer in its tenant's series map (evicted, released, replaced): look the key up again. */
  get removed(): boolean {
    return (this.#bits & REMOVED) !== 0;
  }
  set removed(on: boolean) {
    this.#flag(REMOVED, on);
  }
  /** A staleness marker ended the series; the next sample starts it again. */
  get ended(): boolean {
    return (this.#bits & ENDED) !== 0;
  }
  set ended(on: boolean) {
    this.#flag(ENDED, on);
  }
  /**
   * Still learning at the last point: every detector was learning, or the set has a model and
   * none of them had a band yet (rules alone judge from the first point). True until the first
   * point is judged; a restored series until its next one.
   */
  get learning(): boolean {
    return (this.#bits & LEARNING) !== 0;
  }
  set learning(on: boolean) {
    this.#flag(LEARNING, on);
  }
  /** How the state began: fresh, from a checkpoint, or by replaying stored samples. */
  get origin(): SeriesOrigin {
    return ORIGINS[(this.#bits >> ORIGIN_SHIFT) & 3];
  }
  set origin(o: SeriesOrigin) {
    this.#bits = (this.#bits & ~(3 << ORIGIN_SHIFT)) | (ORIGINS.indexOf(o) << ORIGIN_SHIFT);
  }

  /** Set while the series is being interned or restored; other batches wait for it. */
  get ready(): Promise<void> | null {
    const x = this.#extra;
    return x === null ? null : x.ready;
  }
  set ready(p: Promise<void> | null) {
    if (p !== null) this.#more().ready = p;
    else if (this.#extra !== null) {
      this.#extra.ready = null;
      this.#trim();
    }
  }
  /**
   * Copies of the models' states taken when a maintenance window excluded from learning began;
   * put back at the first point after it. Null outside such a window.
   */
  get held(): unknown[] | null {
    const x = this.#extra;
    return x === null ? null : x.held;
  }
  set held(h: unknown[] | null) {
    if (h !== null) this.#more().held = h;
    else if (this.#extra !== null) {
      this.#extra.held = null;
      this.#trim();
    }
  }
  /** The rule aggregates this series feeds (aggregate.ts); null: not computed since the last config. */
  get feeds(): Feed[] | null {
    if ((this.#bits & NO_FEEDS) !== 0) return NONE;
    const x = this.#extra;
    return x === null ? null : x.feeds;
  }
  set feeds(f: Feed[] | null) {
    this.#flag(NO_FEEDS, f !== null && f.length === 0);
    if (f !== null && f.length > 0) this.#more().feeds = f;
    else if (this.#extra !== null) {
      this.#extra.feeds = null;
      this.#trim();
    }
  }
  /** Set on a derived series (a rule's aggregate of one group): the group it judges. */
  get group(): AggGroup | undefined {
    const x = this.#extra;
    return x === null ? undefined : x.group;
  }
  set group(g: AggGroup | undefined) {
    if (g !== undefined || this.#extra !== null) this.#more().group = g;
  }
  /** Stored samples replayed into the state when it was restored. */
  get replayed(): number {
    return this.#bits >> REPLAYED_SHIFT;
  }
  set replayed(n: number) {
    this.#bits = (this.#bits & ((1 << REPLAYED_SHIFT) - 1)) | (Math.min(n, MAX_REPLAYED) << REPLAYED_SHIFT);
  }

  /** Valid values from the metric's schema (inclusive). */
  get min(): number {
    return this.range.min;
  }
  get max(): number {
    return this.range.max;
  }

  /**
   * The labels, kept on the entry once asked for: for callers that come back per point (the
   * alert stage, multivariate bindings keyed by the labels object) and need one stable object.
   */
  get labels(): Labels {
    const x = this.#extra;
    if (x !== null && x.labels !== undefined) return x.labels;
    const g = x?.group;
    if (g !== undefined) return g.labels;
    return (this.#more().labels = Object.freeze(this.labelsNow()));
  }

  /** The labels without keeping them (a fresh object unless kept): for one-off callers. */
  labelsNow(): Labels {
    const x = this.#extra;
    if (x !== null) {
      if (x.labels !== undefined) return x.labels;
      if (x.group !== undefined) return x.group.labels;
    }
    const parsed = parseSeriesKey(this.key);
    if (parsed === undefined) throw new Error(`series key ${JSON.stringify(this.key)} does not spell its labels`); // the constructor kept them then
    return parsed.labels;
  }
}

/**
 * Whether `key` is exactly `metric{n1="v1",...}` with `labels`' non-empty entries in their
 * iteration order and values that need no escaping: then the key spells them (a sufficient test
 * that allocates nothing; false sends the caller to the full parse).
 */
function spellsInOrder(key: string, metric: string, labels: Labels): boolean {
  if (!key.startsWith(metric) || !isValidMetricName(metric)) return false;
  let i = metric.length;
  let n = 0;
  for (const name in labels) {
    const value = labels[name];
    if (typeof value !== 'string' || value === '' || name === '__name__' || !isValidLabelName(name)) return false;
    for (let j = 0; j < value.length; j++) {
      const c = value.charCodeAt(j);
      if (c === 34 /* " */ || c === 92 /* \ */ || c === 10 /* \n */) return false;
    }
    if (key.charCodeAt(i) !== (n === 0 ? 123 /* { */ : 44) /* , */) return false;
    i++;
    if (!key.startsWith(name, i)) return false;
    i += name.length;
    if (key.charCodeAt(i) !== 61 /* = */ || key.charCodeAt(i + 1) !== 34 /* " */) return false;
    i += 2;
    if (!key.startsWith(value, i)) return false;
    i += value.length;
    if (key.charCodeAt(i) !== 34) return false;
    i++;
    n++;
  }
  return n === 0 ? i === key.length : key.charCodeAt(i) === 125 /* } */ && i + 1 === key.length;
}

function sameLabels(a: Labels, b: Labels): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (a[k] !== b[k]) return false;
  return true;
}

/**
 * A point inside a maintenance window excluded from learning: the whole set sees it, so rules
 * keep their bookkeeping (no_data's cadence, counter_reset's last value), but the models' states
 * from before the window are kept aside and come back afterwards (see `resume`).
 */
export function hold(e: SeriesEntry): void {
  if (e.held !== null || e.rule.models.length === 0) return;
  const set = e.rule.set;
  // A set that keeps a series' state in one region copies its models' part itself.
  if (set.saveModels) {
    e.held = [set.saveModels(e.state)];
    return;
  }
  const state = e.state as unknown[];
  e.held = e.rule.models.map((i) => restoreState(snapshotState(state[i])));
}

/** The first point after such a window: the models forget what they saw inside it. */
export function resume(e: SeriesEntry): void {
  if (e.held === null) return;
  const set = e.rule.set;
  if (set.restoreModels) set.restoreModels(e.state, e.held[0]);
  else {
    const state = e.state as unknown[];
    e.rule.models.forEach((i, k) => (state[i] = e.held![k]));
  }
  e.held = null;
}

/** The state a checkpoint records: inside a held window, the models as they were before it. */
export function checkpointState(e: SeriesEntry): unknown {
  if (e.held === null) return e.state;
  const set = e.rule.set;
  if (set.restoreModels) {
    const copy = restoreState(snapshotState(e.state));
    set.restoreModels(copy, e.held[0]);
    return copy;
  }
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
  /** metric -> label name -> live series per value. */
  readonly #values = new Map<string, Map<string, ValueCounts>>();
  /** Each declared metric's valid range, one object shared by its series. */
  #ranges = new Map<string, ValueRange>();
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
    this.#ranges = new Map((config?.metrics ?? []).map((m) => [m.name, Object.freeze({ min: m.min ?? -Infinity, max: m.max ?? Infinity })]));
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
      const rule = this.rules.length === 0 ? DEFAULT_RULE : this.ruleFor(e.metric, e.labelsNow()); // labels parsed only when a rule may ask
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

  /** Points the entry at its metric's valid range, so the hot loop needs no lookup. */
  setRange(e: SeriesEntry): void {
    e.range = this.#ranges.get(e.metric) ?? ANY_VALUE;
  }

  /** The aggregator feeds of a raw series (computed once per config; groups and leaves are created here). */
  feedsFor(e: SeriesEntry): Feed[] {
    if (e.feeds !== null) return e.feeds;
    const out: Feed[] = [];
    const labels = this.aggregators.length > 0 ? e.labelsNow() : undefined;
    for (const a of this.aggregators) for (const f of a.feedsFor(e.metric, labels!)) out.push(f);
    return (e.feeds = out);
  }

  /** Old feeds where still valid, fresh ones for aggregators the old config lacked. */
  #refeed(e: SeriesEntry, old: Feed[]): Feed[] {
    const out: Feed[] = [];
    let labels: Labels | undefined;
    for (const a of this.aggregators) {
      const mine = old.filter((f) => f.agg === a);
      out.push(...(mine.length > 0 ? mine : a.feedsFor(e.metric, (labels ??= e.labelsNow()))));
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
      // for-in, not Object.entries: no pair arrays per new series (a million at first sight).
      for (const name in labels) {
        const value = labels[name];
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

  /** Makes the entry live; `labels` saves parsing its key when the caller has them at hand. */
  add(e: SeriesEntry, labels: Labels = e.labelsNow()): void {
    if (e.group !== undefined && !this.series.has(e.key)) this.derivedCount++;
    const displaced = this.series.get(e.key);
    if (displaced !== undefined && displaced !== e) displaced.removed = true;
    e.removed = false;
    this.series.set(e.key, e);
    this.setRange(e);
    let perLabel = this.#values.get(e.metric);
    if (!perLabel) this.#values.set(e.metric, (perLabel = new Map()));
    for (const name in labels) {
      let values = perLabel.get(name);
      if (!values) perLabel.set(name, (values = new ValueCounts()));
      values.add(labels[name]);
    }
  }

  remove(e: SeriesEntry): void {
    if (this.series.get(e.key) !== e) return;
    this.series.delete(e.key);
    e.removed = true;
    if (e.group !== undefined) {
      this.derivedCount--;
      // Interned again (and restored when it existed before this start) at its next window.
      if (e.group.entry === e) e.group.entry = undefined;
    }
    const perLabel = this.#values.get(e.metric);
    if (!perLabel) return;
    const labels = e.labelsNow();
    for (const name in labels) perLabel.get(name)?.remove(labels[name]);
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
