/**
 * Rule aggregation: hierarchical detection's first half. A rule's `aggregation` (function and
 * window) and `group_by` turn the raw series it selects into one derived series per group,
 * `<rule>:<fn>{<group_by labels>, tidemark_rule="<rule>"}`, which the engine judges with the
 * rule's detectors, stores with its band and alerts on like any other series. When a window's
 * aggregate is judged anomalous, the leaves of that window (each combination of the other labels)
 * go to the drill (src/explain/drill.ts, the localiser `tidemark eval rca` runs) against their
 * expected values, and the top contributors ride on the anomaly and the alert's triage packet.
 *
 * Windows. Tumbling windows of `windowMs` aligned to the epoch, stamped at their end. A window
 * closes when the rule's watermark (the newest sample time of any of its series) passes its end
 * plus the tenant's out-of-order tolerance, so late samples the ingest path accepts land in the
 * window they belong to. Samples for a window already closed are counted (`lateDropped`), not
 * folded into a later one.
 *
 * Functions, as VictoriaMetrics' stream aggregation defines them, over every sample of the
 * group's series in the window: `sum` (sum_samples), `avg`, `max`, `min`, `quantile` (exact up to
 * AGGREGATE_DEFAULTS.exactQuantile samples, then series/sketch.ts's DDSketch: 1% relative error,
 * bounded bins), and `rate`
 * (rate_sum: per series the increases between consecutive samples, a decrease being a counter
 * reset that restarts from 0, summed and divided by the window in seconds). A ratio rule
 * (`denominator`) is sum(numerator) / sum(denominator), each side summed or rated.
 *
 * Leaf expectations. Each leaf keeps an EWMA of its window values, learned only from windows
 * whose aggregate was judged normal, so an incident never becomes its own baseline. For the
 * additive functions (sum, rate) the leaves' EWMAs are rescaled to sum to the aggregate's own
 * expected value, so the rule's seasonal model, not a lagging average, sets the level and a
 * surge that moves every leaf alike reads as global (the drill then names no single suspect).
 * The drill by function: sum and rate split additively (rate as event counts); avg (sum over
 * count) and ratio rules (numerator over denominator) go through the ratio localiser; max, min
 * and quantile have no additive split, so each leaf's own statistic is compared with its EWMA,
 * which names the leaves that moved, with shares that are only indicative.
 *
 * In one process open windows and leaf EWMAs live in memory (the derived series' detector state
 * is checkpointed like any series'); after a restart the leaves relearn their share. A cluster
 * worker owns each group on its own (see src/cluster/feeds.ts): there each group keeps its own
 * window clock, fed the rule's watermark by the ingest node (`add`'s `wm`), and the worker
 * checkpoints whole groups (`snapshotGroups` / `restoreGroups`) with the bus cursor.
 *
 * Bounded memory: per input series a ring of its last AGGREGATE_DEFAULTS.ring points (dedupe of
 * retries, late counter points), per leaf one accumulator per open window, and at most
 * `maxLeaves` leaves per group; further combinations fold into one `(other)` leaf. The drill
 * folds each dimension to its heaviest values with a Space-Saving sketch (src/explain/heavy.ts).
 */
import { compileSelector, type Rule } from '../config/index.ts';
import { drill, drillRatio, OTHER_VALUE, type ChildObservation, type DrillResult, type RatioChildObservation } from '../explain/index.ts';
import { QuantileSketch, type SketchData } from '../series/sketch.ts';
import type { Labels } from '../store/index.ts';

/** Defaults of the aggregation, with units. */
export const AGGREGATE_DEFAULTS = Object.freeze({
  maxLeaves: 5_000, // leaf combinations tracked per group; more fold into one `(other)` leaf
  ring: 16, // recent points remembered per input series (dedupe, late counter points)
  alpha: 0.1, // weight of a normal window in a leaf's EWMA expectation (about 10 windows of memory)
  exactQuantile: 4_096, // samples per leaf window kept exactly for quantile; more go to a DDSketch
  maxPending: 64, // closed windows held while the derived series is being interned
  drills: 8, // drills remembered per group for the triage packet
});

/** The label every derived series carries: the rule that made it. */
export const RULE_LABEL = 'tidemark_rule';

/** A leaf's share of an anomalous window's delta, as the anomaly and the packet carry it. */
export interface Contributor {
  /** `region=eu-west-1 & app_version=v2.3.1`. */
  readonly text: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly observed: number;
  readonly expected: number;
  readonly delta: number;
  /** delta / the aggregate's delta. */
  readonly share: number;
  readonly confidence: number;
}

