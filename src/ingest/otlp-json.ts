import { TidemarkError } from '../errors.ts';
import type { OtlpMetricType, OtlpOptions } from './otlp.ts';
import { MAX_ANY_VALUE_DEPTH, OtlpContext, emitPoint, otlpMetric, tooDeep } from './otlp.ts';
import type { SampleSink } from './types.ts';

/**
 * OTLP/HTTP metrics in JSON (`application/json`), per the OTLP spec's "JSON Protobuf Encoding":
 * keys are lowerCamelCase field names (the spec says the original snake_case names are NOT
 * valid keys, so they are not accepted), unknown keys are ignored, enums are integers (enum
 * names are accepted too, as plain proto3 JSON allows), 64-bit integers are decimal strings or
 * numbers, doubles may be the strings "NaN"/"Infinity"/"-Infinity", bytes are base64.
 * The mapping to samples is shared with the protobuf decoder (otlp.ts).
 */

type Json = unknown;

const TEMPORALITY_NAMES: Record<string, number> = {
  AGGREGATION_TEMPORALITY_UNSPECIFIED: 0,
  AGGREGATION_TEMPORALITY_DELTA: 1,
  AGGREGATION_TEMPORALITY_CUMULATIVE: 2,
};

const TYPE_KEYS: readonly (readonly [string, OtlpMetricType])[] = [
  ['gauge', 'gauge'],
  ['sum', 'sum'],
  ['histogram', 'histogram'],
  ['exponentialHistogram', 'exponential_histogram'],
  ['summary', 'summary'],
];

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function arrayOf(v: Json): Json[] {
  return Array.isArray(v) ? v : [];
}

const DIGITS = /^-?\d+$/;

/** A 64-bit integer field: a decimal string or a number. NaN if neither. */
function int64(v: Json): number {
  if (typeof v === 'number') return Number.isInteger(v) ? v : NaN;
  if (typeof v === 'string' && DIGITS.test(v)) return Number(v);
  return NaN;
}

/** Nanoseconds since the epoch (string or number) as whole milliseconds; 0 if absent or unreadable. */
function nanosToMillis(v: Json): number {
  if (typeof v === 'number') return v > 0 ? Math.floor(v / 1e6) : 0;
  if (typeof v === 'string' && DIGITS.test(v) && v[0] !== '-') return v.length > 6 ? Number(v.slice(0, -6)) : 0;
  return 0;
}

/** A double field: a number, or a string holding one (proto3 JSON allows "NaN", "Infinity", "1.5"). */
function double(v: Json): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    if (v === 'NaN') return NaN;
    if (v === 'Infinity') return Infinity;
    if (v === '-Infinity') return -Infinity;
    const t = v.trim();
    return t.length > 0 ? Number(t) : NaN;
  }
  return NaN;
}

function uint32(v: Json): number {
  const n = int64(v);
  return Number.isFinite(n) ? n >>> 0 : 0;
}

function enumValue(v: Json, names: Record<string, number>): number {
  if (typeof v === 'string' && Object.hasOwn(names, v)) return names[v];
  const n = int64(v);
  return Number.isFinite(n) ? n : 0;
}

type Plain = string | number | boolean | null | Plain[] | { [k: string]: Plain };

/** An AnyValue as a plain JSON value, the same one the protobuf decoder builds. */
function anyValue(v: Json, depth: number, path: string): Plain {
  if (depth > MAX_ANY_VALUE_DEPTH) throw tooDeep(path);
  if (!isObject(v)) return '';
  if (typeof v.stringValue === 'string') return v.stringValue;
  if (typeof v.boolValue === 'boolean') return v.boolValue;
  if (v.intValue !== undefined) {
    const n = int64(v.intValue);
    if (Number.isSafeInteger(n)) return n;
    return typeof v.intValue === 'string' ? v.intValue : '';
  }
  if (v.doubleValue !== undefined) return double(v.doubleValue);
  if (isObject(v.arrayValue)) return arrayOf(v.arrayValue.values).map((x) => anyValue(x, depth + 1, path));
  if (isObject(v.kvlistValue)) {
    const o: { [k: string]: Plain } = {};
    for (const kv of arrayOf(v.kvlistValue.values)) {
      // defineProperty, not assignment: a key may be __proto__.
      if (isObject(kv) && typeof kv.key === 'string') Object.defineProperty(o, kv.key, { value: anyValue(kv.value, depth + 1, path), enumerable: true, writable: true, configurable: true });
    }
    return o;
  }
  if (typeof v.bytesValue === 'string') return v.bytesValue;
  return '';
}

function addAttributes(ctx: OtlpContext, attrs: Json, resource: boolean, path: string): void {
  for (const kv of arrayOf(attrs)) {
    if (!isObject(kv)) continue;
    const key = typeof kv.key === 'string' ? kv.key : '';
    if (resource && !ctx.promotes(key)) continue;
    const v = anyValue(kv.value, 0, path);
    ctx.labels.add(key, typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v));
  }
}

function numbers(v: Json, out: number[], parse: (x: Json) => number): number {
  const a = arrayOf(v);
  for (let i = 0; i < a.length; i++) out[i] = parse(a[i]);
  return a.length;
}

