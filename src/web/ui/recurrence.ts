// Silence recurrence as the API stores it ({weekdays, at, duration, timeZone} or {rrule, ...}):
// a description, and whether it is in an occurrence now, through the server's own
// maintenance-window code (config/maintenance.ts is pure), so the UI and the alert stage agree.
import { parseDuration } from '../../config/duration.ts';
import { inMaintenance } from '../../config/maintenance.ts';
import { WEEKDAYS, type RecurringWindow, type Weekday } from '../../config/types.ts';

const RRULE_DAYS: Record<string, Weekday> = { SU: 'sun', MO: 'mon', TU: 'tue', WE: 'wed', TH: 'thu', FR: 'fri', SA: 'sat' };

/** The recurrence as a window, or undefined when it is absent or not understood (the server validated it). */
export function toWindow(value: unknown): RecurringWindow | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const o = value as Record<string, unknown>;
  const durationMs = typeof o.duration === 'string' ? parseDuration(o.duration) : typeof o.duration === 'number' ? o.duration : undefined;
  const timeZone = typeof o.timeZone === 'string' && o.timeZone !== '' ? o.timeZone : 'UTC';
  if (durationMs === undefined || durationMs <= 0) return undefined;
  let weekdays: Weekday[];
  let startMinute: number;
  if (typeof o.rrule === 'string') {
    const parts = new Map(o.rrule.replace(/^RRULE:/i, '').split(';').map((kv) => kv.toUpperCase().split('=') as [string, string]));
    const byday = parts.get('BYDAY');
    weekdays = byday ? byday.split(',').map((d) => RRULE_DAYS[d]).filter((d): d is Weekday => d !== undefined) : [...WEEKDAYS];
    startMinute = Number(parts.get('BYHOUR') ?? 0) * 60 + Number(parts.get('BYMINUTE') ?? 0);
  } else {
    if (!Array.isArray(o.weekdays) || typeof o.at !== 'string') return undefined;
    weekdays = o.weekdays.map((d) => String(d).toLowerCase().slice(0, 3) as Weekday).filter((d) => WEEKDAYS.includes(d));
    const m = /^(\d{2}):(\d{2})$/.exec(o.at);
    if (!m) return undefined;
    startMinute = Number(m[1]) * 60 + Number(m[2]);
  }
  if (weekdays.length === 0 || !Number.isFinite(startMinute)) return undefined;
  return { kind: 'recurring', weekdays, startMinute, durationMs, timeZone, comment: '' };
}

const cap = (d: string) => d[0].toUpperCase() + d.slice(1);
const mondayFirst = (d: Weekday) => (WEEKDAYS.indexOf(d) + 6) % 7;

/** `Sat, Sun at 03:00 for 2h (Europe/Berlin)`; `''` for no recurrence. */
export function describeRecurrence(value: unknown): string {
  if (value === null || value === undefined) return '';
  const w = toWindow(value);
  if (!w) return `recurrence ${JSON.stringify(value)}`;
  const hh = String(Math.floor(w.startMinute / 60)).padStart(2, '0');
  const mm = String(w.startMinute % 60).padStart(2, '0');
  const days = w.weekdays.length === 7 ? 'Every day' : [...w.weekdays].sort((a, b) => mondayFirst(a) - mondayFirst(b)).map(cap).join(', ');
  const raw = (value as { duration?: unknown }).duration;
  return `${days} at ${hh}:${mm} for ${typeof raw === 'string' ? raw : `${w.durationMs / 60000}m`} (${w.timeZone})`;
}

/** Whether a silence mutes at `t`: inside [startsAt, endsAt) and, with a recurrence, inside an occurrence. */
export function silenceMutesAt(s: { startsAt: number; endsAt: number; recurrence: unknown }, t: number): boolean {
  if (t < s.startsAt || t >= s.endsAt) return false;
  if (s.recurrence === null || s.recurrence === undefined) return true;
  const w = toWindow(s.recurrence);
  if (!w) return false;
  try {
    return inMaintenance([w], t) !== undefined;
  } catch {
    return false; // an unknown zone in this browser
  }
}
