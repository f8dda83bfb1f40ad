/**
 * Decode throughput. Main figure: 2,000-sample remote_write WriteRequests drawn from 100,000
 * series names, decoded by the hand-written decoder into an IngestBatch (validation, label
 * sorting and series keys included) against protobufjs's reflection decoder on the same bytes.
 * Cases run interleaved, best of N rounds, so load from other processes hits all of them alike,
 * each after a full GC so that none pays for another's garbage.
 * A second table gives the other formats' samples/s for 2,000-sample payloads (no baseline).
 *
 *   node --import tsx src/ingest/decode.bench.ts [--payloads 40] [--rounds 8]
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import vm from 'node:vm';
import { compress, uncompress } from 'snappyjs';
import { IngestBatch } from './batch.ts';
import { decompressSnappy } from './compression.ts';
import { decodeJsonBatch } from './json-batch.ts';
import { decodeLineProtocol } from './line-protocol.ts';
import { decodeOtlpJson } from './otlp-json.ts';
import { decodeOtlpProtobuf } from './otlp-protobuf.ts';
import { decodeRemoteWrite, decodeWriteRequest } from './remote-write.ts';
import { Long, int, otlpSchema, remoteWriteSchema, rng } from './testkit.ts';

export interface DecodeBenchOptions {
  series: number;
  samplesPerPayload: number;
  payloads: number;
  rounds: number;
  seed: number;
}

export interface DecodeBenchRow {
  name: string;
  mbPerSec: number;
  samplesPerSec: number;
  /** Throughput relative to the protobufjs decode of the same bytes (NaN for other formats). */
  ratio: number;
}

const T0 = 1_700_000_000_000;
const METRICS = ['http_requests_total', 'http_request_duration_seconds_bucket', 'process_cpu_seconds_total', 'node_memory_Active_bytes', 'grpc_server_handled_total'];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE'];

