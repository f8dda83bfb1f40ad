// Samples, bands and rollups on SQLite: the write hot path, range reads and the retention sweep.
//
// Layout. One row per point (the first design) cost two B-tree inserts per sample, which was
// most of the ingest CPU. Now:
// - append() and appendBands() copy points into the in-memory head (sample-head.ts), into
//   the active block, and queue. Group commit writes everything queued in one event-loop turn
//   as ONE row of `sample_log` (a columnar blob) in one transaction; the promises resolve after
//   that commit, so an acknowledged point is in SQLite's write-ahead log (durable as before).
// - A block is sealed when it holds `blockPoints` points or is BLOCK_MS old, then flushed in
//   the background: per series one `sample_chunks` row holding its samples and bands (times
//   and values as typed arrays), keyed (block, series) so a flush appends to the B-tree in
//   order; as many series per transaction as a few milliseconds allow; then the block's
//   `sample_blocks` row (its time span) and the deletion of its log rows commit together.
//   Chunk keys carry the block id, so re-flushing a block after a crash rewrites the same rows.
// - With a data dir the log is not the `sample_log` table but one append-only file per block
//   (sample-log.ts), deleted after the block's last flush transaction has committed; a crash
//   in between replays that block and rewrites the same rows. The table stays for in-memory
//   stores and is still replayed at open.
// - Reads seek (block, series) in every stored block whose span overlaps the range (the block
//   list is in memory) and merge with the head. Many short blocks make long reads slower:
//   merging old blocks (compaction) is the next step if that shows.
// - open replays `sample_log` into the head; kill -9 at any point loses nothing committed.
import type { Statement } from 'better-sqlite3';
import { TidemarkError } from '../errors.ts';
import { ceilMinute, checkId, checkLimit, checkTime, floorMinute } from './check.ts';
import { decodeChunk, decodeLogRow, encodeChunk, encodeLogRow, type ChunkPoints } from './sample-codec.ts';
import { HeadBlock, IdValues, PointBuffer } from './sample-head.ts';
import { FileSampleLog, LOG_FRAME } from './sample-log.ts';
import { type SqliteContext, translateError } from './sqlite-base.ts';
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

/** Points (samples + bands) after which the active block is sealed and flushed (~160 MB of head). */
export const DEFAULT_BLOCK_POINTS = 4_000_000;
/** Age after which a non-empty active block is sealed at its next commit (ms). */
const BLOCK_MS = 300_000;
/** Points reserved per buffer of a new block at most (larger blocks grow past it by doubling). */
const MAX_RESERVED = 16_000_000;
/** Distinct series of a block's samples and bands, ascending. */
function seriesOf(block: HeadBlock): Float64Array {
  const a = block.samples.seriesIds();
  const b = block.bands.seriesIds();
  if (b.length === 0) return a;
  const all = new Float64Array(a.length + b.length);
  let n = 0;
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = j >= b.length || (i < a.length && a[i] <= b[j]) ? a[i++] : b[j++];
    if (n === 0 || all[n - 1] !== x) all[n++] = x;
  }
  return all.subarray(0, n);
}

/** Progress of one sealed block's flush: its series in order, and the span of the points written. */
class BlockFlush {
  readonly block: HeadBlock;
  readonly ids: Float64Array;
  /** Index into `ids` of the next series to write. */
  next = 0;
  tMin = Infinity;
  tMax = -Infinity;
  done = false;
  constructor(block: HeadBlock) {
    this.block = block;
    this.ids = seriesOf(block);
  }
}

/** Blocks in memory (sealed ones waiting included) before flushing stops yielding to ingest. */
const MAX_BLOCKS = 3;
/**
 * Milliseconds of chunk writing per flush transaction, between which requests run. A fixed
 * count of series (500) made a transaction's pause grow with the points per series and the
 * machine's load; a time budget bounds the pause and makes transactions as large as it allows.
 */
const FLUSH_SLICE_MS = 8;
/** Series written between two looks at the clock. */
const FLUSH_SERIES_CHECK = 64;
/** Series per flush transaction at most (flushAll's transactions, and WAL growth per commit). */
const FLUSH_SERIES_MAX = 5000;
/** Series per sweep transaction to start with; SweepPace adapts it. */
const SWEEP_CHUNK = 1000;
/** Milliseconds a sweep transaction aims for: ingest runs between them. */
const SWEEP_SLICE_MS = 10;

/**
 * Series per sweep transaction, adapted to how long the last one took: with a fixed count a
 * transaction's pause grew with the points per series (and a rollup row per minute of each).
 */
class SweepPace {
  series = SWEEP_CHUNK;
  #started = 0;
  start(): void {
    this.#started = performance.now();
  }
  /** After a transaction over `this.series` series. */
  done(): void {
    const ms = performance.now() - this.#started;
    if (ms > 2 * SWEEP_SLICE_MS) this.series = Math.max(16, Math.floor(this.series / 2));
    else if (ms < SWEEP_SLICE_MS / 2) this.series = Math.min(16 * SWEEP_CHUNK, this.series * 2);
  }
}

const SAMPLES = 0;
const BANDS = 1;
const EMPTY_INDEX = new Int32Array(0);

interface Pending {
  kind: typeof SAMPLES | typeof BANDS;
  from: number;
  to: number;
  result: AppendResult | number;
  resolve: (r: never) => void;
  reject: (err: unknown) => void;
}

