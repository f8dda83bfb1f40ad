import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { compress } from 'snappyjs';
import { TidemarkError } from '../errors.ts';
import { decompressSnappy, maybeGunzip } from './compression.ts';
import { int, rng } from './testkit.ts';

function isCode(code: string, message?: RegExp): (e: unknown) => boolean {
  return (e) => e instanceof TidemarkError && e.code === code && (message === undefined || message.test(e.message));
}

/** Bytes with repeats (so snappy emits copies) and random runs (literals). */
function sample(r: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = i > 8 && r() < 0.7 ? b[i - int(r, 1, 8)] : int(r, 0, 255);
  return b;
}

describe('decompressSnappy', () => {
  it('round-trips snappyjs-compressed data of many sizes', () => {
    const r = rng(21);
    for (const n of [0, 1, 59, 60, 61, 255, 256, 65535, 65536, 70000, 200_000]) {
      const data = sample(r, n);
      assert.deepEqual(decompressSnappy(compress(data)), data, `size ${n}`);
    }
  });

  it('accepts a Uint8Array that is not a Buffer', () => {
    const data = sample(rng(22), 1000);
    const c = compress(data);
    assert.deepEqual(decompressSnappy(new Uint8Array(c)), data);
  });

  const corrupt: { name: string; bytes: number[]; message: RegExp }[] = [
    // snappyjs 0.7.0 loops forever on this one: a literal whose 4-byte length is above 2^31.
    { name: 'a literal length above 2^31', bytes: [10, 0xfc, 0xf0, 0xff, 0xff, 0xff, 1, 2, 3], message: /literal runs past the end/ },
    { name: 'an empty body', bytes: [], message: /truncated length preamble/ },
    { name: 'a copy before any data', bytes: [4, 0x01, 0x01], message: /copy offset 1 outside the 0 bytes/ },
    { name: 'more data than declared', bytes: [1, 0x04, 0x61, 0x62], message: /more data than the declared length/ },
    { name: 'less data than declared', bytes: [3, 0x00, 0x61], message: /decodes to 1 bytes, but declares 3/ },
    { name: 'a truncated copy', bytes: [8, 0x00, 0x61, 0x02], message: /truncated copy/ },
    { name: 'a literal past the end', bytes: [5, 0x10, 0x61], message: /literal runs past the end/ },
    { name: 'a 6-byte preamble', bytes: [0x80, 0x80, 0x80, 0x80, 0x80, 0x01], message: /longer than 5 bytes/ },
  ];
  for (const c of corrupt) {
    it(`refuses ${c.name}`, () => {
      assert.throws(() => decompressSnappy(Uint8Array.from(c.bytes)), isCode('TM_ERR_INPUT', c.message));
    });
  }

  it('refuses a body that declares more than the limit, before allocating', () => {
    const big = compress(Buffer.alloc(5000, 7));
    assert.throws(() => decompressSnappy(big, 4999), isCode('TM_ERR_TOO_LARGE', /5000 bytes, more than the limit of 4999/));
    assert.equal(decompressSnappy(big, 5000).length, 5000);
    // A 5-byte preamble claiming 4 GiB is refused at once.
    assert.throws(() => decompressSnappy(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f])), isCode('TM_ERR_TOO_LARGE'));
  });
});

describe('maybeGunzip', () => {
  const body = Buffer.from('cpu value=1\n'.repeat(100));
  const cases: { name: string; encoding: string | undefined; input: Buffer }[] = [
    { name: 'no Content-Encoding', encoding: undefined, input: body },
    { name: 'identity', encoding: 'identity', input: body },
    { name: 'gzip', encoding: 'gzip', input: gzipSync(body) },
    { name: 'x-gzip in upper case with spaces', encoding: ' X-GZIP ', input: gzipSync(body) },
  ];
  for (const c of cases) {
    it(`decodes ${c.name}`, () => {
      assert.deepEqual(maybeGunzip(c.input, c.encoding), body);
    });
  }

  it('refuses an unsupported encoding and lists the supported ones', () => {
    assert.throws(() => maybeGunzip(body, 'br'), isCode('TM_ERR_INPUT', /unsupported Content-Encoding "br"; supported: gzip, identity/));
  });

  it('refuses a corrupt gzip body', () => {
    assert.throws(() => maybeGunzip(Buffer.from('not gzip'), 'gzip'), isCode('TM_ERR_INPUT', /not valid gzip/));
  });

  it('stops a gzip bomb at the limit', () => {
    const bomb = gzipSync(Buffer.alloc(1_000_000));
    assert.ok(bomb.length < 2000);
    assert.throws(() => maybeGunzip(bomb, 'gzip', 100_000), isCode('TM_ERR_TOO_LARGE', /more than the limit of 100000 bytes/));
    assert.throws(() => maybeGunzip(body, undefined, 10), isCode('TM_ERR_TOO_LARGE'));
  });
});