/** The drill of one anomalous window of a derived series. */
export interface AggregateDrill {
  /** End of the window (the derived point's time). */
  readonly t: number;
  readonly drill: DrillResult;
  /** The group's labels: the drill's scope. */
  readonly scope: Labels;
}

/** `checkout-error-rate` -> `checkout_error_rate`: a valid Prometheus metric name part. */
function metricPart(s: string): string {
  const x = s.replace(/[^a-zA-Z0-9_:]/g, '_');
  return /^[a-zA-Z_:]/.test(x) ? x : `_${x}`;
}

/** The derived series' metric name of a rule: `<rule>:<fn>`, `<rule>:p99`, `<rule>:ratio`. */
export function derivedMetric(rule: Pick<Rule, 'name' | 'aggregation' | 'denominator'>): string {
  const a = rule.aggregation;
  let fn: string = a.fn;
  if (rule.denominator) fn = 'ratio';
  else if (a.fn === 'quantile') fn = `p${String(+((a.q ?? 0) * 100).toFixed(4)).replace('.', '_')}`;
  return `${metricPart(rule.name)}:${fn}`;
}

// Per-slot accumulator fields of a leaf.
const NUM_SUM = 0;
const NUM_COUNT = 1;
const NUM_MAX = 2;
const NUM_MIN = 3;
const DEN_SUM = 4;
const DEN_COUNT = 5;
const FIELDS = 6;

/** Samples of one window for quantile: exact while small, then a sketch. */
class QuantileAcc {
  exact: number[] = [];
  sketch: QuantileSketch | undefined;

  add(v: number, cap: number): void {
    if (this.sketch) {
      this.sketch.add(v);
      return;
    }
    this.exact.push(v);
    if (this.exact.length > cap) {
      this.sketch = new QuantileSketch();
      for (const x of this.exact) this.sketch.add(x);
      this.exact = [];
    }
  }
}

/** Quantile over several accumulators (exact when every one is exact and the union is small). */
function quantileOf(accs: readonly QuantileAcc[], q: number, cap: number): number {
  let n = 0;
  let sketched = false;
  for (const a of accs) {
    if (a.sketch) sketched = true;
    n += a.exact.length;
  }
  if (!sketched && n <= cap) {
    if (n === 0) return NaN;
    const all = new Float64Array(n);
    let k = 0;
    for (const a of accs) for (const x of a.exact) all[k++] = x;
    all.sort();
    // Linear interpolation between closest ranks (Prometheus' quantile_over_time).
    const rank = q * (n - 1);
    const lo = Math.floor(rank);
    const hi = Math.min(n - 1, lo + 1);
    return all[lo] + (all[hi] - all[lo]) * (rank - lo);
  }
  const s = new QuantileSketch();
  for (const a of accs) {
    if (a.sketch) s.merge(a.sketch);
    for (const x of a.exact) s.add(x);
  }
  return s.quantile(q);
}

/** One combination of the non-group labels: its open-window accumulators and its expectation. */
export class Leaf {
  readonly key: string;
  readonly labels: Labels;
  /** Window index per slot (NaN: empty). */
  readonly slotIdx: Float64Array;
  readonly acc: Float64Array;
  readonly qs: (QuantileAcc | undefined)[];
  /** EWMA of the leaf's window value (numerator) and denominator; NaN before the first normal window. */
  expNum = NaN;
  expDen = NaN;

  constructor(key: string, labels: Labels, slots: number) {
    this.key = key;
    this.labels = labels;
    this.slotIdx = new Float64Array(slots).fill(NaN);
    this.acc = new Float64Array(slots * FIELDS);
    this.qs = new Array(slots).fill(undefined);
  }

  /** The accumulator offset of window `idx`, claiming its slot (the slot's old window is closed). */
  slot(idx: number): number {
    const n = this.slotIdx.length;
    const s = ((idx % n) + n) % n;
    if (this.slotIdx[s] !== idx) {
      this.slotIdx[s] = idx;
      const o = s * FIELDS;
      this.acc.fill(0, o, o + FIELDS);
      this.acc[o + NUM_MAX] = -Infinity;
      this.acc[o + NUM_MIN] = Infinity;
      this.qs[s] = undefined;
    }
    return s;
  }

