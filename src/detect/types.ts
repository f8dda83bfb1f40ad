/**
 * The detector contract shared by every detector, the fusion stage, replay, backtests and
 * benchmarks. Detectors are online state machines: `update` does O(1) or O(log w) work per
 * point, never re-scans history, and keeps all of its memory in `state`, which is plain data
 * (numbers, strings, arrays, typed arrays, nested plain objects) so it can be checkpointed
 * with `snapshotState` and restored elsewhere.
 */

/** Why a verdict scored what it did. Stable strings: alerts, the API and the UI carry them. */
export type Reason =
  | 'learning' // not enough data yet: no verdict
  | 'normal'
  | 'above_threshold'
  | 'below_threshold'
  | 'rate_of_change'
  | 'no_data'
  | 'impossible_value'
  | 'counter_reset'
  | 'unit_change'
  | 'spike' // a short excursion above the band
  | 'dip' // a short excursion below the band
  | 'drop_to_zero'
  | 'level_shift_up'
  | 'level_shift_down'
  | 'drift_up' // slow or sustained small change upwards
  | 'drift_down'
  | 'seasonal_break' // the usual pattern for this time of day/week did not happen
  | 'variance_change' // the series started to flap, or went smooth or stuck
  | 'drift' // the distribution of the recent window moved away from the baseline's
  | 'null_rate' // too many missing values (or a declared null-rate input too high)
  | 'stuck' // the same value, exactly, for minutes on a series that seldom repeats one (an exporter that stopped updating)
  | 'multivariate'; // a combination of an entity's series that its history does not show

/**
 * What kind of event a reason is, which decides its response path (see src/alert): an
 * `outlier` is one point, an `anomaly` a break of the pattern, `drift` a moved distribution
 * (notify, never page), `data_quality` a broken pipeline (unit, range, null rate: the owning
 * pipeline's receiver), `rule` a plain fact (threshold, no data, counter reset).
 */
export type ReasonClass = 'outlier' | 'anomaly' | 'drift' | 'data_quality' | 'rule' | 'none';

const REASON_CLASS: Readonly<Record<Reason, ReasonClass>> = {
  learning: 'none',
  normal: 'none',
  above_threshold: 'rule',
  below_threshold: 'rule',
  rate_of_change: 'rule',
  no_data: 'rule',
  counter_reset: 'rule',
  impossible_value: 'data_quality',
  unit_change: 'data_quality',
  null_rate: 'data_quality',
  stuck: 'data_quality',
  spike: 'outlier',
  dip: 'outlier',
  drop_to_zero: 'anomaly',
  level_shift_up: 'anomaly',
  level_shift_down: 'anomaly',
  seasonal_break: 'anomaly',
  variance_change: 'anomaly',
  multivariate: 'anomaly',
  // A level creeping up (a slow leak, a degrading deploy) is a pattern break that may page;
  // only a moved distribution (the drift detector) takes the drift path.
  drift_up: 'anomaly',
  drift_down: 'anomaly',
  drift: 'drift',
};

/** The class of a reason code ('none' for codes this version does not know). */
export function reasonClass(reason: string): ReasonClass {
  return (REASON_CLASS as Record<string, ReasonClass>)[reason] ?? 'none';
}

/**
 * One detector's judgement of one point. `score` is in [0, 1]; `expected`, `lower` and
 * `upper` are the value and band the point was compared against (NaN while learning).
 */
export interface Verdict {
  score: number;
  expected: number;
  lower: number;
  upper: number;
  reason: Reason;
}

export function newVerdict(): Verdict {
  return { score: 0, expected: NaN, lower: NaN, upper: NaN, reason: 'learning' };
}

/**
 * A detector implementation. `C` is its validated, frozen config; `S` its state.
 * `update` fills and returns `out` (the caller reuses it: no allocation per point).
 * `t` is milliseconds since the epoch; `value` may be NaN (a missing point).
 */
