import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import protobuf from 'protobufjs';
import { compress } from 'snappyjs';
import { TidemarkError } from '../errors.ts';
import { IngestBatch } from './batch.ts';
import { decodeRemoteWrite, decodeWriteRequest } from './remote-write.ts';
import { int, Long, pick, remoteWriteSchema, rng } from './testkit.ts';

const NOW = 1_700_000_000_000;
const { WriteRequest, WriteRequestRaw } = remoteWriteSchema();

function newBatch(): IngestBatch {
  return new IngestBatch({ now: () => NOW });
}

const NAME_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789';
const VALUE_PIECES = ['a', 'Z', '0', ' ', '"', '\\', '\n', 'é', '東', '🙂', '=', ',', '{', '}', 'host-17:9100', ''];

function randomName(r: () => number, metric: boolean): string {
  const first = NAME_CHARS.slice(0, 53) + (metric ? ':' : '');
  let s = first[int(r, 0, first.length - 1)];
  const rest = NAME_CHARS + (metric ? ':' : '');
  for (let i = int(r, 0, 12); i > 0; i--) s += rest[int(r, 0, rest.length - 1)];
  return s === '__name__' ? 'x__name__' : s;
}

function randomValue(r: () => number): string {
  let s = '';
  for (let i = int(r, 0, 6); i > 0; i--) s += pick(r, VALUE_PIECES);
  return s;
}

function randomDouble(r: () => number): number {
  switch (int(r, 0, 5)) {
    case 0:
      return int(r, -1000, 1000);
    case 1:
      return -0;
    case 2:
      return (r() - 0.5) * 1e300;
    case 3:
      return r() * 1e-300;
    default:
      return r() * 1000;
  }
}

type Label = { name: string; value: string };

/** A random, valid WriteRequest as a plain object (protobufjs's fromObject input). */
function randomRequest(r: () => number): { timeseries: { labels: Label[]; samples: { value: number; timestamp: number }[]; exemplars?: unknown[] }[]; metadata?: unknown[] } {
  const timeseries = [];
  for (let s = int(r, 0, 25); s > 0; s--) {
    const labels: Label[] = [{ name: '__name__', value: randomName(r, true) }];
    const used = new Set<string>();
    for (let l = int(r, 0, 6); l > 0; l--) {
      const name = randomName(r, false);
      if (used.has(name)) continue;
      used.add(name);
      labels.push({ name, value: randomValue(r) });
    }
    if (r() < 0.5) labels.sort((a, b) => (a.name < b.name ? -1 : 1));
    else labels.sort(() => r() - 0.5);
    const samples = [];
    for (let k = int(r, 0, 4); k > 0; k--) samples.push({ value: randomDouble(r), timestamp: int(r, 0, NOW + 600_000) });
    const ts: { labels: Label[]; samples: { value: number; timestamp: number }[]; exemplars?: unknown[] } = { labels, samples };
    if (r() < 0.2) ts.exemplars = [{ labels: [{ name: 'trace_id', value: 'abc' }], value: 1, timestamp: NOW }];
    timeseries.push(ts);
  }
  const req: ReturnType<typeof randomRequest> = { timeseries };
  if (r() < 0.3) req.metadata = [{ type: 1, metric_family_name: 'x', help: 'help text' }];
  return req;
}

function esc(v: string): string {
  return v.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : '\\' + c));
}

/** What the decoder must produce, computed from protobufjs's decode of the same bytes. */
function expectedFromOracle(bytes: Uint8Array): { key: string; t: number; value: number }[] {
  const decoded = WriteRequest.toObject(WriteRequest.decode(bytes), { longs: String, defaults: true }) as {
    timeseries: { labels: Label[]; samples: { value: number; timestamp: string }[] }[];
  };
  const out: { key: string; t: number; value: number }[] = [];
  for (const ts of decoded.timeseries) {
    const name = ts.labels.find((l) => l.name === '__name__')?.value ?? '';
    const rest = ts.labels.filter((l) => l.name !== '__name__' && l.value !== '').sort((a, b) => (a.name < b.name ? -1 : 1));
    const key = rest.length === 0 ? name : `${name}{${rest.map((l) => `${l.name}="${esc(l.value)}"`).join(',')}}`;
    for (const s of ts.samples) out.push({ key, t: Number(s.timestamp), value: s.value });
  }
  return out;
}