  /** The slot holding window `idx`, or -1. */
  find(idx: number): number {
    const n = this.slotIdx.length;
    const s = ((idx % n) + n) % n;
    return this.slotIdx[s] === idx ? s : -1;
  }
}

/** One group (values of the rule's group_by labels): its leaves and its derived series. */
export class AggGroup {
  readonly agg: RuleAggregator;
  readonly key: string;
  /** The derived series' labels: the group_by labels plus tidemark_rule. */
  readonly labels: Labels;
  readonly leaves = new Map<string, Leaf>();
  overflow: Leaf | undefined;
  /**
   * The derived series' engine entry, set by the engine once interned (typed loosely so this
   * file does not depend on the engine's series bookkeeping).
   */
  entry: unknown;
  /** Closed windows waiting for the derived series to be interned, with their ingest mode. */
  readonly pending: { readonly window: ClosedWindow; readonly live: boolean }[] = [];
  /** The derived series is being interned (or restored). */
  materialising = false;
  /** Recent drills of anomalous windows, oldest first. */
  readonly drills: AggregateDrill[] = [];
  /**
   * The group's own window clock, used only when samples come with the rule's watermark (a
   * cluster worker that owns this group but not the rule's other groups): newest watermark,
   * windows closed through, windows with data.
   */
  watermark = -Infinity;
  closedThrough = -Infinity;
  readonly open = new Set<number>();
  /** The derived series is being interned: settles when its pending windows are judged. */
  settling: Promise<void> | undefined;
  /** Cluster: the bus partition that owns this group (computed once). */
  partition = -1;

  constructor(agg: RuleAggregator, key: string, labels: Labels) {
    this.agg = agg;
    this.key = key;
    this.labels = labels;
  }
}

/** One input series of one aggregator: where its points go, and its recent points. */
export class Feed {
  readonly agg: RuleAggregator;
  readonly group: AggGroup;
  readonly leaf: Leaf;
  /** 0: numerator (or the only side), 1: denominator. */
  readonly role: 0 | 1;
  /**
   * The last `cap` points, ascending, in [lo, hi) of buffers twice that size: appends in order
   * (the common case) just write, and the live part moves to the front once per `cap` points.
   */
  readonly ringT: Float64Array;
  readonly ringV: Float64Array;
  readonly cap: number;
  lo = 0;
  hi = 0;

  constructor(agg: RuleAggregator, group: AggGroup, leaf: Leaf, role: 0 | 1, ring: number) {
    this.agg = agg;
    this.group = group;
    this.leaf = leaf;
    this.role = role;
    this.cap = ring;
    this.ringT = new Float64Array(2 * ring);
    this.ringV = new Float64Array(2 * ring);
  }
}

/** A closed window of one group: its aggregate value and its leaves' values. */
export interface ClosedWindow {
  readonly group: AggGroup;
  /** End of the window: the derived point's time. */
  readonly t: number;
  /** The aggregate; NaN when undefined (a ratio over no traffic): then nothing is judged. */
  readonly value: number;
  readonly leaves: readonly Leaf[];
  /** Per leaf: the value the drill attributes (numerator) and the denominator (ratio, avg). NaN: no data. */
  readonly real: Float64Array;
  readonly den: Float64Array;
}

export interface AggregateOptions {
  readonly toleranceMs: number;
  readonly maxLeaves?: number;
  readonly ring?: number;
  readonly alpha?: number;
  readonly exactQuantile?: number;
}

/** The aggregation of one rule: its groups, open windows, watermark and closed windows to judge. */
export class RuleAggregator {
  readonly rule: Rule;
  readonly metric: string;
  /** Config that, when unchanged across a reload, keeps this aggregator's state. */
  readonly signature: string;
  readonly windowMs: number;
  readonly toleranceMs: number;
  readonly ratio: boolean;
  /** Counter increases (rate) rather than sample values. */
  readonly increases: boolean;
  readonly groups = new Map<string, AggGroup>();
  /** Newest sample time seen (ms). */
  watermark = -Infinity;
  /** Every window at or below this index is closed. */
  closedThrough = -Infinity;
  /** Samples that came for a closed window, or older than their series' ring. */
  lateDropped = 0;
  /** Windows closed and not yet judged, in time order. */
  readonly closed: ClosedWindow[] = [];
  /**
   * Cluster feeds (src/cluster/feeds.ts): per input series key, its feeds and newest accepted
   * time. In one process the engine's series entries hold both.
   */
  readonly inputs = new Map<string, FeedInput>();
  readonly #num: (metric: string, labels: Labels) => boolean;
  readonly #den: ((metric: string, labels: Labels) => boolean) | undefined;
  /** Labels fixed by the selectors of a ratio rule (status codes): not leaf dimensions. */
  readonly #pinned: ReadonlySet<string>;
  readonly #slots: number;
  readonly #maxLeaves: number;
  readonly #ring: number;
  readonly #alpha: number;
  readonly #exact: number;
  /** Window indexes with data not closed yet. */
  readonly #open = new Set<number>();
  #lastPlaced = NaN;