export interface Detector<C = unknown, S = unknown> {
  readonly name: string;
  /** One sentence for `--help` and error messages. */
  readonly summary: string;
  /** Defaults, with units in comments at the definition. */
  readonly defaults: Readonly<C>;
  /** Validate a user config (strict: unknown keys are errors) and merge defaults. */
  parseConfig(input: unknown, path: string): Readonly<C>;
  init(config: Readonly<C>): S;
  update(state: S, t: number, value: number, out: Verdict): Verdict;
  /**
   * 'rule' detectors judge the raw value against limits or plain facts (threshold, no_data,
   * counter_reset...); 'model' detectors learn a baseline, see the value a set's rules have
   * conditioned (see `condition`) and give the fused verdict its band. Default 'model'.
   */
  readonly kind?: 'rule' | 'model';
  /**
   * Optional clock: judge the silence at `now` (ms) when no point arrives (no_data). Reads
   * the state without learning from it; same config and state as `update`.
   */
  tick?(state: S, now: number, out: Verdict): Verdict;
  /**
   * Optional, for rules only: called by a detector set right after `update` on the same
   * point, to change what the set's model detectors see (counter_reset hands them the
   * counter's per-second rate; unit_change asks them to rescale after a change of unit).
   * In a set, a rule with `condition` is updated with the value as the conditioning rules
   * before it left it (the models' value so far), so what it asks of the models is about what
   * they see: unit_change after counter_reset judges a counter's rate, not its running total,
   * whose magnitude falls by decades at every restart.
   */
  condition?(state: S, c: Conditioning): void;
  /**
   * Optional, a speed hint with no effect on verdicts: read one value from every cache line
   * of `state` that `update` will touch, with loads independent of each other. A detector set
   * calls it for all its detectors before updating any, so that over thousands of series the
   * cache misses of one point overlap instead of coming one after another.
   */
  touch?(state: S): void;
  /**
   * Optional: a condition this detector reported (once, as news) goes on, though it scores the
   * points after the report 0. Read after `update`; makes the set's verdict `ongoing`.
   */
  ongoing?(state: S): boolean;
  /** Optional, for models: multiply every learned level by `factor` (> 0), keeping the shape. */
  rescale?(state: S, factor: number): void;
  /**
   * Optional: whether `state` (e.g. restored from a checkpoint) has this build's layout. A
   * detector whose state layout changed between versions says no to the old one, so a
   * checkpoint is refused (and the series relearns) instead of being misread.
   */
  check?(state: unknown): boolean;
  /**
   * Optional: the same detector with its state embedded in a caller's Float64Array (see
   * `Embedded`). A set whose detectors all have it keeps a series' whole state in one region.
   */
  readonly embed?: Embedded<C>;
}

/**
 * A detector whose state is `words(config)` doubles of a caller's Float64Array `f` from
 * offset `o` (float32 tables included, read through `floatsOf(f)`): the same state machine as
 * `init`/`update`, which run it on a Float64Array of their own at offset 0. `initAt` expects
 * the block zero-filled. Detector sets carve one region per series and place every detector's
 * block in it, so a series costs one typed-array view and no separate allocations.
 */
export interface Embedded<C = unknown> {
  words(config: Readonly<C>): number;
  /**
   * Leading words of the block that hold options only, written by `initAt` and the same for
   * every series of one config (default 0). The other methods read them at `g[go + k]`: in a
   * standalone state g = f and go = o; a set keeps them once for all its series and stores
   * only the rest of the block in each region (then `f[o + k]` is valid for k >= options only).
   */
  readonly options?: number;
  initAt(config: Readonly<C>, f: Float64Array, o: number): void;
  updateAt(f: Float64Array, o: number, t: number, value: number, out: Verdict, g: Float64Array, go: number): Verdict;
  tickAt?(f: Float64Array, o: number, now: number, out: Verdict, g: Float64Array, go: number): Verdict;
  conditionAt?(f: Float64Array, o: number, c: Conditioning): void;
  rescaleAt?(f: Float64Array, o: number, factor: number, g: Float64Array, go: number): void;
  /** `ongoing` of the block at f[o] (options at g[go]; see Detector.ongoing). */
  ongoingAt?(f: Float64Array, o: number, g: Float64Array, go: number): boolean;
  /** Whether the block of `n` words (options included) at `o` has this build's layout (default: yes). */
  checkAt?(f: Float64Array, o: number, n: number, g: Float64Array, go: number): boolean;
  /** Reads most of the block ahead of `updateAt` (see Detector.touch); the set then touches the region. */
  readonly touches?: boolean;
  /**
   * The parts of the block most points read, as [from, to) word pairs relative to its start
   * (default: all of it); the set's touch leaves the rest (tables read once an hour, ring slots
   * other than the head) to be fetched when used.
   */
  hot?(config: Readonly<C>): readonly number[];
}

