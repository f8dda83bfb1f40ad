// Samples, bands and rollups on SQLite: the write hot path, range reads and the retention sweep.
import type { Statement } from 'better-sqlite3';
import { TidemarkError } from '../errors.ts';
import { ceilMinute, checkId, checkLimit, checkTime, floorMinute } from './check.ts';
import { type SqliteContext, num, translateError } from './sqlite-base.ts';
import type {
  AppendResult,
  BandBatch,
  BandRange,
  RetentionPolicy,
  RollupRange,
  SampleBatch,
  SampleRange,
  SampleStore,
  SweepResult,
} from './types.ts';

interface Pending {
  batch: SampleBatch;
  n: number;
  resolve: (r: AppendResult) => void;
  reject: (err: unknown) => void;
}

/** Samples per group-commit transaction (about 50 ms of writing at worst). */
const GROUP_MAX_ROWS = 20_000;
/** Series per sweep transaction: small enough that an ingest waits milliseconds, not seconds. */
const SWEEP_CHUNK = 1000;

export class SqliteSamples implements SampleStore {
  readonly #ctx: SqliteContext;
  readonly #retention: RetentionPolicy;
  readonly #groupCommit: boolean;
  readonly #insert: Statement<[number, number, number]>;
  readonly #insertBand: Statement<[number, number, number, number, number, number]>;
  readonly #owner: Statement<[number], string>;
  readonly #range: Statement<[number, number, number, number]>;
  readonly #bands: Statement<[number, number, number, number]>;
  readonly #rollupsStored: Statement<[number, number, number]>;
  readonly #rollupsRaw: Statement<[number, number, number]>;
  readonly #getMeta: Statement<[string], number>;
  readonly #setMeta: Statement<[string, number]>;
  readonly #writeMany: (queue: Pending[]) => AppendResult[];
  readonly #writeOne: (batch: SampleBatch, n: number) => AppendResult;
  #queue: Pending[] = [];
  #sweeping: Promise<void> = Promise.resolve();
  #scheduled = false;
  /** Minutes before this are in rollups_1m (null: never swept). */
  #watermark: number | null;
  /** Raw samples before this may have been deleted (null: never). */
  #rawCut: number | null;