/** A flushed block and the span of its points (t_min may be raised by sweeps). */
interface StoredBlock {
  readonly id: number;
  tMin: number;
  readonly tMax: number;
}

/** Points of one series from one chunk or head block. */
interface Part extends ChunkPoints {
  readonly block: number;
}

/** Times already stored for one series, loaded on its first late point in an append. */
interface Known {
  set: Set<number>;
  low: number;
}

export interface SampleStoreStats {
  /** Points in the head (not yet in chunks), samples and bands. */
  headPoints: number;
  /** Blocks in memory, the active one included. */
  blocks: number;
  /** Log rows written and chunks written since open. */
  logRows: number;
  chunks: number;
}

export class SqliteSamples implements SampleStore {
  readonly #ctx: SqliteContext;
  readonly #retention: RetentionPolicy;
  readonly #groupCommit: boolean;
  readonly #blockPoints: number;
  readonly #owner: Statement<[number], string>;
  readonly #chunkOf: Statement<[number, number], Buffer>;
  readonly #putChunk: Statement<[number, number, number, number, number, number, Buffer]>;
  readonly #putBlock: Statement<[number, number, number]>;
  readonly #putLog: Statement<[number, number, Buffer]>;
  readonly #dropLog: Statement<[number]>;
  readonly #rollupsStored: Statement<[number, number, number]>;
  readonly #getMeta: Statement<[string], number>;
  readonly #setMeta: Statement<[string, number]>;
  readonly #writeLog: (block: HeadBlock, row: Buffer) => void;
  /** The file log: its segments are replayed at open, and new rows go there when `#logToFile`. */
  readonly #fileLog: FileSampleLog | undefined;
  /** Log rows go to the file log (else to the `sample_log` table). */
  readonly #logToFile: boolean;
  /** Oldest first; the last one is the active block. */
  #blocks: HeadBlock[] = [];
  /** Flushed blocks, by id, with the span of their points. */
  #stored: StoredBlock[] = [];
  /** Newest point time over all flushed blocks: an upper bound for any series' newest sample. */
  #storedMaxT = -Infinity;
  readonly #inMemory = new Set<number>();
  #nextBlock: number;
  #logSeq = 0;
  /** Newest stored sample time per series; NaN until looked up. */
  readonly #maxT = new IdValues();
  #queue: Pending[] = [];
  #scheduled = false;
  #flushing: Promise<void> | undefined;
  #sweeping: Promise<void> = Promise.resolve();
  #logRows = 0;
  #chunks = 0;
  /** Minutes before this are in rollups_1m (null: never swept). */
  #watermark: number | null;
  /** Raw samples before this may have been deleted (null: never). */
  #rawCut: number | null;
  readonly #scratch = new Float64Array(4);
  /** Point indices of the series being flushed, its samples' and its bands' (see PointBuffer.pointsOf). */
  readonly #flushSamples = new Int32Array(4096);
  readonly #flushBands = new Int32Array(4096);

