import type { OtlpMetricType, OtlpOptions } from './otlp.ts';
import { MAX_ANY_VALUE_DEPTH, OtlpContext, emitPoint, otlpMetric, tooDeep } from './otlp.ts';
import type { SampleSink } from './types.ts';
import { FIXED64, InvalidUtf8, LEN, ProtoReader, VARINT } from './wire.ts';

/**
 * OTLP/HTTP metrics in binary protobuf (`application/x-protobuf`), read with the same wire
 * reader as remote_write. Field numbers from opentelemetry-proto (metrics/v1, common/v1,
 * resource/v1, collector/metrics/v1); the mapping to samples is in otlp.ts.
 * Unknown fields, and known fields with an unexpected wire type, are skipped, as protobuf does.
 */

const tag = (field: number, wt: number): number => (field << 3) | wt;

const T_RESOURCE_METRICS = tag(1, LEN);
const T_RESOURCE = tag(1, LEN);
const T_SCOPE_METRICS = tag(2, LEN);
const T_RESOURCE_ATTRIBUTES = tag(1, LEN);
const T_METRICS = tag(2, LEN);
const T_METRIC_NAME = tag(1, LEN);
const T_DATA_POINTS = tag(1, LEN);
const T_TEMPORALITY = tag(2, VARINT);
const T_MONOTONIC = tag(3, VARINT);
const T_TIME = tag(3, FIXED64);
const T_KV_KEY = tag(1, LEN);
const T_KV_VALUE = tag(2, LEN);

const METRIC_TYPES: Record<number, OtlpMetricType> = {
  5: 'gauge',
  7: 'sum',
  9: 'histogram',
  10: 'exponential_histogram',
  11: 'summary',
};

/**
 * Decodes an OTLP `ExportMetricsServiceRequest` (binary protobuf) into `sink`.
 * Throws `TidemarkError` TM_ERR_INPUT when the body is not readable as a whole; problems
 * with single data points are counted in the sink.
 *
 * @example decodeOtlpProtobuf(maybeGunzip(body, req.headers['content-encoding']), batch)
 */
export function decodeOtlpProtobuf(bytes: Uint8Array, sink: SampleSink, options: OtlpOptions = {}): void {
  const r = new ProtoReader(bytes, 'OTLP ExportMetricsServiceRequest');
  const ctx = new OtlpContext(sink, options);
  const end = r.buf.length;
  let index = 0;
  while (r.pos < end) {
    const key = r.tag(end);
    if (key === T_RESOURCE_METRICS) {
      const e = r.lenEnd(end);
      readResourceMetrics(r, e, ctx, index++);
      r.pos = e;
    } else {
      r.skip(key & 7, end);
    }
  }
}

function readResourceMetrics(r: ProtoReader, end: number, ctx: OtlpContext, index: number): void {
  const start = r.pos;
  // Pass 1: the resource, which labels every metric in this message whatever the field order.
  ctx.labels.clearResource();
  while (r.pos < end) {
    const key = r.tag(end);
    if (key === T_RESOURCE) {
      const e = r.lenEnd(end);
      ctx.labels.begin();
      while (r.pos < e) {
        const k = r.tag(e);
        if (k === T_RESOURCE_ATTRIBUTES) {
          const ke = r.lenEnd(e);
          readResourceAttribute(r, ke, ctx, `resourceMetrics[${index}].resource.attributes`);
          r.pos = ke;
        } else r.skip(k & 7, e);
      }
      ctx.labels.finishResource();
    } else r.skip(key & 7, end);
  }
  // Pass 2: scope metrics.
  r.pos = start;
  let scope = 0;
  while (r.pos < end) {
    const key = r.tag(end);
    if (key !== T_SCOPE_METRICS) {
      r.skip(key & 7, end);
      continue;
    }
    const e = r.lenEnd(end);
    let m = 0;
    while (r.pos < e) {
      const k = r.tag(e);
      if (k === T_METRICS) {
        const me = r.lenEnd(e);
        readMetric(r, me, ctx, `resourceMetrics[${index}].scopeMetrics[${scope}].metrics[${m++}]`);
        r.pos = me;
      } else r.skip(k & 7, e);
    }
    scope++;
  }
}

