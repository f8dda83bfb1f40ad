/**
 * Maintenance windows: parsing their parts (RFC 3339 instants, IANA zones, HH:MM) and deciding
 * whether an instant falls inside one. Time zone rules come from the runtime's ICU data through
 * `Intl`, so daylight-saving changes follow the zone, not a fixed offset.
 */
import { WEEKDAYS, type MaintenanceWindow, type RecurringWindow, type Weekday } from './types.ts';

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?([Zz]|[+-]\d{2}:\d{2})$/;

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * Parses an RFC 3339 instant with an explicit offset (`2025-07-01T02:00:00Z`,
 * `2025-07-01T04:00+02:00`) to epoch milliseconds. A local time without offset is refused:
 * it would mean something different on every server.
 */
export function parseTimestamp(text: string): number | undefined {
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i] ?? 0));
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  if (m[8].length === 6 && (Number(m[8].slice(1, 3)) > 23 || Number(m[8].slice(4)) > 59)) return undefined;
  const t = Date.parse(text.toUpperCase());
  return Number.isFinite(t) ? t : undefined;
}

/** Canonical IANA name of a zone (`europe/berlin` -> `Europe/Berlin`), or undefined if unknown. */
export function canonicalTimeZone(name: string): string | undefined {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

/** `02:30` -> 150 minutes after midnight; 24-hour clock, two digits each. */
export function parseTimeOfDay(text: string): number | undefined {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(text);
  return m ? Number(m[1]) * 60 + Number(m[2]) : undefined;
}

const LONG_DAYS: Record<string, Weekday> = {
  sunday: 'sun', monday: 'mon', tuesday: 'tue', wednesday: 'wed', thursday: 'thu', friday: 'fri', saturday: 'sat',
};

/** `mon` or `monday` (any case) -> `mon`. */
export function parseWeekday(text: string): Weekday | undefined {
  const s = text.toLowerCase();
  if ((WEEKDAYS as readonly string[]).includes(s)) return s as Weekday;
  return Object.hasOwn(LONG_DAYS, s) ? LONG_DAYS[s] : undefined;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Wall-clock fields of instant `t` in `zone`. */
function wallClock(t: number, zone: string): { y: number; mo: number; d: number; h: number; mi: number; s: number } {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
    formatters.set(zone, f);
  }
  const parts: Record<string, number> = {};
  for (const p of f.formatToParts(t)) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  return { y: parts.year, mo: parts.month, d: parts.day, h: parts.hour, mi: parts.minute, s: parts.second };
}

/** Offset of `zone` from UTC at instant `t`, in ms (Berlin in summer: +7_200_000). */
function offsetAt(t: number, zone: string): number {
  const w = wallClock(t, zone);
  return Date.UTC(w.y, w.mo - 1, w.d, w.h, w.mi, w.s) - Math.floor(t / 1000) * 1000;
}

/**
 * The instant of a local wall-clock time in `zone`. In a fall-back overlap it is the earlier of
 * the two instants; in a spring-forward gap the time does not exist and it moves forward by the
 * gap (02:30 becomes 03:30), as Temporal's 'compatible' disambiguation does.
 */
export function zonedTime(year: number, month: number, day: number, minuteOfDay: number, zone: string): number {
  const guess = Date.UTC(year, month - 1, day, 0, minuteOfDay);
  const before = offsetAt(guess - 86_400_000, zone);
  const after = offsetAt(guess + 86_400_000, zone);
  let best = Infinity;
  for (const off of [before, after]) {
    const t = guess - off;
    if (offsetAt(t, zone) === off && t < best) best = t;
  }
  return best === Infinity ? guess - before : best;
}

function inRecurring(w: RecurringWindow, t: number): boolean {
  const now = wallClock(t, w.timeZone);
  // An occurrence that covers t started at most `durationMs` ago, so look back that many days.
  const back = Math.ceil(w.durationMs / 86_400_000) + 1;
  for (let k = 0; k <= back; k++) {
    const day = new Date(Date.UTC(now.y, now.mo - 1, now.d - k));
    if (!w.weekdays.includes(WEEKDAYS[day.getUTCDay()])) continue;
    const start = zonedTime(day.getUTCFullYear(), day.getUTCMonth() + 1, day.getUTCDate(), w.startMinute, w.timeZone);
    if (start <= t && t < start + w.durationMs) return true;
  }
  return false;
}

/**
 * The first window that contains instant `t` (epoch ms), or undefined. Windows are half-open:
 * a window from 02:00 for 2h covers 02:00 up to, not including, 04:00.
 * @example inMaintenance(rule.maintenance, Date.now())
 */
export function inMaintenance(windows: readonly MaintenanceWindow[], t: number): MaintenanceWindow | undefined {
  for (const w of windows) {
    if (w.kind === 'once' ? w.startMs <= t && t < w.endMs : inRecurring(w, t)) return w;
  }
  return undefined;
}
