/**
 * The arena: one shared WebAssembly memory that the slabs of per-series state are carved
 * from, and the compiled kernels (asm/, built into dist/kernels/ by `npm run build:wasm`) that
 * judge a point in place there. A kernel receives a state's byte address and reads and writes
 * the same bytes the JS code does; no state is copied in or out.
 *
 * Why one shared memory: a kernel reaches only the memory it was instantiated with, and Node
 * refuses more than about 13,000 WebAssembly memories (each reserves address space), where a
 * million series take ~13,000 slabs. An ordinary memory that grows detaches every view over
 * it; a shared one does not (views made before `grow` keep working), so states stay plain
 * Float64Array views however far the arena grows. wasm32 reaches 4 GiB (~1.6 million default
 * regions); past that, and wherever the kernels are not built, slabs are ordinary
 * ArrayBuffers and the detectors take their JS path, which gives the same verdicts.
 *
 * Memory is not returned to the operating system (a WebAssembly memory cannot shrink); a slab
 * whose states are all gone is zeroed and handed out again (series/slab.ts tracks them).
 * `TIDEMARK_KERNELS=js` turns the arena and the kernels off (for comparisons).
 */
import { readFileSync } from 'node:fs';
import { TAIL_BINS, TAIL_BW } from './tail.ts';

// The WebAssembly API as used here (the project's lib is ES2022, which does not declare it).
interface WasmMemory {
  readonly buffer: ArrayBufferLike;
  grow(pages: number): number;
}
interface WasmApi {
  Memory: new (d: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
}
const Wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

const PAGE = 65536;
/** The kernels' fixed scratch and constants live below this (asm/novelty.ts: OUT, Z_EDGE, ...; asm/set.ts: VERDICTS, FRAC, ...). */
const RESERVED = 65536;
/**
 * wasm32's 4 GiB, less a page (a byte view of the whole arena must stay below 2^32 elements),
 * or `TIDEMARK_ARENA_MAX_MB` (at least 16) to cap it lower. Only address space is reserved up
 * front; pages are committed as they are used.
 */
const MAX_PAGES = maxPages(process.env.TIDEMARK_ARENA_MAX_MB);

function maxPages(mb: string | undefined): number {
  const all = 65535;
  if (mb === undefined || mb === '') return all;
  const n = Number(mb);
  if (!Number.isInteger(n) || n < 16) throw new RangeError(`TIDEMARK_ARENA_MAX_MB: expected a whole number of MiB, at least 16, got '${mb}'`);
  return Math.min(all, n * 16);
}
/** The arena grows by at least this many pages (16 MiB), and by half its size when larger. */
const GROW_MIN = 256;

export interface NoveltyKernel {
  /** 0: judged, OUT holds score, median, scale, view; 1: not handled, nothing changed. */
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

interface Kernels {
  novelty: NoveltyKernel;
  /** novelty's output: score, median, scale, reported view. */
  out: Float64Array;
  set: SetKernel;
  /** Per detector of the default profile: score, expected, lower, upper, reason code. */
  verdicts: Float64Array;
  /** The fused score, expected, lower, upper. */
  fused: Float64Array;
}

let memory: WasmMemory | null = null;
let kernels: Kernels | null = null;
let why = '';
/** Bytes handed out (from RESERVED up); the memory's size is at least this. */
let top = RESERVED;
/** Freed slabs (offsets), all of one size (series/slab.ts' slab). */
const free: number[] = [];
let freeSize = 0;
let inUse = 0;
/** Every buffer object the memory has had (a grow gives a new one over the same bytes). */
const buffers = new WeakSet<ArrayBufferLike>();

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
  const mem = new Wasm.Memory({ initial: Math.min(GROW_MIN, MAX_PAGES), maximum: MAX_PAGES, shared: true });
  const env = { memory: mem, log1p: Math.log1p, exp: Math.exp, expm1: Math.expm1, log10: Math.log10, log2: Math.log2, round: Math.round };
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
  const buf = mem.buffer as unknown as SharedArrayBuffer;
  // tail.ts' bin edges, computed as tail.ts does, so that the kernel's equal JS's to the bit.
  const edges = new Float64Array(buf, ex.Z_EDGE.value, TAIL_BINS + 1);
  for (let b = 0; b <= TAIL_BINS; b++) edges[b] = Math.expm1(b * TAIL_BW);
  // weekly_shift's decoding tables, computed as detect/weekly-shift.ts computes them.
  const frac = new Float64Array(buf, ex.FRAC.value, 2048);
  for (let j = 0; j < 2048; j++) frac[j] = 2 ** (j / 2048);
  const octave = new Float64Array(buf, ex.OCTAVE.value, 33);
  for (let k = -16; k <= 16; k++) octave[k + 16] = 2 ** k;
  memory = mem;
  buffers.add(buf);
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
export function arenaKernels(): Kernels | null {
  return kernels;
}

/** 'wasm', or why the JS path runs everywhere. */
export function kernelsStatus(): string {
  return kernels !== null ? 'wasm' : why;
}

/** True if `b` is (a buffer object of) the arena's memory. */
export function inArena(b: ArrayBufferLike): boolean {
  return buffers.has(b);
}

/**
 * `bytes` zeroed bytes of the arena (a multiple of 8), as [buffer, byte offset]; null when
 * there is no arena or it is full. Memory given back with `arenaFree` is handed out again.
 */
export function arenaAlloc(bytes: number): [SharedArrayBuffer, number] | null {
  const mem = memory;
  if (mem === null) return null;
  const reused = bytes === freeSize ? free.pop() : undefined;
  if (reused !== undefined) {
    const buf = current(mem);
    new Uint8Array(buf, reused, bytes).fill(0);
    inUse += bytes;
    return [buf, reused];
  }
  const size = mem.buffer.byteLength;
  if (top + bytes > size) {
    const need = Math.ceil((top + bytes - size) / PAGE);
    const pages = size / PAGE;
    const grow = Math.min(Math.max(need, GROW_MIN, pages >> 1), MAX_PAGES - pages);
    if (grow < need) return null;
    try {
      mem.grow(grow);
    } catch {
      return null; // the system refused the pages: ArrayBuffer slabs from here on
    }
  }
  const at = top;
  top += bytes;
  inUse += bytes;
  return [current(mem), at];
}

/** Hands `bytes` at `offset` back (a slab whose states are all gone); `arenaAlloc` zeroes it before reuse. */
export function arenaFree(offset: number, bytes: number): void {
  if (freeSize !== bytes) {
    if (free.length > 0) throw new RangeError(`the arena recycles slabs of one size (${freeSize} bytes), got ${bytes}`);
    freeSize = bytes;
  }
  free.push(offset);
  inUse -= bytes;
}

/** Bytes of the arena held by live slabs (what a memory measurement must add: the arena is not in process.memoryUsage().arrayBuffers). */
export function arenaBytesInUse(): number {
  return inUse;
}

function current(mem: WasmMemory): SharedArrayBuffer {
  const buf = mem.buffer as unknown as SharedArrayBuffer;
  if (!buffers.has(buf)) buffers.add(buf);
  return buf;
}
