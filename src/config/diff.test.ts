import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configDiff, diffLines } from './diff.ts';

/** Applies a unified diff to `old` (strictly: context and removed lines must match). */
function applyPatch(old: string, patch: string): string {
  if (patch === '') return old;
  const lines = old === '' ? [] : (old.endsWith('\n') ? old.slice(0, -1) : old).split('\n');
  let oldNoNl = old !== '' && !old.endsWith('\n');
  const p = patch.split('\n').slice(2, -1);
  const out: string[] = [];
  let cursor = 0;
  let newNoNl = oldNoNl;
  let i = 0;
  while (i < p.length) {
    const m = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@$/.exec(p[i]);
    assert.ok(m, `hunk header expected: ${p[i]}`);
    const oStart = Number(m[1]);
    const oCount = m[2] === undefined ? 1 : Number(m[2]);
    const from = oCount === 0 ? oStart : oStart - 1;
    while (cursor < from) out.push(lines[cursor++]);
    i++;
    let last = '';
    while (i < p.length && !p[i].startsWith('@@')) {
      const line = p[i];
      if (line === '\\ No newline at end of file') {
        if (last === '-') oldNoNl = false;
        else newNoNl = true;
        if (last === ' ') newNoNl = true;
      } else if (line[0] === ' ') {
        assert.equal(lines[cursor], line.slice(1));
        out.push(lines[cursor++]);
        newNoNl = false;
      } else if (line[0] === '-') {
        assert.equal(lines[cursor], line.slice(1));
        cursor++;
      } else if (line[0] === '+') {
        out.push(line.slice(1));
        newNoNl = false;
      } else assert.fail(`bad diff line ${JSON.stringify(line)}`);
      last = line[0];
      i++;
    }
  }
  while (cursor < lines.length) {
    out.push(lines[cursor++]);
    newNoNl = oldNoNl;
  }
  if (out.length === 0) return '';
  return out.join('\n') + (newNoNl ? '' : '\n');
}

function lcs(a: string[], b: string[]): number {
  const dp = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = 1; i <= a.length; i++) for (let j = 1; j <= b.length; j++) dp[i][j] = a[i - 1] === b[j - 1] ? dp[i - 1][j - 1] + 1 : Math.max(dp[i - 1][j], dp[i][j - 1]);
  return dp[a.length][b.length];
}

test('a known diff, in the format of diff -u', () => {
  const a = 'a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\nm\n';
  const b = 'a\nb\nX\nd\ne\nf\ng\nh\ni\nj\nk\nl\nm\nn';
  assert.equal(configDiff(a, b, { oldName: 'v1', newName: 'v2' }), [
    '--- v1', '+++ v2',
    '@@ -1,6 +1,6 @@', ' a', ' b', '-c', '+X', ' d', ' e', ' f',
    '@@ -11,3 +11,4 @@', ' k', ' l', ' m', '+n', '\\ No newline at end of file',
    '',
  ].join('\n'));
});

test('nearby changes share one hunk; equal texts give no diff', () => {
  const a = 'tenant: a\nrules:\n  - name: x\n    severity: S1\n    owner: o\n';
  const b = 'tenant: a\nrules:\n  - name: x\n    severity: S2\n    owner: p\n';
  assert.equal(configDiff(a, b), '--- a\n+++ b\n@@ -1,5 +1,5 @@\n tenant: a\n rules:\n   - name: x\n-    severity: S1\n-    owner: o\n+    severity: S2\n+    owner: p\n');
  assert.equal(configDiff(a, a), '');
});

test('creating and emptying a file', () => {
  assert.equal(configDiff('', 'x\ny\n'), '--- a\n+++ b\n@@ -0,0 +1,2 @@\n+x\n+y\n');
  assert.equal(configDiff('x\n', ''), '--- a\n+++ b\n@@ -1 +0,0 @@\n-x\n');
  assert.equal(configDiff('x', 'x\n'), '--- a\n+++ b\n@@ -1 +1 @@\n-x\n\\ No newline at end of file\n+x\n');
});

test('random edits: the patch reproduces the new text and the script is minimal', () => {
  let seed = 3;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const words = ['a', 'b', 'c', 'd', 'e'];
  for (let iter = 0; iter < 300; iter++) {
    const a = Array.from({ length: Math.floor(rnd() * 30) }, () => words[Math.floor(rnd() * words.length)]);
    const b = [...a];
    for (let k = Math.floor(rnd() * 6); k > 0; k--) {
      const at = Math.floor(rnd() * (b.length + 1));
      if (rnd() < 0.5 && b.length) b.splice(at, 1);
      else b.splice(at, 0, words[Math.floor(rnd() * words.length)]);
    }
    const edits = diffLines(a, b);
    const changed = edits.filter((e) => e.op !== ' ').length;
    assert.equal(changed, a.length + b.length - 2 * lcs(a, b), 'shortest edit script');
    assert.deepEqual(edits.filter((e) => e.op !== '+').map((e) => e.text), a);
    assert.deepEqual(edits.filter((e) => e.op !== '-').map((e) => e.text), b);
    const nlA = rnd() < 0.8 ? '\n' : '';
    const nlB = rnd() < 0.8 ? '\n' : '';
    const ta = a.length ? a.join('\n') + nlA : '';
    const tb = b.length ? b.join('\n') + nlB : '';
    const patch = configDiff(ta, tb, { context: Math.floor(rnd() * 4) });
    assert.equal(applyPatch(ta, patch), tb, `${JSON.stringify(ta)} -> ${JSON.stringify(tb)}\n${patch}`);
  }
});
