import { TidemarkError } from '../errors.ts';
import { otlpLabelName, otlpMetricName } from './names.ts';
import { HISTOGRAM_QUANTILES, explicitBucketQuantile, exponentialBucketQuantile } from './quantile.ts';
import type { SampleSink, SeriesKind } from './types.ts';

/**
 * OTLP metrics mapped to samples, shared by the protobuf and the JSON decoders (both fill an
 * `OtlpPoint` and call the same `emit*` function, so the two encodings cannot drift apart).
 *
 * Mapping (names are sanitised as Prometheus's OTLP translator does, see names.ts):
 * - Gauge: one `gauge` sample per data point.
 * - Sum: monotonic CUMULATIVE is a `counter`; non-monotonic CUMULATIVE is a `gauge` (as
 *   Prometheus treats it); DELTA sums are kept as `delta` samples (the increment over the
 *   point's interval), not converted to cumulative, since that needs state across requests.
 * - Histogram and ExponentialHistogram: kept as distributions through derived series
 *   `<name>_count` and `<name>_sum` (`counter`, or `delta` for DELTA temporality) and
 *   `<name>_p50`, `_p95`, `_p99` (`gauge`), interpolated from the buckets (quantile.ts). For
 *   DELTA histograms the quantiles describe the interval; for CUMULATIVE ones they describe
 *   everything since the start time, which moves slowly: prefer DELTA temporality for latency
 *   detection, or difference the buckets upstream.
 * - Summary: `<name>_count` and `<name>_sum` (`counter`, summaries are cumulative) and one
 *   `gauge` series per quantile labelled `quantile="0.99"`, as Prometheus exposes summaries.
 * - Labels: resource attributes (all but `ignoreResourceAttributes`, by default) and data point
 *   attributes, keys sanitised (`service.name` becomes `service_name`); a data point attribute
 *   wins over a resource attribute of the same name; attributes that sanitise to the same name
 *   are joined with `;` in key order (unless the values are equal), as Prometheus does. Scope
 *   name/version are not labels, and Prometheus's extra `job`/`instance` labels are not added
 *   (`service_name`, `service_instance_id` carry the same information).
 * - The no-recorded-value flag (DataPointFlags bit 0) becomes a staleness marker on every
 *   series the point would have produced.
 * - Timestamps: `timeUnixNano` floored to ms; 0 (unset) is rejected as `invalid_timestamp`.
 */

export const TEMPORALITY_DELTA = 1;
export const TEMPORALITY_CUMULATIVE = 2;
/** DataPointFlags.DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK */
export const FLAG_NO_RECORDED_VALUE = 1;
/** Deepest nesting of array/kvlist attribute values accepted. */
export const MAX_ANY_VALUE_DEPTH = 16;
/**
 * Attributes kept per data point (resource ones included). Merging is quadratic in the count,
 * so a hostile point must not carry thousands; beyond this the point is refused as
 * `too_many_labels` whatever the sink's own limit.
 */
export const MAX_ATTRIBUTES = 256;

export interface OtlpOptions {
  /** Resource attributes that become labels: 'all' (default) or a list of attribute keys. */
  resourceAttributes?: 'all' | readonly string[];
  /**
   * Resource attributes never turned into labels: exact keys, or prefixes ending in '.'.
   * Default: `process.` and `telemetry.` (pid, command line, SDK version change on every
   * restart or upgrade and would split every series).
   */
  ignoreResourceAttributes?: readonly string[];
}

export const DEFAULT_IGNORED_RESOURCE_ATTRIBUTES: readonly string[] = ['process.', 'telemetry.'];

export type OtlpMetricType = 'gauge' | 'sum' | 'histogram' | 'exponential_histogram' | 'summary';

/** The metric a data point belongs to. */
export interface OtlpMetric {
  /** Sanitised name. */
  name: string;
  type: OtlpMetricType;
  temporality: number;
  monotonic: boolean;
}

/**
 * One data point, filled by a decoder and read by `emitPoint`. Reused for every point: arrays
 * keep their capacity and the `*Len` fields say how much of them is valid.
 */
