// Samples, bands and rollups on PostgreSQL: plain rows keyed (series, t), batches written
// through unnest() of arrays sent in PostgreSQL's binary array format, the retention sweep as
// ranged DELETEs.
//
// The write statements skip existing keys with a per-row index probe instead of ON CONFLICT:
// measured here, ON CONFLICT's speculative insertion nearly doubled the server's CPU time per
// row (6.8 against 3.8 µs per sample with its band), and the server's CPU is what a cluster
// runs out of first. The probe cannot see a row that a concurrent transaction has not yet
// committed; that rare race ends in a unique violation, and the group is then written again
// with the ON CONFLICT statements, which wait for the other transaction and decide exactly.
//
// Writes go through one queue per store: appends and band writes made while a transaction
// is running are committed together in the next one (group commit: one fsync for many
// batches), and they apply in call order, so "the first value wins" means the first call
// wins, as on SQLite. Across processes (cluster workers) writes to one series come from the
// one worker that owns its partition, so the order question does not arise there.
import { TidemarkError } from '../errors.ts';
import { ceilMinute, checkId, checkLimit, checkTime, floorMinute } from './check.ts';
import { type PgContext, type Queryable, binaryArray, isPgError, isUnavailable, num } from './pg-base.ts';
// The input checks live with the SQLite store; both stores reject the same input with the same message.
import { checkBandBatch, checkBatch } from './sqlite-samples.ts';
import type { AppendResult, BandBatch, BandRange, RetentionPolicy, RollupRange, SampleBatch, SampleRange, SampleStore, SweepResult } from './types.ts';

const MIN = 60_000;
/** Series per sweep transaction, as on SQLite: each DELETE stays short so ingest is not blocked. */
const SWEEP_CHUNK = 1000;
/** Rows per INSERT statement: bounds one statement's memory on both sides. */
const ROWS_PER_STATEMENT = 50_000;
/**
 * Series ids [$1, $2) as an array: `series_id = ANY(...)` makes the planner seek each series'
 * time range in the primary key, where `series_id >= $1 AND series_id < $2` would read every
 * point of those series (48 h of them) to filter on t.
 */
const IDS = 'ANY(ARRAY(SELECT generate_series($1::bigint, $2::bigint - 1)))';
/** The sweep's session lock: one sweep at a time over all processes sharing the schema. */
const SWEEP_LOCK = 'tidemark.sweep';

/**
 * One statement of a write, in two forms over the same parameters. Named: prepared once per
 * connection, so the hot statements are planned once.
 */
interface Statement {
  /** The fast form: inserts the rows whose key is not there yet (as this statement sees it). */
  readonly fast: { name: string; sql: string };
  /** The exact form (ON CONFLICT), used after a unique violation, and for an upsert that found existing rows. */
  readonly safe: { name: string; sql: string };
  /** Rows in the statement. */
  readonly rows: number;
  /** Existing rows are replaced (bands): when the fast form inserted fewer than `rows`, the safe form runs too. */
  readonly upsert: boolean;
  readonly params: Buffer[];
}

interface Write {
  /** Statements, in order, that make this batch; each returns its own row count. */
  readonly statements: Statement[];
  readonly finish: (counts: number[]) => unknown;
  readonly resolve: (r: never) => void;
  readonly reject: (err: unknown) => void;
}

/**
 * `INSERT INTO table (cols) SELECT ... FROM unnest(...)` of the rows whose key is not stored.
 * The probe is a LATERAL subquery with LIMIT so the planner cannot turn it into a hash
 * anti-join that reads the whole table (it would, for a large batch whose size it can see).
 */
function insertMissing(table: string, cols: readonly string[], types: readonly string[]): string {
  const u = cols.map((c) => `u.${c}`).join(', ');
  const args = types.map((t, i) => `$${i + 1}::${t}[]`).join(', ');
  return `INSERT INTO ${table} (${cols.join(', ')}) SELECT ${u} FROM unnest(${args}) AS u(${cols.join(', ')})
    LEFT JOIN LATERAL (SELECT 1 AS hit FROM ${table} x WHERE x.series_id = u.series_id AND x.t = u.t LIMIT 1) e ON true
    WHERE e.hit IS NULL`;
}

