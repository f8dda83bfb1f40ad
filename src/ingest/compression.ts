import { gunzipSync } from 'node:zlib';
import { TidemarkError } from '../errors.ts';

/** Largest decoded body accepted by default: 32 MiB (OTLP recommends at least 20 MiB). */
export const DEFAULT_MAX_DECODED_BYTES = 32 * 1024 * 1024;

function tooLarge(what: string, size: string, max: number): TidemarkError {
  return new TidemarkError('TM_ERR_TOO_LARGE', `${what} decompresses to ${size}, more than the limit of ${max} bytes; send smaller batches`);
}

function badSnappy(problem: string, at: number): TidemarkError {
  return new TidemarkError(
    'TM_ERR_INPUT',
    `body is not valid snappy block format (${problem}); remote_write bodies are snappy-compressed protobuf with Content-Encoding: snappy`,
    `byte ${at}`,
  );
}

/** Copies shorter than this go byte by byte: a typed-array call costs more than the loop. */
const SHORT_COPY = 16;

/**
 * Reads the length preamble, then decodes every tag into `out` (sized from the preamble), checking
 * each against the input's end and the declared length before it writes: one pass, no second
 * walk over the tags. snappyjs 0.7.0 (which this replaces on the hot path) did not check its
 * input fully: a literal with a 4-byte length above 2^31 sent it backwards into an endless loop
 * (a 9-byte body hung the process), and copies past the declared length were silently dropped.
 * `alloc` gives the output buffer for the declared length (it may be reused scratch).
 */
function snappyDecode(buf: Uint8Array, maxBytes: number, alloc: (n: number) => Uint8Array): Uint8Array {
  const n = buf.length;
  let pos = 0;
  let declared = 0;
  for (let mul = 1; ; mul *= 128) {
    if (pos >= n) throw badSnappy('truncated length preamble', pos);
    if (mul > 2 ** 28) throw badSnappy('length preamble longer than 5 bytes', pos);
    const b = buf[pos++];
    declared += (b & 0x7f) * mul;
    if (b < 0x80) break;
  }
  if (declared > maxBytes) throw tooLarge('snappy body', `${declared} bytes`, maxBytes);
  const dst = alloc(declared);
  let out = 0;
  while (pos < n) {
    const at = pos;
    const c = buf[pos++];
    const type = c & 3;
    let len: number;
    let offset: number;
    if (type === 0) {
      len = (c >>> 2) + 1;
      if (len > 60) {
        const k = len - 60;
        if (n - pos < k) throw badSnappy('truncated literal length', at);
        len = 0;
        for (let i = k - 1; i >= 0; i--) len = len * 256 + buf[pos + i];
        len += 1;
        pos += k;
      }
      if (n - pos < len) throw badSnappy('literal runs past the end', at);
      if (out + len > declared) throw badSnappy('more data than the declared length', at);
      if (len < SHORT_COPY) for (let i = 0; i < len; i++) dst[out + i] = buf[pos + i];
      else dst.set(buf.subarray(pos, pos + len), out);
      pos += len;
      out += len;
      continue;
    }
    if (type === 1) {
      if (pos >= n) throw badSnappy('truncated copy', at);
      len = ((c >>> 2) & 7) + 4;
      offset = ((c >>> 5) << 8) | buf[pos];
      pos += 1;
    } else if (type === 2) {
      if (n - pos < 2) throw badSnappy('truncated copy', at);
      len = (c >>> 2) + 1;
      offset = buf[pos] | (buf[pos + 1] << 8);
      pos += 2;
    } else {
      if (n - pos < 4) throw badSnappy('truncated copy', at);
      len = (c >>> 2) + 1;
      offset = (buf[pos] | (buf[pos + 1] << 8) | (buf[pos + 2] << 16) | (buf[pos + 3] << 24)) >>> 0;
      pos += 4;
    }
    if (offset === 0 || offset > out) throw badSnappy(`copy offset ${offset} outside the ${out} bytes decoded so far`, at);
    if (out + len > declared) throw badSnappy('more data than the declared length', at);
    // An offset below the length repeats a pattern: byte by byte, so the copy reads what it wrote.
    if (len < SHORT_COPY || offset < len) for (let i = out - offset, e = out + len; out < e; ) dst[out++] = dst[i++];
    else {
      dst.copyWithin(out, out - offset, out - offset + len);
      out += len;
    }
  }
  if (out !== declared) throw badSnappy(`decodes to ${out} bytes, but declares ${declared}`, pos);
  return dst;
}

/**
 * Decompresses a snappy block-format body (what Prometheus remote_write sends), refusing
 * anything that would decode to more than `maxBytes`.
 * Throws `TidemarkError` TM_ERR_INPUT for corrupt input and TM_ERR_TOO_LARGE over the limit.
 */
export function decompressSnappy(buf: Uint8Array, maxBytes = DEFAULT_MAX_DECODED_BYTES): Buffer {
  const out = snappyDecode(buf, maxBytes, (n) => Buffer.allocUnsafe(n));
  return out as Buffer;
}

let scratch = Buffer.allocUnsafeSlow(1 << 16);

/**
 * As `decompressSnappy`, into a buffer shared by every call: the result is valid only until the
 * next call, so the caller must finish with it synchronously (remote_write decoding does, and
 * keeps no reference to its bytes). Saves a fresh ~150 KB allocation per 2,000-sample request.
 */
export function decompressSnappyShared(buf: Uint8Array, maxBytes = DEFAULT_MAX_DECODED_BYTES): Buffer {
  return snappyDecode(buf, maxBytes, (n) => {
    // Bounded by maxBytes; shrinks back when one huge body would pin its size.
    if (n > scratch.length || scratch.length > 4 * Math.max(n, 1 << 16)) scratch = Buffer.allocUnsafeSlow(Math.max(n, 1 << 16));
    return scratch.subarray(0, n);
  }) as Buffer;
}

/**
 * Returns the body decoded per its `Content-Encoding`: gzip (or x-gzip) is gunzipped, absent
 * or `identity` is returned as is. Anything else is refused with the supported list.
 * Synchronous: call it off the hot loop for very large bodies. Over `maxBytes` decoded: TM_ERR_TOO_LARGE.
 *
 * @example maybeGunzip(body, req.headers['content-encoding'])
 */
export function maybeGunzip(buf: Uint8Array, contentEncoding: string | undefined, maxBytes = DEFAULT_MAX_DECODED_BYTES): Buffer {
  const enc = (contentEncoding ?? '').trim().toLowerCase();
  const input = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (enc === '' || enc === 'identity') {
    if (input.length > maxBytes) throw tooLarge('body', `${input.length} bytes`, maxBytes);
    return input;
  }
  if (enc !== 'gzip' && enc !== 'x-gzip') {
    throw new TidemarkError('TM_ERR_INPUT', `unsupported Content-Encoding ${JSON.stringify(contentEncoding)}; supported: gzip, identity`, 'Content-Encoding');
  }
  try {
    return gunzipSync(input, { maxOutputLength: maxBytes });
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge('gzip body', `more than ${maxBytes} bytes`, maxBytes);
    throw new TidemarkError('TM_ERR_INPUT', `body is not valid gzip (${e instanceof Error ? e.message : String(e)})`, 'Content-Encoding');
  }
}
