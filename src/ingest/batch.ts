import { TidemarkError } from '../errors.ts';
import { isValidLabelName, isValidMetricName, seriesKey } from './names.ts';
import { hashBytes } from './wire.ts';
import type {
  IngestOptions,
  RejectReason,
  RejectionExample,
  RejectionSummary,
  SampleRecord,
  SampleSink,
  SeriesIdentity,
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
const INITIAL_CACHE_SLOTS = 1024;
const INITIAL_ARENA_BYTES = 1 << 16;
/** Distinct strings the intern table holds before it starts over. */
const MAX_INTERNED = 1 << 16;
/** Longer label values are kept as they are: long ones are rarely shared. */
const MAX_INTERNED_LENGTH = 64;
const utf8 = new TextEncoder();

/** A validated series, as remembered by the series cache. */
interface SeriesTemplate {
  key: string;
  metric: string;
  labels: string[];
  kind: SeriesKind;
  /** The batch generation (see `reset`) in which `row` is this series' row. */
  gen: number;
  row: number;
  /** What a consumer attached to this series (see `seriesRef`), and for whom. */
  ref: unknown;
  refOwner: unknown;
}

/**
 * Whether `a[aFrom, aFrom + len)` and `b[bFrom, bFrom + len)` hold the same bytes: four at a
 * time through DataViews (any alignment), then the rest one by one. Written here, not Buffer's
 * memcmp, because it confirms every known series of every request, and the native call costs
 * more than the compare of a 130-byte label set: decoding the ingest benchmark's payloads over a
 * warm 100,000-series cache took 1.13-1.15x less time than with memcmp (4 paired runs, 60
 * rounds each, both versions in one process), and a byte loop was slower than memcmp.
 */
function sameBytes(a: DataView, aFrom: number, b: DataView, bFrom: number, len: number): boolean {
  const d = aFrom - bFrom;
  const end = bFrom + len;
  let j = bFrom;
  for (; j + 4 <= end; j += 4) if (a.getInt32(d + j, true) !== b.getInt32(j, true)) return false;
  for (; j < end; j++) if (a.getUint8(d + j) !== b.getUint8(j)) return false;
  return true;
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
  /** The cached template of each row, undefined for rows without one. */
  #rowTemplates: (SeriesTemplate | undefined)[] = [];
  /** Rows (distinct series) of this batch: the first `#rows` entries of the row arrays above. */
  #rows = 0;
  /** Rows of series without a cached template, by key (the cached ones carry their row). */
  #byKey = new Map<string, number>();
  /** The one template per key of every cached series, so that its row stamp dedupes the batch. */
  #templates = new Map<string, SeriesTemplate>();
  #gen = 1;
  /**
   * One copy of each recent metric name, label name and short value: decoders make a fresh
   * string per label of every new series, and what a series keeps (its labels, in the engine
   * for as long as it lives) would otherwise hold a million copies of "prod". Bounded: it
   * starts over when full, which costs sharing for a while, never correctness.
   */
  #strings = new Map<string, string>();
  // The series cache: identity bytes -> validated series, kept across `reset()` (bounded by
  // `seriesCacheSize`). An open-addressing table (linear probing, load <= 1/2) of entry numbers
  // keyed by a 32-bit hash of the bytes; a hit is confirmed by comparing the stored bytes, so a
  // hash collision costs a probe, never a wrong series. Entry e's bytes are
  // #arena[#entryPlace[2e], #entryPlace[2e] + #entryPlace[2e + 1]). The slot keeps the hash
  // beside the entry number, and an entry's start beside its length, so that a lookup in a
  // cache far larger than the CPU's touches one line of each table instead of one per column.
  #slots = new Int32Array(0); // pairs (hash, entry + 1); entry + 1 = 0: empty
  #entryHash = new Int32Array(0);
  /** The entry `#findEntry` found last (-1: none yet). */
  #lastFound = -1;
  #entryPlace = new Int32Array(0); // pairs (start, length)
  #entryTemplate: SeriesTemplate[] = [];
  #arena = new Uint8Array(0);
  #arenaView: DataView = new DataView(this.#arena.buffer);
  /** The bytes `#findEntry` last compared against (a request's payload) and a DataView of them. */
  #viewed: Uint8Array | undefined;
  #view: DataView = this.#arenaView;
  #arenaUsed = 0;
  /** Hits of the series cache since it was last cleared. */
  #cacheHits = 0;
  /** New series are remembered when the top #sampleBits bits of their identity hash are 0 (0: all). */
  #sampleBits = 0;
  /** Scratch identity for string identities (tests, other sinks' callers). */
  #stringIdentity: SeriesIdentity = { bytes: new Uint8Array(0), start: 0, end: 0, hash: 0 };
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
    // The row arrays keep their length (and their entries, overwritten row by row): truncating
    // them freed their backing stores, and regrowing five of them to 2,000 rows was 28% of the
    // ingest path's allocation (about 180 bytes a sample, by a sampling heap profile).
    this.#rows = 0;
    this.#byKey.clear();
    this.#gen++;
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
    return this.#rows;
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
  /**
   * What `owner` attached to series `i` with `setSeriesRef` in an earlier batch (undefined when
   * nothing, or the series is not in the series cache): the engine keeps its live entry here, so
   * a known series costs the decoder's lookup only, not a second one by key. The caller checks
   * that the reference is still valid.
   */
  seriesRef(i: number, owner: object): unknown {
    const t = this.#rowTemplates[i];
    return t !== undefined && t.refOwner === owner ? t.ref : undefined;
  }
  /** Attaches `ref` for `owner` to series `i` while it stays in the series cache (one owner at a time). */
  setSeriesRef(i: number, owner: object, ref: unknown): void {
    const t = this.#rowTemplates[i];
    if (t === undefined) return;
    t.ref = ref;
    t.refOwner = owner;
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

  openKnownSeries(identity: string | SeriesIdentity): number {
    if (this.#entryTemplate.length === 0) return -2; // the cache is off or cold
    const id = typeof identity === 'string' ? this.#fromString(identity) : identity;
    const e = this.#findEntry(id.bytes, id.start, id.end, id.hash);
    if (e < 0) return -2;
    this.#cacheHits++;
    // A known series already in this batch carries its row: no key hashing, no map.
    const t = this.#entryTemplate[e];
    if (t.gen === this.#gen) return t.row;
    if (this.#byKey.size > 0) {
      const found = this.#byKey.get(t.key);
      if (found !== undefined) return found;
    }
    return this.#addRow(t, true);
  }

  /** Forgets the series cache (memory pressure, or tests). */
  clearSeriesCache(): void {
    // Rows of this batch that only their template remembered move to the key map.
    for (const t of this.#templates.values()) if (t.gen === this.#gen) this.#byKey.set(t.key, t.row);
    this.#templates.clear();
    this.#slots.fill(0);
    this.#entryTemplate.length = 0;
    this.#arenaUsed = 0;
  }

  /**
   * A string identity as its UTF-8 bytes behind a 0xff byte, which starts no UTF-8 text and no
   * remote_write label range (those start with the Label key 0x0a), so the two kinds never meet.
   */
  #fromString(identity: string): SeriesIdentity {
    const text = utf8.encode(identity);
    const bytes = new Uint8Array(text.length + 1);
    bytes[0] = 0xff;
    bytes.set(text, 1);
    const id = this.#stringIdentity;
    id.bytes = bytes;
    id.start = 0;
    id.end = bytes.length;
    id.hash = hashBytes(bytes, 0, bytes.length);
    return id;
  }

  /** The cache entry holding exactly `bytes[start, end)`, or -1. */
  #findEntry(bytes: Uint8Array, start: number, end: number, hash: number): number {
    const slots = this.#slots;
    const mask = (slots.length >> 1) - 1;
    const len = end - start;
    const arena = this.#arenaView;
    const place = this.#entryPlace;
    let view = this.#view;
    if (bytes !== this.#viewed) {
      view = this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      this.#viewed = bytes;
    }
    // A sender repeats its series in the same order request after request (a Prometheus shard,
    // an exporter's loop), and entries are numbered in the order first seen: the entry after
    // the last one found is tried first. Its hash and place sit next to the last one's (no cache
    // miss), where the table slot is a random read that missed the cache for most series.
    const guess = this.#lastFound + 1;
    if (guess < this.#entryTemplate.length && this.#entryHash[guess] === hash && place[2 * guess + 1] === len && sameBytes(arena, place[2 * guess], view, start, len)) {
      this.#lastFound = guess;
      return guess;
    }
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const e = slots[2 * i + 1] - 1;
      if (e < 0) return -1;
      if (slots[2 * i] !== hash || place[2 * e + 1] !== len) continue;
      if (sameBytes(arena, place[2 * e], view, start, len)) {
        this.#lastFound = e;
        return e;
      }
    }
  }

  #remember(id: SeriesIdentity, t: SeriesTemplate): void {
    const len = id.end - id.start;
    if (this.#entryTemplate.length >= this.options.seriesCacheSize) {
      // Full. If under an eighth of what it held was hit again since the last time, new series
      // outrun it (a first sight of a million series, or more live series than it holds): remember
      // only a sample of them from now on (halving down to an eighth), so the entries that are
      // dropped at the next clear (old-generation garbage by then) are fewer, and a stable part
      // of a working set larger than the cache stays in it. A cache that hits again goes back to
      // remembering every series.
      this.#sampleBits = this.#cacheHits < this.#entryTemplate.length >> 3 ? Math.min(this.#sampleBits + 1, 3) : 0;
      this.#cacheHits = 0;
      this.clearSeriesCache(); // crude, but bounded and O(1) amortised
    }
    const e = this.#entryTemplate.length;
    if ((e + 1) * 4 > this.#slots.length) this.#growSlots();
    const known = this.#findEntry(id.bytes, id.start, id.end, id.hash);
    if (known >= 0) {
      this.#entryTemplate[known] = t; // the latest wins, as a Map.set would
      return;
    }
    if (e === this.#entryHash.length) {
      const cap = Math.max(INITIAL_CACHE_SLOTS, e * 2);
      this.#entryHash = copyInto(new Int32Array(cap), this.#entryHash, e);
      this.#entryPlace = copyInto(new Int32Array(2 * cap), this.#entryPlace, 2 * e);
    }
    if (this.#arenaUsed + len > this.#arena.length) {
      let cap = Math.max(INITIAL_ARENA_BYTES, this.#arena.length * 2);
      while (cap < this.#arenaUsed + len) cap *= 2;
      const a = new Uint8Array(cap);
      a.set(this.#arena.subarray(0, this.#arenaUsed));
      this.#arena = a;
      this.#arenaView = new DataView(a.buffer);
    }
    this.#arena.set(id.bytes.subarray(id.start, id.end), this.#arenaUsed);
    this.#entryHash[e] = id.hash;
    this.#entryPlace[2 * e] = this.#arenaUsed;
    this.#entryPlace[2 * e + 1] = len;
    this.#entryTemplate.push(t);
    this.#arenaUsed += len;
    this.#place(this.#slots, id.hash, e);
  }

  #growSlots(): void {
    const slots = new Int32Array(Math.max(2 * INITIAL_CACHE_SLOTS, this.#slots.length * 2));
    for (let e = 0; e < this.#entryTemplate.length; e++) this.#place(slots, this.#entryHash[e], e);
    this.#slots = slots;
  }

  #place(slots: Int32Array, hash: number, e: number): void {
    const mask = (slots.length >> 1) - 1;
    let i = hash & mask;
    while (slots[2 * i + 1] !== 0) i = (i + 1) & mask;
    slots[2 * i] = hash;
    slots[2 * i + 1] = e + 1;
  }

  openSeries(metric: string, labels: readonly string[], labelCount: number, kind: SeriesKind, points: number, identity?: string | SeriesIdentity): number {
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
    const known = this.#templates.size > 0 ? this.#templates.get(key) : undefined;
    if (known !== undefined && known.gen === this.#gen) return known.row;
    const found = this.#byKey.get(key);
    if (found !== undefined) return found;
    if (identity !== undefined && o.seriesCacheSize > 0) {
      const id = typeof identity === 'string' ? this.#fromString(identity) : identity;
      // Under churn (see #remember) only a sample of new series is remembered.
      if (known !== undefined || this.#sampleBits === 0 || id.hash >>> (32 - this.#sampleBits) === 0) {
        // Another byte layout of a cached series shares its template (one row per key).
        const t = known ?? { key, metric: this.#intern(metric), labels: this.#internAll(s, n), kind, gen: 0, row: -1, ref: undefined, refOwner: undefined };
        this.#remember(id, t);
        this.#templates.set(key, t);
        return this.#addRow(t, true);
      }
    }
    return this.#addRow({ key, metric: this.#intern(metric), labels: this.#internAll(s, n), kind, gen: 0, row: -1, ref: undefined, refOwner: undefined }, false);
  }

  #intern(s: string): string {
    if (s.length > MAX_INTERNED_LENGTH) return s;
    const known = this.#strings.get(s);
    if (known !== undefined) return known;
    if (this.#strings.size >= MAX_INTERNED) this.#strings.clear();
    this.#strings.set(s, s);
    return s;
  }

  /** The first `n` entries of `flat`, interned, as a new array. */
  #internAll(flat: readonly string[], n: number): string[] {
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(this.#intern(flat[i]));
    return out;
  }

  /** `cached`: the template is in the series cache and keeps the row; otherwise the key map does. */
  #addRow(t: SeriesTemplate, cached: boolean): number {
    const id = this.#rows++;
    if (cached) {
      t.gen = this.#gen;
      t.row = id;
    } else this.#byKey.set(t.key, id);
    this.#keys[id] = t.key;
    this.#metrics[id] = t.metric;
    this.#labels[id] = t.labels;
    this.#kinds[id] = t.kind;
    this.#rowTemplates[id] = cached ? t : undefined;
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

function copyInto<T extends Int32Array>(to: T, from: Int32Array, n: number): T {
  to.set(from.subarray(0, n));
  return to;
}