const SAMPLE_COLS = ['series_id', 't', 'v'] as const;
const SAMPLE_TYPES = ['bigint', 'bigint', 'float8'] as const;
const SAMPLES_FAST = { name: 'tm_samples_insert_missing', sql: insertMissing('samples', SAMPLE_COLS, SAMPLE_TYPES) };
const SAMPLES_SAFE = {
  name: 'tm_samples_insert',
  sql: 'INSERT INTO samples (series_id, t, v) SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::float8[]) ON CONFLICT (series_id, t) DO NOTHING',
};
const BAND_COLS = ['series_id', 't', 'expected', 'lower', 'upper', 'score'] as const;
const BAND_TYPES = ['bigint', 'bigint', 'float8', 'float8', 'float8', 'float8'] as const;
const BANDS_FAST = { name: 'tm_bands_insert_missing', sql: insertMissing('bands', BAND_COLS, BAND_TYPES) };
const BANDS_SAFE = {
  name: 'tm_bands_insert',
  sql: `INSERT INTO bands (series_id, t, expected, lower, upper, score)
        SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::float8[], $4::float8[], $5::float8[], $6::float8[])
        ON CONFLICT (series_id, t) DO UPDATE SET expected = excluded.expected, lower = excluded.lower, upper = excluded.upper, score = excluded.score`,
};

export class PgSamples implements SampleStore {
  readonly #ctx: PgContext;
  readonly #retention: RetentionPolicy;
  #queue: Write[] = [];
  #writing: Promise<void> | undefined;
  #sweeping: Promise<unknown> = Promise.resolve();

  constructor(ctx: PgContext, retention: RetentionPolicy) {
    this.#ctx = ctx;
    this.#retention = retention;
  }

