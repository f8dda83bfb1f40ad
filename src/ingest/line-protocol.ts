import { TidemarkError } from '../errors.ts';
import { telegrafName } from './names.ts';
import type { SampleSink } from './types.ts';

/**
 * InfluxDB line protocol (what Telegraf sends):
 *
 *   measurement[,tag=value…] field=value[,field=value…] [timestamp]
 *
 * Escapes: in measurements `\,` and `\ `; in tag keys, tag values and field keys `\,`, `\=`
 * and `\ `; in string field values `\"` and `\\`. `\\` is a backslash everywhere; a backslash
 * before any other character is kept as written. Field values: floats (`1`, `-1.5e3`), integers
 * (`12i`), unsigned (`12u`), booleans (`t T true True TRUE f F false False FALSE`) and quoted
 * strings, which may span lines. Lines starting with `#` and blank lines are skipped; CRLF is
 * accepted.
 *
 * Each numeric or boolean field becomes a sample named `<measurement>_<field>` (just `<field>`
 * when the measurement is `prometheus`), sanitised the way Telegraf's Prometheus output does;
 * booleans are 1 and 0, as there. Tags become labels. String fields are skipped and counted as
 * `non_numeric_value`. A line that does not parse is counted as `malformed_line` with its line
 * number and skipped; the other lines are kept. Lines without a timestamp get the sink's `now`.
 */

/** Timestamp precision of a line-protocol body (the `precision` query parameter). */
export type Precision = 'ns' | 'us' | 'ms' | 's' | 'm' | 'h';

const PRECISIONS: Record<string, Precision> = { ns: 'ns', n: 'ns', us: 'us', u: 'us', 'µs': 'us', ms: 'ms', s: 's', m: 'm', h: 'h' };

export interface LineProtocolOptions {
  /** Unit of the timestamps: ns (default), us, ms, s, m, h; `n`, `u`, `µs` are accepted too. */
  precision?: string;
}

const SPACE = 32;
const COMMA = 44;
const EQUALS = 61;
const BACKSLASH = 92;
const QUOTE = 34;
const NL = 10;
const CR = 13;
const TAB = 9;
const HASH = 35;

const FLOAT_RE = /^-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const INT_RE = /^-?\d+$/;
const UINT_RE = /^\d+$/;
const INT64_MAX = '9223372036854775807';
const INT64_MIN_ABS = '9223372036854775808';
const UINT64_MAX = '18446744073709551615';

/** True if the decimal digit string `d` is at most `max` (both without sign or leading zeros issues). */
function digitsAtMost(d: string, max: string): boolean {
  let s = 0;
  while (s < d.length - 1 && d.charCodeAt(s) === 48) s++;
  const len = d.length - s;
  if (len !== max.length) return len < max.length;
  return d.slice(s) <= max;
}

class LineSyntaxError {
  constructor(readonly problem: string) {}
}

/** Reused scratch for one line. */
const tags: string[] = [];
const fieldKeys: string[] = [];
const fieldValues: number[] = [];
const fieldIsString: boolean[] = [];

class Parser {
  readonly s: string;
  readonly n: number;
  i = 0;
  line = 1;

  constructor(s: string) {
    this.s = s;
    this.n = s.length;
  }

  /**
   * Reads up to an unescaped stop character. `stopEquals`: '=' stops (keys); `equalsIsError`:
   * an unescaped '=' is an error (tag values). Unescapes `\,`, `\ `, `\\` and, when `escEquals`, `\=`.
   */
  token(what: string, stopEquals: boolean, escEquals: boolean, equalsIsError: boolean): string {
    const s = this.s;
    const start = this.i;
    let i = start;
    let escaped = false;
    for (; i < this.n; i++) {
      const c = s.charCodeAt(i);
      if (c === BACKSLASH && i + 1 < this.n) {
        const d = s.charCodeAt(i + 1);
        if (d === COMMA || d === SPACE || d === BACKSLASH || (escEquals && d === EQUALS)) {
          escaped = true;
          i++;
        }
        continue;
      }
      if (c === COMMA || c === SPACE || c === NL || c === CR) break;
      if (c === EQUALS) {
        if (stopEquals) break;
        if (equalsIsError) throw new LineSyntaxError(`unescaped '=' in ${what}`);
      }
    }
    this.i = i;
    if (i === start) throw new LineSyntaxError(`missing ${what}`);
    const raw = s.slice(start, i);
    return escaped ? unescape(raw, escEquals) : raw;
  }

  /**
   * Skips a quoted string field starting at its opening quote. String fields are not kept, so
   * only the `\"` and `\\` escapes matter here: they decide where the string ends.
   */
  skipQuoted(): void {
    const s = this.s;
    const open = this.i;
    const line = this.line;
    for (let i = open + 1; i < this.n; i++) {
      const c = s.charCodeAt(i);
      if (c === BACKSLASH && i + 1 < this.n) {
        const d = s.charCodeAt(i + 1);
        if (d === QUOTE || d === BACKSLASH) i++;
      } else if (c === NL) {
        this.line++;
      } else if (c === QUOTE) {
        this.i = i + 1;
        return;
      }
    }
    // Unterminated: rewind so that only this line is lost, not every line after it.
    this.i = open;
    this.line = line;
    throw new LineSyntaxError('unterminated string field value');
  }

