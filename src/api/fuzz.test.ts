// Bad input through the HTTP routes: mutated valid payloads and random bytes for remote_write,
// OTLP (protobuf and JSON), line protocol and the JSON batch. The app never answers 5xx, every
// 4xx carries the error catalogue's JSON body, and it keeps serving afterwards. Bounded and
// seeded; `scripts/fuzz-ingest.ts` runs the decoders alone for longer.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FUZZ_NOW, fuzzInput, fuzzSeeds, rng, type FuzzTarget } from '../ingest/testkit.ts';
import { openTestService, type TestService } from './testkit.ts';

const ITERATIONS = 150; // per target

let svc: TestService;
before(async () => {
  svc = await openTestService({ clock: () => FUZZ_NOW });
});
after(async () => svc.close());

const ROUTES: { target: FuzzTarget; url: string; type: string; encoding?: string }[] = [
  { target: 'remoteWriteSnappy', url: '/api/v1/write', type: 'application/x-protobuf', encoding: 'snappy' },
  { target: 'otlp', url: '/v1/metrics', type: 'application/x-protobuf' },
  { target: 'otlpJson', url: '/v1/metrics', type: 'application/json' },
  { target: 'lineProtocol', url: '/api/v2/write', type: 'text/plain' },
  { target: 'jsonBatch', url: '/api/v1/samples', type: 'application/json' },
];

describe('fuzzing the ingest routes', () => {
  for (const route of ROUTES) {
    it(`${route.url} (${route.target}) answers 2xx or a catalogued 4xx, never 5xx`, async () => {
      const r = rng(0x7d3 + route.target.length);
      const seeds = fuzzSeeds(r);
      const statuses = new Map<number, number>();
      for (let i = 0; i < ITERATIONS; i++) {
        const body = Buffer.from(fuzzInput(r, route.target, seeds));
        const res = await svc.app.inject({
          method: 'POST',
          url: route.url,
          headers: { authorization: `Bearer ${svc.tokens.default.write}`, 'content-type': route.type, ...(route.encoding && { 'content-encoding': route.encoding }) },
          payload: body,
        });
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        assert.ok(res.statusCode < 500, `iteration ${i}: ${res.statusCode} ${res.body.slice(0, 300)} for ${body.toString('base64').slice(0, 200)}`);
        if (res.statusCode >= 400) {
          const err = res.json().error;
          assert.match(err.code, /^TM_ERR_[A-Z_]+$/, res.body);
          assert.equal(typeof err.message, 'string');
        }
      }
      assert.ok((statuses.get(400) ?? 0) > 0, `some inputs must be refused: ${JSON.stringify([...statuses])}`);
      const health = await svc.app.inject({ method: 'GET', url: '/healthz' });
      assert.equal(health.statusCode, 200);
    });
  }
});