describe('decodeWriteRequest against protobufjs', () => {
  it('decodes 400 random requests exactly as protobufjs does', () => {
    const r = rng(31);
    const b = newBatch();
    let total = 0;
    for (let iter = 0; iter < 400; iter++) {
      const bytes = WriteRequest.encode(WriteRequest.fromObject(randomRequest(r))).finish();
      b.reset();
      decodeWriteRequest(bytes, b);
      const got = b.toSamples().map((s) => ({ key: s.key, t: s.t, value: s.value }));
      assert.deepEqual(got, expectedFromOracle(bytes), `request ${iter}`);
      assert.equal(b.rejectedTotal, 0);
      total += got.length;
    }
    assert.ok(total > 1000, `only ${total} samples were compared`);
  });

  it('gives the same batch when every series comes from the series cache', () => {
    const r = rng(32);
    const bytes = WriteRequest.encode(WriteRequest.fromObject(randomRequest(r))).finish();
    const b = newBatch();
    decodeWriteRequest(bytes, b);
    const first = b.toSamples();
    b.reset();
    decodeWriteRequest(bytes, b); // second time: series found by their label bytes
    assert.deepEqual(b.toSamples(), first);
    assert.deepEqual(expectedFromOracle(bytes), first.map((s) => ({ key: s.key, t: s.t, value: s.value })));
  });

  it('decodes the snappy-compressed body the same way', () => {
    const bytes = WriteRequest.encode(WriteRequest.fromObject(randomRequest(rng(33)))).finish();
    const a = newBatch();
    decodeWriteRequest(bytes, a);
    const b = newBatch();
    decodeRemoteWrite(compress(Buffer.from(bytes)), b);
    assert.deepEqual(b.toSamples(), a.toSamples());
  });
});

describe('remote_write staleness markers', () => {
  const bits: { name: string; lo: number; hi: number; stale: boolean }[] = [
    { name: 'StaleNaN 0x7ff0000000000002', lo: 2, hi: 0x7ff00000, stale: true },
    { name: 'ordinary quiet NaN 0x7ff8000000000000', lo: 0, hi: 0x7ff80000, stale: false },
    { name: 'Prometheus NormalNaN 0x7ff8000000000001', lo: 1, hi: 0x7ff80000, stale: false },
    { name: 'signalling NaN 0x7ff0000000000001', lo: 1, hi: 0x7ff00000, stale: false },
    { name: 'negative NaN 0xfff0000000000002', lo: 2, hi: 0xfff00000, stale: false },
  ];
  for (const c of bits) {
    it(`${c.stale ? 'reports' : 'rejects'} ${c.name}`, () => {
      const bytes = WriteRequestRaw.encode(
        WriteRequestRaw.fromObject({
          timeseries: [{ labels: [{ name: '__name__', value: 'up' }], samples: [{ value: Long.fromBits(c.lo, c.hi, true), timestamp: NOW }] }],
        }),
      ).finish();
      const b = newBatch();
      decodeWriteRequest(bytes, b);
      if (c.stale) {
        assert.equal(b.length, 1);
        assert.equal(b.staleCount, 1);
        assert.deepEqual(b.toSamples()[0], { key: 'up', metric: 'up', labels: {}, kind: 'unknown', t: NOW, value: NaN, stale: true });
      } else {
        assert.equal(b.length, 0);
        assert.equal(b.rejected.get('invalid_value')?.count, 1);
        assert.equal(b.rejected.get('invalid_value')?.examples[0].field, 'timeseries[0].samples[0].value');
      }
    });
  }
});

/** Hand-built TimeSeries bytes, for field orders protobufjs would not produce. */
function label(w: protobuf.Writer, name: string, value: string): void {
  w.uint32(0x0a).fork().uint32(0x0a).string(name).uint32(0x12).string(value).ldelim();
}
function sample(w: protobuf.Writer, value: number, t: number): void {
  w.uint32(0x12).fork().uint32(0x09).double(value).uint32(0x10).int64(t).ldelim();
}

