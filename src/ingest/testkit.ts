/**
 * Test and benchmark helpers for ingest: the remote_write and OTLP schemas built with
 * protobufjs's reflection API (protobufjs is a devDependency, used as an independent oracle
 * for the hand-written wire decoder), and a seeded random generator. Not exported from
 * index.ts; production code must not import this file.
 */
import protobuf from 'protobufjs';
import { compress } from 'snappyjs';
import { TidemarkError } from '../errors.ts';
import { IngestBatch } from './batch.ts';
import { decodeJsonBatch } from './json-batch.ts';
import { decodeLineProtocol } from './line-protocol.ts';
import { decodeOtlpJson } from './otlp-json.ts';
import { decodeOtlpProtobuf } from './otlp-protobuf.ts';
import { decodeRemoteWrite, decodeWriteRequest } from './remote-write.ts';
import { mulberry32 } from '../series/index.ts';

const { Type, Field, OneOf, Root } = protobuf;

/** protobufjs's Long constructor (from the `long` package), typed for the few calls tests make. */
export const Long = protobuf.util.Long as unknown as {
  fromString(s: string, unsigned?: boolean): protobuf.Long;
  fromNumber(n: number, unsigned?: boolean): protobuf.Long;
  fromBits(lo: number, hi: number, unsigned?: boolean): protobuf.Long;
};

/** The project's seeded PRNG (mulberry32, src/series/prng.ts). */
export const rng = mulberry32;

/** An integer in [lo, hi]. */
export function int(r: () => number, lo: number, hi: number): number {
  return lo + Math.floor(r() * (hi - lo + 1));
}

export function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)];
}

function field(name: string, id: number, type: string, rule?: 'repeated', packed?: boolean): protobuf.Field {
  return new Field(name, id, type, rule, undefined, packed === undefined ? undefined : { packed });
}

/**
 * `prometheus.WriteRequest` (prompb). `WriteRequestRaw` is the same wire layout with
 * `Sample.value` declared `fixed64`, so tests can write exact NaN bit patterns (the staleness
 * marker) that a `double` field would canonicalise.
 */
export function remoteWriteSchema(): { WriteRequest: protobuf.Type; WriteRequestRaw: protobuf.Type } {
  const root = new Root();
  const ns = root.define('prometheus');
  ns.add(new Type('Label').add(field('name', 1, 'string')).add(field('value', 2, 'string')));
  ns.add(new Type('Sample').add(field('value', 1, 'double')).add(field('timestamp', 2, 'int64')));
  ns.add(new Type('RawSample').add(field('value', 1, 'fixed64')).add(field('timestamp', 2, 'int64')));
  ns.add(new Type('Exemplar').add(field('labels', 1, 'Label', 'repeated')).add(field('value', 2, 'double')).add(field('timestamp', 3, 'int64')));
  ns.add(new Type('Histogram').add(field('count_int', 1, 'uint64')).add(field('sum', 3, 'double')));
  ns.add(
    new Type('TimeSeries')
      .add(field('labels', 1, 'Label', 'repeated'))
      .add(field('samples', 2, 'Sample', 'repeated'))
      .add(field('exemplars', 3, 'Exemplar', 'repeated'))
      .add(field('histograms', 4, 'Histogram', 'repeated')),
  );
  ns.add(new Type('RawTimeSeries').add(field('labels', 1, 'Label', 'repeated')).add(field('samples', 2, 'RawSample', 'repeated')));
  ns.add(new Type('MetricMetadata').add(field('type', 1, 'int32')).add(field('metric_family_name', 2, 'string')).add(field('help', 4, 'string')));
  ns.add(new Type('WriteRequest').add(field('timeseries', 1, 'TimeSeries', 'repeated')).add(field('metadata', 3, 'MetricMetadata', 'repeated')));
  ns.add(new Type('WriteRequestRaw').add(field('timeseries', 1, 'RawTimeSeries', 'repeated')));
  root.resolveAll();
  return { WriteRequest: root.lookupType('prometheus.WriteRequest'), WriteRequestRaw: root.lookupType('prometheus.WriteRequestRaw') };
}

