import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import protobuf from 'protobufjs';
import { TidemarkError } from '../errors.ts';
import { IngestBatch } from './batch.ts';
import { decodeOtlpJson } from './otlp-json.ts';
import { decodeOtlpProtobuf } from './otlp-protobuf.ts';
import type { OtlpOptions } from './otlp.ts';
import { int, Long, otlpSchema, pick, rng } from './testkit.ts';
import type { SampleRecord } from './types.ts';

const NOW = 1_700_000_000_000;
const NS = `${NOW}000000`;
const { ExportMetricsServiceRequest: Req } = otlpSchema();
const { ExportMetricsServiceRequest: ReqUnpacked } = otlpSchema(false);

function newBatch(): IngestBatch {
  return new IngestBatch({ now: () => NOW });
}

function fromJson(doc: unknown, options?: OtlpOptions): IngestBatch {
  const b = newBatch();
  decodeOtlpJson(JSON.stringify(doc), b, options);
  return b;
}

function fromProto(type: protobuf.Type, doc: object, options?: OtlpOptions): IngestBatch {
  const b = newBatch();
  decodeOtlpProtobuf(type.encode(type.fromObject(doc)).finish(), b, options);
  return b;
}

function rows(b: IngestBatch): [string, string, number, boolean?][] {
  return b.toSamples().map((s) => (s.stale ? [s.key, s.kind, s.t, true] : [s.key, s.kind, s.value]));
}

function request(metrics: object[], resourceAttributes: object[] = []): object {
  return { resourceMetrics: [{ resource: { attributes: resourceAttributes }, scopeMetrics: [{ scope: { name: 'lib', version: '1.0' }, metrics }] }] };
}

const str = (key: string, value: string) => ({ key, value: { stringValue: value } });

// ---------------------------------------------------------------------------------------------
// Random requests: both encodings of the same request must give the same batch.

const KEYS = ['service.name', 'host.name', 'http.route', 'http.response.status_code', 'k8s-pod', '9lives', '_x', 'a.b', 'a_b', 'ünï', 'process.pid', 'telemetry.sdk.name'];

function randomAny(r: () => number, depth: number): object {
  switch (int(r, 0, depth > 2 ? 4 : 6)) {
    case 0:
      return { stringValue: pick(r, ['auth', '', 'say "hi"', '東京', 'a\\b']) };
    case 1:
      return { boolValue: r() < 0.5 };
    case 2:
      return { intValue: Long.fromString(pick(r, ['0', '-7', '9007199254740993', '-9223372036854775808', String(int(r, 0, 1e9))])) };
    case 3:
      return { doubleValue: pick(r, [1.5, -0, 1e300, NaN, Infinity, r()]) };
    case 4:
      return { bytesValue: Uint8Array.from([int(r, 0, 255), 1, 2]) };
    case 5:
      return { arrayValue: { values: [randomAny(r, depth + 1), randomAny(r, depth + 1)] } };
    default:
      return { kvlistValue: { values: [{ key: 'k', value: randomAny(r, depth + 1) }] } };
  }
}

function randomAttrs(r: () => number): object[] {
  const out = [];
  const used = new Set<string>();
  for (let i = int(r, 0, 4); i > 0; i--) {
    const key = pick(r, KEYS);
    if (used.has(key)) continue;
    used.add(key);
    out.push({ key, value: randomAny(r, 0) });
  }
  return out;
}

function time(r: () => number): protobuf.Long {
  return Long.fromString(`${NOW - int(r, 0, 1e6)}${String(int(r, 0, 999_999)).padStart(6, '0')}`, true);
}

function u64(n: number): protobuf.Long {
  return Long.fromNumber(n, true);
}

