import { TidemarkError } from '../errors.ts';
import { isValidLabelName, isValidMetricName, seriesKey } from './names.ts';
import type {
  IngestOptions,
  RejectReason,
  RejectionExample,
  RejectionSummary,
  SampleRecord,
  SampleSink,
  SeriesKind,
} from './types.ts';
import { REJECT_REASONS } from './types.ts';

/** Defaults for `IngestOptions`, with units. */
export const DEFAULT_INGEST_OPTIONS: Readonly<IngestOptions> = Object.freeze({
  now: Date.now,
  maxFutureMs: 10 * 60 * 1000, // 10 minutes
  maxLabels: 30, // labels per series besides the name (Mimir's default)
  maxLabelValueLength: 2048, // characters (Mimir's default)
  maxNameLength: 1024, // characters (Mimir's default for label names)
  maxExamplesPerReason: 5,
  seriesCacheSize: 1 << 17, // series; ~530 bytes each measured for 6-label series, so ~70 MB when full
});

/** Bit in `IngestBatch.flags`: the sample is a staleness marker (its value is NaN). */
export const STALE_FLAG = 1;

const INITIAL_CAPACITY = 1024;

/** A validated series, as remembered by the series cache. */
interface SeriesTemplate {
  key: string;
  metric: string;
  labels: string[];
  kind: SeriesKind;
}

function checkOptions(input: Partial<IngestOptions>): IngestOptions {
  const o = { ...DEFAULT_INGEST_OPTIONS, ...input };
  if (typeof o.now !== 'function') throw new TidemarkError('TM_ERR_CONFIG', 'must be a function returning ms since the epoch', 'ingest.now');
  for (const k of ['maxFutureMs', 'maxLabels', 'maxLabelValueLength', 'maxNameLength', 'maxExamplesPerReason', 'seriesCacheSize'] as const) {
    const v = o[k];
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new TidemarkError('TM_ERR_CONFIG', `must be a non-negative integer, got ${String(v)}`, `ingest.${k}`);
    }
  }
  return Object.freeze(o);
}

function quote(s: string): string {
  return JSON.stringify(s.length > 80 ? s.slice(0, 80) + '…' : s);
}

/**
 * A reusable columnar batch of decoded samples, and the validation every decoder shares.
 *
 * Series rows (key, metric, labels, kind) are deduplicated by canonical key within the batch.
 * Sample columns are typed arrays: `seriesIds[i]`, `timestamps[i]`, `values[i]`, `flags[i]`
 * for `i < length`. The arrays are replaced when the batch grows, so read them after decoding;
 * `reset()` keeps their capacity for the next payload. Keep one batch per worker and reuse it:
 * its series cache (see `seriesCacheSize`) only pays off across payloads.
 *
 * @example
 * const batch = new IngestBatch({ now: () => Date.now() });
 * decodeRemoteWrite(body, batch);
 * for (let i = 0; i < batch.length; i++) use(batch.seriesKey(batch.seriesIds[i]), batch.timestamps[i], batch.values[i]);
 */
export class IngestBatch implements SampleSink {
  readonly options: Readonly<IngestOptions>;
  #nowMs = 0;
  #maxT = 0;
  #length = 0;
  #seriesIds = new Int32Array(INITIAL_CAPACITY);
  #t = new Float64Array(INITIAL_CAPACITY);
  #v = new Float64Array(INITIAL_CAPACITY);
  #flags = new Uint8Array(INITIAL_CAPACITY);
  #keys: string[] = [];
  #metrics: string[] = [];
  #labels: string[][] = [];
  #kinds: SeriesKind[] = [];
  #byKey = new Map<string, number>();
  /** identity -> validated series; kept across `reset()` (bounded by `seriesCacheSize`). */
  #known = new Map<string, SeriesTemplate>();
  #rejected = new Map<RejectReason, RejectionSummary>();
  #rejectedTotal = 0;
  #staleCount = 0;
  #sorted: string[] = [];
  #path = '';
  #index = -1;
  #line = 0;
  #subName = '';
  #subIndex = -1;

  constructor(options: Partial<IngestOptions> = {}) {
    this.options = checkOptions(options);
    this.reset();
  }

  /** Empties the batch (keeping its buffers) and reads the clock again. */
  reset(): void {
    this.#nowMs = this.options.now();
    this.#maxT = this.#nowMs + this.options.maxFutureMs;
    this.#length = 0;
    this.#keys.length = 0;
    this.#metrics.length = 0;
    this.#labels.length = 0;
    this.#kinds.length = 0;
    this.#byKey.clear();
    this.#rejected.clear();
    this.#rejectedTotal = 0;
    this.#staleCount = 0;
    this.where('', -1);
  }

