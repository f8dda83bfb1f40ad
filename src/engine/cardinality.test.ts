import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValueCounts } from './cardinality.ts';

describe('ValueCounts', () => {
  it('counts like a Map under random adds and removes (growth and backward-shift deletes)', () => {
    const counts = new ValueCounts();
    const ref = new Map<string, number>();
    let seed = 12345;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    for (let step = 0; step < 60_000; step++) {
      const v = `pod-${Math.floor(rnd() * 3000)}`;
      if (rnd() < 0.6) {
        counts.add(v);
        ref.set(v, (ref.get(v) ?? 0) + 1);
      } else {
        counts.remove(v);
        const n = (ref.get(v) ?? 0) - 1;
        if (n > 0) ref.set(v, n);
        else ref.delete(v);
      }
      if (step % 5000 === 0) for (const [k, n] of ref) assert.equal(counts.count(k), n, k);
    }
    assert.equal(counts.size, ref.size);
    for (let i = 0; i < 3000; i++) assert.equal(counts.count(`pod-${i}`), ref.get(`pod-${i}`) ?? 0);
    for (const [k, n] of ref) for (let i = 0; i < n; i++) counts.remove(k);
    assert.equal(counts.size, 0);
    assert.equal(counts.has('pod-1'), false);
  });

  it('tells apart values that differ in one character, empty and non-ASCII ones', () => {
    const c = new ValueCounts();
    for (const v of ['', 'a', 'b', 'ab', 'ba', 'é', 'e\u0301', '10.0.0.1:9100', '10.0.0.1:9101']) c.add(v);
    assert.equal(c.size, 9);
    c.add('a');
    assert.equal(c.count('a'), 2);
    c.remove('ab');
    assert.equal(c.has('ab'), false);
    assert.equal(c.has('ba'), true);
    c.remove('missing');
    assert.equal(c.size, 8);
  });
});