function fillPoint(ctx: OtlpContext, type: OtlpMetricType, dp: Record<string, Json>): void {
  const p = ctx.point;
  p.timeMs = nanosToMillis(dp.timeUnixNano);
  p.flags = uint32(dp.flags);
  switch (type) {
    case 'gauge':
    case 'sum':
      if (dp.asDouble !== undefined) {
        p.value = double(dp.asDouble);
        p.hasValue = true;
      } else if (dp.asInt !== undefined) {
        p.value = int64(dp.asInt);
        p.hasValue = true;
      }
      return;
    case 'histogram':
      p.count = int64(dp.count ?? 0);
      if (dp.sum !== undefined) {
        p.sum = double(dp.sum);
        p.hasSum = true;
      }
      p.countsLen = numbers(dp.bucketCounts, p.counts, int64);
      p.boundsLen = numbers(dp.explicitBounds, p.bounds, double);
      if (dp.min !== undefined) p.min = double(dp.min);
      if (dp.max !== undefined) p.max = double(dp.max);
      return;
    case 'exponential_histogram': {
      p.count = int64(dp.count ?? 0);
      if (dp.sum !== undefined) {
        p.sum = double(dp.sum);
        p.hasSum = true;
      }
      p.scale = dp.scale === undefined ? 0 : int64(dp.scale);
      p.zeroCount = int64(dp.zeroCount ?? 0);
      p.zeroThreshold = dp.zeroThreshold === undefined ? 0 : double(dp.zeroThreshold);
      if (isObject(dp.positive)) {
        p.posOffset = dp.positive.offset === undefined ? 0 : int64(dp.positive.offset);
        p.posLen = numbers(dp.positive.bucketCounts, p.pos, int64);
      }
      if (isObject(dp.negative)) {
        p.negOffset = dp.negative.offset === undefined ? 0 : int64(dp.negative.offset);
        p.negLen = numbers(dp.negative.bucketCounts, p.neg, int64);
      }
      if (dp.min !== undefined) p.min = double(dp.min);
      if (dp.max !== undefined) p.max = double(dp.max);
      return;
    }
    case 'summary':
      p.count = int64(dp.count ?? 0);
      p.sum = dp.sum === undefined ? 0 : double(dp.sum);
      for (const qv of arrayOf(dp.quantileValues)) {
        if (!isObject(qv)) continue;
        p.quantiles[p.quantilesLen++] = qv.quantile === undefined ? 0 : double(qv.quantile);
        p.quantiles[p.quantilesLen++] = qv.value === undefined ? 0 : double(qv.value);
      }
  }
}

function readMetric(ctx: OtlpContext, metric: Json, path: string): void {
  const sink = ctx.sink;
  sink.where(path, -1);
  if (!isObject(metric)) return sink.reject('malformed_sample', '', 'a metric must be a JSON object');
  let type: OtlpMetricType | null = null;
  let data: Record<string, Json> = {};
  let key = '';
  for (const [k, t] of TYPE_KEYS) {
    const d = metric[k];
    if (isObject(d)) {
      type = t;
      data = d;
      key = k;
    }
  }
  const points = arrayOf(data.dataPoints);
  const rawName = typeof metric.name === 'string' ? metric.name : '';
  const temporality = enumValue(data.aggregationTemporality, TEMPORALITY_NAMES);
  const m = otlpMetric(sink, rawName, type, temporality, data.isMonotonic === true, points.length);
  if (m === null) return;
  const pointsPath = `${path}.${key}.dataPoints`;
  for (let i = 0; i < points.length; i++) {
    sink.where(pointsPath, i);
    const dp = points[i];
    if (!isObject(dp)) {
      sink.reject('malformed_sample', '', 'a data point must be a JSON object');
      continue;
    }
    ctx.point.reset();
    ctx.labels.begin();
    addAttributes(ctx, dp.attributes, false, pointsPath);
    ctx.labels.finish();
    fillPoint(ctx, m.type, dp);
    emitPoint(ctx, m);
  }
}

/**
 * Decodes an OTLP `ExportMetricsServiceRequest` in JSON into `sink`. Throws `TidemarkError`
 * TM_ERR_INPUT if the body is not JSON, or uses snake_case keys only (a common mistake the spec
 * rules out, better answered with a 400 than with silently dropped data).
 *
 * @example decodeOtlpJson(body, batch)
 */
export function decodeOtlpJson(body: Uint8Array | string, sink: SampleSink, options: OtlpOptions = {}): void {
  const text = typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  let doc: Json;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new TidemarkError('TM_ERR_INPUT', `body is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!isObject(doc)) throw new TidemarkError('TM_ERR_INPUT', 'an OTLP/JSON metrics request must be a JSON object with "resourceMetrics"');
  if (doc.resourceMetrics === undefined && doc.resource_metrics !== undefined) {
    throw new TidemarkError(
      'TM_ERR_INPUT',
      'OTLP/JSON keys must be lowerCamelCase ("resourceMetrics", "scopeMetrics", "dataPoints", "timeUnixNano"); snake_case field names are not valid OTLP/JSON',
      'resource_metrics',
    );
  }
  const ctx = new OtlpContext(sink, options);
  const rms = arrayOf(doc.resourceMetrics);
  for (let r = 0; r < rms.length; r++) {
    const rm = rms[r];
    if (!isObject(rm)) continue;
    ctx.labels.clearResource();
    if (isObject(rm.resource)) {
      ctx.labels.begin();
      addAttributes(ctx, rm.resource.attributes, true, `resourceMetrics[${r}].resource.attributes`);
      ctx.labels.finishResource();
    }
    const sms = arrayOf(rm.scopeMetrics);
    for (let s = 0; s < sms.length; s++) {
      const sm = sms[s];
      if (!isObject(sm)) continue;
      const metrics = arrayOf(sm.metrics);
      for (let m = 0; m < metrics.length; m++) {
        readMetric(ctx, metrics[m], `resourceMetrics[${r}].scopeMetrics[${s}].metrics[${m}]`);
      }
    }
  }
}
