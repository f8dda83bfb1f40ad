// The PostgreSQL store: what a cluster shares (cluster mode, issue 7). Any number of Tidemark
// processes open the same database and schema at once; each keeps a small pool.
//
// Durability: a write resolves after PostgreSQL has committed it, which with the server's
// default `synchronous_commit = on` means after the WAL is flushed to disk. A PostgreSQL that
// is down or restarting fails calls with TM_ERR_UNAVAILABLE (503 to an API client): nothing
// of that call was committed, and the same call can be retried.
import { userInfo } from 'node:os';
import pg from 'pg';
import { TidemarkError } from '../errors.ts';
import { type AppliedMigration, type Migration, type MigrationDriver, SCHEMA_MIGRATIONS_DDL, runMigrations } from './migrate.ts';
import { pgMigrations } from './migrations-pg/index.ts';
import { PgContext, translatePgError } from './pg-base.ts';
import {
  PgAcks,
  PgAlerts,
  PgAudit,
  PgChanges,
  PgCheckpoints,
  PgConfig,
  PgFeedback,
  PgNotifications,
  PgSeries,
  PgSilences,
  PgTenants,
  PgTokens,
} from './pg-domains.ts';
import { PgSamples } from './pg-samples.ts';
import { checkRetention } from './sqlite.ts';
import { DEFAULT_RETENTION, type Store, type StoreOptions } from './types.ts';

export interface PostgresStoreOptions extends StoreOptions {
  /** `postgres://[user[:password]@]host[:port]/database[?...]`; the user defaults to PGUSER, then the OS user (as libpq does). */
  readonly url: string;
  /** The schema that holds Tidemark's tables (created if missing). Default `tidemark`. */
  readonly schema?: string;
  /** Connections in this process's pool (default 10). */
  readonly poolSize?: number;
  /** How long to wait for a connection before failing with TM_ERR_UNAVAILABLE (ms, default 5000). */
  readonly connectTimeoutMs?: number;
  /** Series ids kept in the interning cache before it is reset (default 1,000,000). */
  readonly internCacheSize?: number;
  /** Migrations to run (default: all, with their PostgreSQL text). Tests pass their own. */
  readonly migrations?: readonly Migration[];
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
/** The migration lock, per schema, so processes starting together migrate once. */
const MIGRATE_LOCK = 'tidemark.migrate';

/** The PostgreSQL store. Open it with `openPostgresStore`. */
export class PostgresStore implements Store {
  readonly schema: string;
  readonly tenants: PgTenants;
  readonly tokens: PgTokens;
  readonly series: PgSeries;
  readonly samples: PgSamples;
  readonly changes: PgChanges;
  readonly alerts: PgAlerts;
  readonly notifications: PgNotifications;
  readonly silences: PgSilences;
  readonly acks: PgAcks;
  readonly feedback: PgFeedback;
  readonly config: PgConfig;
  readonly audit: PgAudit;
  readonly checkpoints: PgCheckpoints;
  readonly #ctx: PgContext;
  #closing: Promise<void> | undefined;

  /** @internal Use openPostgresStore: the schema must be migrated first. */
  constructor(ctx: PgContext, schema: string, options: PostgresStoreOptions) {
    this.#ctx = ctx;
    this.schema = schema;
    const retention = checkRetention({ ...DEFAULT_RETENTION, ...options.retention });
    this.tenants = new PgTenants(ctx);
    this.tokens = new PgTokens(ctx);
    this.series = new PgSeries(ctx, options.internCacheSize ?? 1_000_000);
    this.samples = new PgSamples(ctx, retention);
    this.changes = new PgChanges(ctx);
    this.alerts = new PgAlerts(ctx);
    this.notifications = new PgNotifications(ctx);
    this.silences = new PgSilences(ctx);
    this.acks = new PgAcks(ctx);
    this.feedback = new PgFeedback(ctx);
    this.config = new PgConfig(ctx);
    this.audit = new PgAudit(ctx);
    this.checkpoints = new PgCheckpoints(ctx);
  }

