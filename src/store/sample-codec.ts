// Binary layouts of the sample store: chunk blobs (one series, one block, one kind) and log
// rows (one group commit: every point appended since the previous one). Little-endian, with
// 8-byte aligned float columns so decoding is a copy into typed arrays.
import { TidemarkError } from '../errors.ts';
import type { PointBuffer } from './sample-head.ts';

const CHUNK_FORMAT = 1;
// u8 format, u8 flags, u16 pad, u32 samples, u32 bands, u32 pad, f64 t0
const CHUNK_HEADER = 24;
const FLAG_SAMPLE_DELTAS = 1; // sample times as u32 offsets from t0 (4 bytes instead of 8)
const FLAG_BAND_DELTAS = 2;

/** Decoded points of one kind: times ascending, `vals` interleaved `width` columns per point. */
export interface ChunkPoints {
  readonly t: Float64Array;
  readonly vals: Float64Array;
}

const EMPTY: ChunkPoints = { t: new Float64Array(0), vals: new Float64Array(0) };

/** Reused for every chunk: SQLite copies a bound blob, so the bytes need not outlive the insert. */
let scratch = new ArrayBuffer(1 << 16);

/**
 * Encodes one series' points of one block as a chunk: samples `si` and bands `bi` (time-ordered
 * indices into their buffers). The returned buffer is reused by the next call.
 */
export function encodeChunk(samples: PointBuffer, si: Int32Array, bands: PointBuffer, bi: Int32Array): Buffer {
  const ns = si.length;
  const nb = bi.length;
  const t0 = Math.min(ns > 0 ? samples.t[si[0]] : Infinity, nb > 0 ? bands.t[bi[0]] : Infinity);
  const sDeltas = ns === 0 || samples.t[si[ns - 1]] - t0 <= 0xffffffff;
  const bDeltas = nb === 0 || bands.t[bi[nb - 1]] - t0 <= 0xffffffff;
  const size = CHUNK_HEADER + partBytes(ns, 1, sDeltas) + partBytes(nb, 4, bDeltas);
  if (scratch.byteLength < size) scratch = new ArrayBuffer(Math.max(size, scratch.byteLength * 2));
  const out = Buffer.from(scratch, 0, size);
  out[0] = CHUNK_FORMAT;
  out[1] = (sDeltas ? FLAG_SAMPLE_DELTAS : 0) | (bDeltas ? FLAG_BAND_DELTAS : 0);
  out.writeUInt16LE(0, 2);
  out.writeUInt32LE(ns, 4);
  out.writeUInt32LE(nb, 8);
  out.writeUInt32LE(0, 12);
  out.writeDoubleLE(t0, 16);
  let at = writePart(samples, si, t0, sDeltas, CHUNK_HEADER);
  writePart(bands, bi, t0, bDeltas, at);
  return out;
}

function partBytes(n: number, w: number, deltas: boolean): number {
  return (deltas ? Math.ceil(n / 2) * 8 : 8 * n) + 8 * n * w;
}

function writePart(buf: PointBuffer, idx: Int32Array, t0: number, deltas: boolean, at: number): number {
  const n = idx.length;
  const w = buf.width;
  const t = buf.t;
  if (deltas) {
    const d = new Uint32Array(scratch, at, Math.ceil(n / 2) * 2);
    for (let k = 0; k < n; k++) d[k] = t[idx[k]] - t0;
    if (n % 2 === 1) d[n] = 0;
    at += Math.ceil(n / 2) * 8;
  } else {
    const d = new Float64Array(scratch, at, n);
    for (let k = 0; k < n; k++) d[k] = t[idx[k]];
    at += 8 * n;
  }
  const v = new Float64Array(scratch, at, n * w);
  const src = buf.vals;
  if (w === 1) for (let k = 0; k < n; k++) v[k] = src[idx[k]];
  else for (let k = 0; k < n; k++) for (let c = 0; c < w; c++) v[k * w + c] = src[idx[k] * w + c];
  return at + 8 * n * w;
}