/** The label set of series `i`, sorted by name as Prometheus sends it. */
function seriesLabels(i: number): { name: string; value: string }[] {
  return [
    { name: '__name__', value: `${METRICS[i % METRICS.length]}_${Math.floor(i / 1000) % 20}` },
    { name: 'code', value: String(200 + (i % 5) * 100) },
    { name: 'instance', value: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:9100` },
    { name: 'job', value: `service-${i % 37}` },
    { name: 'method', value: METHODS[i % METHODS.length] },
    { name: 'namespace', value: `team-${i % 11}` },
  ];
}

function makeRemoteWrite(o: DecodeBenchOptions): { raw: Uint8Array[]; snappy: Uint8Array[] } {
  const { WriteRequest } = remoteWriteSchema();
  const r = rng(o.seed);
  const labels = Array.from({ length: o.series }, (_, i) => seriesLabels(i));
  const raw: Uint8Array[] = [];
  const snappy: Uint8Array[] = [];
  for (let p = 0; p < o.payloads; p++) {
    const timeseries = [];
    for (let s = 0; s < o.samplesPerPayload; s++) {
      timeseries.push({ labels: labels[int(r, 0, o.series - 1)], samples: [{ value: r() * 1000, timestamp: T0 + p * 15_000 + s }] });
    }
    const bytes = WriteRequest.encode(WriteRequest.fromObject({ timeseries })).finish();
    raw.push(bytes);
    snappy.push(compress(bytes));
  }
  return { raw, snappy };
}

// A full GC before each timed run, so no case pays for the garbage of the one before it
// (protobufjs allocates an object per label and sample; the decoders here far less).
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** Best seconds per case over `rounds` interleaved rounds. */
function timeAll(rounds: number, cases: (() => void)[]): number[] {
  for (const c of cases) c(); // warm up (and fill the series cache)
  const best = cases.map(() => Infinity);
  for (let r = 0; r < rounds; r++) {
    cases.forEach((c, i) => {
      gc();
      const t = process.hrtime.bigint();
      c();
      best[i] = Math.min(best[i], Number(process.hrtime.bigint() - t) / 1e9);
    });
  }
  return best;
}

/** Runs the remote_write benchmark: one row per decoder. */
export function runDecodeBench(options: Partial<DecodeBenchOptions> = {}): DecodeBenchRow[] {
  const o: DecodeBenchOptions = { series: 100_000, samplesPerPayload: 2000, payloads: 40, rounds: 8, seed: 7, ...options };
  const { WriteRequest } = remoteWriteSchema();
  const { raw, snappy } = makeRemoteWrite(o);
  const rawBytes = raw.reduce((a, b) => a + b.length, 0);
  const snappyBytes = snappy.reduce((a, b) => a + b.length, 0);
  const samples = o.payloads * o.samplesPerPayload;
  const now = () => T0 + 3_600_000;
  const warm = new IngestBatch({ now });
  // Every series new: what the first requests after a restart (or a cardinality explosion) cost.
  const cold = new IngestBatch({ now, seriesCacheSize: 0 });
  let sink = 0;
  const decodeAll = (batch: IngestBatch, bodies: Uint8Array[], decode: (b: Uint8Array, batch: IngestBatch) => void) => () => {
    for (const b of bodies) {
      batch.reset();
      decode(b, batch);
      sink += batch.length;
    }
  };
  const cases: [string, number, () => void][] = [
    ['protobufjs WriteRequest.decode (baseline)', rawBytes, () => {
      for (const b of raw) sink += (WriteRequest.decode(b) as unknown as { timeseries: unknown[] }).timeseries.length;
    }],
    ['protobufjs decode + toObject(longs: Number)', rawBytes, () => {
      for (const b of raw) sink += (WriteRequest.toObject(WriteRequest.decode(b), { longs: Number }) as { timeseries: unknown[] }).timeseries.length;
    }],
    ['decodeWriteRequest -> IngestBatch (series cache warm)', rawBytes, decodeAll(warm, raw, decodeWriteRequest)],
    ['decodeWriteRequest -> IngestBatch (cache off: all new)', rawBytes, decodeAll(cold, raw, decodeWriteRequest)],
    ['snappyjs.uncompress alone (MB/s of snappy body)', snappyBytes, () => {
      for (const b of snappy) sink += uncompress(b as Buffer).length;
    }],
    ['decompressSnappy, validated (MB/s of snappy body)', snappyBytes, () => {
      for (const b of snappy) sink += decompressSnappy(b).length;
    }],
    ['decodeRemoteWrite: snappy + decode (MB/s of snappy body)', snappyBytes, decodeAll(warm, snappy, decodeRemoteWrite)],
  ];
  const secs = timeAll(o.rounds, cases.map((c) => c[2]));
  if (warm.length !== o.samplesPerPayload || warm.rejectedTotal !== 0 || sink === 0) {
    throw new Error(`bench sanity check failed: ${warm.length} samples, ${warm.rejectedTotal} rejected`);
  }
  return cases.map(([name, bytes], i) => ({ name, mbPerSec: bytes / secs[i] / 1e6, samplesPerSec: samples / secs[i], ratio: secs[0] / secs[i] }));
}

/** The other formats, each a 2,000-sample payload over the same kind of label sets. */
export function runOtherFormatsBench(rounds = 8): DecodeBenchRow[] {
  const n = 2000;
  const r = rng(9);
  const { ExportMetricsServiceRequest: Req } = otlpSchema();
  const ns = Long.fromString(`${T0}000000`, true);
  const attrs = (i: number) =>
    seriesLabels(i)
      .slice(1)
      .map((l) => ({ key: l.name, value: { stringValue: l.value } }));
  const metrics = Array.from({ length: 20 }, (_, m) => ({
    name: `app.requests.${m}`,
    sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: Array.from({ length: n / 20 }, (_, i) => ({ attributes: attrs(m * 1000 + i), timeUnixNano: ns, asDouble: r() })) },
  }));
  const otlp = Req.encode(Req.fromObject({ resourceMetrics: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'auth' } }] }, scopeMetrics: [{ metrics }] }] })).finish();
  const otlpJson = Buffer.from(JSON.stringify(Req.toObject(Req.decode(otlp), { longs: String })));
  let lp = '';
  for (let i = 0; i < n / 2; i++) {
    const l = seriesLabels(i * 7);
    lp += `http,${l.slice(1).map((x) => `${x.name}=${x.value}`).join(',')} requests=${int(r, 0, 1e6)}i,latency=${r()} ${T0}000000\n`;
  }
  const lineProtocol = Buffer.from(lp);
  const json = Buffer.from(
    JSON.stringify({
      samples: Array.from({ length: n }, (_, i) => {
        const l = seriesLabels(i * 13);
        return { metric: l[0].value, labels: Object.fromEntries(l.slice(1).map((x) => [x.name, x.value])), t: T0, value: r() };
      }),
    }),
  );
  const batch = new IngestBatch({ now: () => T0 + 60_000 });
  const cases: [string, Uint8Array, (b: Uint8Array, batch: IngestBatch) => void][] = [
    ['OTLP protobuf (2000 sum points)', otlp, (b, s) => decodeOtlpProtobuf(b, s)],
    ['OTLP JSON (2000 sum points)', otlpJson, (b, s) => decodeOtlpJson(b, s)],
    ['line protocol (1000 lines x 2 fields)', lineProtocol, (b, s) => decodeLineProtocol(b, s)],
    ['JSON batch (2000 samples)', json, (b, s) => decodeJsonBatch(b, s)],
  ];
  const secs = timeAll(
    rounds,
    cases.map(([, body, decode]) => () => {
      for (let k = 0; k < 10; k++) {
        batch.reset();
        decode(body, batch);
        if (batch.length !== n) throw new Error(`bench sanity check failed: ${batch.length} samples`);
      }
    }),
  );
  return cases.map(([name, body], i) => ({ name, mbPerSec: (10 * body.length) / secs[i] / 1e6, samplesPerSec: (10 * n) / secs[i], ratio: NaN }));
}

function print(rows: DecodeBenchRow[]): void {
  for (const row of rows) {
    const ratio = Number.isNaN(row.ratio) ? '' : `  x${row.ratio.toFixed(2)} vs protobufjs`;
    console.log(`${row.name.padEnd(58)} ${row.mbPerSec.toFixed(1).padStart(7)} MB/s ${(row.samplesPerSec / 1e6).toFixed(2).padStart(6)} M samples/s${ratio}`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { payloads: { type: 'string', default: '40' }, rounds: { type: 'string', default: '8' } }, strict: true });
  const o = { payloads: Number(values.payloads), rounds: Number(values.rounds) };
  console.log(`remote_write: ${o.payloads} payloads x 2000 samples over 100000 series, best of ${o.rounds} interleaved rounds (node ${process.version})`);
  print(runDecodeBench(o));
  console.log('\nother formats, 2000-sample payloads:');
  print(runOtherFormatsBench(o.rounds));
}
