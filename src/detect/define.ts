/**
 * What every detector file shares: `defineDetector` (one shape for all detector objects, so
 * the set's calls stay cheap), strict config entry, and the score calibration.
 */
import type { Conditioning, Detector, Reason, Verdict } from './types.ts';
import { type Fields, fields } from './config.ts';

/** Below this score a verdict's reason is 'normal' and fusion does not list it. */
export const REPORT_MIN = 0.3;

/**
 * A spread no smaller than the data can resolve: the series' quantum (its smallest step, so
 * integer counts are not judged in fractions of one), one part in a million of the centre
 * (float noise on large values), and 1e-12 (a flat series).
 */
export function floorScale(scale: number, quantum: number, centre: number): number {
  if (scale < quantum) scale = quantum;
  const rel = 1e-6 * (centre < 0 ? -centre : centre);
  if (scale < rel) scale = rel;
  return scale < 1e-12 ? 1e-12 : scale;
}

/**
 * The calibration every statistical detector uses: maps a non-negative statistic `x` (a
 * |z|, a CUSUM sum, a silence ratio) to [0, 1) as x^4 / (x^4 + half^4). It is 0.5 at `half`
 * ("unusual"), 0.9 at 1.73 x half ("clearly anomalous"), 0.99 at 3.16 x half, and 0.06 at
 * half / 2, so ordinary noise stays near 0. A fourth power needs no Math.pow.
 */
export function hill(x: number, half: number): number {
  const r = x / half;
  const r2 = r * r;
  const r4 = r2 * r2;
  return r4 / (1 + r4);
}

/** How far beyond `half` a statistic must be for `hill` to give 0.9. */
export const HILL_90 = 1.7320508075688772;

export function verdict(out: Verdict, score: number, expected: number, lower: number, upper: number, reason: Reason): Verdict {
  out.score = score;
  out.expected = expected;
  out.lower = lower;
  out.upper = upper;
  out.reason = reason;
  return out;
}

export function learning(out: Verdict): Verdict {
  return verdict(out, 0, NaN, NaN, NaN, 'learning');
}

/** The reason for a point excursion of signed z, given the run of out-of-band points before it. */
export function excursionReason(z: number, value: number, expected: number, run: number): Reason {
  if (z < 0 && value === 0 && expected > 0) return 'drop_to_zero';
  if (run >= 3 && z > 0) return 'level_shift_up';
  if (run <= -3 && z < 0) return 'level_shift_down';
  return z > 0 ? 'spike' : 'dip';
}

/** Signed count of consecutive points on one side beyond the band (positive: above). */
export function nextRun(run: number, z: number, limit: number): number {
  if (z > limit) return run > 0 ? run + 1 : 1;
  if (z < -limit) return run < 0 ? run - 1 : -1;
  return 0;
}

/** Where `touchDoubles`/`touchFloats` store their sums, only so that the compiler keeps the loads. */
const TOUCHED = new Float64Array(1);

/** One read per 64-byte cache line of a number array (8 doubles a line), for `touch`. */
export function touchDoubles(a: number[]): void {
  const n = a.length;
  let sum = a[n - 1];
  for (let i = 0; i < n; i += 8) sum += a[i];
  TOUCHED[0] = sum;
}

/** One read per 64-byte cache line of a Float32Array (16 floats a line), for `touch`. */
export function touchFloats(p: Float32Array): void {
  const n = p.length;
  let sum = p[n - 1];
  for (let i = 0; i < n; i += 16) sum += p[i];
  TOUCHED[0] = sum;
}

export interface DetectorSpec<C extends object, S> {
  name: string;
  summary: string;
  kind: 'rule' | 'model';
  defaults: C;
  /** Option keys (defaults to the keys of `defaults`). */
  keys?: readonly string[];
  /** Reads the checked options; throws TidemarkError for values out of range. */
  parse(f: Fields, path: string, defaults: Readonly<C>): C;
  init(config: Readonly<C>): S;
  update(state: S, t: number, value: number, out: Verdict): Verdict;
  tick?(state: S, now: number, out: Verdict): Verdict;
  condition?(state: S, c: Conditioning): void;
  touch?(state: S): void;
  rescale?(state: S, factor: number): void;
  check?(state: unknown): boolean;
}

/** Builds a frozen detector object; every detector has the same property order. */
export function defineDetector<C extends object, S>(spec: DetectorSpec<C, S>): Detector<C, S> {
  const defaults = Object.freeze({ ...spec.defaults });
  const keys = spec.keys ?? Object.keys(defaults);
  return Object.freeze({
    name: spec.name,
    summary: spec.summary,
    defaults,
    kind: spec.kind,
    parseConfig(input: unknown, path: string): Readonly<C> {
      return Object.freeze(spec.parse(fields(input, path, keys), path, defaults));
    },
    init: spec.init,
    update: spec.update,
    tick: spec.tick,
    touch: spec.touch,
    condition: spec.condition,
    rescale: spec.rescale,
    check: spec.check,
  });
}
