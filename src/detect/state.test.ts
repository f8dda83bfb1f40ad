import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createDetectorSet } from './fusion.ts';
import { restoreState, snapshotState, stateBytes } from './state.ts';
import { seasonal } from './testkit.ts';
import { newFusedVerdict } from './types.ts';

describe('snapshotState / restoreState', () => {
  it('round-trips what JSON cannot carry: typed arrays, NaN, infinities, -0', () => {
    const f32 = new Float32Array([1.5, NaN, -Infinity]);
    const state = { a: [1, NaN, Infinity, -Infinity, -0, 0.1], b: new Float64Array([Math.PI, NaN]), c: f32, d: new Uint8Array([0, 255]), e: null, g: { h: [new Int32Array([-7])] } };
    const back = restoreState(JSON.parse(JSON.stringify(snapshotState(state)))) as typeof state;
    assert.ok(Object.is(back.a[1], NaN) && back.a[2] === Infinity && back.a[3] === -Infinity && Object.is(back.a[4], -0));
    assert.ok(back.b instanceof Float64Array && back.b[0] === Math.PI && Number.isNaN(back.b[1]));
    assert.ok(back.c instanceof Float32Array && Number.isNaN(back.c[1]) && back.c[2] === -Infinity);
    assert.deepEqual([...back.d], [0, 255]);
    assert.ok(back.d instanceof Uint8Array);
    assert.equal(back.e, null);
    assert.deepEqual([...back.g.h[0]], [-7]);
    assert.notEqual(back.c.buffer, f32.buffer);
  });

  it('accepts the JSON text as well', () => {
    assert.deepEqual(restoreState(JSON.stringify(snapshotState({ x: [1, 2] }))), { x: [1, 2] });
  });

  const corrupt = [
    { name: 'not JSON', input: '{nope', message: /^checkpoint: not JSON/ },
    { name: 'not a checkpoint', input: { state: 1 }, message: /^checkpoint: not a detector checkpoint/ },
    { name: 'another version', input: { tidemark_state: 99, state: 1 }, message: /^checkpoint: checkpoint version 99 is not supported \(this build reads version 1\)$/ },
    { name: 'an unknown encoding', input: { tidemark_state: 1, state: [{ $f16: 'AAAA' }] }, message: /^state\[0\]: unknown encoding '\$f16'$/ },
    { name: 'a torn typed array', input: { tidemark_state: 1, state: { $f64: 'AAAA' } }, message: /^state: '\$f64' holds 3 bytes, not a whole number of elements$/ },
  ];
  for (const c of corrupt) {
    it(`rejects ${c.name} with TM_ERR_STATE`, () => {
      assert.throws(() => restoreState(c.input), (err: Error & { code?: string }) => err.code === 'TM_ERR_STATE' && c.message.test(err.message));
    });
  }

  it('refuses state that is not plain data', () => {
    assert.throws(() => snapshotState({ m: new Map() }), { code: 'TM_ERR_STATE', message: 'state.m: a Map object is not plain data' });
    assert.throws(() => snapshotState({ f: () => 1 }), { code: 'TM_ERR_STATE' });
  });
});

describe('stateBytes', () => {
  it('counts typed arrays by size plus overhead, number arrays at 8 bytes an element', () => {
    assert.equal(stateBytes(new Float32Array(100)), 400 + 200);
    assert.equal(stateBytes([1, 2, 3]), 32 + 24);
    assert.equal(stateBytes(null), 0);
    assert.equal(stateBytes({ a: [1] }), 24 + 8 + 32 + 8);
  });

  it('the default profile with daily and weekly tables stays under 4 KB per series', () => {
    const set = createDetectorSet();
    const st = set.init();
    const s = seasonal({ days: 8, seed: 71 });
    const out = newFusedVerdict();
    for (let i = 0; i < s.v.length; i++) set.update(st, s.t[i], s.v[i], out);
    const bytes = stateBytes(st);
    assert.ok(bytes > 2000 && bytes < 4096, `${bytes} bytes`);
    assert.equal(stateBytes(restoreState(JSON.stringify(snapshotState(st)))), bytes);
  });
});
