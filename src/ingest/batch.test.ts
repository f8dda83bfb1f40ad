import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TidemarkError } from '../errors.ts';
import { IngestBatch, STALE_FLAG } from './batch.ts';
import type { IngestOptions, RejectReason, SeriesIdentity } from './types.ts';
import { REJECT_REASONS } from './types.ts';
import { hashBytes } from './wire.ts';

const NOW = Date.UTC(2024, 0, 1);

function batch(options: Partial<IngestOptions> = {}): IngestBatch {
  return new IngestBatch({ now: () => NOW, ...options });
}

describe('IngestBatch series', () => {
  it('sorts labels, drops empty values and builds the canonical key once per series', () => {
    const b = batch();
    const s = b.openSeries('http_requests_total', ['zone', 'eu', 'service', 'auth', 'empty', '', 'code', '200'], 8, 'counter', 1);
    assert.equal(s, 0);
    assert.equal(b.seriesKey(s), 'http_requests_total{code="200",service="auth",zone="eu"}');
    assert.deepEqual(b.seriesLabels(s), ['code', '200', 'service', 'auth', 'zone', 'eu']);
    assert.equal(b.seriesMetric(s), 'http_requests_total');
    assert.equal(b.seriesKind(s), 'counter');
    // The same series in another label order is the same row.
    assert.equal(b.openSeries('http_requests_total', ['code', '200', 'zone', 'eu', 'service', 'auth'], 6, 'counter', 1), 0);
    assert.equal(b.seriesCount, 1);
  });

  it('escapes backslash, quote and newline in key values and writes a bare name without labels', () => {
    const b = batch();
    const s = b.openSeries('m', ['path', 'C:\\dir "x"\nnext'], 2, 'gauge', 1);
    assert.equal(b.seriesKey(s), 'm{path="C:\\\\dir \\"x\\"\\nnext"}');
    assert.equal(b.seriesKey(b.openSeries('up', [], 0, 'gauge', 1)), 'up');
  });

  it('does not keep the caller scratch array', () => {
    const b = batch();
    const scratch = ['a', '1'];
    const s = b.openSeries('m', scratch, 2, 'gauge', 1);
    scratch[1] = 'changed';
    assert.deepEqual(b.seriesLabels(s), ['a', '1']);
  });

  const rejections: { name: string; metric: string; labels: string[]; options?: Partial<IngestOptions>; reason: RejectReason; problem: RegExp }[] = [
    { name: 'empty metric name', metric: '', labels: [], reason: 'missing_metric_name', problem: /missing or empty/ },
    { name: 'metric name with a dot', metric: 'http.requests', labels: [], reason: 'invalid_metric_name', problem: /"http\.requests" is not a valid metric name/ },
    { name: 'metric name starting with a digit', metric: '1m', labels: [], reason: 'invalid_metric_name', problem: /not a valid metric name/ },
    { name: 'label name with a dash', metric: 'm', labels: ['my-label', 'x'], reason: 'invalid_label_name', problem: /"my-label" is not a valid label name/ },
    { name: 'label named __name__', metric: 'm', labels: ['__name__', 'x'], reason: 'invalid_label_name', problem: /reserved/ },
    { name: 'duplicate label', metric: 'm', labels: ['a', '1', 'b', '2', 'a', '3'], reason: 'duplicate_label_name', problem: /"a" appears more than once/ },
    { name: 'too many labels', metric: 'm', labels: ['a', '1', 'b', '2', 'c', '3'], options: { maxLabels: 2 }, reason: 'too_many_labels', problem: /more than the limit of 2 labels \(3 given\)/ },
    { name: 'label value too long', metric: 'm', labels: ['a', 'x'.repeat(11)], options: { maxLabelValueLength: 10 }, reason: 'label_value_too_long', problem: /11 characters, more than the limit of 10/ },
    { name: 'metric name too long', metric: 'm'.repeat(9), labels: [], options: { maxNameLength: 8 }, reason: 'name_too_long', problem: /9 characters/ },
    { name: 'label name too long', metric: 'm', labels: ['l'.repeat(9), 'x'], options: { maxNameLength: 8 }, reason: 'name_too_long', problem: /label name is 9 characters/ },
  ];
  for (const c of rejections) {
    it(`rejects ${c.name}`, () => {
      const b = batch(c.options);
      b.where('timeseries', 4);
      assert.equal(b.openSeries(c.metric, c.labels, c.labels.length, 'unknown', 3), -1);
      const r = b.rejected.get(c.reason);
      assert.ok(r, `expected a ${c.reason} rejection, got ${[...b.rejected.keys()].join(', ')}`);
      assert.equal(r.count, 3, 'counts the points of the series');
      assert.equal(b.rejectedTotal, 3);
      assert.match(r.examples[0].problem, c.problem);
      assert.match(r.examples[0].field, /^timeseries\[4\]\./);
      assert.equal(b.seriesCount, 0);
    });
  }

  it('accepts the limits exactly', () => {
    const b = batch({ maxLabels: 2, maxLabelValueLength: 3, maxNameLength: 4 });
    assert.equal(b.openSeries('mmmm', ['aaaa', 'xxx', 'b', 'y'], 4, 'gauge', 1), 0);
  });
});

