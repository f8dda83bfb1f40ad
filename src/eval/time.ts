/**
 * Timestamp parsing for evaluation inputs. Every timestamp becomes milliseconds since the epoch,
 * UTC unless the text carries an offset. Fractions below a millisecond are kept as a fraction,
 * so two spellings of one instant ("07:15:00" and "07:15:00.000000") compare equal.
 */

// YYYY-MM-DD, optional [T or space]HH:MM[:SS[.fraction]], optional Z or +HH[:]MM.
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|z|[+-]\d{2}:?\d{2})?$/;
const NUMERIC = /^-?\d+(?:\.\d+)?$/;

/**
 * Milliseconds since the epoch from a number since the epoch in the unit its magnitude implies.
 * Exports spell the same instant in seconds (Prometheus' API, `date +%s`: 1.7e9), milliseconds
 * (1.7e12), microseconds (1.7e15) or nanoseconds (Influx line protocol: 1.7e18). Each unit's
 * band starts where the next coarser unit would name a date past the year 5000 and the finer one
 * a date before 1973, so a present-day timestamp is never ambiguous: [1e9, 1e11) seconds,
 * [1e11, 1e14) milliseconds, [1e14, 1e17) microseconds, from 1e17 nanoseconds. Numbers below
 * 1e9 (2001 in seconds, 12 days after the epoch in milliseconds) are milliseconds, as given:
 * relative times that start at 0.
 *
 * @example epochMs(1704067200) === epochMs(1704067200000)
 */
export function epochMs(n: number): number {
  const a = n < 0 ? -n : n;
  if (a < 1e9 || (a >= 1e11 && a < 1e14)) return n;
  if (a < 1e11) return n * 1000;
  return a < 1e17 ? n / 1e3 : n / 1e6;
}

/**
 * Parses an ISO-8601-like timestamp (`2014-04-10 07:15:00.000000`, `2024-01-01T00:00:00Z`) or
 * a number since the epoch in seconds, milliseconds, microseconds or nanoseconds (see
 * `epochMs`: `1704067200`, `1704067200000`). Returns NaN when the text is neither, or names an
 * impossible date (Feb 30).
 *
 * @example parseTimestamp('2014-04-10 07:15:00') === Date.UTC(2014, 3, 10, 7, 15)
 */
export function parseTimestamp(text: string): number {
  const s = text.trim();
  if (NUMERIC.test(s)) return epochMs(Number(s));
  const m = ISO.exec(s);
  if (m === null) return NaN;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  const h = m[4] === undefined ? 0 : Number(m[4]);
  const mi = m[5] === undefined ? 0 : Number(m[5]);
  const sec = m[6] === undefined ? 0 : Number(m[6]);
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59) return NaN;
  const base = Date.UTC(y, mo - 1, d, h, mi, sec);
  // Date.UTC rolls Feb 30 over into March; a real date survives the round trip.
  if (new Date(base).getUTCDate() !== d) return NaN;
  let t = base;
  if (m[7] !== undefined) t += Number(m[7].padEnd(9, '0')) / 1e6;
  const tz = m[8];
  if (tz !== undefined && tz !== 'Z' && tz !== 'z') {
    const sign = tz[0] === '-' ? -1 : 1;
    const digits = tz.slice(1).replace(':', '');
    const offMin = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4));
    t -= sign * offMin * 60_000;
  }
  return t;
}

/** Formats milliseconds since the epoch as `2024-01-01T00:00:00Z` (whole seconds) or with millis. */
export function formatTimestamp(ms: number): string {
  const iso = new Date(ms).toISOString();
  return iso.endsWith('.000Z') ? iso.slice(0, -5) + 'Z' : iso;
}

/**
 * Parses a duration such as `60s`, `5m`, `1h`, `2d`, `250ms` or a bare number of seconds.
 * Returns NaN when the text is not a positive duration.
 */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?$/.exec(text.trim());
  if (m === null) return NaN;
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const scale = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[unit]!;
  const ms = n * scale;
  return ms > 0 ? ms : NaN;
}
