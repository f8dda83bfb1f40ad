// The UI sources need the DOM lib and JSX, which the root tsconfig (node, no DOM) leaves out
// (it excludes src/web/ui): they are type-checked here with their own tsconfig, so
// `npm test` covers them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';

it('the UI type-checks with src/web/tsconfig.json', () => {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const project = fileURLToPath(new URL('./tsconfig.json', import.meta.url));
  const r = spawnSync(process.execPath, [tsc, '--noEmit', '-p', project], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `tsc -p src/web/tsconfig.json failed:\n${r.stdout}${r.stderr}`);
});
