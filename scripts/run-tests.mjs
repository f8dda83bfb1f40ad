// Runs every `*.test.ts` beside the code with node's test runner (through tsx).
// Node 20's `--test` does not expand globs itself, so the files are listed here.
//
// Nothing may hang the run: each test has a time limit (--test-timeout), and the whole run has
// a deadline (TIDEMARK_TEST_DEADLINE_S, default 660 s) after which it is stopped and fails with
// a message, so that CI reports a failure instead of running into its own limit. A test file
// must close what it opens (servers, connections, timers): one that does not holds the run
// until the deadline. Not --test-force-exit (ending a file once its tests are done): a file's
// process then exits with results still buffered in its pipe to the runner, which reports
// fewer tests than ran and passes (nodejs/node#64833, open): a CI run here counted 1,928 of
// 1,945 tests, 17 of line-protocol.test.ts's lost, and a runner's own summary can be cut off too.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const filter = process.argv.slice(2);
let files = walk('src', []).sort();
if (filter.length) files = files.filter((f) => filter.some((x) => f.includes(x)));
const deadlineS = Number(process.env.TIDEMARK_TEST_DEADLINE_S ?? 660);
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=240000', ...files],
  { stdio: 'inherit', detached: true },
);
const started = Date.now();
const watchdog = setTimeout(() => {
  console.error(`\nrun-tests: the test run passed its deadline of ${deadlineS} s; stopping it (this is a failure)`);
  try {
    process.kill(-child.pid, 'SIGKILL'); // the runner and every test file it started
  } catch {
    child.kill('SIGKILL');
  }
}, deadlineS * 1000);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {}
    process.exit(130);
  });
}
child.on('exit', (code, signal) => {
  clearTimeout(watchdog);
  console.error(`run-tests: ${files.length} files in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  process.exit(code ?? (signal ? 1 : 0));
});
