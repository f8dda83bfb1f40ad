import { gunzipSync } from 'node:zlib';
import { uncompress } from 'snappyjs';
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

/**
 * Walks the snappy tags without copying and returns the decoded length. snappyjs 0.7.0 does not
 * check its input fully: a literal with a 4-byte length above 2^31 sends it backwards into an
 * endless loop (a 9-byte body hangs the process), and copies past the declared length are
 * silently dropped. This pass rejects both, so snappyjs only ever sees well-formed streams.
 */
function snappyDecodedLength(buf: Uint8Array, maxBytes: number): number {
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
      pos += len;
      out += len;
      if (out > declared) throw badSnappy('more data than the declared length', at);
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
    out += len;
    if (out > declared) throw badSnappy('more data than the declared length', at);
  }
  if (out !== declared) throw badSnappy(`decodes to ${out} bytes, but declares ${declared}`, pos);
  return declared;
}

/**
 * Decompresses a snappy block-format body (what Prometheus remote_write sends), refusing
 * anything that would decode to more than `maxBytes`.
 * Throws `TidemarkError` TM_ERR_INPUT for corrupt input and TM_ERR_TOO_LARGE over the limit.
 */
export function decompressSnappy(buf: Uint8Array, maxBytes = DEFAULT_MAX_DECODED_BYTES): Buffer {
  snappyDecodedLength(buf, maxBytes);
  const input = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  try {
    return uncompress(input, maxBytes);
  } catch (e) {
    throw badSnappy(e instanceof Error ? e.message : String(e), 0);
  }
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
