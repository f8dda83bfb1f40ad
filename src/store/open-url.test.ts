import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, it } from 'node:test';
import { TidemarkError } from '../errors.ts';
import { openStoreFromUrl } from './open-url.ts';
import { SqliteStore } from './sqlite.ts';

const root = mkdtempSync(join(tmpdir(), 'tidemark-open-url-'));
after(() => rmSync(root, { recursive: true, force: true }));

// The PostgreSQL branch is tested in postgres.test.ts, against the server.
describe('openStoreFromUrl', () => {
  const sqliteCases: [string, string, string][] = [
    ['a directory path is a data dir', join(root, 'data'), join(root, 'data', 'tidemark.db')],
    ['a .db path is the database file', join(root, 'x.db'), join(root, 'x.db')],
    ['a file: URL is the database file', pathToFileURL(join(root, 'y.sqlite')).href, join(root, 'y.sqlite')],
    ['in memory', ':memory:', ':memory:'],
  ];
  for (const [title, url, path] of sqliteCases) {
    it(title, async () => {
      const store = await openStoreFromUrl(url, { now: () => 5 });
      try {
        assert.ok(store instanceof SqliteStore);
        assert.equal(store.path, path);
        assert.equal((await store.tenants.create({ id: 'acme', name: 'A' })).tenant.createdAt, 5, 'options reach the store');
      } finally {
        await store.close();
      }
      if (path !== ':memory:') assert.ok(existsSync(path));
    });
  }
  for (const [title, url] of [
    ['another scheme', 'mysql://127.0.0.1/x'],
    ['empty', ''],
  ] as const) {
    it(`refuses ${title}`, async () => {
      await assert.rejects(openStoreFromUrl(url), (err: unknown) => err instanceof TidemarkError && err.code === 'TM_ERR_CONFIG' && err.path === 'store.url');
    });
  }
});
