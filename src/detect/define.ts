/**
 * What every detector file shares: `defineDetector` (one shape for all detector objects, so
 * the set's calls stay cheap), strict config entry, and the score calibration.
 */
import type { Conditioning, Detector, Embedded, Reason, Verdict } from './types.ts';
import { slabDoubles } from '../series/index.ts';
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
export function touchDoubles(a: number[] | Float64Array): void {
  const n = a.length;
  let sum = a[n - 1];
  for (let i = 0; i < n; i += 8) sum += a[i];
  TOUCHED[0] = sum;
}

/** One read per 64-byte cache line of doubles `from` to `to` of `a`. */
export function touchRange(a: Float64Array, from: number, to: number): void {
  let sum = a[to - 1];
  for (let i = from; i < to; i += 8) sum += a[i];
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
  ongoing?(state: S): boolean;
  rescale?(state: S, factor: number): void;
  check?(state: unknown): boolean;
  embed?: Embedded<C>;
}

/** A detector whose state is embeddable (see `Embedded`): init/update/... run it on a Float64Array of its own. */
export interface EmbeddedDetectorSpec<C extends object> {
  name: string;
  summary: string;
  kind: 'rule' | 'model';
  defaults: C;
  keys?: readonly string[];
  parse(f: Fields, path: string, defaults: Readonly<C>): C;
  embed: Embedded<C>;
}

/** `defineDetector` for an embeddable detector: its standalone state is a Float64Array (a view of a shared slab). */
export function defineEmbedded<C extends object>(spec: EmbeddedDetectorSpec<C>): Detector<C, Float64Array> {
  const e = spec.embed;
  const tickAt = e.tickAt;
  const conditionAt = e.conditionAt;
  const rescaleAt = e.rescaleAt;
  const checkAt = e.checkAt;
  const ongoingAt = e.ongoingAt;
  const base = defineDetector<C, Float64Array>({
    name: spec.name,
    summary: spec.summary,
    kind: spec.kind,
    defaults: spec.defaults,
    keys: spec.keys,
    parse: spec.parse,
    init(c) {
      const f = slabDoubles(e.words(c));
      e.initAt(c, f, 0);
      return f;
    },
    // A standalone state holds its options too: g = f, go = o = 0.
    update: (s, t, x, out) => e.updateAt(s, 0, t, x, out, s, 0),
    tick: tickAt && ((s, now, out) => tickAt(s, 0, now, out, s, 0)),
    condition: conditionAt && ((s, c) => conditionAt(s, 0, c)),
    rescale: rescaleAt && ((s, factor) => rescaleAt(s, 0, factor, s, 0)),
    ongoing: ongoingAt && ((s) => ongoingAt(s, 0, s, 0)),
    touch: e.touches ? (s) => touchDoubles(s) : undefined,
    check: (s) => s instanceof Float64Array && (checkAt === undefined || checkAt(s, 0, s.length, s, 0)),
    // Every embedded form has the same shape, so a set's calls through it stay monomorphic.
    embed: Object.freeze({
      words: e.words,
      options: e.options ?? 0,
      initAt: e.initAt,
      updateAt: e.updateAt,
      tickAt,
      conditionAt,
      rescaleAt,
      checkAt,
      ongoingAt,
      touches: e.touches === true,
      hot: e.hot,
    }),
  });
  return base;
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
    ongoing: spec.ongoing,
    condition: spec.condition,
    rescale: spec.rescale,
    check: spec.check,
    embed: spec.embed,
  });
}
