import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkRegex, compileSelector, parseSelector, type LabelMatcher } from './selector.ts';

const VALID: Array<{ name: string; text: string; metric: string; matchers: LabelMatcher[]; canonical: string }> = [
  { name: 'bare name', text: 'up', metric: 'up', matchers: [], canonical: 'up' },
  { name: 'colons in name', text: 'job:http_requests:rate5m', metric: 'job:http_requests:rate5m', matchers: [], canonical: 'job:http_requests:rate5m' },
  { name: 'empty braces', text: 'up{}', metric: 'up', matchers: [], canonical: 'up' },
  {
    name: 'all four operators, spaces, trailing comma',
    text: ' http_requests_total { a = "x" , b=~"y.*",c!="z", d !~ "w|v", } ',
    metric: 'http_requests_total',
    matchers: [
      { label: 'a', op: '=', value: 'x' },
      { label: 'b', op: '=~', value: 'y.*' },
      { label: 'c', op: '!=', value: 'z' },
      { label: 'd', op: '!~', value: 'w|v' },
    ],
    canonical: 'http_requests_total{a="x",b=~"y.*",c!="z",d!~"w|v"}',
  },
  {
    name: 'single quotes, raw strings and escapes',
    text: String.raw`m{a='it\'s',b=` + '`C:\\path`' + String.raw`,c="tab\there",d="\x41\u00e9\101",e="q\"q"}`,
    metric: 'm',
    matchers: [
      { label: 'a', op: '=', value: "it's" },
      { label: 'b', op: '=', value: 'C:\\path' },
      { label: 'c', op: '=', value: 'tab\there' },
      { label: 'd', op: '=', value: 'AéA' },
      { label: 'e', op: '=', value: 'q"q' },
    ],
    canonical: String.raw`m{a="it's",b="C:\\path",c="tab\there",d="AéA",e="q\"q"}`,
  },
  { name: 'empty value', text: 'up{job=""}', metric: 'up', matchers: [{ label: 'job', op: '=', value: '' }], canonical: 'up{job=""}' },
];

for (const c of VALID) {
  test(`parses ${c.name}`, () => {
    const r = parseSelector(c.text);
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.selector.metric, c.metric);
    assert.deepEqual(r.selector.matchers, c.matchers);
    assert.equal(r.selector.text, c.canonical);
    // The canonical text parses back to the same selector.
    const again = parseSelector(r.selector.text);
    assert.ok(again.ok);
    assert.deepEqual(again.selector, r.selector);
  });
}

const INVALID: Array<[string, string, number, string]> = [
  ['empty', '', 1, 'expected a metric name, found end of selector'],
  ['no metric name', '{job="x"}', 1, "expected a metric name, found '{' at column 1"],
  ['name starting with a digit', '9up', 1, "expected a metric name, found '9' at column 1"],
  ['unclosed braces', 'up{job="x"', 11, "expected ',' or '}', found end of selector"],
  ['missing value', 'up{job=}', 8, "expected a quoted label value, found '}' at column 8"],
  ['unquoted value', 'up{job=api}', 8, "expected a quoted label value, found 'a' at column 8"],
  ['bad operator', 'up{job=="x"}', 8, "expected a quoted label value, found '=' at column 8"],
  ['no operator', 'up{job "x"}', 8, "expected one of =, !=, =~, !~ after label 'job', found '\"' at column 8"],
  ['missing comma', 'up{a="x" b="y"}', 10, "expected ',' or '}', found 'b' at column 10"],
  ['label starting with digit', 'up{1a="x"}', 4, "expected a label name, found '1' at column 4"],
  ['reserved label', 'up{__name__="x"}', 4, "label names starting with '__' are reserved (__name__): give the metric name before the braces instead"],
  ['unterminated string', 'up{a="x}', 6, 'unterminated quoted string starting at column 6'],
  ['unknown escape', 'up{a="\\d"}', 7, "unknown escape sequence '\\d'"],
  ['bad hex escape', 'up{a="\\xZZ"}', 8, "invalid escape '\\xZZ'"],
  ['trailing garbage', 'up{a="x"} or vector(1)', 11, "expected the end of the selector, found 'o' at column 11"],
  ['space in name', 'http requests', 6, "expected '{' or the end of the selector, found 'r' at column 6"],
  ['bad regex', 'up{a=~"("}', 7, "invalid regular expression for label 'a': Unterminated group"],
  ['lookahead', 'up{a=~"(?!x).*"}', 7, "invalid regular expression for label 'a': lookaround assertions are not supported (RE2 syntax)"],
  ['backreference', 'up{a=~"(a)\\\\1"}', 7, "invalid regular expression for label 'a': backreferences are not supported (RE2 syntax)"],
];

for (const [name, text, column, message] of INVALID) {
  test(`rejects ${name}: ${text}`, () => {
    const r = parseSelector(text);
    assert.deepEqual(r, { ok: false, error: { column, message } });
  });
}

test('checkRegex accepts RE2-compatible patterns', () => {
  for (const re of ['5..', 'a|b', '[a-z]+', '(?:x)?', '.*', '\\d+']) assert.equal(checkRegex(re), undefined, re);
});

const MATCHES: Array<[string, Record<string, string>, boolean]> = [
  ['up', {}, true],
  ['up{job="api"}', { job: 'api' }, true],
  ['up{job="api"}', { job: 'web' }, false],
  ['up{job=""}', {}, true], // a missing label is the empty string
  ['up{job!=""}', {}, false],
  ['up{job=~"api|web"}', { job: 'web' }, true],
  ['up{job=~"api"}', { job: 'api2' }, false], // regexes are fully anchored
  ['up{job!~"test.*"}', { job: 'test-1' }, false],
  ['up{job!~"test.*"}', { job: 'prod' }, true],
  ['up{a="1",b=~"x.*"}', { a: '1', b: 'xyz' }, true],
  ['up{a="1",b=~"x.*"}', { a: '1', b: 'yz' }, false],
  ['up{toString=""}', {}, true], // object prototype keys are not labels
];

for (const [text, labels, expected] of MATCHES) {
  test(`${text} ${expected ? 'matches' : 'does not match'} ${JSON.stringify(labels)}`, () => {
    const r = parseSelector(text);
    assert.ok(r.ok);
    assert.equal(compileSelector(r.selector)('up', labels), expected);
  });
}

test('a selector never matches another metric', () => {
  const r = parseSelector('up');
  assert.ok(r.ok);
  assert.equal(compileSelector(r.selector)('down', {}), false);
});

test('random input never throws and errors point inside the text', () => {
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const alphabet = 'ab_:{}=!~"\'`\\,. 5x(?)|*';
  for (let i = 0; i < 3000; i++) {
    let s = '';
    const n = Math.floor(rnd() * 24);
    for (let j = 0; j < n; j++) s += alphabet[Math.floor(rnd() * alphabet.length)];
    const r = parseSelector(s);
    if (!r.ok) {
      assert.ok(r.error.column >= 1 && r.error.column <= s.length + 1, `${s}: ${JSON.stringify(r.error)}`);
      assert.ok(r.error.message.length > 0);
    } else {
      const again = parseSelector(r.selector.text);
      assert.ok(again.ok && again.selector.text === r.selector.text, s);
    }
  }
});
