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
});