describe('IngestBatch samples', () => {
  const cases: { name: string; t: number; value: number; reason: RejectReason | null; problem?: RegExp }[] = [
    { name: 'a normal sample', t: NOW, value: 1.5, reason: null },
    { name: 'negative zero and huge finite values', t: NOW, value: -Number.MAX_VALUE, reason: null },
    { name: 'exactly maxFutureMs ahead', t: NOW + 600_000, value: 1, reason: null },
    { name: 'NaN', t: NOW, value: NaN, reason: 'invalid_value', problem: /NaN is not a valid value/ },
    { name: '+Infinity', t: NOW, value: Infinity, reason: 'invalid_value', problem: /Infinity is not a finite number/ },
    { name: '-Infinity', t: NOW, value: -Infinity, reason: 'invalid_value', problem: /-Infinity/ },
    { name: 'one ms too far in the future', t: NOW + 600_001, value: 1, reason: 'timestamp_too_far_in_future', problem: /more than 600000 ms ahead of now \(2024-01-01T00:00:00\.000Z\)/ },
    { name: 'fractional timestamp', t: NOW + 0.5, value: 1, reason: 'invalid_timestamp', problem: /not a valid timestamp/ },
    { name: 'negative timestamp', t: -1, value: 1, reason: 'invalid_timestamp' },
    { name: 'NaN timestamp', t: NaN, value: 1, reason: 'invalid_timestamp' },
    { name: 'timestamp beyond 2^53', t: 2 ** 60, value: 1, reason: 'invalid_timestamp' },
  ];
  for (const c of cases) {
    it(c.reason === null ? `keeps ${c.name}` : `rejects ${c.name}`, () => {
      const b = batch();
      const s = b.openSeries('m', [], 0, 'gauge', 1);
      b.where('samples', 2);
      const kept = b.addSample(s, c.t, c.value);
      assert.equal(kept, c.reason === null);
      assert.equal(b.length, kept ? 1 : 0);
      if (c.reason === null) {
        assert.equal(b.timestamps[0], c.t);
        assert.equal(b.values[0], c.value);
        assert.equal(b.flags[0], 0);
      } else {
        const r = b.rejected.get(c.reason);
        assert.ok(r);
        assert.equal(r.count, 1);
        if (c.problem) assert.match(r.examples[0].problem, c.problem);
        assert.match(r.examples[0].field, /^samples\[2\]\.(value|timestamp)$/);
      }
    });
  }

  it('honours a configured maxFutureMs and re-reads the clock on reset', () => {
    let now = NOW;
    const b = new IngestBatch({ now: () => now, maxFutureMs: 0 });
    const s = b.openSeries('m', [], 0, 'gauge', 1);
    assert.equal(b.addSample(s, NOW + 1, 1), false);
    now = NOW + 1;
    b.reset();
    assert.equal(b.nowMs, NOW + 1);
    assert.equal(b.addSample(b.openSeries('m', [], 0, 'gauge', 1), NOW + 1, 1), true);
  });

  it('marks staleness markers and counts them', () => {
    const b = batch();
    const s = b.openSeries('m', [], 0, 'gauge', 1);
    b.addSample(s, NOW, 1);
    b.addStale(s, NOW + 1);
    assert.equal(b.staleCount, 1);
    assert.equal(b.flags[1], STALE_FLAG);
    assert.ok(Number.isNaN(b.values[1]));
    assert.deepEqual(
      b.toSamples().map((x) => x.stale),
      [false, true],
    );
  });

  it('grows past its initial capacity and keeps every sample', () => {
    const b = batch();
    const s = b.openSeries('m', [], 0, 'gauge', 1);
    for (let i = 0; i < 5000; i++) b.addSample(s, NOW - i, i);
    assert.equal(b.length, 5000);
    assert.equal(b.values[4999], 4999);
    assert.equal(b.timestamps[4999], NOW - 4999);
    b.reset();
    assert.equal(b.length, 0);
    assert.equal(b.seriesCount, 0);
  });
});