function withOneOf(t: protobuf.Type, name: string, fields: protobuf.Field[]): protobuf.Type {
  for (const f of fields) t.add(f);
  t.add(new OneOf(name, fields.map((f) => f.name)));
  return t;
}

/**
 * `opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest` and everything it
 * contains (field numbers from opentelemetry-proto). Repeated numbers in histogram points are
 * packed, as real exporters send them; `packed: false` writes them one by one instead.
 */
export function otlpSchema(packed = true): { ExportMetricsServiceRequest: protobuf.Type } {
  const root = new Root();
  const ns = root.define('otlp');
  const any = withOneOf(new Type('AnyValue'), 'value', [
    field('stringValue', 1, 'string'),
    field('boolValue', 2, 'bool'),
    field('intValue', 3, 'int64'),
    field('doubleValue', 4, 'double'),
    field('arrayValue', 5, 'ArrayValue'),
    field('kvlistValue', 6, 'KeyValueList'),
    field('bytesValue', 7, 'bytes'),
  ]);
  ns.add(any);
  ns.add(new Type('ArrayValue').add(field('values', 1, 'AnyValue', 'repeated')));
  ns.add(new Type('KeyValueList').add(field('values', 1, 'KeyValue', 'repeated')));
  ns.add(new Type('KeyValue').add(field('key', 1, 'string')).add(field('value', 2, 'AnyValue')));
  ns.add(new Type('Resource').add(field('attributes', 1, 'KeyValue', 'repeated')).add(field('droppedAttributesCount', 2, 'uint32')));
  ns.add(new Type('InstrumentationScope').add(field('name', 1, 'string')).add(field('version', 2, 'string')));
  ns.add(
    withOneOf(
      new Type('NumberDataPoint')
        .add(field('attributes', 7, 'KeyValue', 'repeated'))
        .add(field('startTimeUnixNano', 2, 'fixed64'))
        .add(field('timeUnixNano', 3, 'fixed64'))
        .add(field('flags', 8, 'uint32')),
      'value',
      [field('asDouble', 4, 'double'), field('asInt', 6, 'sfixed64')],
    ),
  );
  ns.add(
    new Type('HistogramDataPoint')
      .add(field('attributes', 9, 'KeyValue', 'repeated'))
      .add(field('startTimeUnixNano', 2, 'fixed64'))
      .add(field('timeUnixNano', 3, 'fixed64'))
      .add(field('count', 4, 'fixed64'))
      .add(field('sum', 5, 'double'))
      .add(field('bucketCounts', 6, 'fixed64', 'repeated', packed))
      .add(field('explicitBounds', 7, 'double', 'repeated', packed))
      .add(field('flags', 10, 'uint32'))
      .add(field('min', 11, 'double'))
      .add(field('max', 12, 'double')),
  );
  ns.add(new Type('Buckets').add(field('offset', 1, 'sint32')).add(field('bucketCounts', 2, 'uint64', 'repeated', packed)));
  ns.add(
    new Type('ExponentialHistogramDataPoint')
      .add(field('attributes', 1, 'KeyValue', 'repeated'))
      .add(field('startTimeUnixNano', 2, 'fixed64'))
      .add(field('timeUnixNano', 3, 'fixed64'))
      .add(field('count', 4, 'fixed64'))
      .add(field('sum', 5, 'double'))
      .add(field('scale', 6, 'sint32'))
      .add(field('zeroCount', 7, 'fixed64'))
      .add(field('positive', 8, 'Buckets'))
      .add(field('negative', 9, 'Buckets'))
      .add(field('flags', 10, 'uint32'))
      .add(field('min', 12, 'double'))
      .add(field('max', 13, 'double'))
      .add(field('zeroThreshold', 14, 'double')),
  );
  ns.add(new Type('ValueAtQuantile').add(field('quantile', 1, 'double')).add(field('value', 2, 'double')));
  ns.add(
    new Type('SummaryDataPoint')
      .add(field('attributes', 7, 'KeyValue', 'repeated'))
      .add(field('startTimeUnixNano', 2, 'fixed64'))
      .add(field('timeUnixNano', 3, 'fixed64'))
      .add(field('count', 4, 'fixed64'))
      .add(field('sum', 5, 'double'))
      .add(field('quantileValues', 6, 'ValueAtQuantile', 'repeated'))
      .add(field('flags', 8, 'uint32')),
  );
  ns.add(new Type('Gauge').add(field('dataPoints', 1, 'NumberDataPoint', 'repeated')));
  ns.add(
    new Type('Sum')
      .add(field('dataPoints', 1, 'NumberDataPoint', 'repeated'))
      .add(field('aggregationTemporality', 2, 'int32'))
      .add(field('isMonotonic', 3, 'bool')),
  );
  ns.add(new Type('Histogram').add(field('dataPoints', 1, 'HistogramDataPoint', 'repeated')).add(field('aggregationTemporality', 2, 'int32')));
  ns.add(
    new Type('ExponentialHistogram')
      .add(field('dataPoints', 1, 'ExponentialHistogramDataPoint', 'repeated'))
      .add(field('aggregationTemporality', 2, 'int32')),
  );
  ns.add(new Type('Summary').add(field('dataPoints', 1, 'SummaryDataPoint', 'repeated')));
  ns.add(
    withOneOf(new Type('Metric').add(field('name', 1, 'string')).add(field('description', 2, 'string')).add(field('unit', 3, 'string')), 'data', [
      field('gauge', 5, 'Gauge'),
      field('sum', 7, 'Sum'),
      field('histogram', 9, 'Histogram'),
      field('exponentialHistogram', 10, 'ExponentialHistogram'),
      field('summary', 11, 'Summary'),
    ]),
  );
  ns.add(
    new Type('ScopeMetrics')
      .add(field('scope', 1, 'InstrumentationScope'))
      .add(field('metrics', 2, 'Metric', 'repeated'))
      .add(field('schemaUrl', 3, 'string')),
  );
  ns.add(
    new Type('ResourceMetrics')
      .add(field('resource', 1, 'Resource'))
      .add(field('scopeMetrics', 2, 'ScopeMetrics', 'repeated'))
      .add(field('schemaUrl', 3, 'string')),
  );
  ns.add(new Type('ExportMetricsServiceRequest').add(field('resourceMetrics', 1, 'ResourceMetrics', 'repeated')));
  root.resolveAll();
  return { ExportMetricsServiceRequest: root.lookupType('otlp.ExportMetricsServiceRequest') };
}

