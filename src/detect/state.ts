/**
 * Checkpoints of detector state: `snapshotState` turns a state (a detector's, or a whole
 * set's) into a JSON-safe value and `restoreState` turns that back into a live state that
 * gives identical verdicts. JSON cannot carry typed arrays, NaN, infinities or -0, so:
 *   Float64Array -> {"$f64": base64}, likewise $f32, $i32, $u32, $i16, $u16, $i8, $u8;
 *   NaN, Infinity, -Infinity, -0 -> {"$num": "NaN" | "Infinity" | "-Infinity" | "-0"}.
 * Typed-array bytes are stored as the machine holds them (little-endian on x86 and ARM).
 * Arrays of numbers come back as packed double arrays, as detectors create them.
 */
import { TidemarkError } from '../errors.ts';
import { doubles, slabDoubles } from '../series/index.ts';

const VERSION = 1;

type Typed = Float64Array | Float32Array | Int32Array | Uint32Array | Int16Array | Uint16Array | Int8Array | Uint8Array;
type TypedCtor = { new (n: number): Typed; readonly BYTES_PER_ELEMENT: number };

const TAGS: readonly [string, TypedCtor][] = [
  ['$f64', Float64Array],
  ['$f32', Float32Array],
  ['$i32', Int32Array],
  ['$u32', Uint32Array],
  ['$i16', Int16Array],
  ['$u16', Uint16Array],
  ['$i8', Int8Array],
  ['$u8', Uint8Array],
];

/** A checkpoint of a state, ready for JSON.stringify. */
export interface StateSnapshot {
  tidemark_state: number;
  state: unknown;
}

function fail(message: string, path: string): never {
  throw new TidemarkError('TM_ERR_STATE', message, path);
}

function encode(v: unknown, path: string): unknown {
  if (typeof v === 'number') {
    if (Number.isFinite(v) && !Object.is(v, -0)) return v;
    return { $num: Object.is(v, -0) ? '-0' : String(v) };
  }
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (Array.isArray(v)) return v.map((x, i) => encode(x, `${path}[${i}]`));
  if (ArrayBuffer.isView(v)) {
    for (const [tag, Ctor] of TAGS) {
      if (v instanceof Ctor) return { [tag]: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') };
    }
    fail(`unsupported typed array ${v.constructor.name}; detector states use float64/float32/int/uint arrays`, path);
  }
  if (typeof v === 'object') {
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) fail(`a ${proto?.constructor?.name ?? 'non-plain'} object is not plain data`, path);
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (k.startsWith('$')) fail(`key '${k}' is reserved for the checkpoint encoding`, `${path}.${k}`);
      out[k] = encode(x, `${path}.${k}`);
    }
    return out;
  }
  return fail(`a ${typeof v} is not plain data`, path);
}

/**
 * Encodes a detector or detector-set state for a checkpoint (JSON-safe, versioned).
 * @example const text = JSON.stringify(snapshotState(state)); const back = restoreState(text);
 */
export function snapshotState(state: unknown): StateSnapshot {
  return { tidemark_state: VERSION, state: encode(state, 'state') };
}

function decode(v: unknown, path: string): unknown {
  if (v === null || typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  if (Array.isArray(v)) {
    const items = v.map((x, i) => decode(x, `${path}[${i}]`));
    if (items.length > 0 && items.every((x) => typeof x === 'number')) {
      const a = doubles(items.length);
      for (let i = 0; i < items.length; i++) a[i] = items[i] as number;
      return a;
    }
    return items;
  }
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && keys[0].startsWith('$')) {
      const tag = keys[0];
      const x = o[tag];
      if (tag === '$num') {
        if (x === 'NaN') return NaN;
        if (x === 'Infinity') return Infinity;
        if (x === '-Infinity') return -Infinity;
        if (x === '-0') return -0;
        fail(`unknown special number ${JSON.stringify(x)}`, path);
      }
      const hit = TAGS.find(([t]) => t === tag);
      if (!hit) fail(`unknown encoding '${tag}'`, path);
      if (typeof x !== 'string') fail(`'${tag}' must hold a base64 string`, path);
      const bytes = Buffer.from(x, 'base64');
      const Ctor = hit[1];
      if (bytes.length % Ctor.BYTES_PER_ELEMENT !== 0) fail(`'${tag}' holds ${bytes.length} bytes, not a whole number of elements`, path);
      // Copy into memory of its own: Buffer.from may hand out a slice of a shared pool. Float64
      // states (a detector set's region) go to a shared slab, as `init` allocates them.
      const n = bytes.length / Ctor.BYTES_PER_ELEMENT;
      const arr = Ctor === Float64Array ? slabDoubles(n) : new Ctor(n);
      new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength).set(bytes);
      return arr;
    }
    const out: Record<string, unknown> = {};
    for (const k of keys) out[k] = decode(o[k], `${path}.${k}`);
    return out;
  }
  return fail(`unexpected ${typeof v}`, path);
}

/**
 * Restores a state from `snapshotState`'s output, or from its JSON text. Throws TM_ERR_STATE
 * when the checkpoint is of another version or corrupt.
 */
export function restoreState(json: unknown): unknown {
  let doc = json;
  if (typeof json === 'string') {
    try {
      doc = JSON.parse(json);
    } catch (err) {
      fail(`not JSON: ${(err as Error).message}`, 'checkpoint');
    }
  }
  if (doc === null || typeof doc !== 'object' || !('tidemark_state' in doc) || !('state' in doc)) {
    fail('not a detector checkpoint (expected {"tidemark_state": 1, "state": ...})', 'checkpoint');
  }
  const version = (doc as StateSnapshot).tidemark_state;
  if (version !== VERSION) fail(`checkpoint version ${String(version)} is not supported (this build reads version ${VERSION})`, 'checkpoint');
  return decode((doc as StateSnapshot).state, 'state');
}

// Estimates for V8 on 64-bit Node 20 (no pointer compression), measured with
// process.memoryUsage() over 100,000 objects of each kind.
const TYPED_ARRAY_OVERHEAD = 200; // JSTypedArray + JSArrayBuffer + backing-store bookkeeping
const VIEW_OVERHEAD = 96; // a JSTypedArray viewing part of a shared buffer (series/slab.ts)
const ARRAY_OVERHEAD = 32; // JSArray + elements header
const OBJECT_OVERHEAD = 24; // header; 8 per property slot on top
const BOXED_NUMBER = 16; // a double in an object property lives in its own heap number

/**
 * Estimated bytes a state keeps alive: typed arrays by byteLength plus their object
 * overhead (a view of a shared slab less than an array with a buffer of its own), number arrays at 8 bytes per (unboxed) element, objects at a header plus 8 per
 * property, numbers held in objects as boxed heap numbers. Within about 10% of the retained
 * heap that detect.bench.ts measures.
 */
export function stateBytes(state: unknown): number {
  if (state === null || state === undefined || typeof state === 'boolean') return 0;
  if (typeof state === 'number') return BOXED_NUMBER;
  if (typeof state === 'string') return 16 + 2 * state.length;
  if (ArrayBuffer.isView(state)) return (state.byteLength < state.buffer.byteLength ? VIEW_OVERHEAD : TYPED_ARRAY_OVERHEAD) + state.byteLength;
  if (Array.isArray(state)) {
    let b = ARRAY_OVERHEAD + 8 * state.length;
    for (const x of state) if (typeof x !== 'number') b += stateBytes(x);
    return b;
  }
  if (typeof state === 'object') {
    let b = OBJECT_OVERHEAD;
    for (const x of Object.values(state)) b += 8 + stateBytes(x);
    return b;
  }
  return 8;
}