export class OtlpPoint {
  timeMs = 0;
  flags = 0;
  value = 0;
  hasValue = false;
  count = 0;
  sum = 0;
  hasSum = false;
  min = NaN;
  max = NaN;
  bounds: number[] = [];
  boundsLen = 0;
  counts: number[] = [];
  countsLen = 0;
  scale = 0;
  zeroCount = 0;
  zeroThreshold = 0;
  posOffset = 0;
  pos: number[] = [];
  posLen = 0;
  negOffset = 0;
  neg: number[] = [];
  negLen = 0;
  /** Summary quantiles, flat `[q, value, …]`. */
  quantiles: number[] = [];
  quantilesLen = 0;

  reset(): void {
    this.timeMs = 0;
    this.flags = 0;
    this.value = 0;
    this.hasValue = false;
    this.count = 0;
    this.sum = 0;
    this.hasSum = false;
    this.min = NaN;
    this.max = NaN;
    this.boundsLen = 0;
    this.countsLen = 0;
    this.scale = 0;
    this.zeroCount = 0;
    this.zeroThreshold = 0;
    this.posOffset = 0;
    this.posLen = 0;
    this.negOffset = 0;
    this.negLen = 0;
    this.quantilesLen = 0;
  }
}

const nameCache = new Map<string, string>();

/** Attribute key to label name, cached: the same few keys repeat in every request. */
function labelNameOf(key: string): string {
  let name = nameCache.get(key);
  if (name === undefined) {
    name = otlpLabelName(key);
    if (nameCache.size >= 10000) nameCache.clear();
    nameCache.set(key, name);
  }
  return name;
}

/**
 * Collects the labels of one data point: its attributes (sanitised, collisions joined with
 * `;`) over the resource labels. `labels`/`labelCount` is the result after `finish()`.
 */
export class LabelSet {
  labels: string[] = [];
  labelCount = 0;
  #keys: string[] = [];
  #pairs: string[] = [];
  #n = 0;
  #collide = false;
  #overflow = false;
  #resourceOverflow = false;
  #resource: string[] = [];
  #resourceLen = 0;

  /** True when more than `MAX_ATTRIBUTES` were added since `begin()`. */
  get overflow(): boolean {
    return this.#overflow || this.#resourceOverflow;
  }

  begin(): void {
    this.#n = 0;
    this.#collide = false;
    this.#overflow = false;
  }