  constructor(rule: Rule, o: AggregateOptions) {
    this.rule = rule;
    this.metric = derivedMetric(rule);
    this.windowMs = rule.aggregation.windowMs;
    this.toleranceMs = o.toleranceMs;
    this.ratio = rule.denominator !== undefined;
    this.increases = rule.aggregation.fn === 'rate';
    this.#num = compileSelector(rule.selector);
    this.#den = rule.denominator ? compileSelector(rule.denominator) : undefined;
    this.#pinned = new Set(rule.denominator ? [...rule.selector.matchers, ...rule.denominator.matchers].map((m) => m.label) : []);
    // Open windows span at most window + tolerance, plus the one a new point opens.
    this.#slots = Math.ceil(o.toleranceMs / this.windowMs) + 2;
    this.#maxLeaves = o.maxLeaves ?? AGGREGATE_DEFAULTS.maxLeaves;
    this.#ring = o.ring ?? AGGREGATE_DEFAULTS.ring;
    this.#alpha = o.alpha ?? AGGREGATE_DEFAULTS.alpha;
    this.#exact = o.exactQuantile ?? AGGREGATE_DEFAULTS.exactQuantile;
    this.signature = JSON.stringify([rule.name, rule.selector.text, rule.denominator?.text ?? null, rule.aggregation, rule.groupBy, rule.detectors ?? null, o.toleranceMs]);
  }

