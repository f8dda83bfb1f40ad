// What every part of the PostgreSQL store shares: the pool, the clock, the closed flag and
// the calls still running (close waits for them), transactions, error translation and the
// tenant check.
import type pg from 'pg';
import { TidemarkError } from '../errors.ts';

export type Row = Record<string, unknown>;

/** A pool or a client inside a transaction: both run queries. */
export type Queryable = Pick<pg.PoolClient, 'query'>;

export class PgContext {
  readonly pool: pg.Pool;
  readonly now: () => number;
  closed = false;
  readonly #inflight = new Set<Promise<unknown>>();
  readonly #tenants = new Set<string>();

  constructor(pool: pg.Pool, now: () => number) {
    this.pool = pool;
    this.now = now;
  }

  /**
   * Runs database work as a promise that close() waits for: input and database errors become
   * rejections (never thrown synchronously), PostgreSQL and connection errors TM_ERR_STORE.
   */
  run<T>(work: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new TidemarkError('TM_ERR_STORE', 'the store is closed'));
    let p: Promise<T>;
    try {
      p = work();
    } catch (err) {
      return Promise.reject(translatePgError(err));
    }
    const tracked = p.catch((err: unknown) => {
      throw translatePgError(err);
    });
    const settled: Promise<unknown> = tracked.then(
      () => this.#inflight.delete(settled),
      () => this.#inflight.delete(settled),
    );
    this.#inflight.add(settled);
    return tracked;
  }

  /** Resolves when every call made so far has settled (calls made meanwhile included). */
  async idle(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.all([...this.#inflight]);
  }

  query(sql: string, params: readonly unknown[] = [], on: Queryable = this.pool): Promise<Row[]> {
    return on.query(sql, params as unknown[]).then((r) => r.rows as Row[]);
  }

  /**
   * Runs `work` in one transaction on one connection; rolls back if it throws. A deadlock or
   * serialization failure (the server chose this transaction as the victim) runs it again:
   * `work` must be safe to repeat, which every caller's is (upserts, reads, locks).
   */
  async tx<T>(work: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#tx(work);
      } catch (err) {
        if (attempt >= 4 || !(isPgError(err, '40P01') || isPgError(err, '40001'))) throw err;
      }
    }
  }

  async #tx<T>(work: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      const out = await work(client);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch {
        // The connection is gone: the server has rolled back already; do not reuse it.
        broken = true;
      }
      throw err;
    } finally {
      client.release(broken);
    }
  }

  /** Throws TM_ERR_NOT_FOUND unless the tenant exists. Known tenants are cached (they are never deleted). */
  async requireTenant(tenant: string, path = 'tenant', on: Queryable = this.pool): Promise<void> {
    if (this.#tenants.has(tenant)) return;
    const rows = await this.query('SELECT 1 FROM tenants WHERE id = $1', [tenant], on);
    if (rows.length === 0) throw new TidemarkError('TM_ERR_NOT_FOUND', `tenant ${JSON.stringify(tenant)} does not exist; create it first`, path);
    this.#tenants.add(tenant);
  }
}

