import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TidemarkError } from '../errors.ts';
import { IngestBatch } from './batch.ts';
import { decodeJsonBatch } from './json-batch.ts';
import type { RejectReason } from './types.ts';

const NOW = 1_700_000_000_000;

function decode(samples: unknown[]): IngestBatch {
  const b = new IngestBatch({ now: () => NOW });
  decodeJsonBatch(JSON.stringify({ samples }), b);
  return b;
}

const good = { metric: 'http_requests_total', labels: { service: 'auth', code: '200' }, t: NOW, value: 12.5 };

describe('JSON batch', () => {
  it('decodes samples into series with sorted labels', () => {
    const b = decode([good, { metric: 'up', t: NOW - 1000, value: 1 }, { ...good, value: 13 }]);
    assert.deepEqual(
      b.toSamples().map((s) => [s.key, s.t, s.value]),
      [
        ['http_requests_total{code="200",service="auth"}', NOW, 12.5],
        ['up', NOW - 1000, 1],
        ['http_requests_total{code="200",service="auth"}', NOW, 13],
      ],
    );
    assert.equal(b.seriesCount, 2);
    assert.equal(b.rejectedTotal, 0);
  });

  const rejects: { name: string; sample: unknown; reason: RejectReason; field: string; problem: RegExp }[] = [
    { name: 'a sample that is not an object', sample: 42, reason: 'malformed_sample', field: 'samples[1]', problem: /must be an object, got number 42/ },
    { name: 'a missing metric', sample: { t: NOW, value: 1 }, reason: 'missing_metric_name', field: 'samples[1].metric', problem: /missing or empty/ },
    { name: 'a metric that is not a string', sample: { metric: 7, t: NOW, value: 1 }, reason: 'invalid_metric_name', field: 'samples[1].metric', problem: /must be a string/ },
    { name: 'a metric with a dash', sample: { metric: 'http-requests', t: NOW, value: 1 }, reason: 'invalid_metric_name', field: 'samples[1].metric', problem: /"http-requests" is not a valid metric name/ },
    { name: 'labels as an array', sample: { metric: 'm', labels: ['a'], t: NOW, value: 1 }, reason: 'malformed_sample', field: 'samples[1].labels', problem: /must be an object of strings, got an array/ },
    { name: 'a label value that is a number', sample: { metric: 'm', labels: { code: 200 }, t: NOW, value: 1 }, reason: 'invalid_label_value', field: 'samples[1].labels.code', problem: /must be strings, got number 200/ },
    { name: 'a label name with a dot', sample: { metric: 'm', labels: { 'service.name': 'a' }, t: NOW, value: 1 }, reason: 'invalid_label_name', field: 'samples[1].labels', problem: /"service\.name" is not a valid label name/ },
    { name: 'a missing t', sample: { metric: 'm', value: 1 }, reason: 'invalid_timestamp', field: 'samples[1].t', problem: /"t" field \(ms since the epoch\) is missing/ },
    { name: 't as a string', sample: { metric: 'm', t: String(NOW), value: 1 }, reason: 'invalid_timestamp', field: 'samples[1].t', problem: /must be a number of ms/ },
    { name: 'a fractional t', sample: { metric: 'm', t: NOW + 0.5, value: 1 }, reason: 'invalid_timestamp', field: 'samples[1].timestamp', problem: /not a valid timestamp/ },
    { name: 't in seconds from the future', sample: { metric: 'm', t: NOW + 3_600_000, value: 1 }, reason: 'timestamp_too_far_in_future', field: 'samples[1].timestamp', problem: /ahead of now/ },
    { name: 'a missing value', sample: { metric: 'm', t: NOW }, reason: 'non_numeric_value', field: 'samples[1].value', problem: /"value" field is missing/ },
    { name: 'a value as a string', sample: { metric: 'm', t: NOW, value: '1.5' }, reason: 'non_numeric_value', field: 'samples[1].value', problem: /got the string "1\.5"/ },
    { name: 'a null value', sample: { metric: 'm', t: NOW, value: null }, reason: 'non_numeric_value', field: 'samples[1].value', problem: /got null/ },
    { name: 'a boolean value', sample: { metric: 'm', t: NOW, value: true }, reason: 'non_numeric_value', field: 'samples[1].value', problem: /got boolean true/ },
  ];
  for (const c of rejects) {
    it(`rejects ${c.name} and keeps its neighbours`, () => {
      const b = decode([good, c.sample, good]);
      assert.equal(b.length, 2);
      const r = b.rejected.get(c.reason);
      assert.equal(r?.count, 1, `expected ${c.reason}, got ${[...b.rejected.keys()].join(', ')}`);
      assert.equal(r?.examples[0].field, c.field);
      assert.match(r?.examples[0].problem ?? '', c.problem);
    });
  }

  it('rejects a value that overflows to Infinity', () => {
    const b = new IngestBatch({ now: () => NOW });
    decodeJsonBatch(`{"samples":[{"metric":"m","t":${NOW},"value":1e400}]}`, b);
    assert.equal(b.rejected.get('invalid_value')?.count, 1);
  });

  it('keeps a label called __proto__ as a plain label', () => {
    const b = new IngestBatch({ now: () => NOW });
    decodeJsonBatch(`{"samples":[{"metric":"m","labels":{"__proto__":"x"},"t":${NOW},"value":1}]}`, b);
    const s = b.toSamples()[0];
    assert.equal(s.key, 'm{__proto__="x"}');
    assert.deepEqual(Object.entries(s.labels), [['__proto__', 'x']]);
    assert.equal(Object.getPrototypeOf(s.labels), Object.prototype);
  });

  it('ignores unknown keys', () => {
    assert.equal(decode([{ ...good, unit: 'seconds' }]).length, 1);
  });

  const payloads: { name: string; body: string; message: RegExp }[] = [
    { name: 'invalid JSON', body: '{"samples": [', message: /not valid JSON/ },
    { name: 'no samples array', body: '{"sample": []}', message: /must be an object with a "samples" array/ },
    { name: 'a bare array', body: '[]', message: /"samples" array/ },
  ];
  for (const c of payloads) {
    it(`throws TM_ERR_INPUT for ${c.name}`, () => {
      assert.throws(
        () => decodeJsonBatch(c.body, new IngestBatch()),
        (e: unknown) => e instanceof TidemarkError && e.code === 'TM_ERR_INPUT' && c.message.test(e.message),
      );
    });
  }

  it('accepts bytes', () => {
    const b = new IngestBatch({ now: () => NOW });
    decodeJsonBatch(new TextEncoder().encode(JSON.stringify({ samples: [good] })), b);
    assert.equal(b.length, 1);
  });
});
