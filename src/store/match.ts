// Label matching in TypeScript over interned label sets. Both store implementations select by
// tenant (and metric when a `__name__="x"` matcher allows it) in SQL, then filter here, so the
// matching rules are the same everywhere.
import { TidemarkError } from '../errors.ts';
import type { Labels, Matcher } from './types.ts';

const OPS: readonly Matcher['op'][] = ['=', '!=', '=~', '!~'];

/** True when a series with this metric and labels is selected. */
export type SeriesPredicate = (metric: string, labels: Labels) => boolean;

/**
 * Compiles matchers into a predicate, checking each (unknown op, bad regex -> TM_ERR_INPUT).
 * Regexes are fully anchored, as in Prometheus, but use JavaScript syntax, not RE2.
 * @example compileMatchers([{ name: '__name__', op: '=', value: 'http_requests' }, { name: 'code', op: '=~', value: '5..' }])
 */
export function compileMatchers(matchers: readonly Matcher[], path = 'matchers'): SeriesPredicate {
  if (!Array.isArray(matchers)) throw new TidemarkError('TM_ERR_INPUT', 'matchers must be an array', path);
  const tests = matchers.map((m, i) => compileOne(m, `${path}[${i}]`));
  if (tests.length === 0) return () => true;
  return (metric, labels) => {
    for (const test of tests) if (!test(metric, labels)) return false;
    return true;
  };
}

function compileOne(m: Matcher, path: string): SeriesPredicate {
  if (m === null || typeof m !== 'object') throw new TidemarkError('TM_ERR_INPUT', 'a matcher is {name, op, value}', path);
  const { name, op, value } = m;
  if (typeof name !== 'string' || name === '') throw new TidemarkError('TM_ERR_INPUT', 'matcher name must be a non-empty string', `${path}.name`);
  if (typeof value !== 'string') throw new TidemarkError('TM_ERR_INPUT', 'matcher value must be a string', `${path}.value`);
  if (!OPS.includes(op)) throw new TidemarkError('TM_ERR_INPUT', `matcher op must be one of ${OPS.join(' ')}, got ${JSON.stringify(op)}`, `${path}.op`);
  const get = name === '__name__' ? (metric: string) => metric : (_: string, labels: Labels) => labels[name] ?? '';
  if (op === '=') return (metric, labels) => get(metric, labels) === value;
  if (op === '!=') return (metric, labels) => get(metric, labels) !== value;
  let re: RegExp;
  try {
    re = new RegExp(`^(?:${value})$`, 'u');
  } catch (err) {
    throw new TidemarkError('TM_ERR_INPUT', `invalid regular expression ${JSON.stringify(value)}: ${(err as Error).message}`, `${path}.value`);
  }
  return op === '=~' ? (metric, labels) => re.test(get(metric, labels)) : (metric, labels) => !re.test(get(metric, labels));
}

/** The metric name when a `__name__="x"` matcher pins it (lets SQL narrow the scan), else undefined. */
export function pinnedMetric(matchers: readonly Matcher[]): string | undefined {
  for (const m of matchers) if (m.name === '__name__' && m.op === '=') return m.value;
  return undefined;
}