  get nowMs(): number {
    return this.#nowMs;
  }
  /** Number of samples (stale markers included). */
  get length(): number {
    return this.#length;
  }
  /** Number of distinct series in this batch. */
  get seriesCount(): number {
    return this.#keys.length;
  }
  /** Series index of each sample (valid below `length`; replaced when the batch grows). */
  get seriesIds(): Int32Array {
    return this.#seriesIds;
  }
  /** Timestamp of each sample, ms since the epoch. */
  get timestamps(): Float64Array {
    return this.#t;
  }
  /** Value of each sample; NaN for staleness markers. */
  get values(): Float64Array {
    return this.#v;
  }
  /** Per-sample bits: `STALE_FLAG`. */
  get flags(): Uint8Array {
    return this.#flags;
  }
  /** Staleness markers in the batch. */
  get staleCount(): number {
    return this.#staleCount;
  }
  /** Rejected input items, all reasons together. */
  get rejectedTotal(): number {
    return this.#rejectedTotal;
  }
  /** Rejections by reason (only reasons that occurred). */
  get rejected(): ReadonlyMap<RejectReason, RejectionSummary> {
    return this.#rejected;
  }

  /** Canonical key of series `i`: `name{a="x",b="y"}`. */
  seriesKey(i: number): string {
    return this.#keys[i];
  }
  seriesMetric(i: number): string {
    return this.#metrics[i];
  }
  /** Labels of series `i`, flat `[name, value, …]`, sorted by name, without the metric name. */
  seriesLabels(i: number): readonly string[] {
    return this.#labels[i];
  }
  seriesKind(i: number): SeriesKind {
    return this.#kinds[i];
  }

  where(path: string, index: number, line = 0): void {
    this.#path = path;
    this.#index = index;
    this.#line = line;
    this.#subIndex = -1;
  }

  whereSub(name: string, index: number): void {
    this.#subName = name;
    this.#subIndex = index;
  }

  openKnownSeries(identity: string): number {
    if (this.#known.size === 0) return -2; // skips hashing the identity when the cache is off or cold
    const t = this.#known.get(identity);
    if (t === undefined) return -2;
    const found = this.#byKey.get(t.key);
    return found !== undefined ? found : this.#addRow(t);
  }

  /** Forgets the series cache (memory pressure, or tests). */
  clearSeriesCache(): void {
    this.#known.clear();
  }

  openSeries(metric: string, labels: readonly string[], labelCount: number, kind: SeriesKind, points: number, identity?: string): number {
    const o = this.options;
    if (metric.length === 0) return this.#refuse('missing_metric_name', 'metric', 'the metric name is missing or empty', points);
    if (metric.length > o.maxNameLength) {
      return this.#refuse('name_too_long', 'metric', `metric name is ${metric.length} characters, more than the limit of ${o.maxNameLength}`, points);
    }
    if (!isValidMetricName(metric)) {
      return this.#refuse('invalid_metric_name', 'metric', `${quote(metric)} is not a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)`, points);
    }
    const s = this.#sorted;
    let n = 0;
    for (let i = 0; i < labelCount; i += 2) {
      const name = labels[i];
      const value = labels[i + 1];
      if (value.length === 0) continue; // an empty value means "no such label", as in Prometheus
      if (name.length > o.maxNameLength) {
        return this.#refuse('name_too_long', 'labels', `label name is ${name.length} characters, more than the limit of ${o.maxNameLength}`, points);
      }
      if (!isValidLabelName(name) || name === '__name__') {
        const why = name === '__name__' ? 'is reserved for the metric name' : 'is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)';
        return this.#refuse('invalid_label_name', 'labels', `${quote(name)} ${why}`, points);
      }
      if (value.length > o.maxLabelValueLength) {
        return this.#refuse(
          'label_value_too_long',
          'labels.' + name,
          `value is ${value.length} characters, more than the limit of ${o.maxLabelValueLength}`,
          points,
        );
      }
      // Insertion sort by name: label sets are small and usually already sorted (Prometheus sends them sorted).
      let j = n;
      while (j > 0 && s[j - 2] > name) {
        s[j] = s[j - 2];
        s[j + 1] = s[j - 1];
        j -= 2;
      }
      s[j] = name;
      s[j + 1] = value;
      n += 2;
      // Checked inside the loop so that a hostile label count costs O(limit²), not O(count²).
      if (n / 2 > o.maxLabels) {
        return this.#refuse('too_many_labels', 'labels', `more than the limit of ${o.maxLabels} labels (${labelCount / 2} given)`, points);
      }
    }
    for (let i = 2; i < n; i += 2) {
      if (s[i] === s[i - 2]) return this.#refuse('duplicate_label_name', 'labels', `label ${quote(s[i])} appears more than once`, points);
    }
    const key = seriesKey(metric, s, n);
    const found = this.#byKey.get(key);
    if (found !== undefined) return found;
    const t: SeriesTemplate = { key, metric, labels: s.slice(0, n), kind };
    if (identity !== undefined && o.seriesCacheSize > 0) {
      if (this.#known.size >= o.seriesCacheSize) this.#known.clear(); // crude, but bounded and O(1) amortised
      this.#known.set(identity, t);
    }
    return this.#addRow(t);
  }

  #addRow(t: SeriesTemplate): number {
    const id = this.#keys.length;
    this.#byKey.set(t.key, id);
    this.#keys.push(t.key);
    this.#metrics.push(t.metric);
    this.#labels.push(t.labels);
    this.#kinds.push(t.kind);
    return id;
  }

