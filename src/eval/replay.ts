/**
 * Replay: runs series through a detector set, turns scores into anomaly events, and scores the
 * events against labels.
 *
 * The event rule (eval-side, until the alert stage exists): a point alerts when its fused score
 * is >= `threshold` (points where every detector is still learning never alert). Alerting points
 * form one event while each follows the previous one within `mergeGap` sampling intervals (the
 * series' median interval), so short dips below the threshold do not split an event. An event
 * runs from its first to its last alerting point.
 *
 * Matching: an event matches a label of its series when it overlaps [label start, label end +
 * tolerance]. A label counts as detected once, by its earliest matching event; its detection
 * delay is that event's first alerting point minus the label start (0 if the event began before).
 * An event that matches no label but overlaps an expected change (deploy, restart, holiday,
 * extended the same way) is "expected": neither a true nor a false alert. Every other event is a
 * false alert.
 */
import type { DetectorSet, Reason } from '../detect/types.ts';
import { newFusedVerdict } from '../detect/types.ts';

/** A series to replay: name, times (ms, non-decreasing) and values (NaN = missing). */
export interface ReplaySeries {
  readonly name: string;
  readonly times: ArrayLike<number>;
  readonly values: ArrayLike<number>;
}

/** A labelled window of one series, in ms (inclusive). */
export interface ReplayLabel {
  readonly series: string;
  readonly kind: string;
  readonly start: number;
  readonly end: number;
}

export interface ReplayOptions {
  /** A point alerts when its score is >= this. */
  readonly threshold: number;
  /** Alerting points less than this many sampling intervals apart belong to one event. */
  readonly mergeGap: number;
  /** Labels extend this many sampling intervals after their end when matching events. */
  readonly tolerance: number;
}

export const REPLAY_DEFAULTS: Readonly<ReplayOptions> = Object.freeze({
  threshold: 0.9,
  mergeGap: 5, // intervals
  tolerance: 10, // intervals
});

/** An anomaly event found by replay. */
export interface AnomalyEvent {
  readonly series: string;
  /** First and last alerting point, ms. */
  readonly start: number;
  readonly end: number;
  readonly points: number;
  readonly peak: number;
  readonly peakAt: number;
  /** The strongest reason of each alerting point, most frequent first. */
  readonly reasons: Reason[];
}

export interface SeriesReplay {
  readonly series: string;
  readonly points: number;
  /** Median sampling interval, ms (NaN for fewer than two points). */
  readonly intervalMs: number;
  /** Time covered: last - first + one interval, ms. */
  readonly spanMs: number;
  readonly events: AnomalyEvent[];
}

/** The median gap between consecutive times (the series' sampling interval). */
export function medianInterval(times: ArrayLike<number>): number {
  const n = times.length;
  if (n < 2) return NaN;
  const d = new Float64Array(n - 1);
  for (let i = 1; i < n; i++) d[i - 1] = times[i]! - times[i - 1]!;
  d.sort();
  const m = d.length >> 1;
  return d.length % 2 === 1 ? d[m]! : (d[m - 1]! + d[m]!) / 2;
}

