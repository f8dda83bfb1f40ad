/**
 * Typed storage for per-series state, carved from shared slabs.
 *
 * A typed array of its own costs a series an ArrayBuffer object, a backing store with its
 * bookkeeping and a separate malloc block, about 0.5 KB beyond its data, and the external
 * memory of a million of them drives full GCs. A view of a shared slab costs only the view
 * object (96 bytes); a slab's bytes stay alive while any view of it does, so a series that
 * goes away leaves a hole until the other series of its slab go too. Views start 8-byte
 * aligned and are zero-filled (a slab handed out again is zeroed first).
 *
 * A state that mixes doubles and float32 tables lives in one Float64Array; `floatsOf` gives
 * the Float32Array over the same bytes (float index = 2 x double index + byteOffset / 4).
 */
import { arenaAlloc, arenaFree, inArena } from './arena.ts';

/**
 * Bytes of one slab: about 100 series of the default profile. A slab's own overhead is then
 * under 1% of it, and a slab is freed once its few dozen series are gone: a long-lived series
 * pins 256 KiB at worst, not megabytes.
 *
 * Slabs come from the arena (series/arena.ts: one shared WebAssembly memory, where the
 * kernels judge states in place) while it has room, else they are ArrayBuffers of their own.
 * An ArrayBuffer slab goes when its last view does; an arena slab is handed back to the arena
 * then (a FinalizationRegistry counts each slab's live views).
 */
const SLAB_BYTES = 256 << 10;
let slab: ArrayBufferLike = new ArrayBuffer(0);
let used = 0;
let end = 0;
/** The arena offset of the current slab, or -1 for an ArrayBuffer slab. */
let slabAt = -1;
/** Live views per arena slab (by offset); a slab left with none, and no longer current, goes back. */
const live = new Map<number, number>();
const gone = new FinalizationRegistry<number>((at) => {
  const n = (live.get(at) ?? 1) - 1;
  if (n > 0 || at === slabAt) live.set(at, n);
  else {
    live.delete(at);
    arenaFree(at, SLAB_BYTES);
  }
});

function nextSlab(): void {
  if (slabAt >= 0 && live.get(slabAt) === 0) {
    live.delete(slabAt);
    arenaFree(slabAt, SLAB_BYTES);
  }
  const a = arenaAlloc(SLAB_BYTES);
  if (a !== null) {
    slab = a[0];
    slabAt = used = a[1];
    live.set(slabAt, 0);
  } else {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabAt = -1;
    used = 0;
  }
  end = used + SLAB_BYTES;
}

/** Float32Array, Uint16Array and Uint8Array aliases of slabs and of other buffers that states were decoded into. */
const ALIASES = new WeakMap<ArrayBufferLike, Float32Array>();
let lastBuffer: ArrayBufferLike | null = null;
let lastView: Float64Array | null = null;
let lastFloats: Float32Array = new Float32Array(0);
const HALF_ALIASES = new WeakMap<ArrayBufferLike, Uint16Array<ArrayBufferLike>>();
let lastHalfView: ArrayBufferView | null = null;
let lastHalves: Uint16Array<ArrayBufferLike> = new Uint16Array(0);
const BYTE_ALIASES = new WeakMap<ArrayBufferLike, Uint8Array<ArrayBufferLike>>();
let lastByteView: ArrayBufferView | null = null;
let lastBytes: Uint8Array<ArrayBufferLike> = new Uint8Array(0);

/** A zero-filled Float64Array of `n` doubles, a view of a shared slab. */
export function slabDoubles(n: number): Float64Array {
  const bytes = 8 * n;
  if (used + bytes > end) {
    if (bytes > SLAB_BYTES >> 4) return new Float64Array(n); // a large state: its own buffer
    nextSlab();
  }
  const at = used;
  used += bytes;
  const f = new Float64Array(slab, at, n);
  if (slabAt >= 0) {
    live.set(slabAt, (live.get(slabAt) as number) + 1);
    gone.register(f, slabAt);
  }
  return f;
}

/**
 * The Float32Array over all of `f`'s buffer: the float32 tables of a state held in `f` are read
 * through it, at float index 2 x (double index) + f.byteOffset / 4.
 */
export function floatsOf(f: Float64Array): Float32Array {
  // Several detectors of one series ask in turn: the same view again is one comparison.
  if (f !== lastView) see(f);
  return lastFloats;
}

/**
 * Remembers `f`'s byte offset, buffer alias and whether it lives in the arena, for every
 * detector of the series to read. `buffer` and `byteOffset` are not inlined by V8 here (40 and
 * 25 ns a read, against 2 ns for `length`): read once a point, not once a detector.
 */
function see(f: Float64Array): void {
  lastView = f;
  lastOffset = f.byteOffset;
  const b = f.buffer;
  if (b === lastBuffer) return;
  let a = ALIASES.get(b);
  if (a === undefined) {
    a = new Float32Array(b);
    ALIASES.set(b, a);
  }
  lastBuffer = b;
  lastFloats = a;
  lastInArena = inArena(b);
}
let lastOffset = 0;
let lastInArena = false;

/** `f.byteOffset` if `f` lives in the arena (series/arena.ts: where the kernels can read it), else -1. */
export function arenaOffset(f: Float64Array): number {
  if (f !== lastView) see(f);
  return lastInArena ? lastOffset : -1;
}

/**
 * The Uint16Array over all of `v`'s buffer (for a region `f`: index 4 x (double index) +
 * f.byteOffset / 2), for 16-bit tables. The same view again is one comparison.
 */
export function halvesOf(v: ArrayBufferView): Uint16Array<ArrayBufferLike> {
  if (v === lastHalfView) return lastHalves;
  const b = v.buffer;
  let a = HALF_ALIASES.get(b);
  if (a === undefined) HALF_ALIASES.set(b, (a = new Uint16Array(b)));
  lastHalfView = v;
  return (lastHalves = a);
}

/** The Uint8Array over all of `v`'s buffer, for byte tables (as `halvesOf`). */
export function bytesOf(v: ArrayBufferView): Uint8Array<ArrayBufferLike> {
  if (v === lastByteView) return lastBytes;
  const b = v.buffer;
  let a = BYTE_ALIASES.get(b);
  if (a === undefined) BYTE_ALIASES.set(b, (a = new Uint8Array(b)));
  lastByteView = v;
  return (lastBytes = a);
}

/** Index in `halvesOf(f)` of double slot `o` of `f`. */
export function halfBase(f: Float64Array, o: number): number {
  return ((f === lastView ? lastOffset : f.byteOffset) >> 1) + 4 * o;
}

/** Float index in `floatsOf(f)` of double slot `o` of `f`. */
export function floatBase(f: Float64Array, o: number): number {
  return ((f === lastView ? lastOffset : f.byteOffset) >> 2) + 2 * o;
}
