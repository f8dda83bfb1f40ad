/**
 * A seeded generator of realistic DevOps metric series with labelled, injected anomalies.
 *
 * Every series follows one service's load: a daily curve (night floor, afternoon peak), a
 * weekly one (weekend dip), a slow trend and a public holiday that looks like a Sunday. Metrics:
 * - `qps`: requests/s, noise proportional to the level plus a slow AR(1) wander;
 * - `latency_p50` / `latency_p99`: milliseconds, rising with load; p99 has heavier, log-normal
 *   noise and rare benign tail bursts;
 * - `errors`: errors per interval, Poisson (small integers, often zero);
 * - `cpu`: percent, bounded to 0..100;
 * - `counter`: a monotonic request counter that restarts from 0 when its process restarts.
 *
 * Benign changes are labelled as `expected` and are not anomalies: deploys (a 1.5-3% level step),
 * process restarts (a counter reset) and the holiday. Anomalies are injected after the first half
 * of the series (warm-up) and never overlap each other or an expected change. Each anomalous
 * series carries one anomaly kind (2-3 instances, fewer when they do not fit); clean series carry none.
 *
 * Times are UTC, and the day's shape follows UTC hours. The same options give the same output.
 */
import { mulberry32 } from '../series/index.ts';

/** The metric a series measures. */
export type MetricKind = 'qps' | 'latency_p50' | 'latency_p99' | 'errors' | 'cpu' | 'counter';

/** The kinds of injected anomaly. */
export type AnomalyKind =
  | 'spike'
  | 'drop_to_zero'
  | 'level_shift'
  | 'drift'
  | 'small_shift'
  | 'gap'
  | 'counter_reset'
  | 'unit_change'
  | 'seasonal_break';

/** The kinds of benign, labelled change. */
export type ExpectedKind = 'deploy' | 'restart' | 'holiday';

export const ANOMALY_KINDS: readonly AnomalyKind[] = Object.freeze([
  'spike',
  'drop_to_zero',
  'level_shift',
  'drift',
  'small_shift',
  'gap',
  'counter_reset',
  'unit_change',
  'seasonal_break',
]);

export const METRIC_KINDS: readonly MetricKind[] = Object.freeze(['qps', 'latency_p50', 'latency_p99', 'errors', 'cpu', 'counter']);

/** Which metrics each anomaly kind is injected into (the ones where it is realistic). */
const ELIGIBLE: Readonly<Record<AnomalyKind, readonly MetricKind[]>> = {
  spike: ['qps', 'latency_p99', 'errors', 'latency_p50', 'cpu'],
  drop_to_zero: ['qps', 'cpu'],
  level_shift: ['latency_p50', 'qps', 'cpu', 'errors', 'latency_p99'],
  drift: ['latency_p50', 'cpu', 'latency_p99'],
  small_shift: ['qps', 'latency_p50'],
  gap: ['qps', 'cpu', 'latency_p99', 'counter', 'errors', 'latency_p50'],
  counter_reset: ['counter'],
  unit_change: ['latency_p50', 'latency_p99'],
  seasonal_break: ['qps', 'cpu'],
};

/** A labelled anomaly: `[start, end]` in ms, inclusive. */
export interface AnomalyLabel {
  series: string;
  kind: AnomalyKind;
  start: number;
  end: number;
}

/** A labelled benign change (not an anomaly). */
export interface ExpectedLabel {
  series: string;
  kind: ExpectedKind;
  start: number;
  end: number;
}

export interface SynthSeries {
  readonly name: string;
  readonly metric: MetricKind;
  /** The anomaly kind injected, or null for a clean series. */
  readonly anomaly: AnomalyKind | null;
  readonly times: Float64Array;
  readonly values: Float64Array;
  readonly labels: AnomalyLabel[];
  readonly expected: ExpectedLabel[];
}

export interface SynthOptions {
  /** Number of series. */
  series: number;
  /** Length of every series, in days. */
  days: number;
  /** Sampling interval, ms. */
  intervalMs: number;
  seed: number;
  /** Anomaly kinds to inject (round-robin over the anomalous series). */
  kinds: readonly AnomalyKind[];
  /** Share of series left clean (0..1); 1 = no anomalies at all. */
  cleanFraction: number;
  /** First timestamp, ms (a Monday 00:00 UTC by default). */
  start: number;
}

