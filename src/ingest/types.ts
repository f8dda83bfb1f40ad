/**
 * Types of the ingest stage: decoders turn request bodies (bytes) into samples written to a
 * `SampleSink`. The usual sink is an `IngestBatch`, a reusable columnar batch: one row per
 * distinct series (canonical key computed once per series per payload) and typed-array columns
 * per sample, so a 2,000-sample remote_write request makes a handful of objects, not 2,000.
 *
 * Nothing here imports HTTP, database or bus code: decoders are pure functions from bytes to
 * samples, and the HTTP layer maps thrown `TidemarkError`s (whole payload unreadable) to 400/413
 * and per-item rejections (`IngestBatch.rejected`) to partial-success answers.
 */

/**
 * What a series measures, as far as the wire format says. Downstream stages use it to pick
 * detectors (a counter is differentiated before it is judged; a delta already is a rate × step).
 *
 * - `gauge`: a value at a point in time (OTLP Gauge, non-monotonic cumulative Sum, histogram
 *   quantiles `_p50/_p95/_p99`, summary quantiles).
 * - `counter`: monotonic cumulative total (OTLP monotonic cumulative Sum; `_count`/`_sum` of
 *   cumulative histograms and of summaries). A drop is a reset.
 * - `delta`: the increment over the interval that ends at `t` (OTLP DELTA Sum, `_count`/`_sum`
 *   of DELTA histograms). Kept as deltas: converting to cumulative needs state across requests,
 *   which is the series stage's business, not a decoder's.
 * - `unknown`: the format does not say (Prometheus remote_write 1.0 without metadata, Influx
 *   line protocol, JSON batch).
 */
export type SeriesKind = 'gauge' | 'counter' | 'delta' | 'unknown';

/**
 * Why one input item (a remote_write sample, an OTLP data point, a line-protocol field or line,
 * a JSON sample) was not turned into a sample. Stable strings: the API reports them.
 *
 * | code | meaning |
 * |---|---|
 * | `missing_metric_name` | no `__name__` label (remote_write), empty OTLP metric name, a name that sanitises to nothing, JSON sample without `metric` |
 * | `invalid_metric_name` | metric name does not match `[a-zA-Z_:][a-zA-Z0-9_:]*` |
 * | `invalid_label_name` | label name does not match `[a-zA-Z_][a-zA-Z0-9_]*`, or is the reserved `__name__` |
 * | `duplicate_label_name` | the same label name twice in one series |
 * | `invalid_label_value` | label value is not a string (JSON) or not valid UTF-8 (protobuf) |
 * | `too_many_labels` | more labels than `maxLabels` (the metric name does not count) |
 * | `label_value_too_long` | a label value longer than `maxLabelValueLength` characters |
 * | `name_too_long` | a metric or label name longer than `maxNameLength` characters |
 * | `invalid_value` | NaN (other than the Prometheus staleness marker) or ±Infinity |
 * | `non_numeric_value` | a string, boolean or null where a number is needed (JSON), a string field (line protocol) |
 * | `invalid_timestamp` | missing, not an integer, negative, or beyond 2^53 ms |
 * | `timestamp_too_far_in_future` | more than `maxFutureMs` ahead of the injected clock |
 * | `malformed_line` | a line-protocol line that does not parse; the line is skipped, the others are kept |
 * | `malformed_sample` | a JSON sample (or OTLP/JSON element) of the wrong shape |
 * | `unsupported_metric_type` | a remote_write native histogram, an OTLP metric without data or with unspecified temporality |
 * | `invalid_distribution` | an OTLP histogram whose buckets contradict themselves (counts vs bounds, bounds not increasing, scale out of range) |
 */
export type RejectReason =
  | 'missing_metric_name'
  | 'invalid_metric_name'
  | 'invalid_label_name'
  | 'duplicate_label_name'
  | 'invalid_label_value'
  | 'too_many_labels'
  | 'label_value_too_long'
  | 'name_too_long'
  | 'invalid_value'
  | 'non_numeric_value'
  | 'invalid_timestamp'
  | 'timestamp_too_far_in_future'
  | 'malformed_line'
  | 'malformed_sample'
  | 'unsupported_metric_type'
  | 'invalid_distribution';

/** Every reject reason, in the order the table above documents them. */
export const REJECT_REASONS: readonly RejectReason[] = [
  'missing_metric_name',
  'invalid_metric_name',
  'invalid_label_name',
  'duplicate_label_name',
  'invalid_label_value',
  'too_many_labels',
  'label_value_too_long',
  'name_too_long',
  'invalid_value',
  'non_numeric_value',
  'invalid_timestamp',
  'timestamp_too_far_in_future',
  'malformed_line',
  'malformed_sample',
  'unsupported_metric_type',
  'invalid_distribution',
];

