import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatElement, localize, localizeRatio } from './localize.ts';
import { LeafTableBuilder } from './table.ts';
import type { LeafTable } from './table.ts';
import { gaussian, prng, syntheticTable } from './testdata.ts';
import type { PlantedCause } from './testdata.ts';
import { referenceLocalize } from './reference.ts';
import { TidemarkError } from '../errors.ts';

const CARDS = [5, 8, 6, 4]; // 960 leaves

const sorted = (xs: string[]): string[] => [...xs].sort();
const found = (t: LeafTable): string[] => localize(t).elements.map((e) => formatElement(e.pairs));

const planted: { name: string; seed: number; causes: PlantedCause[] }[] = [
  { name: 'one layer-1 drop', seed: 1, causes: [{ pairs: ['b=b3'], factor: 0.3 }] },
  { name: 'one layer-1 rise', seed: 2, causes: [{ pairs: ['c=c5'], factor: 1.8 }] },
  { name: 'one layer-2 outage to zero', seed: 3, causes: [{ pairs: ['a=a2', 'd=d1'], factor: 0 }] },
  {
    name: 'two layer-2 causes with different factors',
    seed: 4,
    causes: [
      { pairs: ['a=a1', 'b=b2'], factor: 0.5 },
      { pairs: ['c=c3', 'd=d4'], factor: 0.2 },
    ],
  },
  {
    name: 'three layer-3 causes, one a rise',
    seed: 5,
    causes: [
      { pairs: ['a=a3', 'b=b7', 'c=c2'], factor: 0.1 },
      { pairs: ['a=a5', 'c=c6', 'd=d2'], factor: 0.4 },
      { pairs: ['b=b1', 'c=c4', 'd=d3'], factor: 2.5 },
    ],
  },
  {
    name: 'mixed layers 1 and 3',
    seed: 6,
    causes: [
      { pairs: ['d=d2'], factor: 0.6 },
      { pairs: ['a=a4', 'b=b5', 'c=c1'], factor: 0 },
    ],
  },
  {
    name: 'overlapping layer-1 causes',
    seed: 7,
    causes: [
      { pairs: ['a=a2'], factor: 0.2 },
      { pairs: ['c=c4'], factor: 0.5 },
    ],
  },
];

for (const c of planted) {
  test(`localize finds planted causes: ${c.name}`, () => {
    const table = syntheticTable({ seed: c.seed, cardinalities: CARDS, causes: c.causes });
    const r = localize(table);
    assert.deepEqual(sorted(r.elements.map((e) => formatElement(e.pairs))), sorted(c.causes.map((x) => x.pairs.join('&'))));
    for (const e of r.elements) {
      const cause = c.causes.find((x) => x.pairs.join('&') === formatElement(e.pairs))!;
      assert.ok(Math.abs(e.ratio - cause.factor) < 0.05 + 0.05 * cause.factor, `ratio ${e.ratio} vs planted ${cause.factor}`);
      assert.ok(e.confidence > 0.99, `confidence ${e.confidence}`);
      assert.equal(e.layer, cause.pairs.length);
    }
    for (let i = 1; i < r.elements.length; i++) assert.ok(r.elements[i - 1].evidence >= r.elements[i].evidence, 'strongest first');
  });
}

test('localize: noise around the forecast is estimated robustly', () => {
  const table = syntheticTable({ seed: 11, cardinalities: CARDS, causes: [{ pairs: ['a=a1'], factor: 0.5 }], noise: 0.05 });
  const r = localize(table);
  // sd 0.05 relative noise -> symmetric deviation sd ~0.05. A fifth of the leaves is planted;
  // the scale over all leaves would be ~0.07, re-estimating it on the leaves left normal is not.
  assert.ok(r.noise > 0.045 && r.noise < 0.056, `noise ${r.noise}`);
});

