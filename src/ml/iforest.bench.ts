/**
 * Isolation Forest: fit and score speed, one vector at a time (the streaming case), against
 * scikit-learn's IsolationForest scoring the same vectors in one batch, in the same run, and
 * the Spearman rank correlation of the two models' scores on the same data.
 * scikit-learn is Debian's python3-sklearn, run with /usr/bin/python3 (not whatever `python3`
 * is first on PATH); without it the comparison is skipped with a notice.
 * Run alone: `node --import tsx src/ml/iforest.bench.ts`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { drift, driftEvaluations } from '../detect/drift.ts';
import { newVerdict } from '../detect/types.ts';
import { Rng } from '../series/prng.ts';
import { ForestBuilder, fitForest } from './iforest.ts';
import { StreamingForest } from './stream.ts';

const DIMS = 8;
const TRAIN = 4096;
const TEST = 8192;
const TREES = 100;
const SAMPLE = 256;
const SYSTEM_PYTHON = '/usr/bin/python3';

/** Service-like vectors: three latent drivers (load, slowness, memory) mixed into 8 features, 3% anomalous. */
export function benchData(rows: number, seed: number, anomalyShare = 0.03): Float64Array {
  const rng = new Rng(seed);
  const out = new Float64Array(rows * DIMS);
  for (let r = 0; r < rows; r++) {
    const load = rng.normal();
    const slow = rng.normal();
    const mem = rng.normal();
    const o = r * DIMS;
    out[o] = 1000 + 200 * load + 20 * rng.normal(); // qps
    out[o + 1] = 120 + 15 * load + 25 * slow + 5 * rng.normal(); // latency p95
    out[o + 2] = 0.01 + 0.002 * slow + 0.001 * rng.normal(); // error rate
    out[o + 3] = 40 + 10 * load + 3 * rng.normal(); // cpu
    out[o + 4] = 2000 + 100 * mem + 20 * rng.normal(); // memory
    out[o + 5] = 50 + 8 * load + 4 * slow + 2 * rng.normal(); // connections
    out[o + 6] = 5 + 1 * mem + 0.5 * rng.normal(); // gc pause
    out[o + 7] = 300 + 60 * load + 10 * rng.normal(); // bytes out
    if (rng.next() < anomalyShare) {
      // A broken combination: latency up while load is ordinary, or cpu up with no qps.
      if (rng.next() < 0.5) out[o + 1] += 60 + 40 * rng.next();
      else out[o + 3] += 25 + 10 * rng.next();
    }
  }
  return out;
}

/** Spearman rank correlation (average ranks for ties). */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const ra = ranks(a);
  const rb = ranks(b);
  const n = ra.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += ra[i];
    mb += rb[i];
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const x = ra[i] - ma;
    const y = rb[i] - mb;
    sab += x * y;
    saa += x * x;
    sbb += y * y;
  }
  return sab / Math.sqrt(saa * sbb);
}

function ranks(x: ArrayLike<number>): Float64Array {
  const n = x.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((i, j) => x[i] - x[j]);
  const r = new Float64Array(n);
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && x[idx[j + 1]] === x[idx[i]]) j++;
    const avg = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) r[idx[k]] = avg;
    i = j + 1;
  }
  return r;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];

const SKLEARN_SCRIPT = `
import sys, time, json
import numpy as np
from sklearn.ensemble import IsolationForest
d = int(sys.argv[1]); trees = int(sys.argv[2]); sample = int(sys.argv[3]); folder = sys.argv[4]
train = np.fromfile(folder + '/train.f64', dtype='<f8').reshape(-1, d)
test = np.fromfile(folder + '/test.f64', dtype='<f8').reshape(-1, d)
t0 = time.perf_counter()
m = IsolationForest(n_estimators=trees, max_samples=sample, random_state=0).fit(train)
fit_ms = (time.perf_counter() - t0) * 1000
m.score_samples(test[:100])
rates = []
for _ in range(5):
    t0 = time.perf_counter()
    s = m.score_samples(test)
    rates.append(len(test) / (time.perf_counter() - t0))
(-s).astype('<f8').tofile(folder + '/sk_scores.f64')
print(json.dumps({"fit_ms": fit_ms, "batch_rates": rates}))
`;

