/**
 * The data's resolution: the smallest step between consecutive values seen. Counts step by 1,
 * a coarse gauge by its quantum, a continuous series by almost nothing; detectors floor their
 * scales by it (one step is never many spreads). Kept as one number, Infinity until a step.
 */

/** The resolution `q` after `x` follows `last`: their distance if it is smaller and not 0 (a NaN `last` leaves `q`). */
export function finerResolution(q: number, last: number, x: number): number {
  const d = x > last ? x - last : last - x;
  return d > 0 && d < q ? d : q;
}
