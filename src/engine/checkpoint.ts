// Binary checkpoints of detector state. JSON (detect's snapshotState) cost ~100 µs per series,
// most of the checkpoint pass; this writes the same plain-data shapes as tagged binary:
// numbers as float64 (NaN, infinities and -0 survive as they are), number arrays as packed
// float64 runs, typed arrays as their bytes. Decoding gives what restoreState would give for
// the same state: number arrays come back as packed double arrays (series' `doubles`), empty
// arrays as plain ones.
import { TidemarkError } from '../errors.ts';
import { doubles, slabDoubles } from '../series/index.ts';

/** First byte of a binary checkpoint; JSON checkpoints (format 1) start with '{'. */
export const BINARY_CHECKPOINT = 2;

const T_NULL = 0;
const T_FALSE = 1;
const T_TRUE = 2;
const T_NUMBER = 3;
const T_STRING = 4;
const T_NUMBERS = 5; // non-empty array of numbers only
const T_ARRAY = 6;
const T_OBJECT = 7;
const T_TYPED = 8; // + one byte: index into TYPED

type Typed = Float64Array | Float32Array | Int32Array | Uint32Array | Int16Array | Uint16Array | Int8Array | Uint8Array;
type TypedCtor = { new (buffer: ArrayBuffer, offset?: number, length?: number): Typed; new (n: number): Typed; readonly BYTES_PER_ELEMENT: number };
const TYPED: readonly TypedCtor[] = [Float64Array, Float32Array, Int32Array, Uint32Array, Int16Array, Uint16Array, Int8Array, Uint8Array];

