// Input checks shared by every store implementation, so SQLite and PostgreSQL reject the same
// input with the same message.
import { TidemarkError } from '../errors.ts';
import type { Labels } from './types.ts';

const TENANT_ID = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export function checkTenantId(id: unknown, path = 'tenant'): string {
  if (typeof id !== 'string' || !TENANT_ID.test(id)) {
    throw new TidemarkError('TM_ERR_INPUT', `tenant id must be 1-63 of [a-z0-9_-] starting with a letter or digit, got ${JSON.stringify(id)}`, path);
  }
  return id;
}

/** A time in integer milliseconds since the epoch. */
export function checkTime(t: unknown, path: string): number {
  if (typeof t !== 'number' || !Number.isSafeInteger(t)) {
    throw new TidemarkError('TM_ERR_INPUT', `expected a time in integer milliseconds, got ${String(t)}`, path);
  }
  return t;
}

export function checkOptionalTime(t: unknown, path: string): number | null {
  return t === undefined || t === null ? null : checkTime(t, path);
}

export function checkText(s: unknown, path: string, allowEmpty = false): string {
  if (typeof s !== 'string' || (!allowEmpty && s.length === 0)) {
    throw new TidemarkError('TM_ERR_INPUT', `expected a non-empty string, got ${JSON.stringify(s)}`, path);
  }
  return s;
}

export function checkOptionalText(s: unknown, path: string): string | null {
  return s === undefined || s === null ? null : checkText(s, path, true);
}

export function checkOneOf<T extends string>(value: unknown, valid: readonly T[], path: string): T {
  if (typeof value !== 'string' || !(valid as readonly string[]).includes(value)) {
    throw new TidemarkError('TM_ERR_INPUT', `expected one of ${valid.join(', ')}, got ${JSON.stringify(value)}`, path);
  }
  return value as T;
}

export function checkFinite(x: unknown, path: string): number {
  if (typeof x !== 'number' || !Number.isFinite(x)) {
    throw new TidemarkError('TM_ERR_INPUT', `expected a finite number, got ${String(x)}`, path);
  }
  return x;
}

/** A positive integer, or undefined meaning "no limit". */
export function checkLimit(limit: unknown, path = 'limit'): number | undefined {
  if (limit === undefined) return undefined;
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1) {
    throw new TidemarkError('TM_ERR_INPUT', `limit must be a positive integer, got ${String(limit)}`, path);
  }
  return limit;
}

export function checkId(id: unknown, path: string): number {
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) {
    throw new TidemarkError('TM_ERR_INPUT', `expected a positive integer id, got ${String(id)}`, path);
  }
  return id;
}

/**
 * Sorts labels by name, drops empty values and checks names and values. Returns the
 * canonical text form (a JSON array of [name, value] pairs: arrays, because object key order
 * is not preserved for integer-like names) used as the interning key and stored as is.
 */
export function canonicalLabels(labels: unknown, path = 'labels'): string {
  if (labels === undefined || labels === null) return '[]';
  if (typeof labels !== 'object' || Array.isArray(labels)) {
    throw new TidemarkError('TM_ERR_INPUT', 'labels must be an object of label name to string value', path);
  }
  const pairs: [string, string][] = [];
  const rec = labels as Record<string, unknown>;
  let sorted = true;
  // for-in and a sortedness check, not Object.entries and an unconditional sort: the engine
  // interns a million new series at first sight, with labels already in name order.
  for (const name in rec) {
    if (!Object.prototype.hasOwnProperty.call(rec, name)) continue;
    const value = rec[name];
    if (typeof value !== 'string') {
      throw new TidemarkError('TM_ERR_INPUT', `label value must be a string, got ${JSON.stringify(value)}`, `${path}.${name}`);
    }
    if (name === '' || name === '__name__') {
      throw new TidemarkError('TM_ERR_INPUT', `label name ${JSON.stringify(name)} is reserved or empty; put the metric name in "metric"`, path);
    }
    if (value !== '') {
      if (pairs.length > 0 && pairs[pairs.length - 1][0] >= name) sorted = false;
      pairs.push([name, value]);
    }
  }
  if (!sorted) pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return JSON.stringify(pairs);
}

/** The inverse of canonicalLabels. */
export function parseLabels(text: string): Labels {
  const out: Record<string, string> = {};
  for (const [k, v] of JSON.parse(text) as [string, string][]) out[k] = v;
  return out;
}

/** Round a time down / up to a whole minute. */
export function floorMinute(t: number): number {
  return Math.floor(t / 60_000) * 60_000;
}

export function ceilMinute(t: number): number {
  return Math.ceil(t / 60_000) * 60_000;
}
