/**
 * Speed of root-cause localisation on tables shaped like Squeeze's B0 benchmark
 * (6 x 36 x 10 x 10 = 21,600 leaves, a third empty, 1-3 planted causes at layers 1-3, 1%
 * forecast noise). The typed-array search (integer codes, cuboids aggregated by code
 * arithmetic, exact pruning of elements that cannot beat the best) is timed against the
 * string-keyed reference implementation of the same model in the same run; both must return
 * the same elements. Run alone: `node --import tsx src/explain/localize.bench.ts`.
 */
import { formatElement, localize } from './localize.ts';
import { referenceLocalize } from './reference.ts';
import { prng, syntheticTable } from './testdata.ts';
import type { PlantedCause } from './testdata.ts';
import type { LeafTable } from './table.ts';

const CARDS = [6, 36, 10, 10];

function tables(count: number): LeafTable[] {
  const rand = prng(2024);
  const out: LeafTable[] = [];
  for (let n = 0; n < count; n++) {
    const layer = 1 + (n % 3);
    const k = 1 + Math.floor(rand() * 3);
    const causes: PlantedCause[] = [];
    for (let c = 0; c < k; c++) {
      const dims = [0, 1, 2, 3].sort(() => rand() - 0.5).slice(0, layer).sort();
      const pairs = dims.map((d) => {
        const name = String.fromCharCode(97 + d);
        return `${name}=${name}${1 + Math.floor(rand() * CARDS[d])}`;
      });
      causes.push({ pairs, factor: [0, 0.2, 0.4, 0.6][Math.floor(rand() * 4)] });
    }
    out.push(syntheticTable({ seed: 9000 + n, cardinalities: CARDS, causes, noise: 0.01, emptyShare: 0.35 }));
  }
  return out;
}

function cpuMs(fn: () => void): number {
  const c0 = process.cpuUsage();
  fn();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];

export interface LocalizeBenchResult {
  [key: string]: unknown;
  name: string;
  tables: number;
  leaves: number;
  ms_per_table: number;
  reference_ms_per_table: number;
  speedup: number;
  agree: boolean;
}

/** Median CPU milliseconds per table, fast and reference, over the same tables. */
export function runLocalizeBench(count = 12, referenceCount = 3): LocalizeBenchResult {
  const ts = tables(count);
  for (const t of ts.slice(0, 3)) localize(t); // warm up the JIT
  const fast: number[] = [];
  for (let round = 0; round < 3; round++) for (const t of ts) fast.push(cpuMs(() => localize(t)));
  const slow: number[] = [];
  let agree = true;
  for (const t of ts.slice(0, referenceCount)) {
    let ref: string[] = [];
    slow.push(cpuMs(() => (ref = referenceLocalize(t).elements)));
    const got = localize(t).elements.map((e) => formatElement(e.pairs));
    agree &&= [...got].sort().join(';') === [...ref].sort().join(';');
  }
  const ms = median(fast);
  const refMs = median(slow);
  return {
    name: 'localize',
    tables: count,
    leaves: ts[0].real.length,
    ms_per_table: Number(ms.toFixed(2)),
    reference_ms_per_table: Number(refMs.toFixed(1)),
    speedup: Number((refMs / ms).toFixed(1)),
    agree,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = runLocalizeBench();
  for (const [k, v] of Object.entries(r)) if (k !== 'name') console.log(`localize: ${k} = ${v}`);
  console.log(`BENCH ${JSON.stringify(r)}`);
}
