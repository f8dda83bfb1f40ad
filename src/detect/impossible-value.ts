import { TidemarkError } from '../errors.ts';
import { flag, optNum } from './config.ts';
import { defineEmbedded, verdict } from './define.ts';

export interface ImpossibleValueConfig {
  /** Smallest valid value, inclusive (the series' own unit). */
  readonly min: number | undefined;
  /** Largest valid value, inclusive. */
  readonly max: number | undefined;
  /** Negative values are impossible (counts, sizes, durations, latencies). */
  readonly nonNegative: boolean;
  /**
   * NaN is impossible rather than missing. Off by default: the detector contract passes a
   * missing point as NaN, so only series that never have gaps should turn this on.
   */
  readonly nanIsImpossible: boolean;
}

const MIN = 0;
const MAX = 1;
const NAN_BAD = 2;
const SIZE = 3;

/**
 * Values no healthy system produces: infinities, and whatever the config rules out. Score 1.
 *
 * Its steady state is also compiled, in the default profile's one-call kernel (asm/set.ts):
 * a change here needs the same change there (src/detect/novelty-kernel.test.ts fails otherwise).
 */
export const impossibleValue = defineEmbedded<ImpossibleValueConfig>({
  name: 'impossible_value',
  summary: 'Infinite values, negative values where not allowed, and values outside a valid range score 1.',
  kind: 'rule',
  defaults: { min: undefined, max: undefined, nonNegative: false, nanIsImpossible: false },
  parse(f, path, d) {
    const min = optNum(f, 'min', path);
    const max = optNum(f, 'max', path);
    if (min !== undefined && max !== undefined && !(min <= max)) {
      throw new TidemarkError('TM_ERR_CONFIG', `must be at least min (${min}), got ${max}`, `${path}.max`);
    }
    return { min, max, nonNegative: flag(f, 'nonNegative', path, d.nonNegative), nanIsImpossible: flag(f, 'nanIsImpossible', path, d.nanIsImpossible) };
  },
  embed: {
    // Three words even with no limits (the default profile): the checks below then give what
    // a stateless check of infinities gives, without a second state shape.
    words: () => SIZE,
    // All of it: a set keeps the limits once, and a series' region has no block for this rule.
    options: SIZE,
    initAt(c, s, o) {
      let lo = c.min ?? -Infinity;
      if (c.nonNegative && lo < 0) lo = 0;
      s[o + MIN] = lo;
      s[o + MAX] = c.max ?? Infinity;
      s[o + NAN_BAD] = c.nanIsImpossible ? 1 : 0;
    },
    updateAt(_s, _o, _t, value, out, g, go) {
      const lo = g[go + MIN];
      const hi = g[go + MAX];
      const lower = lo === -Infinity ? NaN : lo;
      const upper = hi === Infinity ? NaN : hi;
      if (value !== value) return verdict(out, g[go + NAN_BAD] === 1 ? 1 : 0, NaN, lower, upper, g[go + NAN_BAD] === 1 ? 'impossible_value' : 'normal');
      if (value === Infinity || value === -Infinity || value < lo || value > hi) return verdict(out, 1, NaN, lower, upper, 'impossible_value');
      return verdict(out, 0, NaN, lower, upper, 'normal');
    },
    checkAt: (_s, _o, n) => n === SIZE,
  },
});