// ---------------------------------------------------------------------------------------------
// Fuzzing: seeds, mutations and targets shared by fuzz.test.ts and scripts/fuzz-ingest.ts.

/** A mutated copy of `input`: bit flips, byte overwrites, truncation, insertion, duplication, deletion. */
export function mutate(r: () => number, input: Uint8Array): Uint8Array {
  let b = Uint8Array.from(input);
  for (let n = int(r, 1, 4); n > 0; n--) {
    const at = b.length === 0 ? 0 : int(r, 0, b.length - 1);
    switch (int(r, 0, 7)) {
      case 0:
        if (b.length) b[at] ^= 1 << int(r, 0, 7);
        break;
      case 1:
        if (b.length) b[at] = int(r, 0, 255);
        break;
      case 2:
        if (b.length) b[at] = pick(r, [0x00, 0x7f, 0x80, 0xff, 0x0a, 0x22, 0x5c, 0x2c, 0x3d, 0x20]);
        break;
      case 3:
        b = b.subarray(0, at);
        break;
      case 4: {
        const ins = Uint8Array.from({ length: int(r, 1, 8) }, () => int(r, 0, 255));
        b = Uint8Array.from([...b.subarray(0, at), ...ins, ...b.subarray(at)]);
        break;
      }
      case 5: {
        const len = int(r, 1, Math.max(1, Math.min(64, b.length - at)));
        b = Uint8Array.from([...b.subarray(0, at + len), ...b.subarray(at, at + len), ...b.subarray(at + len)]);
        break;
      }
      case 6:
        b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + int(r, 1, 16))]);
        break;
      default:
        // A varint that never ends, or a huge length.
        b = Uint8Array.from([...b.subarray(0, at), 0xff, 0xff, 0xff, 0xff, 0x0f, ...b.subarray(at)]);
    }
  }
  return b;
}

