/**
 * The compiled kernels (asm/, built into dist/kernels/ by `npm run build:wasm`): novelty's
 * steady state (asm/novelty.ts) and the default profile's whole point (asm/set.ts). They are
 * instantiated over the arena's memory (series/arena.ts), which this loader opens, so they
 * judge the states' slabs in place. Where the kernels are not built, or `TIDEMARK_KERNELS=js`
 * turns them off (for comparisons), the arena stays closed and every detector runs its
 * TypeScript path, which gives the same verdicts.
 *
 * The kernels receive, in the arena's reserved first 64 KiB, the constants they must share
 * with the TypeScript path to the bit: tail.ts' bin edges and weekly_shift's decoding tables,
 * copied from the very arrays the TypeScript code reads.
 */
import { readFileSync } from 'node:fs';
import { TAIL_BINS, TAIL_BW, Wasm, arenaOpen } from '../series/index.ts';
import { DECODE_FRAC, DECODE_OCTAVE } from './weekly-shift.ts';

export interface NoveltyKernel {
  /** 0: judged, `out` holds score, median, scale, view; 1: not handled, nothing changed. */
  update(block: number, options: number, t: number, x: number): number;
}

export interface SetKernel {
  /**
   * One point of the default profile over a region at byte `region`, its descriptor at
   * `descriptor` (asm/set.ts): 1 not handled, nothing changed; 0 judged, `fused` holds score,
   * expected, lower, upper; 2 judged, a detector reports: `verdicts` holds each detector's.
   */
  updateSet(region: number, descriptor: number, t: number, x: number): number;
}

export interface Kernels {
  novelty: NoveltyKernel;
  /** novelty's output: score, median, scale, reported view. */
  out: Float64Array;
  set: SetKernel;
  /** Per detector of the default profile: score, expected, lower, upper, reason code. */
  verdicts: Float64Array;
  /** The fused score, expected, lower, upper. */
  fused: Float64Array;
}

let kernels: Kernels | null = null;
let why = '';

function load(): void {
  if (process.env.TIDEMARK_KERNELS === 'js') {
    why = 'turned off (TIDEMARK_KERNELS=js)';
    return;
  }
  const url = new URL('../../dist/kernels/kernels.wasm', import.meta.url);
  let bytes: Buffer;
  try {
    bytes = readFileSync(url);
  } catch {
    why = `not built (${url.pathname} is missing: npm run build:wasm)`;
    return;
  }
  const memory = arenaOpen();
  // The transcendental functions come from JS, so that the kernels' results equal V8's to the bit.
  const env = { memory, log1p: Math.log1p, exp: Math.exp, expm1: Math.expm1, log10: Math.log10, log2: Math.log2, log: Math.log, round: Math.round };
  const inst = new Wasm.Instance(new Wasm.Module(bytes), { env });
  type Addr = { value: number };
  const ex = inst.exports as unknown as {
    update: NoveltyKernel['update'];
    updateSet: SetKernel['updateSet'];
    OUT: Addr;
    Z_EDGE: Addr;
    VERDICTS: Addr;
    FUSED: Addr;
    FRAC: Addr;
    OCTAVE: Addr;
  };
  const buf = memory.buffer as unknown as SharedArrayBuffer;
  // tail.ts' bin edges, computed as tail.ts does.
  const edges = new Float64Array(buf, ex.Z_EDGE.value, TAIL_BINS + 1);
  for (let b = 0; b <= TAIL_BINS; b++) edges[b] = Math.expm1(b * TAIL_BW);
  new Float64Array(buf, ex.FRAC.value, DECODE_FRAC.length).set(DECODE_FRAC);
  new Float64Array(buf, ex.OCTAVE.value, DECODE_OCTAVE.length).set(DECODE_OCTAVE);
  kernels = {
    novelty: { update: ex.update },
    out: new Float64Array(buf, ex.OUT.value, 4),
    set: { updateSet: ex.updateSet },
    verdicts: new Float64Array(buf, ex.VERDICTS.value, 7 * 5),
    fused: new Float64Array(buf, ex.FUSED.value, 4),
  };
}
load();

/** The kernels, or null where they are not built or turned off (see `kernelsStatus`). */
export function detectKernels(): Kernels | null {
  return kernels;
}

/** 'wasm', or why the TypeScript path runs everywhere. */
export function kernelsStatus(): string {
  return kernels !== null ? 'wasm' : why;
}