describe('IngestBatch rejections', () => {
  it('keeps the first few examples per reason but counts all', () => {
    const b = batch({ maxExamplesPerReason: 2 });
    for (let i = 0; i < 5; i++) {
      b.where('samples', i);
      b.reject('non_numeric_value', 'value', `problem ${i}`);
    }
    const r = b.rejected.get('non_numeric_value');
    assert.equal(r?.count, 5);
    assert.deepEqual(r?.examples, [
      { field: 'samples[0].value', problem: 'problem 0' },
      { field: 'samples[1].value', problem: 'problem 1' },
    ]);
  });

  it('formats line positions and sub-positions', () => {
    const b = batch();
    b.where('', -1, 12);
    b.reject('malformed_line', '', 'bad');
    b.where('timeseries', 3);
    b.whereSub('samples', 1);
    b.reject('invalid_value', 'value', 'bad');
    assert.deepEqual(b.rejected.get('malformed_line')?.examples[0], { field: 'line 12', problem: 'bad', line: 12 });
    assert.equal(b.rejected.get('invalid_value')?.examples[0].field, 'timeseries[3].samples[1].value');
  });

  it('lists rejections in the documented reason order', () => {
    const b = batch();
    b.reject('invalid_distribution', 'x', 'p');
    b.reject('missing_metric_name', 'x', 'p', 2);
    assert.deepEqual(
      b.rejections().map((r) => [r.reason, r.count]),
      [
        ['missing_metric_name', 2],
        ['invalid_distribution', 1],
      ],
    );
    assert.equal(new Set(REJECT_REASONS).size, REJECT_REASONS.length);
  });
});

