// For tests that need the real PostgreSQL (127.0.0.1:5432, database `test`, trust auth on the
// project's machines): where it is, whether it answers, and throwaway schemas.
import { randomBytes } from 'node:crypto';
import { createPool } from './postgres.ts';

/** TIDEMARK_TEST_POSTGRES overrides the default. */
export const TEST_POSTGRES_URL = process.env.TIDEMARK_TEST_POSTGRES ?? 'postgres://127.0.0.1:5432/test';

/**
 * True when PostgreSQL answers. When it does not: prints a notice and returns false, or
 * throws when TIDEMARK_REQUIRE_SERVICES=1 (CI must not skip silently).
 * @example const pgUp = await postgresAvailable('the PostgreSQL store conformance suite');
 */
export async function postgresAvailable(what: string, url = TEST_POSTGRES_URL): Promise<boolean> {
  const pool = createPool(url, 'public', { poolSize: 1, connectTimeoutMs: 2000 });
  try {
    await pool.query('SELECT 1');
    return true;
  } catch (err) {
    const why = (err as Error).message;
    if (process.env.TIDEMARK_REQUIRE_SERVICES === '1') throw new Error(`TIDEMARK_REQUIRE_SERVICES=1 but PostgreSQL at ${url} does not answer: ${why}`);
    process.stdout.write(`# NOTICE: PostgreSQL at ${url} does not answer (${why}); skipping ${what} (set TIDEMARK_TEST_POSTGRES, or TIDEMARK_REQUIRE_SERVICES=1 to fail instead)\n`);
    return false;
  } finally {
    await pool.end().catch(() => undefined);
  }
}

/** A fresh schema name, `tm_test_<random>`. */
export function uniqueSchema(prefix = 'tm_test_'): string {
  return prefix + randomBytes(6).toString('hex');
}

/** Drops schemas made by a test, with everything in them. */
export async function dropSchemas(schemas: Iterable<string>, url = TEST_POSTGRES_URL): Promise<void> {
  const list = [...schemas];
  if (list.length === 0) return;
  const pool = createPool(url, 'public', { poolSize: 1 });
  try {
    for (const s of list) await pool.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
  } finally {
    await pool.end();
  }
}
