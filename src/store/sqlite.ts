// The embedded store: one SQLite file in the data dir, opened by one Tidemark process.
//
// Durability. The database runs in WAL mode with synchronous=NORMAL: a commit appends the
// transaction to `tidemark.db-wal` with write(2) before the promise resolves, and fsync
// happens only at checkpoints. So an acknowledged write survives the Tidemark process
// crashing or being killed (kill -9): the bytes are in the OS page cache and the next open
// replays the WAL. It does NOT survive power loss or a kernel crash before the OS writes
// those pages out; the database stays consistent then, but the last transactions may be
// gone. Set `synchronous: 'full'` to fsync every commit (slower) if that matters.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { TidemarkError } from '../errors.ts';
import { type AppliedMigration, type Migration, type MigrationDriver, SCHEMA_MIGRATIONS_DDL, runMigrations } from './migrate.ts';
import { migrations as allMigrations } from './migrations/index.ts';
import { SqliteContext, isSqliteError, translateError } from './sqlite-base.ts';
import {
  SqliteAcks,
  SqliteAlerts,
  SqliteAudit,
  SqliteChanges,
  SqliteCheckpoints,
  SqliteConfig,
  SqliteFeedback,
  SqliteNotifications,
  SqliteSeries,
  SqliteSilences,
  SqliteTenants,
  SqliteTokens,
} from './sqlite-domains.ts';
import { FileSampleLog } from './sample-log.ts';
import { type CheckpointerStats, WalCheckpointer } from './sqlite-checkpointer.ts';
import { SqliteSamples } from './sqlite-samples.ts';
import { DEFAULT_RETENTION, type RetentionPolicy, type Store, type StoreOptions } from './types.ts';

/** The database file inside the data dir. */
export const SQLITE_FILE = 'tidemark.db';

export interface SqliteStoreOptions extends StoreOptions {
  /** The data directory (created if missing); the database is `<dataDir>/tidemark.db`. */
  readonly dataDir?: string;
  /** Or an explicit database file; `':memory:'` for tests. Overrides dataDir. */
  readonly path?: string;
  /** `normal` (default): survives process crashes. `full`: also power loss, slower commits. */
  readonly synchronous?: 'normal' | 'full';
  /** SQLite page cache in KiB (default 65536 = 64 MiB). */
  readonly cacheKiB?: number;
  /** Share one transaction among sample batches appended in the same event-loop turn (default true). */
  readonly groupCommit?: boolean;
  /**
   * Where the sample store's write-ahead log goes: `file` (the default with a data dir or a file
   * path), one append-only file per head block beside the database; `table`, the `sample_log`
   * table (always for ':memory:'). Both are read back at open.
   */
  readonly sampleLog?: 'file' | 'table';
  /** Page size of a NEW database file in bytes (default 16384; an existing file keeps its own). */
  readonly pageSize?: number;
  /** Points (samples + bands) held in memory before they are flushed into chunks (default 4,000,000, ~160 MB). */
  readonly sampleBlockPoints?: number;
  /**
   * Series ids kept in the interning cache before it is reset, and the largest tenant whose
   * parsed series list is kept for queries (default 131,072: ~200 bytes per cached id and
   * ~400 per listed series; at a million series a larger default cost ~600 MB for lookups
   * the engine makes only for series it does not hold already).
   */
  readonly internCacheSize?: number;
  /** Migrations to run (default: all of migrations/). Tests pass their own. */
  readonly migrations?: readonly Migration[];
}

/** The embedded SQLite store. Open it with `openSqliteStore`. */
export class SqliteStore implements Store {
  readonly path: string;
  readonly tenants: SqliteTenants;
  readonly tokens: SqliteTokens;
  readonly series: SqliteSeries;
  readonly samples: SqliteSamples;
  readonly changes: SqliteChanges;
  readonly alerts: SqliteAlerts;
  readonly notifications: SqliteNotifications;
  readonly silences: SqliteSilences;
  readonly acks: SqliteAcks;
  readonly feedback: SqliteFeedback;
  readonly config: SqliteConfig;
  readonly audit: SqliteAudit;
  readonly checkpoints: SqliteCheckpoints;
  readonly #ctx: SqliteContext;
  readonly #lock: Database.Database | undefined;
  readonly #checkpointer: WalCheckpointer | undefined;

