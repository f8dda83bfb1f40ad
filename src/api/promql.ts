/**
 * The PromQL subset the read API answers: a series selector, optionally with a range,
 * `name{a="x",b=~"y.*"}`, `{__name__="name",a!="x"}`, `name[10m]`. No functions or operators:
 * the message says so, so a Grafana user knows to move the math into the panel.
 */
import { TidemarkError } from '../errors.ts';
import type { Matcher } from '../store/index.ts';

export interface ParsedSelector {
  readonly matchers: Matcher[];
  /** The metric name when the selector pins one with `=`. */
  readonly metric: string | undefined;
  /** Range in ms for `x[10m]`; undefined for an instant selector. */
  readonly rangeMs: number | undefined;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3600_000, d: 86400_000, w: 7 * 86400_000, y: 365 * 86400_000 };

/** A Prometheus duration (`1h30m`, `250ms`), in ms; undefined when it is not one. */
export function parseDurationMs(text: string): number | undefined {
  const re = /(\d+)(ms|s|m|h|d|w|y)/y;
  let pos = 0;
  let total = 0;
  if (text.length === 0) return undefined;
  while (pos < text.length) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) return undefined;
    total += Number(m[1]) * UNITS[m[2]];
    pos = re.lastIndex;
  }
  return total;
}

function fail(query: string, pos: number, what: string): never {
  throw new TidemarkError('TM_ERR_INPUT', `cannot parse query ${JSON.stringify(query)} at character ${pos + 1}: ${what}. Only series selectors are supported (a metric name with label matchers, optionally [range]); no functions or operators`, 'query');
}

/** Parses a selector query. Throws TM_ERR_INPUT (field `query`) naming the position. */
export function parseQuery(query: string): ParsedSelector {
  const q = query;
  let pos = 0;
  const space = () => {
    while (pos < q.length && /\s/.test(q[pos])) pos++;
  };
  const word = (re: RegExp) => {
    const start = pos;
    while (pos < q.length && re.test(q[pos])) pos++;
    return q.slice(start, pos);
  };
  const matchers: Matcher[] = [];
  space();
  const name = word(/[a-zA-Z0-9_:]/);
  if (name && !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) fail(q, pos - name.length, `${JSON.stringify(name)} is not a metric name`);
  if (name) matchers.push({ name: '__name__', op: '=', value: name });
  space();
  if (q[pos] === '(') fail(q, pos, `functions are not supported (${name}(...))`);
  if (q[pos] === '{') {
    pos++;
    space();
    while (q[pos] !== '}') {
      const lstart = pos;
      const label = word(/[a-zA-Z0-9_]/);
      if (!label || !/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(label)) fail(q, lstart, 'expected a label name');
      space();
      const op = q.startsWith('=~', pos) ? '=~' : q.startsWith('!~', pos) ? '!~' : q.startsWith('!=', pos) ? '!=' : q[pos] === '=' ? '=' : undefined;
      if (!op) fail(q, pos, 'expected one of =, !=, =~, !~');
      pos += op.length;
      space();
      const value = readString(q, pos);
      pos = value.end;
      if (op === '=~' || op === '!~') {
        try {
          new RegExp(`^(?:${value.text})$`);
        } catch (err) {
          fail(q, pos, `invalid regular expression ${JSON.stringify(value.text)}: ${(err as Error).message}`);
        }
      }
      matchers.push({ name: label, op, value: value.text });
      space();
      if (q[pos] === ',') {
        pos++;
        space();
      } else if (q[pos] !== '}') fail(q, pos, "expected ',' or '}'");
    }
    pos++;
    space();
  } else if (!name) fail(q, pos, 'expected a metric name or {');
  let rangeMs: number | undefined;
  if (q[pos] === '[') {
    const end = q.indexOf(']', pos);
    if (end < 0) fail(q, pos, "expected ']'");
    rangeMs = parseDurationMs(q.slice(pos + 1, end).trim());
    if (!rangeMs) fail(q, pos + 1, `expected a duration such as 5m, got ${JSON.stringify(q.slice(pos + 1, end))}`);
    pos = end + 1;
    space();
  }
  if (pos < q.length) fail(q, pos, `unexpected ${JSON.stringify(q.slice(pos, pos + 10))}`);
  if (matchers.every(matchesEmpty)) {
    fail(q, 0, 'a selector needs at least one matcher that does not match the empty string');
  }
  const pinned = matchers.find((m) => m.name === '__name__' && m.op === '=');
  return { matchers, metric: pinned?.value, rangeMs };
}

function readString(q: string, pos: number): { text: string; end: number } {
  const quote = q[pos];
  if (quote !== '"' && quote !== "'" && quote !== '`') fail(q, pos, 'expected a quoted string');
  let out = '';
  let i = pos + 1;
  while (i < q.length && q[i] !== quote) {
    if (q[i] === '\\' && quote !== '`') {
      const c = q[i + 1];
      out += c === 'n' ? '\n' : c === 't' ? '\t' : c === 'r' ? '\r' : c;
      i += 2;
    } else out += q[i++];
  }
  if (i >= q.length) fail(q, pos, 'unterminated string');
  return { text: out, end: i + 1 };
}

function matchesEmpty(m: Matcher): boolean {
  if (m.op === '=') return m.value === '';
  if (m.op === '!=') return m.value !== '';
  const hit = new RegExp(`^(?:${m.value})$`).test('');
  return m.op === '=~' ? hit : !hit;
}
