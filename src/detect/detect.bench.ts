/**
 * Throughput and memory of the default detector set.
 *
 * Throughput: 10,000 interleaved series (5-minute points with daily and weekly seasonality,
 * noise and trend), warmed 8 days first, then timed over several rounds; the median round is
 * reported. Eight days is past every detector's learning: new_level learns a week, and
 * weekly_shift judges only once it knows the same hour last week (while those two still learn,
 * the set runs ~9% faster than in the steady state it is measured in). In the same process and run a textbook robust z-score that re-sorts its
 * window for the median and the MAD at every point (what naive code does) runs on the same
 * points, and the ratio of the two rates is printed.
 *
 * Memory: 100,000 series with daily+weekly seasonality. 100 series are streamed through
 * three weeks of data; their checkpoints are restored into 100,000 live states, and the
 * retained heap (V8 heap + ArrayBuffers, after GC) is divided by the series count.
 * Run through `npm run bench` (node --expose-gc).
 */
import { createDetectorSet, restoreState, snapshotState } from './index.ts';
import { newFusedVerdict } from './types.ts';
import { arenaBytesInUse, mulberry32 as rng } from '../series/index.ts';
import { kernelsStatus } from './kernels.ts';

const STEP_MS = 5 * 60_000;
const DAY = 288; // points per day at 5 minutes

/** Fills `out[i * n + s]` (point-major, series interleaved) for points [from, from + count). */
function generate(n: number, from: number, count: number, seed: number): Float64Array {
  const r = rng(seed);
  const out = new Float64Array(n * count);
  const base = new Float64Array(n);
  const amp = new Float64Array(n);
  const noise = new Float64Array(n);
  for (let s = 0; s < n; s++) {
    base[s] = 10 ** (1 + 3 * r());
    amp[s] = 0.2 + 0.5 * r();
    noise[s] = 0.02 + 0.08 * r();
  }
  for (let i = 0; i < count; i++) {
    const k = from + i;
    const daily = Math.sin((2 * Math.PI * (k % DAY)) / DAY);
    const weekend = Math.floor(k / DAY) % 7 >= 5 ? 0.7 : 1;
    for (let s = 0; s < n; s++) {
      const level = base[s] * (1 + amp[s] * daily) * weekend * (1 + 1e-5 * k);
      out[i * n + s] = level * (1 + noise[s] * (r() + r() + r() - 1.5));
    }
  }
  return out;
}

function naiveRobustZ(window: number[], v: number): number {
  // Textbook code: copy and sort the window at every point for the median and the MAD.
  const sorted = window.slice().sort((a, b) => a - b);
  const m = sorted[sorted.length >> 1];
  const dev = sorted.map((x) => Math.abs(x - m)).sort((a, b) => a - b);
  const mad = dev[dev.length >> 1] * 1.4826 + 1e-12;
  return Math.abs(v - m) / mad;
}

export interface DetectBenchResult {
  name: 'detect.default';
  points_per_s: number;
  baseline_points_per_s: number;
  baseline_ratio: number;
  bytes_per_series: number;
  checkpoint_bytes_per_series: number;
  /** 'wasm' when novelty's steady state ran compiled (series/arena.ts), else why not. */
  kernels: string;
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[s.length >> 1];
}

