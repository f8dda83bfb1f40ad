import { TidemarkError } from '../errors.ts';
import { doubles } from '../series/index.ts';
import { flag, optNum } from './config.ts';
import { defineDetector, verdict } from './define.ts';

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

/** Values no healthy system produces: infinities, and whatever the config rules out. Score 1. */
export const impossibleValue = defineDetector<ImpossibleValueConfig, number[] | null>({
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
  init(c) {
    let lo = c.min ?? -Infinity;
    if (c.nonNegative && lo < 0) lo = 0;
    const hi = c.max ?? Infinity;
    // With no limits (the default profile) only infinities are impossible: no state at all,
    // so the check costs no memory and touches none.
    if (lo === -Infinity && hi === Infinity && !c.nanIsImpossible) return null;
    const s = doubles(3);
    s[MIN] = lo;
    s[MAX] = hi;
    s[NAN_BAD] = c.nanIsImpossible ? 1 : 0;
    return s;
  },
  update(s, _t, value, out) {
    if (s === null) {
      const bad = value === Infinity || value === -Infinity;
      return verdict(out, bad ? 1 : 0, NaN, NaN, NaN, bad ? 'impossible_value' : 'normal');
    }
    const lo = s[MIN];
    const hi = s[MAX];
    const lower = lo === -Infinity ? NaN : lo;
    const upper = hi === Infinity ? NaN : hi;
    if (value !== value) return verdict(out, s[NAN_BAD] === 1 ? 1 : 0, NaN, lower, upper, s[NAN_BAD] === 1 ? 'impossible_value' : 'normal');
    if (value === Infinity || value === -Infinity || value < lo || value > hi) return verdict(out, 1, NaN, lower, upper, 'impossible_value');
    return verdict(out, 0, NaN, lower, upper, 'normal');
  },
});