/** A growable output buffer, reused across checkpoints (one encode at a time). */
class Writer {
  buf = Buffer.allocUnsafe(1 << 16);
  pos = 0;

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  u8(x: number): void {
    this.ensure(1);
    this.buf[this.pos++] = x;
  }
  u32(x: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(x, this.pos);
    this.pos += 4;
  }
  f64(x: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(x, this.pos);
    this.pos += 8;
  }
  string(s: string): void {
    const n = Buffer.byteLength(s);
    this.u32(n);
    this.ensure(n);
    this.buf.write(s, this.pos, 'utf8');
    this.pos += n;
  }
  bytes(b: Uint8Array): void {
    this.u32(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
}

const writer = new Writer();

const notNumber = (x: unknown): boolean => typeof x !== 'number';
const LITTLE_ENDIAN = new Uint8Array(Float64Array.of(1).buffer)[7] === 0x3f;
/** Number arrays pass through here: one bulk copy instead of a write per element. */
let f64 = new Float64Array(1024);
let f64Bytes = Buffer.from(f64.buffer);

function fail(message: string, path: string): never {
  throw new TidemarkError('TM_ERR_STATE', message, path);
}

function write(w: Writer, v: unknown, path: string): void {
  if (typeof v === 'number') {
    w.u8(T_NUMBER);
    w.f64(v);
  } else if (v === null) w.u8(T_NULL);
  else if (v === false) w.u8(T_FALSE);
  else if (v === true) w.u8(T_TRUE);
  else if (typeof v === 'string') {
    w.u8(T_STRING);
    w.string(v);
  } else if (Array.isArray(v)) {
    // Elements of an array that may hold only numbers are read by builtins (findIndex, the
    // typed array's set), never by `v[i]` here: once this function was optimized, that one
    // load site had seen packed-double state arrays and object arrays (a set's state), and V8
    // then moved every double array it read to generic elements. After the first checkpoint
    // pass each detector write boxed a number that lived until the series' next point: ~200
    // MB promoted per 10 s at 100,000 series, scavenges of 20-80 ms, GC a quarter of the CPU.
    if (v.length > 0 && v.findIndex(notNumber) < 0) {
      const n = v.length;
      w.u8(T_NUMBERS);
      w.u32(n);
      w.ensure(8 * n);
      if (f64.length < n) {
        f64 = new Float64Array(Math.max(n, 2 * f64.length));
        f64Bytes = Buffer.from(f64.buffer);
      }
      f64.set(v as number[]);
      if (LITTLE_ENDIAN) f64Bytes.copy(w.buf, w.pos, 0, 8 * n);
      else for (let i = 0; i < n; i++) w.buf.writeDoubleLE(f64[i], w.pos + 8 * i);
      w.pos += 8 * n;
    } else {
      w.u8(T_ARRAY);
      w.u32(v.length);
      for (let i = 0; i < v.length; i++) write(w, v[i], `${path}[${i}]`);
    }
  } else if (ArrayBuffer.isView(v)) {
    const k = TYPED.findIndex((C) => v instanceof C);
    if (k < 0) fail(`unsupported typed array ${v.constructor.name}; detector states use float64/float32/int/uint arrays`, path);
    w.u8(T_TYPED);
    w.u8(k);
    w.bytes(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  } else if (typeof v === 'object') {
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) fail(`a ${proto?.constructor?.name ?? 'non-plain'} object is not plain data`, path);
    const keys = Object.keys(v);
    w.u8(T_OBJECT);
    w.u32(keys.length);
    for (const key of keys) {
      w.string(key);
      write(w, (v as Record<string, unknown>)[key], `${path}.${key}`);
    }
  } else fail(`a ${typeof v} is not plain data`, path);
}

/**
 * Encodes a checkpoint: the newest judged time, the detector entries it belongs to (as
 * their JSON text) and the state. Returns a fresh buffer.
 */
export function encodeCheckpoint(lastT: number, entries: string, state: unknown): Buffer {
  const w = writer;
  w.pos = 0;
  w.u8(BINARY_CHECKPOINT);
  w.f64(lastT);
  w.string(entries);
  write(w, state, 'state');
  // Not Buffer.from(subarray): for a Uint8Array argument Node copies element by element, which
  // was most of the checkpoint pass; copy() is one memcpy.
  const out = allocBlob(w.pos);
  w.buf.copy(out, 0, 0, w.pos);
  return out;
}

/** Bytes of one slab that checkpoints are carved from. */
const SLAB = 1 << 20;
let slab = Buffer.allocUnsafeSlow(0);
let slabUsed = 0;

/**
 * A checkpoint's own bytes. A checkpoint of a few KB is past Buffer's pool (4 KB), so each one
 * was a separate ArrayBuffer: 100,000 series made 100,000 allocations per pass, a third of
 * its time, and the external memory they reported forced full GCs (50-100 ms pauses). Slices
 * of a 1 MiB slab cost one allocation per ~200 checkpoints; a slab lives while any of its
 * checkpoints does (they are dropped once stored).
 */
function allocBlob(n: number): Buffer {
  if (n > SLAB >> 4) return Buffer.allocUnsafeSlow(n);
  if (slabUsed + n > slab.length) {
    slab = Buffer.allocUnsafeSlow(SLAB);
    slabUsed = 0;
  }
  const out = slab.subarray(slabUsed, slabUsed + n);
  slabUsed += (n + 7) & ~7; // 8-byte aligned starts, as the allocator gives
  return out;
}

class Reader {
  readonly b: Buffer;
  pos = 0;
  constructor(b: Buffer) {
    this.b = b;
  }
  need(n: number): void {
    if (this.pos + n > this.b.length) throw new TidemarkError('TM_ERR_STATE', 'the checkpoint is truncated', 'checkpoint');
  }
  u8(): number {
    this.need(1);
    return this.b[this.pos++];
  }
  u32(): number {
    this.need(4);
    const x = this.b.readUInt32LE(this.pos);
    this.pos += 4;
    return x;
  }
  f64(): number {
    this.need(8);
    const x = this.b.readDoubleLE(this.pos);
    this.pos += 8;
    return x;
  }
  string(): string {
    const n = this.u32();
    this.need(n);
    const s = this.b.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
}

function read(r: Reader): unknown {
  const tag = r.u8();
  switch (tag) {
    case T_NULL:
      return null;
    case T_FALSE:
      return false;
    case T_TRUE:
      return true;
    case T_NUMBER:
      return r.f64();
    case T_STRING:
      return r.string();
    case T_NUMBERS: {
      const n = r.u32();
      r.need(8 * n);
      const a = doubles(n);
      for (let i = 0; i < n; i++) a[i] = r.b.readDoubleLE(r.pos + 8 * i);
      r.pos += 8 * n;
      return a;
    }
    case T_ARRAY: {
      const n = r.u32();
      const a: unknown[] = [];
      for (let i = 0; i < n; i++) a.push(read(r));
      return a;
    }
    case T_OBJECT: {
      const n = r.u32();
      const o: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) {
        const key = r.string();
        o[key] = read(r);
      }
      return o;
    }
    case T_TYPED: {
      const C = TYPED[r.u8()];
      const n = r.u32();
      r.need(n);
      if (C === undefined || n % C.BYTES_PER_ELEMENT !== 0) throw new TidemarkError('TM_ERR_STATE', 'the checkpoint holds a damaged typed array', 'checkpoint');
      // Copy into aligned memory of its own: the blob may be a slice of a larger buffer. Float64
      // states (a detector set's region per series) go to a shared slab, as the set allocates them.
      const a = C === Float64Array ? slabDoubles(n / 8) : new C(n / C.BYTES_PER_ELEMENT);
      new Uint8Array(a.buffer, a.byteOffset, a.byteLength).set(r.b.subarray(r.pos, r.pos + n));
      r.pos += n;
      return a;
    }
    default:
      throw new TidemarkError('TM_ERR_STATE', `unknown tag ${tag} in a checkpoint`, 'checkpoint');
  }
}

/** Decodes `encodeCheckpoint`'s output. Throws TM_ERR_STATE when it is damaged. */
export function decodeCheckpoint(blob: Uint8Array): { lastT: number; entries: string; state: unknown } {
  const r = new Reader(Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength));
  if (r.u8() !== BINARY_CHECKPOINT) throw new TidemarkError('TM_ERR_STATE', 'not a binary checkpoint', 'checkpoint');
  const lastT = r.f64();
  const entries = r.string();
  const state = read(r);
  if (r.pos !== r.b.length) throw new TidemarkError('TM_ERR_STATE', 'the checkpoint has trailing bytes', 'checkpoint');
  return { lastT, entries, state };
}
