/**
 * Flag parsing shared by the evaluation commands: node:util parseArgs in strict mode, with every
 * parse failure turned into a TM_ERR_USAGE that the CLI prints and exits 2 on.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { TidemarkError } from '../errors.ts';
import { parseDuration } from './time.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Parses `argv` strictly against `options` (no positionals). */
export function parseCliFlags<O extends Options>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new TidemarkError('TM_ERR_USAGE', `${(err as Error).message} (see --help)`);
  }
}

/** A required string flag. */
export function requireFlag(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new TidemarkError('TM_ERR_USAGE', `--${flag} is required (see --help)`);
  return value;
}

/** An integer flag within [min, max], or `fallback` when absent. */
export function intFlag(value: string | undefined, flag: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new TidemarkError('TM_ERR_USAGE', `--${flag} must be an integer from ${min} to ${max}, got '${value}'`);
  }
  return n;
}

/** A number flag within [min, max], or `fallback` when absent. */
export function numberFlag(value: string | undefined, flag: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = value.trim() === '' ? NaN : Number(value);
  if (!(n >= min && n <= max)) throw new TidemarkError('TM_ERR_USAGE', `--${flag} must be a number from ${min} to ${max}, got '${value}'`);
  return n;
}

/** A duration flag (`60s`, `5m`, `1h`) in milliseconds, or `fallback` when absent. */
export function durationFlag(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const ms = parseDuration(value);
  if (Number.isNaN(ms)) throw new TidemarkError('TM_ERR_USAGE', `--${flag} must be a duration such as 60s, 5m or 1h, got '${value}'`);
  return ms;
}