describe('IngestBatch series cache', () => {
  it('finds a series by identity across resets, without re-validating', () => {
    const b = batch();
    assert.equal(b.openKnownSeries('raw-bytes'), -2);
    const s = b.openSeries('m', ['a', '1'], 2, 'gauge', 1, 'raw-bytes');
    assert.equal(b.openKnownSeries('raw-bytes'), s);
    b.reset();
    const again = b.openKnownSeries('raw-bytes');
    assert.equal(again, 0);
    assert.equal(b.seriesKey(again), 'm{a="1"}');
    b.clearSeriesCache();
    assert.equal(b.openKnownSeries('raw-bytes'), -2);
  });

  it('does not remember rejected series and is bounded by seriesCacheSize', () => {
    const b = batch({ seriesCacheSize: 2 });
    assert.equal(b.openSeries('bad name', [], 0, 'gauge', 1, 'bad'), -1);
    assert.equal(b.openKnownSeries('bad'), -2);
    b.openSeries('a', [], 0, 'gauge', 1, 'a');
    b.openSeries('b', [], 0, 'gauge', 1, 'b');
    b.openSeries('c', [], 0, 'gauge', 1, 'c'); // the cache was full: it starts over
    assert.equal(b.openKnownSeries('a'), -2);
    assert.notEqual(b.openKnownSeries('c'), -2);
    const off = batch({ seriesCacheSize: 0 });
    off.openSeries('a', [], 0, 'gauge', 1, 'a');
    assert.equal(off.openKnownSeries('a'), -2);
  });

  it('remembers only a sample of new series while they outrun the cache, and every series again once it hits', () => {
    const b = batch({ seriesCacheSize: 64 });
    const open = (name: string) => b.openSeries('m', ['s', name], 2, 'gauge', 1, name);
    for (let i = 0; i < 2000; i++) {
      if (i % 100 === 0) b.reset();
      const row = open(`churn${i}`);
      assert.equal(b.seriesKey(row), `m{s="churn${i}"}`);
    }
    b.reset();
    const fresh = Array.from({ length: 60 }, (_, i) => `fresh${i}`);
    for (const name of fresh) assert.equal(b.seriesKey(open(name)), `m{s="${name}"}`);
    const known = fresh.filter((name) => b.openKnownSeries(name) !== -2);
    assert.ok(known.length > 0 && known.length < 30, `${known.length} of 60 remembered under churn`);
    for (const name of known) assert.equal(b.seriesKey(b.openKnownSeries(name)), `m{s="${name}"}`);
    // Series that are seen again (hits over an eighth of what the cache holds): once the sampled
    // ones have filled the cache, it remembers every new series again.
    for (let i = 0; i < 1000; i++) if (open(`more${i}`) >= 0) b.openKnownSeries(`more${i}`);
    for (let i = 0; i < 100; i++) {
      open(`later${i}`);
      assert.notEqual(b.openKnownSeries(`later${i}`), -2, `later${i} remembered`);
    }
  });

  // One row per series key in a batch, however the series was opened.
  const paths: { name: string; open: (b: IngestBatch) => number }[] = [
    { name: 'its cached identity', open: (b) => b.openKnownSeries('ab') },
    { name: 'another identity of the same labels', open: (b) => b.openSeries('m', ['b', '2', 'a', '1'], 4, 'gauge', 1, 'ba') },
    { name: 'no identity', open: (b) => b.openSeries('m', ['a', '1', 'b', '2'], 4, 'gauge', 1) },
  ];
  for (const first of paths) {
    for (const second of paths) {
      it(`one row per key: ${first.name}, then ${second.name}`, () => {
        const b = batch();
        b.openSeries('m', ['a', '1', 'b', '2'], 4, 'gauge', 1, 'ab');
        b.openSeries('m', ['b', '2', 'a', '1'], 4, 'gauge', 1, 'ba');
        b.reset();
        const other = b.openSeries('n', [], 0, 'gauge', 1);
        const row = first.open(b);
        assert.equal(second.open(b), row);
        assert.notEqual(row, other);
        assert.equal(b.seriesCount, 2);
        b.reset();
        assert.equal(second.open(b), 0, 'a new batch numbers rows afresh');
      });
    }
  }

  it('one row per key across a cache that fills up mid-batch', () => {
    const b = batch({ seriesCacheSize: 2 });
    const a = b.openSeries('a', [], 0, 'gauge', 1, 'a');
    b.openSeries('b', [], 0, 'gauge', 1, 'b');
    b.openSeries('c', [], 0, 'gauge', 1, 'c'); // starts the cache over
    assert.equal(b.openSeries('a', [], 0, 'gauge', 1, 'a2'), a);
    assert.equal(b.openSeries('a', [], 0, 'gauge', 1), a);
    assert.equal(b.seriesCount, 3);
  });
});