/**
 * What a detector set passes to its model detectors for one point, as the rules conditioned
 * it. Starts as { value: the raw value, factor: 1, relearn: false } for every point.
 */
export interface Conditioning {
  /** The value the models judge and learn from; NaN means "skip this point". */
  value: number;
  /** Not 1: the series changed unit by this factor; models rescale (or re-init) first. */
  factor: number;
  /** True: what the models learned no longer applies; they restart from scratch. */
  relearn: boolean;
}

/**
 * The fused judgement of one point by a detector set: one score, one band, and the reasons
 * of the detectors that contributed, strongest first. While every detector of the set is
 * still learning, `learning` is true and `score` is 0.
 * The arrays are owned by the caller's `out` object and reused on the next call.
 */
export interface FusedVerdict {
  score: number;
  expected: number;
  lower: number;
  upper: number;
  learning: boolean;
  /** Reasons ordered by contribution, strongest first ('normal' alone when nothing scored). */
  reasons: Reason[];
  /** The detector name behind each reason, aligned with `reasons`. */
  sources: string[];
  /**
   * The value the models judged (a counter's rate, where counter_reset made it one) lies
   * outside [lower, upper]. A detector that reports a condition once scores the points after it
   * 0 ("already explained") while the condition lasts; this says it still does, so the alert
   * stage keeps an open alert open (and a pending one pending) until the value is back inside
   * the band. False while learning, without a band, and for a missing value.
   */
  outside: boolean;
  /**
   * A detector says a condition it reported goes on (Detector.ongoing: weekly_shift for
   * `smoothHours` after it reports a shift, the time its smoothed ratio looks back over; no_data
   * while a value it reported stuck stays stuck), though it scores these points 0; like
   * `outside`, it keeps an alert open. False while learning.
   */
  ongoing: boolean;
}

export function newFusedVerdict(): FusedVerdict {
  return { score: 0, expected: NaN, lower: NaN, upper: NaN, learning: true, reasons: [], sources: [], outside: false, ongoing: false };
}

/** One entry of a detector set as written in config: a registry name and its options. */
export interface DetectorEntry {
  name: string;
  config?: unknown;
}

/**
 * A compiled detector set (see `createDetectorSet` in src/detect/index.ts): validated once,
 * then used for any number of series, each with its own state from `init()`.
 */
export interface DetectorSet<S = unknown> {
  readonly entries: readonly DetectorEntry[];
  init(): S;
  update(state: S, t: number, value: number, out: FusedVerdict): FusedVerdict;
  /**
   * Optional clock tick at `now` (ms) with no new point: only detectors with a `tick`
   * (no_data) judge; nothing is learned. Lets a live server notice a series that went silent.
   */
  tick?(state: S, now: number, out: FusedVerdict): FusedVerdict;
  /**
   * Optional: throws TM_ERR_STATE unless `state` (e.g. restored from a checkpoint) is a state
   * of this set in this build's layout. Call it before using a restored state.
   */
  check?(state: unknown): void;
  /**
   * Optional: a copy of the models' states (what a maintenance window excluded from learning
   * must not change), for `restoreModels`. Sets that provide it are held this way.
   */
  saveModels?(state: S): unknown;
  /** Puts back the models' states that `saveModels` copied; the rules keep theirs. */
  restoreModels?(state: S, saved: unknown): void;
}
