import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TidemarkError } from '../errors.ts';
import { drill, drillRatio, OTHER_VALUE, type ChildObservation, type RatioChildObservation } from './drill.ts';
import { gaussian, prng } from './testdata.ts';

const DEVICES = ['android_low_end', 'android_high_end', 'ios', 'web'];
const COUNTRIES = ['IN', 'US', 'BR', 'DE', 'FR'];

/** Devices x countries, each child scaled by `factor(device, country)` plus 2% noise. */
function children(seed: number, factor: (d: string, c: string) => number, extra: (i: number) => Record<string, string> = () => ({})): ChildObservation[] {
  const rand = prng(seed);
  const out: ChildObservation[] = [];
  let i = 0;
  for (const d of DEVICES) {
    for (const c of COUNTRIES) {
      const e = 300 + Math.floor(rand() * 700);
      out.push({ labels: { service: 'app', device: d, country: c, ...extra(i++) }, real: e * factor(d, c) * (1 + 0.02 * gaussian(rand)), expected: e });
    }
  }
  return out;
}

const texts = (r: ReturnType<typeof drill>) => r.segments.map((s) => s.text);

describe('drill (additive)', () => {
  const cases: { name: string; factor: (d: string, c: string) => number; want: string[]; global: boolean }[] = [
    { name: 'one device class drops', factor: (d) => (d === 'android_low_end' ? 0.1 : 1), want: ['device=android_low_end'], global: false },
    { name: 'one combination spikes', factor: (d, c) => (d === 'ios' && c === 'BR' ? 4 : 1), want: ['country=BR & device=ios'], global: false },
    { name: 'nothing moved', factor: () => 1, want: [], global: false },
    { name: 'everything moved together (a surge)', factor: () => 1.6, want: [], global: true },
    { name: 'a surge plus one broken combination', factor: (d, c) => 1.6 * (d === 'web' && c === 'DE' ? 0.1 : 1), want: ['country=DE & device=web'], global: true },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = drill(children(5, c.factor), { exclude: ['service'] });
      assert.deepEqual(texts(r), c.want);
      assert.equal(r.global !== null, c.global, JSON.stringify(r.global));
      assert.deepEqual(r.dimensions, ['country', 'device']);
    });
  }

  it('reports the share of the delta and the factor of the top segment', () => {
    const r = drill(children(6, (d) => (d === 'android_low_end' ? 0.1 : 1)));
    const s = r.segments[0];
    assert.ok(s.share > 0.9 && s.share < 1.1, `share ${s.share}`);
    assert.ok(Math.abs(s.ratio - 0.1) < 0.02, `ratio ${s.ratio}`);
    assert.ok(Math.abs(s.delta - (s.observed - s.expected)) < 1e-6 * s.expected);
    assert.equal(r.heavyHitters.device[0].value, 'android_low_end');
    assert.ok(r.heavyHitters.device[0].share > 0.9);
    assert.equal(r.global?.ratio, undefined);
  });

  it('folds a high-cardinality label into (other) with the sketch, and still finds the cause elsewhere', () => {
    // Every child has its own pod: 20 values, the sketch keeps 6.
    const r = drill(children(7, (d) => (d === 'ios' ? 2 : 1), (i) => ({ pod: `pod-${i}` })), { exclude: ['service'], maxValuesPerDimension: 6 });
    assert.deepEqual(texts(r), ['device=ios']);
    assert.ok(r.folded.pod >= 14, `folded ${r.folded.pod}`);
  });

  it('bounds the table: 500 pods in 5 zones fold to at most K+1 values per dimension', () => {
    const rand = prng(9);
    const zones = ['a', 'b', 'c', 'd', 'e'];
    const kids: ChildObservation[] = Array.from({ length: 500 }, (_, i) => ({ labels: { zone: zones[i % 5], pod: `p${i}` }, real: (i % 5 === 0 ? 20 : 10) * (1 + 0.02 * gaussian(rand)), expected: 10 }));
    const r = drill(kids, { maxValuesPerDimension: 8 });
    assert.ok(r.leaves <= 5 * 9, `leaves ${r.leaves}`);
    // Distinct values are only counted up to 4K (memory stays bounded): "at least".
    assert.ok(r.folded.pod >= 3 * 8, `folded ${r.folded.pod}`);
    // No pod stands out (late arrivals in the sketch have not earned their place): pod is dropped.
    assert.deepEqual(r.dimensions, ['zone']);
    assert.deepEqual(texts(r), ['zone=a']);
  });

  it('keeps the one pod that carries the change as a heavy hitter', () => {
    const r = drill(children(8, () => 1, (i) => ({ pod: `pod-${i}` })).map((c) => (c.labels.pod === 'pod-13' ? { ...c, real: c.expected * 5 } : c)), { exclude: ['service'], maxValuesPerDimension: 4 });
    assert.equal(r.segments[0]?.text, 'pod=pod-13');
    assert.equal(r.heavyHitters.pod[0].value, 'pod-13');
    assert.ok(r.heavyHitters.pod.some((h) => h.value === OTHER_VALUE));
  });

  it('drops constant and excluded labels; refuses non-finite values', () => {
    const r = drill([{ labels: { a: 'x', b: 'k' }, real: 1, expected: 1 }, { labels: { a: 'y', b: 'k' }, real: 1, expected: 1 }]);
    assert.deepEqual(r.dimensions, ['a']);
    assert.throws(() => drill([{ labels: { a: 'x' }, real: NaN, expected: 1 }]), (e: unknown) => e instanceof TidemarkError && /non-finite/.test(e.message));
  });
});

describe('drillRatio', () => {
  function leaves(seed: number, rate: (region: string, version: string) => number, traffic: (region: string, version: string) => number, isNew: (region: string, version: string) => boolean): RatioChildObservation[] {
    const rand = prng(seed);
    const out: RatioChildObservation[] = [];
    for (const region of ['eu', 'us', 'ap']) {
      for (const version of ['v1', 'v2']) {
        for (const endpoint of ['/a', '/b', '/c']) {
          const req = 1000 * (1 + rand());
          const real = req * traffic(region, version);
          const fresh = isNew(region, version);
          out.push({
            labels: { region, version, endpoint },
            numerator: { real: real * rate(region, version) * (1 + 0.05 * gaussian(rand)), expected: fresh ? 0 : req * 0.01 },
            denominator: { real, expected: fresh ? 0 : req },
          });
        }
      }
    }
    return out;
  }

  it('names the new version in one region, though it has no forecast of its own', () => {
    const r = drillRatio(leaves(1, (g, v) => (g === 'eu' && v === 'v2' ? 0.2 : 0.01), () => 1, (g, v) => g === 'eu' && v === 'v2'));
    assert.equal(r.mode, 'ratio');
    assert.deepEqual(texts(r), ['region=eu & version=v2']);
    assert.ok(r.segments[0].ratio > 15, `ratio ${r.segments[0].ratio}`);
  });

  it('a traffic shift that keeps every rate is no cause', () => {
    const r = drillRatio(leaves(2, () => 0.01, (g) => (g === 'eu' ? 0.3 : 1.5), () => false));
    assert.deepEqual(texts(r), []);
  });
});