export function runDetectBench(opts: { series?: number; memorySeries?: number; rounds?: number } = {}): DetectBenchResult {
  const N = opts.series ?? 10_000;
  const rounds = opts.rounds ?? 5;
  const set = createDetectorSet();
  const out = newFusedVerdict();
  const states = new Array(N);
  for (let s = 0; s < N; s++) states[s] = set.init();

  // Warm up past every detector's learning (8 days: see the file comment), untimed.
  const warm = 8 * DAY;
  const t0 = Date.UTC(2026, 0, 5);
  const chunk = 96;
  let k = 0;
  for (; k < warm; k += chunk) {
    const data = generate(N, k, chunk, 1000 + k);
    for (let i = 0; i < chunk; i++) {
      const t = t0 + (k + i) * STEP_MS;
      for (let s = 0; s < N; s++) set.update(states[s], t, data[i * N + s], out);
    }
  }

  // Timed rounds, each over fresh points of the same streams.
  const rates: number[] = [];
  let sink = 0;
  for (let r = 0; r < rounds; r++) {
    const data = generate(N, k, chunk, 5000 + r);
    const start = process.hrtime.bigint();
    for (let i = 0; i < chunk; i++) {
      const t = t0 + (k + i) * STEP_MS;
      for (let s = 0; s < N; s++) sink += set.update(states[s], t, data[i * N + s], out).score;
    }
    const secs = Number(process.hrtime.bigint() - start) / 1e9;
    rates.push((chunk * N) / secs);
    k += chunk;
  }
  const pointsPerS = median(rates);

  // The textbook baseline over the same kind of stream (fewer series: it is slow).
  const NB = Math.min(N, 1000);
  const W = 64;
  const windows: number[][] = Array.from({ length: NB }, () => []);
  const bdata = generate(NB, 0, 2 * chunk, 77);
  for (let i = 0; i < chunk; i++) for (let s = 0; s < NB; s++) windows[s].push(bdata[i * NB + s]);
  const brates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = chunk; i < 2 * chunk; i++) {
      for (let s = 0; s < NB; s++) {
        const v = bdata[i * NB + s];
        const win = windows[s];
        sink += naiveRobustZ(win.length > W ? win.slice(-W) : win, v);
        win.push(v);
        if (win.length > W) win.shift();
      }
    }
    const secs = Number(process.hrtime.bigint() - start) / 1e9;
    brates.push((chunk * NB) / secs);
  }
  const baseline = median(brates);
  if (sink === -1) console.log(sink); // keep the work observable to the optimiser

  const mem = measureMemory(opts.memorySeries ?? 100_000);
  return {
    name: 'detect.default',
    points_per_s: Math.round(pointsPerS),
    baseline_points_per_s: Math.round(baseline),
    baseline_ratio: Number((pointsPerS / baseline).toFixed(2)),
    bytes_per_series: mem.bytesPerSeries,
    checkpoint_bytes_per_series: mem.checkpoint,
    kernels: kernelsStatus(),
  };
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (!g) throw new Error('run with node --expose-gc (npm run bench does)');
  g();
  g();
}

function heapBytes(): number {
  const m = process.memoryUsage();
  // The arena (series/arena.ts: the WebAssembly memory most states live in) is not among
  // the ArrayBuffers that memoryUsage counts: its slabs in use are added.
  return m.heapUsed + m.arrayBuffers + arenaBytesInUse();
}

function measureMemory(n: number): { bytesPerSeries: number; checkpoint: number } {
  const set = createDetectorSet();
  const out = newFusedVerdict();
  const templates = 100;
  const weeks = 3;
  const points = weeks * 7 * DAY;
  const warmStates = Array.from({ length: templates }, () => set.init());
  const t0 = Date.UTC(2026, 0, 5);
  const chunk = 288;
  for (let k = 0; k < points; k += chunk) {
    const data = generate(templates, k, chunk, 9000 + k);
    for (let i = 0; i < chunk; i++) {
      const t = t0 + (k + i) * STEP_MS;
      for (let s = 0; s < templates; s++) set.update(warmStates[s], t, data[i * templates + s], out);
    }
  }
  const snaps = warmStates.map((s) => JSON.stringify(snapshotState(s)));
  const checkpoint = Math.round(snaps.reduce((a, s) => a + s.length, 0) / templates);
  gc();
  const before = heapBytes();
  const live = new Array(n);
  for (let i = 0; i < n; i++) live[i] = restoreState(JSON.parse(snaps[i % templates]));
  // Each restored state must keep working: run one point through a sample of them.
  for (let i = 0; i < n; i += 97) set.update(live[i], t0 + points * STEP_MS, 100, out);
  gc();
  const after = heapBytes();
  const bytesPerSeries = Math.round((after - before) / n);
  if (live.length !== n) throw new Error('unreachable');
  return { bytesPerSeries, checkpoint };
}
