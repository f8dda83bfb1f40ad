// Loading chart data from the Prometheus-style query API: a series, its band (companion series
// tidemark_expected / lower / upper) and the same range a week earlier, aligned on one time axis.
import { get, qs } from './api.ts';
import type { ChartData } from './components/chart.tsx';
import { stepFor } from './format.ts';
import { companionSelector, resultLabels, sameLabels, seriesSelector, type Labels } from './labels.ts';
import type { PromSeries, SeriesRef } from './types.ts';

const WEEK_MS = 7 * 86_400_000;

async function range(query: string, from: number, to: number, step: number): Promise<PromSeries[]> {
  const r = await get<{ result: PromSeries[] }>(`/api/v1/query_range${qs({ query, start: from / 1000, end: to / 1000, step })}`);
  return r.result;
}

/** Raw points with from < t <= to: a range selector at `to`, so nothing is resampled or repeated. */
async function raw(selector: string, from: number, to: number): Promise<PromSeries[]> {
  const r = await get<{ result: PromSeries[] }>(`/api/v1/query${qs({ query: `${selector}[${Math.max(1, Math.round(to - from))}ms]`, time: to / 1000 })}`);
  return r.result;
}

/** The result whose labels are exactly `want` (a selector also matches series with more labels). */
function exact(result: PromSeries[], want: Labels, companion: boolean): PromSeries | undefined {
  return result.find((s) => sameLabels(resultLabels(s.metric, companion), want));
}

function byTime(s: PromSeries | undefined): Map<number, number> {
  const m = new Map<number, number>();
  if (s) for (const [t, v] of s.values) m.set(Math.round(t * 1000), Number(v));
  return m;
}

const num = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? null : v);

/**
 * Values of `s`, shifted by `shiftMs`, on the axis `t`: each axis time takes the nearest point
 * within half the typical spacing (a week-old series need not share the exact millisecond).
 */
export function alignNearest(t: readonly number[], s: PromSeries | undefined, shiftMs: number): (number | null)[] {
  const out: (number | null)[] = t.map(() => null);
  if (!s || s.values.length === 0 || t.length === 0) return out;
  const gaps: number[] = [];
  for (let i = 1; i < t.length && gaps.length < 64; i++) gaps.push(t[i] - t[i - 1]);
  gaps.sort((a, b) => a - b);
  const tol = gaps.length > 0 ? gaps[gaps.length >> 1] / 2 : 30_000;
  const st = s.values.map(([x]) => Math.round(x * 1000) + shiftMs);
  let j = 0;
  for (let i = 0; i < t.length; i++) {
    while (j + 1 < st.length && Math.abs(st[j + 1] - t[i]) <= Math.abs(st[j] - t[i])) j++;
    if (Math.abs(st[j] - t[i]) <= tol) out[i] = num(Number(s.values[j][1]));
  }
  return out;
}

/** Value, band and last week of one series over (from, to] (ms), as stored (no resampling). */
export async function loadSeriesChart(ref: SeriesRef, from: number, to: number, withLastWeek = true): Promise<ChartData> {
  const sel = seriesSelector(ref.metric, ref.labels);
  const [value, expected, lower, upper, week] = await Promise.all([
    raw(sel, from, to),
    raw(companionSelector('tidemark_expected', ref.metric, ref.labels), from, to),
    raw(companionSelector('tidemark_lower', ref.metric, ref.labels), from, to),
    raw(companionSelector('tidemark_upper', ref.metric, ref.labels), from, to),
    withLastWeek ? raw(sel, from - WEEK_MS, to - WEEK_MS) : Promise.resolve([]),
  ]);
  const v = exact(value, ref.labels, false);
  const t = v ? v.values.map(([s]) => Math.round(s * 1000)) : [];
  const align = (m: Map<number, number>) => t.map((x) => num(m.get(x)));
  const e = byTime(exact(expected, ref.labels, true));
  const lo = byTime(exact(lower, ref.labels, true));
  const hi = byTime(exact(upper, ref.labels, true));
  const wk = exact(week, ref.labels, false);
  return {
    t,
    value: v ? v.values.map(([, x]) => num(Number(x))) : [],
    ...(e.size > 0 && { expected: align(e) }),
    ...(lo.size > 0 && hi.size > 0 && { lower: align(lo), upper: align(hi) }),
    ...(wk && wk.values.length > 0 && { lastWeek: alignNearest(t, wk, WEEK_MS) }),
  };
}

/** Series of a metric (or a full selector) for the explorer and for finding an alert's series. */
export async function findSeries(selector: string): Promise<SeriesRef[]> {
  const data = await get<Record<string, string>[]>(`/api/v1/series${qs({ 'match[]': [selector] })}`);
  return data.map((l) => ({ metric: l.__name__ ?? '', labels: resultLabels(l) }));
}

/** Points of a selector summed per timestamp (a contributor's segment can span several series). */
export async function loadSummed(selector: string, from: number, to: number): Promise<[number, number][]> {
  const res = await range(selector, from, to, stepFor(to - from, 200));
  const sum = new Map<number, number>();
  for (const s of res) for (const [t, v] of s.values) sum.set(t * 1000, (sum.get(t * 1000) ?? 0) + Number(v));
  return [...sum.entries()].sort((a, b) => a[0] - b[0]);
}
