import { TidemarkError } from '../errors.ts';
import type { SampleSink } from './types.ts';

/**
 * Tidemark's own JSON batch:
 *
 *   {"samples": [{"metric": "http_requests_total", "labels": {"service": "auth"}, "t": 1700000000000, "value": 12.5}]}
 *
 * `metric` must match `[a-zA-Z_:][a-zA-Z0-9_:]*`; `labels` (optional) is an object of string
 * values with names `[a-zA-Z_][a-zA-Z0-9_]*`; `t` is an integer number of ms since the epoch;
 * `value` is a finite number. Each sample is checked on its own and rejected with the field and
 * the problem; the others are kept. Unknown keys are ignored, so senders can add fields.
 */

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}

// Reused across samples: label pairs of the current sample.
const labels: string[] = [];

/**
 * Decodes a JSON batch into `sink`. Throws `TidemarkError` TM_ERR_INPUT when the body is not
 * JSON or has no `samples` array; problems with single samples are counted in the sink.
 *
 * @example decodeJsonBatch('{"samples":[{"metric":"up","t":1700000000000,"value":1}]}', batch)
 */
export function decodeJsonBatch(body: Uint8Array | string, sink: SampleSink): void {
  const text = typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new TidemarkError('TM_ERR_INPUT', `body is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!isObject(doc) || !Array.isArray(doc.samples)) {
    throw new TidemarkError('TM_ERR_INPUT', 'a JSON batch must be an object with a "samples" array: {"samples": [{"metric": …, "labels": {…}, "t": <ms>, "value": <number>}]}', 'samples');
  }
  const samples = doc.samples;
  for (let i = 0; i < samples.length; i++) {
    sink.where('samples', i);
    const s = samples[i];
    if (!isObject(s)) {
      sink.reject('malformed_sample', '', `a sample must be an object, got ${describe(s)}`);
      continue;
    }
    const metric = s.metric;
    if (metric === undefined || metric === '') {
      sink.reject('missing_metric_name', 'metric', 'the "metric" field is missing or empty');
      continue;
    }
    if (typeof metric !== 'string') {
      sink.reject('invalid_metric_name', 'metric', `"metric" must be a string, got ${describe(metric)}`);
      continue;
    }
    let n = 0;
    const ls = s.labels;
    if (ls !== undefined) {
      if (!isObject(ls)) {
        sink.reject('malformed_sample', 'labels', `"labels" must be an object of strings, got ${describe(ls)}`);
        continue;
      }
      let bad = '';
      for (const name in ls) {
        const v = ls[name];
        if (typeof v !== 'string') {
          bad = name;
          break;
        }
        labels[n++] = name;
        labels[n++] = v;
      }
      if (bad !== '') {
        sink.reject('invalid_label_value', 'labels.' + bad, `label values must be strings, got ${describe(ls[bad])}`);
        continue;
      }
    }
    const t = s.t;
    const value = s.value;
    if (typeof t !== 'number') {
      sink.reject('invalid_timestamp', 't', t === undefined ? 'the "t" field (ms since the epoch) is missing' : `"t" must be a number of ms since the epoch, got ${describe(t)}`);
      continue;
    }
    if (typeof value !== 'number') {
      sink.reject('non_numeric_value', 'value', value === undefined ? 'the "value" field is missing' : `"value" must be a number, got ${describe(value)}`);
      continue;
    }
    const id = sink.openSeries(metric, labels, n, 'unknown', 1);
    if (id >= 0) sink.addSample(id, t, value);
  }
}