function readMetric(r: ProtoReader, end: number, ctx: OtlpContext, path: string): void {
  let rawName = '';
  let type: OtlpMetricType | null = null;
  let dataStart = 0;
  let dataEnd = 0;
  let badUtf8 = false;
  while (r.pos < end) {
    const key = r.tag(end);
    const field = key >>> 3;
    if (key === T_METRIC_NAME) {
      try {
        rawName = r.string(end);
      } catch (err) {
        if (!(err instanceof InvalidUtf8)) throw err;
        badUtf8 = true;
      }
    } else if ((key & 7) === LEN && METRIC_TYPES[field] !== undefined) {
      type = METRIC_TYPES[field];
      dataEnd = r.lenEnd(end);
      dataStart = r.pos;
      r.pos = dataEnd;
    } else r.skip(key & 7, end);
  }
  const sink = ctx.sink;
  sink.where(path, -1);
  // Pass 1 over the data message: temporality, monotonicity and the number of points.
  let temporality = 0;
  let monotonic = false;
  let points = 0;
  r.pos = dataStart;
  while (r.pos < dataEnd) {
    const key = r.tag(dataEnd);
    if (key === T_DATA_POINTS) {
      points++;
      r.pos = r.lenEnd(dataEnd);
    } else if (key === T_TEMPORALITY && type !== 'gauge' && type !== 'summary') temporality = r.int32(dataEnd);
    else if (key === T_MONOTONIC && type === 'sum') monotonic = r.bool(dataEnd);
    else r.skip(key & 7, dataEnd);
  }
  if (badUtf8) return sink.reject('invalid_metric_name', 'name', 'the metric name is not valid UTF-8', Math.max(points, 1));
  const metric = otlpMetric(sink, rawName, type, temporality, monotonic, points);
  if (metric === null) return;
  const pointsPath = `${path}.${metric.type === 'exponential_histogram' ? 'exponentialHistogram' : metric.type}.dataPoints`;
  // Pass 2: the points.
  r.pos = dataStart;
  let i = 0;
  while (r.pos < dataEnd) {
    const key = r.tag(dataEnd);
    if (key !== T_DATA_POINTS) {
      r.skip(key & 7, dataEnd);
      continue;
    }
    const e = r.lenEnd(dataEnd);
    sink.where(pointsPath, i++);
    ctx.point.reset();
    ctx.labels.begin();
    let ok: boolean;
    switch (metric.type) {
      case 'gauge':
      case 'sum':
        ok = readNumberPoint(r, e, ctx);
        break;
      case 'histogram':
        ok = readHistogramPoint(r, e, ctx);
        break;
      case 'exponential_histogram':
        ok = readExponentialPoint(r, e, ctx);
        break;
      default:
        ok = readSummaryPoint(r, e, ctx);
    }
    r.pos = e;
    if (!ok) {
      sink.reject('invalid_label_value', 'attributes', 'an attribute key or value is not valid UTF-8');
      continue;
    }
    ctx.labels.finish();
    emitPoint(ctx, metric);
  }
}

/** Reads one KeyValue into the label set; returns false if it held invalid UTF-8. */
function readKeyValue(r: ProtoReader, end: number, ctx: OtlpContext, resource: boolean, path: string): boolean {
  let key = '';
  let value = '';
  try {
    while (r.pos < end) {
      const k = r.tag(end);
      if (k === T_KV_KEY) key = r.string(end);
      else if (k === T_KV_VALUE) {
        const e = r.lenEnd(end);
        const v = readAnyValue(r, e, 0, path);
        value = typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
        r.pos = e;
      } else r.skip(k & 7, end);
    }
  } catch (err) {
    if (!(err instanceof InvalidUtf8)) throw err;
    r.pos = end;
    return false;
  }
  if (!resource || ctx.promotes(key)) ctx.labels.add(key, value);
  return true;
}

/** Resource attributes with invalid UTF-8 are dropped rather than failing every point under them. */
function readResourceAttribute(r: ProtoReader, end: number, ctx: OtlpContext, path: string): void {
  readKeyValue(r, end, ctx, true, path);
}

type AnyJson = string | number | boolean | null | AnyJson[] | { [k: string]: AnyJson };

/**
 * An AnyValue as the JSON value a label string is made from: strings stay strings, arrays and
 * key-value lists become JSON text, bytes become base64 (as the OTLP JSON mapping writes them).
 */