test('localize: a single dominant cause carries the delta share', () => {
  const table = syntheticTable({ seed: 12, cardinalities: CARDS, causes: [{ pairs: ['b=b2'], factor: 0 }], noise: 0.005 });
  const r = localize(table);
  assert.equal(r.elements.length, 1);
  const e = r.elements[0];
  assert.ok(Math.abs(e.share - 1) < 0.05, `share ${e.share}`);
  assert.ok(Math.abs(r.explained - 1) < 0.05, `explained ${r.explained}`);
  assert.ok(e.real < 0.05 * e.predict);
});

const noCause: { name: string; seed: number; noise: number }[] = [
  { name: 'pure forecast noise', seed: 21, noise: 0.02 },
  { name: 'large forecast noise', seed: 22, noise: 0.3 },
  { name: 'tiny forecast noise', seed: 23, noise: 0.001 },
];
for (const c of noCause) {
  test(`localize reports nothing without a cause: ${c.name}`, () => {
    const table = syntheticTable({ seed: c.seed, cardinalities: CARDS, causes: [], noise: c.noise });
    assert.deepEqual(found(table), []);
  });
}

test('localize: changes scattered over unrelated leaves have no single cause', () => {
  // Every leaf moves by its own random factor in 0.5..1.5: large changes, no common element.
  const rand = prng(31);
  const b = new LeafTableBuilder(['a', 'b', 'c']);
  for (let a = 1; a <= 6; a++) {
    for (let x = 1; x <= 8; x++) {
      for (let c = 1; c <= 5; c++) {
        const f = 10 + Math.round(200 * rand());
        b.add([`a${a}`, `b${x}`, `c${c}`], f * (0.5 + rand()), f);
      }
    }
  }
  const r = localize(b.build());
  const strong = r.elements.filter((e) => e.confidence > 0.9);
  assert.deepEqual(strong.map((e) => formatElement(e.pairs)), []);
});

test('localize: a leaf that appears from nothing is not scored as a ratio, the rest still is', () => {
  const b = new LeafTableBuilder(['svc', 'zone']);
  const rand = prng(41);
  for (let s = 1; s <= 10; s++) {
    for (let z = 1; z <= 10; z++) {
      const f = 100 + 50 * rand();
      const drop = s === 3 ? 0.1 : 1;
      b.add([`s${s}`, `z${z}`], f * drop * (1 + 0.01 * gaussian(rand)), f);
    }
  }
  b.add(['s11', 'z1'], 500, 0);
  assert.deepEqual(found(b.build()).includes('svc=s3'), true);
});

test('localize: maxElements and minConfidence bound the answer', () => {
  const table = syntheticTable({ seed: 4, cardinalities: CARDS, causes: planted[3].causes });
  assert.equal(localize(table, { maxElements: 1 }).elements.length, 1);
  assert.equal(localize(table, { maxElements: 0 }).elements.length, 0);
  assert.equal(localize(table, { minConfidence: 0.999999 }).elements.length, 2);
});

test('localize: maxLayer limits the search depth', () => {
  const table = syntheticTable({ seed: 5, cardinalities: CARDS, causes: planted[4].causes });
  for (const e of localize(table, { maxLayer: 2 }).elements) assert.ok(e.layer <= 2);
});

test('localize: rejects bad options and inconsistent tables', () => {
  const table = syntheticTable({ seed: 1, cardinalities: [2, 2], causes: [] });
  assert.throws(() => localize(table, { maxLayer: 0 }), (e: unknown) => e instanceof TidemarkError && e.code === 'TM_ERR_CONFIG' && e.path === 'maxLayer');
  assert.throws(() => localize(table, { minConfidence: 1 }), (e: unknown) => e instanceof TidemarkError && e.path === 'minConfidence');
  const broken: LeafTable = { ...table, predict: table.predict.subarray(1) };
  const missing = table.real.slice();
  missing[2] = NaN;
  assert.throws(() => localize({ ...table, real: missing }), /leaf 2 has real NaN/);
  assert.throws(() => localize(broken), (e: unknown) => e instanceof TidemarkError && e.code === 'TM_ERR_INPUT');
});