function randomPoint(r: () => number, type: string): object {
  const p: Record<string, unknown> = { attributes: randomAttrs(r), timeUnixNano: r() < 0.03 ? u64(0) : time(r), startTimeUnixNano: time(r) };
  if (r() < 0.1) p.flags = 1;
  switch (type) {
    case 'gauge':
    case 'sum':
      if (r() < 0.5) p.asDouble = pick(r, [r() * 100, -1.25, NaN, 0]);
      else if (r() < 0.9) p.asInt = Long.fromNumber(int(r, -1e6, 1e6));
      return p;
    case 'histogram': {
      const n = int(r, 0, 5);
      const bounds = Array.from({ length: n }, (_, i) => (i + 1) * pick(r, [0.1, 1, 10]));
      const counts = n === 0 ? [] : Array.from({ length: n + 1 }, () => int(r, 0, 20));
      p.explicitBounds = bounds;
      p.bucketCounts = counts.map(u64);
      p.count = u64(counts.reduce((a, b) => a + b, 0));
      if (r() < 0.8) p.sum = r() * 100;
      if (r() < 0.5) p.min = 0.01;
      if (r() < 0.5) p.max = 1000;
      return p;
    }
    case 'exponentialHistogram': {
      const pos = Array.from({ length: int(r, 0, 6) }, () => int(r, 0, 9));
      const neg = Array.from({ length: int(r, 0, 2) }, () => int(r, 0, 3));
      p.scale = int(r, -3, 8);
      p.zeroCount = u64(int(r, 0, 3));
      p.positive = { offset: int(r, -20, 20), bucketCounts: pos.map(u64) };
      if (neg.length > 0) p.negative = { offset: int(r, -5, 5), bucketCounts: neg.map(u64) };
      p.count = u64(pos.concat(neg).reduce((a, b) => a + b, 0));
      p.sum = r() * 10;
      if (r() < 0.3) p.zeroThreshold = 1e-9;
      return p;
    }
    default:
      p.count = u64(int(r, 0, 100));
      p.sum = r() * 100;
      p.quantileValues = [
        { quantile: 0.5, value: r() },
        { quantile: 0.99, value: r() * 2 },
      ];
      return p;
  }
}

function randomRequest(r: () => number): object {
  const resourceMetrics = [];
  for (let ri = int(r, 1, 2); ri > 0; ri--) {
    const metrics = [];
    for (let m = int(r, 1, 5); m > 0; m--) {
      const type = pick(r, ['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary']);
      const dataPoints = Array.from({ length: int(r, 0, 3) }, () => randomPoint(r, type));
      const data: Record<string, unknown> = { dataPoints };
      if (type === 'sum' || type === 'histogram' || type === 'exponentialHistogram') data.aggregationTemporality = pick(r, [1, 2, 2, 0]);
      if (type === 'sum') data.isMonotonic = r() < 0.5;
      metrics.push({ name: pick(r, ['http.server.duration', 'requests', 'queue-depth', 'cpu.utilization', '']), unit: 's', [type]: data });
    }
    resourceMetrics.push({ resource: { attributes: randomAttrs(r) }, scopeMetrics: [{ scope: { name: 'x' }, metrics }] });
  }
  return { resourceMetrics };
}

/** protobufjs's decode of the bytes, written as OTLP/JSON (lowerCamelCase, int64 as strings, NaN as "NaN"). */
function asOtlpJson(bytes: Uint8Array): string {
  const obj = Req.toObject(Req.decode(bytes), { longs: String, bytes: String, enums: Number });
  return JSON.stringify(obj, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v));
}

describe('OTLP protobuf and JSON decoders agree', () => {
  it('gives the same samples and rejections for 300 random requests in both encodings', () => {
    const r = rng(51);
    let samples = 0;
    const reasons = new Set<string>();
    for (let iter = 0; iter < 300; iter++) {
      const bytes = Req.encode(Req.fromObject(randomRequest(r))).finish();
      const a = newBatch();
      decodeOtlpProtobuf(bytes, a);
      const b = newBatch();
      decodeOtlpJson(asOtlpJson(bytes), b);
      assert.deepEqual(b.toSamples(), a.toSamples(), `request ${iter}`);
      assert.deepEqual(b.rejections(), a.rejections(), `request ${iter}`);
      samples += a.length;
      for (const x of a.rejections()) reasons.add(x.reason);
    }
    assert.ok(samples > 1000, `only ${samples} samples compared`);
    // The random requests exercise the rejection paths too.
    for (const reason of ['invalid_value', 'invalid_timestamp', 'unsupported_metric_type', 'missing_metric_name']) assert.ok(reasons.has(reason), reason);
  });

  it('reads unpacked repeated fields like packed ones', () => {
    const r = rng(52);
    for (let iter = 0; iter < 50; iter++) {
      const doc = randomRequest(r);
      assert.deepEqual(fromProto(ReqUnpacked, doc).toSamples(), fromProto(Req, doc).toSamples());
    }
  });
});

