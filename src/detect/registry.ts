/**
 * The detector registry: every detector by its config name. An unknown name is a
 * TM_ERR_UNKNOWN_DETECTOR error that lists the valid names.
 */
import { TidemarkError } from '../errors.ts';
import { counterReset } from './counter-reset.ts';
import { cusum } from './cusum.ts';
import { drift } from './drift.ts';
import { ewma } from './ewma.ts';
import { holtWinters } from './holt-winters.ts';
import { impossibleValue } from './impossible-value.ts';
import { noData } from './no-data.ts';
import { nullRate } from './null-rate.ts';
import { newLevel } from './new-level.ts';
import { novelty } from './novelty.ts';
import { rateOfChange } from './rate-of-change.ts';
import { robustZ } from './robust-z.ts';
import { seasonalBaseline } from './seasonal-baseline.ts';
import { threshold } from './threshold.ts';
import { unitChange } from './unit-change.ts';
import { weeklyShift } from './weekly-shift.ts';
import type { Detector } from './types.ts';

// Rules first, then models; `detectorNames()` and `--help` list them in this order.
const DETECTORS: readonly Detector<any, any>[] = [
  threshold,
  rateOfChange,
  noData,
  impossibleValue,
  counterReset,
  unitChange,
  nullRate,
  robustZ,
  ewma,
  cusum,
  holtWinters,
  seasonalBaseline,
  novelty,
  weeklyShift,
  newLevel,
  drift,
];

const BY_NAME = new Map<string, Detector<unknown, unknown>>(DETECTORS.map((d) => [d.name, d as Detector<unknown, unknown>]));

/** Every registered detector name, rules first. */
export function detectorNames(): string[] {
  return DETECTORS.map((d) => d.name);
}

/**
 * The detector registered as `name`.
 * @example getDetector('robust_z').parseConfig({ window: 32 }, 'detectors[0].config')
 */
export function getDetector(name: string, path?: string): Detector<unknown, unknown> {
  const d = BY_NAME.get(name);
  if (!d) throw new TidemarkError('TM_ERR_UNKNOWN_DETECTOR', `unknown detector '${name}'; valid detectors: ${detectorNames().join(', ')}`, path);
  return d;
}
