import { doubles } from '../series/index.ts';
import { choice, num } from './config.ts';
import { HILL_90, defineDetector, hill, verdict } from './define.ts';

export interface NullRateConfig {
  /** Points the null share is measured over. */
  readonly window: number;
  /** The share of nulls (0..1) that scores 0.9: the pipeline's declared tolerance. */
  readonly max: number;
  /**
   * 'nan': the share of missing (NaN) points in the window; 'value': the series is itself a
   * null rate the pipeline reports (0..1), judged point by point.
   */
  readonly input: 'nan' | 'value';
}

const WINDOW = 0;
const MAX = 1;
const VALUE_INPUT = 2;
const N = 3;
const HEAD = 4;
const NULLS = 5;
const RING = 6;

/**
 * A data-quality rule for pipeline metrics: too many nulls. Scores 0.9 when the null share
 * reaches `max` (0.5 at max / 1.73), with reason null_rate, which the alert stage routes to
 * the owning pipeline's receiver rather than paging a service owner.
 */
export const nullRate = defineDetector<NullRateConfig, number[]>({
  name: 'null_rate',
  summary: 'Share of missing (NaN) points per window, or a declared null-rate input, against a tolerance; reason null_rate.',
  kind: 'rule',
  defaults: { window: 60, max: 0.05, input: 'nan' },
  parse(f, path, d) {
    return {
      window: num(f, 'window', path, d.window, { min: 4, max: 10_000, integer: true }),
      max: num(f, 'max', path, d.max, { above: 0, max: 1 }),
      input: choice(f, 'input', path, d.input, ['nan', 'value'] as const),
    };
  },
  init(c) {
    const s = doubles(RING + (c.input === 'nan' ? c.window : 0));
    s[WINDOW] = c.window;
    s[MAX] = c.max;
    s[VALUE_INPUT] = c.input === 'value' ? 1 : 0;
    return s;
  },
  update(s, _t, x, out) {
    const half = s[MAX] / HILL_90;
    if (s[VALUE_INPUT] === 1) {
      if (x !== x) return verdict(out, 0, NaN, NaN, NaN, 'normal');
      const rate = x < 0 ? 0 : x;
      const score = hill(rate, half);
      return verdict(out, score, 0, 0, s[MAX], score >= 0.3 ? 'null_rate' : 'normal');
    }
    const w = s[WINDOW];
    const isNull = x !== x ? 1 : 0;
    const n = s[N];
    if (n < w) {
      s[RING + ((s[HEAD] + n) % w)] = isNull;
      s[N] = n + 1;
      s[NULLS] += isNull;
    } else {
      const h = s[HEAD];
      s[NULLS] += isNull - s[RING + h];
      s[RING + h] = isNull;
      s[HEAD] = (h + 1) % w;
    }
    // Half a window before a share means anything.
    if (s[N] * 2 < w) return verdict(out, 0, NaN, NaN, NaN, 'learning');
    const rate = s[NULLS] / s[N];
    const score = hill(rate, half);
    return verdict(out, score, 0, 0, s[MAX], score >= 0.3 ? 'null_rate' : 'normal');
  },
});
