/**
 * Seeded generator of leaf tables with planted root causes, for tests and benchmarks of the
 * localiser. Forecasts are heavy-tailed (log-normal, a share of empty leaves); observed values
 * are forecast * (1 + relative noise) except inside planted elements, which are scaled by their
 * factor (the ripple effect).
 */
import { LeafTableBuilder } from './table.ts';
import type { LeafTable } from './table.ts';
import { mulberry32 } from '../series/index.ts';

/** The project's seeded PRNG (mulberry32, src/series/prng.ts). */
export const prng = mulberry32;

export function gaussian(rand: () => number): number {
  const u = 1 - rand();
  const v = rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

export interface PlantedCause {
  /** `dimension=value` pairs, e.g. ['a=a2', 'c=c1']. */
  readonly pairs: readonly string[];
  /** real = factor * forecast inside the element. */
  readonly factor: number;
}

export interface SyntheticSpec {
  readonly seed: number;
  /** Cardinality per dimension; dimensions are named a, b, c, ... and values a1, a2, ... */
  readonly cardinalities: readonly number[];
  readonly causes: readonly PlantedCause[];
  /** Relative noise of the forecast (sd). Default 0.02. */
  readonly noise?: number;
  /** Share of leaves with no traffic at all. Default 0.3. */
  readonly emptyShare?: number;
}

/** Builds the leaf table of `spec`; leaves are listed in odometer order of the dimension values. */
export function syntheticTable(spec: SyntheticSpec): LeafTable {
  const rand = prng(spec.seed);
  const dims = spec.cardinalities.map((_, d) => String.fromCharCode(97 + d));
  const b = new LeafTableBuilder(dims);
  const noise = spec.noise ?? 0.02;
  const emptyShare = spec.emptyShare ?? 0.3;
  const causes = spec.causes.map((c) => ({
    factor: c.factor,
    test: c.pairs.map((p) => {
      const [dim, value] = p.split('=');
      return { d: dims.indexOf(dim), value };
    }),
  }));
  const idx = spec.cardinalities.map(() => 0);
  const labels = dims.map(() => '');
  const total = spec.cardinalities.reduce((x, y) => x * y, 1);
  for (let n = 0; n < total; n++) {
    for (let d = 0; d < dims.length; d++) labels[d] = `${dims[d]}${idx[d] + 1}`;
    const empty = rand() < emptyShare;
    const predict = empty ? 0 : Math.round(Math.exp(2 + 1.8 * gaussian(rand))) + 1;
    let real = predict * (1 + noise * gaussian(rand));
    for (const c of causes) {
      if (c.test.every((t) => labels[t.d] === t.value)) real = predict * c.factor * (1 + noise * gaussian(rand));
    }
    b.add(labels, real, predict);
    for (let d = dims.length - 1; d >= 0; d--) {
      if (++idx[d] < spec.cardinalities[d]) break;
      idx[d] = 0;
    }
  }
  return b.build();
}
