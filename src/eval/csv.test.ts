import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TidemarkError } from '../errors.ts';
import { columnIndex, parseCsv } from './csv.ts';
import { mulberry32 } from './synth.ts';
import { parseTimestamp } from './time.ts';

test('parseCsv', () => {
  const cases: [string, string, string[], string[][], number[]][] = [
    ['plain', 'a,b\n1,2\n3,4\n', ['a', 'b'], [['1', '2'], ['3', '4']], [2, 3]],
    ['CRLF, BOM, blank lines, no final newline', '\ufeffa,b\r\n\r\n1,2\r\n\n3,4', ['a', 'b'], [['1', '2'], ['3', '4']], [3, 5]],
    ['quoted fields with commas and quotes', 'a,b\n"x,y","say ""hi"""\n', ['a', 'b'], [['x,y', 'say "hi"']], [2]],
    ['header cells are trimmed', ' a , b \n1,2\n', ['a', 'b'], [['1', '2']], [2]],
  ];
  for (const [name, text, header, rows, lines] of cases) {
    const t = parseCsv(text, 'x.csv');
    assert.deepEqual([t.header, t.rows, t.lines], [header, rows, lines], name);
  }
  assert.throws(() => parseCsv('\n\n', 'x.csv'), { code: 'TM_ERR_INPUT', message: 'x.csv: empty file: expected a header line' });
  assert.throws(() => parseCsv('a\n"open\n', 'x.csv'), { code: 'TM_ERR_INPUT', message: 'x.csv:2: unterminated quoted field' });
});

test('columnIndex: exact name first, then any case; a missing column lists what was found', () => {
  assert.equal(columnIndex(parseCsv('Timestamp,Value\n1,2\n', 'x.csv'), 'value', 'x.csv'), 1);
  assert.equal(columnIndex(parseCsv('VALUE,value\n1,2\n', 'x.csv'), 'value', 'x.csv'), 1);
  assert.throws(() => columnIndex(parseCsv('time,val\n1,2\n', 'x.csv'), 'value', 'x.csv'), { code: 'TM_ERR_INPUT', message: "x.csv: missing column 'value' (found: time, val)" });
});

test('fuzz: the CSV and timestamp parsers fail only with TidemarkError / NaN', () => {
  const rnd = mulberry32(99);
  const alphabet = ['a', '1', '9', ',', '"', '\n', '\r', ' ', '-', ':', '.', 'T', 'Z', '+', '\ufeff', 'é'];
  for (let k = 0; k < 2000; k++) {
    let s = '';
    const len = Math.floor(rnd() * 40);
    for (let i = 0; i < len; i++) s += alphabet[Math.floor(rnd() * alphabet.length)];
    try {
      const t = parseCsv(s, 'f.csv');
      assert.ok(t.rows.length === t.lines.length);
    } catch (err) {
      assert.ok(err instanceof TidemarkError && err.code === 'TM_ERR_INPUT', JSON.stringify(s));
    }
    const ts = parseTimestamp(s);
    assert.equal(typeof ts, 'number');
  }
});