  /** Waits for the calls already made (queued appends included), then closes the pool. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#ctx.closed = true;
      await this.#ctx.idle();
      await this.#ctx.pool.end();
    })();
    return this.#closing;
  }
}

/**
 * Opens the store: creates the schema if needed and brings it up to date under an advisory
 * lock, so several processes may start at once.
 * @example const store = await openPostgresStore({ url: 'postgres://127.0.0.1:5432/tidemark' });
 */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  const schema = options.schema ?? 'tidemark';
  if (!SCHEMA_NAME.test(schema)) {
    throw new TidemarkError('TM_ERR_CONFIG', `a schema name is 1-63 of [a-z0-9_] not starting with a digit, got ${JSON.stringify(schema)}`, 'store.schema');
  }
  checkRetention({ ...DEFAULT_RETENTION, ...options.retention });
  const pool = createPool(options.url, schema, options);
  const now = options.now ?? Date.now;
  try {
    await migrate(pool, schema, options.migrations ?? pgMigrations, now);
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw translatePgError(err);
  }
  return new PostgresStore(new PgContext(pool, now), schema, options);
}

/** A pool whose connections use `schema` and read BIGINT as a JavaScript number. */
export function createPool(url: string, schema: string, options: { poolSize?: number; connectTimeoutMs?: number } = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: withUser(url),
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    // A startup parameter: set before the first query of every connection, pool-wide.
    options: `-c search_path=${schema}`,
    // PGAPPNAME (libpq's variable) names a process's sessions in pg_stat_activity: the cluster
    // benchmark finds each process's backends by it to charge their CPU time.
    application_name: process.env.PGAPPNAME || 'tidemark',
    // A peer that vanished without closing (a partitioned network) is noticed by TCP keepalive
    // instead of a query waiting forever.
    keepAlive: true,
    types: { getTypeParser },
  });
  // A connection the server dropped (a PostgreSQL restart) emits 'error': on the pool when it
  // is idle (the pool discards it), on the client when it is checked out. The query running on
  // it rejects with the same error, and that is where the outage is reported (503); an
  // unheard 'error' event would be an uncaught exception and end the process.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

/** BIGINT (times, ids) as a number: every value Tidemark stores is a safe integer. */
function getTypeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
  if (oid === pg.types.builtins.INT8 && format !== 'binary') return (s: string) => Number(s);
  return pg.types.getTypeParser(oid, format ?? 'text') as (value: string) => unknown;
}

/** libpq takes the user from PGUSER or the OS account when the URL names none; node-postgres would send none. */
function withUser(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TidemarkError('TM_ERR_CONFIG', `not a PostgreSQL URL: ${JSON.stringify(url)} (expected postgres://host:port/database)`, 'store.postgres');
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new TidemarkError('TM_ERR_CONFIG', `a PostgreSQL URL starts with postgres://, got ${JSON.stringify(u.protocol)}`, 'store.postgres');
  }
  if (u.username === '' && !u.searchParams.has('user')) u.username = process.env.PGUSER || safeOsUser();
  return u.toString();
}

function safeOsUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'postgres';
  }
}

async function migrate(pool: pg.Pool, schema: string, migrations: readonly Migration[], now: () => number): Promise<number[]> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('SELECT pg_advisory_lock(hashtext($1), hashtext($2))', [schema, MIGRATE_LOCK]);
    try {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      return await runMigrations(pgMigrationDriver(client), migrations, now);
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1), hashtext($2))', [schema, MIGRATE_LOCK]).catch(() => {
        broken = true;
      });
    }
  } catch (err) {
    broken = true;
    throw err;
  } finally {
    // Destroying a connection that may still hold the lock releases it.
    client.release(broken);
  }
}

/**
 * The migration runner's view of one PostgreSQL connection (whose search_path is the store's
 * schema). The caller holds the migration lock on this connection around runMigrations.
 */
export function pgMigrationDriver(client: pg.ClientBase): MigrationDriver {
  return {
    dialect: 'postgres',
    async applied(): Promise<AppliedMigration[]> {
      await client.query(SCHEMA_MIGRATIONS_DDL);
      const { rows } = await client.query('SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version');
      return rows.map((r) => ({ version: Number(r.version), name: r.name, checksum: r.checksum, appliedAt: Number(r.applied_at) }));
    },
    async apply(m, sql, checksum, appliedAt): Promise<void> {
      // DDL is transactional in PostgreSQL: the migration and its row commit together.
      await client.query('BEGIN');
      try {
        await client.query(sql);
        await client.query('INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)', [m.version, m.name, checksum, appliedAt]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    },
  };
}

/** Runs migrations on an open pool under the per-schema lock (tests: concurrent runners). */
export function migratePool(pool: pg.Pool, schema: string, migrations: readonly Migration[] = pgMigrations, now: () => number = Date.now): Promise<number[]> {
  return migrate(pool, schema, migrations, now);
}
