import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PointBuffer } from './sample-head.ts';

describe('sample head', () => {
  it('lists the distinct series of a buffer ascending, dense and sparse ids alike', () => {
    const b = new PointBuffer(1, 4);
    const ids = [70_000, 3, 2 ** 24 + 5, 3, 1, 2 ** 30, 70_000, 2 ** 24 + 5, 999];
    ids.forEach((id, i) => b.push(id, 1000 + i, [i], 0));
    assert.equal(b.seriesCount, 6);
    assert.deepEqual([...b.seriesIds()], [1, 3, 999, 70_000, 2 ** 24 + 5, 2 ** 30]);
    // Dead points still name their series (a flush skips them per point).
    b.kill(0, b.length);
    assert.deepEqual([...b.seriesIds()], [1, 3, 999, 70_000, 2 ** 24 + 5, 2 ** 30]);
    assert.deepEqual([...new PointBuffer(4).seriesIds()], []);
  });

  it('gives each series its points in time order, the later append winning a repeated time', () => {
    const b = new PointBuffer(1, 2);
    for (const [sid, t, v] of [[7, 30, 1], [8, 10, 2], [7, 10, 3], [7, 20, 4], [7, 10, 5]]) b.push(sid, t, [v], 0);
    const idx = b.pointsOf(7);
    assert.deepEqual([...idx].map((i) => [b.t[i], b.vals[i]]), [[10, 5], [20, 4], [30, 1]]);
  });

  it('skips dead points, into a scratch array when they fit and a fresh one when not', () => {
    const b = new PointBuffer(1, 2);
    for (let k = 0; k < 6; k++) b.push(5, 100 + k, [k], 0);
    assert.deepEqual([...b.pointsOf(5)].map((i) => b.t[i]), [100, 101, 102, 103, 104, 105]);
    b.kill(1, 3);
    const big = new Int32Array(8);
    const fit = b.pointsOf(5, big);
    assert.equal(fit.buffer, big.buffer);
    assert.deepEqual([...fit].map((i) => b.t[i]), [100, 103, 104, 105]);
    const small = new Int32Array(2);
    const fresh = b.pointsOf(5, small);
    assert.notEqual(fresh.buffer, small.buffer);
    assert.deepEqual([...fresh].map((i) => b.t[i]), [100, 103, 104, 105]);
  });
});
