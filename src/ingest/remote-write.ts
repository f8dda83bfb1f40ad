import { DEFAULT_MAX_DECODED_BYTES, decompressSnappyShared } from './compression.ts';
import type { SampleSink, SeriesIdentity } from './types.ts';
import { FIXED64, InvalidUtf8, LEN, ProtoReader, VARINT, hashView } from './wire.ts';

/**
 * Prometheus remote_write 1.0 (`prometheus.WriteRequest`, snappy block format). Field numbers
 * from prometheus/prompb:
 *   WriteRequest { repeated TimeSeries timeseries = 1; reserved 2; repeated MetricMetadata metadata = 3; }
 *   TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2;
 *                  repeated Exemplar exemplars = 3; repeated Histogram histograms = 4; }
 *   Label        { string name = 1; string value = 2; }
 *   Sample       { double value = 1; int64 timestamp = 2; }   // timestamp in ms
 * Metadata and exemplars are skipped; native histograms are counted as `unsupported_metric_type`.
 */

/** Prometheus's staleness marker, `model/value.StaleNaN` (a signalling NaN): bits 0x7ff0000000000002. Its NormalNaN is 0x7ff8000000000001. */
export const STALE_NAN_HI = 0x7ff00000;
export const STALE_NAN_LO = 0x00000002;

const TAG_TIMESERIES = (1 << 3) | LEN;
const TAG_LABEL = (1 << 3) | LEN;
const TAG_SAMPLE = (2 << 3) | LEN;
const TAG_EXEMPLAR = (3 << 3) | LEN;
const TAG_HISTOGRAM = (4 << 3) | LEN;
const TAG_NAME = (1 << 3) | LEN;
const TAG_VALUE_STR = (2 << 3) | LEN;
const TAG_VALUE_DBL = (1 << 3) | FIXED64;
const TAG_TIMESTAMP = (2 << 3) | VARINT;

// Reused across calls (decoding is synchronous): label pairs of the current series.
const labels: string[] = [];
// Reused likewise: the label bytes of the current series, as a series-cache identity.
const identity: SeriesIdentity = { bytes: new Uint8Array(0), start: 0, end: 0, hash: 0 };

/** Label sets longer than this (bytes) are not remembered by the series cache, to bound its memory. */
const MAX_IDENTITY_BYTES = 1024;

export interface RemoteWriteOptions {
  /** Largest decompressed body accepted (bytes); default 32 MiB. */
  maxDecodedBytes?: number;
}

/**
 * Decodes a remote_write request body (snappy-compressed `WriteRequest`) into `sink`.
 * Throws `TidemarkError` (TM_ERR_INPUT, TM_ERR_TOO_LARGE) when the body as a whole is unreadable;
 * the sink may then hold part of the payload and should be reset. Per-series and per-sample
 * problems are counted in the sink instead.
 *
 * @example
 * const batch = new IngestBatch();
 * decodeRemoteWrite(req.body, batch);
 */
export function decodeRemoteWrite(body: Uint8Array, sink: SampleSink, options: RemoteWriteOptions = {}): void {
  // Shared scratch: decoding is synchronous and the sink copies what it keeps (strings, cache bytes).
  decodeWriteRequest(decompressSnappyShared(body, options.maxDecodedBytes ?? DEFAULT_MAX_DECODED_BYTES), sink);
}

/** Decodes an uncompressed `prometheus.WriteRequest` into `sink` (see `decodeRemoteWrite`). */
export function decodeWriteRequest(bytes: Uint8Array, sink: SampleSink): void {
  const r = new ProtoReader(bytes, 'remote_write WriteRequest');
  const end = r.buf.length;
  let index = 0;
  while (r.pos < end) {
    const key = r.tag(end);
    if (key >>> 3 === 1) {
      if (key !== TAG_TIMESERIES) throw r.fail('field 1 (timeseries) is not length-delimited');
      const e = r.lenEnd(end);
      sink.where('timeseries', index++);
      readTimeSeries(r, e, sink);
      r.pos = e;
    } else {
      r.skip(key & 7, end); // metadata (3) and fields from newer versions
    }
  }
}

