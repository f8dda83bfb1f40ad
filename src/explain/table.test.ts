import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LeafTableBuilder, parseLeafCsv } from './table.ts';
import { TidemarkError } from '../errors.ts';

test('parseLeafCsv reads dimensions from the header and interns values', () => {
  const t = parseLeafCsv('real,predict,dc,svc\r\n1.5,2,eu,api\n0,0,us,api\n\n3,3,eu,web\n', 'x.csv');
  assert.deepEqual(t.dimensions, ['dc', 'svc']);
  assert.deepEqual(t.values, [['eu', 'us'], ['api', 'web']]);
  assert.deepEqual([...t.codes[0]], [0, 1, 0]);
  assert.deepEqual([...t.codes[1]], [0, 0, 1]);
  assert.deepEqual([...t.real], [1.5, 0, 3]);
  assert.deepEqual([...t.predict], [2, 0, 3]);
});

test('parseLeafCsv ignores a byte order mark', () => {
  const t = parseLeafCsv('\ufeffreal,predict,a\n1,1,x\n');
  assert.deepEqual(t.dimensions, ['a']);
});

const bad: { name: string; text: string; message: RegExp }[] = [
  { name: 'empty file', text: '', message: /empty file/ },
  { name: 'header without real,predict', text: 'predict,real,a\n1,1,x\n', message: /x\.csv:1: header must be real,predict/ },
  { name: 'header without dimensions', text: 'real,predict\n1,1\n', message: /header must be/ },
  { name: 'short row', text: 'real,predict,a,b\n1,1,x\n', message: /x\.csv:2: expected 4 fields, got 3/ },
  { name: 'non-numeric value', text: 'real,predict,a\n1,1,x\nabc,1,y\n', message: /x\.csv:3: real and predict must be finite numbers/ },
  { name: 'empty value', text: 'real,predict,a\n,1,x\n', message: /x\.csv:2/ },
];
for (const c of bad) {
  test(`parseLeafCsv rejects: ${c.name}`, () => {
    assert.throws(
      () => parseLeafCsv(c.text, 'x.csv'),
      (e: unknown) => e instanceof TidemarkError && e.code === 'TM_ERR_INPUT' && c.message.test(e.message),
    );
  });
}

test('LeafTableBuilder grows past its capacity and keeps codes stable', () => {
  const b = new LeafTableBuilder(['a', 'b'], 16);
  for (let i = 0; i < 100; i++) b.add([`a${i % 3}`, `b${i % 7}`], i, i + 1);
  const t = b.build();
  assert.equal(t.real.length, 100);
  assert.equal(t.values[0].length, 3);
  assert.equal(t.values[1].length, 7);
  assert.equal(t.values[1][t.codes[1][99]], `b${99 % 7}`);
  assert.equal(t.predict[99], 100);
});

test('LeafTableBuilder rejects duplicate dimensions and wrong arity', () => {
  assert.throws(() => new LeafTableBuilder(['a', 'a']), /unique/);
  assert.throws(() => new LeafTableBuilder([]), /at least one dimension/);
  const b = new LeafTableBuilder(['a', 'b']);
  assert.throws(() => b.add(['x'], 1, 1), /needs 2 dimension values, got 1/);
});