describe('OTLP protobuf against protobufjs', () => {
  it('decodes gauge and sum points with the values, times and labels protobufjs reads', () => {
    const r = rng(53);
    const keys: Record<string, string> = { 'service.name': 'service_name', 'http.route': 'http_route', 'host.name': 'host_name' };
    for (let iter = 0; iter < 100; iter++) {
      const metrics = [];
      for (let m = int(r, 1, 4); m > 0; m--) {
        const dataPoints = Array.from({ length: int(r, 1, 3) }, () => ({
          attributes: [str(pick(r, ['http.route', 'host.name']), pick(r, ['/a', '/b', 'h1']))],
          timeUnixNano: time(r),
          asDouble: r() * 1000,
        }));
        metrics.push({ name: `m${m}`, sum: { dataPoints, aggregationTemporality: 2, isMonotonic: true } });
      }
      const bytes = Req.encode(Req.fromObject(request(metrics, [str('service.name', `svc${iter}`)]))).finish();
      const decoded = Req.toObject(Req.decode(bytes), { longs: String }) as {
        resourceMetrics: {
          resource: { attributes: { key: string; value: { stringValue: string } }[] };
          scopeMetrics: { metrics: { name: string; sum: { dataPoints: { attributes: { key: string; value: { stringValue: string } }[]; timeUnixNano: string; asDouble: number }[] } }[] }[];
        }[];
      };
      const expected: SampleRecord[] = [];
      const res = decoded.resourceMetrics[0].resource.attributes;
      for (const m of decoded.resourceMetrics[0].scopeMetrics[0].metrics) {
        for (const dp of m.sum.dataPoints) {
          const labels: Record<string, string> = {};
          for (const a of [...res, ...dp.attributes].sort((x, y) => (keys[x.key] < keys[y.key] ? -1 : 1))) labels[keys[a.key]] = a.value.stringValue;
          const key = `${m.name}{${Object.entries(labels)
            .map(([k, v]) => `${k}="${v}"`)
            .join(',')}}`;
          expected.push({ key, metric: m.name, labels, kind: 'counter', t: Number(BigInt(dp.timeUnixNano) / 1_000_000n), value: dp.asDouble, stale: false });
        }
      }
      const b = newBatch();
      decodeOtlpProtobuf(bytes, b);
      // Points of one series in one request share a row; compare per point.
      assert.deepEqual(b.toSamples(), expected, `request ${iter}`);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The mapping, case by case (JSON input is easier to read; both decoders share the mapping).

describe('OTLP mapping', () => {
  it('maps gauges, resource attributes and data point attributes to labels', () => {
    const b = fromJson(
      request(
        [
          {
            name: 'system.cpu.utilization',
            gauge: {
              dataPoints: [
                { attributes: [str('cpu', '0'), str('host.name', 'override')], timeUnixNano: NS, asDouble: 0.5 },
                { attributes: [str('cpu', '1')], timeUnixNano: NS, asInt: '3' },
              ],
            },
          },
        ],
        [str('service.name', 'auth'), str('host.name', 'h1'), { key: 'process.pid', value: { intValue: '4242' } }, str('telemetry.sdk.name', 'opentelemetry')],
      ),
    );
    assert.deepEqual(rows(b), [
      ['system_cpu_utilization{cpu="0",host_name="override",service_name="auth"}', 'gauge', 0.5],
      ['system_cpu_utilization{cpu="1",host_name="h1",service_name="auth"}', 'gauge', 3],
    ]);
    assert.equal(b.rejectedTotal, 0);
  });

  it('honours resourceAttributes and ignoreResourceAttributes', () => {
    const doc = request([{ name: 'g', gauge: { dataPoints: [{ timeUnixNano: NS, asDouble: 1 }] } }], [str('service.name', 'auth'), str('host.name', 'h1'), str('process.pid', '1')]);
    assert.deepEqual(rows(fromJson(doc, { resourceAttributes: ['service.name'] })), [['g{service_name="auth"}', 'gauge', 1]]);
    assert.deepEqual(rows(fromJson(doc, { ignoreResourceAttributes: ['host.name'] })), [['g{process_pid="1",service_name="auth"}', 'gauge', 1]]);
  });

  const sums: { name: string; temporality: number; monotonic: boolean; kind: string }[] = [
    { name: 'monotonic cumulative sums are counters', temporality: 2, monotonic: true, kind: 'counter' },
    { name: 'non-monotonic cumulative sums are gauges', temporality: 2, monotonic: false, kind: 'gauge' },
    { name: 'delta sums stay deltas', temporality: 1, monotonic: true, kind: 'delta' },
    { name: 'non-monotonic delta sums stay deltas', temporality: 1, monotonic: false, kind: 'delta' },
  ];
  for (const c of sums) {
    it(c.name, () => {
      const b = fromJson(request([{ name: 'requests', sum: { aggregationTemporality: c.temporality, isMonotonic: c.monotonic, dataPoints: [{ timeUnixNano: NS, asInt: '7' }] } }]));
      assert.deepEqual(rows(b), [['requests', c.kind, 7]]);
    });
  }

  it('rejects sums and histograms with unspecified temporality', () => {
    const b = fromJson(request([{ name: 'requests', sum: { isMonotonic: true, dataPoints: [{ timeUnixNano: NS, asInt: '7' }, { timeUnixNano: NS, asInt: '8' }] } }]));
    assert.equal(b.length, 0);
    const r = b.rejected.get('unsupported_metric_type');
    assert.equal(r?.count, 2);
    assert.match(r?.examples[0].problem ?? '', /aggregation temporality 0 is not DELTA \(1\) or CUMULATIVE \(2\)/);
    assert.equal(r?.examples[0].field, 'resourceMetrics[0].scopeMetrics[0].metrics[0].aggregationTemporality');
  });

  it('keeps histograms as _count, _sum and interpolated _p50/_p95/_p99', () => {
    const b = fromJson(
      request([
        {
          name: 'http.server.request.duration',
          histogram: {
            aggregationTemporality: 1,
            dataPoints: [
              {
                attributes: [str('http.route', '/login')],
                timeUnixNano: NS,
                count: '100',
                sum: 12.5,
                bucketCounts: ['50', '40', '10', '0'],
                explicitBounds: [0.1, 0.5, 1],
              },
            ],
          },
        },
      ]),
    );
    const rowsOf = rows(b);
    assert.deepEqual(
      rowsOf.map((x) => [x[0], x[1]]),
      [
        ['http_server_request_duration_count{http_route="/login"}', 'delta'],
        ['http_server_request_duration_sum{http_route="/login"}', 'delta'],
        ['http_server_request_duration_p50{http_route="/login"}', 'gauge'],
        ['http_server_request_duration_p95{http_route="/login"}', 'gauge'],
        ['http_server_request_duration_p99{http_route="/login"}', 'gauge'],
      ],
    );
    const v = rowsOf.map((x) => x[2]);
    assert.equal(v[0], 100);
    assert.equal(v[1], 12.5);
    assert.ok(Math.abs(v[2] - 0.1) < 1e-12, `p50 ${v[2]}`); // rank 50 is the top of the first bucket
    assert.ok(Math.abs(v[3] - 0.75) < 1e-12, `p95 ${v[3]}`); // rank 95: halfway through (0.5, 1]
    assert.ok(Math.abs(v[4] - 0.95) < 1e-12, `p99 ${v[4]}`);
  });

  it('gives cumulative histograms counter _count/_sum, no _sum when absent, and no quantiles without observations', () => {
    const b = fromJson(
      request([{ name: 'h', histogram: { aggregationTemporality: 2, dataPoints: [{ timeUnixNano: NS, count: '0', bucketCounts: ['0', '0'], explicitBounds: [1] }] } }]),
    );
    assert.deepEqual(rows(b), [['h_count', 'counter', 0]]);
  });

  const badHistograms: { name: string; point: object; problem: RegExp }[] = [
    { name: 'more counts than bounds + 1', point: { count: '3', bucketCounts: ['1', '1', '1'], explicitBounds: [1] }, problem: /3 bucket counts for 1 explicit bounds/ },
    { name: 'bounds not increasing', point: { count: '2', bucketCounts: ['1', '1', '0'], explicitBounds: [2, 1] }, problem: /not strictly increasing/ },
  ];
  for (const c of badHistograms) {
    it(`rejects a histogram with ${c.name}`, () => {
      const b = fromJson(request([{ name: 'h', histogram: { aggregationTemporality: 2, dataPoints: [{ timeUnixNano: NS, ...c.point }] } }]));
      assert.equal(b.length, 0);
      assert.match(b.rejected.get('invalid_distribution')?.examples[0].problem ?? '', c.problem);
    });
  }

  it('keeps exponential histograms as distributions too', () => {
    const b = fromJson(
      request([
        {
          name: 'latency',
          exponentialHistogram: {
            aggregationTemporality: 1,
            dataPoints: [{ timeUnixNano: NS, count: '8', sum: 20, scale: 0, zeroCount: '0', positive: { offset: 1, bucketCounts: ['0', '8'] } }],
          },
        },
      ]),
    );
    const r = rows(b);
    assert.deepEqual(
      r.map((x) => x[0]),
      ['latency_count', 'latency_sum', 'latency_p50', 'latency_p95', 'latency_p99'],
    );
    assert.ok(Math.abs(r[2][2] - 2 ** 2.5) < 1e-9, `p50 ${r[2][2]}`); // bucket index 2 is (4, 8]
    assert.equal(fromJson(request([{ name: 'e', exponentialHistogram: { aggregationTemporality: 1, dataPoints: [{ timeUnixNano: NS, scale: 21 }] } }])).rejected.get('invalid_distribution')?.count, 1);
  });

  it('maps summaries to _count/_sum counters and quantile-labelled gauges', () => {
    const b = fromJson(
      request([
        {
          name: 'rpc.duration',
          summary: {
            dataPoints: [
              {
                timeUnixNano: NS,
                count: '10',
                sum: 4,
                quantileValues: [
                  { quantile: 0.5, value: 0.3 },
                  { quantile: 0.99, value: 0.9 },
                ],
              },
            ],
          },
        },
      ]),
    );
    assert.deepEqual(rows(b), [
      ['rpc_duration_count', 'counter', 10],
      ['rpc_duration_sum', 'counter', 4],
      ['rpc_duration{quantile="0.5"}', 'gauge', 0.3],
      ['rpc_duration{quantile="0.99"}', 'gauge', 0.9],
    ]);
  });

  it('turns the no-recorded-value flag into staleness markers on every derived series', () => {
    const b = fromJson(
      request([
        { name: 'g', gauge: { dataPoints: [{ timeUnixNano: NS, flags: 1 }] } },
        { name: 'h', histogram: { aggregationTemporality: 2, dataPoints: [{ timeUnixNano: NS, flags: 1 }] } },
      ]),
    );
    assert.deepEqual(rows(b), [
      ['g', 'gauge', NOW, true],
      ['h_count', 'counter', NOW, true],
      ['h_sum', 'counter', NOW, true],
      ['h_p50', 'gauge', NOW, true],
      ['h_p95', 'gauge', NOW, true],
      ['h_p99', 'gauge', NOW, true],
    ]);
    assert.equal(b.staleCount, 6);
  });

  it('floors nanoseconds to milliseconds and accepts int64 as numbers too', () => {
    const b = fromJson(request([{ name: 'g', gauge: { dataPoints: [{ timeUnixNano: `${NOW}999999`, asInt: 5 }, { timeUnixNano: (NOW + 1) * 1e6, asDouble: '2.5' }] } }]));
    assert.deepEqual(
      b.toSamples().map((s) => [s.t, s.value]),
      [
        [NOW, 5],
        [NOW + 1, 2.5],
      ],
    );
  });

  const pointRejections: { name: string; point: object; reason: string; problem: RegExp }[] = [
    { name: 'a missing timeUnixNano', point: { asDouble: 1 }, reason: 'invalid_timestamp', problem: /timeUnixNano is missing/ },
    { name: 'a "NaN" value', point: { timeUnixNano: NS, asDouble: 'NaN' }, reason: 'invalid_value', problem: /NaN is not a valid value/ },
    { name: '"Infinity"', point: { timeUnixNano: NS, asDouble: 'Infinity' }, reason: 'invalid_value', problem: /Infinity is not a finite number/ },
    { name: 'no value at all', point: { timeUnixNano: NS }, reason: 'invalid_value', problem: /neither asDouble nor asInt/ },
    { name: 'a time 20 minutes ahead', point: { timeUnixNano: `${NOW + 1_200_000}000000`, asDouble: 1 }, reason: 'timestamp_too_far_in_future', problem: /ahead of now/ },
    { name: 'an attribute value too long', point: { timeUnixNano: NS, asDouble: 1, attributes: [str('k', 'x'.repeat(3000))] }, reason: 'label_value_too_long', problem: /3000 characters/ },
  ];
  for (const c of pointRejections) {
    it(`rejects a data point with ${c.name}`, () => {
      const b = fromJson(request([{ name: 'g', gauge: { dataPoints: [{ timeUnixNano: NS, asDouble: 2 }, c.point] } }]));
      assert.deepEqual(rows(b), [['g', 'gauge', 2]]);
      const r = b.rejected.get(c.reason as never);
      assert.equal(r?.count, 1);
      assert.match(r?.examples[0].problem ?? '', c.problem);
      assert.match(r?.examples[0].field ?? '', /^resourceMetrics\[0\]\.scopeMetrics\[0\]\.metrics\[0\]\.gauge\.dataPoints\[1\]/);
    });
  }

  it('rejects metrics without data or without a usable name', () => {
    const b = fromJson(request([{ name: 'nodata' }, { name: '', gauge: { dataPoints: [{ timeUnixNano: NS, asDouble: 1 }] } }, { name: '!!!', gauge: { dataPoints: [{ timeUnixNano: NS, asDouble: 1 }] } }]));
    assert.equal(b.rejected.get('unsupported_metric_type')?.count, 1);
    assert.equal(b.rejected.get('missing_metric_name')?.count, 2);
    assert.match(b.rejected.get('missing_metric_name')?.examples[1].problem ?? '', /"!!!" has no characters usable/);
  });

  it('refuses a data point with thousands of attributes quickly', () => {
    const many = Array.from({ length: 5000 }, (_, i) => str(`k${i}`, 'v'));
    const t0 = performance.now();
    const b = fromJson(request([{ name: 'g', gauge: { dataPoints: [{ timeUnixNano: NS, asDouble: 1, attributes: many }, { timeUnixNano: NS, asDouble: 2 }] } }]));
    assert.ok(performance.now() - t0 < 500);
    assert.deepEqual(rows(b), [['g', 'gauge', 2]]);
    assert.match(b.rejected.get('too_many_labels')?.examples[0].problem ?? '', /more than 256 attributes/);
    const fromResource = fromJson(request([{ name: 'g', gauge: { dataPoints: [{ timeUnixNano: NS, asDouble: 1 }] } }], many));
    assert.equal(fromResource.rejected.get('too_many_labels')?.count, 1);
  });

  it('joins attributes whose names collide after sanitising, in key order', () => {
    const b = fromJson(request([{ name: 'g', gauge: { dataPoints: [{ timeUnixNano: NS, asDouble: 1, attributes: [str('a_b', 'second'), str('a.b', 'first')] }] } }]));
    assert.deepEqual(rows(b), [['g{a_b="first;second"}', 'gauge', 1]]);
    const same = fromJson(request([{ name: 'g', gauge: { dataPoints: [{ timeUnixNano: NS, asDouble: 1, attributes: [str('a_b', 'x'), str('a.b', 'x')] }] } }]));
    assert.deepEqual(rows(same), [['g{a_b="x"}', 'gauge', 1]]);
  });

  it('writes non-string attribute values as text', () => {
    const b = fromJson(
      request([
        {
          name: 'g',
          gauge: {
            dataPoints: [
              {
                timeUnixNano: NS,
                asDouble: 1,
                attributes: [
                  { key: 'b', value: { boolValue: true } },
                  { key: 'i', value: { intValue: '-12' } },
                  { key: 'd', value: { doubleValue: 0.25 } },
                  { key: 'arr', value: { arrayValue: { values: [{ stringValue: 'x' }, { intValue: '2' }] } } },
                  { key: 'kv', value: { kvlistValue: { values: [{ key: 'k', value: { boolValue: false } }] } } },
                  { key: 'bytes', value: { bytesValue: 'AQI=' } },
                  { key: 'empty', value: {} },
                  { key: 'proto', value: { kvlistValue: { values: [{ key: '__proto__', value: { stringValue: 'p' } }] } } },
                ],
              },
            ],
          },
        },
      ]),
    );
    assert.deepEqual(b.toSamples()[0].labels, { arr: '["x",2]', b: 'true', bytes: 'AQI=', d: '0.25', i: '-12', kv: '{"k":false}', proto: '{"__proto__":"p"}' });
  });
});

describe('OTLP/JSON payload errors', () => {
  const cases: { name: string; body: string; message: RegExp }[] = [
    { name: 'text that is not JSON', body: 'resourceMetrics:', message: /not valid JSON/ },
    { name: 'a JSON array', body: '[]', message: /must be a JSON object/ },
    { name: 'snake_case keys', body: '{"resource_metrics":[]}', message: /lowerCamelCase/ },
  ];
  for (const c of cases) {
    it(`throws TM_ERR_INPUT for ${c.name}`, () => {
      assert.throws(
        () => decodeOtlpJson(c.body, newBatch()),
        (e: unknown) => e instanceof TidemarkError && e.code === 'TM_ERR_INPUT' && c.message.test(e.message),
      );
    });
  }

  it('ignores unknown keys and accepts an empty request', () => {
    const b = fromJson({ resourceMetrics: [{ newField: 1, scopeMetrics: [{ metrics: [{ name: 'g', gauge: { dataPoints: [{ timeUnixNano: NS, asDouble: 1, future: true }] } }] }] }] });
    assert.deepEqual(rows(b), [['g', 'gauge', 1]]);
    assert.equal(fromJson({}).length, 0);
  });

  it('counts a data point that is not an object', () => {
    const b = fromJson(request([{ name: 'g', gauge: { dataPoints: [5, { timeUnixNano: NS, asDouble: 1 }] } }]));
    assert.equal(b.rejected.get('malformed_sample')?.count, 1);
    assert.equal(b.length, 1);
  });
});

describe('OTLP protobuf payload errors', () => {
  it('refuses attribute values nested deeper than 16 levels', () => {
    let v: object = { stringValue: 'leaf' };
    for (let i = 0; i < 20; i++) v = { arrayValue: { values: [v] } };
    assert.throws(
      () => fromProto(Req, request([{ name: 'g', gauge: { dataPoints: [{ timeUnixNano: u64(1), asDouble: 1, attributes: [{ key: 'deep', value: v }] }] } }])),
      (e: unknown) => e instanceof TidemarkError && e.code === 'TM_ERR_INPUT' && /nested deeper than 16/.test(e.message),
    );
  });

  it('rejects a point whose attribute is not UTF-8 and keeps the others', () => {
    const w = protobuf.Writer.create();
    // ExportMetricsServiceRequest.resourceMetrics[0].scopeMetrics[0].metrics[0] = gauge "g" with two points.
    w.uint32(0x0a).fork().uint32(0x12).fork().uint32(0x12).fork();
    w.uint32(0x0a).string('g').uint32(0x2a).fork();
    w.uint32(0x0a).fork().uint32(0x19).fixed64(Long.fromString(NS, true)).uint32(0x21).double(1).ldelim();
    w.uint32(0x0a).fork().uint32(0x19).fixed64(Long.fromString(NS, true)).uint32(0x21).double(2);
    w.uint32(0x3a).fork().uint32(0x0a).string('k').uint32(0x12).fork().uint32(0x0a).bytes(Uint8Array.from([0xff])).ldelim().ldelim();
    w.ldelim();
    w.ldelim().ldelim().ldelim().ldelim();
    const b = newBatch();
    decodeOtlpProtobuf(w.finish(), b);
    assert.deepEqual(rows(b), [['g', 'gauge', 1]]);
    assert.equal(b.rejected.get('invalid_label_value')?.count, 1);
  });

  it('throws TM_ERR_INPUT for truncated bytes', () => {
    const bytes = Req.encode(Req.fromObject(request([{ name: 'g', gauge: { dataPoints: [{ timeUnixNano: u64(1), asDouble: 1 }] } }]))).finish();
    assert.throws(
      () => decodeOtlpProtobuf(bytes.subarray(0, bytes.length - 3), newBatch()),
      (e: unknown) => e instanceof TidemarkError && e.code === 'TM_ERR_INPUT' && /OTLP ExportMetricsServiceRequest/.test(e.message),
    );
  });
});
