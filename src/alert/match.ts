/**
 * Label matching over alert labels (silences, inhibition), silence recurrence (weekdays and a
 * local time in an IANA zone, or an RRULE subset), and whether a silence is in force.
 */
import { inMaintenance, parseDuration, type RecurringWindow, type Weekday } from '../config/index.ts';
import { TidemarkError } from '../errors.ts';
import type { Silence } from '../store/types.ts';
import type { Labels, Matcher } from './types.ts';

export type LabelPredicate = (labels: Labels) => boolean;

/**
 * Compiles Prometheus-style matchers over a label set: `=`/`!=` exact, `=~`/`!~` fully anchored
 * regexes; a missing label reads as ''. Bad input throws TM_ERR_INPUT naming the matcher.
 * @example compileLabelMatchers([{ name: 'severity', op: '=~', value: 'S[23]' }])({ severity: 'S2' }) // true
 */
export function compileLabelMatchers(matchers: readonly Matcher[], path = 'matchers'): LabelPredicate {
  const tests = matchers.map((m, i): LabelPredicate => {
    const p = `${path}[${i}]`;
    if (m === null || typeof m !== 'object' || typeof m.name !== 'string' || m.name === '' || typeof m.value !== 'string') {
      throw new TidemarkError('TM_ERR_INPUT', 'a matcher is {name, op, value} with a non-empty name and a string value', p);
    }
    const { name, op, value } = m;
    if (op === '=') return (l) => (l[name] ?? '') === value;
    if (op === '!=') return (l) => (l[name] ?? '') !== value;
    if (op !== '=~' && op !== '!~') throw new TidemarkError('TM_ERR_INPUT', `matcher op must be one of = != =~ !~, got ${JSON.stringify(op)}`, `${p}.op`);
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${value})$`, 'u');
    } catch (err) {
      throw new TidemarkError('TM_ERR_INPUT', `invalid regular expression ${JSON.stringify(value)}: ${(err as Error).message}`, `${p}.value`);
    }
    return op === '=~' ? (l) => re.test(l[name] ?? '') : (l) => !re.test(l[name] ?? '');
  });
  return (labels) => {
    for (const t of tests) if (!t(labels)) return false;
    return true;
  };
}

const DAYS: readonly Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const RRULE_DAYS: Record<string, Weekday> = { SU: 'sun', MO: 'mon', TU: 'tue', WE: 'wed', TH: 'thu', FR: 'fri', SA: 'sat' };

function zone(name: unknown, path: string): string {
  if (name === undefined) return 'UTC';
  try {
    if (typeof name !== 'string') throw new Error('not a string');
    return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    throw new TidemarkError('TM_ERR_INPUT', `expected an IANA time zone such as Europe/Berlin, got ${JSON.stringify(name)}`, `${path}.timeZone`);
  }
}

function duration(v: unknown, path: string): number {
  const ms = typeof v === 'string' ? parseDuration(v) : typeof v === 'number' && Number.isInteger(v) ? v : undefined;
  if (ms === undefined || ms <= 0 || ms > 7 * 86_400_000) {
    throw new TidemarkError('TM_ERR_INPUT', `expected a duration between 1ms and 1w such as 2h (or milliseconds), got ${JSON.stringify(v)}`, `${path}.duration`);
  }
  return ms;
}

/**
 * Reads a silence's recurrence: `{weekdays: ['sat','sun'], at: '03:00', duration: '2h', timeZone: 'Europe/Berlin'}`
 * or `{rrule: 'FREQ=WEEKLY;BYDAY=SA,SU;BYHOUR=3;BYMINUTE=0', duration: '2h', timeZone: ...}` (FREQ
 * DAILY or WEEKLY; BYDAY, BYHOUR, BYMINUTE). Null/undefined: no recurrence. Throws TM_ERR_INPUT.
 */
export function parseRecurrence(value: unknown, path = 'recurrence'): RecurringWindow | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw new TidemarkError('TM_ERR_INPUT', 'expected an object with weekdays/at or rrule, plus duration and timeZone', path);
  const o = value as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!['weekdays', 'at', 'rrule', 'duration', 'timeZone'].includes(k)) throw new TidemarkError('TM_ERR_INPUT', 'unknown key; expected weekdays, at, rrule, duration, timeZone', `${path}.${k}`);
  }
  const timeZone = zone(o.timeZone, path);
  const durationMs = duration(o.duration, path);
  let weekdays: Weekday[];
  let startMinute: number;
  if (o.rrule !== undefined) {
    if (o.weekdays !== undefined || o.at !== undefined) throw new TidemarkError('TM_ERR_INPUT', 'give either rrule or weekdays + at, not both', path);
    if (typeof o.rrule !== 'string') throw new TidemarkError('TM_ERR_INPUT', 'expected an RRULE string', `${path}.rrule`);
    const parts = new Map<string, string>();
    for (const kv of o.rrule.replace(/^RRULE:/i, '').split(';')) {
      const [k, v] = kv.split('=');
      if (!k || v === undefined) throw new TidemarkError('TM_ERR_INPUT', `cannot read ${JSON.stringify(kv)}; expected KEY=VALUE`, `${path}.rrule`);
      parts.set(k.toUpperCase(), v.toUpperCase());
    }
    for (const k of parts.keys()) {
      if (!['FREQ', 'BYDAY', 'BYHOUR', 'BYMINUTE', 'INTERVAL'].includes(k)) throw new TidemarkError('TM_ERR_INPUT', `RRULE part ${k} is not supported; use FREQ, BYDAY, BYHOUR, BYMINUTE`, `${path}.rrule`);
    }
    const freq = parts.get('FREQ');
    if (freq !== 'DAILY' && freq !== 'WEEKLY') throw new TidemarkError('TM_ERR_INPUT', `FREQ must be DAILY or WEEKLY, got ${JSON.stringify(freq)}`, `${path}.rrule`);
    if ((parts.get('INTERVAL') ?? '1') !== '1') throw new TidemarkError('TM_ERR_INPUT', 'only INTERVAL=1 is supported', `${path}.rrule`);
    const byday = parts.get('BYDAY');
    weekdays = byday === undefined ? [...DAYS] : byday.split(',').map((d) => {
      const w = RRULE_DAYS[d];
      if (!w) throw new TidemarkError('TM_ERR_INPUT', `unknown BYDAY value ${JSON.stringify(d)}; use MO,TU,WE,TH,FR,SA,SU`, `${path}.rrule`);
      return w;
    });
    const hour = Number(parts.get('BYHOUR') ?? '0');
    const minute = Number(parts.get('BYMINUTE') ?? '0');
    if (!Number.isInteger(hour) || hour < 0 || hour > 23 || !Number.isInteger(minute) || minute < 0 || minute > 59) {
      throw new TidemarkError('TM_ERR_INPUT', 'BYHOUR must be one hour 0-23 and BYMINUTE one minute 0-59', `${path}.rrule`);
    }
    startMinute = hour * 60 + minute;
  } else {
    if (!Array.isArray(o.weekdays) || o.weekdays.length === 0) throw new TidemarkError('TM_ERR_INPUT', 'expected a non-empty list of weekdays (mon..sun)', `${path}.weekdays`);
    weekdays = o.weekdays.map((d, i) => {
      const w = typeof d === 'string' ? DAYS.find((x) => x === d.toLowerCase().slice(0, 3) && (d.length === 3 || d.toLowerCase().startsWith(x))) : undefined;
      if (!w) throw new TidemarkError('TM_ERR_INPUT', `expected a weekday (mon..sun), got ${JSON.stringify(d)}`, `${path}.weekdays[${i}]`);
      return w;
    });
    const m = typeof o.at === 'string' ? /^([01]\d|2[0-3]):([0-5]\d)$/.exec(o.at) : null;
    if (!m) throw new TidemarkError('TM_ERR_INPUT', `expected a local start time HH:MM, got ${JSON.stringify(o.at)}`, `${path}.at`);
    startMinute = Number(m[1]) * 60 + Number(m[2]);
  }
  return Object.freeze({ kind: 'recurring', weekdays: Object.freeze([...new Set(weekdays)]), startMinute, durationMs, timeZone, comment: '' });
}

/** A silence compiled for matching: its predicate and recurrence, parsed once. */
export interface CompiledSilence {
  readonly silence: Silence;
  readonly matches: LabelPredicate;
  readonly recurrence: RecurringWindow | undefined;
}

export function compileSilence(s: Silence): CompiledSilence {
  return { silence: s, matches: compileLabelMatchers(s.matchers, `silence ${s.id}.matchers`), recurrence: parseRecurrence(s.recurrence, `silence ${s.id}.recurrence`) };
}

/** In force at `t`: inside [startsAt, endsAt) and, with a recurrence, inside one of its occurrences. */
export function silenceActive(c: CompiledSilence, t: number): boolean {
  const s = c.silence;
  if (t < s.startsAt || t >= s.endsAt) return false;
  return c.recurrence === undefined || inMaintenance([c.recurrence], t) !== undefined;
}

/** For listing: 'pending' (not started), 'active', or 'expired' (ended). A recurring silence between occurrences is 'active' (scheduled). */
export function silenceStatus(s: Silence, t: number): 'pending' | 'active' | 'expired' {
  return t < s.startsAt ? 'pending' : t >= s.endsAt ? 'expired' : 'active';
}
