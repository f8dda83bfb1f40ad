// The schema migration runner. One design for both databases: a `schema_migrations` table,
// numbered migrations applied in order, each in its own transaction together with its row in
// that table, so a crash leaves the schema either before or after a migration, never between.
import { createHash } from 'node:crypto';
import { TidemarkError } from '../errors.ts';

export type Dialect = 'sqlite' | 'postgres';

/** One numbered schema change, with the SQL for each dialect that has it. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sqlite: string;
  /** Added by the PostgreSQL store; the runner refuses to run a migration without it there. */
  readonly postgres?: string;
}

export interface AppliedMigration {
  readonly version: number;
  readonly name: string;
  readonly checksum: string;
  readonly appliedAt: number;
}

/** What a database must offer the runner. */
export interface MigrationDriver {
  readonly dialect: Dialect;
  /** Creates `schema_migrations` if missing and returns its rows. */
  applied(): Promise<AppliedMigration[]>;
  /** Runs `sql` and inserts the `schema_migrations` row in one transaction. */
  apply(migration: Migration, sql: string, checksum: string, appliedAt: number): Promise<void>;
}

/**
 * The portable DDL of the bookkeeping table. PostgreSQL: the same text works (INTEGER and
 * BIGINT both hold what we store; `applied_at` is milliseconds).
 */
export const SCHEMA_MIGRATIONS_DDL = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  checksum TEXT NOT NULL,
  applied_at BIGINT NOT NULL
)`;

export function migrationChecksum(sql: string): string {
  return createHash('sha256').update(sql, 'utf8').digest('hex').slice(0, 16);
}

/**
 * Applies the migrations the database has not seen, in version order, and returns their
 * versions. Refuses (TM_ERR_STORE) a database that is newer than this build, one whose applied
 * migrations were edited since, and a list that is not strictly increasing.
 */
export async function runMigrations(driver: MigrationDriver, migrations: readonly Migration[], now: () => number): Promise<number[]> {
  for (let i = 1; i < migrations.length; i++) {
    if (!(migrations[i].version > migrations[i - 1].version)) {
      throw new TidemarkError('TM_ERR_STORE', `migration versions must increase: ${migrations[i - 1].version} then ${migrations[i].version}`);
    }
  }
  const known = new Map(migrations.map((m) => [m.version, m]));
  const applied = await driver.applied();
  const done = new Set<number>();
  for (const row of applied) {
    const m = known.get(row.version);
    if (!m) {
      const newest = migrations.length ? migrations[migrations.length - 1].version : 0;
      throw new TidemarkError(
        'TM_ERR_STORE',
        `the database has schema migration ${row.version} (${row.name}), but this Tidemark knows migrations up to ${newest}: run a newer Tidemark or restore a backup`,
      );
    }
    const sql = sqlFor(m, driver.dialect);
    if (migrationChecksum(sql) !== row.checksum) {
      throw new TidemarkError('TM_ERR_STORE', `schema migration ${m.version} (${m.name}) was changed after it was applied; add a new migration instead of editing an applied one`);
    }
    done.add(row.version);
  }
  const ran: number[] = [];
  for (const m of migrations) {
    if (done.has(m.version)) continue;
    const sql = sqlFor(m, driver.dialect);
    try {
      await driver.apply(m, sql, migrationChecksum(sql), now());
    } catch (err) {
      if (err instanceof TidemarkError) throw err;
      throw new TidemarkError('TM_ERR_STORE', `schema migration ${m.version} (${m.name}) failed and was rolled back: ${(err as Error).message}`);
    }
    ran.push(m.version);
  }
  return ran;
}

function sqlFor(m: Migration, dialect: Dialect): string {
  const sql = m[dialect];
  if (typeof sql !== 'string') throw new TidemarkError('TM_ERR_STORE', `schema migration ${m.version} (${m.name}) has no ${dialect} SQL`);
  return sql;
}
