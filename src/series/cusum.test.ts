import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, doubles } from './prng.ts';
import { CUSUM_SIZE, cusumDown, cusumInit, cusumPush, cusumUp } from './cusum.ts';

describe('two-sided CUSUM', () => {
  it('matches the textbook recursion on random input', () => {
    const r = new Rng(3);
    const f = doubles(CUSUM_SIZE);
    cusumInit(f, 0);
    let up = 0;
    let down = 0;
    for (let i = 0; i < 500; i++) {
      const z = r.normal() + (i > 250 ? 0.8 : 0);
      cusumPush(f, 0, z, 0.5, 20);
      up = Math.min(20, Math.max(0, up + z - 0.5));
      down = Math.min(20, Math.max(0, down - z - 0.5));
      assert.equal(cusumUp(f, 0), up);
      assert.equal(cusumDown(f, 0), down);
    }
  });

  it('accumulates a sustained one-sigma shift well past h = 5 within 20 points', () => {
    const f = doubles(CUSUM_SIZE);
    cusumInit(f, 0);
    for (let i = 0; i < 20; i++) cusumPush(f, 0, 1, 0.5, 50);
    assert.equal(cusumUp(f, 0), 10);
    assert.equal(cusumDown(f, 0), 0);
  });
});
