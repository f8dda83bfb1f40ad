import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CountMinSketch, SpaceSaving, hash32, hashInt32 } from './heavy.ts';
import { prng } from './testdata.ts';
import { TidemarkError } from '../errors.ts';

/** Byte-wise MurmurHash3 x86_32, written from the reference algorithm, as an oracle. */
function murmur3Bytes(bytes: Uint8Array, seed: number): number {
  let h = seed >>> 0;
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  const blocks = bytes.length >> 2;
  for (let i = 0; i < blocks; i++) {
    let k = bytes[4 * i] | (bytes[4 * i + 1] << 8) | (bytes[4 * i + 2] << 16) | (bytes[4 * i + 3] << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = bytes.length & 3;
  let k = 0;
  const t = blocks * 4;
  if (tail >= 3) k ^= bytes[t + 2] << 16;
  if (tail >= 2) k ^= bytes[t + 1] << 8;
  if (tail >= 1) {
    k ^= bytes[t];
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  h ^= bytes.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

test('the byte-wise oracle matches published MurmurHash3 x86_32 vectors', () => {
  const ascii = (s: string) => new TextEncoder().encode(s);
  assert.equal(murmur3Bytes(new Uint8Array(0), 0), 0);
  assert.equal(murmur3Bytes(new Uint8Array(0), 1), 0x514e28b7);
  assert.equal(murmur3Bytes(new Uint8Array(0), 0xffffffff), 0x81f16f39);
  assert.equal(murmur3Bytes(new Uint8Array([0, 0, 0, 0]), 0), 0x2362f9de);
  assert.equal(murmur3Bytes(ascii('Hello, world!'), 1234), 0xfaf6cdb3);
  assert.equal(murmur3Bytes(ascii('The quick brown fox jumps over the lazy dog'), 0x9747b28c), 0x2fa826cd);
});

test('hash32 is MurmurHash3 x86_32 of the UTF-16LE code units', () => {
  const rand = prng(1);
  for (let n = 0; n < 200; n++) {
    const len = Math.floor(rand() * 12);
    let s = '';
    for (let i = 0; i < len; i++) s += String.fromCharCode(rand() < 0.8 ? 32 + Math.floor(rand() * 95) : Math.floor(rand() * 0xffff));
    const bytes = new Uint8Array(s.length * 2);
    for (let i = 0; i < s.length; i++) {
      bytes[2 * i] = s.charCodeAt(i) & 0xff;
      bytes[2 * i + 1] = s.charCodeAt(i) >>> 8;
    }
    const seed = Math.floor(rand() * 2 ** 32);
    assert.equal(hash32(s, seed), murmur3Bytes(bytes, seed), JSON.stringify(s));
  }
});

test('hash32 and hashInt32 spread keys evenly over buckets', () => {
  const buckets = 64;
  const n = 64000;
  for (const h of [(i: number) => hash32(`host-${i}`), (i: number) => hashInt32(i)]) {
    const counts = new Array<number>(buckets).fill(0);
    for (let i = 0; i < n; i++) counts[h(i) % buckets]++;
    // Chi-square with 63 degrees of freedom: mean 63, sd ~11; 130 is beyond 6 sd.
    const expected = n / buckets;
    const chi2 = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
    assert.ok(chi2 < 130, `chi2 ${chi2}`);
  }
});

/** A Zipf(1.1) stream over `universe` keys, and its exact counts. */
function zipfStream(seed: number, universe: number, length: number): { stream: string[]; exact: Map<string, number> } {
  const rand = prng(seed);
  const cdf = new Float64Array(universe);
  let s = 0;
  for (let i = 0; i < universe; i++) cdf[i] = s += 1 / (i + 1) ** 1.1;
  const stream: string[] = [];
  const exact = new Map<string, number>();
  for (let n = 0; n < length; n++) {
    const u = rand() * s;
    let lo = 0;
    let hi = universe - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    const key = `v${lo}`;
    stream.push(key);
    exact.set(key, (exact.get(key) ?? 0) + 1);
  }
  return { stream, exact };
}

for (const k of [10, 50, 200]) {
  test(`SpaceSaving(${k}) keeps its guarantees against exact counts`, () => {
    const { stream, exact } = zipfStream(k, 5000, 40000);
    const ss = new SpaceSaving<string>(k);
    for (const key of stream) ss.offer(key);
    const N = stream.length;
    assert.equal(ss.total, N);
    assert.equal(ss.size, k);
    assert.ok(ss.minCount <= N / k, `min count ${ss.minCount} > N/k`);
    for (const h of ss.top()) {
      const truth = exact.get(h.key) ?? 0;
      assert.ok(h.count >= truth && h.count - h.error <= truth, `${h.key}: count ${h.count} error ${h.error} truth ${truth}`);
    }
    for (const [key, truth] of exact) {
      if (truth > N / k) assert.ok(ss.get(key) !== undefined, `${key} with ${truth} > N/k is not monitored`);
      else if (ss.get(key) === undefined) assert.ok(truth <= ss.minCount);
    }
    // The true top 3 lead the summary, in order, for a skewed stream.
    const trueTop = [...exact.entries()].sort((a, b) => b[1] - a[1]).slice(0, 3).map((e) => e[0]);
    assert.deepEqual(ss.top(3).map((h) => h.key), trueTop);
  });
}

test('SpaceSaving with weights, and below capacity, is exact', () => {
  const ss = new SpaceSaving<number>(4);
  ss.offer(7, 2.5);
  ss.offer(9);
  ss.offer(7, 0.5);
  ss.offer(9, 0); // ignored
  assert.deepEqual(ss.top(), [
    { key: 7, count: 3, error: 0 },
    { key: 9, count: 1, error: 0 },
  ]);
  assert.equal(ss.minCount, 0);
  assert.throws(() => new SpaceSaving(0), (e: unknown) => e instanceof TidemarkError && e.path === 'capacity');
});

test('SpaceSaving evicts the smallest counter and charges its count as error', () => {
  const ss = new SpaceSaving<string>(2);
  ss.offer('a', 5);
  ss.offer('b', 2);
  ss.offer('c', 1);
  assert.equal(ss.get('b'), undefined);
  assert.deepEqual(ss.get('c'), { key: 'c', count: 3, error: 2 });
  assert.deepEqual(ss.get('a'), { key: 'a', count: 5, error: 0 });
});

test('CountMinSketch.forError never undercounts and stays within epsilon*N for nearly all keys', () => {
  const epsilon = 0.002;
  const delta = 0.01;
  const cm = CountMinSketch.forError(epsilon, delta);
  assert.equal(cm.width, Math.ceil(Math.E / epsilon));
  assert.equal(cm.depth, Math.ceil(Math.log(1 / delta)));
  const { stream, exact } = zipfStream(7, 20000, 60000);
  for (const key of stream) cm.add(key);
  const N = stream.length;
  let over = 0;
  let sumErr = 0;
  for (const [key, truth] of exact) {
    const est = cm.estimate(key);
    assert.ok(est >= truth, `${key}: estimate ${est} < truth ${truth}`);
    if (est - truth > epsilon * N) over++;
    sumErr += est - truth;
  }
  assert.ok(over <= Math.ceil(delta * exact.size), `${over} of ${exact.size} keys beyond epsilon*N`);
  // Conservative update keeps the mean error far below the epsilon*N worst case.
  assert.ok(sumErr / exact.size < 0.25 * epsilon * N, `mean error ${sumErr / exact.size}`);
});

test('CountMinSketch is exact without collisions, for string and integer keys, with weights', () => {
  const cm = new CountMinSketch(1 << 16, 4);
  cm.add('eu-west', 3);
  cm.add('eu-west', 0.5);
  cm.addInt(42, 2);
  assert.equal(cm.estimate('eu-west'), 3.5);
  assert.equal(cm.estimateInt(42), 2);
  assert.equal(cm.estimate('never-seen'), 0);
  assert.equal(cm.total, 5.5);
  assert.throws(() => cm.add('x', -1), /weights must be >= 0/);
  assert.throws(() => CountMinSketch.forError(0, 0.1), (e: unknown) => e instanceof TidemarkError && e.path === 'epsilon');
  assert.throws(() => new CountMinSketch(10, 0), (e: unknown) => e instanceof TidemarkError && e.path === 'depth');
});