/** PostgreSQL reports errors with a five-character SQLSTATE in `code`. */
export function isPgError(err: unknown, code?: string): err is Error & { code: string } {
  const c = (err as { code?: unknown; severity?: unknown } | null)?.code;
  return typeof c === 'string' && /^[0-9A-Z]{5}$/.test(c) && typeof (err as { severity?: unknown }).severity === 'string' && (code === undefined || c === code);
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE', 'EAI_AGAIN']);

/** True for errors that mean "PostgreSQL is not there right now" rather than "this request is wrong". */
export function isUnavailable(err: unknown): boolean {
  if (isPgError(err)) return err.code.startsWith('08') || err.code === '57P01' || err.code === '57P02' || err.code === '57P03';
  const sys = (err as { code?: unknown } | null)?.code;
  if (typeof sys === 'string' && UNREACHABLE.has(sys)) return true;
  return err instanceof Error && /Connection terminated|connection timeout|Client has encountered a connection error/i.test(err.message);
}

export function translatePgError(err: unknown): unknown {
  if (err instanceof TidemarkError) return err;
  // A 503 to an ingest client: nothing was written, the same request can be retried.
  if (isUnavailable(err)) return new TidemarkError('TM_ERR_UNAVAILABLE', `PostgreSQL is unavailable: ${(err as Error).message}; retry when it is back`);
  if (isPgError(err)) {
    const c = err.code;
    const hint =
      c === '53100' ? ': the database disk is full'
      : c === '40001' || c === '40P01' ? ': a concurrent transaction conflicted; retry'
      : c === '42P01' ? ': the schema is missing a table; was it migrated?'
      : '';
    return new TidemarkError('TM_ERR_STORE', `database error ${c}: ${err.message}${hint}`);
  }
  return err;
}

const INT8_OID = 20;
const BYTEA_OID = 17;
const FLOAT8_OID = 701;
/** ndim, has-nulls flag, element type, then (length, lower bound) of the one dimension. */
const ARRAY_HEADER = 20;
const TWO_32 = 2 ** 32;

/**
 * `col[pick[k]]` for k < pick.length (or all of `col`) as a one-dimensional int8[] or float8[] in PostgreSQL's
 * binary array format (what array_recv reads: every element a 4-byte length and 8 big-endian
 * bytes). node-postgres sends a Buffer parameter as binary, so the server parses no text, and
 * float8 travels bit for bit (-0, infinities). NaN is NULL: a missing point. Built at once,
 * which is also the copy `append` promises. Integers are safe integers (checked by the caller).
 */
export function binaryArray(col: ArrayLike<number>, pick: Int32Array | undefined, int: boolean): Buffer {
  const n = pick ? pick.length : col.length;
  const buf = Buffer.allocUnsafe(ARRAY_HEADER + n * 12);
  buf.writeInt32BE(1, 0);
  buf.writeInt32BE(0, 4);
  buf.writeInt32BE(int ? INT8_OID : FLOAT8_OID, 8);
  buf.writeInt32BE(n, 12);
  buf.writeInt32BE(1, 16);
  let o = ARRAY_HEADER;
  let nulls = false;
  for (let k = 0; k < n; k++) {
    const x = col[pick ? pick[k] : k];
    if (int) {
      const hi = Math.floor(x / TWO_32);
      buf.writeInt32BE(8, o);
      buf.writeInt32BE(hi, o + 4);
      buf.writeUInt32BE(x - hi * TWO_32, o + 8);
      o += 12;
    } else if (x !== x) {
      buf.writeInt32BE(-1, o);
      nulls = true;
      o += 4;
    } else {
      buf.writeInt32BE(8, o);
      buf.writeDoubleBE(x, o + 4);
      o += 12;
    }
  }
  if (nulls) buf.writeInt32BE(1, 4);
  return buf.subarray(0, o);
}

/** Byte strings as a one-dimensional bytea[] in the binary array format: sent as they are, where an array literal would hex-encode each. */
export function binaryByteaArray(items: readonly Uint8Array[]): Buffer {
  let size = ARRAY_HEADER;
  for (const b of items) size += 4 + b.byteLength;
  const buf = Buffer.allocUnsafe(size);
  buf.writeInt32BE(1, 0);
  buf.writeInt32BE(0, 4);
  buf.writeInt32BE(BYTEA_OID, 8);
  buf.writeInt32BE(items.length, 12);
  buf.writeInt32BE(1, 16);
  let o = ARRAY_HEADER;
  for (const b of items) {
    buf.writeInt32BE(b.byteLength, o);
    buf.set(b, o + 4);
    o += 4 + b.byteLength;
  }
  return buf;
}

/** NULL (how a missing point is stored) reads back as NaN. */
export function num(x: unknown): number {
  return x === null || x === undefined ? NaN : (x as number);
}

/** A WHERE clause built from optional filters, with `$n` parameters in order. */
export class Where {
  readonly parts: string[] = [];
  readonly params: unknown[] = [];
  /** `sql` uses `?` for its parameters; they are numbered here. */
  add(sql: string, ...params: unknown[]): this {
    let k = 0;
    this.parts.push(sql.replace(/\?/g, () => `$${this.params.length + ++k}`));
    this.params.push(...params);
    return this;
  }
  in(column: string, values: readonly unknown[] | undefined): this {
    if (values !== undefined) {
      if (values.length === 0) this.parts.push('false');
      else this.add(`${column} = ANY(?)`, [...values]);
    }
    return this;
  }
  /** A placeholder for one more parameter (a LIMIT, say). */
  next(value: unknown): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }
  toString(): string {
    return this.parts.length ? `WHERE ${this.parts.join(' AND ')}` : '';
  }
}