test('localize: empty and all-zero tables give no elements', () => {
  const empty = new LeafTableBuilder(['a']).build();
  assert.deepEqual(localize(empty).elements, []);
  const zeros = new LeafTableBuilder(['a', 'b']);
  zeros.add(['x', 'y'], 0, 0);
  assert.deepEqual(localize(zeros.build()).elements, []);
});

/** Requests and errors per leaf; `rate` and `traffic` factors applied inside their elements. */
function ratioTables(seed: number, rateCause: string[], trafficCause: string[]): { errors: LeafTable; requests: LeafTable } {
  const rand = prng(seed);
  const dims = ['dc', 'svc', 'ver'];
  const errors = new LeafTableBuilder(dims);
  const requests = new LeafTableBuilder(dims);
  for (let a = 1; a <= 4; a++) {
    for (let s = 1; s <= 8; s++) {
      for (let v = 1; v <= 3; v++) {
        const labels = [`dc${a}`, `svc${s}`, `ver${v}`];
        const pairs = labels.map((l, i) => `${dims[i]}=${l}`);
        const inRate = rateCause.every((p) => pairs.includes(p));
        const inTraffic = trafficCause.every((p) => pairs.includes(p));
        const reqF = 1000 + Math.round(9000 * rand());
        const rateF = 0.01 + 0.02 * rand();
        const reqR = reqF * (inTraffic ? 0.4 : 1) * (1 + 0.01 * gaussian(rand));
        const errF = reqF * rateF;
        const errR = reqR * rateF * (inRate ? 6 : 1) * (1 + 0.02 * gaussian(rand));
        requests.add(labels, reqR, reqF);
        errors.add(labels, errR, errF);
      }
    }
  }
  return { errors: errors.build(), requests: requests.build() };
}

test('localizeRatio finds a rate change and ignores a traffic change that keeps the rate', () => {
  const { errors, requests } = ratioTables(51, ['svc=svc3', 'ver=ver2'], ['dc=dc2']);
  const additive = localize(errors).elements.map((e) => formatElement(e.pairs));
  assert.ok(additive.includes('dc=dc2'), `the error count alone blames the traffic drop too: ${additive}`);
  const r = localizeRatio(errors, requests);
  assert.deepEqual(r.elements.map((e) => formatElement(e.pairs)), ['svc=svc3&ver=ver2']);
  assert.ok(Math.abs(r.elements[0].ratio - 6) < 0.5, `rate ratio ${r.elements[0].ratio}`);
});

test('localizeRatio: no rate change, no cause, even with a traffic change', () => {
  const { errors, requests } = ratioTables(52, ['svc=none'], ['dc=dc3']);
  assert.deepEqual(localizeRatio(errors, requests).elements, []);
});

test('localizeRatio rejects tables with different leaves', () => {
  const { errors, requests } = ratioTables(53, [], []);
  const other = new LeafTableBuilder(['dc', 'svc', 'ver']);
  other.add(['dc1', 'svc1', 'ver1'], 1, 1);
  assert.throws(() => localizeRatio(errors, other.build()), (e: unknown) => e instanceof TidemarkError && e.code === 'TM_ERR_INPUT');
  const swapped = { ...requests, dimensions: ['svc', 'dc', 'ver'] };
  assert.throws(() => localizeRatio(errors, swapped), /differ/);
});

test('localize: a high-cardinality dimension is renumbered densely and still searched', () => {
  // 6000 users x 8 regions could name 48000 elements of the (region, user) cuboid; only 6000 exist.
  const rand = prng(61);
  const b = new LeafTableBuilder(['region', 'user']);
  for (let u = 0; u < 6000; u++) {
    const region = `r${u % 8}`;
    const f = 5 + 100 * rand();
    b.add([region, `u${u}`], f * (region === 'r5' ? 0.3 : 1) * (1 + 0.02 * gaussian(rand)), f);
  }
  const r = localize(b.build());
  assert.deepEqual(r.elements.map((e) => formatElement(e.pairs)), ['region=r5']);
});