/** Random bytes of random length. */
export function randomBytes(r: () => number, max = 512): Uint8Array {
  return Uint8Array.from({ length: int(r, 0, max) }, () => int(r, 0, 255));
}

export const FUZZ_NOW = 1_700_000_000_000;
const NS = `${FUZZ_NOW}000000`;

/** Valid payloads of each format to mutate. */
export function fuzzSeeds(r: () => number): Record<'remoteWrite' | 'otlp' | 'otlpJson' | 'lineProtocol' | 'jsonBatch', Uint8Array[]> {
  const { WriteRequest } = remoteWriteSchema();
  const { ExportMetricsServiceRequest: Req } = otlpSchema();
  const remoteWrite: Uint8Array[] = [];
  for (let i = 0; i < 8; i++) {
    const timeseries = Array.from({ length: int(r, 1, 6) }, (_, s) => ({
      labels: [
        { name: '__name__', value: `metric_${s}` },
        { name: 'instance', value: `host-${int(r, 0, 9)}:9100` },
        { name: 'zone', value: pick(r, ['eu', 'us', 'ü', '']) },
      ],
      samples: Array.from({ length: int(r, 1, 3) }, (_, k) => ({ value: r() * 100, timestamp: FUZZ_NOW - k * 15_000 })),
    }));
    remoteWrite.push(WriteRequest.encode(WriteRequest.fromObject({ timeseries, metadata: [{ type: 1, metric_family_name: 'm', help: 'h' }] })).finish());
  }
  const t = Long.fromString(NS, true);
  const attrs = [
    { key: 'http.route', value: { stringValue: '/api' } },
    { key: 'n', value: { arrayValue: { values: [{ intValue: 3 }, { kvlistValue: { values: [{ key: 'k', value: { boolValue: true } }] } }] } } },
  ];
  const otlpDoc = {
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'auth' } }] },
        scopeMetrics: [
          {
            scope: { name: 'lib' },
            metrics: [
              { name: 'g', gauge: { dataPoints: [{ attributes: attrs, timeUnixNano: t, asDouble: 1.5 }] } },
              { name: 's', sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: [{ timeUnixNano: t, asInt: Long.fromNumber(7) }] } },
              {
                name: 'h',
                histogram: {
                  aggregationTemporality: 1,
                  dataPoints: [{ attributes: attrs, timeUnixNano: t, count: Long.fromNumber(6, true), sum: 3, bucketCounts: [1, 2, 3].map((n) => Long.fromNumber(n, true)), explicitBounds: [0.1, 1] }],
                },
              },
              {
                name: 'e',
                exponentialHistogram: {
                  aggregationTemporality: 2,
                  dataPoints: [{ timeUnixNano: t, count: Long.fromNumber(5, true), scale: 3, zeroCount: Long.fromNumber(1, true), positive: { offset: -2, bucketCounts: [Long.fromNumber(4, true)] } }],
                },
              },
              { name: 'q', summary: { dataPoints: [{ timeUnixNano: t, count: Long.fromNumber(2, true), sum: 1, quantileValues: [{ quantile: 0.5, value: 0.4 }] }] } },
            ],
          },
        ],
      },
    ],
  };
  const otlpBytes = Req.encode(Req.fromObject(otlpDoc)).finish();
  const otlpJson = JSON.stringify(Req.toObject(Req.decode(otlpBytes), { longs: String, bytes: String, enums: Number }));
  const enc = new TextEncoder();
  return {
    remoteWrite,
    otlp: [otlpBytes],
    otlpJson: [enc.encode(otlpJson)],
    lineProtocol: [
      enc.encode(`# c\ncpu,host=a,region=eu\\ west usage_idle=98.5,usage_user=1i,ok=t,msg="hi \\"x\\"" ${NS}\nmem free=3u\n\nweather,city=Zürich temp=21.5 ${NS}\r\n`),
    ],
    jsonBatch: [enc.encode(JSON.stringify({ samples: [{ metric: 'up', labels: { job: 'a' }, t: FUZZ_NOW, value: 1 }, { metric: 'x', t: FUZZ_NOW, value: 2.5 }] }))],
  };
}