/** One rejected item, kept as an example so a person can find and fix it. */
export interface RejectionExample {
  /** Where in the payload: `timeseries[3].samples[1].value`, `samples[7].labels.zone`, `line 12: field "temp"`. */
  field: string;
  /** What is wrong, in words: `NaN is not a valid value (only the staleness marker NaN is)`. */
  problem: string;
  /** 1-based line number for line protocol; absent for other formats. */
  line?: number;
}

/** Count of one reject reason in a batch, with the first few examples. */
export interface RejectionSummary {
  count: number;
  examples: RejectionExample[];
}

/**
 * Validation limits and the clock. Defaults live in `DEFAULT_INGEST_OPTIONS` (batch.ts).
 * The clock is read when the batch is created and on every `reset()`, so all samples of one
 * payload are judged against the same `now`.
 */
export interface IngestOptions {
  /** Milliseconds since the epoch; injected so replay and tests are deterministic. */
  now: () => number;
  /** Samples more than this far ahead of `now` are rejected (ms). */
  maxFutureMs: number;
  /** Labels per series, not counting the metric name. */
  maxLabels: number;
  /** Characters (UTF-16 code units) per label value. */
  maxLabelValueLength: number;
  /** Characters per metric or label name. */
  maxNameLength: number;
  /** Examples kept per reject reason. */
  maxExamplesPerReason: number;
  /**
   * Series remembered across payloads by their raw bytes (remote_write), so a series seen
   * before skips string decoding, validation and key building. 0 disables the cache.
   */
  seriesCacheSize: number;
}

/**
 * A series identity as a byte range of the payload, with `hashBytes(bytes, start, end)` (or
 * `hashView` over a DataView of them) already computed. It is a view: a sink copies the bytes
 * if it keeps them, and decoders may reuse the object.
 */
export interface SeriesIdentity {
  bytes: Uint8Array;
  start: number;
  end: number;
  hash: number;
}

/**
 * Where decoders write. Decoders call, per series: `openSeries` once, then `addSample` /
 * `addStale` per point. Every check shared by all formats (names, label limits, NaN/Inf,
 * timestamps) happens inside the sink, so every format rejects the same things the same way.
 *
 * `where*` calls describe the current position for rejection examples; they only store
 * references (no string building) so they cost nothing unless something is rejected.
 */
export interface SampleSink {
  /** The clock reading for this payload (ms); line protocol uses it for lines without a timestamp. */
  readonly nowMs: number;
  /**
   * Sets the position used in rejection examples: `path[index]` (index < 0: just `path`),
   * or `line N` when `line > 0`. Clears any sub-position.
   */
  where(path: string, index: number, line?: number): void;
  /** Adds `.name[index]` under the current position (index < 0 clears it). */
  whereSub(name: string, index: number): void;
  /**
   * Opens a series for the samples that follow. `labels` is a flat `[name, value, name, value, …]`
   * scratch array of which the first `labelCount` entries are used; it is read, not kept, so
   * decoders may reuse it. Labels with empty values are dropped (Prometheus semantics).
   * Returns the series index, or -1 if the series is rejected, in which case `points` input
   * items are counted under the reason.
   */
  openSeries(metric: string, labels: readonly string[], labelCount: number, kind: SeriesKind, points: number, identity?: string | SeriesIdentity): number;
  /**
   * Fast path for formats whose bytes identify a series: the index of the series that an
   * earlier `openSeries(…, identity)` accepted (in this payload or an earlier one), or -2 if
   * there is none, in which case the decoder decodes the labels and calls `openSeries` with the
   * same `identity`. The identity must determine metric, labels and kind completely.
   * A string identity and a byte identity never match each other.
   */
  openKnownSeries(identity: string | SeriesIdentity): number;
  /** Appends one sample to an open series; returns false (and counts a rejection) if it is invalid. */
  addSample(series: number, t: number, value: number): boolean;
  /** Appends a staleness marker: the series ended at `t` (Prometheus StaleNaN, OTLP no-recorded-value flag). */
  addStale(series: number, t: number): boolean;
  /** Counts `points` rejected input items under `reason`, with `field` + `problem` as a possible example. */
  reject(reason: RejectReason, field: string, problem: string, points?: number): void;
}

/** A sample as a plain object: for tests, small callers and debugging, not for hot paths. */
export interface SampleRecord {
  /** Canonical series key: `name{a="x",b="y"}` (labels sorted, values escaped as in PromQL). */
  key: string;
  metric: string;
  /** Sorted by name. */
  labels: Record<string, string>;
  kind: SeriesKind;
  t: number;
  /** NaN when `stale`. */
  value: number;
  stale: boolean;
}
