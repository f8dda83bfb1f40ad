import assert from 'node:assert/strict';
import { appendFileSync, cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FileSampleLog, LOG_FRAME } from './sample-log.ts';
import Database from 'better-sqlite3';
import { TidemarkError } from '../errors.ts';
import { SQLITE_FILE, openSqliteStore } from './sqlite.ts';

const root = mkdtempSync(join(tmpdir(), 'tidemark-sample-log-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = () => join(root, `d${dirs++}`);

const T0 = 1_700_000_000_000;

function frame(bytes: number[]): Buffer {
  const b = Buffer.alloc(LOG_FRAME + bytes.length);
  b.set(bytes, LOG_FRAME);
  return b;
}

describe('FileSampleLog', () => {
  it('reads back what it appended, per block, and forgets a dropped block', () => {
    const log = new FileSampleLog(freshDir(), false);
    log.append(3, frame([1, 2, 3]));
    log.append(3, frame([4]));
    log.append(5, frame([9, 9]));
    assert.deepEqual(log.blocks(), [3, 5]);
    assert.deepEqual(log.read(3).rows.map((r) => [...r]), [[1, 2, 3], [4]]);
    assert.equal(log.read(3).torn, false);
    log.drop(3);
    log.drop(4); // never written: nothing to delete, no error
    assert.deepEqual(log.blocks(), [5]);
    log.close();
  });

  const tails: { name: string; tail: number[] }[] = [
    { name: 'a header cut short', tail: [7, 0, 0] },
    { name: 'a row cut short', tail: [4, 0, 0, 0, 0, 0, 0, 0, 1, 2] },
    { name: 'a row whose checksum does not match', tail: [1, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef, 42] },
  ];
  for (const c of tails) {
    it(`stops replay at ${c.name}`, () => {
      const dir = freshDir();
      const log = new FileSampleLog(dir, false);
      log.append(1, frame([1, 2]));
      log.close();
      appendFileSync(join(dir, '000000000001.log'), Buffer.from(c.tail));
      const { rows, torn } = new FileSampleLog(dir, false).read(1);
      assert.deepEqual(rows.map((r) => [...r]), [[1, 2]]);
      assert.equal(torn, true);
    });
  }
});

describe('the store on a file log', () => {
  it('recovers acknowledged points from the segment of a store that never closed, ignoring a torn tail', async () => {
    const dataDir = freshDir();
    const a = await openSqliteStore({ dataDir });
    await a.tenants.create({ id: 'acme', name: 'Acme' });
    const [id] = await a.series.intern([{ tenant: 'acme', metric: 'm', labels: {} }]);
    await a.samples.append({ seriesId: [id, id], t: [T0, T0 + 1000], v: [1, 2] });
    await a.samples.appendBands({ seriesId: [id], t: [T0 + 1000], expected: [2], lower: [1], upper: [3], score: [0.5] });
    await a.samples.append({ seriesId: [id], t: [T0 + 2000], v: [3] });
    const segments = readdirSync(join(dataDir, `${SQLITE_FILE}-samples`));
    assert.equal(segments.length, 1, 'one segment for the active block');
    // The files as a crash leaves them: the database, its WAL, the log; plus a torn record.
    const copy = freshDir();
    cpSync(dataDir, copy, { recursive: true });
    appendFileSync(join(copy, `${SQLITE_FILE}-samples`, segments[0]), Buffer.from([200, 0, 0, 0, 1, 2, 3, 4, 5]));
    await a.close();
    assert.deepEqual(readdirSync(join(dataDir, `${SQLITE_FILE}-samples`)), [], 'a clean close flushes every block and deletes its segment');

    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    const b = await openSqliteStore({ dataDir: copy });
    try {
      assert.deepEqual([...(await b.samples.range('acme', id, 0, T0 * 2)).v], [1, 2, 3]);
      assert.deepEqual([...(await b.samples.bands('acme', id, 0, T0 * 2)).score], [0.5]);
      // A new block gets a new id: the recovered one is flushed into chunks, then its segment goes.
      await b.samples.append({ seriesId: [id], t: [T0 + 3000], v: [4] });
      await b.close();
      await new Promise((r) => setImmediate(r));
      assert.ok(warnings.some((w) => /torn record/.test(w)), warnings.join('; '));
    } finally {
      process.off('warning', onWarning);
    }
    const c = await openSqliteStore({ dataDir: copy });
    try {
      assert.deepEqual([...(await c.samples.range('acme', id, 0, T0 * 2)).v], [1, 2, 3, 4]);
    } finally {
      await c.close();
    }
    assert.ok(existsSync(join(copy, SQLITE_FILE)));
  });
});

describe('switching logs', () => {
  it('a store opened with the table log still replays segments a crashed file-log store left', async () => {
    const dataDir = freshDir();
    const a = await openSqliteStore({ dataDir });
    await a.tenants.create({ id: 'acme', name: 'Acme' });
    const [id] = await a.series.intern([{ tenant: 'acme', metric: 'm', labels: {} }]);
    await a.samples.append({ seriesId: [id, id], t: [T0, T0 + 1000], v: [1, 2] });
    const copy = freshDir();
    cpSync(dataDir, copy, { recursive: true });
    await a.close();
    const b = await openSqliteStore({ dataDir: copy, sampleLog: 'table' });
    try {
      await b.samples.append({ seriesId: [id], t: [T0 + 2000], v: [3] });
      assert.deepEqual([...(await b.samples.range('acme', id, 0, T0 * 2)).v], [1, 2, 3]);
    } finally {
      await b.close();
    }
    const c = await openSqliteStore({ dataDir: copy });
    try {
      assert.deepEqual([...(await c.samples.range('acme', id, 0, T0 * 2)).v], [1, 2, 3]);
    } finally {
      await c.close();
    }
  });
});

describe('page size', () => {
  it('creates new files with 16 KiB pages (chunk rows of ~1 KB stay inline) and checks the option', async () => {
    const dataDir = freshDir();
    await (await openSqliteStore({ dataDir })).close();
    const db = new Database(join(dataDir, SQLITE_FILE));
    try {
      assert.equal(db.pragma('page_size', { simple: true }), 16384);
    } finally {
      db.close();
    }
    await assert.rejects(openSqliteStore({ dataDir: freshDir(), pageSize: 5000 }), (err: unknown) => err instanceof TidemarkError && err.code === 'TM_ERR_CONFIG' && err.path === 'store.pageSize');
  });
});
