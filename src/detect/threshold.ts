import { TidemarkError } from '../errors.ts';
import { doubles } from '../series/index.ts';
import { optNum } from './config.ts';
import { defineDetector, verdict } from './define.ts';

export interface ThresholdConfig {
  /** Values strictly above this are anomalous (the series' own unit). */
  readonly above: number | undefined;
  /** Values strictly below this are anomalous (the series' own unit). */
  readonly below: number | undefined;
}

/** State: [above, below], NaN when a side is open. */
export type ThresholdState = number[];

/** Static limits: a value beyond them scores 1, inside 0. Missing points are not judged. */
export const threshold = defineDetector<ThresholdConfig, ThresholdState>({
  name: 'threshold',
  summary: 'Static limits: a value above `above` or below `below` scores 1.',
  kind: 'rule',
  defaults: { above: undefined, below: undefined },
  parse(f, path) {
    const above = optNum(f, 'above', path);
    const below = optNum(f, 'below', path);
    if (above === undefined && below === undefined) throw new TidemarkError('TM_ERR_CONFIG', 'set at least one of above, below', path);
    if (above !== undefined && below !== undefined && !(below < above)) {
      throw new TidemarkError('TM_ERR_CONFIG', `must be less than above (${above}), got ${below}`, `${path}.below`);
    }
    return { above, below };
  },
  init(c) {
    const s = doubles(2);
    s[0] = c.above ?? NaN;
    s[1] = c.below ?? NaN;
    return s;
  },
  update(s, _t, value, out) {
    const above = s[0];
    const below = s[1];
    if (value > above) return verdict(out, 1, NaN, below, above, 'above_threshold');
    if (value < below) return verdict(out, 1, NaN, below, above, 'below_threshold');
    return verdict(out, 0, NaN, below, above, 'normal');
  },
});