  add(key: string, value: string): void {
    if (this.#n >= 2 * MAX_ATTRIBUTES) {
      this.#overflow = true;
      return;
    }
    const name = labelNameOf(key);
    const p = this.#pairs;
    for (let i = 0; i < this.#n; i += 2) if (p[i] === name) this.#collide = true;
    this.#keys[this.#n >> 1] = key;
    p[this.#n] = name;
    p[this.#n + 1] = value;
    this.#n += 2;
  }

  /** Merges the added attributes over the resource labels into `labels`. */
  finish(): void {
    const out = this.labels;
    let m = 0;
    const p = this.#pairs;
    if (!this.#collide) {
      for (let i = 0; i < this.#n; i++) out[i] = p[i];
      m = this.#n;
    } else {
      // As Prometheus: order by original key, then join values of names that collide.
      const order: number[] = [];
      for (let i = 0; i < this.#n; i += 2) order.push(i);
      const keys = this.#keys;
      order.sort((a, b) => (keys[a >> 1] < keys[b >> 1] ? -1 : keys[a >> 1] > keys[b >> 1] ? 1 : 0));
      for (const i of order) {
        let j = 0;
        while (j < m && out[j] !== p[i]) j += 2;
        if (j === m) {
          out[m++] = p[i];
          out[m++] = p[i + 1];
        } else if (out[j + 1] !== p[i + 1]) {
          out[j + 1] += ';' + p[i + 1];
        }
      }
    }
    const r = this.#resource;
    const own = m;
    for (let i = 0; i < this.#resourceLen; i += 2) {
      let j = 0;
      while (j < own && out[j] !== r[i]) j += 2;
      if (j === own) {
        out[m++] = r[i];
        out[m++] = r[i + 1];
      }
    }
    this.labelCount = m;
  }

  /** Makes the labels built since `begin()` the resource labels of the points that follow. */
  finishResource(): void {
    this.#resourceLen = 0;
    this.#resourceOverflow = false;
    this.finish();
    this.#resourceOverflow = this.#overflow;
    const r: string[] = [];
    for (let i = 0; i < this.labelCount; i++) r.push(this.labels[i]);
    this.#resource = r;
    this.#resourceLen = r.length;
  }

  /** Forgets the resource labels (a new ResourceMetrics starts). */
  clearResource(): void {
    this.#resourceLen = 0;
    this.#resourceOverflow = false;
  }
}

/** Per-request decoding state shared by both OTLP decoders. */
export class OtlpContext {
  readonly sink: SampleSink;
  readonly point = new OtlpPoint();
  readonly labels = new LabelSet();
  readonly #promote: ReadonlySet<string> | null;
  readonly #ignore: readonly string[];

  constructor(sink: SampleSink, options: OtlpOptions = {}) {
    this.sink = sink;
    const ra = options.resourceAttributes ?? 'all';
    this.#promote = ra === 'all' ? null : new Set(ra);
    this.#ignore = options.ignoreResourceAttributes ?? DEFAULT_IGNORED_RESOURCE_ATTRIBUTES;
  }

  /** True if the resource attribute `key` becomes a label. */
  promotes(key: string): boolean {
    if (this.#promote !== null && !this.#promote.has(key)) return false;
    for (const ig of this.#ignore) {
      if (ig.endsWith('.') ? key.startsWith(ig) : key === ig) return false;
    }
    return true;
  }
}

/** Error for attribute values nested too deeply (a hostile payload could otherwise blow the stack). */
export function tooDeep(path: string): TidemarkError {
  return new TidemarkError('TM_ERR_INPUT', `attribute value nested deeper than ${MAX_ANY_VALUE_DEPTH} levels`, path);
}

/** Builds the metric descriptor; returns null (after counting a rejection) when it cannot be used. */
export function otlpMetric(sink: SampleSink, rawName: string, type: OtlpMetricType | null, temporality: number, monotonic: boolean, points: number): OtlpMetric | null {
  if (type === null) {
    sink.reject('unsupported_metric_type', 'data', 'the metric carries no gauge, sum, histogram, exponentialHistogram or summary', Math.max(points, 1));
    return null;
  }
  const name = otlpMetricName(rawName);
  if (name.length === 0) {
    sink.reject('missing_metric_name', 'name', rawName.length === 0 ? 'the metric name is empty' : `${JSON.stringify(rawName)} has no characters usable in a metric name`, points);
    return null;
  }
  if ((type === 'sum' || type === 'histogram' || type === 'exponential_histogram') && temporality !== TEMPORALITY_DELTA && temporality !== TEMPORALITY_CUMULATIVE) {
    sink.reject('unsupported_metric_type', 'aggregationTemporality', `aggregation temporality ${temporality} is not DELTA (1) or CUMULATIVE (2)`, points);
    return null;
  }
  return { name, type, temporality, monotonic };
}

function numberKind(m: OtlpMetric): SeriesKind {
  if (m.type === 'gauge') return 'gauge';
  if (m.temporality === TEMPORALITY_DELTA) return 'delta';
  return m.monotonic ? 'counter' : 'gauge';
}

/** Writes the samples of the point in `ctx.point` (labels already in `ctx.labels`). */
export function emitPoint(ctx: OtlpContext, m: OtlpMetric): void {
  const p = ctx.point;
  const sink = ctx.sink;
  if (ctx.labels.overflow || ctx.labels.labelCount > 2 * MAX_ATTRIBUTES) {
    sink.reject('too_many_labels', 'attributes', `more than ${MAX_ATTRIBUTES} attributes (resource and data point together)`);
    return;
  }
  if (p.timeMs <= 0) {
    sink.reject('invalid_timestamp', 'timeUnixNano', 'timeUnixNano is missing (0)');
    return;
  }
  if (m.type === 'gauge' || m.type === 'sum') {
    const s = sink.openSeries(m.name, ctx.labels.labels, ctx.labels.labelCount, numberKind(m), 1);
    if (s < 0) return;
    if ((p.flags & FLAG_NO_RECORDED_VALUE) !== 0) sink.addStale(s, p.timeMs);
    else if (!p.hasValue) sink.reject('invalid_value', 'value', 'the data point has neither asDouble nor asInt');
    else sink.addSample(s, p.timeMs, p.value);
    return;
  }
  if (m.type === 'summary') return emitSummary(ctx, m);
  emitDistribution(ctx, m);
}

function emitDistribution(ctx: OtlpContext, m: OtlpMetric): void {
  const p = ctx.point;
  const sink = ctx.sink;
  const stale = (p.flags & FLAG_NO_RECORDED_VALUE) !== 0;
  if (!stale) {
    const problem = m.type === 'histogram' ? explicitProblem(p) : exponentialProblem(p);
    if (problem !== null) {
      sink.reject('invalid_distribution', m.type === 'histogram' ? 'bucketCounts' : 'scale', problem);
      return;
    }
  }
  const kind: SeriesKind = m.temporality === TEMPORALITY_DELTA ? 'delta' : 'counter';
  if (!emitOne(ctx, m.name + '_count', kind, stale, p.count)) return;
  if (p.hasSum || stale) emitOne(ctx, m.name + '_sum', kind, stale, p.sum);
  for (const [q, suffix] of HISTOGRAM_QUANTILES) {
    let v = NaN;
    if (!stale) {
      v =
        m.type === 'histogram'
          ? explicitBucketQuantile(q, p.bounds, p.boundsLen, p.counts, p.countsLen, p.min, p.max)
          : exponentialBucketQuantile(q, p.scale, p.zeroCount, p.zeroThreshold, p.posOffset, p.pos, p.posLen, p.negOffset, p.neg, p.negLen, p.min, p.max);
      if (!Number.isFinite(v)) continue; // no observations, or no buckets: nothing to say
    }
    emitOne(ctx, m.name + suffix, 'gauge', stale, v);
  }
}

function emitSummary(ctx: OtlpContext, m: OtlpMetric): void {
  const p = ctx.point;
  const stale = (p.flags & FLAG_NO_RECORDED_VALUE) !== 0;
  if (!emitOne(ctx, m.name + '_count', 'counter', stale, p.count)) return;
  emitOne(ctx, m.name + '_sum', 'counter', stale, p.sum);
  const ls = ctx.labels;
  const n = ls.labelCount;
  for (let i = 0; i < p.quantilesLen; i += 2) {
    ls.labels[n] = 'quantile';
    ls.labels[n + 1] = String(p.quantiles[i]);
    const s = ctx.sink.openSeries(m.name, ls.labels, n + 2, 'gauge', 1);
    if (s < 0) continue;
    if (stale) ctx.sink.addStale(s, p.timeMs);
    else ctx.sink.addSample(s, p.timeMs, p.quantiles[i + 1]);
  }
}

function emitOne(ctx: OtlpContext, name: string, kind: SeriesKind, stale: boolean, value: number): boolean {
  const s = ctx.sink.openSeries(name, ctx.labels.labels, ctx.labels.labelCount, kind, 1);
  if (s < 0) return false;
  if (stale) ctx.sink.addStale(s, ctx.point.timeMs);
  else ctx.sink.addSample(s, ctx.point.timeMs, value);
  return true;
}

function explicitProblem(p: OtlpPoint): string | null {
  if (p.countsLen === 0 && p.boundsLen === 0) return null;
  if (p.countsLen !== p.boundsLen + 1) return `${p.countsLen} bucket counts for ${p.boundsLen} explicit bounds (needs bounds + 1)`;
  for (let i = 0; i < p.boundsLen; i++) {
    const b = p.bounds[i];
    if (Number.isNaN(b) || (i > 0 && !(b > p.bounds[i - 1]))) return 'explicitBounds are not strictly increasing';
  }
  for (let i = 0; i < p.countsLen; i++) if (!(p.counts[i] >= 0)) return 'a bucket count is negative or not a number';
  return null;
}

function exponentialProblem(p: OtlpPoint): string | null {
  if (!Number.isInteger(p.scale) || p.scale < -10 || p.scale > 20) return `scale ${p.scale} is outside -10..20`;
  if (!(p.zeroThreshold >= 0) || !Number.isFinite(p.zeroThreshold)) return `zeroThreshold ${p.zeroThreshold} is not a finite non-negative number`;
  if (!(p.zeroCount >= 0)) return 'zeroCount is negative or not a number';
  for (let i = 0; i < p.posLen; i++) if (!(p.pos[i] >= 0)) return 'a positive bucket count is negative or not a number';
  for (let i = 0; i < p.negLen; i++) if (!(p.neg[i] >= 0)) return 'a negative bucket count is negative or not a number';
  return null;
}
