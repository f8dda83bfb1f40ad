// Helpers for API tests and the ingest benchmark: a service on a temporary store with tokens,
// and a small remote_write encoder (hand-written protobuf, so generating load is cheap).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { compress } from 'snappyjs';
import { createEngine, type Engine, type EngineOptions } from '../engine/index.ts';
import { hashToken, newTokenSecret, openSqliteStore, type Role, type Store } from '../store/index.ts';
import { buildApp, type ApiLimits } from './app.ts';

export interface TestService {
  readonly dir: string;
  readonly store: Store;
  readonly engine: Engine;
  readonly app: FastifyInstance;
  /** tokens[tenant][role] -> secret. Tenants `default` and `other`. */
  readonly tokens: Record<string, Record<Role, string>>;
  close(): Promise<void>;
}

/** Adds a token and returns its secret. */
export async function addToken(store: Store, tenant: string, role: Role, name = `${tenant}-${role}`): Promise<string> {
  const secret = newTokenSecret();
  await store.tokens.create({ tenant, name, role, hash: hashToken(secret) });
  return secret;
}

/** Opens a store in a temporary dir, an engine and the app, with tenants `default` and `other`. */
export async function openTestService(o: { clock?: () => number; limits?: Partial<ApiLimits>; engine?: Partial<EngineOptions> } = {}): Promise<TestService> {
  const clock = o.clock ?? Date.now;
  const dir = mkdtempSync(join(tmpdir(), 'tidemark-api-'));
  const store = await openSqliteStore({ dataDir: dir, now: clock });
  const tokens: Record<string, Record<Role, string>> = {};
  for (const tenant of ['default', 'other']) {
    await store.tenants.create({ id: tenant, name: tenant });
    tokens[tenant] = { read: await addToken(store, tenant, 'read'), write: await addToken(store, tenant, 'write'), admin: await addToken(store, tenant, 'admin') };
  }
  const engine = await createEngine({ store, clock, checkpointIntervalMs: 0, ...o.engine });
  const app = await buildApp({ store, engine, clock, limits: o.limits });
  return {
    dir, store, engine, app, tokens,
    async close() {
      await app.close();
      await engine.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One remote_write series: labels (the metric as `__name__`) and [t ms, value] samples; value `'stale'` is Prometheus's staleness marker. */
export interface RwSeries {
  labels: readonly (readonly [string, string])[];
  samples: readonly (readonly [number, number | 'stale'])[];
}

class Writer {
  buf = Buffer.allocUnsafe(1 << 16);
  pos = 0;
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  varint(v: number): void {
    this.ensure(10);
    while (v > 0x7f) {
      this.buf[this.pos++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.pos++] = v;
  }
  bytes(tag: number, b: Buffer): void {
    this.varint(tag);
    this.varint(b.length);
    this.ensure(b.length);
    b.copy(this.buf, this.pos);
    this.pos += b.length;
  }
}

/** Encodes an uncompressed `prometheus.WriteRequest`. */
export function encodeWriteRequest(series: readonly RwSeries[]): Buffer {
  const w = new Writer();
  const inner = new Writer();
  for (const s of series) {
    inner.pos = 0;
    for (const [name, value] of s.labels) {
      const n = Buffer.from(name);
      const v = Buffer.from(value);
      const lab = new Writer();
      lab.bytes(0x0a, n);
      lab.bytes(0x12, v);
      inner.bytes(0x0a, lab.buf.subarray(0, lab.pos));
    }
    for (const [t, v] of s.samples) {
      const smp = Buffer.allocUnsafe(9);
      smp[0] = 0x09; // field 1, fixed64
      if (v === 'stale') {
        // StaleNaN's exact bits (0x7ff0000000000002): a JS NaN may lose its payload.
        smp.writeUInt32LE(0x00000002, 1);
        smp.writeUInt32LE(0x7ff00000, 5);
      } else smp.writeDoubleLE(v, 1);
      const tw = new Writer();
      tw.varint(0x10); // field 2, varint
      tw.varint(t);
      inner.bytes(0x12, Buffer.concat([smp, tw.buf.subarray(0, tw.pos)]));
    }
    w.bytes(0x0a, inner.buf.subarray(0, inner.pos));
  }
  return Buffer.from(w.buf.subarray(0, w.pos));
}

/** A remote_write body: snappy-compressed WriteRequest. */
export function remoteWriteBody(series: readonly RwSeries[]): Buffer {
  return compress(encodeWriteRequest(series));
}
