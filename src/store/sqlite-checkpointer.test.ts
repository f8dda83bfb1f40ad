import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { WalCheckpointer } from './sqlite-checkpointer.ts';
import { SQLITE_FILE, openSqliteStore } from './sqlite.ts';

const root = mkdtempSync(join(tmpdir(), 'tidemark-checkpointer-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = () => join(root, `d${++dirs}`);

async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('WAL checkpoints on a worker thread', () => {
  it('copies committed frames into the database while the main connection keeps writing', async () => {
    const dir = freshDir();
    mkdirSync(dir, { recursive: true });
    const path = join(dir, 'x.db');
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('wal_autocheckpoint = 0'); // only the worker checkpoints
    db.exec('CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)');
    const cp = new WalCheckpointer(path, 'NORMAL', 20);
    try {
      const put = db.prepare('INSERT INTO t (k, v) VALUES (?, ?)');
      for (let i = 0; i < 200; i++) put.run(i, Buffer.alloc(4096, i));
      await until('a pass that backfilled every frame', () => {
        const s = cp.stats();
        return s.passes > 0 && s.walFrames > 0 && s.backfilled === s.walFrames;
      });
      // Writes go on during and after passes; the database file holds the rows the passes copied.
      for (let i = 200; i < 400; i++) put.run(i, Buffer.alloc(4096, i));
      const passes = cp.stats().passes;
      await until('the later rows backfilled', () => {
        const s = cp.stats();
        return s.passes >= passes + 2 && s.walFrames > 0 && s.backfilled === s.walFrames;
      });
      assert.ok(statSync(path).size >= 400 * 4096, `database file holds the copied pages (${statSync(path).size} bytes)`);
    } finally {
      await cp.close();
      db.close();
    }
    assert.ok(!existsSync(`${path}-wal`), 'the last connection to close removes the WAL');
    const check = new Database(path, { readonly: true });
    assert.equal(check.prepare('SELECT count(*) FROM t').pluck().get(), 400);
    check.close();
  });

  it('runs for a store in a data dir, which closes cleanly and reopens', async () => {
    const dataDir = freshDir();
    const store = await openSqliteStore({ dataDir });
    await store.tenants.create({ id: 'acme', name: 'Acme' });
    const ids = await store.series.intern(Array.from({ length: 2000 }, (_, i) => ({ tenant: 'acme', metric: 'm', labels: { i: String(i) } })));
    await until('a checkpoint pass', () => (store.walStats()?.passes ?? 0) > 0);
    await store.close();
    assert.ok(!existsSync(join(dataDir, `${SQLITE_FILE}-wal`)), 'closing removes the WAL');
    const again = await openSqliteStore({ dataDir });
    try {
      assert.deepEqual(await again.series.intern([{ tenant: 'acme', metric: 'm', labels: { i: '1999' } }]), [ids[1999]]);
    } finally {
      await again.close();
    }
  });
});
