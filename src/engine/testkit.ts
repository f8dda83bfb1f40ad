// Shared set-up of the engine's alerting tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import type { VerdictView } from '../alert/index.ts';
import { startReceiver, type LocalReceiver } from '../notify/testkit.ts';
import { openSqliteStore, type Store } from '../store/index.ts';

/** A verdict far above a threshold rule's band. */
export const HOT: VerdictView = { score: 1, expected: 10, lower: 5, upper: 15, learning: false, reasons: ['above_threshold'], sources: ['threshold'] };

/**
 * For a test file: a webhook receiver answering 200 and an embedded store (in a temporary
 * directory) holding tenant `tenant`, opened before the file's tests and closed and removed
 * after them. Read `store` and `rx` inside tests (they are set by the before hook).
 */
export function storeAndReceiver(tenant: string): { readonly store: Store; readonly rx: LocalReceiver } {
  const fx = {} as { store: Store; rx: LocalReceiver; dir: string };
  before(async () => {
    fx.rx = await startReceiver({ status: 200, body: 'ok' });
    fx.dir = mkdtempSync(join(tmpdir(), `tidemark-${tenant}-`));
    fx.store = await openSqliteStore({ dataDir: fx.dir });
    await fx.store.tenants.create({ id: tenant, name: tenant });
  });
  after(async () => {
    await fx.store.close();
    await fx.rx.close();
    rmSync(fx.dir, { recursive: true, force: true });
  });
  return fx;
}