function readAnyValue(r: ProtoReader, end: number, depth: number, path: string): AnyJson {
  if (depth > MAX_ANY_VALUE_DEPTH) throw tooDeep(path);
  let v: AnyJson = '';
  while (r.pos < end) {
    const k = r.tag(end);
    switch (k) {
      case tag(1, LEN):
        v = r.string(end);
        break;
      case tag(2, VARINT):
        v = r.bool(end);
        break;
      case tag(3, VARINT): {
        const s = r.int64String(end);
        const n = Number(s);
        v = Number.isSafeInteger(n) ? n : s;
        break;
      }
      case tag(4, FIXED64):
        v = r.double(end);
        break;
      case tag(5, LEN): {
        const e = r.lenEnd(end);
        const arr: AnyJson[] = [];
        while (r.pos < e) {
          const kk = r.tag(e);
          if (kk === tag(1, LEN)) {
            const ee = r.lenEnd(e);
            arr.push(readAnyValue(r, ee, depth + 1, path));
            r.pos = ee;
          } else r.skip(kk & 7, e);
        }
        v = arr;
        break;
      }
      case tag(6, LEN): {
        const e = r.lenEnd(end);
        const obj: { [k: string]: AnyJson } = {};
        while (r.pos < e) {
          const kk = r.tag(e);
          if (kk === tag(1, LEN)) {
            const ee = r.lenEnd(e);
            let key = '';
            let val: AnyJson = '';
            while (r.pos < ee) {
              const k3 = r.tag(ee);
              if (k3 === T_KV_KEY) key = r.string(ee);
              else if (k3 === T_KV_VALUE) {
                const e3 = r.lenEnd(ee);
                val = readAnyValue(r, e3, depth + 1, path);
                r.pos = e3;
              } else r.skip(k3 & 7, ee);
            }
            // defineProperty, not assignment: a key may be __proto__.
            Object.defineProperty(obj, key, { value: val, enumerable: true, writable: true, configurable: true });
            r.pos = ee;
          } else r.skip(kk & 7, e);
        }
        v = obj;
        break;
      }
      case tag(7, LEN): {
        const e = r.lenEnd(end);
        v = r.buf.toString('base64', r.pos, e);
        r.pos = e;
        break;
      }
      default:
        r.skip(k & 7, end);
    }
  }
  return v;
}

/** Reads repeated doubles (packed or not) into `out` from index `len`; returns the new length. */
function readDoubles(r: ProtoReader, wt: number, end: number, out: number[], len: number): number {
  if (wt === FIXED64) {
    out[len++] = r.double(end);
    return len;
  }
  const e = r.lenEnd(end);
  if ((e - r.pos) % 8 !== 0) throw r.fail('packed double field length is not a multiple of 8');
  while (r.pos < e) out[len++] = r.double(e);
  return len;
}

function readFixed64s(r: ProtoReader, wt: number, end: number, out: number[], len: number): number {
  if (wt === FIXED64) {
    out[len++] = r.fixed64(end);
    return len;
  }
  const e = r.lenEnd(end);
  if ((e - r.pos) % 8 !== 0) throw r.fail('packed fixed64 field length is not a multiple of 8');
  while (r.pos < e) out[len++] = r.fixed64(e);
  return len;
}

function readUint64s(r: ProtoReader, wt: number, end: number, out: number[], len: number): number {
  if (wt === VARINT) {
    out[len++] = r.uint64(end);
    return len;
  }
  const e = r.lenEnd(end);
  while (r.pos < e) out[len++] = r.uint64(e);
  return len;
}

function readAttribute(r: ProtoReader, end: number, ctx: OtlpContext): boolean {
  const e = r.lenEnd(end);
  const ok = readKeyValue(r, e, ctx, false, 'attributes');
  r.pos = e;
  return ok;
}

function readNumberPoint(r: ProtoReader, end: number, ctx: OtlpContext): boolean {
  const p = ctx.point;
  let ok = true;
  while (r.pos < end) {
    const key = r.tag(end);
    switch (key) {
      case tag(7, LEN):
        ok = readAttribute(r, end, ctx) && ok;
        break;
      case T_TIME:
        p.timeMs = r.fixed64NanosToMillis(end);
        break;
      case tag(4, FIXED64):
        p.value = r.double(end);
        p.hasValue = true;
        break;
      case tag(6, FIXED64):
        p.value = r.sfixed64(end);
        p.hasValue = true;
        break;
      case tag(8, VARINT):
        p.flags = r.uint32(end);
        break;
      default:
        r.skip(key & 7, end);
    }
  }
  return ok;
}