  addSample(series: number, t: number, value: number): boolean {
    if (!this.#checkTime(t)) return false;
    // value - value is 0 for finite numbers and NaN for NaN and ±Infinity.
    if (value - value !== 0) {
      this.reject('invalid_value', 'value', Number.isNaN(value) ? 'NaN is not a valid value (only the staleness marker is)' : `${value} is not a finite number`);
      return false;
    }
    this.#push(series, t, value, 0);
    return true;
  }

  addStale(series: number, t: number): boolean {
    if (!this.#checkTime(t)) return false;
    this.#push(series, t, NaN, STALE_FLAG);
    this.#staleCount++;
    return true;
  }

  reject(reason: RejectReason, field: string, problem: string, points = 1): void {
    if (points <= 0) return;
    let r = this.#rejected.get(reason);
    if (r === undefined) {
      r = { count: 0, examples: [] };
      this.#rejected.set(reason, r);
    }
    r.count += points;
    this.#rejectedTotal += points;
    if (r.examples.length < this.options.maxExamplesPerReason) {
      const ex: RejectionExample = { field: this.#field(field), problem };
      if (this.#line > 0) ex.line = this.#line;
      r.examples.push(ex);
    }
  }

  /** Rejections in the documented reason order, for API answers and logs. */
  rejections(): { reason: RejectReason; count: number; examples: RejectionExample[] }[] {
    const out: { reason: RejectReason; count: number; examples: RejectionExample[] }[] = [];
    for (const reason of REJECT_REASONS) {
      const r = this.#rejected.get(reason);
      if (r) out.push({ reason, count: r.count, examples: r.examples });
    }
    return out;
  }

  /** The batch as plain objects (allocates one object per sample: for tests and small callers). */
  toSamples(): SampleRecord[] {
    const out: SampleRecord[] = [];
    for (let i = 0; i < this.#length; i++) {
      const s = this.#seriesIds[i];
      const flat = this.#labels[s];
      const labels: Record<string, string> = {};
      // defineProperty, not assignment: a label may be called __proto__.
      for (let j = 0; j < flat.length; j += 2) Object.defineProperty(labels, flat[j], { value: flat[j + 1], enumerable: true, writable: true, configurable: true });
      out.push({
        key: this.#keys[s],
        metric: this.#metrics[s],
        labels,
        kind: this.#kinds[s],
        t: this.#t[i],
        value: this.#v[i],
        stale: (this.#flags[i] & STALE_FLAG) !== 0,
      });
    }
    return out;
  }

  #checkTime(t: number): boolean {
    if (!(t >= 0 && t <= Number.MAX_SAFE_INTEGER && Number.isInteger(t))) {
      this.reject('invalid_timestamp', 'timestamp', `${t} is not a valid timestamp (integer ms since the epoch, 0 to 2^53)`);
      return false;
    }
    if (t > this.#maxT) {
      this.reject(
        'timestamp_too_far_in_future',
        'timestamp',
        `${new Date(t).toISOString()} is more than ${this.options.maxFutureMs} ms ahead of now (${new Date(this.#nowMs).toISOString()}); check the sender's clock and timestamp unit`,
      );
      return false;
    }
    return true;
  }

  #refuse(reason: RejectReason, field: string, problem: string, points: number): -1 {
    this.reject(reason, field, problem, points);
    return -1;
  }

  #field(suffix: string): string {
    if (this.#line > 0) return suffix ? `line ${this.#line}: ${suffix}` : `line ${this.#line}`;
    let f = this.#path;
    if (this.#index >= 0) f += `[${this.#index}]`;
    if (this.#subIndex >= 0) f += `.${this.#subName}[${this.#subIndex}]`;
    if (suffix) f = f ? `${f}.${suffix}` : suffix;
    return f;
  }

  #push(series: number, t: number, value: number, flags: number): void {
    const i = this.#length;
    if (i === this.#t.length) this.#grow();
    this.#seriesIds[i] = series;
    this.#t[i] = t;
    this.#v[i] = value;
    this.#flags[i] = flags;
    this.#length = i + 1;
  }

  #grow(): void {
    const cap = this.#t.length * 2;
    const ids = new Int32Array(cap);
    ids.set(this.#seriesIds);
    this.#seriesIds = ids;
    const t = new Float64Array(cap);
    t.set(this.#t);
    this.#t = t;
    const v = new Float64Array(cap);
    v.set(this.#v);
    this.#v = v;
    const f = new Uint8Array(cap);
    f.set(this.#flags);
    this.#flags = f;
  }
}