function readTimeSeries(r: ProtoReader, end: number, sink: SampleSink): void {
  // Pass 1: where the labels are and how many samples follow. Protobuf does not order fields,
  // so samples may come before labels; the series must be known before its samples are added.
  const start = r.pos;
  let labelsStart = -1;
  let labelsEnd = -1;
  let contiguous = true;
  let samples = 0;
  let firstSample = -1;
  let histograms = 0;
  while (r.pos < end) {
    const at = r.pos;
    const key = r.tag(end);
    switch (key) {
      case TAG_LABEL:
        if (labelsStart < 0) labelsStart = at;
        else if (labelsEnd !== at) contiguous = false;
        r.pos = labelsEnd = r.lenEnd(end);
        break;
      case TAG_SAMPLE:
        if (firstSample < 0) firstSample = at;
        samples++;
        r.pos = r.lenEnd(end);
        break;
      case TAG_HISTOGRAM:
        histograms++;
        r.pos = r.lenEnd(end);
        break;
      case TAG_EXEMPLAR:
        r.pos = r.lenEnd(end);
        break;
      default:
        if (key >>> 3 <= 4) throw r.fail(`field ${key >>> 3} of TimeSeries has wire type ${key & 7}, expected 2`, at);
        r.skip(key & 7, end);
    }
  }
  if (histograms > 0) {
    sink.reject('unsupported_metric_type', 'histograms', `${histograms} native histogram(s) dropped: native histograms are not supported yet`, histograms);
  }
  if (samples === 0) return;

  // A series seen before is found by a hash of its label bytes, without decoding them again
  // (no key string is built: the sink compares the bytes in place).
  const cacheable = contiguous && labelsStart >= 0 && labelsEnd - labelsStart <= MAX_IDENTITY_BYTES;
  let series = -2;
  if (cacheable) {
    identity.bytes = r.buf;
    identity.start = labelsStart;
    identity.end = labelsEnd;
    identity.hash = hashView(r.view, labelsStart, labelsEnd);
    series = sink.openKnownSeries(identity);
  }
  if (series === -2) {
    series = openFromLabels(r, contiguous ? labelsStart : start, contiguous ? labelsEnd : end, sink, samples, cacheable ? identity : undefined);
  }
  if (series < 0) return;

  // Pass 2: the samples.
  r.pos = firstSample;
  let j = 0;
  while (r.pos < end) {
    const key = r.tag(end);
    if (key !== TAG_SAMPLE) {
      r.skip(key & 7, end);
      continue;
    }
    const e = r.lenEnd(end);
    let value = 0;
    let valueAt = -1;
    let t = 0;
    while (r.pos < e) {
      const k = r.tag(e);
      if (k === TAG_VALUE_DBL) {
        valueAt = r.pos;
        value = r.double(e);
      } else if (k === TAG_TIMESTAMP) {
        t = r.int64(e);
      } else {
        if (k >>> 3 <= 2) throw r.fail(`field ${k >>> 3} of Sample has wire type ${k & 7}`);
        r.skip(k & 7, e);
      }
    }
    sink.whereSub('samples', j++);
    if (value !== value && valueAt >= 0 && r.view.getUint32(valueAt, true) === STALE_NAN_LO && r.view.getUint32(valueAt + 4, true) === STALE_NAN_HI) {
      sink.addStale(series, t);
    } else {
      sink.addSample(series, t, value);
    }
  }
}

/** Decodes the Label fields in [from, to) and opens their series; -1 if it is rejected. */
function openFromLabels(r: ProtoReader, from: number, to: number, sink: SampleSink, samples: number, id: SeriesIdentity | undefined): number {
  let n = 0;
  let metric = '';
  let names = 0;
  let badUtf8 = false;
  r.pos = from;
  while (r.pos < to) {
    const key = r.tag(to);
    if (key !== TAG_LABEL) {
      r.skip(key & 7, to);
      continue;
    }
    const e = r.lenEnd(to);
    let name = '';
    let value = '';
    while (r.pos < e) {
      const k = r.tag(e);
      try {
        if (k === TAG_NAME) name = r.string(e);
        else if (k === TAG_VALUE_STR) value = r.string(e);
        else r.skip(k & 7, e);
      } catch (err) {
        if (!(err instanceof InvalidUtf8)) throw err;
        badUtf8 = true;
      }
    }
    if (name === '__name__') {
      metric = value;
      names++;
    } else {
      labels[n++] = name;
      labels[n++] = value;
    }
  }
  if (badUtf8) return refuse(sink, 'invalid_label_value', 'a label name or value is not valid UTF-8', samples);
  if (names === 0) return refuse(sink, 'missing_metric_name', 'the series has no __name__ label', samples);
  if (names > 1) return refuse(sink, 'duplicate_label_name', 'the __name__ label appears more than once', samples);
  return sink.openSeries(metric, labels, n, 'unknown', samples, id);
}

function refuse(sink: SampleSink, reason: 'invalid_label_value' | 'missing_metric_name' | 'duplicate_label_name', problem: string, samples: number): -1 {
  sink.reject(reason, 'labels', problem, samples);
  return -1;
}
