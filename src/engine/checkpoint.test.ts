import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { createDetectorSet, newFusedVerdict, restoreState, snapshotState } from '../detect/index.ts';
import { TidemarkError } from '../errors.ts';
import { BINARY_CHECKPOINT, decodeCheckpoint, encodeCheckpoint } from './checkpoint.ts';

const T0 = 1_700_000_000_000;

describe('binary checkpoints', () => {
  it('restore what the JSON snapshot restores, and the verdicts after it are identical', () => {
    const set = createDetectorSet();
    const state = set.init();
    const out = newFusedVerdict();
    // Two days of a noisy daily wave at 5-minute steps: every default detector past learning.
    let t = T0;
    for (let i = 0; i < 576; i++, t += 300_000) set.update(state, t, 100 + 20 * Math.sin(i / 45) + ((i * 7919) % 13), out);
    const blob = encodeCheckpoint(t - 300_000, JSON.stringify(set.entries), state);
    assert.equal(blob[0], BINARY_CHECKPOINT);
    const back = decodeCheckpoint(blob);
    assert.equal(back.lastT, t - 300_000);
    assert.equal(back.entries, JSON.stringify(set.entries));
    assert.deepEqual(back.state, restoreState(JSON.stringify(snapshotState(state))));
    const json = restoreState(JSON.stringify(snapshotState(state)));
    const a = newFusedVerdict();
    const b = newFusedVerdict();
    for (let i = 0; i < 200; i++, t += 300_000) {
      const v = i === 150 ? 400 : 100 + 20 * Math.sin(i / 45);
      set.update(back.state as unknown[], t, v, a);
      set.update(json as unknown[], t, v, b);
      assert.deepEqual({ ...a, reasons: [...a.reasons] }, { ...b, reasons: [...b.reasons] }, `point ${i}`);
    }
  });

  const cases: [string, unknown][] = [
    ['special numbers', { a: NaN, b: Infinity, c: -Infinity, d: -0, e: 1.5 }],
    ['typed arrays', { f64: Float64Array.of(1, NaN), f32: Float32Array.of(0.5), i32: Int32Array.of(-3), u8: Uint8Array.of(255), u16: Uint16Array.of(7), i8: Int8Array.of(-1) }],
    ['nesting, strings, booleans, null, empty arrays', [{ s: 'héllo', t: true, f: false, n: null, e: [], m: [1, 'x'] }, [[1, 2], []]]],
  ];
  for (const [title, state] of cases) {
    it(`round-trips ${title}`, () => {
      const back = decodeCheckpoint(encodeCheckpoint(-Infinity, '[]', state));
      assert.equal(back.lastT, -Infinity);
      assert.deepEqual(back.state, state);
      assert.deepEqual(back.state, restoreState(JSON.stringify(snapshotState(state))));
    });
  }

  it('number arrays come back packed and typed arrays aligned even from a slice', () => {
    const blob = encodeCheckpoint(1, '[]', { xs: [1, 2, 3], ys: Float64Array.of(4, 5) });
    const shifted = new Uint8Array(blob.length + 3);
    shifted.set(blob, 3);
    const { state } = decodeCheckpoint(shifted.subarray(3)) as { state: { xs: number[]; ys: Float64Array } };
    assert.deepEqual(state.xs, [1, 2, 3]);
    assert.ok(state.ys instanceof Float64Array && state.ys.byteOffset % 8 === 0);
    assert.deepEqual([...state.ys], [4, 5]);
  });

  const bad: [string, (b: Buffer) => Uint8Array][] = [
    ['truncated', (b) => b.subarray(0, b.length - 3)],
    ['trailing bytes', (b) => Buffer.concat([b, Buffer.from([0])])],
    ['unknown tag', (b) => Buffer.concat([b.subarray(0, b.length - 9), Buffer.from([99])])],
  ];
  for (const [title, damage] of bad) {
    it(`refuses a damaged checkpoint: ${title}`, () => {
      const blob = encodeCheckpoint(1, '[]', { x: 1 });
      assert.throws(() => decodeCheckpoint(damage(blob)), (err: unknown) => err instanceof TidemarkError && err.code === 'TM_ERR_STATE');
    });
  }

  it('leaves the number arrays of the states it encodes packed doubles, however often it runs', () => {
    // An optimized encoder once read every array through one `v[i]`, and V8 then moved the
    // double arrays it read to generic elements: each detector write boxed a number from then on.
    setFlagsFromString('--allow-natives-syntax');
    const hasDoubles = new Function('a', 'return %HasDoubleElements(a)') as (a: unknown) => boolean;
    // The default profile keeps a series' state in one Float64Array region (immune); sets of
    // other detectors keep an array of the detectors' own states, number arrays among them.
    const set = createDetectorSet([{ name: 'ewma' }, { name: 'cusum' }, { name: 'robust_z' }]);
    assert.ok(createDetectorSet().init() instanceof Float64Array, 'the default profile keeps one region a series');
    const out = newFusedVerdict();
    const states = Array.from({ length: 2000 }, () => set.init() as unknown[]);
    for (const st of states) for (let i = 0; i < 20; i++) set.update(st, T0 + i * 15_000, 100 + (i % 7) + 0.5, out);
    const doubleArrays = (st: unknown[]) => st.filter((x) => Array.isArray(x) && hasDoubles(x)).length;
    const before = doubleArrays(states[0]);
    assert.ok(before > 0, 'this set keeps number arrays');
    for (let pass = 0; pass < 10; pass++) for (const st of states) encodeCheckpoint(T0, '[]', st);
    assert.equal(doubleArrays(states[0]), before);
    assert.equal(doubleArrays(states[states.length - 1]), before);
    // Number arrays of any kind still encode as number runs and come back packed.
    const mixed = { smi: [1, 2, 3], dbl: [0.5, NaN, -0], tagged: [1, 2.5, 'x'].slice(0, 2) };
    assert.deepEqual(decodeCheckpoint(encodeCheckpoint(1, '[]', mixed)).state, { smi: [1, 2, 3], dbl: [0.5, NaN, -0], tagged: [1, 2.5] });
  });

  it('refuses what is not plain data', () => {
    assert.throws(() => encodeCheckpoint(1, '[]', { m: new Map() }), (err: unknown) => err instanceof TidemarkError && err.code === 'TM_ERR_STATE' && err.path === 'state.m');
  });
});
