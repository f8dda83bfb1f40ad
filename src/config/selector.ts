/**
 * PromQL series selectors, the subset rules use: a metric name and optional label matchers,
 * `http_requests_total{service="checkout",status=~"5..",route!="/health"}`.
 * Parsed by hand to report the column of the first problem, which a regex cannot do.
 */

export type MatchOp = '=' | '!=' | '=~' | '!~';

export interface LabelMatcher {
  readonly label: string;
  readonly op: MatchOp;
  readonly value: string;
}

export interface Selector {
  readonly metric: string;
  readonly matchers: readonly LabelMatcher[];
  /** Canonical text: `name{a="x",b=~"y"}`, values quoted as JSON (valid PromQL strings). */
  readonly text: string;
}

/** A parse failure: `column` is 1-based within the selector text. */
export interface SelectorError {
  readonly column: number;
  readonly message: string;
}

export type SelectorResult = { ok: true; selector: Selector } | { ok: false; error: SelectorError };

export const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
export const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Checks a regex the way Prometheus will run it: RE2 syntax, fully anchored. JavaScript accepts
 * more than RE2 (lookaround, backreferences); those are refused so that the same config means
 * the same thing here and in Prometheus-compatible tools. Returns a problem or undefined.
 */
export function checkRegex(source: string): string | undefined {
  if (/\(\?<?[=!]/.test(source)) return 'lookaround assertions are not supported (RE2 syntax)';
  if (/\\[1-9]/.test(source)) return 'backreferences are not supported (RE2 syntax)';
  try {
    new RegExp(`^(?:${source})$`);
  } catch (err) {
    const msg = (err as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /, '');
    return msg;
  }
  return undefined;
}

const ESCAPES: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' };

class Lexer {
  readonly src: string;
  /** What the text is, for "end of ..." in messages. */
  readonly what: string;
  pos = 0;
  constructor(src: string, what = 'selector') {
    this.src = src;
    this.what = what;
  }
  skipSpace(): void {
    while (this.pos < this.src.length && /\s/.test(this.src[this.pos])) this.pos++;
  }
  peek(): string {
    return this.src[this.pos] ?? '';
  }
  word(re: RegExp): string {
    const start = this.pos;
    while (this.pos < this.src.length && re.test(this.src[this.pos])) this.pos++;
    return this.src.slice(start, this.pos);
  }
  /** Where we are, for messages: `'}' at column 12`, or `end of selector`. */
  here(): string {
    return this.pos >= this.src.length ? `end of ${this.what}` : `'${this.src[this.pos]}' at column ${this.pos + 1}`;
  }
}

class SyntaxProblem {
  constructor(readonly column: number, readonly message: string) {}
}

function fail(lx: Lexer, expected: string, at = lx.pos): never {
  const where = at >= lx.src.length ? `end of ${lx.what}` : `'${lx.src[at]}' at column ${at + 1}`;
  throw new SyntaxProblem(at + 1, `expected ${expected}, found ${where}`);
}

/** Reads a PromQL string literal: "..." or '...' with Go escapes, or `raw`. */
function readString(lx: Lexer): string {
  const open = lx.peek();
  if (open !== '"' && open !== "'" && open !== '`') fail(lx, 'a quoted label value');
  const start = lx.pos;
  lx.pos++;
  let out = '';
  for (;;) {
    if (lx.pos >= lx.src.length || lx.src[lx.pos] === '\n') {
      throw new SyntaxProblem(start + 1, `unterminated quoted string starting at column ${start + 1}`);
    }
    const ch = lx.src[lx.pos++];
    if (ch === open) return out;
    if (ch !== '\\' || open === '`') {
      out += ch;
      continue;
    }
    const esc = lx.src[lx.pos++] ?? '';
    if (esc in ESCAPES) out += ESCAPES[esc];
    else if (esc === open) out += esc;
    else if (/[0-7]/.test(esc)) {
      const digits = esc + lx.src.slice(lx.pos, lx.pos + 2);
      if (!/^[0-7]{3}$/.test(digits) || parseInt(digits, 8) > 255) {
        throw new SyntaxProblem(lx.pos, `invalid octal escape '\\${digits}'`);
      }
      out += String.fromCharCode(parseInt(digits, 8));
      lx.pos += 2;
    } else if (esc === 'x' || esc === 'u' || esc === 'U') {
      const n = esc === 'x' ? 2 : esc === 'u' ? 4 : 8;
      const hex = lx.src.slice(lx.pos, lx.pos + n);
      const code = /^[0-9a-fA-F]+$/.test(hex) && hex.length === n ? parseInt(hex, 16) : NaN;
      if (!(code <= 0x10ffff) || (code >= 0xd800 && code <= 0xdfff)) {
        throw new SyntaxProblem(lx.pos, `invalid escape '\\${esc}${hex}'`);
      }
      out += String.fromCodePoint(code);
      lx.pos += n;
    } else {
      const shown = esc === '' ? `at end of ${lx.what}` : `'\\${esc}'`;
      throw new SyntaxProblem(lx.pos - 1, `unknown escape sequence ${shown}`);
    }
  }
}

function readMatcher(lx: Lexer): LabelMatcher {
  const at = lx.pos;
  const label = lx.word(/[a-zA-Z0-9_]/);
  if (!label || !LABEL_NAME.test(label)) fail(lx, 'a label name', at);
  if (label.startsWith('__')) {
    const why = label === '__name__' ? 'give the metric name before the braces instead' : 'they are internal to Tidemark';
    throw new SyntaxProblem(at + 1, `label names starting with '__' are reserved (${label}): ${why}`);
  }
  lx.skipSpace();
  const two = lx.src.slice(lx.pos, lx.pos + 2);
  let op: MatchOp;
  if (two === '=~' || two === '!~' || two === '!=') op = two;
  else if (lx.peek() === '=') op = '=';
  else return fail(lx, `one of =, !=, =~, !~ after label '${label}'`);
  lx.pos += op.length;
  lx.skipSpace();
  const valueAt = lx.pos;
  const value = readString(lx);
  if (op === '=~' || op === '!~') {
    const problem = checkRegex(value);
    if (problem) throw new SyntaxProblem(valueAt + 1, `invalid regular expression for label '${label}': ${problem}`);
  }
  return { label, op, value };
}

/** Reads `{a="x", b=~"y"}` from the opening brace, and the space after it. */
function readBraces(lx: Lexer): LabelMatcher[] {
  const matchers: LabelMatcher[] = [];
  lx.pos++;
  lx.skipSpace();
  while (lx.peek() !== '}') {
    matchers.push(readMatcher(lx));
    lx.skipSpace();
    if (lx.peek() === ',') {
      lx.pos++;
      lx.skipSpace();
    } else if (lx.peek() !== '}') fail(lx, "',' or '}'");
  }
  lx.pos++;
  lx.skipSpace();
  return matchers;
}

/** The canonical text of a selector (what `Selector.text` holds). */
export function formatSelector(metric: string, matchers: readonly LabelMatcher[]): string {
  if (matchers.length === 0) return metric;
  return `${metric}{${matchers.map((m) => `${m.label}${m.op}${JSON.stringify(m.value)}`).join(',')}}`;
}

/**
 * Parses a selector; never throws.
 * @example parseSelector('up{job=~"api|web"}') // {ok: true, selector: {metric: 'up', matchers: [...]}}
 */
export function parseSelector(text: string): SelectorResult {
  const lx = new Lexer(text);
  try {
    lx.skipSpace();
    const at = lx.pos;
    const metric = lx.word(/[a-zA-Z0-9_:]/);
    if (!metric || !METRIC_NAME.test(metric)) fail(lx, 'a metric name', at);
    lx.skipSpace();
    const matchers = lx.peek() === '{' ? readBraces(lx) : [];
    if (lx.pos < lx.src.length) fail(lx, matchers.length || text.includes('{') ? 'the end of the selector' : "'{' or the end of the selector");
    return { ok: true, selector: { metric, matchers, text: formatSelector(metric, matchers) } };
  } catch (err) {
    if (err instanceof SyntaxProblem) return { ok: false, error: { column: err.column, message: err.message } };
    throw err;
  }
}

/**
 * Compiles a selector into a predicate over a series' metric name and labels (a missing label
 * counts as the empty string, as in Prometheus). Regexes are compiled once, here.
 */
export function compileSelector(sel: Selector): (metric: string, labels: Readonly<Record<string, string>>) => boolean {
  const tests = sel.matchers.map((m) => {
    if (m.op === '=') return (v: string) => v === m.value;
    if (m.op === '!=') return (v: string) => v !== m.value;
    const re = new RegExp(`^(?:${m.value})$`);
    return m.op === '=~' ? (v: string) => re.test(v) : (v: string) => !re.test(v);
  });
  const names = sel.matchers.map((m) => m.label);
  return (metric, labels) => {
    if (metric !== sel.metric) return false;
    for (let i = 0; i < tests.length; i++) {
      if (!tests[i](Object.hasOwn(labels, names[i]) ? labels[names[i]] : '')) return false;
    }
    return true;
  };
}

export type MatchersResult = { ok: true; matchers: LabelMatcher[] } | { ok: false; error: SelectorError };

/**
 * Parses label matchers in braces without a metric name, as alert matchers are written (the
 * same syntax and checks as a selector's braces); never throws.
 * @example parseMatchers('{severity="S3", region=~"eu-.*"}') // {ok: true, matchers: [...]}
 */
export function parseMatchers(text: string): MatchersResult {
  const lx = new Lexer(text, 'matchers');
  try {
    lx.skipSpace();
    if (lx.peek() !== '{') fail(lx, "'{'");
    const matchers = readBraces(lx);
    if (lx.pos < lx.src.length) fail(lx, 'the end of the matchers');
    return { ok: true, matchers };
  } catch (err) {
    if (err instanceof SyntaxProblem) return { ok: false, error: { column: err.column, message: err.message } };
    throw err;
  }
}
