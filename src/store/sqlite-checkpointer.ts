// WAL checkpoints on a worker thread. With SQLite's automatic checkpoints, the commit that
// crossed the WAL limit copied the WAL into the database and fsynced both files on the event
// loop: under sustained ingest that was a 20-120 ms stall every second or two (two fsyncs
// each), the largest cause of request latency spikes. Here a second connection on a worker
// thread runs PASSIVE checkpoints, which never block the main connection's writers or
// readers (they keep appending to the WAL while older frames are copied), so the fsyncs
// happen off the event loop. The main connection keeps a large automatic checkpoint as a
// backstop in case this thread falls behind or dies, so the WAL stays bounded either way.
//
// Durability is unchanged: commits still append to the WAL before they resolve, and the
// checkpointing connection uses the same `synchronous` setting, which is what makes a
// checkpoint fsync the WAL before and the database after copying.
//
// The worker is plain JavaScript evaluated from a string: the sources are TypeScript loaded
// through tsx's hooks on the main thread, which a worker thread does not inherit.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** How often the worker checkpoints (ms): the WAL then holds about this much ingest. */
export const CHECKPOINT_EVERY_MS = 250;

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.path, { timeout: 1000 });
db.pragma('synchronous = ' + workerData.synchronous);
let timer;
let closed = false;
function pass() {
  if (closed) return;
  let behind = false;
  try {
    // {busy, log: frames in the WAL, checkpointed: frames copied}; busy only means another checkpoint was running.
    const r = db.pragma('wal_checkpoint(PASSIVE)')[0];
    behind = r.checkpointed < r.log;
    parentPort.postMessage({ type: 'done', log: r.log, checkpointed: r.checkpointed });
  } catch (err) {
    parentPort.postMessage({ type: 'error', message: String(err && err.message || err) });
  }
  // Frames written during the pass are left for the next one, sooner while writes outrun it
  // (the WAL restarts from its start only once every frame is copied).
  timer = setTimeout(pass, behind ? workerData.everyMs / 5 : workerData.everyMs);
}
parentPort.on('message', (m) => {
  if (m === 'close') {
    closed = true;
    clearTimeout(timer);
    db.close();
    parentPort.postMessage({ type: 'closed' });
    parentPort.close();
  }
});
timer = setTimeout(pass, workerData.everyMs);
`;

export interface CheckpointerStats {
  /** Checkpoint passes completed by the worker. */
  passes: number;
  /** Frames in the WAL at the last pass. */
  walFrames: number;
  /** Of those, frames already copied into the database. */
  backfilled: number;
}

/** A worker thread checkpointing one database file's WAL until `close`. */
export class WalCheckpointer {
  readonly #worker: Worker;
  readonly #stats: CheckpointerStats = { passes: 0, walFrames: 0, backfilled: 0 };
  #lastError = '';
  #closing: Promise<void> | undefined;

  constructor(path: string, synchronous: 'NORMAL' | 'FULL', everyMs = CHECKPOINT_EVERY_MS) {
    const module = createRequire(import.meta.url).resolve('better-sqlite3');
    this.#worker = new Worker(WORKER, { eval: true, workerData: { module, path, synchronous, everyMs } });
    this.#worker.on('message', (m: { type: string; log?: number; checkpointed?: number; message?: string }) => {
      if (m.type === 'done') {
        this.#stats.passes++;
        this.#stats.walFrames = m.log ?? 0;
        this.#stats.backfilled = m.checkpointed ?? 0;
      } else if (m.type === 'error' && m.message !== this.#lastError) {
        // Once per distinct error: the main connection's backstop checkpoint still bounds the WAL.
        this.#lastError = m.message ?? '';
        process.emitWarning(`WAL checkpoint on the worker thread failed (the main connection checkpoints instead): ${m.message}`);
      }
    });
    this.#worker.on('error', (err) => process.emitWarning(`the WAL checkpoint worker stopped (the main connection checkpoints instead): ${err.message}`));
    // A background helper: it must not keep the process alive on its own (after the listeners,
    // which would ref it again).
    this.#worker.unref();
  }

  stats(): CheckpointerStats {
    return { ...this.#stats };
  }

  /** Stops the worker after closing its connection (before the main connection closes, so that one removes the WAL). */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      // Held until it exits: an unreferenced worker would let the loop end with close() pending.
      this.#worker.ref();
      const done = () => resolve();
      this.#worker.once('exit', done);
      this.#worker.on('message', (m: { type: string }) => {
        if (m.type === 'closed') void this.#worker.terminate().then(done, done);
      });
      this.#worker.postMessage('close');
      // A worker stuck in a long checkpoint still goes; the WAL it leaves is replayed at open.
      setTimeout(() => void this.#worker.terminate().then(done, done), 10_000).unref();
    });
    return this.#closing;
  }
}