export const SYNTH_DEFAULTS: Readonly<SynthOptions> = Object.freeze({
  series: 40,
  days: 14,
  intervalMs: 60_000, // 1 minute
  seed: 1,
  kinds: ANOMALY_KINDS,
  cleanFraction: 0.2,
  start: Date.UTC(2024, 0, 1), // Monday 2024-01-01 00:00 UTC
});

const HOUR = 3_600_000;
const DAY = 86_400_000;

export { mulberry32 };

class Rng {
  readonly #next: () => number;
  #spare = NaN;
  constructor(seed: number) {
    this.#next = mulberry32(seed);
  }
  uniform(a = 0, b = 1): number {
    return a + (b - a) * this.#next();
  }
  int(a: number, b: number): number {
    return a + Math.floor(this.#next() * (b - a + 1));
  }
  normal(): number {
    if (!Number.isNaN(this.#spare)) {
      const s = this.#spare;
      this.#spare = NaN;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.#next();
    const v = this.#next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.#spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
  poisson(lambda: number): number {
    if (lambda <= 0) return 0;
    if (lambda > 30) return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * this.normal()));
    const limit = Math.exp(-lambda);
    let k = 0;
    let p = this.#next();
    while (p > limit) {
      k++;
      p *= this.#next();
    }
    return k;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.#next() * xs.length)]!;
  }
}

/** A seed for series `i` that does not depend on how many series there are. */
function seriesSeed(seed: number, i: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ (i + 0x85ebca6b), 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

interface LoadShape {
  peakHour: number;
  floor: number;
  weekend: number;
  trendPerDay: number;
}

/** A day's traffic factor (day = days since the epoch): weekend dip, quieter Friday, holiday. */
function dayFactor(shape: LoadShape, day: number, holiday: number): number {
  if (day === holiday) return shape.weekend * 1.05;
  const dow = (day + 3) % 7; // 0 = Monday (1970-01-01 was a Thursday)
  return dow === 5 ? shape.weekend : dow === 6 ? shape.weekend * 1.05 : dow === 4 ? 0.95 : 1;
}

/**
 * The service's load at time t (about 0.15..1.1): daily curve x day factor x trend. Day factors
 * blend from noon to noon, so weekends and the holiday come and go gradually, not at midnight.
 */
function loadAt(shape: LoadShape, t: number, start: number, holiday: number): number {
  const h = (((t % DAY) + DAY) % DAY) / HOUR;
  const phase = (1 - Math.cos((2 * Math.PI * (h - shape.peakHour + 12)) / 24)) / 2;
  const daily = shape.floor + (1 - shape.floor) * phase ** 1.5;
  const x = t / DAY - 0.5;
  const d0 = Math.floor(x);
  const f = x - d0;
  const weekly = (1 - f) * dayFactor(shape, d0, holiday) + f * dayFactor(shape, d0 + 1, holiday);
  return daily * weekly * (1 + (shape.trendPerDay * (t - start)) / DAY);
}

interface Injection {
  kind: AnomalyKind;
  i0: number; // first affected index
  i1: number; // one past the last affected index
  factor: number;
}

/** Durations (in ms) of each anomaly kind: [min, max]. */
const DURATION: Readonly<Record<AnomalyKind, readonly [number, number]>> = {
  spike: [1, 3], // in points, see below
  drop_to_zero: [10 * 60_000, 60 * 60_000],
  level_shift: [2 * HOUR, 8 * HOUR],
  drift: [6 * HOUR, 12 * HOUR],
  small_shift: [6 * HOUR, 12 * HOUR],
  gap: [15 * 60_000, 90 * 60_000],
  counter_reset: [1, 1], // in points
  unit_change: [6 * HOUR, 12 * HOUR],
  seasonal_break: [8 * HOUR, 10 * HOUR],
};

function checkOptions(o: SynthOptions): void {
  const bad = (what: string) => {
    throw new RangeError(what);
  };
  if (!Number.isInteger(o.series) || o.series < 1 || o.series > 100_000) bad('series must be an integer from 1 to 100000');
  if (!(o.days >= 2 && o.days <= 366)) bad('days must be from 2 to 366');
  if (!(o.intervalMs >= 1000 && o.intervalMs <= HOUR)) bad('interval must be from 1s to 1h');
  if ((o.days * DAY) / o.intervalMs > 2_000_000) bad('days / interval gives more than 2,000,000 points per series');
  if (!(o.cleanFraction >= 0 && o.cleanFraction <= 1)) bad('clean fraction must be from 0 to 1');
  if (o.kinds.length === 0 && o.cleanFraction < 1) bad('at least one anomaly kind is needed');
}

/**
 * Generates the suite: `series` series, the first `round(series * (1 - cleanFraction))` with
 * anomalies (kinds round-robin), the rest clean.
 *
 * @example generateSuite({ ...SYNTH_DEFAULTS, series: 4, days: 7 }).map((s) => s.name)
 */
export function generateSuite(options: Partial<SynthOptions> = {}): SynthSeries[] {
  const o: SynthOptions = { ...SYNTH_DEFAULTS, ...options };
  checkOptions(o);
  const anomalous = Math.round(o.series * (1 - o.cleanFraction));
  const out: SynthSeries[] = [];
  const perKind = new Map<AnomalyKind, number>();
  for (let i = 0; i < o.series; i++) {
    let anomaly: AnomalyKind | null = null;
    let metric: MetricKind;
    if (i < anomalous) {
      anomaly = o.kinds[i % o.kinds.length]!;
      const nth = perKind.get(anomaly) ?? 0;
      perKind.set(anomaly, nth + 1);
      const eligible = ELIGIBLE[anomaly];
      metric = eligible[nth % eligible.length]!;
    } else {
      metric = METRIC_KINDS[(i - anomalous) % METRIC_KINDS.length]!;
    }
    const name = `${String(i).padStart(String(o.series - 1).length, '0')}-${metric}-${anomaly ?? 'clean'}`;
    out.push(generateSeries(new Rng(seriesSeed(o.seed, i)), name, metric, anomaly, o));
  }
  return out;
}

function generateSeries(rng: Rng, name: string, metric: MetricKind, anomaly: AnomalyKind | null, o: SynthOptions): SynthSeries {
  const step = o.intervalMs;
  const n = Math.floor((o.days * DAY) / step);
  const start = o.start;
  const end = start + n * step; // exclusive
  // Day 9 of the default start is Wednesday 2024-01-10; as days since the epoch, -1 for none.
  const holiday = o.days >= 11 ? Math.floor(start / DAY) + 9 : -1;
  const shape: LoadShape = {
    peakHour: rng.uniform(12, 16),
    floor: rng.uniform(0.15, 0.35),
    weekend: rng.uniform(0.55, 0.8),
    trendPerDay: rng.uniform(-0.004, 0.01),
  };
  const idx = (t: number) => Math.min(n, Math.max(0, Math.ceil((t - start) / step)));
  const busy: [number, number][] = [];
  const free = (a: number, b: number, pad: number) => busy.every(([x, y]) => b + pad < x || a - pad > y);
  const expected: ExpectedLabel[] = [];
  const labels: AnomalyLabel[] = [];

  if (holiday >= 0) {
    // The holiday's traffic blends in from the noon before and out until the noon after.
    const h0 = holiday * DAY - 12 * HOUR;
    const h1 = holiday * DAY + DAY + 12 * HOUR;
    expected.push({ series: name, kind: 'holiday', start: h0, end: h1 - step });
    busy.push([h0, h1]);
  }

  // Deploys: working hours on weekdays, anywhere in the series; a small lasting level step.
  const deploys: { i: number; factor: number }[] = [];
  if (metric !== 'errors' && metric !== 'counter') {
    const count = rng.int(1, 2);
    for (let k = 0, tries = 0; k < count && tries < 200; tries++) {
      const day = rng.int(1, o.days - 1);
      const t = start + day * DAY + Math.round((rng.uniform(9, 17) * HOUR) / step) * step;
      const dow = (Math.floor(t / DAY) + 3) % 7;
      if (dow >= 5 || t >= end || !free(t, t + HOUR, 2 * HOUR)) continue;
      const sign = rng.uniform() < 0.5 ? -1 : 1;
      deploys.push({ i: idx(t), factor: 1 + sign * rng.uniform(0.015, 0.03) });
      expected.push({ series: name, kind: 'deploy', start: t, end: t + HOUR });
      busy.push([t, t + HOUR]);
      k++;
    }
  }

  // Process restarts of counters (expected resets), except where resets are the injected anomaly.
  const restarts: number[] = [];
  if (metric === 'counter' && anomaly !== 'counter_reset') {
    const count = rng.int(1, 2);
    for (let k = 0, tries = 0; k < count && tries < 200; tries++) {
      const t = start + Math.round(rng.uniform(0.3, 0.95) * n) * step;
      if (!free(t, t, 2 * HOUR)) continue;
      restarts.push(idx(t));
      expected.push({ series: name, kind: 'restart', start: t, end: t + step });
      busy.push([t, t + step]);
      k++;
    }
  }

  // Anomalies: after the warm-up half, apart from each other and from expected changes.
  const injections: Injection[] = [];
  if (anomaly !== null) {
    const count = rng.int(2, 3);
    const evalStart = start + Math.ceil(o.days / 2) * DAY;
    for (let k = 0, tries = 0; k < count && tries < 500; tries++) {
      let t0: number;
      let dur: number;
      const [lo, hi] = DURATION[anomaly];
      if (anomaly === 'spike' || anomaly === 'counter_reset') {
        dur = rng.int(lo, hi) * step;
        t0 = evalStart + Math.round((rng.uniform() * (end - evalStart - 2 * HOUR)) / step) * step;
      } else if (anomaly === 'seasonal_break') {
        // The working day's peak does not happen: cover 08:00-10:00 to 16:00-20:00 of one day.
        dur = Math.round(rng.uniform(lo, hi) / step) * step;
        const days = Math.floor((end - evalStart) / DAY);
        if (days < 1) break;
        t0 = evalStart + rng.int(0, days - 1) * DAY + Math.round((rng.uniform(8, 10) * HOUR) / step) * step;
      } else {
        dur = Math.max(step, Math.round(rng.uniform(lo, hi) / step) * step);
        t0 = evalStart + Math.round((rng.uniform() * Math.max(0, end - evalStart - dur - 2 * HOUR)) / step) * step;
      }
      const t1 = t0 + dur; // exclusive
      if (t1 >= end || !free(t0, t1, 6 * HOUR)) continue;
      let factor = 1;
      switch (anomaly) {
        case 'spike':
          factor = rng.uniform(3, 6);
          break;
        case 'level_shift':
          // Errors only shift upwards: fewer errors than usual is not an incident.
          factor = metric !== 'errors' && rng.uniform() < 0.5 ? rng.uniform(0.35, 0.6) : metric === 'errors' ? rng.uniform(4, 8) : rng.uniform(1.5, 2.2);
          break;
        case 'drift':
          factor = rng.uniform(0.6, 1.2); // relative increase reached at the end
          break;
        case 'small_shift':
          factor = 1.05;
          break;
        case 'unit_change':
          factor = 1000;
          break;
        default:
          break;
      }
      injections.push({ kind: anomaly, i0: idx(t0), i1: idx(t1), factor });
      labels.push({ series: name, kind: anomaly, start: t0, end: t1 - step });
      busy.push([t0, t1]);
      k++;
    }
  }
  labels.sort((a, b) => a.start - b.start);
  expected.sort((a, b) => a.start - b.start);

  // Per-point multipliers on the mean (level changes) and the load actually served.
  const times = new Float64Array(n);
  const load = new Float64Array(n);
  const level = new Float64Array(n).fill(1);
  for (let i = 0; i < n; i++) {
    times[i] = start + i * step;
    load[i] = loadAt(shape, times[i]!, start, holiday);
  }
  for (const d of deploys) for (let i = d.i; i < n; i++) level[i]! *= d.factor;
  for (const inj of injections) {
    for (let i = inj.i0; i < inj.i1; i++) {
      if (inj.kind === 'level_shift' || inj.kind === 'small_shift') level[i]! *= inj.factor;
      else if (inj.kind === 'drift') level[i]! *= 1 + (inj.factor * (i - inj.i0 + 1)) / (inj.i1 - inj.i0);
      // Seasonal break: the hours follow the night's load instead of the day's.
      else if (inj.kind === 'seasonal_break') load[i] = loadAt(shape, times[i]! + 12 * HOUR, start, holiday);
    }
  }

  const values = new Float64Array(n);
  let ar = 0;
  switch (metric) {
    case 'qps': {
      const base = Math.exp(rng.uniform(Math.log(50), Math.log(5000)));
      const sigma = rng.uniform(0.015, 0.03);
      for (let i = 0; i < n; i++) {
        ar = 0.97 * ar + 0.004 * rng.normal();
        values[i] = round2(base * load[i]! * level[i]! * (1 + ar + sigma * rng.normal()));
      }
      break;
    }
    case 'latency_p50':
    case 'latency_p99': {
      const p99 = metric === 'latency_p99';
      const base = rng.uniform(20, 120) * (p99 ? rng.uniform(3, 6) : 1);
      const sigma = p99 ? rng.uniform(0.08, 0.12) : rng.uniform(0.02, 0.04);
      const slope = p99 ? 0.6 : 0.35;
      for (let i = 0; i < n; i++) {
        ar = 0.97 * ar + 0.004 * rng.normal();
        let v = base * (1 + slope * (load[i]! - 0.5)) * level[i]! * Math.exp(ar + sigma * rng.normal());
        if (p99 && rng.uniform() < 0.003) v *= rng.uniform(1.2, 1.5); // benign tail burst
        values[i] = round1(v);
      }
      break;
    }
    case 'errors': {
      const lambda = rng.uniform(0.2, 3);
      for (let i = 0; i < n; i++) values[i] = rng.poisson(lambda * load[i]! * level[i]!);
      break;
    }
    case 'cpu': {
      const idle = rng.uniform(5, 20);
      const span = rng.uniform(30, 60);
      for (let i = 0; i < n; i++) {
        ar = 0.97 * ar + 0.3 * rng.normal();
        const v = (idle + span * load[i]!) * level[i]! + ar + 2 * rng.normal();
        values[i] = round1(Math.min(100, Math.max(0, v)));
      }
      break;
    }
    case 'counter': {
      const rate = Math.exp(rng.uniform(Math.log(5), Math.log(200))) * (step / 1000); // per interval
      const resets = new Set(restarts);
      for (const inj of injections) if (inj.kind === 'counter_reset') resets.add(inj.i0);
      let c = Math.round(rng.uniform(1e5, 1e7));
      for (let i = 0; i < n; i++) {
        const inc = rng.poisson(rate * load[i]! * level[i]!);
        c = resets.has(i) ? inc : c + inc;
        values[i] = c;
      }
      break;
    }
  }

  // Point effects on the final values.
  const keep = new Uint8Array(n).fill(1);
  for (const inj of injections) {
    for (let i = inj.i0; i < inj.i1; i++) {
      switch (inj.kind) {
        case 'spike':
          if (metric === 'errors') values[i] = values[i]! + Math.round(inj.factor * 8);
          else if (metric === 'cpu') values[i] = round1(Math.min(100, Math.max(values[i]! * 1.8, rng.uniform(92, 100))));
          else values[i] = round2(values[i]! * inj.factor);
          break;
        case 'drop_to_zero':
          values[i] = 0;
          break;
        case 'unit_change':
          values[i] = round1(values[i]! * inj.factor);
          break;
        case 'gap':
          keep[i] = 0;
          break;
        default:
          break;
      }
    }
  }

  let m = 0;
  for (let i = 0; i < n; i++) if (keep[i]) m++;
  if (m === n) return { name, metric, anomaly, times, values, labels, expected };
  const t2 = new Float64Array(m);
  const v2 = new Float64Array(m);
  for (let i = 0, j = 0; i < n; i++) {
    if (!keep[i]) continue;
    t2[j] = times[i]!;
    v2[j++] = values[i]!;
  }
  // A gap is over when data comes back: the label runs to the first point after it.
  for (const l of labels) if (l.kind === 'gap') l.end += step;
  return { name, metric, anomaly, times: t2, values: v2, labels, expected };
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