/** Streams one series through `set` (fresh state) and returns its anomaly events. */
export function replaySeries(set: DetectorSet, series: ReplaySeries, options: ReplayOptions = REPLAY_DEFAULTS): SeriesReplay {
  const { times, values } = series;
  const n = times.length;
  const interval = medianInterval(times);
  const mergeMs = Number.isFinite(interval) ? options.mergeGap * interval : 0;
  const events: AnomalyEvent[] = [];
  const verdict = newFusedVerdict();
  const state = set.init();

  let open = false;
  let start = 0;
  let last = 0;
  let points = 0;
  let peak = 0;
  let peakAt = 0;
  let reasons = new Map<Reason, number>();
  const close = () => {
    const ordered = [...reasons.entries()].sort((a, b) => b[1] - a[1]).map(([r]) => r);
    events.push({ series: series.name, start, end: last, points, peak, peakAt, reasons: ordered });
    open = false;
  };

  for (let i = 0; i < n; i++) {
    const t = times[i]!;
    set.update(state, t, values[i]!, verdict);
    if (verdict.learning || !(verdict.score >= options.threshold)) continue;
    if (open && t - last > mergeMs) close();
    if (!open) {
      open = true;
      start = t;
      points = 0;
      peak = -Infinity;
      reasons = new Map();
    }
    last = t;
    points++;
    if (verdict.score > peak) {
      peak = verdict.score;
      peakAt = t;
    }
    const r = verdict.reasons[0] ?? 'normal';
    reasons.set(r, (reasons.get(r) ?? 0) + 1);
  }
  if (open) close();
  const spanMs = n === 0 ? 0 : times[n - 1]! - times[0]! + (Number.isFinite(interval) ? interval : 0);
  return { series: series.name, points: n, intervalMs: interval, spanMs, events };
}

/** How an event was judged. */
export type EventVerdict = 'true' | 'false' | 'expected';

export interface JudgedEvent extends AnomalyEvent {
  readonly verdict: EventVerdict;
  /** The kind of the first label it matched (true alerts), or of the expected change. */
  readonly kind: string | null;
}

export interface KindMetrics {
  readonly kind: string;
  readonly labels: number;
  readonly detected: number;
  readonly recall: number;
  /** True alerts for this kind / (those + false alerts on series labelled only with it). */
  readonly precision: number;
  readonly f1: number;
  /** Mean detection delay over detected labels, ms. */
  readonly meanDelayMs: number;
  readonly falseAlerts: number;
  readonly falseAlertsPerDay: number;
}

export interface ReplayScore {
  readonly overall: KindMetrics;
  readonly byKind: KindMetrics[];
  readonly events: JudgedEvent[];
  readonly trueAlerts: number;
  readonly falseAlerts: number;
  readonly expectedAlerts: number;
  /** Series without any label: how many, their false alerts, and the rate per series-week. */
  readonly clean: { series: number; falseAlerts: number; perSeriesWeek: number };
  /** Each label with whether it was detected and its delay (NaN if missed). */
  readonly labels: (ReplayLabel & { detected: boolean; delayMs: number })[];
}

const WEEK = 7 * 86_400_000;
const DAY = 86_400_000;

function prf(tp: number, fp: number, detected: number, labels: number) {
  const precision = tp + fp > 0 ? tp / (tp + fp) : NaN;
  const recall = labels > 0 ? detected / labels : NaN;
  const f1 = precision > 0 && recall > 0 ? (2 * precision * recall) / (precision + recall) : labels > 0 ? 0 : NaN;
  return { precision, recall, f1 };
}

