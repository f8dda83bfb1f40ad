/**
 * Strict parsing of detector options: unknown keys are errors naming the path and the valid
 * keys, wrong types and out-of-range values say what was expected and what was given.
 * Every message is a TidemarkError TM_ERR_CONFIG whose path points at the offending key.
 */
import { TidemarkError } from '../errors.ts';

export type Fields = Readonly<Record<string, unknown>>;

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return String(v);
}

/** The options mapping at `path` (undefined or null: no options), keys checked against `keys`. */
export function fields(input: unknown, path: string, keys: readonly string[]): Fields {
  if (input === undefined || input === null) return {};
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw new TidemarkError('TM_ERR_CONFIG', `expected a mapping of options (${keys.length ? keys.join(', ') : 'none'}), got ${show(input)}`, path);
  }
  for (const key of Object.keys(input)) {
    if (!keys.includes(key)) {
      const valid = keys.length ? `valid options: ${keys.join(', ')}` : 'this detector takes no options';
      throw new TidemarkError('TM_ERR_CONFIG', `unknown option '${key}'; ${valid}`, `${path}.${key}`);
    }
  }
  return input as Fields;
}

export interface NumberRule {
  /** Inclusive lower bound. */
  min?: number;
  /** Exclusive lower bound. */
  above?: number;
  /** Inclusive upper bound. */
  max?: number;
  integer?: boolean;
}

function checkNumber(v: unknown, at: string, rule: NumberRule): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new TidemarkError('TM_ERR_CONFIG', `expected a number, got ${show(v)}`, at);
  if (rule.integer && !Number.isInteger(v)) throw new TidemarkError('TM_ERR_CONFIG', `expected a whole number, got ${v}`, at);
  const lo = rule.min !== undefined ? `at least ${rule.min}` : rule.above !== undefined ? `above ${rule.above}` : '';
  const hi = rule.max !== undefined ? `at most ${rule.max}` : '';
  const tooLow = (rule.min !== undefined && v < rule.min) || (rule.above !== undefined && v <= rule.above);
  const tooHigh = rule.max !== undefined && v > rule.max;
  if (tooLow || tooHigh) throw new TidemarkError('TM_ERR_CONFIG', `must be ${[lo, hi].filter(Boolean).join(' and ')}, got ${v}`, at);
  return v;
}

/** A number option with a default. */
export function num(f: Fields, key: string, path: string, def: number, rule: NumberRule = {}): number {
  const v = f[key];
  return v === undefined ? def : checkNumber(v, `${path}.${key}`, rule);
}

/** An optional number option: undefined (or null) when not set. */
export function optNum(f: Fields, key: string, path: string, rule: NumberRule = {}): number | undefined {
  const v = f[key];
  return v === undefined || v === null ? undefined : checkNumber(v, `${path}.${key}`, rule);
}

/** A boolean option with a default. */
export function flag(f: Fields, key: string, path: string, def: boolean): boolean {
  const v = f[key];
  if (v === undefined) return def;
  if (typeof v !== 'boolean') throw new TidemarkError('TM_ERR_CONFIG', `expected true or false, got ${show(v)}`, `${path}.${key}`);
  return v;
}

/** One of a fixed set of strings, with a default. */
export function choice<T extends string>(f: Fields, key: string, path: string, def: T, values: readonly T[]): T {
  const v = f[key];
  if (v === undefined) return def;
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
    throw new TidemarkError('TM_ERR_CONFIG', `expected one of ${values.join(', ')}, got ${show(v)}`, `${path}.${key}`);
  }
  return v as T;
}