function readHistogramPoint(r: ProtoReader, end: number, ctx: OtlpContext): boolean {
  const p = ctx.point;
  let ok = true;
  while (r.pos < end) {
    const key = r.tag(end);
    const field = key >>> 3;
    const wt = key & 7;
    if (field === 9 && wt === LEN) ok = readAttribute(r, end, ctx) && ok;
    else if (key === T_TIME) p.timeMs = r.fixed64NanosToMillis(end);
    else if (key === tag(4, FIXED64)) p.count = r.fixed64(end);
    else if (key === tag(5, FIXED64)) {
      p.sum = r.double(end);
      p.hasSum = true;
    } else if (field === 6 && (wt === LEN || wt === FIXED64)) p.countsLen = readFixed64s(r, wt, end, p.counts, p.countsLen);
    else if (field === 7 && (wt === LEN || wt === FIXED64)) p.boundsLen = readDoubles(r, wt, end, p.bounds, p.boundsLen);
    else if (key === tag(10, VARINT)) p.flags = r.uint32(end);
    else if (key === tag(11, FIXED64)) p.min = r.double(end);
    else if (key === tag(12, FIXED64)) p.max = r.double(end);
    else r.skip(wt, end);
  }
  return ok;
}

function readBuckets(r: ProtoReader, end: number, out: number[]): { offset: number; len: number } {
  let offset = 0;
  let len = 0;
  while (r.pos < end) {
    const key = r.tag(end);
    const wt = key & 7;
    if (key === tag(1, VARINT)) offset = r.sint32(end);
    else if (key >>> 3 === 2 && (wt === LEN || wt === VARINT)) len = readUint64s(r, wt, end, out, len);
    else r.skip(wt, end);
  }
  return { offset, len };
}

function readExponentialPoint(r: ProtoReader, end: number, ctx: OtlpContext): boolean {
  const p = ctx.point;
  let ok = true;
  while (r.pos < end) {
    const key = r.tag(end);
    switch (key) {
      case tag(1, LEN):
        ok = readAttribute(r, end, ctx) && ok;
        break;
      case T_TIME:
        p.timeMs = r.fixed64NanosToMillis(end);
        break;
      case tag(4, FIXED64):
        p.count = r.fixed64(end);
        break;
      case tag(5, FIXED64):
        p.sum = r.double(end);
        p.hasSum = true;
        break;
      case tag(6, VARINT):
        p.scale = r.sint32(end);
        break;
      case tag(7, FIXED64):
        p.zeroCount = r.fixed64(end);
        break;
      case tag(8, LEN):
      case tag(9, LEN): {
        const e = r.lenEnd(end);
        const positive = key === tag(8, LEN);
        const b = readBuckets(r, e, positive ? p.pos : p.neg);
        if (positive) {
          p.posOffset = b.offset;
          p.posLen = b.len;
        } else {
          p.negOffset = b.offset;
          p.negLen = b.len;
        }
        r.pos = e;
        break;
      }
      case tag(10, VARINT):
        p.flags = r.uint32(end);
        break;
      case tag(12, FIXED64):
        p.min = r.double(end);
        break;
      case tag(13, FIXED64):
        p.max = r.double(end);
        break;
      case tag(14, FIXED64):
        p.zeroThreshold = r.double(end);
        break;
      default:
        r.skip(key & 7, end);
    }
  }
  return ok;
}

function readSummaryPoint(r: ProtoReader, end: number, ctx: OtlpContext): boolean {
  const p = ctx.point;
  let ok = true;
  while (r.pos < end) {
    const key = r.tag(end);
    switch (key) {
      case tag(7, LEN):
        ok = readAttribute(r, end, ctx) && ok;
        break;
      case T_TIME:
        p.timeMs = r.fixed64NanosToMillis(end);
        break;
      case tag(4, FIXED64):
        p.count = r.fixed64(end);
        break;
      case tag(5, FIXED64):
        p.sum = r.double(end);
        break;
      case tag(6, LEN): {
        const e = r.lenEnd(end);
        let q = 0;
        let v = 0;
        while (r.pos < e) {
          const k = r.tag(e);
          if (k === tag(1, FIXED64)) q = r.double(e);
          else if (k === tag(2, FIXED64)) v = r.double(e);
          else r.skip(k & 7, e);
        }
        p.quantiles[p.quantilesLen++] = q;
        p.quantiles[p.quantilesLen++] = v;
        break;
      }
      case tag(8, VARINT):
        p.flags = r.uint32(end);
        break;
      default:
        r.skip(key & 7, end);
    }
  }
  return ok;
}
