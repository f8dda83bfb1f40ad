import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// Beside the detectors, not the arena: the arena opens when the kernels load (kernels.ts), and
// what is checked is that detector sets judge alike inside and outside it.
describe('arena', () => {
  it('once full (TIDEMARK_ARENA_MAX_MB), hands out ArrayBuffer slabs, whose states judge alike on the JS path', () => {
    const child = fileURLToPath(new URL('./arena-cap.child.ts', import.meta.url));
    const r = spawnSync(process.execPath, ['--import', 'tsx', child], { env: { ...process.env, TIDEMARK_ARENA_MAX_MB: '16' }, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop() as string);
    assert.equal(out.kernels, 'wasm');
    assert.equal(out.firstInArena, true);
    assert.equal(out.lastInArena, false, '8,000 regions of 2.5 KB do not fit 16 MiB');
    assert.ok(out.arenaBytes <= 16 * 2 ** 20 && out.arenaBytes > 15 * 2 ** 20, `arena bytes in use: ${out.arenaBytes}`);
    assert.ok(out.alerts > 0);
    assert.equal(out.diffs, 0);
  });

  it('refuses a cap that is not a whole number of MiB of at least 16, naming the variable', () => {
    const child = fileURLToPath(new URL('./arena-cap.child.ts', import.meta.url));
    const r = spawnSync(process.execPath, ['--import', 'tsx', child], { env: { ...process.env, TIDEMARK_ARENA_MAX_MB: 'lots' }, encoding: 'utf8', timeout: 120_000 });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /TIDEMARK_ARENA_MAX_MB: expected a whole number of MiB, at least 16, got 'lots'/);
  });
});