  /** @internal Use openSqliteStore: the schema must be migrated first. */
  constructor(ctx: SqliteContext, path: string, retention: RetentionPolicy, options: SqliteStoreOptions, lock?: Database.Database, checkpointer?: WalCheckpointer) {
    this.#ctx = ctx;
    this.#lock = lock;
    this.#checkpointer = checkpointer;
    this.path = path;
    this.tenants = new SqliteTenants(ctx);
    this.tokens = new SqliteTokens(ctx);
    this.series = new SqliteSeries(ctx, options.internCacheSize ?? 1 << 17);
    // With the table log, segments a file log left (a crash before switching) are still replayed.
    const logDir = `${path}-samples`;
    const toFile = path !== ':memory:' && options.sampleLog !== 'table';
    const fileLog = toFile || (path !== ':memory:' && existsSync(logDir)) ? new FileSampleLog(logDir, options.synchronous === 'full') : undefined;
    this.samples = new SqliteSamples(ctx, retention, options.groupCommit ?? true, options.sampleBlockPoints, fileLog, toFile);
    this.changes = new SqliteChanges(ctx);
    this.alerts = new SqliteAlerts(ctx);
    this.notifications = new SqliteNotifications(ctx);
    this.silences = new SqliteSilences(ctx);
    this.acks = new SqliteAcks(ctx);
    this.feedback = new SqliteFeedback(ctx);
    this.config = new SqliteConfig(ctx);
    this.audit = new SqliteAudit(ctx);
    this.checkpoints = new SqliteCheckpoints(ctx);
  }

