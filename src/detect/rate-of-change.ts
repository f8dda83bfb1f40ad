import { TidemarkError } from '../errors.ts';
import { doubles } from '../series/index.ts';
import { optNum } from './config.ts';
import { defineDetector, learning, verdict } from './define.ts';

export interface RateOfChangeConfig {
  /** Largest normal rise, in series units per second. */
  readonly maxRise: number | undefined;
  /** Largest normal fall, in series units per second (a positive number). */
  readonly maxFall: number | undefined;
  /** Largest normal change between consecutive points, as a fraction of the previous value (0.5 = 50%). */
  readonly maxRelative: number | undefined;
}

const RISE = 0;
const FALL = 1;
const REL = 2;
const LAST_T = 3;
const LAST_X = 4;

/**
 * Static limits on how fast a series may move. Within the limits the score is 0; at a limit it
 * is 0.9 and it approaches 1 as the change grows (0.95 at twice the limit).
 */
export const rateOfChange = defineDetector<RateOfChangeConfig, number[]>({
  name: 'rate_of_change',
  summary: 'Static limits on the change between consecutive points (per second, or relative).',
  kind: 'rule',
  defaults: { maxRise: undefined, maxFall: undefined, maxRelative: undefined },
  parse(f, path) {
    const maxRise = optNum(f, 'maxRise', path, { above: 0 });
    const maxFall = optNum(f, 'maxFall', path, { above: 0 });
    const maxRelative = optNum(f, 'maxRelative', path, { above: 0 });
    if (maxRise === undefined && maxFall === undefined && maxRelative === undefined) {
      throw new TidemarkError('TM_ERR_CONFIG', 'set at least one of maxRise, maxFall, maxRelative', path);
    }
    return { maxRise, maxFall, maxRelative };
  },
  init(c) {
    const s = doubles(5);
    s[RISE] = c.maxRise ?? Infinity;
    s[FALL] = c.maxFall ?? Infinity;
    s[REL] = c.maxRelative ?? Infinity;
    s[LAST_T] = NaN;
    s[LAST_X] = NaN;
    return s;
  },
  update(s, t, value, out) {
    if (value !== value) return verdict(out, 0, NaN, NaN, NaN, s[LAST_X] === s[LAST_X] ? 'normal' : 'learning');
    const lastT = s[LAST_T];
    const lastX = s[LAST_X];
    s[LAST_T] = t;
    s[LAST_X] = value;
    if (lastX !== lastX) return learning(out);
    const dt = (t - lastT) / 1000;
    const maxRel = s[REL];
    const rel = maxRel === Infinity ? Infinity : maxRel * (lastX < 0 ? -lastX : lastX); // not Infinity x 0
    // The band this point was allowed: the tighter of the per-second and relative limits.
    const up = dt > 0 ? s[RISE] * dt : Infinity;
    const down = dt > 0 ? s[FALL] * dt : Infinity;
    const upper = lastX + (up < rel ? up : rel);
    const lower = lastX - (down < rel ? down : rel);
    const d = value - lastX;
    let ratio = 0;
    if (d > 0) ratio = d / (upper - lastX);
    else if (d < 0) ratio = -d / (lastX - lower);
    if (!(ratio > 1)) return verdict(out, 0, lastX, lower, upper, 'normal');
    return verdict(out, 0.9 + 0.1 * (1 - 1 / ratio), lastX, lower, upper, 'rate_of_change');
  },
});
