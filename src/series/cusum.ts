/**
 * A two-sided CUSUM on a standardised input, embedded at `f[o]`: [upper sum, lower sum].
 * Each step adds (z - k) to the upper sum and (-z - k) to the lower one, floored at 0 and
 * capped at `cap` so that a long excursion is forgotten quickly once it ends.
 */

/** Number of slots of `f` a CUSUM uses. */
export const CUSUM_SIZE = 2;

export function cusumInit(f: number[], o: number): void {
  f[o] = 0;
  f[o + 1] = 0;
}

/** Adds one standardised value `z`, with allowance `k` (in standard deviations). */
export function cusumPush(f: number[], o: number, z: number, k: number, cap: number): void {
  const up = f[o] + z - k;
  f[o] = up < 0 ? 0 : up > cap ? cap : up;
  const down = f[o + 1] - z - k;
  f[o + 1] = down < 0 ? 0 : down > cap ? cap : down;
}

export function cusumUp(f: number[], o: number): number {
  return f[o];
}

export function cusumDown(f: number[], o: number): number {
  return f[o + 1];
}