  constructor(ctx: SqliteContext, retention: RetentionPolicy, groupCommit: boolean) {
    this.#ctx = ctx;
    this.#retention = retention;
    this.#groupCommit = groupCommit;
    const db = ctx.db;
    // INSERT OR IGNORE: the first value for (series, t) wins, so a retried batch changes
    // nothing and stored history matches what the detectors already consumed. PostgreSQL:
    // INSERT ... ON CONFLICT DO NOTHING.
    this.#insert = db.prepare('INSERT OR IGNORE INTO samples (series_id, t, v) VALUES (?, ?, ?)');
    this.#insertBand = db.prepare(
      `INSERT INTO bands (series_id, t, expected, lower, upper, score) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (series_id, t) DO UPDATE SET expected = excluded.expected, lower = excluded.lower,
         upper = excluded.upper, score = excluded.score`,
    );
    this.#owner = db.prepare<[number], string>('SELECT tenant FROM series WHERE id = ?').pluck();
    // LIMIT -1 is SQLite for "no limit" (PostgreSQL: LIMIT ALL or NULL).
    this.#range = db.prepare<[number, number, number, number]>('SELECT t, v FROM samples WHERE series_id = ? AND t >= ? AND t < ? ORDER BY t LIMIT ?').raw();
    this.#bands = db
      .prepare<[number, number, number, number]>('SELECT t, expected, lower, upper, score FROM bands WHERE series_id = ? AND t >= ? AND t < ? ORDER BY t LIMIT ?')
      .raw();
    this.#rollupsStored = db.prepare<[number, number, number]>('SELECT t, n, sum, min, max FROM rollups_1m WHERE series_id = ? AND t >= ? AND t < ? ORDER BY t').raw();
    // Integer division floors for t >= 0 in both SQLite and PostgreSQL.
    this.#rollupsRaw = db
      .prepare<[number, number, number]>(
        `SELECT (t / 60000) * 60000 AS m, count(v), sum(v), min(v), max(v) FROM samples
         WHERE series_id = ? AND t >= ? AND t < ? GROUP BY m ORDER BY m`,
      )
      .raw();
    this.#getMeta = db.prepare<[string], number>('SELECT value FROM store_meta WHERE key = ?').pluck();
    this.#setMeta = db.prepare('INSERT INTO store_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
    this.#watermark = this.#getMeta.get('rollup_watermark') ?? null;
    this.#rawCut = this.#getMeta.get('raw_cut') ?? null;
    this.#writeOne = db.transaction((batch: SampleBatch, n: number) => this.#rows(batch, n));
    this.#writeMany = db.transaction((queue: Pending[]) => queue.map((p) => this.#rows(p.batch, p.n)));
  }

  /**
   * Durable on resolve: the transaction has committed to the write-ahead log (see sqlite.ts for
   * what that survives). With group commit, batches appended in the same event-loop turn share
   * one transaction; if it fails, each is retried alone so one bad batch fails only itself.
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
    if (!this.#groupCommit) return this.#ctx.run(() => this.#writeOne(batch, n));
    return new Promise((resolve, reject) => {
      this.#queue.push({ batch, n, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /**
   * Commits queued batches: up to GROUP_MAX_ROWS samples per transaction, so one event-loop
   * turn is not blocked for long; the rest go in the next turn. close() calls it until empty.
   */
  flush(): void {
    this.#scheduled = false;
    if (this.#queue.length === 0) return;
    let take = 0;
    for (let rows = 0; take < this.#queue.length && (take === 0 || rows + this.#queue[take].n <= GROUP_MAX_ROWS); take++) rows += this.#queue[take].n;
    const queue = this.#queue.slice(0, take);
    this.#queue = this.#queue.slice(take);
    if (this.#queue.length > 0) {
      this.#scheduled = true;
      setImmediate(() => this.flush());
    }
    let results: AppendResult[] | undefined;
    try {
      results = this.#writeMany(queue);
    } catch {
      // Fall through: retry each batch alone below.
    }
    if (results) {
      for (let i = 0; i < queue.length; i++) queue[i].resolve(results[i]);
      return;
    }
    for (const p of queue) {
      try {
        p.resolve(this.#writeOne(p.batch, p.n));
      } catch (err) {
        p.reject(translateError(err));
      }
    }
  }

  /** Commits everything queued, now. */
  flushAll(): void {
    while (this.#queue.length > 0) this.flush();
  }

  #rows(batch: SampleBatch, n: number): AppendResult {
    const { seriesId, t, v } = batch;
    const insert = this.#insert;
    let inserted = 0;
    for (let i = 0; i < n; i++) inserted += insert.run(seriesId[i], t[i], v[i]).changes;
    return { inserted, duplicates: n - inserted };
  }

  range(tenant: string, seriesId: number, from: number, to: number, limit?: number): Promise<SampleRange> {
    return this.#ctx.run(() => {
      const lim = this.#checkRead(seriesId, from, to, limit);
      const rows = this.#owner.get(seriesId) === tenant ? (this.#range.all(seriesId, from, to, lim) as [number, number | null][]) : [];
      const out = { t: new Float64Array(rows.length), v: new Float64Array(rows.length) };
      for (let i = 0; i < rows.length; i++) {
        out.t[i] = rows[i][0];
        out.v[i] = num(rows[i][1]);
      }
      return out;
    });
  }

  rollups(tenant: string, seriesId: number, from: number, to: number): Promise<RollupRange> {
    return this.#ctx.run(() => {
      this.#checkRead(seriesId, from, to, undefined);
      type Row = [number, number, number | null, number | null, number | null];
      let rows: Row[] = [];
      if (this.#owner.get(seriesId) === tenant) {
        // Minutes m with from <= m < to; each covers raw samples in [m, m + 1 min).
        const first = ceilMinute(from);
        const end = ceilMinute(to);
        const wm = this.#watermark ?? first;
        if (first < wm) rows = this.#rollupsStored.all(seriesId, first, Math.min(to, wm)) as Row[];
        const rawFrom = Math.max(first, wm);
        if (rawFrom < end) rows = rows.concat(this.#rollupsRaw.all(seriesId, rawFrom, end) as Row[]);
      }
      const out = { t: new Float64Array(rows.length), n: new Float64Array(rows.length), sum: new Float64Array(rows.length), min: new Float64Array(rows.length), max: new Float64Array(rows.length) };
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i];
        out.t[i] = r[0];
        out.n[i] = r[1];
        out.sum[i] = num(r[2]);
        out.min[i] = num(r[3]);
        out.max[i] = num(r[4]);
      }
      return out;
    });
  }

  appendBands(batch: BandBatch): Promise<number> {
    return this.#ctx.run(() => {
      const n = checkBandBatch(batch);
      const { seriesId, t, expected, lower, upper, score } = batch;
      this.#ctx.db.transaction(() => {
        for (let i = 0; i < n; i++) this.#insertBand.run(seriesId[i], t[i], expected[i], lower[i], upper[i], score[i]);
      })();
      return n;
    });
  }

  bands(tenant: string, seriesId: number, from: number, to: number, limit?: number): Promise<BandRange> {
    return this.#ctx.run(() => {
      const lim = this.#checkRead(seriesId, from, to, limit);
      type Row = [number, number | null, number | null, number | null, number | null];
      const rows = this.#owner.get(seriesId) === tenant ? (this.#bands.all(seriesId, from, to, lim) as Row[]) : [];
      const n = rows.length;
      const out = { t: new Float64Array(n), expected: new Float64Array(n), lower: new Float64Array(n), upper: new Float64Array(n), score: new Float64Array(n) };
      for (let i = 0; i < n; i++) {
        const r = rows[i];
        out.t[i] = r[0];
        out.expected[i] = num(r[1]);
        out.lower[i] = num(r[2]);
        out.upper[i] = num(r[3]);
        out.score[i] = num(r[4]);
      }
      return out;
    });
  }

  #checkRead(seriesId: number, from: number, to: number, limit: number | undefined): number {
    checkId(seriesId, 'seriesId');
    checkTime(from, 'from');
    checkTime(to, 'to');
    return checkLimit(limit) ?? -1;
  }

  /**
   * Two phases, each crash-safe. Phase 1 rolls minutes up (an idempotent upsert) and then
   * records the new watermark and the raw cut in one transaction; phase 2 deletes. A crash in
   * phase 1 redoes it; a crash in phase 2 leaves rows the next sweep deletes. Rollups never
   * recompute a minute whose raw samples may already be partly deleted.
   */
  sweep(now: number): Promise<SweepResult> {
    // One sweep at a time: a second call (an overlapping timer) runs after the first.
    const run = this.#sweeping.then(() => this.#sweep(now));
    this.#sweeping = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  async #sweep(now: number): Promise<SweepResult> {
    checkTime(now, 'now');
    const { rawMs, rollupMs, lateMs } = this.#retention;
    const db = this.#ctx.db;
    const maxId = (await this.#ctx.run(() => db.prepare('SELECT max(id) FROM series').pluck().get() as number | null)) ?? 0;
    const cutoff = floorMinute(now - lateMs);
    const rawCut = now - rawMs;
    const rollupCut = now - rollupMs;
    let start: number;
    if (this.#watermark !== null) {
      start = floorMinute(this.#watermark - lateMs);
    } else {
      // First sweep: from the oldest sample, found per series through the primary key.
      const oldest = await this.#ctx.run(
        () => db.prepare('SELECT min((SELECT min(t) FROM samples WHERE series_id = s.id)) FROM series s').pluck().get() as number | null,
      );
      start = oldest === null ? cutoff : floorMinute(oldest);
    }
    if (this.#rawCut !== null) start = Math.max(start, ceilMinute(this.#rawCut));
    start = Math.max(start, floorMinute(rollupCut));

    let rolledUp = 0;
    if (start < cutoff) {
      const rollup = db.prepare(
        `INSERT INTO rollups_1m (series_id, t, n, sum, min, max)
         SELECT series_id, (t / 60000) * 60000 AS m, count(v), sum(v), min(v), max(v) FROM samples
         WHERE series_id IN (SELECT id FROM series WHERE id >= ? AND id < ?) AND t >= ? AND t < ?
         GROUP BY series_id, m
         ON CONFLICT (series_id, t) DO UPDATE SET n = excluded.n, sum = excluded.sum, min = excluded.min, max = excluded.max`,
      );
      for (let lo = 1; lo <= maxId; lo += SWEEP_CHUNK) {
        rolledUp += await this.#ctx.run(() => rollup.run(lo, lo + SWEEP_CHUNK, start, cutoff).changes);
        await yieldToEventLoop();
      }
    }
    const newCut = Math.max(rawCut, this.#rawCut ?? rawCut);
    const newWatermark = Math.max(cutoff, this.#watermark ?? cutoff);
    await this.#ctx.run(() =>
      db.transaction(() => {
        this.#setMeta.run('rollup_watermark', newWatermark);
        this.#setMeta.run('raw_cut', newCut);
      })(),
    );
    this.#watermark = newWatermark;
    this.#rawCut = newCut;

    const delSamples = db.prepare('DELETE FROM samples WHERE series_id IN (SELECT id FROM series WHERE id >= ? AND id < ?) AND t < ?');
    const delBands = db.prepare('DELETE FROM bands WHERE series_id IN (SELECT id FROM series WHERE id >= ? AND id < ?) AND t < ?');
    const delRollups = db.prepare('DELETE FROM rollups_1m WHERE series_id IN (SELECT id FROM series WHERE id >= ? AND id < ?) AND t < ?');
    let deletedSamples = 0;
    let deletedBands = 0;
    let deletedRollups = 0;
    for (let lo = 1; lo <= maxId; lo += SWEEP_CHUNK) {
      const hi = lo + SWEEP_CHUNK;
      await this.#ctx.run(() =>
        db.transaction(() => {
          deletedSamples += delSamples.run(lo, hi, rawCut).changes;
          deletedBands += delBands.run(lo, hi, rawCut).changes;
          deletedRollups += delRollups.run(lo, hi, rollupCut).changes;
        })(),
      );
      await yieldToEventLoop();
    }
    return { rolledUp, deletedSamples, deletedBands, deletedRollups };
  }
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Checks a whole batch before anything is written; returns its length. */
function checkBatch(batch: SampleBatch): number {
  if (batch === null || typeof batch !== 'object') throw new TidemarkError('TM_ERR_INPUT', 'a sample batch is {seriesId, t, v} arrays', 'batch');
  const { seriesId, t, v } = batch;
  const n = seriesId?.length;
  if (typeof n !== 'number' || t?.length !== n || v?.length !== n) {
    throw new TidemarkError('TM_ERR_INPUT', `seriesId, t and v must have the same length (got ${n}, ${t?.length}, ${v?.length})`, 'batch');
  }
  for (let i = 0; i < n; i++) {
    const id = seriesId[i];
    const ti = t[i];
    if (!Number.isSafeInteger(id) || id < 1) throw new TidemarkError('TM_ERR_INPUT', `series id must be a positive integer, got ${id}`, `batch.seriesId[${i}]`);
    if (!Number.isSafeInteger(ti)) throw new TidemarkError('TM_ERR_INPUT', `time must be integer milliseconds, got ${ti}`, `batch.t[${i}]`);
    if (typeof v[i] !== 'number') throw new TidemarkError('TM_ERR_INPUT', `value must be a number, got ${typeof v[i]}`, `batch.v[${i}]`);
  }
  return n;
}

function checkBandBatch(batch: BandBatch): number {
  const n = batch?.seriesId?.length;
  const cols = ['t', 'expected', 'lower', 'upper', 'score'] as const;
  if (typeof n !== 'number' || cols.some((c) => batch[c]?.length !== n)) {
    throw new TidemarkError('TM_ERR_INPUT', 'seriesId, t, expected, lower, upper and score must be arrays of the same length', 'batch');
  }
  for (let i = 0; i < n; i++) {
    const id = batch.seriesId[i];
    if (!Number.isSafeInteger(id) || id < 1) throw new TidemarkError('TM_ERR_INPUT', `series id must be a positive integer, got ${id}`, `batch.seriesId[${i}]`);
    if (!Number.isSafeInteger(batch.t[i])) throw new TidemarkError('TM_ERR_INPUT', `time must be integer milliseconds, got ${batch.t[i]}`, `batch.t[${i}]`);
  }
  return n;
}