test('localize: codes outside a dimension are rejected', () => {
  const table = syntheticTable({ seed: 1, cardinalities: [2, 2], causes: [] });
  const codes = table.codes.map((c) => c.slice());
  codes[1][0] = 2;
  assert.throws(() => localize({ ...table, codes }), /code 2 in dimension 'b', which has 2 values/);
});

test('localize agrees with the straightforward string-keyed reference implementation', () => {
  // Random tables, causes and noise: the typed-array search (code arithmetic, exact pruning,
  // dense renumbering) must pick the same elements with the same evidence.
  const rand = prng(71);
  for (let n = 0; n < 12; n++) {
    const cards = [2 + Math.floor(rand() * 4), 2 + Math.floor(rand() * 6), 2 + Math.floor(rand() * 4), 2 + Math.floor(rand() * 3)];
    const causes: PlantedCause[] = [];
    const k = Math.floor(rand() * 4);
    for (let c = 0; c < k; c++) {
      const pairs = cards
        .map((card, d) => `${String.fromCharCode(97 + d)}=${String.fromCharCode(97 + d)}${1 + Math.floor(rand() * card)}`)
        .filter(() => rand() < 0.5);
      if (pairs.length > 0) causes.push({ pairs, factor: rand() < 0.3 ? 0 : 0.2 + 2 * rand() });
    }
    const table = syntheticTable({ seed: 1000 + n, cardinalities: cards, causes, noise: 0.005 + 0.1 * rand() });
    const fast = localize(table);
    const ref = referenceLocalize(table);
    const fastByKey = new Map(fast.elements.map((e) => [formatElement(e.pairs), e.evidence]));
    assert.deepEqual(sorted([...fastByKey.keys()]), sorted(ref.elements), `table ${n}`);
    ref.elements.forEach((key, i) => assert.ok(Math.abs(fastByKey.get(key)! - ref.evidence[i]) < 1e-6 * (1 + Math.abs(ref.evidence[i]))));
    assert.ok(Math.abs(fast.noise - ref.noise) < 1e-12);
  }
});

function poisson(rand: () => number, mu: number): number {
  if (mu > 50) return Math.max(0, Math.round(mu + Math.sqrt(mu) * gaussian(rand)));
  const limit = Math.exp(-mu);
  let k = 0;
  let p = rand();
  while (p > limit) {
    k++;
    p *= rand();
  }
  return k;
}

test('localize with counts: Poisson noise of small counts is not mistaken for causes', () => {
  // Event counts with expected values from 0.05 to ~1000 per leaf; one element drops to 30%.
  let spuriousCounts = 0;
  let spuriousRelative = 0;
  for (let seed = 1; seed <= 5; seed++) {
    const rand = prng(seed);
    const b = new LeafTableBuilder(['a', 'b', 'c', 'd']);
    const cause = ['a=a2', `b=b${seed}`];
    for (let a = 1; a <= 6; a++) {
      for (let x = 1; x <= 12; x++) {
        for (let c = 1; c <= 8; c++) {
          for (let d = 1; d <= 5; d++) {
            const mu = Math.exp(1 + 2 * gaussian(rand));
            const hit = a === 2 && x === seed;
            b.add([`a${a}`, `b${x}`, `c${c}`, `d${d}`], poisson(rand, mu * (hit ? 0.3 : 1)), mu);
          }
        }
      }
    }
    const table = b.build();
    const counted = localize(table, { counts: true }).elements.map((e) => formatElement(e.pairs));
    assert.equal(counted[0], cause.join('&'), `seed ${seed}: ${counted}`);
    spuriousCounts += counted.length - 1;
    spuriousRelative += localize(table).elements.filter((e) => formatElement(e.pairs) !== cause.join('&')).length;
  }
  assert.ok(spuriousCounts <= 3, `${spuriousCounts} spurious elements with counts`);
  assert.ok(spuriousRelative >= 10, `relative noise alone should over-report here, got ${spuriousRelative}`);
});