describe('IngestBatch series cache by bytes', () => {
  const id = (bytes: Uint8Array, start = 0, end = bytes.length, hash = hashBytes(bytes, start, end)): SeriesIdentity => ({ bytes, start, end, hash });

  it('finds a byte range stored earlier, wherever its copy sits, and keeps its own copy of the bytes', () => {
    const b = batch();
    const first = Buffer.from('..labels-of-a..');
    const s = b.openSeries('a', ['x', '1'], 2, 'gauge', 1, id(first, 2, 13));
    first.fill(0); // the sink must not keep a view of the payload
    b.reset();
    const elsewhere = Buffer.from('xyzlabels-of-a');
    assert.equal(b.openKnownSeries(id(elsewhere, 3)), s);
    assert.equal(b.seriesKey(0), 'a{x="1"}');
    assert.equal(b.openKnownSeries(id(Buffer.from('labels-of-b'))), -2);
  });

  const collisions: { name: string; stored: string; asked: string }[] = [
    { name: 'same length, one byte apart', stored: 'labels-of-a', asked: 'labels-of-b' },
    { name: 'a prefix of the stored bytes', stored: 'labels-of-a', asked: 'labels-of' },
    { name: 'longer than the stored bytes', stored: 'labels', asked: 'labels-of-a' },
    // Label sets as long as real ones, compared four bytes at a time, then byte by byte.
    { name: '130 bytes, one byte apart in a middle word', stored: `${'k'.repeat(64)}a${'k'.repeat(65)}`, asked: `${'k'.repeat(64)}b${'k'.repeat(65)}` },
    { name: '131 bytes, one byte apart in the last byte', stored: `${'k'.repeat(130)}a`, asked: `${'k'.repeat(130)}b` },
  ];
  for (const c of collisions) {
    it(`compares the bytes when hashes collide: ${c.name}`, () => {
      const b = batch();
      const hash = 12345; // forced: both identities claim the same hash
      const s = b.openSeries('stored', [], 0, 'gauge', 1, id(Buffer.from(c.stored), 0, c.stored.length, hash));
      assert.equal(b.openKnownSeries(id(Buffer.from(c.asked), 0, c.asked.length, hash)), -2);
      // The same bytes at an odd offset of a larger payload are still the stored series.
      assert.equal(b.openKnownSeries(id(Buffer.from(`xyz${c.stored}`), 3, 3 + c.stored.length, hash)), s);
      const t = b.openSeries('asked', [], 0, 'gauge', 1, id(Buffer.from(c.asked), 0, c.asked.length, hash));
      b.reset();
      // Both live in the same probe chain; each is found by its own bytes.
      assert.equal(b.seriesKey(b.openKnownSeries(id(Buffer.from(c.asked), 0, c.asked.length, hash))), 'asked');
      assert.equal(b.seriesKey(b.openKnownSeries(id(Buffer.from(c.stored), 0, c.stored.length, hash))), 'stored');
      assert.notEqual(s, t);
    });
  }

  it('finds each series whatever the order it is asked in (the entry after the last one found is only a guess)', () => {
    const b = batch();
    const names = ['a', 'b', 'c', 'd'];
    const bytesOf = (n: string) => Buffer.from(`labels-of-${n}`.repeat(12));
    for (const n of names) b.openSeries(n, [], 0, 'gauge', 1, id(bytesOf(n)));
    for (const order of [['a', 'b', 'c', 'd'], ['d', 'c', 'b', 'a'], ['b', 'd', 'a', 'c', 'a', 'b']]) {
      b.reset();
      for (const n of order) assert.equal(b.seriesKey(b.openKnownSeries(id(bytesOf(n)))), n, `${n} in ${order}`);
    }
    // A guess whose hash and length match but whose bytes differ is not taken.
    b.reset();
    assert.equal(b.seriesKey(b.openKnownSeries(id(bytesOf('a')))), 'a');
    const hashOfB = hashBytes(bytesOf('b'), 0, bytesOf('b').length);
    assert.equal(b.openKnownSeries(id(bytesOf('x'), 0, bytesOf('x').length, hashOfB)), -2);
  });

  it('keeps every series through table and byte-arena growth', () => {
    const b = batch();
    const n = 5000;
    const bytesOf = (i: number) => Buffer.from(`{"series":${i},"pad":"${'x'.repeat(i % 40)}"}`);
    for (let i = 0; i < n; i++) b.openSeries(`m${i}`, [], 0, 'gauge', 1, id(bytesOf(i)));
    b.reset();
    for (let i = 0; i < n; i++) {
      const s = b.openKnownSeries(id(bytesOf(i)));
      assert.equal(b.seriesKey(s), `m${i}`, `series ${i}`);
    }
  });

  it('never matches a string identity with byte identity of the same text', () => {
    const b = batch();
    b.openSeries('bytes', [], 0, 'gauge', 1, id(Buffer.from('same')));
    assert.equal(b.openKnownSeries('same'), -2);
    b.openSeries('text', [], 0, 'gauge', 1, 'same');
    b.reset();
    assert.equal(b.seriesKey(b.openKnownSeries('same')), 'text');
    assert.equal(b.seriesKey(b.openKnownSeries(id(Buffer.from('same')))), 'bytes');
  });
});

describe('IngestBatch options', () => {
  const bad: { name: string; options: Record<string, unknown>; path: string }[] = [
    { name: 'negative maxFutureMs', options: { maxFutureMs: -1 }, path: 'ingest.maxFutureMs' },
    { name: 'fractional maxLabels', options: { maxLabels: 1.5 }, path: 'ingest.maxLabels' },
    { name: 'now not a function', options: { now: 5 }, path: 'ingest.now' },
  ];
  for (const c of bad) {
    it(`refuses ${c.name}`, () => {
      assert.throws(
        () => new IngestBatch(c.options as Partial<IngestOptions>),
        (e: unknown) => e instanceof TidemarkError && e.code === 'TM_ERR_CONFIG' && e.path === c.path,
      );
    });
  }

  it('freezes its options', () => {
    assert.ok(Object.isFrozen(batch().options));
  });
});
