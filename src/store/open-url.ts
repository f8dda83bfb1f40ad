// One way to name a store on a command line or in the environment: a PostgreSQL URL for a
// cluster, a SQLite file or data directory for one process.
import { fileURLToPath } from 'node:url';
import { TidemarkError } from '../errors.ts';
import { openPostgresStore, type PostgresStoreOptions } from './postgres.ts';
import { openSqliteStore } from './sqlite.ts';
import type { Store, StoreOptions } from './types.ts';

export interface StoreUrlOptions extends StoreOptions {
  /** PostgreSQL only: the schema (default `tidemark`; the URL's `?schema=` wins). */
  readonly schema?: string;
  /** PostgreSQL only: connections in this process's pool. */
  readonly poolSize?: number;
  /** PostgreSQL only: how long to wait for a connection (ms). */
  readonly connectTimeoutMs?: number;
}

const SQLITE_FILE = /\.(db|sqlite|sqlite3)$/i;

/**
 * Opens the store a URL names:
 * - `postgres://` or `postgresql://` -> PostgreSQL (`?schema=name` picks the schema);
 * - `file:` URL, `:memory:`, or a path ending in .db / .sqlite / .sqlite3 -> that SQLite file;
 * - any other path -> a SQLite data directory (the database is `tidemark.db` inside).
 * @example const store = await openStoreFromUrl(process.env.TIDEMARK_POSTGRES ?? './.tidemark');
 */
export function openStoreFromUrl(url: string, options: StoreUrlOptions = {}): Promise<Store> {
  if (typeof url !== 'string' || url === '') {
    return Promise.reject(new TidemarkError('TM_ERR_CONFIG', 'a store URL is a postgres:// URL, a file: URL or a path', 'store.url'));
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'postgres' || scheme === 'postgresql') {
    const u = new URL(url);
    const schema = u.searchParams.get('schema') ?? options.schema;
    // node-postgres would pass an unknown query parameter on to the server as a setting.
    u.searchParams.delete('schema');
    const pgOptions: PostgresStoreOptions = { ...options, url: u.toString(), ...(schema === undefined ? {} : { schema }) };
    return openPostgresStore(pgOptions);
  }
  const { now, retention } = options;
  if (scheme === 'file' || url.startsWith('file:')) {
    let path: string;
    try {
      path = fileURLToPath(url);
    } catch (err) {
      return Promise.reject(new TidemarkError('TM_ERR_CONFIG', `not a file URL: ${(err as Error).message}`, 'store.url'));
    }
    return openSqliteStore({ now, retention, path });
  }
  if (scheme !== undefined) {
    return Promise.reject(new TidemarkError('TM_ERR_CONFIG', `unsupported store URL scheme ${JSON.stringify(scheme)}: use postgres://, file: or a path`, 'store.url'));
  }
  if (url === ':memory:' || SQLITE_FILE.test(url)) return openSqliteStore({ now, retention, path: url });
  return openSqliteStore({ now, retention, dataDir: url });
}