/** Decodes the samples (kind 0) or the bands (kind 1) of a chunk. */
export function decodeChunk(blob: Uint8Array, kind: number): ChunkPoints {
  if (blob.length < CHUNK_HEADER || blob[0] !== CHUNK_FORMAT) throw new TidemarkError('TM_ERR_STORE', `unknown sample chunk format ${blob[0]}: the database was written by a newer Tidemark`);
  const dv = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const ns = dv.getUint32(4, true);
  const nb = dv.getUint32(8, true);
  const t0 = dv.getFloat64(16, true);
  const sDeltas = (blob[1] & FLAG_SAMPLE_DELTAS) !== 0;
  const bDeltas = (blob[1] & FLAG_BAND_DELTAS) !== 0;
  const sBytes = partBytes(ns, 1, sDeltas);
  if (blob.length !== CHUNK_HEADER + sBytes + partBytes(nb, 4, bDeltas)) throw new TidemarkError('TM_ERR_STORE', 'a sample chunk has the wrong length: the database file is damaged');
  const n = kind === 0 ? ns : nb;
  if (n === 0) return EMPTY;
  const w = kind === 0 ? 1 : 4;
  const deltas = kind === 0 ? sDeltas : bDeltas;
  const from = kind === 0 ? CHUNK_HEADER : CHUNK_HEADER + sBytes;
  // Copy to aligned memory first: SQLite's buffers may start at any offset.
  const raw = new Uint8Array(partBytes(n, w, deltas));
  raw.set(blob.subarray(from, from + raw.length));
  const t = new Float64Array(n);
  let at: number;
  if (deltas) {
    const d = new Uint32Array(raw.buffer, 0, n);
    for (let k = 0; k < n; k++) t[k] = t0 + d[k];
    at = Math.ceil(n / 2) * 8;
  } else {
    t.set(new Float64Array(raw.buffer, 0, n));
    at = 8 * n;
  }
  return { t, vals: new Float64Array(raw.buffer, at, n * w) };
}

const LOG_HEADER = 8; // u32 samples, u32 bands

/** Reused for every log row: its writer (SQLite's bind, or a file write) copies it at once. */
let logScratch = new ArrayBuffer(1 << 16);

/**
 * The live points of [sFrom, sTo) of `samples` and [bFrom, bTo) of `bands` as one log row,
 * after `prefix` bytes left for the caller (a file log's frame header; a multiple of 8). The
 * returned buffer is reused by the next call.
 */
export function encodeLogRow(samples: PointBuffer, sFrom: number, sTo: number, bands: PointBuffer, bFrom: number, bTo: number, prefix = 0): Buffer {
  const ns = live(samples, sFrom, sTo);
  const nb = live(bands, bFrom, bTo);
  const size = prefix + LOG_HEADER + 8 * (3 * ns + 6 * nb);
  // An ArrayBuffer of its own is 8-aligned, as the float view below needs; every byte after
  // the prefix is written here. One huge group does not pin its size for good.
  if (logScratch.byteLength < size || logScratch.byteLength > 4 * Math.max(size, 1 << 16)) logScratch = new ArrayBuffer(Math.max(size, 1 << 16));
  const out = Buffer.from(logScratch, 0, size);
  out.writeUInt32LE(ns, prefix);
  out.writeUInt32LE(nb, prefix + 4);
  const f = new Float64Array(out.buffer, out.byteOffset + prefix + LOG_HEADER, 3 * ns + 6 * nb);
  let at = 0;
  at = copyColumns(samples, sFrom, sTo, ns, f, at);
  copyColumns(bands, bFrom, bTo, nb, f, at);
  return out;
}

function live(b: PointBuffer, from: number, to: number): number {
  if (b.deadCount === 0) return to - from;
  let n = 0;
  for (let i = from; i < to; i++) if (b.dead[i] === 0) n++;
  return n;
}

/** Writes sid[n], t[n], vals[n * width] of the live points in [from, to) to `f` at `at`. */
function copyColumns(b: PointBuffer, from: number, to: number, n: number, f: Float64Array, at: number): number {
  const w = b.width;
  if (n === to - from) {
    f.set(b.sid.subarray(from, to), at);
    f.set(b.t.subarray(from, to), at + n);
    f.set(b.vals.subarray(from * w, to * w), at + 2 * n);
  } else {
    let k = 0;
    for (let i = from; i < to; i++) {
      if (b.dead[i] !== 0) continue;
      f[at + k] = b.sid[i];
      f[at + n + k] = b.t[i];
      for (let c = 0; c < w; c++) f[at + 2 * n + k * w + c] = b.vals[i * w + c];
      k++;
    }
  }
  return at + (2 + w) * n;
}

/** Replays one log row into a block's buffers. */
export function decodeLogRow(blob: Uint8Array, samples: PointBuffer, bands: PointBuffer): void {
  if (blob.length < LOG_HEADER) throw new TidemarkError('TM_ERR_STORE', 'a sample log row is truncated: the database file is damaged');
  const dv = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const ns = dv.getUint32(0, true);
  const nb = dv.getUint32(4, true);
  if (blob.length !== LOG_HEADER + 8 * (3 * ns + 6 * nb)) throw new TidemarkError('TM_ERR_STORE', 'a sample log row has the wrong length: the database file is damaged');
  const raw = new Uint8Array(blob.length - LOG_HEADER);
  raw.set(blob.subarray(LOG_HEADER));
  const f = new Float64Array(raw.buffer);
  let at = 0;
  for (const [b, n] of [
    [samples, ns],
    [bands, nb],
  ] as const) {
    const w = b.width;
    for (let k = 0; k < n; k++) b.push(f[at + k], f[at + n + k], f.subarray(at + 2 * n + k * w, at + 2 * n + (k + 1) * w), 0);
    at += (2 + w) * n;
  }
}