  /** The feeds a series gives this aggregator: none, numerator, denominator, or both. */
  feedsFor(metric: string, labels: Labels): Feed[] {
    const out: Feed[] = [];
    if (this.#num(metric, labels)) out.push(this.#feed(labels, 0));
    if (this.#den?.(metric, labels)) out.push(this.#feed(labels, 1));
    return out;
  }

  #feed(labels: Labels, role: 0 | 1): Feed {
    const gb = this.rule.groupBy;
    const gkey = groupKeyOf(gb, labels);
    let g = this.groups.get(gkey);
    if (!g) {
      const gl: Record<string, string> = {};
      for (const k of gb) if (labels[k] !== undefined) gl[k] = labels[k];
      gl[RULE_LABEL] = this.rule.name;
      this.groups.set(gkey, (g = new AggGroup(this, gkey, Object.freeze(gl))));
    }
    const leafLabels: Record<string, string> = {};
    for (const k of Object.keys(labels).sort()) if (!this.#pinned.has(k)) leafLabels[k] = labels[k];
    const lkey = Object.entries(leafLabels).map(([k, v]) => `${k}=${v}`).join('\u0000');
    let leaf = g.leaves.get(lkey);
    if (!leaf) {
      if (g.leaves.size < this.#maxLeaves) g.leaves.set(lkey, (leaf = new Leaf(lkey, Object.freeze(leafLabels), this.#slots)));
      else {
        if (!g.overflow) {
          const ol: Record<string, string> = {};
          for (const k of Object.keys(leafLabels)) ol[k] = gb.includes(k) ? leafLabels[k] : OTHER_VALUE;
          g.overflow = new Leaf('\u0001other', Object.freeze(ol), this.#slots);
        }
        leaf = g.overflow;
      }
    }
    return new Feed(this, g, leaf, role, this.#ring);
  }

  /**
   * One sample of an input series (any order within the tolerance; retries are idempotent).
   * Windows the watermark leaves behind are closed onto `closed` before the sample is placed.
   */
  add(f: Feed, t: number, v: number, wm?: number): void {
    let closedThrough: number;
    if (wm === undefined) {
      if (t > this.watermark) {
        this.watermark = t;
        const due = Math.floor((t - this.toleranceMs) / this.windowMs) - 1;
        if (due > this.closedThrough) this.#closeThrough(due);
      }
      closedThrough = this.closedThrough;
    } else {
      // The rule's watermark as one process would have it here, but only this group's windows close.
      const g = f.group;
      const m = wm > t ? wm : t;
      if (m > g.watermark) {
        g.watermark = m;
        if (m > this.watermark) this.watermark = m;
        const due = Math.floor((m - this.toleranceMs) / this.windowMs) - 1;
        if (due > g.closedThrough) this.#closeGroupThrough(g, due);
      }
      closedThrough = g.closedThrough;
    }
    const idx = Math.floor(t / this.windowMs);
    if (idx <= closedThrough) {
      this.lateDropped++;
      return;
    }
    // Place t in the series' ring: a time already there is a retry; one older than the ring is unknowable.
    const rt = f.ringT;
    const rv = f.ringV;
    let lo = f.lo;
    let hi = f.hi;
    let pos = hi;
    while (pos > lo && rt[pos - 1] > t) pos--;
    if (pos > lo && rt[pos - 1] === t) return;
    if (pos === lo && hi - lo === f.cap) {
      this.lateDropped++;
      return;
    }
    const hasPrev = pos > lo;
    const hasNext = pos < hi;
    const pv = hasPrev ? rv[pos - 1] : NaN;
    const nt = hasNext ? rt[pos] : NaN;
    const nv = hasNext ? rv[pos] : NaN;
    if (hi === rt.length) {
      rt.copyWithin(0, lo, hi);
      rv.copyWithin(0, lo, hi);
      pos -= lo;
      hi -= lo;
      lo = 0;
    }
    if (pos < hi) {
      rt.copyWithin(pos + 1, pos, hi);
      rv.copyWithin(pos + 1, pos, hi);
    }
    rt[pos] = t;
    rv[pos] = v;
    hi++;
    if (hi - lo > f.cap) lo++; // the oldest goes (its value was read above if it was the neighbour)
    f.lo = lo;
    f.hi = hi;
    const leaf = f.leaf;
    let o: number;
    if (wm === undefined) o = this.#place(leaf, idx);
    else {
      f.group.open.add(idx);
      o = leaf.slot(idx) * FIELDS;
    }
    const sum = f.role === 0 ? NUM_SUM : DEN_SUM;
    const count = f.role === 0 ? NUM_COUNT : DEN_COUNT;
    if (this.increases) {
      // The increase from the previous point lands in this point's window; a late point splits
      // the increase its neighbours had into two.
      if (hasPrev) {
        leaf.acc[o + sum] += v >= pv ? v - pv : v;
        leaf.acc[o + count]++;
      }
      if (hasNext) {
        const no = leaf.find(Math.floor(nt / this.windowMs));
        if (no >= 0) {
          const nb = no * FIELDS;
          if (hasPrev) {
            leaf.acc[nb + sum] -= nv >= pv ? nv - pv : nv;
            leaf.acc[nb + count]--;
          }
          leaf.acc[nb + sum] += nv >= v ? nv - v : nv;
          leaf.acc[nb + count]++;
        }
      }
      return;
    }
    leaf.acc[o + sum] += v;
    leaf.acc[o + count]++;
    if (f.role === 0) {
      if (v > leaf.acc[o + NUM_MAX]) leaf.acc[o + NUM_MAX] = v;
      if (v < leaf.acc[o + NUM_MIN]) leaf.acc[o + NUM_MIN] = v;
      if (this.rule.aggregation.fn === 'quantile') {
        const s = o / FIELDS;
        (leaf.qs[s] ??= new QuantileAcc()).add(v, this.#exact);
      }
    }
  }

  #place(leaf: Leaf, idx: number): number {
    if (idx !== this.#lastPlaced) {
      this.#open.add(idx);
      this.#lastPlaced = idx;
    }
    return leaf.slot(idx) * FIELDS;
  }

  /** Closes one group's open windows up to `due` (its own clock), in time order. */
  #closeGroupThrough(g: AggGroup, due: number): void {
    const list = [...g.open].filter((i) => i <= due).sort((a, b) => a - b);
    for (const idx of list) {
      g.open.delete(idx);
      const w = this.#closeGroup(g, idx);
      if (w) this.closed.push(w);
    }
    g.closedThrough = due;
  }

  /** Closes every open window up to `due`, in time order. */
  #closeThrough(due: number): void {
    const list = [...this.#open].filter((i) => i <= due).sort((a, b) => a - b);
    for (const idx of list) {
      this.#open.delete(idx);
      for (const g of this.groups.values()) {
        const w = this.#closeGroup(g, idx);
        if (w) this.closed.push(w);
      }
    }
    this.closedThrough = due;
  }

  #closeGroup(g: AggGroup, idx: number): ClosedWindow | undefined {
    const fn = this.rule.aggregation.fn;
    const additive = this.ratio || fn === 'sum' || fn === 'rate' || fn === 'avg';
    const leaves: Leaf[] = [];
    let any = false;
    for (const leaf of g.leaves.values()) if (leaf.find(idx) >= 0 || (additive && leaf.expNum === leaf.expNum)) leaves.push(leaf);
    if (g.overflow && (g.overflow.find(idx) >= 0 || (additive && g.overflow.expNum === g.overflow.expNum))) leaves.push(g.overflow);
    const real = new Float64Array(leaves.length);
    const den = new Float64Array(leaves.length);
    let num = 0;
    let numCount = 0;
    let denSum = 0;
    let hi = -Infinity;
    let lo = Infinity;
    const qs: QuantileAcc[] = [];
    const q = this.rule.aggregation.q ?? 0.5;
    for (let i = 0; i < leaves.length; i++) {
      const leaf = leaves[i];
      const s = leaf.find(idx);
      if (s < 0) {
        // A leaf that sent nothing this window: zero of an additive quantity.
        real[i] = 0;
        den[i] = 0;
        continue;
      }
      const o = s * FIELDS;
      const a = leaf.acc;
      const c = a[o + NUM_COUNT];
      if (c > 0 || a[o + DEN_COUNT] > 0) any = true;
      num += a[o + NUM_SUM];
      numCount += c;
      denSum += a[o + DEN_SUM];
      if (a[o + NUM_MAX] > hi) hi = a[o + NUM_MAX];
      if (a[o + NUM_MIN] < lo) lo = a[o + NUM_MIN];
      if (this.ratio) {
        real[i] = a[o + NUM_SUM];
        den[i] = a[o + DEN_SUM];
      } else if (fn === 'avg') {
        real[i] = a[o + NUM_SUM];
        den[i] = c;
      } else if (fn === 'max') real[i] = c > 0 ? a[o + NUM_MAX] : NaN;
      else if (fn === 'min') real[i] = c > 0 ? a[o + NUM_MIN] : NaN;
      else if (fn === 'quantile') {
        const acc = leaf.qs[s];
        if (acc) qs.push(acc);
        real[i] = acc ? quantileOf([acc], q, this.#exact) : NaN;
      } else real[i] = a[o + NUM_SUM];
      leaf.slotIdx[s] = NaN;
      leaf.qs[s] = undefined;
    }
    if (!any) return undefined;
    let value: number;
    if (this.ratio) value = denSum > 0 ? num / denSum : NaN;
    else if (fn === 'sum') value = num;
    else if (fn === 'rate') value = numCount > 0 ? num / (this.windowMs / 1000) : NaN;
    else if (fn === 'avg') value = numCount > 0 ? num / numCount : NaN;
    else if (fn === 'max') value = hi;
    else if (fn === 'min') value = lo;
    else value = quantileOf(qs, q, this.#exact);
    return { group: g, t: (idx + 1) * this.windowMs, value, leaves, real, den };
  }

  /**
   * The cluster state of the groups `keep` selects: clock, open windows, leaf expectations and
   * their input series' recent points. Closed windows must have been judged (`closed` empty).
   */
  snapshotGroups(keep: (g: AggGroup) => boolean): AggregatorState {
    const groups: GroupState[] = [];
    const inputs = new Map<AggGroup, GroupState['inputs']>();
    for (const [key, inp] of this.inputs) {
      const g = inp.feeds[0]?.group;
      if (g === undefined || !keep(g)) continue;
      let list = inputs.get(g);
      if (!list) inputs.set(g, (list = []));
      list.push({ key, lastT: inp.lastT, feeds: inp.feeds.map((f) => ({ leaf: f.leaf.key, role: f.role, t: f.ringT.slice(f.lo, f.hi), v: f.ringV.slice(f.lo, f.hi) })) });
    }
    for (const g of this.groups.values()) {
      if (!keep(g)) continue;
      groups.push({
        key: g.key,
        labels: { ...g.labels },
        watermark: g.watermark,
        closedThrough: g.closedThrough,
        open: [...g.open],
        leaves: [...g.leaves.values()].map(leafState),
        overflow: g.overflow ? leafState(g.overflow) : null,
        inputs: inputs.get(g) ?? [],
      });
    }
    return { signature: this.signature, groups };
  }

  /**
   * Puts back groups from `snapshotGroups` (a worker taking over their partition), replacing
   * groups of the same key. False when the state is of another config of the rule (nothing restored).
   */
  restoreGroups(st: AggregatorState): boolean {
    if (st.signature !== this.signature) return false;
    for (const gs of st.groups) {
      this.dropGroups((g) => g.key === gs.key);
      const g = new AggGroup(this, gs.key, Object.freeze({ ...gs.labels }));
      g.watermark = gs.watermark;
      g.closedThrough = gs.closedThrough;
      for (const i of gs.open) g.open.add(i);
      for (const ls of gs.leaves) g.leaves.set(ls.key, leafFrom(ls, this.#slots));
      if (gs.overflow) g.overflow = leafFrom(gs.overflow, this.#slots);
      if (g.watermark > this.watermark) this.watermark = g.watermark;
      this.groups.set(g.key, g);
      for (const inp of gs.inputs) {
        const feeds = inp.feeds.map((fs) => {
          const leaf = fs.leaf === g.overflow?.key ? g.overflow : g.leaves.get(fs.leaf);
          if (!leaf) throw new Error(`group ${JSON.stringify(gs.key)}: an input names leaf ${JSON.stringify(fs.leaf)}, which it does not hold`);
          const f = new Feed(this, g, leaf, fs.role === 1 ? 1 : 0, this.#ring);
          const n = Math.min(fs.t.length, f.cap);
          f.ringT.set(fs.t.subarray(fs.t.length - n));
          f.ringV.set(fs.v.subarray(fs.v.length - n));
          f.hi = n;
          return f;
        });
        this.inputs.set(inp.key, { feeds, lastT: inp.lastT });
      }
    }
    return true;
  }

  /** Removes the groups `drop` selects with their inputs (a worker gave up their partition); returns them. */
  dropGroups(drop: (g: AggGroup) => boolean): AggGroup[] {
    const out: AggGroup[] = [];
    for (const [k, g] of this.groups) {
      if (!drop(g)) continue;
      this.groups.delete(k);
      out.push(g);
    }
    if (out.length > 0) for (const [k, inp] of this.inputs) if (inp.feeds.length > 0 && out.includes(inp.feeds[0].group)) this.inputs.delete(k);
    return out;
  }

  /**
   * After the engine judged a closed window: an anomalous one is drilled against the leaves'
   * expectations (returned); a normal one teaches the leaves' EWMAs. `expected` is the
   * aggregate's expected value from its detectors (NaN when none).
   */
  settle(w: ClosedWindow, anomalous: boolean, expected: number): DrillResult | undefined {
    if (!anomalous) {
      const a = this.#alpha;
      for (let i = 0; i < w.leaves.length; i++) {
        const leaf = w.leaves[i];
        const x = w.real[i];
        const d = w.den[i];
        if (x !== x) continue;
        leaf.expNum = leaf.expNum === leaf.expNum ? leaf.expNum + a * (x - leaf.expNum) : x;
        leaf.expDen = leaf.expDen === leaf.expDen ? leaf.expDen + a * (d - leaf.expDen) : d;
      }
      return undefined;
    }
    return this.drillWindow(w, expected);
  }

  /** The drill of a closed window against its leaves' current expectations. */
  drillWindow(w: ClosedWindow, expected: number): DrillResult | undefined {
    const fn = this.rule.aggregation.fn;
    const exclude = [...this.rule.groupBy];
    if (this.ratio || fn === 'avg') {
      const kids: RatioChildObservation[] = [];
      for (let i = 0; i < w.leaves.length; i++) {
        const leaf = w.leaves[i];
        const e = leaf.expNum === leaf.expNum ? leaf.expNum : 0;
        const ed = leaf.expDen === leaf.expDen ? leaf.expDen : 0;
        if (w.den[i] <= 0 && ed <= 0) continue;
        kids.push({ labels: leaf.labels, numerator: { real: w.real[i], expected: e }, denominator: { real: w.den[i], expected: ed } });
      }
      return kids.length >= 2 ? drillRatio(kids, { exclude, counts: this.increases }) : undefined;
    }
    const additive = fn === 'sum' || fn === 'rate';
    let sumExp = 0;
    for (const leaf of w.leaves) if (leaf.expNum === leaf.expNum) sumExp += leaf.expNum;
    // Additive: the rule's own model sets the level (seasonality), the leaves' EWMAs the split.
    const target = fn === 'rate' ? expected * (this.windowMs / 1000) : expected;
    const scale = additive && Number.isFinite(target) && target > 0 && sumExp > 0 ? target / sumExp : 1;
    const kids: ChildObservation[] = [];
    for (let i = 0; i < w.leaves.length; i++) {
      const leaf = w.leaves[i];
      const x = w.real[i];
      if (x !== x) continue;
      let e = leaf.expNum;
      // A leaf born in the incident expected nothing; for max/min/quantile it has no level to compare.
      if (e !== e) {
        if (!additive) continue;
        e = 0;
      }
      kids.push({ labels: leaf.labels, real: x, expected: e * scale });
    }
    return kids.length >= 2 ? drill(kids, { exclude, counts: this.increases }) : undefined;
  }
}


/** A cluster input series of an aggregator: its feeds (none when the rule no longer selects it) and newest accepted time. */
export interface FeedInput {
  readonly feeds: readonly Feed[];
  lastT: number;
}

/** The group key of a series' labels under a rule's group_by (the derived series' identity). */
export function groupKeyOf(groupBy: readonly string[], labels: Readonly<Record<string, string>>): string {
  let gkey = '';
  for (const k of groupBy) gkey += `${labels[k] ?? ''}\u0000`;
  return gkey;
}

interface LeafState {
  key: string;
  labels: Record<string, string>;
  slotIdx: Float64Array;
  acc: Float64Array;
  qs: ({ exact: Float64Array; sketch: SketchData | null } | null)[];
  expNum: number;
  expDen: number;
}

interface GroupState {
  key: string;
  labels: Record<string, string>;
  watermark: number;
  closedThrough: number;
  open: number[];
  leaves: LeafState[];
  overflow: LeafState | null;
  inputs: { key: string; lastT: number; feeds: { leaf: string; role: number; t: Float64Array; v: Float64Array }[] }[];
}

/** What `snapshotGroups` returns: plain data for encodeCheckpoint. */
export interface AggregatorState {
  signature: string;
  groups: GroupState[];
}

function leafState(l: Leaf): LeafState {
  return {
    key: l.key,
    labels: { ...l.labels },
    slotIdx: l.slotIdx.slice(),
    acc: l.acc.slice(),
    qs: l.qs.map((q) => (q ? { exact: Float64Array.from(q.exact), sketch: q.sketch ? q.sketch.toData() : null } : null)),
    expNum: l.expNum,
    expDen: l.expDen,
  };
}

function leafFrom(st: LeafState, slots: number): Leaf {
  const l = new Leaf(st.key, Object.freeze({ ...st.labels }), slots);
  if (st.slotIdx.length !== slots || st.acc.length !== slots * FIELDS) throw new Error(`leaf ${st.key}: ${st.slotIdx.length} window slots, expected ${slots}`);
  l.slotIdx.set(st.slotIdx);
  l.acc.set(st.acc);
  st.qs.forEach((q, i) => {
    if (!q) return;
    const a = new QuantileAcc();
    a.exact = Array.from(q.exact);
    if (q.sketch) a.sketch = QuantileSketch.fromData(q.sketch);
    l.qs[i] = a;
  });
  l.expNum = st.expNum;
  l.expDen = st.expDen;
  return l;
}

/** The top contributors of a drill, as the anomaly carries them. */
export function contributorsOf(d: DrillResult | undefined, max = 5): Contributor[] {
  if (!d) return [];
  return d.segments.slice(0, max).map((s) => ({
    text: s.text,
    labels: Object.fromEntries(s.pairs.map((p) => [p.dimension, p.value])),
    observed: s.observed,
    expected: s.expected,
    delta: s.delta,
    share: s.share,
    confidence: s.confidence,
  }));
}

/** Builds a tenant's aggregators from its rules, keeping those whose signature did not change. */
export function buildAggregators(rules: readonly Rule[], toleranceMs: number, previous: readonly RuleAggregator[]): RuleAggregator[] {
  const old = new Map(previous.map((a) => [a.signature, a]));
  return rules.map((r) => {
    const next = new RuleAggregator(r, { toleranceMs });
    return old.get(next.signature) ?? next;
  });
}