describe('remote_write series handling', () => {
  it('accepts samples before labels and labels interleaved with samples', () => {
    const w = protobuf.Writer.create();
    w.uint32(0x0a).fork();
    sample(w, 1, NOW);
    label(w, 'job', 'api');
    sample(w, 2, NOW + 1);
    label(w, '__name__', 'up');
    w.ldelim();
    const b = newBatch();
    decodeWriteRequest(w.finish(), b);
    assert.deepEqual(
      b.toSamples().map((s) => [s.key, s.t, s.value]),
      [
        ['up{job="api"}', NOW, 1],
        ['up{job="api"}', NOW + 1, 2],
      ],
    );
  });

  const rejected: { name: string; build: (w: protobuf.Writer) => void; reason: string; count: number; problem: RegExp }[] = [
    {
      name: 'a series without __name__',
      build: (w) => {
        label(w, 'job', 'api');
        sample(w, 1, NOW);
        sample(w, 2, NOW);
      },
      reason: 'missing_metric_name',
      count: 2,
      problem: /no __name__ label/,
    },
    {
      name: 'two __name__ labels',
      build: (w) => {
        label(w, '__name__', 'a');
        label(w, '__name__', 'b');
        sample(w, 1, NOW);
      },
      reason: 'duplicate_label_name',
      count: 1,
      problem: /__name__ label appears more than once/,
    },
    {
      name: 'a label value that is not UTF-8',
      build: (w) => {
        label(w, '__name__', 'up');
        w.uint32(0x0a).fork().uint32(0x0a).string('job').uint32(0x12).bytes(Uint8Array.from([0xc3, 0x28])).ldelim();
        sample(w, 1, NOW);
      },
      reason: 'invalid_label_value',
      count: 1,
      problem: /not valid UTF-8/,
    },
    {
      name: 'native histograms',
      build: (w) => {
        label(w, '__name__', 'latency');
        w.uint32(0x22).fork().uint32(0x08).uint64(3).ldelim();
        w.uint32(0x22).fork().uint32(0x08).uint64(4).ldelim();
      },
      reason: 'unsupported_metric_type',
      count: 2,
      problem: /native histograms are not supported/,
    },
  ];
  for (const c of rejected) {
    it(`rejects ${c.name} and keeps the other series`, () => {
      const w = protobuf.Writer.create();
      w.uint32(0x0a).fork();
      c.build(w);
      w.ldelim();
      w.uint32(0x0a).fork();
      label(w, '__name__', 'ok');
      sample(w, 5, NOW);
      w.ldelim();
      const b = newBatch();
      decodeWriteRequest(w.finish(), b);
      const r = b.rejected.get(c.reason as never);
      assert.equal(r?.count, c.count);
      assert.match(r?.examples[0].problem ?? '', c.problem);
      assert.equal(r?.examples[0].field.startsWith('timeseries[0].'), true);
      assert.deepEqual(
        b.toSamples().map((s) => s.key),
        ['ok'],
      );
    });
  }

  it('decodes label sets too long for the series cache the same way every time', () => {
    const w = protobuf.Writer.create();
    w.uint32(0x0a).fork();
    label(w, '__name__', 'big');
    label(w, 'a', 'x'.repeat(700));
    label(w, 'b', 'y'.repeat(700));
    sample(w, 1, NOW);
    w.ldelim();
    const bytes = w.finish();
    const b = newBatch();
    decodeWriteRequest(bytes, b);
    const first = b.toSamples();
    b.reset();
    decodeWriteRequest(bytes, b);
    assert.deepEqual(b.toSamples(), first);
    assert.equal(first[0].labels.a.length, 700);
  });

  it('ignores a series without samples', () => {
    const w = protobuf.Writer.create();
    w.uint32(0x0a).fork();
    label(w, 'job', 'no name but no samples either');
    w.ldelim();
    const b = newBatch();
    decodeWriteRequest(w.finish(), b);
    assert.equal(b.length, 0);
    assert.equal(b.rejectedTotal, 0);
  });

  const malformed: { name: string; bytes: number[]; message: RegExp }[] = [
    { name: 'timeseries as a varint', bytes: [0x08, 0x01], message: /field 1 \(timeseries\) is not length-delimited/ },
    { name: 'a truncated timeseries', bytes: [0x0a, 0x05, 0x0a], message: /runs past the end/ },
    { name: 'labels as fixed64', bytes: [0x0a, 0x09, 0x09, 1, 2, 3, 4, 5, 6, 7, 8], message: /field 1 of TimeSeries has wire type 1/ },
  ];
  for (const c of malformed) {
    it(`throws TM_ERR_INPUT for ${c.name}`, () => {
      assert.throws(
        () => decodeWriteRequest(Uint8Array.from(c.bytes), newBatch()),
        (e: unknown) => e instanceof TidemarkError && e.code === 'TM_ERR_INPUT' && c.message.test(e.message) && e.message.includes('remote_write WriteRequest'),
      );
    });
  }

  it('throws TM_ERR_INPUT for a body that is not snappy', () => {
    assert.throws(() => decodeRemoteWrite(Buffer.from('{"samples":[]}'), newBatch()), (e: unknown) => e instanceof TidemarkError && e.code === 'TM_ERR_INPUT');
  });
});
