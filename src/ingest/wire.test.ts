import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import protobuf from 'protobufjs';
import { TidemarkError } from '../errors.ts';
import { int, Long, rng } from './testkit.ts';
import { FIXED64, InvalidUtf8, LEN, ProtoReader, VARINT, hashBytes, hashView } from './wire.ts';


/** A random 64-bit value, biased towards edges (small, near 2^31, 2^32, 2^53, 2^63). */
function random64(r: () => number): bigint {
  const edges = [0n, 1n, 127n, 128n, 2n ** 31n - 1n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n - 1n, 2n ** 64n - 1n];
  if (r() < 0.3) return edges[int(r, 0, edges.length - 1)];
  const bits = int(r, 1, 64);
  let v = 0n;
  for (let i = 0; i < bits; i++) v = (v << 1n) | (r() < 0.5 ? 1n : 0n);
  return v;
}

function long(v: bigint, unsigned: boolean): protobuf.Long {
  return Long.fromString((unsigned ? BigInt.asUintN(64, v) : BigInt.asIntN(64, v)).toString(), unsigned);
}

describe('ProtoReader against protobufjs', () => {
  it('reads varints, fixed64, sfixed64 and doubles as protobufjs wrote them', () => {
    const r = rng(11);
    for (let iter = 0; iter < 300; iter++) {
      const v = random64(r);
      const d = (r() - 0.5) * 10 ** int(r, -5, 300);
      const w = protobuf.Writer.create();
      w.uint64(long(v, true)).int64(long(v, false)).fixed64(long(v, true)).sfixed64(long(v, false)).double(d).uint32(Number(v & 0xffffffffn)).sint32(Number(BigInt.asIntN(32, v)));
      const bytes = w.finish();
      const pr = new ProtoReader(bytes, 'test');
      const end = bytes.length;
      assert.equal(pr.uint64(end), Number(BigInt.asUintN(64, v)), `uint64 ${v}`);
      assert.equal(pr.int64(end), Number(BigInt.asIntN(64, v)), `int64 ${v}`);
      assert.equal(pr.fixed64(end), Number(BigInt.asUintN(64, v)), `fixed64 ${v}`);
      assert.equal(pr.sfixed64(end), Number(BigInt.asIntN(64, v)), `sfixed64 ${v}`);
      assert.equal(pr.double(end), d);
      assert.equal(pr.uint32(end), Number(v & 0xffffffffn));
      assert.equal(pr.sint32(end), Number(BigInt.asIntN(32, v)));
      assert.equal(pr.pos, end);
    }
  });

  it('gives int64 attribute values as exact decimal strings', () => {
    const r = rng(12);
    for (let iter = 0; iter < 200; iter++) {
      const v = BigInt.asIntN(64, random64(r));
      const bytes = protobuf.Writer.create().int64(long(v, false)).finish();
      assert.equal(new ProtoReader(bytes, 'test').int64String(bytes.length), v.toString());
    }
  });

  it('converts fixed64 nanoseconds to floored milliseconds exactly', () => {
    const r = rng(13);
    for (let iter = 0; iter < 300; iter++) {
      const ns = iter === 0 ? 2n ** 64n - 1n : BigInt(int(r, 0, 4_000_000_000)) * 1_000_000n + BigInt(int(r, 0, 999_999));
      const bytes = protobuf.Writer.create().fixed64(long(ns, true)).finish();
      assert.equal(new ProtoReader(bytes, 'test').fixed64NanosToMillis(8), Number(ns / 1_000_000n), `ns ${ns}`);
    }
  });

  it('reads strings: ASCII, multi-byte UTF-8, empty', () => {
    for (const s of ['', 'instance', 'zoë', '東京', '🙂 emoji', 'a'.repeat(300)]) {
      const bytes = protobuf.Writer.create().string(s).finish();
      const pr = new ProtoReader(bytes, 'test');
      assert.equal(pr.string(bytes.length), s);
      assert.equal(pr.pos, bytes.length);
    }
  });

  it('throws InvalidUtf8 for invalid UTF-8 and moves past the string', () => {
    const bytes = Uint8Array.from([3, 0x61, 0xff, 0x62, 7]);
    const pr = new ProtoReader(bytes, 'test');
    assert.throws(() => pr.string(bytes.length), InvalidUtf8);
    assert.equal(pr.pos, 4);
  });

  it('skips every wire type and tells field keys apart', () => {
    const w = protobuf.Writer.create();
    w.uint32((1 << 3) | VARINT).int64(long(-5n, false));
    w.uint32((2 << 3) | FIXED64).double(1.5);
    w.uint32((3 << 3) | LEN).string('skip me');
    w.uint32((4 << 3) | 5).fixed32(7);
    w.uint32((5 << 3) | VARINT).uint32(42);
    const bytes = w.finish();
    const pr = new ProtoReader(bytes, 'test');
    for (let f = 1; f <= 4; f++) {
      const key = pr.tag(bytes.length);
      assert.equal(key >>> 3, f);
      pr.skip(key & 7, bytes.length);
    }
    assert.equal(pr.tag(bytes.length), (5 << 3) | VARINT);
    assert.equal(pr.uint32(bytes.length), 42);
  });
});