  /** An unquoted field value or timestamp token. */
  bare(): string {
    const s = this.s;
    const start = this.i;
    let i = start;
    while (i < this.n) {
      const c = s.charCodeAt(i);
      if (c === COMMA || c === SPACE || c === NL || c === CR) break;
      i++;
    }
    this.i = i;
    return s.slice(start, i);
  }

  skipSpaces(): void {
    while (this.i < this.n && this.s.charCodeAt(this.i) === SPACE) this.i++;
  }

  /** True at the end of the line (after optional spaces and a CR); does not consume the newline. */
  atLineEnd(): boolean {
    this.skipSpaces();
    if (this.i < this.n && this.s.charCodeAt(this.i) === CR && (this.i + 1 === this.n || this.s.charCodeAt(this.i + 1) === NL)) this.i++;
    return this.i >= this.n || this.s.charCodeAt(this.i) === NL;
  }
}

function unescape(raw: string, escEquals: boolean): string {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === BACKSLASH && i + 1 < raw.length) {
      const d = raw.charCodeAt(i + 1);
      if (d === COMMA || d === SPACE || d === BACKSLASH || (escEquals && d === EQUALS)) {
        out += raw[i + 1];
        i++;
        continue;
      }
    }
    out += raw[i];
  }
  return out;
}

function fieldNumber(tok: string): number {
  const last = tok.charCodeAt(tok.length - 1);
  if (last === 105 /* i */) {
    const d = tok.slice(0, -1);
    if (!INT_RE.test(d)) throw new LineSyntaxError(`invalid integer field value ${JSON.stringify(tok)}`);
    const neg = d.charCodeAt(0) === 45;
    if (!digitsAtMost(neg ? d.slice(1) : d, neg ? INT64_MIN_ABS : INT64_MAX)) throw new LineSyntaxError(`integer ${tok} is out of the int64 range`);
    return Number(d);
  }
  if (last === 117 /* u */) {
    const d = tok.slice(0, -1);
    if (!UINT_RE.test(d)) throw new LineSyntaxError(`invalid unsigned field value ${JSON.stringify(tok)}`);
    if (!digitsAtMost(d, UINT64_MAX)) throw new LineSyntaxError(`unsigned ${tok} is out of the uint64 range`);
    return Number(d);
  }
  switch (tok) {
    case 't':
    case 'T':
    case 'true':
    case 'True':
    case 'TRUE':
      return 1;
    case 'f':
    case 'F':
    case 'false':
    case 'False':
    case 'FALSE':
      return 0;
  }
  if (!FLOAT_RE.test(tok)) throw new LineSyntaxError(tok.length === 0 ? 'missing field value' : `invalid field value ${JSON.stringify(tok.slice(0, 40))}`);
  return Number(tok);
}

function timestampMillis(tok: string, precision: Precision): number {
  if (!INT_RE.test(tok)) throw new LineSyntaxError(`invalid timestamp ${JSON.stringify(tok.slice(0, 40))}`);
  const neg = tok.charCodeAt(0) === 45;
  const d = neg ? tok.slice(1) : tok;
  if (!digitsAtMost(d, neg ? INT64_MIN_ABS : INT64_MAX)) throw new LineSyntaxError(`timestamp ${tok} is out of the int64 range`);
  let ms: number;
  switch (precision) {
    case 'ns':
      ms = d.length > 6 ? Number(d.slice(0, -6)) : 0;
      break;
    case 'us':
      ms = d.length > 3 ? Number(d.slice(0, -3)) : 0;
      break;
    case 'ms':
      ms = Number(d);
      break;
    case 's':
      ms = Number(d) * 1000;
      break;
    case 'm':
      ms = Number(d) * 60_000;
      break;
    default:
      ms = Number(d) * 3_600_000;
  }
  return neg ? -ms : ms;
}

