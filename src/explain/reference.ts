/**
 * The localisation model of localize.ts written the obvious way: string element keys, a Map
 * per cuboid, every gain computed in full, no pruning. It is the oracle that tests compare the
 * typed-array implementation against, and the baseline of localize.bench.ts. Not for serving.
 */
import type { LeafTable } from './table.ts';

const NU = 4;

function rho(z: number): number {
  return ((NU + 1) / 2) * Math.log(1 + (z * z) / NU);
}

function medianOf(xs: number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

function scale(xs: number[]): number {
  const c = medianOf(xs);
  return Math.max(1.4826 * medianOf(xs.map((x) => Math.abs(x - c))), 1e-6);
}

function combos(n: number, k: number, start = 0): number[][] {
  if (k === 0) return [[]];
  const out: number[][] = [];
  for (let i = start; i <= n - k; i++) for (const rest of combos(n, k - 1, i + 1)) out.push([i, ...rest]);
  return out;
}

interface Leaf {
  labels: string[];
  v: number;
  f: number;
  dev: number;
}

/** Elements as `a=a1&b=b2` strings, in the order found; evidence per element alongside. */
export function referenceLocalize(t: LeafTable, maxLayer = 4): { elements: string[]; evidence: number[]; noise: number } {
  const D = t.dimensions.length;
  const L = Math.min(D, maxLayer);
  const leaves: Leaf[] = [];
  for (let i = 0; i < t.real.length; i++) {
    const v = t.real[i];
    const f = t.predict[i];
    if (v === 0 && f === 0) continue;
    const labels = t.dimensions.map((name, d) => `${name}=${t.values[d][t.codes[d][i]]}`);
    leaves.push({ labels, v, f, dev: (2 * (v - f)) / (Math.abs(v) + Math.abs(f)) });
  }
  const cuboids: { dims: number[]; cost: number }[] = [];
  for (let k = 1; k <= L; k++) {
    const all = combos(D, k);
    for (const dims of all) {
      const elements = dims.reduce((p, d) => p * Math.max(1, t.values[d].length), 1);
      cuboids.push({ dims, cost: Math.log(L) + Math.log(all.length) + Math.log(elements) });
    }
  }

  const run = (noise: number) => {
    const open = new Set(leaves);
    const found: { key: string; evidence: number; leaves: Leaf[] }[] = [];
    while (found.length < 10 && open.size > 0) {
      let best: { key: string; evidence: number; leaves: Leaf[] } | undefined;
      for (const c of cuboids) {
        const groups = new Map<string, Leaf[]>();
        for (const leaf of open) {
          const key = c.dims.map((d) => leaf.labels[d]).join('&');
          const g = groups.get(key);
          if (g) g.push(leaf);
          else groups.set(key, [leaf]);
        }
        for (const [key, g] of groups) {
          let sv = 0;
          let sf = 0;
          for (const l of g) {
            sv += l.v;
            sf += l.f;
          }
          if (!(sf > 0)) continue;
          const r = sv / sf;
          let gain = 0;
          for (const l of g) {
            const s = (noise * (Math.abs(l.v) + Math.abs(l.f))) / 2;
            gain += rho(l.dev / noise) - rho((l.v - r * l.f) / s);
          }
          const evidence = gain - c.cost - 0.5 * Math.log(g.length);
          if (!best || evidence > best.evidence) best = { key, evidence, leaves: g };
        }
      }
      if (!best || best.evidence < 0) break;
      found.push(best);
      for (const l of best.leaves) open.delete(l);
    }
    return { found, open };
  };

  let noise = scale(leaves.map((l) => l.dev));
  let res = run(noise);
  for (let round = 1; round < 4 && res.found.length > 0; round++) {
    const next = scale([...res.open].map((l) => l.dev));
    if (next === noise) break;
    const again = run(next);
    const stable = again.found.map((x) => x.key).join(';') === res.found.map((x) => x.key).join(';');
    noise = next;
    res = again;
    if (stable) break;
  }
  return { elements: res.found.map((x) => x.key), evidence: res.found.map((x) => x.evidence), noise };
}