  /**
   * Durable on resolve: PostgreSQL has committed (synchronous_commit as the server is set;
   * the default waits for the WAL flush). The batch is copied before this returns.
   */
  append(batch: SampleBatch): Promise<AppendResult> {
    let n: number;
    try {
      if (this.#ctx.closed) throw new TidemarkError('TM_ERR_STORE', 'the store is closed');
      n = checkBatch(batch);
    } catch (err) {
      return Promise.reject(err);
    }
    if (n === 0) return Promise.resolve({ inserted: 0, duplicates: 0 });
    const { seriesId, t, v } = batch;
    // Repeats inside the batch: the first one wins, like a second statement would decide.
    const keep = firstOfEach(seriesId, t, n, false);
    return this.#write(keep, (pick) => ({
      fast: SAMPLES_FAST,
      safe: SAMPLES_SAFE,
      rows: pick.length,
      upsert: false,
      params: [binaryArray(seriesId, pick, true), binaryArray(t, pick, true), binaryArray(v, pick, false)],
    })).then((inserted) => ({ inserted, duplicates: n - inserted }));
  }

  /** A band for an existing (series, t) replaces it; within a batch the last one wins. */
  appendBands(batch: BandBatch): Promise<number> {
    let n: number;
    try {
      if (this.#ctx.closed) throw new TidemarkError('TM_ERR_STORE', 'the store is closed');
      n = checkBandBatch(batch);
    } catch (err) {
      return Promise.reject(err);
    }
    if (n === 0) return Promise.resolve(0);
    const { seriesId, t, expected, lower, upper, score } = batch;
    // ON CONFLICT DO UPDATE may not touch a row twice in one statement.
    const keep = firstOfEach(seriesId, t, n, true);
    return this.#write(keep, (pick) => ({
      fast: BANDS_FAST,
      safe: BANDS_SAFE,
      rows: pick.length,
      upsert: true,
      params: [
        binaryArray(seriesId, pick, true),
        binaryArray(t, pick, true),
        binaryArray(expected, pick, false),
        binaryArray(lower, pick, false),
        binaryArray(upper, pick, false),
        binaryArray(score, pick, false),
      ],
    })).then(() => n);
  }

  /**
   * Queues the rows `keep` (indexes into the batch, in batch order) as one write, in statements
   * of at most ROWS_PER_STATEMENT rows; resolves to the rows the statements counted.
   */
  #write(keep: Int32Array, statement: (pick: Int32Array) => Statement): Promise<number> {
    const statements: Statement[] = [];
    for (let lo = 0; lo < keep.length; lo += ROWS_PER_STATEMENT) statements.push(statement(keep.subarray(lo, Math.min(keep.length, lo + ROWS_PER_STATEMENT))));
    return this.#ctx.run(
      () =>
        new Promise<number>((resolve, reject) => {
          this.#queue.push({ statements, finish: (counts) => counts.reduce((a, b) => a + b, 0), resolve: resolve as (r: never) => void, reject });
          this.#writing ??= this.#writeLoop();
        }),
    );
  }

  /** Commits whatever is queued, one transaction at a time, until the queue is empty. */
  async #writeLoop(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const group = this.#queue;
        this.#queue = [];
        try {
          const counts = await this.#commit(group);
          group.forEach((w, i) => settle(w, counts[i]));
        } catch (err) {
          // One transaction failed: retry each write alone, so one bad batch fails only itself;
          // but when PostgreSQL is away every retry would wait for a connection in vain.
          if (group.length === 1 || isUnavailable(err)) for (const w of group) w.reject(err);
          else {
            for (const w of group) {
              try {
                settle(w, (await this.#commit([w]))[0]);
              } catch (e) {
                w.reject(e);
              }
            }
          }
        }
      }
    } finally {
      this.#writing = undefined;
    }
  }

  /** One transaction of the fast statements; after a unique violation (a concurrent writer) one of the exact ones. */
  async #commit(group: Write[]): Promise<number[][]> {
    try {
      return await this.#ctx.tx((c) => this.#run(group, c, false));
    } catch (err) {
      if (!isPgError(err, '23505')) throw err;
      return this.#ctx.tx((c) => this.#run(group, c, true));
    }
  }

  async #run(group: Write[], c: Queryable, safe: boolean): Promise<number[][]> {
    // JIT compiling the per-row probe of a large batch costs more than running it.
    await c.query('SET LOCAL jit = off');
    const out: number[][] = [];
    for (const w of group) {
      const counts: number[] = [];
      for (const s of w.statements) {
        const q = safe ? s.safe : s.fast;
        let n = (await c.query({ name: q.name, text: q.sql, values: s.params })).rowCount ?? 0;
        if (!safe && s.upsert && n < s.rows) n = (await c.query({ name: s.safe.name, text: s.safe.sql, values: s.params })).rowCount ?? 0;
        counts.push(n);
      }
      out.push(counts);
    }
    return out;
  }

  // ---------------------------------------------------------------------------------------
  // Reads

  range(tenant: string, seriesId: number, from: number, to: number, limit?: number): Promise<SampleRange> {
    return this.#ctx.run(async () => {
      const lim = checkRead(seriesId, from, to, limit);
      const rows = await this.#rows(
        lim === undefined ? 'tm_range' : 'tm_range_limit',
        `SELECT t, v FROM samples WHERE series_id = $1 AND t >= $2 AND t < $3
           AND EXISTS (SELECT 1 FROM series WHERE id = $1 AND tenant = $4) ORDER BY t${lim === undefined ? '' : ' LIMIT $5'}`,
        lim === undefined ? [seriesId, from, to, tenant] : [seriesId, from, to, tenant, lim],
      );
      const n = rows.length;
      const out = { t: new Float64Array(n), v: new Float64Array(n) };
      for (let i = 0; i < n; i++) {
        out.t[i] = rows[i][0] as number;
        out.v[i] = num(rows[i][1]);
      }
      return out;
    });
  }

  bands(tenant: string, seriesId: number, from: number, to: number, limit?: number): Promise<BandRange> {
    return this.#ctx.run(async () => {
      const lim = checkRead(seriesId, from, to, limit);
      const rows = await this.#rows(
        lim === undefined ? 'tm_bands' : 'tm_bands_limit',
        `SELECT t, expected, lower, upper, score FROM bands WHERE series_id = $1 AND t >= $2 AND t < $3
           AND EXISTS (SELECT 1 FROM series WHERE id = $1 AND tenant = $4) ORDER BY t${lim === undefined ? '' : ' LIMIT $5'}`,
        lim === undefined ? [seriesId, from, to, tenant] : [seriesId, from, to, tenant, lim],
      );
      const n = rows.length;
      const out = { t: new Float64Array(n), expected: new Float64Array(n), lower: new Float64Array(n), upper: new Float64Array(n), score: new Float64Array(n) };
      for (let i = 0; i < n; i++) {
        const r = rows[i];
        out.t[i] = r[0] as number;
        out.expected[i] = num(r[1]);
        out.lower[i] = num(r[2]);
        out.upper[i] = num(r[3]);
        out.score[i] = num(r[4]);
      }
      return out;
    });
  }

  /**
   * Minutes m with ceilMinute(from) <= m < to: those before the rollup watermark from
   * rollups_1m, newer ones aggregated from raw samples (count(v) skips NULL, the missing
   * points), in one statement so a concurrent sweep cannot move the watermark in between.
   */
  rollups(tenant: string, seriesId: number, from: number, to: number): Promise<RollupRange> {
    return this.#ctx.run(async () => {
      checkRead(seriesId, from, to, undefined);
      const first = ceilMinute(from);
      const end = ceilMinute(to);
      const rows = await this.#rows(
        'tm_rollups',
        `WITH wm AS (SELECT coalesce((SELECT value FROM store_meta WHERE key = 'rollup_watermark'), $2::bigint) AS w),
              own AS (SELECT 1 FROM series WHERE id = $1 AND tenant = $5)
         SELECT r.t, r.n, r.sum, r.min, r.max FROM rollups_1m r, wm
           WHERE EXISTS (SELECT 1 FROM own) AND r.series_id = $1 AND r.t >= $2 AND r.t < least($3::bigint, wm.w)
         UNION ALL
         SELECT s.t - mod(mod(s.t, ${MIN}) + ${MIN}, ${MIN}) AS m, count(s.v), sum(s.v), min(s.v), max(s.v) FROM samples s, wm
           WHERE EXISTS (SELECT 1 FROM own) AND s.series_id = $1 AND s.t >= greatest($2::bigint, wm.w) AND s.t < $4
           GROUP BY m
         ORDER BY 1`,
        [seriesId, first, to, end, tenant],
      );
      const n = rows.length;
      const out = { t: new Float64Array(n), n: new Float64Array(n), sum: new Float64Array(n), min: new Float64Array(n), max: new Float64Array(n) };
      for (let i = 0; i < n; i++) {
        const r = rows[i];
        out.t[i] = r[0] as number;
        out.n[i] = r[1] as number;
        out.sum[i] = num(r[2]);
        out.min[i] = num(r[3]);
        out.max[i] = num(r[4]);
      }
      return out;
    });
  }

  async #rows(name: string, sql: string, params: unknown[]): Promise<unknown[][]> {
    return (await this.#ctx.pool.query({ name, text: sql, values: params, rowMode: 'array' })).rows as unknown[][];
  }

  // ---------------------------------------------------------------------------------------
  // Retention

  /**
   * The SQLite store's two crash-safe phases, over every process sharing the database: a
   * session advisory lock makes sweeps take turns, and the watermark and raw cut are read
   * after the lock, so a sweep that waited does only what is left. Phase 1 upserts rollups
   * of [start, cutoff) and then records the watermark and raw cut in one transaction; phase 2
   * deletes, in transactions of SWEEP_CHUNK series.
   */
  sweep(now: number): Promise<SweepResult> {
    return this.#ctx.run(async () => {
      checkTime(now, 'now');
      // Queued appends first, so the sweep sees every point appended before it started.
      await this.#writing;
      const run = this.#sweeping.then(() => this.#sweep(now));
      this.#sweeping = run.catch(() => undefined);
      return run;
    });
  }

  async #sweep(now: number): Promise<SweepResult> {
    const client = await this.#ctx.pool.connect();
    let broken = false;
    try {
      await client.query('SELECT pg_advisory_lock(hashtext(current_schema()), hashtext($1))', [SWEEP_LOCK]);
      try {
        return await this.#sweepLocked(now, client);
      } finally {
        await client.query('SELECT pg_advisory_unlock(hashtext(current_schema()), hashtext($1))', [SWEEP_LOCK]).catch(() => {
          broken = true;
        });
      }
    } catch (err) {
      broken = true;
      throw err;
    } finally {
      // A connection that may still hold the lock is closed, which releases it.
      client.release(broken);
    }
  }

  async #sweepLocked(now: number, c: Queryable): Promise<SweepResult> {
    const { rawMs, rollupMs, lateMs } = this.#retention;
    const meta = new Map<string, number>();
    for (const r of (await c.query("SELECT key, value FROM store_meta WHERE key IN ('rollup_watermark', 'raw_cut')")).rows) meta.set(r.key, r.value);
    const watermark = meta.get('rollup_watermark') ?? null;
    const prevCut = meta.get('raw_cut') ?? null;
    const [ids] = (await c.query('SELECT min(id) AS lo, max(id) AS hi FROM series')).rows;
    const minId = (ids.lo as number | null) ?? 1;
    const maxId = (ids.hi as number | null) ?? 0;
    const cutoff = floorMinute(now - lateMs);
    const rawCut = now - rawMs;
    const rollupCut = now - rollupMs;
    // First sweep: from the rollup horizon; nothing older would be kept anyway.
    let start = watermark !== null ? floorMinute(watermark - lateMs) : floorMinute(rollupCut);
    if (prevCut !== null) start = Math.max(start, ceilMinute(prevCut));
    start = Math.max(start, floorMinute(rollupCut));

    let rolledUp = 0;
    if (start < cutoff) {
      for (let lo = minId; lo <= maxId; lo += SWEEP_CHUNK) {
        const r = await c.query(
          `INSERT INTO rollups_1m (series_id, t, n, sum, min, max)
           SELECT series_id, m, count(v), sum(v), min(v), max(v) FROM (
             SELECT series_id, t - mod(mod(t, ${MIN}) + ${MIN}, ${MIN}) AS m, v FROM samples
             WHERE series_id = ${IDS} AND t >= $3 AND t < $4) s
           GROUP BY series_id, m
           ON CONFLICT (series_id, t) DO UPDATE SET n = excluded.n, sum = excluded.sum, min = excluded.min, max = excluded.max`,
          [lo, lo + SWEEP_CHUNK, start, cutoff],
        );
        rolledUp += r.rowCount ?? 0;
      }
    }
    const newCut = Math.max(rawCut, prevCut ?? rawCut);
    const newWatermark = Math.max(cutoff, watermark ?? cutoff);
    await c.query(
      `INSERT INTO store_meta (key, value) VALUES ('rollup_watermark', $1), ('raw_cut', $2)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      [newWatermark, newCut],
    );

    let deletedSamples = 0;
    let deletedBands = 0;
    let deletedRollups = 0;
    for (let lo = minId; lo <= maxId; lo += SWEEP_CHUNK) {
      const range = [lo, lo + SWEEP_CHUNK];
      // Each DELETE commits on its own (autocommit): a crash between them leaves rows the next sweep deletes.
      deletedSamples += (await c.query(`DELETE FROM samples WHERE series_id = ${IDS} AND t < $3`, [...range, rawCut])).rowCount ?? 0;
      deletedBands += (await c.query(`DELETE FROM bands WHERE series_id = ${IDS} AND t < $3`, [...range, rawCut])).rowCount ?? 0;
      deletedRollups += (await c.query(`DELETE FROM rollups_1m WHERE series_id = ${IDS} AND t < $3`, [...range, rollupCut])).rowCount ?? 0;
    }
    return { rolledUp, deletedSamples, deletedBands, deletedRollups };
  }

}

function settle(w: Write, counts: number[]): void {
  try {
    w.resolve(w.finish(counts) as never);
  } catch (err) {
    w.reject(err);
  }
}

function checkRead(seriesId: number, from: number, to: number, limit: number | undefined): number | undefined {
  checkId(seriesId, 'seriesId');
  checkTime(from, 'from');
  checkTime(to, 'to');
  return checkLimit(limit);
}

/**
 * Indexes of the batch rows to write, in batch order, one per (series, t): the first
 * occurrence, or with `last` the last one (placed where that last one was).
 */
function firstOfEach(seriesId: ArrayLike<number>, t: ArrayLike<number>, n: number, last: boolean): Int32Array {
  const seen = new Map<number, Map<number, number>>();
  const keep = new Int32Array(n);
  let dup = false;
  for (let i = 0; i < n; i++) {
    let times = seen.get(seriesId[i]);
    if (times === undefined) seen.set(seriesId[i], (times = new Map()));
    const prev = times.get(t[i]);
    if (prev !== undefined) dup = true;
    if (prev === undefined || last) times.set(t[i], i);
  }
  if (!dup) {
    for (let i = 0; i < n; i++) keep[i] = i;
    return keep;
  }
  let m = 0;
  for (let i = 0; i < n; i++) if (seen.get(seriesId[i])!.get(t[i]) === i) keep[m++] = i;
  return keep.subarray(0, m);
}