  constructor(ctx: SqliteContext, retention: RetentionPolicy, groupCommit: boolean, blockPoints = DEFAULT_BLOCK_POINTS, fileLog?: FileSampleLog, logToFile = fileLog !== undefined) {
    this.#ctx = ctx;
    this.#fileLog = fileLog;
    this.#logToFile = logToFile && fileLog !== undefined;
    this.#retention = retention;
    this.#groupCommit = groupCommit;
    this.#blockPoints = blockPoints;
    const db = ctx.db;
    this.#owner = db.prepare<[number], string>('SELECT tenant FROM series WHERE id = ?').pluck();
    this.#chunkOf = db.prepare<[number, number], Buffer>('SELECT data FROM sample_chunks WHERE block = ? AND series_id = ?').pluck();
    this.#putChunk = db.prepare('INSERT OR REPLACE INTO sample_chunks (block, series_id, t_min, t_max, samples, bands, data) VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.#putBlock = db.prepare('INSERT OR REPLACE INTO sample_blocks (block, t_min, t_max) VALUES (?, ?, ?)');
    for (const [id, tMin, tMax] of db.prepare('SELECT block, t_min, t_max FROM sample_blocks ORDER BY block').raw().all() as [number, number, number][]) {
      this.#addStored({ id, tMin, tMax });
    }
    this.#putLog = db.prepare('INSERT INTO sample_log (block, seq, data) VALUES (?, ?, ?)');
    this.#dropLog = db.prepare('DELETE FROM sample_log WHERE block = ?');
    this.#rollupsStored = db.prepare<[number, number, number]>('SELECT t, n, sum, min, max FROM rollups_1m WHERE series_id = ? AND t >= ? AND t < ? ORDER BY t').raw();
    this.#getMeta = db.prepare<[string], number>('SELECT value FROM store_meta WHERE key = ?').pluck();
    this.#setMeta = db.prepare('INSERT INTO store_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
    this.#watermark = this.#getMeta.get('rollup_watermark') ?? null;
    this.#rawCut = this.#getMeta.get('raw_cut') ?? null;
    this.#writeLog = db.transaction((block: HeadBlock, row: Buffer) => {
      // The block id is taken when its first row is written, so ids never repeat across restarts.
      if (block.logRows === 0) this.#setMeta.run('sample_block', block.id);
      this.#putLog.run(block.id, ++this.#logSeq, row);
    });
    this.#nextBlock = (this.#getMeta.get('sample_block') ?? 0) + 1;
    this.#convertLegacyRows();
    this.#recover();
  }

  // ---------------------------------------------------------------------------------------
  // Writes

  /**
   * Durable on resolve: the group's log row has committed to SQLite's write-ahead log (see
   * sqlite.ts for what that survives). The batch is copied before this returns. With group
   * commit, appends in the same event-loop turn share one log row and transaction; if it
   * fails, each is retried alone so one bad batch fails only itself.
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
    const buf = this.#active().samples;
    const from = buf.length;
    let inserted: number;
    try {
      inserted = this.#insertSamples(buf, batch, n);
    } catch (err) {
      buf.kill(from, buf.length);
      return Promise.reject(translateError(err));
    }
    return this.#enqueue(SAMPLES, from, buf.length, { inserted, duplicates: n - inserted });
  }

  #insertSamples(buf: PointBuffer, batch: SampleBatch, n: number): number {
    const { seriesId, t, v } = batch;
    const maxT = this.#maxT;
    const one = this.#scratch;
    let known: Map<number, Known> | undefined;
    let inserted = 0;
    for (let i = 0; i < n; i++) {
      const sid = seriesId[i];
      const ti = t[i];
      let m = maxT.get(sid);
      if (m !== m) m = this.#loadMaxT(sid);
      one[0] = v[i];
      if (ti > m) {
        maxT.set(sid, ti);
        if (known !== undefined) known.get(sid)?.set.add(ti);
        buf.push(sid, ti, one, 0);
        inserted++;
        continue;
      }
      // At or before the newest stored time: a duplicate unless that time is free.
      known ??= new Map();
      let k = known.get(sid);
      if (k === undefined) known.set(sid, (k = { set: this.#headTimes(sid), low: Infinity }));
      if (ti < k.low) {
        this.#storedTimes(sid, ti, k.low, k.set);
        k.low = ti;
      }
      if (k.set.has(ti)) continue;
      k.set.add(ti);
      buf.push(sid, ti, one, 0);
      inserted++;
    }
    return inserted;
  }

  /**
   * At or after the newest sample time of a series (-Infinity when none): the newest time of
   * any flushed block (there is no per-series index to ask), or of its points in the head.
   * Only the duplicate check's fast path depends on it, and too high is merely slower.
   */
  #loadMaxT(sid: number): number {
    let m = this.#storedMaxT;
    for (const b of this.#blocks) {
      const buf = b.samples;
      for (let i = buf.newest(sid); i >= 0; i = buf.prev[i]) if (buf.dead[i] === 0 && buf.t[i] > m) m = buf.t[i];
    }
    this.#maxT.set(sid, m);
    return m;
  }

  #headTimes(sid: number): Set<number> {
    const set = new Set<number>();
    for (const b of this.#blocks) {
      const buf = b.samples;
      for (let i = buf.newest(sid); i >= 0; i = buf.prev[i]) if (buf.dead[i] === 0) set.add(buf.t[i]);
    }
    return set;
  }

  /** Adds the stored (chunk) sample times of a series in [from, to) to `set`. */
  #storedTimes(sid: number, from: number, to: number, set: Set<number>): void {
    for (const c of this.#chunks_(SAMPLES, sid, from, to)) {
      for (let i = 0; i < c.t.length; i++) if (c.t[i] >= from && c.t[i] < to) set.add(c.t[i]);
    }
  }

  /** Writes bands; a band for an existing (series, t) replaces it (the newest write wins on read). */
  appendBands(batch: BandBatch): Promise<number> {
    let n: number;
    try {
      if (this.#ctx.closed) throw new TidemarkError('TM_ERR_STORE', 'the store is closed');
      n = checkBandBatch(batch);
    } catch (err) {
      return Promise.reject(err);
    }
    if (n === 0) return Promise.resolve(0);
    const buf = this.#active().bands;
    const from = buf.length;
    const { seriesId, t, expected, lower, upper, score } = batch;
    const four = this.#scratch;
    for (let i = 0; i < n; i++) {
      four[0] = expected[i];
      four[1] = lower[i];
      four[2] = upper[i];
      four[3] = score[i];
      buf.push(seriesId[i], t[i], four, 0);
    }
    return this.#enqueue(BANDS, from, buf.length, n);
  }

  #active(): HeadBlock {
    const last = this.#blocks[this.#blocks.length - 1];
    if (last !== undefined && !last.sealed) return last;
    // Every buffer reserved at a block and a quarter of points (a block is sealed at the commit
    // that fills it, so it may overshoot), so no buffer grows by doubling: a doubling copies the
    // buffer on the event loop (115-297 ms stalls measured in the ingest bench, where a block
    // sized like its predecessor still grew when series started judging and bands appeared).
    // The reservation costs no memory until written: typed arrays this large are zero pages
    // until touched (three blocks' worth reserved, 660 MB, raised the RSS by 2 MB).
    const reserve = Math.min(Math.ceil(this.#blockPoints * 1.25), MAX_RESERVED);
    const b = new HeadBlock(this.#nextBlock++, { samples: reserve, bands: reserve });
    this.#blocks.push(b);
    this.#inMemory.add(b.id);
    return b;
  }

  #enqueue<R extends AppendResult | number>(kind: Pending['kind'], from: number, to: number, result: R): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#queue.push({ kind, from, to, result, resolve: resolve as (r: never) => void, reject });
      if (!this.#groupCommit) this.commit();
      else if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.commit());
      }
    });
  }

  /**
   * Commits everything queued as one log row (one transaction), then seals the active block
   * if it is full or old. Every queued point is in the active block: sealing happens only here.
   */
  commit(): void {
    this.#scheduled = false;
    const queue = this.#queue;
    if (queue.length === 0) return;
    this.#queue = [];
    const block = this.#active();
    try {
      this.#logGroup(block, queue);
      for (const p of queue) p.resolve(p.result as never);
    } catch {
      // Retry each alone: one bad batch fails only itself; its points leave the head.
      for (const p of queue) {
        try {
          this.#logGroup(block, [p]);
          p.resolve(p.result as never);
        } catch (err) {
          (p.kind === SAMPLES ? block.samples : block.bands).kill(p.from, p.to);
          p.reject(translateError(err));
        }
      }
    }
    if (block.points >= this.#blockPoints || (block.points > 0 && performance.now() - block.startedAt >= BLOCK_MS)) this.#seal();
  }

  #logGroup(block: HeadBlock, group: Pending[]): void {
    let sFrom = Infinity;
    let sTo = -Infinity;
    let bFrom = Infinity;
    let bTo = -Infinity;
    for (const p of group) {
      if (p.to === p.from) continue;
      if (p.kind === SAMPLES) {
        sFrom = Math.min(sFrom, p.from);
        sTo = Math.max(sTo, p.to);
      } else {
        bFrom = Math.min(bFrom, p.from);
        bTo = Math.max(bTo, p.to);
      }
    }
    if (sFrom === Infinity && bFrom === Infinity) return; // only duplicates: nothing new to log
    if (sFrom === Infinity) sFrom = sTo = 0;
    if (bFrom === Infinity) bFrom = bTo = 0;
    if (this.#logToFile) this.#fileLog!.append(block.id, encodeLogRow(block.samples, sFrom, sTo, block.bands, bFrom, bTo, LOG_FRAME));
    else this.#writeLog(block, encodeLogRow(block.samples, sFrom, sTo, block.bands, bFrom, bTo));
    block.logRows++;
    this.#logRows++;
  }

  #seal(): void {
    const last = this.#blocks[this.#blocks.length - 1];
    if (last === undefined || last.sealed || last.points === 0) return;
    last.sealed = true;
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    this.#flushing ??= this.#flushLoop()
      .catch((err) => process.emitWarning(`sample flush failed, will retry at the next seal: ${(err as Error).message}`))
      .finally(() => (this.#flushing = undefined));
  }

  async #flushLoop(): Promise<void> {
    // A seal happens in a group commit: let its requests answer before the series are sorted.
    await yieldToEventLoop();
    while (!this.#ctx.closed && this.#blocks.length > 0 && this.#blocks[0].sealed) {
      const flush = new BlockFlush(this.#blocks[0]);
      while (!flush.done) {
        if (this.#ctx.closed) return;
        // Back-pressure: the more sealed blocks wait, the longer each slice; past MAX_BLOCKS
        // flush without yielding, so the head's memory stays bounded even if ingest outruns
        // the background flush.
        const waiting = this.#blocks.length;
        this.#flushSlice(flush, waiting > MAX_BLOCKS ? Infinity : waiting === MAX_BLOCKS ? FLUSH_SLICE_MS * 3 : FLUSH_SLICE_MS);
        if (this.#blocks.length <= MAX_BLOCKS) await yieldToEventLoop();
      }
    }
  }

  /**
   * One transaction of a sealed block's flush: chunk rows for series until `budgetMs` has
   * passed (at most FLUSH_SERIES_MAX), or, once every series is written, the block's row, the
   * deletion of its log and its release from memory.
   */
  #flushSlice(flush: BlockFlush, budgetMs: number): void {
    const { block, ids } = flush;
    const db = this.#ctx.db;
    if (flush.next < ids.length) {
      const until = performance.now() + budgetMs;
      // Progress is recorded once the transaction has committed (a failed one is redone whole).
      flush.next = db.transaction(() => {
        const last = Math.min(ids.length, flush.next + FLUSH_SERIES_MAX);
        let next = flush.next;
        while (next < last) {
          const to = Math.min(last, next + FLUSH_SERIES_CHECK);
          this.#writeChunks(block, ids.subarray(next, to), flush);
          next = to;
          if (performance.now() >= until) break;
        }
        return next;
      })();
      return;
    }
    const span = flush.tMin <= flush.tMax ? { tMin: flush.tMin, tMax: flush.tMax } : undefined;
    db.transaction(() => {
      if (span !== undefined) this.#putBlock.run(block.id, span.tMin, span.tMax);
      this.#dropLog.run(block.id);
      // A file log's segment names its block: once the segment is gone, only this keeps the id from being reused.
      if (this.#logToFile && block.id > (this.#getMeta.get('sample_block') ?? 0)) this.#setMeta.run('sample_block', block.id);
    })();
    flush.done = true;
    if (span !== undefined && !this.#stored.some((b) => b.id === block.id)) this.#addStored({ id: block.id, ...span });
    if (this.#blocks[0] === block) this.#blocks.shift();
    this.#inMemory.delete(block.id);
    try {
      this.#fileLog?.drop(block.id);
    } catch (err) {
      // The block is in chunks: a segment left behind is flushed again (the same rows) at the next open.
      process.emitWarning(`sample log segment of block ${block.id} not deleted: ${(err as Error).message}`);
    }
  }

  /** Writes the chunk rows of `ids` (inside a transaction); widens `span` to their points' times. */
  #writeChunks(block: HeadBlock, ids: Float64Array, span: { tMin: number; tMax: number }): void {
    const { samples, bands } = block;
    const none = new Int32Array(0);
    for (let s = 0; s < ids.length; s++) {
      const sid = ids[s];
      const si = samples.newest(sid) >= 0 ? samples.pointsOf(sid, this.#flushSamples) : none;
      const bi = bands.newest(sid) >= 0 ? bands.pointsOf(sid, this.#flushBands) : none;
      if (si.length + bi.length === 0) continue;
      const tMin = Math.min(si.length > 0 ? samples.t[si[0]] : Infinity, bi.length > 0 ? bands.t[bi[0]] : Infinity);
      const tMax = Math.max(si.length > 0 ? samples.t[si[si.length - 1]] : -Infinity, bi.length > 0 ? bands.t[bi[bi.length - 1]] : -Infinity);
      if (tMin < span.tMin) span.tMin = tMin;
      if (tMax > span.tMax) span.tMax = tMax;
      this.#putChunk.run(block.id, sid, tMin, tMax, si.length, bi.length, encodeChunk(samples, si, bands, bi));
      this.#chunks++;
    }
  }

  #addStored(b: StoredBlock): void {
    // Ids only grow, except block 0 (converted rows), which is written first.
    this.#stored.push(b);
    if (this.#stored.length > 1 && b.id < this.#stored[this.#stored.length - 2].id) this.#stored.sort((x, y) => x.id - y.id);
    if (b.tMax > this.#storedMaxT) this.#storedMaxT = b.tMax;
  }

  /** Commits the queue and moves the whole head into chunks, synchronously (close, tests). */
  flushAll(): void {
    this.commit();
    this.#seal();
    for (const block of [...this.#blocks]) {
      if (!block.sealed) continue;
      const flush = new BlockFlush(block);
      while (!flush.done) this.#flushSlice(flush, Infinity);
    }
  }

  /** Releases the log file (the store is closing; call after `flushAll`). */
  closeLog(): void {
    this.#fileLog?.close();
  }

  /** Commits the queue and waits until every block sealed so far is in chunks. */
  async #drain(): Promise<void> {
    this.commit();
    this.#seal();
    while (this.#blocks.length > 0 && this.#blocks[0].sealed && !this.#ctx.closed) {
      const before = this.#blocks[0];
      this.#scheduleFlush();
      await this.#flushing;
      if (this.#blocks[0] === before && !this.#ctx.closed) throw new TidemarkError('TM_ERR_STORE', 'the sample head could not be flushed into chunks (see the warning above)');
    }
  }

  stats(): SampleStoreStats {
    let headPoints = 0;
    for (const b of this.#blocks) headPoints += b.points;
    return { headPoints, blocks: this.#blocks.length, logRows: this.#logRows, chunks: this.#chunks };
  }

  /** Replays `sample_log` into the head: every block found there is sealed and flushed again. */
  #recover(): void {
    const rows = this.#ctx.db.prepare('SELECT block, seq, data FROM sample_log ORDER BY block, seq').raw().iterate() as IterableIterator<[number, number, Buffer]>;
    let block: HeadBlock | undefined;
    for (const [id, seq, data] of rows) {
      if (block === undefined || block.id !== id) {
        block = new HeadBlock(id);
        block.sealed = true;
        this.#blocks.push(block);
        this.#inMemory.add(id);
        if (id >= this.#nextBlock) this.#nextBlock = id + 1;
      }
      decodeLogRow(data, block.samples, block.bands);
      block.logRows++;
      if (seq > this.#logSeq) this.#logSeq = seq;
    }
    for (const id of this.#fileLog?.blocks() ?? []) {
      const { rows, torn } = this.#fileLog!.read(id);
      // Writes are cut off when they fail, so a torn record means the machine (not just this
      // process) went down mid-write: that record was never acknowledged.
      if (torn) process.emitWarning(`sample log segment of block ${id} ends in a torn record (after ${rows.length} intact); it is ignored`);
      const b = new HeadBlock(id);
      b.sealed = true;
      for (const row of rows) {
        decodeLogRow(row, b.samples, b.bands);
        b.logRows++;
      }
      this.#blocks.push(b);
      this.#inMemory.add(id);
      if (id >= this.#nextBlock) this.#nextBlock = id + 1;
    }
    this.#blocks.sort((x, y) => x.id - y.id);
    if (this.#blocks.length > 0) this.#scheduleFlush();
  }

  /** Rows of the first schema's one-row-per-point tables become chunks (block 0), once. */
  #convertLegacyRows(): void {
    const db = this.#ctx.db;
    const hasRows = (table: string) => db.prepare(`SELECT 1 FROM ${table} LIMIT 1`).get() !== undefined;
    if (!hasRows('samples') && !hasRows('bands')) return;
    db.transaction(() => {
      // A series at a time, so memory stays bounded by the largest series.
      const ids = db.prepare('SELECT series_id FROM samples UNION SELECT series_id FROM bands ORDER BY 1').pluck().all() as number[];
      const samples = db.prepare('SELECT t, v FROM samples WHERE series_id = ? ORDER BY t').raw();
      const bands = db.prepare('SELECT t, expected, lower, upper, score FROM bands WHERE series_id = ? ORDER BY t').raw();
      const vals = new Float64Array(4);
      let tMin = Infinity;
      let tMax = -Infinity;
      for (const sid of ids) {
        const block = new HeadBlock(0);
        for (const [stmt, buf] of [
          [samples, block.samples],
          [bands, block.bands],
        ] as const) {
          for (const row of stmt.all(sid) as (number | null)[][]) {
            for (let k = 0; k < buf.width; k++) vals[k] = row[1 + k] ?? NaN;
            buf.push(sid, row[0] as number, vals, 0);
          }
        }
        const span = { tMin, tMax };
        this.#writeChunks(block, Float64Array.of(sid), span);
        tMin = span.tMin;
        tMax = span.tMax;
      }
      if (tMin <= tMax) {
        this.#putBlock.run(0, tMin, tMax);
        this.#addStored({ id: 0, tMin, tMax });
      }
      db.exec('DELETE FROM samples; DELETE FROM bands;');
    })();
  }

  // ---------------------------------------------------------------------------------------
  // Reads

  /** Decoded chunks of a series overlapping [from, to), without those of blocks still in memory. */
  #chunks_(kind: number, sid: number, from: number, to: number): Part[] {
    const out: Part[] = [];
    for (const b of this.#stored) {
      if (b.tMax < from || b.tMin >= to || this.#inMemory.has(b.id)) continue;
      const data = this.#chunkOf.get(b.id, sid);
      if (data === undefined) continue;
      const c = decodeChunk(data, kind);
      if (c.t.length > 0) out.push({ t: c.t, vals: c.vals, block: b.id });
    }
    return out;
  }

  /**
   * Points of one series with from <= t < to in time order, at most `limit` (the earliest),
   * one per time (the newest write wins for bands; samples never repeat a time).
   */
  #read(kind: number, sid: number, from: number, to: number, limit: number): { t: Float64Array; vals: Float64Array } {
    const w = kind === SAMPLES ? 1 : 4;
    // Flushed blocks, then the head, in block order; a later block is a newer write.
    const parts = this.#chunks_(kind, sid, from, to);
    for (const b of this.#blocks) {
      const buf = kind === SAMPLES ? b.samples : b.bands;
      if (buf.newest(sid) < 0) continue;
      const idx = buf.pointsOf(sid);
      const t = new Float64Array(idx.length);
      const vals = new Float64Array(idx.length * w);
      for (let k = 0; k < idx.length; k++) {
        t[k] = buf.t[idx[k]];
        for (let c = 0; c < w; c++) vals[k * w + c] = buf.vals[idx[k] * w + c];
      }
      parts.push({ t, vals, block: b.id });
    }
    // Flatten the points in range, with their part's rank; sort only if parts overlap.
    let n = 0;
    for (const p of parts) n += p.t.length;
    const T = new Float64Array(n);
    const V = new Float64Array(n * w);
    const rank = new Int32Array(n);
    let m = 0;
    let ordered = true;
    for (let r = 0; r < parts.length; r++) {
      const p = parts[r];
      for (let i = 0; i < p.t.length; i++) {
        const ti = p.t[i];
        if (ti < from || ti >= to) continue;
        if (m > 0 && ti <= T[m - 1]) ordered = false;
        T[m] = ti;
        rank[m] = p.block;
        for (let c = 0; c < w; c++) V[m * w + c] = p.vals[i * w + c];
        m++;
      }
    }
    let order: Int32Array | null = null;
    if (!ordered) {
      // By time, then by block: the last of equal times is the newest write.
      const idx = Array.from({ length: m }, (_, i) => i).sort((a, b) => T[a] - T[b] || rank[a] - rank[b] || a - b);
      const keep: number[] = [];
      for (let k = 0; k < idx.length; k++) if (k + 1 === idx.length || T[idx[k + 1]] !== T[idx[k]]) keep.push(idx[k]);
      order = Int32Array.from(keep);
      m = keep.length;
    }
    const len = limit >= 0 ? Math.min(limit, m) : m;
    const t = new Float64Array(len);
    const vals = new Float64Array(len * w);
    for (let k = 0; k < len; k++) {
      const i = order === null ? k : order[k];
      t[k] = T[i];
      for (let c = 0; c < w; c++) vals[k * w + c] = V[i * w + c];
    }
    return { t, vals };
  }

  range(tenant: string, seriesId: number, from: number, to: number, limit?: number): Promise<SampleRange> {
    return this.#ctx.run(() => {
      const lim = this.#checkRead(seriesId, from, to, limit);
      if (this.#owner.get(seriesId) !== tenant) return { t: new Float64Array(0), v: new Float64Array(0) };
      const r = this.#read(SAMPLES, seriesId, from, to, lim);
      return { t: r.t, v: r.vals };
    });
  }

  bands(tenant: string, seriesId: number, from: number, to: number, limit?: number): Promise<BandRange> {
    return this.#ctx.run(() => {
      const lim = this.#checkRead(seriesId, from, to, limit);
      const r = this.#owner.get(seriesId) === tenant ? this.#read(BANDS, seriesId, from, to, lim) : { t: new Float64Array(0), vals: new Float64Array(0) };
      const n = r.t.length;
      const out = { t: r.t, expected: new Float64Array(n), lower: new Float64Array(n), upper: new Float64Array(n), score: new Float64Array(n) };
      for (let i = 0; i < n; i++) {
        out.expected[i] = r.vals[4 * i];
        out.lower[i] = r.vals[4 * i + 1];
        out.upper[i] = r.vals[4 * i + 2];
        out.score[i] = r.vals[4 * i + 3];
      }
      return out;
    });
  }

  rollups(tenant: string, seriesId: number, from: number, to: number): Promise<RollupRange> {
    return this.#ctx.run(() => {
      this.#checkRead(seriesId, from, to, undefined);
      const acc = new MinuteRollups();
      if (this.#owner.get(seriesId) === tenant) {
        // Minutes m with from <= m < to; each covers raw samples in [m, m + 1 min).
        const first = ceilMinute(from);
        const end = ceilMinute(to);
        const wm = this.#watermark ?? first;
        if (first < wm) {
          type Row = [number, number, number | null, number | null, number | null];
          for (const r of this.#rollupsStored.all(seriesId, first, Math.min(to, wm)) as Row[]) acc.row(r[0], r[1], num(r[2]), num(r[3]), num(r[4]));
        }
        const rawFrom = Math.max(first, wm);
        if (rawFrom < end) {
          const raw = this.#read(SAMPLES, seriesId, rawFrom, end, -1);
          for (let i = 0; i < raw.t.length; i++) acc.add(floorMinute(raw.t[i]), raw.vals[i]);
        }
      }
      return acc.result();
    });
  }

  #checkRead(seriesId: number, from: number, to: number, limit: number | undefined): number {
    checkId(seriesId, 'seriesId');
    checkTime(from, 'from');
    checkTime(to, 'to');
    return checkLimit(limit) ?? -1;
  }

  // ---------------------------------------------------------------------------------------
  // Retention

  /**
   * Two phases, each crash-safe. Phase 1 rolls minutes up (an idempotent upsert) and then
   * records the new watermark and the raw cut in one transaction; phase 2 deletes. A crash in
   * phase 1 redoes it; a crash in phase 2 leaves points the next sweep deletes. Rollups never
   * recompute a minute whose raw samples may already be partly deleted. The head is flushed
   * into chunks first, so the sweep sees every point appended before it started.
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
    await this.#drain();
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
      // First sweep: from the oldest flushed block.
      const oldest = this.#stored.reduce((m, b) => Math.min(m, b.tMin), Infinity);
      start = oldest === Infinity ? cutoff : floorMinute(oldest);
    }
    if (this.#rawCut !== null) start = Math.max(start, ceilMinute(this.#rawCut));
    start = Math.max(start, floorMinute(rollupCut));

    const inBlock = 'block = ? AND series_id >= ? AND series_id < ?';
    let rolledUp = 0;
    if (start < cutoff) {
      const overlapping = db.prepare(`SELECT series_id, data FROM sample_chunks WHERE ${inBlock} AND t_max >= ? AND t_min < ? AND samples > 0`).raw();
      const upsert = db.prepare(
        `INSERT INTO rollups_1m (series_id, t, n, sum, min, max) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (series_id, t) DO UPDATE SET n = excluded.n, sum = excluded.sum, min = excluded.min, max = excluded.max`,
      );
      const blocks = this.#stored.filter((b) => b.tMax >= start && b.tMin < cutoff);
      const pace = new SweepPace();
      for (let lo = 1; lo <= maxId && blocks.length > 0; ) {
        const hi = lo + pace.series;
        pace.start();
        rolledUp += await this.#ctx.run(() =>
          db.transaction(() => {
            const per = new Map<number, MinuteRollups>();
            for (const b of blocks) {
              for (const [sid, data] of overlapping.all(b.id, lo, hi, start, cutoff) as [number, Buffer][]) {
                const c = decodeChunk(data, SAMPLES);
                let acc = per.get(sid);
                for (let i = 0; i < c.t.length; i++) {
                  if (c.t[i] < start || c.t[i] >= cutoff) continue;
                  if (acc === undefined) per.set(sid, (acc = new MinuteRollups()));
                  acc.add(floorMinute(c.t[i]), c.vals[i]);
                }
              }
            }
            let rows = 0;
            for (const [sid, acc] of per) {
              const r = acc.result();
              for (let i = 0; i < r.t.length; i++) rows += upsert.run(sid, r.t[i], r.n[i], nul(r.sum[i]), nul(r.min[i]), nul(r.max[i])).changes;
            }
            return rows;
          })(),
        );
        pace.done();
        lo = hi;
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

    // Blocks wholly before the cut go (chunks first, then the block row, so a crash leaves no
    // orphans); blocks straddling it keep the points at or after the cut.
    const count = db.prepare(`SELECT coalesce(sum(samples), 0), coalesce(sum(bands), 0) FROM sample_chunks WHERE ${inBlock}`).raw();
    const delChunks = db.prepare(`DELETE FROM sample_chunks WHERE ${inBlock}`);
    const straddling = db.prepare(`SELECT series_id, t_max, data FROM sample_chunks WHERE ${inBlock} AND t_min < ?`).raw();
    const trim = db.prepare('UPDATE sample_chunks SET t_min = ?, samples = ?, bands = ?, data = ? WHERE block = ? AND series_id = ?');
    const delBlock = db.prepare('DELETE FROM sample_blocks WHERE block = ?');
    const setBlockMin = db.prepare('UPDATE sample_blocks SET t_min = ? WHERE block = ?');
    const delRollups = db.prepare('DELETE FROM rollups_1m WHERE series_id IN (SELECT id FROM series WHERE id >= ? AND id < ?) AND t < ?');
    const deleted = [0, 0];
    let deletedRollups = 0;
    const expired = this.#stored.filter((b) => b.tMax < rawCut);
    const cut = this.#stored.filter((b) => b.tMin < rawCut && b.tMax >= rawCut);
    const pace = new SweepPace();
    for (let lo = 1; lo <= maxId; ) {
      const hi = lo + pace.series;
      pace.start();
      await this.#ctx.run(() =>
        db.transaction(() => {
          for (const b of expired) {
            const [ns, nb] = count.get(b.id, lo, hi) as [number, number];
            deleted[SAMPLES] += ns;
            deleted[BANDS] += nb;
            delChunks.run(b.id, lo, hi);
          }
          // The points kept of every straddling chunk in this transaction, appended one series
          // after another (a chunk is encoded from index ranges). One pair per transaction: a
          // HeadBlock per series cost two 4,096-point buffers and an id index as large as the
          // series id, about 1 MB of allocation per series.
          let keep: { samples: PointBuffer; bands: PointBuffer } | undefined;
          for (const b of cut) {
            for (const [sid, tMax, data] of straddling.all(b.id, lo, hi, rawCut) as [number, number, Buffer][]) {
              if (tMax < rawCut) {
                // Every point of this series in the block is before the cut.
                const ns = decodeChunk(data, SAMPLES).t.length;
                deleted[SAMPLES] += ns;
                deleted[BANDS] += decodeChunk(data, BANDS).t.length;
                delChunks.run(b.id, sid, sid + 1);
                continue;
              }
              keep ??= { samples: new PointBuffer(1), bands: new PointBuffer(4) };
              const kept = [EMPTY_INDEX, EMPTY_INDEX];
              for (const kind of [SAMPLES, BANDS] as const) {
                const c = decodeChunk(data, kind);
                const buf = kind === SAMPLES ? keep.samples : keep.bands;
                const from = buf.length;
                for (let i = 0; i < c.t.length; i++) {
                  if (c.t[i] < rawCut) deleted[kind]++;
                  else buf.push(sid, c.t[i], c.vals, i);
                }
                if (buf.length > from) kept[kind] = Int32Array.from({ length: buf.length - from }, (_, i) => from + i);
              }
              const [si, bi] = kept;
              const tMin = Math.min(si.length > 0 ? keep.samples.t[si[0]] : Infinity, bi.length > 0 ? keep.bands.t[bi[0]] : Infinity);
              trim.run(tMin, si.length, bi.length, encodeChunk(keep.samples, si, keep.bands, bi), b.id, sid);
            }
          }
          deletedRollups += delRollups.run(lo, hi, rollupCut).changes;
        })(),
      );
      pace.done();
      lo = hi;
      await yieldToEventLoop();
    }
    await this.#ctx.run(() =>
      db.transaction(() => {
        for (const b of expired) delBlock.run(b.id);
        for (const b of cut) setBlockMin.run(rawCut, b.id);
      })(),
    );
    const gone = new Set(expired.map((b) => b.id));
    this.#stored = this.#stored.filter((b) => !gone.has(b.id));
    for (const b of cut) b.tMin = rawCut;
    return { rolledUp, deletedSamples: deleted[SAMPLES], deletedBands: deleted[BANDS], deletedRollups };
  }
}

/** One-minute aggregates of raw samples, as SQL's count(v)/sum/min/max over a GROUP BY minute would give. */
class MinuteRollups {
  readonly #t: number[] = [];
  readonly #n: number[] = [];
  readonly #sum: number[] = [];
  readonly #min: number[] = [];
  readonly #max: number[] = [];
  readonly #at = new Map<number, number>();

  /** A raw sample; NaN is a missing value: its minute exists but it is not counted. */
  add(minute: number, v: number): void {
    const i = this.#slot(minute);
    if (v !== v) return;
    if (this.#n[i]++ === 0) {
      this.#sum[i] = this.#min[i] = this.#max[i] = v;
    } else {
      this.#sum[i] += v;
      if (v < this.#min[i]) this.#min[i] = v;
      if (v > this.#max[i]) this.#max[i] = v;
    }
  }

  /** A stored rollup row. */
  row(minute: number, n: number, sum: number, min: number, max: number): void {
    const i = this.#slot(minute);
    this.#n[i] = n;
    this.#sum[i] = sum;
    this.#min[i] = min;
    this.#max[i] = max;
  }

  #slot(minute: number): number {
    let i = this.#at.get(minute);
    if (i === undefined) {
      i = this.#t.length;
      this.#at.set(minute, i);
      this.#t.push(minute);
      this.#n.push(0);
      this.#sum.push(NaN);
      this.#min.push(NaN);
      this.#max.push(NaN);
    }
    return i;
  }

  result(): RollupRange {
    const order = this.#t.map((_, i) => i).sort((a, b) => this.#t[a] - this.#t[b]);
    const pick = (a: number[]) => Float64Array.from(order, (i) => a[i]);
    return { t: pick(this.#t), n: pick(this.#n), sum: pick(this.#sum), min: pick(this.#min), max: pick(this.#max) };
  }
}

function num(x: number | null): number {
  return x === null ? NaN : x;
}

/** NaN is stored as NULL. */
function nul(x: number): number | null {
  return x !== x ? null : x;
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Checks a whole batch before anything is written; returns its length. */
export function checkBatch(batch: SampleBatch): number {
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

export function checkBandBatch(batch: BandBatch): number {
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
