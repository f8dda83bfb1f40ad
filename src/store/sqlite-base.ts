// What every part of the SQLite store shares: the connection, the clock, the closed flag,
// error translation and the tenant check.
import type { Database } from 'better-sqlite3';
import { TidemarkError } from '../errors.ts';

export class SqliteContext {
  readonly db: Database;
  readonly now: () => number;
  closed = false;
  readonly #tenants = new Set<string>();
  readonly #tenantExists;

  constructor(db: Database, now: () => number) {
    this.db = db;
    this.now = now;
    this.#tenantExists = db.prepare('SELECT 1 FROM tenants WHERE id = ?').pluck();
  }

  /**
   * Runs synchronous database work as a promise: input and database errors become
   * rejections (never throws synchronously), SQLite errors become TM_ERR_STORE.
   */
  run<T>(work: () => T): Promise<T> {
    try {
      if (this.closed) throw new TidemarkError('TM_ERR_STORE', 'the store is closed');
      return Promise.resolve(work());
    } catch (err) {
      return Promise.reject(translateError(err));
    }
  }

  /** Throws TM_ERR_NOT_FOUND unless the tenant exists. Known tenants are cached (they are never deleted). */
  requireTenant(tenant: string, path = 'tenant'): void {
    if (this.#tenants.has(tenant)) return;
    if (this.#tenantExists.get(tenant) === undefined) {
      throw new TidemarkError('TM_ERR_NOT_FOUND', `tenant ${JSON.stringify(tenant)} does not exist; create it first`, path);
    }
    this.#tenants.add(tenant);
  }
}

/** SQLite's own errors carry a `code` like SQLITE_BUSY or SQLITE_FULL. */
export function isSqliteError(err: unknown, code?: string): err is Error & { code: string } {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'string' && c.startsWith('SQLITE_') && (code === undefined || c === code);
}

export function translateError(err: unknown): unknown {
  if (err instanceof TidemarkError) return err;
  if (isSqliteError(err)) {
    const hint =
      err.code === 'SQLITE_FULL' ? ': the disk is full; free space in the data dir'
      : err.code.startsWith('SQLITE_BUSY') ? ': the database is locked by another process'
      : err.code.startsWith('SQLITE_CORRUPT') ? ': the database file is damaged; restore a backup'
      : '';
    return new TidemarkError('TM_ERR_STORE', `database error ${err.code}: ${err.message}${hint}`);
  }
  return err;
}

/** NULL (how SQLite stores NaN) reads back as NaN. */
export function num(x: number | null): number {
  return x === null ? NaN : x;
}

/** `?, ?, ?` for an IN list of n values. */
export function marks(n: number): string {
  return new Array(n).fill('?').join(', ');
}