/** Judges replayed events against labels and expected changes (see the module comment). */
export function scoreReplay(
  replays: readonly SeriesReplay[],
  labels: readonly ReplayLabel[],
  expected: readonly ReplayLabel[] = [],
  options: ReplayOptions = REPLAY_DEFAULTS,
): ReplayScore {
  const bySeries = (xs: readonly ReplayLabel[]) => {
    const m = new Map<string, ReplayLabel[]>();
    for (const x of xs) (m.get(x.series) ?? m.set(x.series, []).get(x.series)!).push(x);
    return m;
  };
  const labelsOf = bySeries(labels);
  const expectedOf = bySeries(expected);
  const judged: JudgedEvent[] = [];
  const firstHit = new Map<ReplayLabel, number>();
  const tpByKind = new Map<string, number>();
  const fpBySeries = new Map<string, number>();

  for (const r of replays) {
    const tol = Number.isFinite(r.intervalMs) ? options.tolerance * r.intervalMs : 0;
    const ls = labelsOf.get(r.series) ?? [];
    const es = expectedOf.get(r.series) ?? [];
    for (const e of r.events) {
      const hits = ls.filter((l) => e.start <= l.end + tol && e.end >= l.start);
      if (hits.length > 0) {
        for (const l of hits) {
          const prev = firstHit.get(l);
          if (prev === undefined || e.start < prev) firstHit.set(l, e.start);
        }
        const kind = hits[0]!.kind;
        tpByKind.set(kind, (tpByKind.get(kind) ?? 0) + 1);
        judged.push({ ...e, verdict: 'true', kind });
        continue;
      }
      const ex = es.find((x) => e.start <= x.end + tol && e.end >= x.start);
      if (ex !== undefined) {
        judged.push({ ...e, verdict: 'expected', kind: ex.kind });
        continue;
      }
      fpBySeries.set(r.series, (fpBySeries.get(r.series) ?? 0) + 1);
      judged.push({ ...e, verdict: 'false', kind: null });
    }
  }

  const labelResults = labels.map((l) => {
    const at = firstHit.get(l);
    return { ...l, detected: at !== undefined, delayMs: at === undefined ? NaN : Math.max(0, at - l.start) };
  });
  const spanOf = new Map(replays.map((r) => [r.series, r.spanMs]));
  const totalDays = replays.reduce((s, r) => s + r.spanMs, 0) / DAY;

  const metrics = (kind: string, ls: typeof labelResults, tp: number, fp: number, days: number): KindMetrics => {
    const detected = ls.filter((l) => l.detected).length;
    const delays = ls.filter((l) => l.detected).map((l) => l.delayMs);
    const { precision, recall, f1 } = prf(tp, fp, detected, ls.length);
    return {
      kind,
      labels: ls.length,
      detected,
      recall,
      precision,
      f1,
      meanDelayMs: delays.length > 0 ? delays.reduce((a, b) => a + b, 0) / delays.length : NaN,
      falseAlerts: fp,
      falseAlertsPerDay: days > 0 ? fp / days : NaN,
    };
  };

  const trueAlerts = judged.filter((e) => e.verdict === 'true').length;
  const falseAlerts = judged.filter((e) => e.verdict === 'false').length;
  const expectedAlerts = judged.length - trueAlerts - falseAlerts;
  const overall = metrics('overall', labelResults, trueAlerts, falseAlerts, totalDays);

  const kinds = [...new Set(labels.map((l) => l.kind))].sort();
  const byKind = kinds.map((kind) => {
    // False alerts count against a kind on series whose labels are all of that kind.
    const series = [...labelsOf.entries()].filter(([, ls]) => ls.every((l) => l.kind === kind)).map(([s]) => s);
    const fp = series.reduce((s, name) => s + (fpBySeries.get(name) ?? 0), 0);
    const days = series.reduce((s, name) => s + (spanOf.get(name) ?? 0), 0) / DAY;
    return metrics(kind, labelResults.filter((l) => l.kind === kind), tpByKind.get(kind) ?? 0, fp, days);
  });

  const cleanSeries = replays.filter((r) => !labelsOf.has(r.series));
  const cleanFalse = cleanSeries.reduce((s, r) => s + (fpBySeries.get(r.series) ?? 0), 0);
  const cleanWeeks = cleanSeries.reduce((s, r) => s + r.spanMs, 0) / WEEK;
  return {
    overall,
    byKind,
    events: judged,
    trueAlerts,
    falseAlerts,
    expectedAlerts,
    clean: { series: cleanSeries.length, falseAlerts: cleanFalse, perSeriesWeek: cleanWeeks > 0 ? cleanFalse / cleanWeeks : NaN },
    labels: labelResults,
  };
}

/** Replays every series (each with a fresh state) and times the run. */
export function replayAll(
  set: DetectorSet,
  series: readonly ReplaySeries[],
  options: ReplayOptions = REPLAY_DEFAULTS,
): { replays: SeriesReplay[]; points: number; ms: number } {
  const t0 = performance.now();
  const replays = series.map((s) => replaySeries(set, s, options));
  return { replays, points: replays.reduce((n, r) => n + r.points, 0), ms: performance.now() - t0 };
}