describe('ProtoReader on malformed input', () => {
  const cases: { name: string; bytes: number[]; read: (r: ProtoReader, end: number) => unknown; message: RegExp }[] = [
    { name: 'truncated varint', bytes: [0x80, 0x80], read: (r, e) => r.uint64(e), message: /truncated varint/ },
    { name: 'varint longer than 10 bytes', bytes: Array(11).fill(0xff), read: (r, e) => r.int64(e), message: /longer than 10 bytes/ },
    { name: 'truncated fixed64', bytes: [1, 2, 3], read: (r, e) => r.fixed64(e), message: /truncated 8-byte/ },
    { name: 'length past the end', bytes: [5, 1, 2], read: (r, e) => r.lenEnd(e), message: /runs past the end/ },
    { name: 'field number 0', bytes: [0x02], read: (r, e) => r.tag(e), message: /field number 0/ },
    { name: 'group wire type', bytes: [0x0b], read: (r, e) => r.tag(e), message: /unsupported wire type 3/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const bytes = Uint8Array.from(c.bytes);
      assert.throws(
        () => c.read(new ProtoReader(bytes, 'test payload'), bytes.length),
        (e: unknown) => e instanceof TidemarkError && e.code === 'TM_ERR_INPUT' && c.message.test(e.message) && /^byte \d+$/.test(e.path ?? ''),
      );
    });
  }
});

describe('ProtoReader string interning', () => {
  it('returns the same string for the same short bytes and never mixes up different ones', () => {
    const w = protobuf.Writer.create();
    const words = ['instance', 'job', 'instance', 'jo', 'job', 'x'.repeat(32), 'x'.repeat(33), 'x'.repeat(32)];
    for (const s of words) w.string(s);
    const bytes = w.finish();
    const pr = new ProtoReader(bytes, 'test');
    const got = words.map(() => pr.string(bytes.length));
    assert.deepEqual(got, words);
    // Many distinct strings through the table, then the first ones again: collisions are checked byte by byte.
    const r = rng(14);
    const many = Array.from({ length: 40000 }, () => String(int(r, 0, 1e9)));
    const w2 = protobuf.Writer.create();
    for (const s of many) w2.string(s);
    const b2 = w2.finish();
    const pr2 = new ProtoReader(b2, 'test');
    for (const s of many) assert.equal(pr2.string(b2.length), s);
  });
});

describe('hashBytes / hashView (the series cache key)', () => {
  it('is MurmurHash3 x86_32 with seed 0 (published answers)', () => {
    const answers: [string, number][] = [['', 0], ['test', 0xba6bd213], ['Hello, world!', 0xc0363e43], ['The quick brown fox jumps over the lazy dog', 0x2e4ff723]];
    for (const [text, h] of answers) {
      const b = Buffer.from(text);
      assert.equal(hashBytes(b, 0, b.length) >>> 0, h, text);
    }
  });

  it('hashes a range the same at any offset and alignment of a larger payload', () => {
    const r = rng(3);
    const payload = Uint8Array.from({ length: 400 }, () => int(r, 0, 255));
    const view = new DataView(payload.buffer, 5); // the payload's bytes from 5: a misaligned view
    for (let len = 0; len <= 135; len++) {
      for (const start of [0, 1, 2, 3, 17]) {
        const alone = payload.slice(5 + start, 5 + start + len);
        assert.equal(hashView(view, start, start + len), hashBytes(alone, 0, len), `len ${len} at ${start}`);
      }
    }
  });
});
