/**
 * The arena: one shared WebAssembly memory that the slabs of per-series state are carved
 * from, so that the compiled kernels (asm/, loaded by detect/kernels.ts) judge a point in
 * place there. A kernel receives a state's byte address and reads and writes the same bytes
 * the JS code does; no state is copied in or out.
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
 * The arena is opened by the kernels' loader; with the kernels off (`TIDEMARK_KERNELS=js`) or
 * not built it stays closed.
 */
// The WebAssembly API as used here (the project's lib is ES2022, which does not declare it).
export interface WasmMemory {
  readonly buffer: ArrayBufferLike;
  grow(pages: number): number;
}
interface WasmApi {
  Memory: new (d: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
}
/** The WebAssembly API (typed as used here). */
export const Wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

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

let memory: WasmMemory | null = null;
/** Bytes handed out (from RESERVED up); the memory's size is at least this. */
let top = RESERVED;
/** Freed slabs (offsets), all of one size (series/slab.ts' slab). */
const free: number[] = [];
let freeSize = 0;
let inUse = 0;
/** Every buffer object the memory has had (a grow gives a new one over the same bytes). */
const buffers = new WeakSet<ArrayBufferLike>();

/**
 * Opens the arena (once; later calls return the same memory): from then on slabs are carved
 * from it. Called by the kernels' loader (detect/kernels.ts) when the kernels are built and
 * turned on, with the memory to instantiate them with; without kernels the arena stays closed
 * and slabs are ArrayBuffers.
 */
export function arenaOpen(): WasmMemory {
  if (memory === null) {
    memory = new Wasm.Memory({ initial: Math.min(GROW_MIN, MAX_PAGES), maximum: MAX_PAGES, shared: true });
    buffers.add(memory.buffer);
  }
  return memory;
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
