/**
 * Durations in Prometheus notation (`30s`, `5m`, `1h30m`, `250ms`), converted to milliseconds.
 * Units go from largest to smallest and each appears at most once, as in Prometheus'
 * `model.ParseDuration`; years are left out on purpose (a year has no fixed length).
 */

const UNIT_MS = { w: 604_800_000, d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const;
type Unit = keyof typeof UNIT_MS;
const ORDER: readonly Unit[] = ['w', 'd', 'h', 'm', 's', 'ms'];
const PART = /(\d+)(ms|w|d|h|m|s)/y;

/** Largest duration we accept: 10 years, far beyond any window or interval that makes sense. */
export const MAX_DURATION_MS = 10 * 365 * UNIT_MS.d;

/**
 * Parses `1h30m` to 5_400_000. Returns undefined for anything else (a bare number, a unit out of
 * order or repeated, an unknown unit, or more than 10 years); callers own the error message.
 * `0` alone is accepted, as in Prometheus.
 * @example parseDuration('5m') // 300000
 */
export function parseDuration(text: string): number | undefined {
  if (text === '0') return 0;
  if (text.length === 0 || text.length > 40) return undefined;
  let pos = 0;
  let next = 0; // index in ORDER of the smallest unit still allowed
  let total = 0;
  while (pos < text.length) {
    PART.lastIndex = pos;
    const m = PART.exec(text);
    if (!m) return undefined;
    const unit = m[2] as Unit;
    const rank = ORDER.indexOf(unit);
    if (rank < next) return undefined;
    next = rank + 1;
    total += Number(m[1]) * UNIT_MS[unit];
    pos = PART.lastIndex;
  }
  return total <= MAX_DURATION_MS ? total : undefined;
}

/** Formats milliseconds the way `parseDuration` reads them: 5_400_000 -> `1h30m`, 0 -> `0s`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0 || !Number.isInteger(ms)) return `${ms}ms`;
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const unit of ORDER) {
    const n = Math.floor(rest / UNIT_MS[unit]);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * UNIT_MS[unit];
    }
  }
  return out;
}
