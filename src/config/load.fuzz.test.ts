// Fuzzes the config loader with random mutations of the example: whatever the input, the
// loader returns a result (never throws), and every error has a path, a line inside the file
// and a message; no error is the catch-all "internal error". Iterations: TIDEMARK_FUZZ_ITERATIONS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadConfig } from './load.ts';

const EXAMPLE = readFileSync(new URL('../../examples/tidemark.yaml', import.meta.url), 'utf8');
const ITERATIONS = Number(process.env.TIDEMARK_FUZZ_ITERATIONS ?? 200);
const CHARS = ' \n\t:-[]{}"\'#&*!|>%@`,?0123456789abcxyz.\\~<';

function mutate(text: string, rnd: () => number): string {
  let s = text;
  for (let k = 1 + Math.floor(rnd() * 4); k > 0; k--) {
    const p = Math.floor(rnd() * (s.length + 1));
    const lines = s.split('\n');
    const a = Math.floor(rnd() * lines.length);
    switch (Math.floor(rnd() * 7)) {
      case 0: s = s.slice(0, p) + s.slice(p + 1 + Math.floor(rnd() * 20)); break; // delete a run
      case 1: s = s.slice(0, p) + CHARS[Math.floor(rnd() * CHARS.length)] + s.slice(p); break; // insert
      case 2: s = s.slice(0, p) + CHARS[Math.floor(rnd() * CHARS.length)] + s.slice(p + 1); break; // replace
      case 3: lines.splice(a, 1); s = lines.join('\n'); break; // drop a line
      case 4: lines.splice(Math.floor(rnd() * lines.length), 0, lines[a]); s = lines.join('\n'); break; // duplicate a line
      case 5: lines[a] = ' '.repeat(Math.floor(rnd() * 8)) + lines[a].trimStart(); s = lines.join('\n'); break; // re-indent
      default: s = s.slice(0, p); // truncate
    }
  }
  return s;
}

test(`${ITERATIONS} mutations of the example only ever produce reported errors`, () => {
  let seed = Number(process.env.TIDEMARK_FUZZ_SEED ?? 20240601);
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  let valid = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const text = mutate(EXAMPLE, rnd);
    const lineCount = text.split('\n').length;
    const r = loadConfig(text, `mutant-${i}`);
    assert.equal(r.config === undefined, r.errors.length > 0, 'a config exactly when there are no errors');
    if (r.config) valid++;
    for (const e of r.errors) {
      assert.ok(!e.message.startsWith('internal error'), `mutant ${i}: ${e.message}\n--- input ---\n${text}`);
      assert.ok(e.message.length > 0 && typeof e.path === 'string');
      assert.ok(e.line === undefined || (Number.isInteger(e.line) && e.line >= 1 && e.line <= lineCount), `line ${e.line} of ${lineCount}`);
    }
  }
  // Some mutants stay valid (comments, whitespace) and most do not: the fuzz reaches both paths.
  assert.ok(valid > 0 && valid < ITERATIONS, `valid ${valid} of ${ITERATIONS}`);
});