  async close(): Promise<void> {
    if (this.#ctx.closed) return;
    try {
      this.samples.flushAll();
    } finally {
      this.samples.closeLog();
    }
    this.#ctx.closed = true;
    // The checkpoint thread's connection goes first, so closing the main one (the last) removes the WAL.
    await this.#checkpointer?.close();
    try {
      this.#ctx.db.pragma('optimize');
    } finally {
      try {
        // Closing checkpoints the WAL into the main file and removes it.
        this.#ctx.db.close();
      } finally {
        this.#lock?.close();
      }
    }
  }

  /** The WAL checkpoint thread's counters (undefined in memory). */
  walStats(): CheckpointerStats | undefined {
    return this.#checkpointer?.stats();
  }
}

/**
 * Opens (creating and migrating as needed) the embedded store. Only one process may have a
 * data dir open: a second open fails with TM_ERR_STORE instead of sharing the file.
 * @example const store = await openSqliteStore({ dataDir: './data' });
 */
export async function openSqliteStore(options: SqliteStoreOptions): Promise<SqliteStore> {
  const retention = checkRetention({ ...DEFAULT_RETENTION, ...options.retention });
  let path = options.path;
  if (path === undefined) {
    if (options.dataDir === undefined) throw new TidemarkError('TM_ERR_CONFIG', 'the store needs a data dir (or a database path)', 'store.dataDir');
    try {
      mkdirSync(options.dataDir, { recursive: true });
    } catch (err) {
      throw new TidemarkError('TM_ERR_STORE', `cannot create the data dir: ${(err as Error).message}`, options.dataDir);
    }
    path = join(options.dataDir, SQLITE_FILE);
  }
  const onDisk = path !== ':memory:';
  // One process per database: a file database is guarded by an exclusive lock on a lock file
  // beside it, held until close, because the database itself is shared with this process's
  // WAL checkpoint thread (sqlite-checkpointer.ts) and so cannot use EXCLUSIVE locking.
  const lock = onDisk ? takeLock(path) : undefined;
  let db: Database.Database;
  try {
    // A short busy wait: only this process's checkpoint thread shares the file, and it never
    // takes the write lock.
    db = new Database(path, { timeout: 100 });
  } catch (err) {
    lock?.close();
    throw new TidemarkError('TM_ERR_STORE', `cannot open the database: ${(err as Error).message}`, path);
  }
  try {
    // In memory there is no other thread: EXCLUSIVE locking spares the lock calls.
    if (!onDisk) db.pragma('locking_mode = EXCLUSIVE');
    // 16 KiB pages (a new file only; an existing one keeps its size): a sample chunk row of a
    // few dozen points is ~1 KB, just past what a 4 KiB page holds inline in a WITHOUT ROWID
    // table (~1,000 bytes), so each row took an overflow page and flushes cost twice the I/O.
    // 16 KiB pages keep rows up to ~4 KB inline. Must precede WAL mode, which fixes the size.
    const pageSize = options.pageSize ?? 16384;
    if (![512, 1024, 2048, 4096, 8192, 16384, 32768, 65536].includes(pageSize)) throw new TidemarkError('TM_ERR_CONFIG', `must be a power of two from 512 to 65536, got ${pageSize}`, 'store.pageSize');
    db.pragma(`page_size = ${pageSize}`);
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal' && path !== ':memory:') throw new TidemarkError('TM_ERR_STORE', `cannot switch the database to WAL mode (got ${String(mode)})`, path);
    db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    db.pragma('foreign_keys = ON');
    db.pragma(`cache_size = -${Math.max(1024, Math.floor(options.cacheKiB ?? 65536))}`);
    db.pragma('temp_store = MEMORY');
    // The checkpoint thread (sqlite-checkpointer.ts) copies the WAL into the database every
    // CHECKPOINT_EVERY_MS. The automatic checkpoint, which runs on the event loop in the commit
    // that crossed its limit (two fsyncs and the copy: 20-120 ms stalls at 16 MiB), is only
    // the backstop should that thread fall behind. The WAL is truncated back to
    // journal_size_limit when it restarts; truncating a WAL that had grown freed its pages for
    // up to 170 ms on the event loop, and a WAL kept at its size is rewritten in place, so
    // both are the backstop size.
    if (onDisk) {
      db.pragma(`wal_autocheckpoint = ${Math.round((BACKSTOP_WAL_MIB * 1024 * 1024) / Number(db.pragma('page_size', { simple: true })))}`);
      db.pragma(`journal_size_limit = ${BACKSTOP_WAL_MIB * 1024 * 1024}`);
    }
  } catch (err) {
    db.close();
    lock?.close();
    throw translateError(err);
  }
  const now = options.now ?? Date.now;
  try {
    await runMigrations(sqliteMigrationDriver(db), options.migrations ?? allMigrations, now);
  } catch (err) {
    db.close();
    lock?.close();
    throw translateError(err);
  }
  // After the migrations: the WAL mode and the schema are in place before the thread connects.
  const checkpointer = onDisk ? new WalCheckpointer(path, options.synchronous === 'full' ? 'FULL' : 'NORMAL') : undefined;
  return new SqliteStore(new SqliteContext(db, now), path, retention, options, lock, checkpointer);
}

/** WAL size (MiB) at which the main connection checkpoints itself when the checkpoint thread has not. */
const BACKSTOP_WAL_MIB = 256;

/**
 * Takes the exclusive lock that keeps a second process off the database: an exclusive
 * transaction on `<path>-lock` in EXCLUSIVE locking mode, held until that connection closes
 * (the operating system releases it if the process dies).
 */
function takeLock(path: string): Database.Database {
  const file = `${path}-lock`;
  let lock: Database.Database;
  try {
    // No busy wait: a second process should fail at once, not after better-sqlite3's default 5 s.
    lock = new Database(file, { timeout: 0 });
  } catch (err) {
    throw new TidemarkError('TM_ERR_STORE', `cannot open the database lock file: ${(err as Error).message}`, file);
  }
  try {
    lock.pragma('locking_mode = EXCLUSIVE');
    lock.exec('BEGIN EXCLUSIVE; COMMIT');
  } catch (err) {
    lock.close();
    if (isSqliteError(err) && err.code.startsWith('SQLITE_BUSY')) {
      throw new TidemarkError('TM_ERR_STORE', 'the database is in use by another Tidemark process; stop it or use another data dir', path);
    }
    throw translateError(err);
  }
  return lock;
}

/** The migration runner's view of a SQLite connection. */
export function sqliteMigrationDriver(db: Database.Database): MigrationDriver {
  return {
    dialect: 'sqlite',
    async applied(): Promise<AppliedMigration[]> {
      db.exec(SCHEMA_MIGRATIONS_DDL);
      const rows = db.prepare('SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version').all() as {
        version: number;
        name: string;
        checksum: string;
        applied_at: number;
      }[];
      return rows.map((r) => ({ version: r.version, name: r.name, checksum: r.checksum, appliedAt: r.applied_at }));
    },
    async apply(m, sql, checksum, appliedAt): Promise<void> {
      db.transaction(() => {
        db.exec(sql);
        db.prepare('INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)').run(m.version, m.name, checksum, appliedAt);
      })();
    },
  };
}

export function checkRetention(r: RetentionPolicy): RetentionPolicy {
  for (const k of ['rawMs', 'rollupMs', 'lateMs'] as const) {
    if (!Number.isSafeInteger(r[k]) || r[k] < 0) throw new TidemarkError('TM_ERR_CONFIG', `must be a non-negative integer of milliseconds, got ${r[k]}`, `store.retention.${k}`);
  }
  // The sweep rolls a minute up before its raw samples expire only if raw outlives lateness by a minute.
  if (r.rawMs < r.lateMs + 120_000) throw new TidemarkError('TM_ERR_CONFIG', `rawMs (${r.rawMs}) must exceed lateMs (${r.lateMs}) by at least 2 minutes`, 'store.retention.rawMs');
  if (r.rollupMs < r.rawMs) throw new TidemarkError('TM_ERR_CONFIG', `rollupMs (${r.rollupMs}) must be at least rawMs (${r.rawMs})`, 'store.retention.rollupMs');
  return Object.freeze({ ...r });
}
