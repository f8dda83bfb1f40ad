import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IngestBatch } from './batch.ts';
import type { FuzzTarget } from './testkit.ts';
import { FUZZ_NOW, FUZZ_TARGETS, fuzzCheck, fuzzInput, fuzzSeeds, rng } from './testkit.ts';

// Bounded, seeded fuzzing of every decoder: mutated valid payloads and random bytes must either
// decode into valid samples or throw a TidemarkError, quickly. `scripts/fuzz-ingest.ts` runs the
// same loop for as long as you like.
const ITERATIONS: Record<FuzzTarget, number> = {
  remoteWrite: 1500,
  remoteWriteSnappy: 600,
  otlp: 1500,
  otlpJson: 400,
  lineProtocol: 1500,
  jsonBatch: 400,
};

describe('ingest fuzzing', () => {
  for (const target of Object.keys(FUZZ_TARGETS) as FuzzTarget[]) {
    it(`${target}: ${ITERATIONS[target]} mutated inputs`, { timeout: 60_000 }, () => {
      const r = rng(1000 + target.length);
      const seeds = fuzzSeeds(rng(7));
      const batch = new IngestBatch({ now: () => FUZZ_NOW });
      let slowest = 0;
      let decoded = 0;
      for (let i = 0; i < ITERATIONS[target]; i++) {
        const input = fuzzInput(r, target, seeds);
        const t0 = performance.now();
        const problem = fuzzCheck(target, input, batch);
        slowest = Math.max(slowest, performance.now() - t0);
        assert.equal(problem, null, `iteration ${i}, input (base64) ${Buffer.from(input).toString('base64')}`);
        if (batch.length > 0) decoded++;
      }
      // Loops are bounded by the input length: no input of a few KB takes long.
      assert.ok(slowest < 250, `slowest input took ${slowest.toFixed(1)} ms`);
      // The mutations leave many inputs decodable, so the sample paths are exercised too.
      assert.ok(decoded > ITERATIONS[target] / 20, `only ${decoded} inputs decoded to samples`);
    });
  }
});
