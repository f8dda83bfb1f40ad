// The sample store's write-ahead log in plain files: one append-only segment per head block,
// deleted once that block is in chunks. It replaces the `sample_log` table for stores with a
// data dir: a group commit is one write(2) of its row instead of a B-tree insert, a WAL
// frame per page, a later copy into the database at the WAL checkpoint and a delete after
// the flush; that was a fifth of the store's CPU per sample and most of its WAL traffic.
//
// Durability is SQLite's with synchronous=NORMAL (see sqlite.ts): a row is in the OS page
// cache when `append` returns, so it survives the process being killed; with `sync` each
// append also fdatasyncs, as synchronous=FULL does. Each record is framed
//   u32 length, u32 crc32(row), row
// so a record torn by a crash (or power loss) ends the segment's replay instead of
// replaying garbage; a failed write is cut off again before `append` throws, so no later
// acknowledged record ever sits behind a torn one.
import { closeSync, fdatasyncSync, fstatSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { TidemarkError } from '../errors.ts';

/** Bytes before each record's row: u32 length, u32 crc32. */
export const LOG_FRAME = 8;
const SEGMENT = /^(\d{12})\.log$/;

function segmentName(block: number): string {
  return `${String(block).padStart(12, '0')}.log`;
}

export class FileSampleLog {
  readonly dir: string;
  readonly #sync: boolean;
  #block = -1;
  #fd = -1;
  #size = 0;
  /** Set when a failed write could not be cut off: nothing more may be acknowledged. */
  #broken: string | undefined;

  constructor(dir: string, sync: boolean) {
    this.dir = dir;
    this.#sync = sync;
    try {
      mkdirSync(dir, { recursive: true });
    } catch (err) {
      throw new TidemarkError('TM_ERR_STORE', `cannot create the sample log directory: ${(err as Error).message}`, dir);
    }
  }

  /**
   * Appends one record under `block`. `frame` holds the row at `LOG_FRAME` onwards; its first
   * LOG_FRAME bytes are overwritten with the header. Throws TM_ERR_STORE and leaves the
   * segment as it was when the write fails.
   */
  append(block: number, frame: Buffer): void {
    if (this.#broken !== undefined) throw new TidemarkError('TM_ERR_STORE', `the sample log is unusable after an earlier write failure (${this.#broken}); restart Tidemark`);
    if (block !== this.#block) this.#open(block);
    const n = frame.length - LOG_FRAME;
    frame.writeUInt32LE(n, 0);
    frame.writeUInt32LE(crc32(frame.subarray(LOG_FRAME)), 4);
    const before = this.#size;
    try {
      // O_APPEND: every write lands at the end, after a cut-off failure too.
      for (let at = 0; at < frame.length; ) at += writeSync(this.#fd, frame, at, frame.length - at);
      if (this.#sync) fdatasyncSync(this.#fd);
      this.#size = before + frame.length;
    } catch (err) {
      const problem = (err as Error).message;
      try {
        ftruncateSync(this.#fd, before);
      } catch {
        this.#broken = problem;
      }
      throw new TidemarkError('TM_ERR_STORE', `cannot write the sample log: ${problem}${(err as { code?: string }).code === 'ENOSPC' ? ': the disk is full; free space in the data dir' : ''}`);
    }
  }

  #open(block: number): void {
    this.#closeFd();
    const path = join(this.dir, segmentName(block));
    try {
      this.#fd = openSync(path, 'a');
      this.#size = fstatSync(this.#fd).size;
      this.#block = block;
    } catch (err) {
      this.#fd = -1;
      this.#block = -1;
      throw new TidemarkError('TM_ERR_STORE', `cannot open the sample log segment: ${(err as Error).message}`, path);
    }
  }

  /** Deletes the segment of a block whose points are committed elsewhere (its chunks). */
  drop(block: number): void {
    if (block === this.#block) this.#closeFd();
    try {
      unlinkSync(join(this.dir, segmentName(block)));
    } catch (err) {
      // Already gone is fine: a block that only had dead points may never have had a segment.
      if ((err as { code?: string }).code !== 'ENOENT') throw err;
    }
  }

  /** Segments present, ascending by block. */
  blocks(): number[] {
    const out: number[] = [];
    for (const name of readdirSync(this.dir)) {
      const m = SEGMENT.exec(name);
      if (m) out.push(Number(m[1]));
    }
    return out.sort((a, b) => a - b);
  }

  /**
   * The intact records of a segment, in order. Stops at the first torn or corrupt record:
   * everything after it was never acknowledged (see `append`).
   */
  read(block: number): { rows: Buffer[]; torn: boolean } {
    const data = readFileSync(join(this.dir, segmentName(block)));
    const rows: Buffer[] = [];
    let at = 0;
    while (at + LOG_FRAME <= data.length) {
      const n = data.readUInt32LE(at);
      const sum = data.readUInt32LE(at + 4);
      if (at + LOG_FRAME + n > data.length) break;
      const row = data.subarray(at + LOG_FRAME, at + LOG_FRAME + n);
      if (crc32(row) !== sum) break;
      rows.push(row);
      at += LOG_FRAME + n;
    }
    return { rows, torn: at !== data.length };
  }

  #closeFd(): void {
    if (this.#fd >= 0) closeSync(this.#fd);
    this.#fd = -1;
    this.#block = -1;
  }

  close(): void {
    this.#closeFd();
  }
}
