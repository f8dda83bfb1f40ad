import type { Migration } from '../migrate.ts';
import { migrations } from '../migrations/index.ts';
import { PG_0001_INITIAL } from './0001_initial.ts';
import { PG_0002_SAMPLES } from './0002_samples.ts';

// One numbered history for both databases: the PostgreSQL text of a migration lives here
// until a migration carries its own `postgres` field (new ones should), and the runner refuses
// a migration that has neither, so a SQLite-only schema change cannot slip past a cluster.
const PG_SQL: ReadonlyMap<number, string> = new Map([
  [1, PG_0001_INITIAL],
  [2, PG_0002_SAMPLES],
]);

/** Every schema migration with its PostgreSQL text, in version order. */
export const pgMigrations: readonly Migration[] = migrations.map((m) => (m.postgres !== undefined || !PG_SQL.has(m.version) ? m : { ...m, postgres: PG_SQL.get(m.version) }));
