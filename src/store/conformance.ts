// The one behaviour suite every Store implementation runs (like Hono's common router cases):
// sqlite.test.ts and postgres.test.ts both run it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TidemarkError, type ErrorCode } from '../errors.ts';
import { hashToken, newTokenSecret } from './token.ts';
import type { AlertInput, Matcher, RetentionPolicy, Store, StoreOptions } from './types.ts';

/**
 * Makes an empty store for one test. The suite closes it. `options.now` is the test's clock;
 * pass `options` through to the implementation.
 */
export type MakeStore = (options: StoreOptions) => Promise<Store>;

const T0 = 1_700_000_040_000; // a whole minute
const MIN = 60_000;

interface Ctx {
  store: Store;
  clock: { t: number };
}

async function rejectsWith(p: Promise<unknown>, code: ErrorCode, pathPart?: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof TidemarkError, `expected a TidemarkError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (pathPart !== undefined) assert.ok((err.path ?? '').includes(pathPart), `path ${err.path} should mention ${pathPart}`);
    return true;
  });
}

function alertInput(over: Partial<AlertInput> = {}): AlertInput {
  return {
    tenant: 'acme',
    fingerprint: 'fp-1',
    metric: 'http_errors',
    labels: { service: 'api', region: 'eu' },
    state: 'pending',
    severity: 'S1',
    startsAt: T0,
    at: T0,
    score: 0.7,
    reasons: ['spike'],
    ...over,
  };
}

/**
 * Registers the conformance tests for one implementation under `describe(name)`.
 * @example runStoreConformance('sqlite', (o) => openSqliteStore({ ...o, path: ':memory:' }));
 */
export function runStoreConformance(name: string, makeStore: MakeStore): void {
  async function withStore(fn: (c: Ctx) => Promise<void>, retention?: Partial<RetentionPolicy>): Promise<void> {
    const clock = { t: T0 };
    const store = await makeStore({ now: () => clock.t, retention });
    try {
      await store.tenants.create({ id: 'acme', name: 'Acme' });
      await store.tenants.create({ id: 'other', name: 'Other' });
      await fn({ store, clock });
    } finally {
      await store.close();
    }
  }
  const test = (title: string, fn: (c: Ctx) => Promise<void>, retention?: Partial<RetentionPolicy>) => it(title, () => withStore(fn, retention));

  describe(`store conformance: ${name}`, () => {
    describe('tenants', () => {
      test('create is idempotent and stamps createdAt from the clock', async ({ store, clock }) => {
        clock.t = T0 + 5;
        const a = await store.tenants.create({ id: 'beta', name: 'Beta' });
        assert.deepEqual(a, { tenant: { id: 'beta', name: 'Beta', createdAt: T0 + 5 }, created: true });
        clock.t = T0 + 10;
        const b = await store.tenants.create({ id: 'beta', name: 'Renamed' });
        assert.deepEqual(b, { tenant: { id: 'beta', name: 'Beta', createdAt: T0 + 5 }, created: false });
        assert.deepEqual(await store.tenants.get('beta'), a.tenant);
        assert.equal(await store.tenants.get('nope'), undefined);
        assert.deepEqual((await store.tenants.list()).map((t) => t.id), ['acme', 'beta', 'other']);
      });
      for (const [title, id] of [
        ['empty', ''],
        ['upper case', 'Acme'],
        ['leading dash', '-acme'],
        ['space', 'ac me'],
        ['too long', 'a'.repeat(64)],
      ] as const) {
        test(`rejects a bad id: ${title}`, async ({ store }) => {
          await rejectsWith(store.tenants.create({ id, name: 'x' }), 'TM_ERR_INPUT', 'id');
        });
      }
    });

    describe('tokens', () => {
      test('create, look up by hash, list', async ({ store, clock }) => {
        const secret = newTokenSecret();
        assert.match(secret, /^tmk_[A-Za-z0-9_-]{43}$/);
        const hash = hashToken(secret);
        assert.equal(hash, hashToken(secret));
        assert.match(hash, /^[0-9a-f]{64}$/);
        clock.t = T0 + 1;
        const tok = await store.tokens.create({ tenant: 'acme', name: 'ci', role: 'write', hash, expiresAt: T0 + 1000 });
        assert.equal(typeof tok.id, 'number');
        assert.deepEqual({ ...tok, id: 0 }, { id: 0, tenant: 'acme', name: 'ci', role: 'write', hash, createdAt: T0 + 1, expiresAt: T0 + 1000, revokedAt: null });
        assert.deepEqual(await store.tokens.byHash(hash), tok);
        assert.equal(await store.tokens.byHash(hashToken('tmk_wrong')), undefined);
        const admin = await store.tokens.create({ tenant: 'acme', name: 'root', role: 'admin', hash: hashToken(newTokenSecret()) });
        assert.equal(admin.expiresAt, null);
        assert.deepEqual((await store.tokens.list('acme')).map((t) => t.name), ['ci', 'root']);
        assert.deepEqual(await store.tokens.list('other'), []);
      });
      test('a hash is stored once', async ({ store }) => {
        const hash = hashToken(newTokenSecret());
        await store.tokens.create({ tenant: 'acme', name: 'a', role: 'read', hash });
        await rejectsWith(store.tokens.create({ tenant: 'other', name: 'b', role: 'read', hash }), 'TM_ERR_CONFLICT');
      });
      test('rejects bad input and unknown tenants', async ({ store }) => {
        const hash = hashToken('x');
        await rejectsWith(store.tokens.create({ tenant: 'ghost', name: 'a', role: 'read', hash }), 'TM_ERR_NOT_FOUND');
        await rejectsWith(store.tokens.create({ tenant: 'acme', name: 'a', role: 'root' as never, hash }), 'TM_ERR_INPUT', 'role');
        await rejectsWith(store.tokens.create({ tenant: 'acme', name: 'a', role: 'read', hash: 'tmk_plaintext' }), 'TM_ERR_INPUT', 'hash');
        await rejectsWith(store.tokens.create({ tenant: 'acme', name: '', role: 'read', hash }), 'TM_ERR_INPUT', 'name');
      });
      test('revoke keeps the first time and is scoped to the tenant', async ({ store }) => {
        const tok = await store.tokens.create({ tenant: 'acme', name: 'a', role: 'read', hash: hashToken('s1') });
        assert.equal(await store.tokens.revoke('other', tok.id, T0 + 1), false);
        assert.equal((await store.tokens.byHash(tok.hash))?.revokedAt, null);
        assert.equal(await store.tokens.revoke('acme', tok.id, T0 + 2), true);
        assert.equal(await store.tokens.revoke('acme', tok.id, T0 + 3), true);
        assert.equal((await store.tokens.byHash(tok.hash))?.revokedAt, T0 + 2);
        assert.equal(await store.tokens.revoke('acme', 999_999, T0), false);
      });
    });

    describe('series', () => {
      test('intern is idempotent and ignores label order and empty values', async ({ store }) => {
        const before = await store.series.maxId();
        assert.ok(Number.isSafeInteger(before) && before >= 0);
        const [a, b, c, d, e, f] = await store.series.intern([
          { tenant: 'acme', metric: 'cpu', labels: { host: 'h1', dc: 'eu' } },
          { tenant: 'acme', metric: 'cpu', labels: { dc: 'eu', host: 'h1', empty: '' } },
          { tenant: 'acme', metric: 'cpu', labels: { dc: 'eu', host: 'h2' } },
          { tenant: 'acme', metric: 'mem', labels: { dc: 'eu', host: 'h1' } },
          { tenant: 'other', metric: 'cpu', labels: { dc: 'eu', host: 'h1' } },
          { tenant: 'acme', metric: 'cpu', labels: {} },
        ]);
        assert.equal(a, b);
        assert.equal(new Set([a, c, d, e, f]).size, 5);
        for (const id of [a, c, d, e, f]) assert.ok(Number.isSafeInteger(id) && id > 0);
        assert.deepEqual(await store.series.intern([{ tenant: 'acme', metric: 'cpu', labels: { host: 'h1', dc: 'eu' } }, { tenant: 'acme', metric: 'cpu', labels: {} }]), [a, f]);
        assert.deepEqual(await store.series.get('acme', a), { id: a, tenant: 'acme', metric: 'cpu', labels: { dc: 'eu', host: 'h1' } });
        assert.equal(await store.series.get('other', a), undefined, 'another tenant reads nothing');
        assert.equal(await store.series.get('acme', 987_654), undefined);
        assert.deepEqual(await store.series.intern([]), []);
        assert.equal(await store.series.maxId(), Math.max(before, a, c, d, e, f), 'maxId is the highest id of any tenant');
      });
      test('a batch with one bad key interns nothing', async ({ store }) => {
        await rejectsWith(
          store.series.intern([
            { tenant: 'acme', metric: 'cpu', labels: { a: '1' } },
            { tenant: 'ghost', metric: 'cpu', labels: {} },
          ]),
          'TM_ERR_NOT_FOUND',
          'keys[1]',
        );
        await rejectsWith(store.series.intern([{ tenant: 'acme', metric: 'cpu', labels: { __name__: 'x' } }]), 'TM_ERR_INPUT', 'keys[0].labels');
        await rejectsWith(store.series.intern([{ tenant: 'acme', metric: 'cpu', labels: { a: 1 as unknown as string } }]), 'TM_ERR_INPUT', 'keys[0].labels.a');
        await rejectsWith(store.series.intern([{ tenant: 'acme', metric: '', labels: {} }]), 'TM_ERR_INPUT', 'keys[0].metric');
        assert.deepEqual(await store.series.find('acme', []), []);
      });

      const matcherCases: [string, Matcher[], string[]][] = [
        ['no matchers selects all', [], ['a', 'b', 'c', 'd']],
        ['metric equality', [{ name: '__name__', op: '=', value: 'http_requests' }], ['a', 'b', 'c']],
        ['label equality', [{ name: 'code', op: '=', value: '200' }], ['a']],
        ['label inequality includes series without the label', [{ name: 'code', op: '!=', value: '200' }], ['b', 'c', 'd']],
        ['regex is anchored', [{ name: 'code', op: '=~', value: '5' }], []],
        ['regex alternatives', [{ name: 'code', op: '=~', value: '5..|200' }], ['a', 'b', 'c']],
        ['negative regex', [{ name: 'code', op: '!~', value: '5.*' }], ['a', 'd']],
        ['missing label equals empty', [{ name: 'code', op: '=', value: '' }], ['d']],
        ['metric regex', [{ name: '__name__', op: '=~', value: 'up|cpu.*' }], ['d']],
        [
          'matchers combine with AND',
          [
            { name: '__name__', op: '=', value: 'http_requests' },
            { name: 'code', op: '=~', value: '5..' },
            { name: 'path', op: '!=', value: '/login' },
          ],
          ['b'],
        ],
      ];
      for (const [title, matchers, expected] of matcherCases) {
        test(`find: ${title}`, async ({ store }) => {
          const ids = await store.series.intern([
            { tenant: 'acme', metric: 'http_requests', labels: { code: '200', path: '/' } },
            { tenant: 'acme', metric: 'http_requests', labels: { code: '500', path: '/' } },
            { tenant: 'acme', metric: 'http_requests', labels: { code: '503', path: '/login' } },
            { tenant: 'acme', metric: 'up', labels: { job: 'api' } },
            { tenant: 'other', metric: 'http_requests', labels: { code: '200', path: '/' } },
          ]);
          const names = new Map(ids.map((id, i) => [id, 'abcde'[i]]));
          const found = await store.series.find('acme', matchers);
          assert.deepEqual(found.map((s) => names.get(s.id)), expected);
        });
      }
      test('find: equality on values with quotes, backslashes and brackets is exact', async ({ store }) => {
        const odd = ['a"b', 'a\\b', '["x","y"]', 'a', 'ab'];
        const ids = await store.series.intern(odd.map((v) => ({ tenant: 'acme', metric: 'm', labels: { k: v, j: v } })));
        for (let i = 0; i < odd.length; i++) {
          assert.deepEqual((await store.series.find('acme', [{ name: 'k', op: '=', value: odd[i] }])).map((s) => s.id), [ids[i]], odd[i]);
        }
        assert.deepEqual(await store.series.find('acme', [{ name: 'k', op: '=', value: 'b' }]), []);
        assert.deepEqual(await store.series.find('acme', [{ name: 'j', op: '=', value: 'a' }, { name: 'k', op: '=', value: 'ab' }]), []);
      });
      test('find: limit, bad regex, bad op', async ({ store }) => {
        await store.series.intern([1, 2, 3].map((i) => ({ tenant: 'acme', metric: 'm', labels: { i: String(i) } })));
        assert.deepEqual((await store.series.find('acme', [], 2)).map((s) => s.labels.i), ['1', '2']);
        await rejectsWith(store.series.find('acme', [{ name: 'i', op: '=~', value: '(' }]), 'TM_ERR_INPUT', 'matchers[0].value');
        await rejectsWith(store.series.find('acme', [{ name: 'i', op: '~' as never, value: 'x' }]), 'TM_ERR_INPUT', 'matchers[0].op');
        await rejectsWith(store.series.find('acme', [], 0), 'TM_ERR_INPUT', 'limit');
      });
      test('label names and values', async ({ store }) => {
        await store.series.intern([
          { tenant: 'acme', metric: 'http_requests', labels: { code: '200', path: '/' } },
          { tenant: 'acme', metric: 'http_requests', labels: { code: '500', path: '/' } },
          { tenant: 'acme', metric: 'up', labels: { job: 'api' } },
          { tenant: 'other', metric: 'secret', labels: { team: 'x' } },
        ]);
        assert.deepEqual(await store.series.labelNames('acme'), ['__name__', 'code', 'job', 'path']);
        assert.deepEqual(await store.series.labelNames('acme', [{ name: '__name__', op: '=', value: 'up' }]), ['__name__', 'job']);
        assert.deepEqual(await store.series.labelNames('nobody'), []);
        assert.deepEqual(await store.series.labelValues('acme', '__name__'), ['http_requests', 'up']);
        assert.deepEqual(await store.series.labelValues('acme', 'code'), ['200', '500']);
        assert.deepEqual(await store.series.labelValues('acme', 'code', [{ name: 'code', op: '!=', value: '200' }]), ['500']);
        assert.deepEqual(await store.series.labelValues('acme', 'team'), []);
      });
    });

    describe('samples', () => {
      async function oneSeries(store: Store, tenant = 'acme'): Promise<number> {
        return (await store.series.intern([{ tenant, metric: 'latency', labels: { svc: 'api' } }]))[0];
      }
      test('append and read a range: time order, [from, to), limit keeps the earliest', async ({ store }) => {
        const id = await oneSeries(store);
        const r = await store.samples.append({ seriesId: [id, id, id, id], t: [T0 + 3000, T0 + 1000, T0 + 2000, T0], v: [3, 1, 2, 0] });
        assert.deepEqual(r, { inserted: 4, duplicates: 0 });
        const all = await store.samples.range('acme', id, T0, T0 + 3001);
        assert.deepEqual([...all.t], [T0, T0 + 1000, T0 + 2000, T0 + 3000]);
        assert.deepEqual([...all.v], [0, 1, 2, 3]);
        assert.ok(all.t instanceof Float64Array && all.v instanceof Float64Array);
        const mid = await store.samples.range('acme', id, T0 + 1000, T0 + 3000);
        assert.deepEqual([...mid.v], [1, 2]);
        assert.deepEqual([...(await store.samples.range('acme', id, T0, T0 + 10_000, 2)).v], [0, 1]);
        assert.equal((await store.samples.range('acme', id, T0 + 5000, T0 + 9000)).t.length, 0);
      });
      test('typed-array batches, NaN and infinities round-trip', async ({ store }) => {
        const id = await oneSeries(store);
        await store.samples.append({
          seriesId: Float64Array.of(id, id, id, id),
          t: Float64Array.of(T0, T0 + 1, T0 + 2, T0 + 3),
          v: Float64Array.of(NaN, Infinity, -Infinity, -0.5),
        });
        assert.deepEqual([...(await store.samples.range('acme', id, T0, T0 + 4)).v], [NaN, Infinity, -Infinity, -0.5]);
      });
      test('duplicates: the first value wins and a retried batch is a no-op', async ({ store }) => {
        const id = await oneSeries(store);
        const batch = { seriesId: [id, id], t: [T0, T0 + 1000], v: [1, 2] };
        assert.deepEqual(await store.samples.append(batch), { inserted: 2, duplicates: 0 });
        assert.deepEqual(await store.samples.append(batch), { inserted: 0, duplicates: 2 });
        assert.deepEqual(await store.samples.append({ seriesId: [id, id, id], t: [T0, T0 + 2000, T0 + 2000], v: [99, 3, 98] }), { inserted: 1, duplicates: 2 });
        assert.deepEqual([...(await store.samples.range('acme', id, T0, T0 + 3000)).v], [1, 2, 3]);
      });
      const badBatches: [string, (id: number) => unknown, string][] = [
        ['length mismatch', (id) => ({ seriesId: [id, id], t: [T0], v: [1, 2] }), 'batch'],
        ['fractional time', (id) => ({ seriesId: [id, id], t: [T0, T0 + 0.5], v: [1, 2] }), 'batch.t[1]'],
        ['series id 0', (id) => ({ seriesId: [id, 0], t: [T0, T0 + 1], v: [1, 2] }), 'batch.seriesId[1]'],
        ['value not a number', (id) => ({ seriesId: [id, id], t: [T0, T0 + 1], v: [1, '2'] }), 'batch.v[1]'],
      ];
      for (const [title, make, path] of badBatches) {
        test(`a bad batch writes nothing: ${title}`, async ({ store }) => {
          const id = await oneSeries(store);
          await rejectsWith(store.samples.append(make(id) as never), 'TM_ERR_INPUT', path);
          assert.equal((await store.samples.range('acme', id, 0, T0 * 2)).t.length, 0);
        });
      }
      test('the caller may refill its arrays as soon as append returns', async ({ store }) => {
        const id = await oneSeries(store);
        const seriesId = Float64Array.of(id, id);
        const t = Float64Array.of(T0, T0 + 1000);
        const v = Float64Array.of(1, 2);
        const expected = Float64Array.of(10, 20);
        const pending = Promise.all([
          store.samples.append({ seriesId, t, v }),
          store.samples.appendBands({ seriesId, t, expected, lower: expected, upper: expected, score: expected }),
        ]);
        t.fill(T0 + 5000);
        v.fill(-1);
        expected.fill(-1);
        await pending;
        assert.deepEqual([...(await store.samples.range('acme', id, 0, T0 * 2)).v], [1, 2]);
        assert.deepEqual([...(await store.samples.bands('acme', id, 0, T0 * 2)).expected], [10, 20]);
      });
      test('an empty batch is fine', async ({ store }) => {
        assert.deepEqual(await store.samples.append({ seriesId: [], t: [], v: [] }), { inserted: 0, duplicates: 0 });
      });
      test('concurrent appends all land with their own results', async ({ store }) => {
        const id = await oneSeries(store);
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, k) => store.samples.append({ seriesId: [id, id], t: [T0 + k, T0 + (k % 10)], v: [k, k] })),
        );
        const inserted = results.reduce((s, r) => s + r.inserted, 0);
        assert.equal(inserted, 20, 'times T0..T0+19 once each');
        assert.deepEqual(results[0], { inserted: 1, duplicates: 1 }, 'batch 0 writes T0 twice');
        assert.deepEqual(results[15], { inserted: 1, duplicates: 1 });
        assert.equal((await store.samples.range('acme', id, T0, T0 + 100)).t.length, 20);
      });
      test('another tenant reads no samples', async ({ store }) => {
        const id = await oneSeries(store);
        await store.samples.append({ seriesId: [id], t: [T0], v: [1] });
        assert.equal((await store.samples.range('other', id, 0, T0 * 2)).t.length, 0);
        assert.equal((await store.samples.rollups('other', id, 0, T0 * 2)).t.length, 0);
      });
      test('rollups from raw: one row per minute, NaN not counted', async ({ store }) => {
        const id = await oneSeries(store);
        await store.samples.append({
          seriesId: [id, id, id, id, id],
          t: [T0, T0 + 15_000, T0 + 30_000, T0 + MIN, T0 + 3 * MIN + 59_999],
          v: [1, 5, NaN, 7, 2],
        });
        const r = await store.samples.rollups('acme', id, T0, T0 + 10 * MIN);
        assert.deepEqual([...r.t], [T0, T0 + MIN, T0 + 3 * MIN]);
        assert.deepEqual([...r.n], [2, 1, 1]);
        assert.deepEqual([...r.sum], [6, 7, 2]);
        assert.deepEqual([...r.min], [1, 7, 2]);
        assert.deepEqual([...r.max], [5, 7, 2]);
        // Minutes are selected by their start: from is rounded up, to is exclusive.
        assert.deepEqual([...(await store.samples.rollups('acme', id, T0 + 1, T0 + 3 * MIN)).t], [T0 + MIN]);
      });
      test('bands: write, replace, read', async ({ store }) => {
        const id = await oneSeries(store);
        assert.equal(await store.samples.appendBands({ seriesId: [id, id], t: [T0, T0 + 1000], expected: [10, 11], lower: [8, 9], upper: [12, 13], score: [0.1, NaN] }), 2);
        await store.samples.appendBands({ seriesId: [id], t: [T0], expected: [20], lower: [18], upper: [22], score: [0.9] });
        const b = await store.samples.bands('acme', id, T0, T0 + 2000);
        assert.deepEqual(
          { t: [...b.t], expected: [...b.expected], lower: [...b.lower], upper: [...b.upper], score: [...b.score] },
          { t: [T0, T0 + 1000], expected: [20, 11], lower: [18, 9], upper: [22, 13], score: [0.9, NaN] },
        );
        assert.equal((await store.samples.bands('acme', id, T0, T0 + 2000, 1)).t.length, 1);
        assert.equal((await store.samples.bands('other', id, T0, T0 + 2000)).t.length, 0);
        await rejectsWith(store.samples.appendBands({ seriesId: [id], t: [T0], expected: [], lower: [1], upper: [1], score: [1] }), 'TM_ERR_INPUT');
      });
      test(
        'sweep rolls up, then expires raw samples, bands and rollups; a second sweep changes nothing',
        async ({ store }) => {
          const id = await oneSeries(store);
          // One point every 30 s for 90 minutes: value = minute index.
          const n = 180;
          const t = Array.from({ length: n }, (_, i) => T0 + i * 30_000);
          const v = t.map((x) => Math.floor((x - T0) / MIN));
          await store.samples.append({ seriesId: t.map(() => id), t, v });
          await store.samples.appendBands({ seriesId: t.map(() => id), t, expected: v, lower: v, upper: v, score: v.map(() => 0) });
          const now = T0 + 90 * MIN;
          const before = await store.samples.rollups('acme', id, T0, now);
          assert.equal(before.t.length, 90);

          const r1 = await store.samples.sweep(now);
          // raw 10 min, rollups 60 min, late 1 min.
          assert.equal(r1.deletedSamples, 160, 'samples before now - 10 min');
          assert.equal(r1.deletedBands, 160);
          assert.equal(r1.rolledUp, 59, 'minutes 30..88: older ones are past rollup retention, minute 89 is not late enough');
          const raw = await store.samples.range('acme', id, 0, now);
          assert.equal(raw.t[0], now - 10 * MIN);
          assert.equal(raw.t.length, 20);
          const after = await store.samples.rollups('acme', id, T0, now);
          const keep = (a: Float64Array) => [...a].slice(30);
          assert.deepEqual([...after.t], keep(before.t), 'the last 60 minutes survive raw expiry');
          assert.deepEqual([...after.sum], keep(before.sum));
          assert.deepEqual([...after.n], keep(before.n));
          assert.deepEqual([...after.max], keep(before.max));

          const later = now + 30 * MIN;
          const r2 = await store.samples.sweep(later);
          assert.equal(r2.deletedSamples, 20);
          assert.equal(r2.deletedRollups, 30, 'minutes 30..59 are older than later - 60 min');
          const kept = await store.samples.rollups('acme', id, T0, later);
          assert.equal(kept.t[0], later - 60 * MIN);
          assert.equal(kept.t.length, 30, 'minutes 60..89 remain; nothing newer was ingested');
          assert.deepEqual([...kept.sum].slice(-1), [2 * 89], 'minute 89 was rolled up before its raw samples expired');
          assert.deepEqual(await store.samples.sweep(later), { rolledUp: 0, deletedSamples: 0, deletedBands: 0, deletedRollups: 0 });
        },
        { rawMs: 10 * MIN, rollupMs: 60 * MIN, lateMs: MIN },
      );
      test(
        'a late sample is folded into its minute by the next sweep',
        async ({ store }) => {
          const id = await oneSeries(store);
          await store.samples.append({ seriesId: [id], t: [T0], v: [1] });
          await store.samples.sweep(T0 + 2 * MIN + 1); // rolls up minute T0
          assert.deepEqual([...(await store.samples.rollups('acme', id, T0, T0 + MIN)).n], [1]);
          await store.samples.append({ seriesId: [id], t: [T0 + 30_000], v: [5] });
          await store.samples.sweep(T0 + 2 * MIN + 30_000);
          const r = await store.samples.rollups('acme', id, T0, T0 + 4 * MIN);
          assert.deepEqual([...r.t], [T0]);
          assert.deepEqual([...r.n], [2]);
          assert.deepEqual([...r.max], [5]);
        },
        { rawMs: 10 * MIN, rollupMs: 60 * MIN, lateMs: MIN },
      );
      test(
        'a recomputed minute never loses samples that an earlier sweep expired',
        async ({ store }) => {
          const id = await oneSeries(store);
          const t = Array.from({ length: 40 }, (_, i) => T0 + i * 30_000);
          await store.samples.append({ seriesId: t.map(() => id), t, v: t.map(() => 1) });
          // Raw cut at T0 + 13.5 min: minute 13 keeps one of its two raw samples.
          await store.samples.sweep(T0 + 20 * MIN + 30_000);
          await store.samples.sweep(T0 + 21 * MIN); // lateness reaches back to minute 10
          const r = await store.samples.rollups('acme', id, T0 + 10 * MIN, T0 + 15 * MIN);
          assert.deepEqual([...r.t], [10, 11, 12, 13, 14].map((m) => T0 + m * MIN));
          assert.deepEqual([...r.n], [2, 2, 2, 2, 2]);
        },
        { rawMs: 7 * MIN, rollupMs: 60 * MIN, lateMs: 5 * MIN },
      );
      test(
        'overlapping sweeps do the work once',
        async ({ store }) => {
          const id = await oneSeries(store);
          const t = Array.from({ length: 30 }, (_, i) => T0 + i * MIN);
          await store.samples.append({ seriesId: t.map(() => id), t, v: t.map(() => 1) });
          const [a, b] = await Promise.all([store.samples.sweep(T0 + 30 * MIN), store.samples.sweep(T0 + 30 * MIN)]);
          assert.equal(a.deletedSamples + b.deletedSamples, 20);
          assert.equal((await store.samples.rollups('acme', id, T0, T0 + 30 * MIN)).t.length, 30);
        },
        { rawMs: 10 * MIN, rollupMs: 60 * MIN, lateMs: MIN },
      );
      test('sweep of an empty store', async ({ store }) => {
        assert.deepEqual(await store.samples.sweep(T0), { rolledUp: 0, deletedSamples: 0, deletedBands: 0, deletedRollups: 0 });
      });
    });

    describe('changes', () => {
      test('add and list by time range, service and kind', async ({ store }) => {
        const add = (t: number, kind: 'deploy' | 'flag' | 'infra', service: string) =>
          store.changes.add({ tenant: 'acme', t, kind, service, text: `${kind} ${service}`, labels: { env: 'prod' }, author: 'ci', link: 'https://ci/1' });
        const first = await add(T0 + 2, 'deploy', 'api');
        assert.equal(first.created, true);
        assert.deepEqual({ ...first.event, id: 0 }, {
          id: 0,
          tenant: 'acme',
          t: T0 + 2,
          kind: 'deploy',
          service: 'api',
          labels: { env: 'prod' },
          text: 'deploy api',
          author: 'ci',
          link: 'https://ci/1',
          externalId: null,
        });
        await add(T0 + 1, 'flag', 'api');
        await add(T0 + 3, 'deploy', 'db');
        await add(T0 + 10, 'infra', 'api');
        await store.changes.add({ tenant: 'other', t: T0 + 2, kind: 'deploy', service: 'api', text: 'x' });
        const texts = async (q: object) => (await store.changes.list({ tenant: 'acme', from: T0, to: T0 + 10, ...q })).map((e) => e.text);
        assert.deepEqual(await texts({}), ['flag api', 'deploy api', 'deploy db']);
        assert.deepEqual(await texts({ services: ['api'] }), ['flag api', 'deploy api']);
        assert.deepEqual(await texts({ kinds: ['deploy'] }), ['deploy api', 'deploy db']);
        assert.deepEqual(await texts({ kinds: ['deploy'], services: ['db', 'web'] }), ['deploy db']);
        assert.deepEqual(await texts({ kinds: [] }), []);
        assert.deepEqual(await texts({ limit: 1 }), ['flag api']);
      });
      test('an external id makes add idempotent', async ({ store }) => {
        const input = { tenant: 'acme', t: T0, kind: 'deploy' as const, service: 'api', text: 'v1.2', externalId: 'gh-123' };
        const a = await store.changes.add(input);
        const b = await store.changes.add({ ...input, text: 'retry' });
        assert.equal(b.created, false);
        assert.deepEqual(b.event, a.event);
        assert.equal((await store.changes.add({ ...input, tenant: 'other' })).created, true, 'ids are per tenant');
        assert.equal((await store.changes.list({ tenant: 'acme', from: 0, to: T0 * 2 })).length, 1);
      });
      test('rejects bad events', async ({ store }) => {
        const ok = { tenant: 'acme', t: T0, kind: 'deploy' as const, service: 'api', text: 'x' };
        await rejectsWith(store.changes.add({ ...ok, kind: 'release' as never }), 'TM_ERR_INPUT', 'kind');
        await rejectsWith(store.changes.add({ ...ok, service: '' }), 'TM_ERR_INPUT', 'service');
        await rejectsWith(store.changes.add({ ...ok, t: 1.5 }), 'TM_ERR_INPUT', 't');
        await rejectsWith(store.changes.add({ ...ok, tenant: 'ghost' }), 'TM_ERR_NOT_FOUND');
      });
    });

    describe('alerts', () => {
      test('upsert is idempotent and writes history only on transitions', async ({ store }) => {
        const a = await store.alerts.upsert(alertInput({ packet: { what: 'spike', top: [{ host: 'h1', share: 0.8 }] }, owner: 'team-api', runbook: 'https://rb/1', configVersion: 3, seriesId: 7 }));
        assert.deepEqual({ created: a.created, transitioned: a.transitioned, stale: a.stale, previousState: a.previousState }, { created: true, transitioned: true, stale: false, previousState: null });
        assert.deepEqual(a.alert, {
          tenant: 'acme',
          fingerprint: 'fp-1',
          metric: 'http_errors',
          labels: { region: 'eu', service: 'api' },
          seriesId: 7,
          state: 'pending',
          severity: 'S1',
          startsAt: T0,
          endsAt: null,
          updatedAt: T0,
          score: 0.7,
          reasons: ['spike'],
          owner: 'team-api',
          runbook: 'https://rb/1',
          packet: { what: 'spike', top: [{ host: 'h1', share: 0.8 }] },
          configVersion: 3,
        });
        const again = await store.alerts.upsert(alertInput({ packet: { what: 'spike', top: [{ host: 'h1', share: 0.8 }] }, owner: 'team-api', runbook: 'https://rb/1', configVersion: 3, seriesId: 7 }));
        assert.deepEqual({ created: again.created, transitioned: again.transitioned }, { created: false, transitioned: false });
        assert.deepEqual(again.alert, a.alert);
        const rescored = await store.alerts.upsert(alertInput({ at: T0 + 1000, score: 0.8 }));
        assert.equal(rescored.transitioned, false);
        assert.equal(rescored.alert.score, 0.8);
        assert.equal(rescored.alert.owner, null, 'an upsert replaces every field');
        const firing = await store.alerts.upsert(alertInput({ at: T0 + 2000, state: 'firing', severity: 'S2', score: 0.95 }));
        assert.deepEqual({ t: firing.transitioned, p: firing.previousState }, { t: true, p: 'pending' });
        const resolved = await store.alerts.upsert(alertInput({ at: T0 + 9000, state: 'resolved', severity: 'S2', score: 0.1, endsAt: T0 + 9000 }));
        assert.equal(resolved.alert.endsAt, T0 + 9000);
        assert.deepEqual(await store.alerts.history('acme', 'fp-1'), [
          { t: T0, state: 'pending', severity: 'S1', score: 0.7 },
          { t: T0 + 2000, state: 'firing', severity: 'S2', score: 0.95 },
          { t: T0 + 9000, state: 'resolved', severity: 'S2', score: 0.1 },
        ]);
        assert.deepEqual(await store.alerts.history('other', 'fp-1'), []);
      });
      test('an older observation is ignored', async ({ store }) => {
        await store.alerts.upsert(alertInput({ at: T0 + 5000, state: 'firing' }));
        const old = await store.alerts.upsert(alertInput({ at: T0 + 1000, state: 'resolved' }));
        assert.equal(old.stale, true);
        assert.equal(old.alert.state, 'firing');
        assert.equal((await store.alerts.get('acme', 'fp-1'))?.state, 'firing');
        assert.equal((await store.alerts.history('acme', 'fp-1')).length, 1);
      });
      test('list filters by state, severity, owner and label matchers', async ({ store }) => {
        await store.alerts.upsert(alertInput({ fingerprint: 'a', state: 'firing', severity: 'S2', owner: 'api', startsAt: T0 + 3, labels: { service: 'api' } }));
        await store.alerts.upsert(alertInput({ fingerprint: 'b', state: 'pending', severity: 'S1', owner: 'api', startsAt: T0 + 2, labels: { service: 'api', region: 'us' } }));
        await store.alerts.upsert(alertInput({ fingerprint: 'c', state: 'resolved', severity: 'S3', owner: 'db', startsAt: T0 + 1, metric: 'db_lag', labels: { service: 'db' } }));
        await store.alerts.upsert(alertInput({ tenant: 'other', fingerprint: 'z', state: 'firing' }));
        const fps = async (q: object) => (await store.alerts.list({ tenant: 'acme', ...q })).map((a) => a.fingerprint);
        assert.deepEqual(await fps({}), ['a', 'b', 'c'], 'newest startsAt first');
        assert.deepEqual(await fps({ states: ['firing', 'pending'] }), ['a', 'b']);
        assert.deepEqual(await fps({ severities: ['S3'] }), ['c']);
        assert.deepEqual(await fps({ owner: 'api' }), ['a', 'b']);
        assert.deepEqual(await fps({ matchers: [{ name: 'region', op: '=', value: 'us' }] }), ['b']);
        assert.deepEqual(await fps({ matchers: [{ name: '__name__', op: '=~', value: 'db_.*' }] }), ['c']);
        assert.deepEqual(await fps({ states: ['firing'], owner: 'db' }), []);
        assert.deepEqual(await fps({ limit: 2 }), ['a', 'b']);
        assert.equal(await store.alerts.get('acme', 'z'), undefined);
      });
      test('list pages, orders, filters by service, text and held, and counts in one read', async ({ store }) => {
        const held = { suppressions: [{ kind: 'silence', at: T0, reason: 'deploy window of checkout' }] };
        await store.alerts.upsert(alertInput({ fingerprint: 'a', state: 'firing', severity: 'S2', owner: 'api', startsAt: T0 + 5, labels: { service: 'api', region: 'eu' } }));
        await store.alerts.upsert(alertInput({ fingerprint: 'b', state: 'firing', severity: 'S0', owner: 'api', startsAt: T0 + 4, labels: { service: 'api', region: 'us' }, packet: held }));
        await store.alerts.upsert(alertInput({ fingerprint: 'c', state: 'pending', severity: 'S2', owner: 'db', startsAt: T0 + 3, metric: 'db_lag', labels: { exported_service: 'db' }, packet: { heldReason: 'impact below the gate' } }));
        await store.alerts.upsert(alertInput({ fingerprint: 'd', state: 'resolved', severity: 'S1', startsAt: T0 + 2, labels: { service: 'web', exported_service: 'db' }, packet: { suppressions: [], heldReason: null } }));
        await store.alerts.upsert(alertInput({ fingerprint: 'e', state: 'firing', severity: 'S0', owner: 'db', startsAt: T0 + 2, labels: { service: 'db' } }));
        await store.alerts.upsert(alertInput({ tenant: 'other', fingerprint: 'z', state: 'firing', labels: { service: 'api' } }));
        const fps = async (q: object) => (await store.alerts.list({ tenant: 'acme', ...q })).map((a) => a.fingerprint);
        assert.deepEqual(await fps({ order: 'severity' }), ['a', 'c', 'd', 'b', 'e'], 'worst (S3) first, then newest');
        assert.deepEqual(await fps({ order: 'severity', limit: 2 }), ['a', 'c']);
        assert.deepEqual(await fps({ order: 'severity', limit: 2, offset: 2 }), ['d', 'b']);
        assert.deepEqual(await fps({ order: 'severity', offset: 4 }), ['e']);
        assert.deepEqual(await fps({ offset: 9 }), []);
        assert.deepEqual(await fps({ limit: 1, offset: 1, matchers: [{ name: 'region', op: '=~', value: '.+' }] }), ['b'], 'offset counts matched rows');
        assert.deepEqual(await fps({ service: 'api' }), ['a', 'b']);
        assert.deepEqual(await fps({ service: 'db' }), ['c', 'e'], 'exported_service counts only without a service label');
        assert.deepEqual(await fps({ held: true }), ['b', 'c']);
        assert.deepEqual(await fps({ held: false }), ['a', 'd', 'e']);
        assert.deepEqual(await fps({ text: 'DB_LAG' }), ['c']);
        assert.deepEqual(await fps({ text: 'region=us' }), ['b']);
        assert.deepEqual(await fps({ text: 'api eu' }), ['a']);
        assert.deepEqual(await fps({ text: 'checkout' }), ['b'], 'why it was held is searched');
        assert.deepEqual(await fps({ text: 'nowhere' }), []);
        await rejectsWith(store.alerts.list({ tenant: 'acme', offset: -1 }), 'TM_ERR_INPUT', 'offset');
        await rejectsWith(store.alerts.list({ tenant: 'acme', order: 'loudest' as never }), 'TM_ERR_INPUT', 'order');

        const all = await store.alerts.counts({ tenant: 'acme' });
        assert.deepEqual(all.groups, [
          { state: 'pending', severity: 'S2', held: true, n: 1 },
          { state: 'firing', severity: 'S0', held: false, n: 1 },
          { state: 'firing', severity: 'S0', held: true, n: 1 },
          { state: 'firing', severity: 'S2', held: false, n: 1 },
          { state: 'resolved', severity: 'S1', held: false, n: 1 },
        ]);
        assert.deepEqual(all.owners, [{ value: 'api', n: 2 }, { value: 'db', n: 2 }]);
        assert.deepEqual(all.services, [{ value: 'api', n: 2 }, { value: 'db', n: 2 }, { value: 'web', n: 1 }]);
        const api = await store.alerts.counts({ tenant: 'acme', owner: 'api', states: ['firing'] });
        assert.deepEqual(api.groups, [{ state: 'firing', severity: 'S0', held: true, n: 1 }, { state: 'firing', severity: 'S2', held: false, n: 1 }]);
        assert.deepEqual(api.owners, [{ value: 'api', n: 2 }, { value: 'db', n: 1 }], 'a facet ignores its own filter');
        assert.deepEqual(api.services, [{ value: 'api', n: 2 }]);
        const text = await store.alerts.counts({ tenant: 'acme', text: 'region=us' });
        assert.deepEqual(text.groups, [{ state: 'firing', severity: 'S0', held: true, n: 1 }]);
        const matched = await store.alerts.counts({ tenant: 'acme', matchers: [{ name: '__name__', op: '=', value: 'db_lag' }] });
        assert.deepEqual(matched.groups, [{ state: 'pending', severity: 'S2', held: true, n: 1 }]);
        assert.deepEqual(matched.services, [{ value: 'db', n: 1 }]);
      });
      for (const [title, over, path] of [
        ['unknown state', { state: 'open' }, 'state'],
        ['unknown severity', { severity: 'S9' }, 'severity'],
        ['score NaN', { score: NaN }, 'score'],
        ['reasons not strings', { reasons: [1] }, 'reasons'],
        ['packet not JSON', { packet: 10n }, 'packet'],
      ] as const) {
        test(`upsert rejects ${title}`, async ({ store }) => {
          await rejectsWith(store.alerts.upsert(alertInput(over as never)), 'TM_ERR_INPUT', path);
          assert.equal(await store.alerts.get('acme', 'fp-1'), undefined);
        });
      }
    });

    describe('notifications', () => {
      test('record, list newest first, last sent', async ({ store }) => {
        const base = { tenant: 'acme', fingerprint: 'fp-1', channel: 'slack', alertState: 'firing' as const };
        await store.notifications.record({ ...base, status: 'sent', attempt: 1, at: T0 });
        const failed = await store.notifications.record({ ...base, status: 'failed', attempt: 1, at: T0 + 10, error: 'HTTP 503' });
        assert.equal(failed.error, 'HTTP 503');
        await store.notifications.record({ ...base, channel: 'pagerduty', status: 'sent', attempt: 2, at: T0 + 20 });
        await store.notifications.record({ ...base, tenant: 'other', status: 'sent', attempt: 1, at: T0 + 30 });
        const all = await store.notifications.list({ tenant: 'acme' });
        assert.deepEqual(all.map((n) => [n.channel, n.status, n.at]), [['pagerduty', 'sent', T0 + 20], ['slack', 'failed', T0 + 10], ['slack', 'sent', T0]]);
        assert.deepEqual((await store.notifications.list({ tenant: 'acme', status: 'failed' })).map((n) => n.at), [T0 + 10]);
        assert.deepEqual((await store.notifications.list({ tenant: 'acme', channel: 'slack', from: T0 + 5 })).map((n) => n.at), [T0 + 10]);
        assert.deepEqual((await store.notifications.list({ tenant: 'acme', to: T0 + 10, limit: 5 })).map((n) => n.at), [T0]);
        assert.equal((await store.notifications.lastSent('acme', 'fp-1', 'slack'))?.at, T0, 'the failed retry is not a send');
        assert.equal(await store.notifications.lastSent('acme', 'fp-1', 'email'), undefined);
        await rejectsWith(store.notifications.record({ ...base, status: 'sent', attempt: 0, at: T0 }), 'TM_ERR_INPUT', 'attempt');
        await rejectsWith(store.notifications.record({ ...base, status: 'lost' as never, attempt: 1, at: T0 }), 'TM_ERR_INPUT', 'status');
      });
    });

    describe('notification intents', () => {
      const intent = { tenant: 'acme', dispatchId: 'g1:notify:abc', channels: ['chat/webhook', 'chat/slack'], alerts: [{ fingerprint: 'fp-1', alertState: 'firing' as const }, { fingerprint: 'fp-2', alertState: 'firing' as const }], at: T0 };
      test('an intent is pending per alert and channel until settled; its payload goes with the last pending row', async ({ store }) => {
        const payload = { dispatch: { id: 'g1:notify:abc', alerts: [{ fingerprint: 'fp-1' }] }, fenced: [] };
        assert.equal(await store.notifications.intend([{ ...intent, payload }, { ...intent, tenant: 'other', dispatchId: 'g9:notify:x', channels: ['chat/webhook'], alerts: [intent.alerts[0]], payload: 1 }]), 5);
        const rows = await store.notifications.list({ tenant: 'acme', status: 'pending' });
        assert.equal(rows.length, 4);
        assert.ok(rows.every((r) => r.dispatchId === 'g1:notify:abc' && r.attempt === 0 && r.at === T0));
        assert.deepEqual(await store.notifications.pending({ tenant: 'acme' }), [
          { tenant: 'acme', dispatchId: 'g1:notify:abc', channels: ['chat/slack', 'chat/webhook'], fingerprints: ['fp-1', 'fp-2'], payload, at: T0 },
        ]);
        assert.deepEqual(await store.notifications.pending({ tenant: 'acme', before: T0 }), [], 'only intents recorded before `before`');
        // Recording it again (a restart, another worker) stores nothing.
        assert.equal(await store.notifications.intend([{ ...intent, at: T0 + 5, payload: 'other' }]), 0);
        assert.deepEqual((await store.notifications.pending({ tenant: 'acme' }))[0].payload, payload, 'the first payload stays');

        assert.equal(await store.notifications.settle([{ ...intent, channels: ['chat/webhook'], status: 'sent', attempt: 2, at: T0 + 10 }]), 2);
        const [left] = await store.notifications.pending({ tenant: 'acme' });
        assert.deepEqual([left.channels, left.fingerprints, left.at], [['chat/slack'], ['fp-1', 'fp-2'], T0]);
        assert.deepEqual(left.payload, payload, 'kept while a channel is pending');
        assert.deepEqual((await store.notifications.list({ tenant: 'acme', channel: 'chat/webhook' })).map((r) => [r.fingerprint, r.status, r.attempt, r.at]), [['fp-2', 'sent', 2, T0 + 10], ['fp-1', 'sent', 2, T0 + 10]]);
        assert.equal((await store.notifications.lastSent('acme', 'fp-1', 'chat/webhook'))?.at, T0 + 10);

        assert.equal(await store.notifications.settle([{ ...intent, channels: ['chat/slack'], status: 'failed', attempt: 4, at: T0 + 20, error: 'HTTP 503' }]), 2);
        assert.deepEqual(await store.notifications.pending({ tenant: 'acme' }), []);
        assert.deepEqual((await store.notifications.pending({ tenant: 'other' })).map((p) => p.dispatchId), ['g9:notify:x'], 'intents are per tenant');
        // Settled: a new intent for it stores nothing and leaves no payload behind.
        assert.equal(await store.notifications.intend([{ ...intent, payload }]), 0);
        assert.deepEqual(await store.notifications.pending({ tenant: 'acme' }), []);
        assert.equal((await store.notifications.list({ tenant: 'acme' })).length, 4);
      });
      test('sent is final: a late failure does not undo it, a retry turns a failure into sent', async ({ store }) => {
        await store.notifications.intend([{ ...intent, payload: null }]);
        // Two workers settle the same dispatch: the first sent it, the second's attempt failed.
        assert.equal(await store.notifications.settle([
          { ...intent, channels: ['chat/webhook'], status: 'sent', attempt: 1, at: T0 + 1 },
          { ...intent, channels: ['chat/webhook'], status: 'failed', attempt: 3, at: T0 + 2, error: 'timeout' },
          { ...intent, channels: ['chat/slack'], status: 'failed', attempt: 1, at: T0 + 3, error: 'HTTP 500' },
        ]), 4);
        assert.equal(await store.notifications.settle([{ ...intent, channels: ['chat/slack'], status: 'sent', attempt: 2, at: T0 + 4 }]), 2);
        assert.deepEqual((await store.notifications.list({ tenant: 'acme' })).map((r) => [r.channel, r.fingerprint, r.status, r.at, r.error]).sort(), [
          ['chat/slack', 'fp-1', 'sent', T0 + 4, null],
          ['chat/slack', 'fp-2', 'sent', T0 + 4, null],
          ['chat/webhook', 'fp-1', 'sent', T0 + 1, null],
          ['chat/webhook', 'fp-2', 'sent', T0 + 1, null],
        ]);
        // An outcome without an intent (its write failed) is logged all the same.
        assert.equal(await store.notifications.settle([{ ...intent, dispatchId: 'g2:notify:def', channels: ['pager/pagerduty'], alerts: [{ fingerprint: 'fp-3', alertState: 'resolved' }], status: 'sent', attempt: 1, at: T0 + 5 }]), 1);
        assert.deepEqual((await store.notifications.list({ tenant: 'acme', fingerprint: 'fp-3' })).map((r) => [r.status, r.alertState, r.dispatchId]), [['sent', 'resolved', 'g2:notify:def']]);
        assert.equal(await store.notifications.settle([]), 0);
        assert.equal(await store.notifications.intend([]), 0);
      });
      test('intents and settlements are checked', async ({ store }) => {
        await rejectsWith(store.notifications.intend([{ ...intent, channels: [], payload: null }]), 'TM_ERR_INPUT', 'channels');
        await rejectsWith(store.notifications.intend([{ ...intent, alerts: [{ fingerprint: 'fp-1', alertState: 'gone' as never }], payload: null }]), 'TM_ERR_INPUT', 'alertState');
        await rejectsWith(store.notifications.intend([{ ...intent, tenant: 'nobody', payload: null }]), 'TM_ERR_NOT_FOUND', 'tenant');
        await rejectsWith(store.notifications.settle([{ ...intent, status: 'pending' as never, attempt: 1 }]), 'TM_ERR_INPUT', 'status');
        await rejectsWith(store.notifications.settle([{ ...intent, status: 'sent', attempt: 0 }]), 'TM_ERR_INPUT', 'attempt');
        assert.deepEqual(await store.notifications.list({ tenant: 'acme' }), []);
      });
    });

    describe('notification idempotency keys', () => {
      test('a second record with the same key stores nothing and returns the first', async ({ store }) => {
        const base = { tenant: 'acme', fingerprint: 'fp-1', channel: 'slack', alertState: 'firing' as const, status: 'sent' as const, attempt: 1 };
        const first = await store.notifications.record({ ...base, at: T0, idempotencyKey: 'fp-1/firing/T0/slack/1' });
        assert.equal(first.idempotencyKey, 'fp-1/firing/T0/slack/1');
        const replayed = await store.notifications.record({ ...base, at: T0 + 500, idempotencyKey: 'fp-1/firing/T0/slack/1' });
        assert.deepEqual(replayed, first, 'a replay after a failover logs the send once');
        const other = await store.notifications.record({ ...base, tenant: 'other', at: T0, idempotencyKey: 'fp-1/firing/T0/slack/1' });
        assert.notEqual(other.id, first.id, 'keys are per tenant');
        const unkeyed = [await store.notifications.record({ ...base, at: T0 + 1 }), await store.notifications.record({ ...base, at: T0 + 1 })];
        assert.deepEqual(unkeyed.map((n) => n.idempotencyKey), [null, null]);
        assert.notEqual(unkeyed[0].id, unkeyed[1].id, 'without a key every record is stored');
        assert.equal((await store.notifications.list({ tenant: 'acme' })).length, 3);
        await rejectsWith(store.notifications.record({ ...base, at: T0, idempotencyKey: 5 as never }), 'TM_ERR_INPUT', 'idempotencyKey');
      });
    });

    describe('batch writes', () => {
      test('upsertMany applies inputs in order like upsert: history per change, stale ignored', async ({ store }) => {
        // The same alert twice in one batch (pending then firing), a second alert, and an input older than the stored one.
        await store.alerts.upsert(alertInput({ fingerprint: 'fp-old', at: T0 + 5 * MIN }));
        const r = await store.alerts.upsertMany([
          alertInput(),
          alertInput({ state: 'firing', severity: 'S2', at: T0 + MIN, score: 0.9 }),
          alertInput({ state: 'firing', severity: 'S2', at: T0 + 2 * MIN, score: 0.95 }),
          alertInput({ fingerprint: 'fp-2', tenant: 'other', labels: { service: 'db' }, owner: 'dba', packet: { top: ['region=eu'] } }),
          alertInput({ fingerprint: 'fp-old', state: 'resolved', at: T0 + MIN }),
        ]);
        assert.deepEqual(r, { written: 4, stale: 1 });
        const a = await store.alerts.get('acme', 'fp-1');
        assert.equal(a?.state, 'firing');
        assert.equal(a?.score, 0.95);
        assert.equal(a?.updatedAt, T0 + 2 * MIN);
        assert.deepEqual((await store.alerts.history('acme', 'fp-1')).map((h) => [h.t, h.state, h.severity]), [[T0, 'pending', 'S1'], [T0 + MIN, 'firing', 'S2']]);
        const b = await store.alerts.get('other', 'fp-2');
        assert.deepEqual([b?.owner, b?.labels, b?.packet], ['dba', { service: 'db' }, { top: ['region=eu'] }]);
        assert.equal((await store.alerts.get('acme', 'fp-old'))?.state, 'pending', 'the stale input changed nothing');
        assert.deepEqual(await store.alerts.upsertMany([]), { written: 0, stale: 0 });
      });
      test('upsertMany is all or nothing', async ({ store }) => {
        await rejectsWith(store.alerts.upsertMany([alertInput(), alertInput({ fingerprint: 'fp-2', severity: 'S9' as never })]), 'TM_ERR_INPUT', 'severity');
        await rejectsWith(store.alerts.upsertMany([alertInput(), alertInput({ fingerprint: 'fp-2', tenant: 'nobody' })]), 'TM_ERR_NOT_FOUND', 'tenant');
        assert.equal(await store.alerts.get('acme', 'fp-1'), undefined);
        assert.deepEqual(await store.alerts.history('acme', 'fp-1'), []);
      });
      test('upsertMany writes a thousand alerts', async ({ store }) => {
        const many = Array.from({ length: 1000 }, (_, i) => alertInput({ fingerprint: `fp-${i}`, state: 'firing', at: T0 + i }));
        assert.deepEqual(await store.alerts.upsertMany(many), { written: 1000, stale: 0 });
        assert.equal((await store.alerts.list({ tenant: 'acme', states: ['firing'] })).length, 1000);
        assert.deepEqual((await store.alerts.history('acme', 'fp-999')).map((h) => h.t), [T0 + 999]);
      });
      test('recordMany appends in one go and honours idempotency keys', async ({ store }) => {
        const base = { tenant: 'acme', fingerprint: 'fp-1', channel: 'slack', alertState: 'firing' as const, status: 'sent' as const, attempt: 1 };
        await store.notifications.record({ ...base, at: T0, idempotencyKey: 'k1' });
        const n = await store.notifications.recordMany([
          { ...base, at: T0 + 1, idempotencyKey: 'k1' },
          { ...base, at: T0 + 2, idempotencyKey: 'k2' },
          { ...base, at: T0 + 3, idempotencyKey: 'k2' },
          { ...base, at: T0 + 4 },
          { ...base, at: T0 + 5, status: 'failed', error: 'HTTP 503' },
          { ...base, tenant: 'other', at: T0 + 6, idempotencyKey: 'k1' },
        ]);
        assert.equal(n, 4);
        assert.deepEqual((await store.notifications.list({ tenant: 'acme' })).map((r) => [r.at, r.status, r.error, r.idempotencyKey]), [
          [T0 + 5, 'failed', 'HTTP 503', null],
          [T0 + 4, 'sent', null, null],
          [T0 + 2, 'sent', null, 'k2'],
          [T0, 'sent', null, 'k1'],
        ]);
        assert.equal((await store.notifications.list({ tenant: 'other' })).length, 1);
        await rejectsWith(store.notifications.recordMany([{ ...base, at: T0 + 7 }, { ...base, at: T0 + 8, attempt: 0 }]), 'TM_ERR_INPUT', 'attempt');
        assert.equal((await store.notifications.list({ tenant: 'acme' })).length, 4, 'nothing of a rejected batch is stored');
        assert.equal(await store.notifications.recordMany([]), 0);
      });
    });

    describe('silences', () => {
      const matchers: Matcher[] = [{ name: 'service', op: '=', value: 'api' }];
      test('create, update by id, list active, expire', async ({ store, clock }) => {
        clock.t = T0 - 1;
        const s = await store.silences.put({ tenant: 'acme', matchers, startsAt: T0, endsAt: T0 + 1000, createdBy: 'ana', reason: 'deploy', recurrence: { days: ['sat'] } });
        assert.ok(s.id.length > 0);
        assert.deepEqual(s, { id: s.id, tenant: 'acme', matchers, startsAt: T0, endsAt: T0 + 1000, createdBy: 'ana', reason: 'deploy', recurrence: { days: ['sat'] }, createdAt: T0 - 1 });
        clock.t = T0 + 5;
        const u = await store.silences.put({ tenant: 'acme', id: s.id, matchers, startsAt: T0, endsAt: T0 + 2000, createdBy: 'bo', reason: 'longer' });
        assert.deepEqual({ ...u }, { ...s, endsAt: T0 + 2000, createdBy: 'bo', reason: 'longer', recurrence: null });
        const future = await store.silences.put({ tenant: 'acme', matchers, startsAt: T0 + 5000, endsAt: T0 + 6000, createdBy: 'ana', reason: 'later' });
        await store.silences.put({ tenant: 'other', matchers, startsAt: T0, endsAt: T0 + 9000, createdBy: 'x', reason: 'x' });
        assert.deepEqual((await store.silences.list({ tenant: 'acme' })).map((x) => x.reason), ['longer', 'later']);
        assert.deepEqual((await store.silences.list({ tenant: 'acme', activeAt: T0 + 100 })).map((x) => x.reason), ['longer']);
        assert.deepEqual((await store.silences.list({ tenant: 'acme', activeAt: T0 + 2000 })).map((x) => x.reason), [], 'endsAt is exclusive');
        const ended = await store.silences.expire('acme', s.id, T0 + 100);
        assert.equal(ended?.endsAt, T0 + 100);
        assert.equal((await store.silences.expire('acme', s.id, T0 + 500))?.endsAt, T0 + 100, 'expiring an ended silence changes nothing');
        const cancelled = await store.silences.expire('acme', future.id, T0 + 200);
        assert.deepEqual([cancelled?.startsAt, cancelled?.endsAt], [T0 + 200, T0 + 200]);
        assert.deepEqual(await store.silences.list({ tenant: 'acme', activeAt: T0 + 5500 }), []);
        assert.equal(await store.silences.expire('acme', 'no-such-id', T0), undefined);
        assert.equal(await store.silences.get('other', s.id), undefined);
      });
      for (const [title, over, path] of [
        ['no matchers', { matchers: [] }, 'matchers'],
        ['bad regex', { matchers: [{ name: 'a', op: '=~', value: '[' }] }, 'matchers[0].value'],
        ['ends before it starts', { endsAt: T0 - 1 }, 'endsAt'],
        ['ends when it starts', { endsAt: T0 }, 'endsAt'],
        ['no reason', { reason: '' }, 'reason'],
      ] as [string, object, string][]) {
        test(`rejects a silence: ${title}`, async ({ store }) => {
          const input = { tenant: 'acme', matchers, startsAt: T0, endsAt: T0 + 10, createdBy: 'ana', reason: 'r', ...over };
          await rejectsWith(store.silences.put(input), 'TM_ERR_INPUT', path);
          assert.deepEqual(await store.silences.list({ tenant: 'acme' }), []);
        });
      }
    });

    describe('acks', () => {
      test('add is idempotent; active honours TTL and clearing', async ({ store }) => {
        const a = await store.acks.add({ tenant: 'acme', fingerprint: 'fp-1', by: 'ana', at: T0, ttlMs: 1000, comment: 'looking' });
        assert.deepEqual({ ...a, id: 0 }, { id: 0, tenant: 'acme', fingerprint: 'fp-1', by: 'ana', at: T0, expiresAt: T0 + 1000, comment: 'looking', clearedAt: null });
        assert.deepEqual(await store.acks.add({ tenant: 'acme', fingerprint: 'fp-1', by: 'ana', at: T0, ttlMs: 1000, comment: 'looking' }), a);
        await store.acks.add({ tenant: 'acme', fingerprint: 'fp-2', by: 'bo', at: T0 + 10, ttlMs: 5000 });
        assert.deepEqual(await store.acks.active('acme', T0 - 1), []);
        assert.deepEqual((await store.acks.active('acme', T0 + 500)).map((x) => x.fingerprint), ['fp-1', 'fp-2']);
        assert.deepEqual((await store.acks.active('acme', T0 + 500, 'fp-1')).map((x) => x.by), ['ana']);
        assert.deepEqual((await store.acks.active('acme', T0 + 1000)).map((x) => x.fingerprint), ['fp-2'], 'expired at expiresAt');
        assert.equal(await store.acks.clear('acme', 'fp-2', T0 + 2000), 1);
        assert.equal(await store.acks.clear('acme', 'fp-2', T0 + 2001), 0);
        assert.deepEqual(await store.acks.active('acme', T0 + 2000), []);
        assert.equal((await store.acks.active('acme', T0 + 1500)).length, 1, 'before the clear it was active');
        assert.deepEqual((await store.acks.history('acme', 'fp-2')).map((x) => x.clearedAt), [T0 + 2000]);
        assert.deepEqual(await store.acks.active('other', T0 + 500), []);
        await rejectsWith(store.acks.add({ tenant: 'acme', fingerprint: 'fp-1', by: 'ana', at: T0, ttlMs: 0 }), 'TM_ERR_INPUT', 'ttlMs');
      });
    });

    describe('feedback', () => {
      test('one label per person per alert; newer replaces, older is ignored', async ({ store }) => {
        await store.feedback.put({ tenant: 'acme', fingerprint: 'fp-1', label: 'noise', by: 'ana', at: T0 });
        const newer = await store.feedback.put({ tenant: 'acme', fingerprint: 'fp-1', label: 'real', by: 'ana', at: T0 + 10, comment: 'was real after all' });
        assert.deepEqual(newer, { tenant: 'acme', fingerprint: 'fp-1', label: 'real', by: 'ana', at: T0 + 10, comment: 'was real after all' });
        const older = await store.feedback.put({ tenant: 'acme', fingerprint: 'fp-1', label: 'expected', by: 'ana', at: T0 + 5 });
        assert.deepEqual(older, newer);
        await store.feedback.put({ tenant: 'acme', fingerprint: 'fp-1', label: 'new_normal', by: 'bo', at: T0 + 20 });
        await store.feedback.put({ tenant: 'acme', fingerprint: 'fp-2', label: 'noise', by: 'bo', at: T0 + 30 });
        assert.deepEqual((await store.feedback.list({ tenant: 'acme' })).map((f) => [f.fingerprint, f.by, f.label]), [
          ['fp-1', 'ana', 'real'],
          ['fp-1', 'bo', 'new_normal'],
          ['fp-2', 'bo', 'noise'],
        ]);
        assert.deepEqual((await store.feedback.list({ tenant: 'acme', fingerprint: 'fp-1' })).length, 2);
        assert.deepEqual((await store.feedback.list({ tenant: 'acme', label: 'noise' })).map((f) => f.fingerprint), ['fp-2']);
        assert.deepEqual((await store.feedback.list({ tenant: 'acme', from: T0 + 15, to: T0 + 30 })).map((f) => f.by), ['bo']);
        assert.deepEqual(await store.feedback.list({ tenant: 'other' }), []);
        await rejectsWith(store.feedback.put({ tenant: 'acme', fingerprint: 'fp-1', label: 'meh' as never, by: 'ana', at: T0 }), 'TM_ERR_INPUT', 'label');
      });
    });

    describe('config and audit', () => {
      test('versions count up; identical YAML is a no-op; every version is audited', async ({ store }) => {
        const v1 = await store.config.put({ tenant: 'acme', yaml: 'a: 1\n', author: 'ana', at: T0, baseVersion: 0, diff: '+a: 1' });
        assert.deepEqual(v1, { config: { tenant: 'acme', version: 1, yaml: 'a: 1\n', author: 'ana', at: T0, comment: null }, created: true });
        const same = await store.config.put({ tenant: 'acme', yaml: 'a: 1\n', author: 'bo', at: T0 + 1 });
        assert.deepEqual(same, { config: v1.config, created: false });
        const v2 = await store.config.put({ tenant: 'acme', yaml: 'a: 2\n', author: 'bo', at: T0 + 2, comment: 'tune', baseVersion: 1, diff: '-a: 1\n+a: 2' });
        assert.equal(v2.config.version, 2);
        await store.config.put({ tenant: 'other', yaml: 'x: 1\n', author: 'x', at: T0 });
        assert.deepEqual(await store.config.get('acme', 1), v1.config);
        assert.equal(await store.config.get('acme', 3), undefined);
        assert.deepEqual(await store.config.latest('acme'), v2.config);
        assert.equal(await store.config.latest('nobody'), undefined);
        assert.deepEqual((await store.config.list('acme')).map((c) => c.version), [2, 1]);
        assert.deepEqual((await store.config.list('acme', 1)).map((c) => c.version), [2]);
        const audit = await store.audit.list({ tenant: 'acme' });
        assert.deepEqual(audit.map((e) => [e.actor, e.action, e.target, e.diff]), [
          ['bo', 'config.put', 'config/v2', '-a: 1\n+a: 2'],
          ['ana', 'config.put', 'config/v1', '+a: 1'],
        ]);
      });
      test('a stale base version conflicts and stores nothing', async ({ store }) => {
        await store.config.put({ tenant: 'acme', yaml: 'a: 1\n', author: 'ana', at: T0 });
        await store.config.put({ tenant: 'acme', yaml: 'a: 2\n', author: 'ana', at: T0 + 1, baseVersion: 1 });
        await rejectsWith(store.config.put({ tenant: 'acme', yaml: 'a: 3\n', author: 'bo', at: T0 + 2, baseVersion: 1 }), 'TM_ERR_CONFLICT', 'baseVersion');
        assert.equal((await store.config.latest('acme'))?.version, 2);
        assert.equal((await store.audit.list({ tenant: 'acme' })).length, 2);
        await rejectsWith(store.config.put({ tenant: 'ghost', yaml: 'a', author: 'x', at: T0 }), 'TM_ERR_NOT_FOUND');
      });
      test('audit add and list, newest first, filtered', async ({ store }) => {
        const e = await store.audit.add({ tenant: 'acme', at: T0, actor: 'ana', action: 'silence.create', target: 'silence/1' });
        assert.deepEqual({ ...e, id: 0 }, { id: 0, tenant: 'acme', at: T0, actor: 'ana', action: 'silence.create', target: 'silence/1', diff: null });
        await store.audit.add({ tenant: 'acme', at: T0 + 1, actor: 'bo', action: 'token.revoke', target: 'token/4', diff: 'revoked' });
        await store.audit.add({ tenant: 'acme', at: T0 + 2, actor: 'ana', action: 'silence.expire', target: 'silence/1' });
        await store.audit.add({ tenant: 'other', at: T0, actor: 'ana', action: 'x', target: 'y' });
        const acts = async (q: object) => (await store.audit.list({ tenant: 'acme', ...q })).map((x) => x.action);
        assert.deepEqual(await acts({}), ['silence.expire', 'token.revoke', 'silence.create']);
        assert.deepEqual(await acts({ actor: 'ana' }), ['silence.expire', 'silence.create']);
        assert.deepEqual(await acts({ action: 'token.revoke' }), ['token.revoke']);
        assert.deepEqual(await acts({ from: T0 + 1, to: T0 + 2 }), ['token.revoke']);
        assert.deepEqual(await acts({ limit: 1 }), ['silence.expire']);
        await rejectsWith(store.audit.add({ tenant: 'acme', at: T0, actor: '', action: 'x', target: 'y' }), 'TM_ERR_INPUT', 'actor');
      });
    });

    describe('checkpoints', () => {
      test('round-trip bytes; a lower seq never replaces a higher one', async ({ store }) => {
        const blob = (n: number) => Uint8Array.from({ length: 64 }, (_, i) => (i * n) & 0xff);
        assert.equal(await store.checkpoints.put([{ seriesId: 1, seq: 10, blob: blob(3), at: T0 }, { seriesId: 2, seq: 5, blob: new Uint8Array(0), at: T0 }]), 2);
        const c1 = await store.checkpoints.get(1);
        assert.equal(c1?.seq, 10);
        assert.deepEqual([...(c1?.blob ?? [])], [...blob(3)]);
        assert.equal(c1?.blob.length, 64);
        assert.equal((await store.checkpoints.get(2))?.blob.length, 0);
        assert.equal(await store.checkpoints.put([{ seriesId: 1, seq: 9, blob: blob(7), at: T0 + 1 }]), 0);
        assert.deepEqual([...((await store.checkpoints.get(1))?.blob ?? [])], [...blob(3)]);
        assert.equal(await store.checkpoints.put([{ seriesId: 1, seq: 10, blob: blob(5), at: T0 + 2 }]), 1, 'the same seq rewrites (a retried checkpoint)');
        assert.equal(await store.checkpoints.put([{ seriesId: 1, seq: 11, blob: blob(7), at: T0 + 3 }]), 1);
        assert.deepEqual([...((await store.checkpoints.get(1))?.blob ?? [])], [...blob(7)]);
        assert.equal(await store.checkpoints.get(3), undefined);
        // A view into a larger buffer stores only its own bytes.
        const big = Uint8Array.from({ length: 10 }, (_, i) => i);
        await store.checkpoints.put([{ seriesId: 4, seq: 0, blob: big.subarray(2, 5), at: T0 }]);
        assert.deepEqual([...((await store.checkpoints.get(4))?.blob ?? [])], [2, 3, 4]);
      });
      test('getMany over many ids, absent ones left out', async ({ store }) => {
        const list = Array.from({ length: 700 }, (_, i) => ({ seriesId: i + 1, seq: i, blob: Uint8Array.of(i & 0xff), at: T0 }));
        await store.checkpoints.put(list);
        const ids = Array.from({ length: 800 }, (_, i) => i + 1);
        const got = await store.checkpoints.getMany(ids);
        assert.equal(got.size, 700);
        assert.equal(got.get(650)?.seq, 649);
        assert.equal(got.has(701), false);
        await rejectsWith(store.checkpoints.put([{ seriesId: 1, seq: -1, blob: new Uint8Array(1), at: T0 }]), 'TM_ERR_INPUT', 'checkpoints[0].seq');
      });
    });

    describe('close', () => {
      it('commits appends still queued, then rejects further calls', async () => {
        const store = await makeStore({ now: () => T0 });
        await store.tenants.create({ id: 'acme', name: 'Acme' });
        const [id] = await store.series.intern([{ tenant: 'acme', metric: 'm', labels: {} }]);
        const pending = store.samples.append({ seriesId: [id], t: [T0], v: [1] });
        await store.close();
        assert.deepEqual(await pending, { inserted: 1, duplicates: 0 });
        await rejectsWith(store.tenants.get('acme'), 'TM_ERR_STORE');
        await rejectsWith(store.samples.append({ seriesId: [id], t: [T0 + 1], v: [1] }), 'TM_ERR_STORE');
        await store.close();
      });
    });
  });
}