export type FuzzTarget = 'remoteWrite' | 'remoteWriteSnappy' | 'otlp' | 'otlpJson' | 'lineProtocol' | 'jsonBatch';

/** Decoders under fuzz, each with the seed set it mutates. */
export const FUZZ_TARGETS: Record<FuzzTarget, { seeds: keyof ReturnType<typeof fuzzSeeds>; snappy?: boolean; decode: (input: Uint8Array, batch: IngestBatch) => void }> = {
  remoteWrite: { seeds: 'remoteWrite', decode: (b, batch) => decodeWriteRequest(b, batch) },
  remoteWriteSnappy: { seeds: 'remoteWrite', snappy: true, decode: (b, batch) => decodeRemoteWrite(b, batch) },
  otlp: { seeds: 'otlp', decode: (b, batch) => decodeOtlpProtobuf(b, batch) },
  otlpJson: { seeds: 'otlpJson', decode: (b, batch) => decodeOtlpJson(b, batch) },
  lineProtocol: { seeds: 'lineProtocol', decode: (b, batch) => decodeLineProtocol(b, batch) },
  jsonBatch: { seeds: 'jsonBatch', decode: (b, batch) => decodeJsonBatch(b, batch) },
};

/** The fuzz inputs of one iteration: a mutated seed (snappy-compressed when the target wants it) or, sometimes, random bytes. */
export function fuzzInput(r: () => number, target: FuzzTarget, seeds: ReturnType<typeof fuzzSeeds>): Uint8Array {
  const t = FUZZ_TARGETS[target];
  if (r() < 0.1) return randomBytes(r);
  const seed = pick(r, seeds[t.seeds]);
  if (!t.snappy) return mutate(r, seed);
  // Mutate either the protobuf inside (valid snappy) or the snappy stream itself.
  return r() < 0.5 ? compress(mutate(r, seed)) : mutate(r, compress(seed));
}

/**
 * Decodes one input and checks the contract: it either succeeds with a batch whose samples
 * are all valid, or throws a TidemarkError. Returns a description of a violation, or null.
 */
export function fuzzCheck(target: FuzzTarget, input: Uint8Array, batch: IngestBatch): string | null {
  batch.reset();
  try {
    FUZZ_TARGETS[target].decode(input, batch);
  } catch (e) {
    return e instanceof TidemarkError ? null : `threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
  }
  for (let i = 0; i < batch.length; i++) {
    const t = batch.timestamps[i];
    const v = batch.values[i];
    const stale = (batch.flags[i] & 1) === 1;
    if (!Number.isSafeInteger(t) || t < 0 || t > FUZZ_NOW + batch.options.maxFutureMs) return `sample ${i} has timestamp ${t}`;
    if (stale ? !Number.isNaN(v) : !Number.isFinite(v)) return `sample ${i} has value ${v}`;
    const s = batch.seriesIds[i];
    if (s < 0 || s >= batch.seriesCount) return `sample ${i} has series ${s}`;
  }
  return null;
}