/** Parses one line at `p.i` into the scratch arrays; returns the field count and sets `p.i` at the newline. */
function parseLine(p: Parser, precision: Precision, nowMs: number): { measurement: string; tagCount: number; fields: number; t: number } {
  const measurement = p.token('measurement', false, false, false);
  let tagCount = 0;
  while (p.i < p.n && p.s.charCodeAt(p.i) === COMMA) {
    p.i++;
    const key = p.token('tag key', true, true, false);
    if (p.s.charCodeAt(p.i) !== EQUALS) throw new LineSyntaxError(`tag key ${JSON.stringify(key)} has no '=value'`);
    p.i++;
    tags[tagCount++] = key;
    tags[tagCount++] = p.token('tag value', false, true, true);
  }
  if (p.i >= p.n || p.s.charCodeAt(p.i) !== SPACE) throw new LineSyntaxError('missing fields (expected a space after the measurement and tags)');
  p.skipSpaces();
  if (p.atLineEnd()) throw new LineSyntaxError('missing fields');
  let fields = 0;
  for (;;) {
    const key = p.token('field key', true, true, false);
    if (p.s.charCodeAt(p.i) !== EQUALS) throw new LineSyntaxError(`field key ${JSON.stringify(key)} has no '=value'`);
    p.i++;
    fieldKeys[fields] = key;
    if (p.i < p.n && p.s.charCodeAt(p.i) === QUOTE) {
      p.skipQuoted();
      fieldIsString[fields] = true;
      fieldValues[fields] = NaN;
    } else {
      fieldIsString[fields] = false;
      fieldValues[fields] = fieldNumber(p.bare());
    }
    fields++;
    if (p.i < p.n && p.s.charCodeAt(p.i) === COMMA) {
      p.i++;
      continue;
    }
    break;
  }
  let t = nowMs;
  if (!p.atLineEnd()) {
    const c = p.s.charCodeAt(p.i - 1);
    if (c !== SPACE) throw new LineSyntaxError(`unexpected ${JSON.stringify(p.s[p.i])} after field value`);
    t = timestampMillis(p.bare(), precision);
    if (!p.atLineEnd()) throw new LineSyntaxError('unexpected text after the timestamp');
  }
  return { measurement, tagCount, fields, t };
}

function precisionOf(raw: string | undefined): Precision {
  if (raw === undefined || raw === '') return 'ns';
  const p = Object.hasOwn(PRECISIONS, raw) ? PRECISIONS[raw] : undefined;
  if (p === undefined) throw new TidemarkError('TM_ERR_INPUT', `unknown precision ${JSON.stringify(raw)}; valid: ns, us, ms, s, m, h`, 'precision');
  return p;
}

/**
 * Decodes an InfluxDB line-protocol body into `sink`. Throws `TidemarkError` only for a bad
 * `precision`; every problem inside the body is counted per line or per field.
 *
 * @example decodeLineProtocol(maybeGunzip(body, enc), batch, { precision: query.precision })
 */
export function decodeLineProtocol(body: Uint8Array | string, sink: SampleSink, options: LineProtocolOptions = {}): void {
  const precision = precisionOf(options.precision);
  const text = typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  const p = new Parser(text);
  const labels: string[] = [];
  while (p.i < p.n) {
    // Start of a line: skip indentation, blank lines and comments.
    while (p.i < p.n) {
      const c = p.s.charCodeAt(p.i);
      if (c !== SPACE && c !== TAB && c !== CR) break;
      p.i++;
    }
    if (p.i >= p.n) break;
    const first = p.s.charCodeAt(p.i);
    const lineNo = p.line;
    if (first === NL || first === HASH) {
      const nl = p.s.indexOf('\n', p.i);
      p.i = nl < 0 ? p.n : nl + 1;
      p.line++;
      continue;
    }
    sink.where('', -1, lineNo);
    try {
      const { measurement, tagCount, fields, t } = parseLine(p, precision, sink.nowMs);
      emitLine(sink, measurement, tagCount, fields, t, labels);
    } catch (e) {
      if (!(e instanceof LineSyntaxError)) throw e;
      sink.where('', -1, lineNo);
      sink.reject('malformed_line', '', e.problem);
    }
    // Move past the end of the line (after an error, whatever is left of it).
    const nl = p.s.indexOf('\n', p.i);
    p.i = nl < 0 ? p.n : nl + 1;
    p.line++;
  }
}

function emitLine(sink: SampleSink, measurement: string, tagCount: number, fields: number, t: number, labels: string[]): void {
  let n = 0;
  for (let i = 0; i < tagCount; i += 2) {
    const name = telegrafName(tags[i], false);
    if (name.length === 0) continue; // Telegraf drops tags whose key has no valid character
    labels[n++] = name;
    labels[n++] = tags[i + 1];
  }
  for (let f = 0; f < fields; f++) {
    const key = fieldKeys[f];
    if (fieldIsString[f]) {
      sink.reject('non_numeric_value', `field ${JSON.stringify(key)}`, 'string fields are skipped: only numbers and booleans become samples');
      continue;
    }
    const raw = measurement === 'prometheus' ? key : measurement + '_' + key;
    const name = telegrafName(raw, true);
    if (name.length === 0) {
      sink.reject('missing_metric_name', `field ${JSON.stringify(key)}`, `${JSON.stringify(raw)} has no characters usable in a metric name`);
      continue;
    }
    const s = sink.openSeries(name, labels, n, 'unknown', 1);
    if (s >= 0) sink.addSample(s, t, fieldValues[f]);
  }
}