interface SklearnResult {
  fitMs: number;
  batchRate: number;
  scores: Float64Array;
}

function runSklearn(train: Float64Array, test: Float64Array): SklearnResult | string {
  const probe = spawnSync(SYSTEM_PYTHON, ['-c', 'import sklearn, numpy'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return `scikit-learn not importable by ${SYSTEM_PYTHON} (install Debian's python3-sklearn); comparison skipped`;
  const dir = mkdtempSync(join(tmpdir(), 'tidemark-iforest-'));
  try {
    writeFileSync(join(dir, 'train.f64'), Buffer.from(train.buffer, train.byteOffset, train.byteLength));
    writeFileSync(join(dir, 'test.f64'), Buffer.from(test.buffer, test.byteOffset, test.byteLength));
    const r = spawnSync(SYSTEM_PYTHON, ['-c', SKLEARN_SCRIPT, String(DIMS), String(TREES), String(SAMPLE), dir], { encoding: 'utf8', timeout: 300_000 });
    if (r.status !== 0) return `scikit-learn run failed: ${(r.stderr || String(r.error)).trim().split('\n').pop()}`;
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { fit_ms: number; batch_rates: number[] };
    const buf = readFileSync(join(dir, 'sk_scores.f64'));
    const scores = new Float64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    return { fitMs: out.fit_ms, batchRate: median(out.batch_rates), scores };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** CPU ms of `fn`, median of `reps`. */
function cpuMs(fn: () => void, reps = 5): number {
  const xs: number[] = [];
  for (let i = 0; i < reps; i++) {
    const c0 = process.cpuUsage();
    fn();
    const c = process.cpuUsage(c0);
    xs.push((c.user + c.system) / 1000);
  }
  return median(xs);
}

/**
 * The cascade's saving on the drift detector: 20,000 points of a series that drifts for 10% of
 * them, with the distances evaluated at every point versus on schedule (every 15) or when the
 * cheap mean/variance check suspects.
 */
function driftCascade(): { evaluated_share: number; cpu_ratio: number } {
  const rng = new Rng(5);
  const xs = Float64Array.from({ length: 20_000 }, (_, i) => (i % 10_000 > 9000 ? 130 : 100) + 10 * rng.normal());
  const run = (cfg: object) => {
    const c = drift.parseConfig(cfg, 'bench');
    let s = drift.init(c);
    const out = newVerdict();
    const ms = cpuMs(() => {
      s = drift.init(c);
      for (let i = 0; i < xs.length; i++) drift.update(s, i, xs[i], out);
    }, 3);
    return { ms, ...driftEvaluations(s) };
  };
  const all = run({ every: 1, suspect: 0 });
  const cas = run({});
  console.log(`cascade: drift distances on ${cas.evaluations} of ${all.evaluations} judged points (${((100 * cas.evaluations) / all.evaluations).toFixed(1)}%), CPU ${cas.ms.toFixed(1)} ms vs ${all.ms.toFixed(1)} ms evaluating every point`);
  return { evaluated_share: round(cas.evaluations / all.evaluations, 4), cpu_ratio: round(cas.ms / all.ms, 3) };
}

/** The cascade's saving on a streaming forest: scoring every vector versus learning 4 in 5 unscored. */
function forestCascade(): { cpu_ratio: number } {
  const data = benchData(6000, 303);
  const run = (every: number) =>
    cpuMs(() => {
      const f = new StreamingForest(DIMS, { minFit: 1000, refitEvery: 1000 });
      for (let r = 0; r < 6000; r++) {
        const x = data.subarray(r * DIMS, (r + 1) * DIMS);
        if (r % every === 0) {
          const s = f.observe(x);
          if (s >= 0.9) f.explain(x);
        } else f.learn(x);
      }
    }, 3);
  const all = run(1);
  const cas = run(5);
  console.log(`cascade: streaming forest over 6000 vectors (fits included), scoring all ${all.toFixed(1)} ms vs 1 in 5 ${cas.toFixed(1)} ms`);
  return { cpu_ratio: round(cas / all, 3) };
}

export interface IforestBenchResult {
  [key: string]: unknown;
  name: string;
  trees: number;
  features: number;
  fit_ms: number;
  vectors_per_s: number;
  sklearn_batch_vectors_per_s: number | null;
  sklearn_batch_ratio: number | null;
  rank_correlation: number | null;
  drift_cascade_evaluated_share: number;
  drift_cascade_cpu_ratio: number;
  forest_cascade_cpu_ratio: number;
}

export function runIforestBench(): IforestBenchResult {
  const train = benchData(TRAIN, 101);
  const test = benchData(TEST, 202);

  // Fit: median of 5 fits (each a different seed, same data).
  const fits: number[] = [];
  let forest = fitForest(train, TRAIN, DIMS, { trees: TREES, sampleSize: SAMPLE, seed: 1 });
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    forest = new ForestBuilder(train, TRAIN, DIMS, { trees: TREES, sampleSize: SAMPLE, seed: 1 + i }).forest();
    fits.push(performance.now() - t0);
  }
  const fitMs = median(fits);

  // Streaming scoring: one vector per call, in arrival order.
  const scores = new Float64Array(TEST);
  for (let r = 0; r < TEST; r++) scores[r] = forest.score(test, r * DIMS); // warm up the JIT
  const rates: number[] = [];
  for (let rep = 0; rep < 7; rep++) {
    const t0 = performance.now();
    for (let r = 0; r < TEST; r++) scores[r] = forest.score(test, r * DIMS);
    rates.push(TEST / ((performance.now() - t0) / 1000));
  }
  const vps = median(rates);
  console.log(`iforest: fit ${TREES} trees x ${SAMPLE} samples on ${TRAIN} x ${DIMS}: median ${fitMs.toFixed(1)} ms`);
  console.log(`iforest: streaming score, one vector per call: median ${Math.round(vps)} vectors/s over ${TEST} vectors x 7`);

  const sk = runSklearn(train, test);
  let ratio: number | null = null;
  let rho: number | null = null;
  let skRate: number | null = null;
  if (typeof sk === 'string') console.log(`iforest: ${sk}`);
  else {
    skRate = sk.batchRate;
    ratio = vps / sk.batchRate;
    rho = spearman(scores, sk.scores);
    console.log(`iforest: scikit-learn fit ${sk.fitMs.toFixed(1)} ms, batch score_samples median ${Math.round(sk.batchRate)} vectors/s (5 runs)`);
    console.log(`iforest: one-at-a-time / sklearn batch = ${ratio.toFixed(2)}x; Spearman rank correlation of scores ${rho.toFixed(4)} (target >= 0.9)`);
  }
  const dc = driftCascade();
  const fc = forestCascade();
  return {
    name: 'ml.iforest',
    trees: TREES,
    features: DIMS,
    fit_ms: round(fitMs, 2),
    vectors_per_s: Math.round(vps),
    sklearn_batch_vectors_per_s: skRate === null ? null : Math.round(skRate),
    sklearn_batch_ratio: ratio === null ? null : round(ratio, 2),
    rank_correlation: rho === null ? null : round(rho, 4),
    drift_cascade_evaluated_share: dc.evaluated_share,
    drift_cascade_cpu_ratio: dc.cpu_ratio,
    forest_cascade_cpu_ratio: fc.cpu_ratio,
  };
}

const round = (x: number, d: number): number => Math.round(x * 10 ** d) / 10 ** d;

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = runIforestBench();
  console.log(`BENCH ${JSON.stringify(r)}`);
}
