/**
 * Line diffs of config texts for the audit log and `tidemark config diff`: Myers' O((N+M)D)
 * shortest edit script, printed in unified format (`@@ -a,b +c,d @@`, 3 lines of context), the
 * format reviewers already read in `git diff`.
 */

export type EditOp = ' ' | '-' | '+';
export interface Edit {
  readonly op: EditOp;
  readonly text: string;
}

/** Above this many differences the diff gives up on minimality and replaces the middle wholesale. */
const MAX_EDIT_DISTANCE = 4_000;

/**
 * A shortest edit script turning `a` into `b` (Myers 1986, forward greedy search with the
 * V-array kept per step to walk back). Deletions come before insertions within a change.
 */
export function diffLines(a: readonly string[], b: readonly string[]): Edit[] {
  // Common prefix and suffix cost nothing and shrink the search a lot for small edits.
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let suf = 0;
  while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
  const A = a.slice(pre, a.length - suf);
  const B = b.slice(pre, b.length - suf);
  const head: Edit[] = a.slice(0, pre).map((text) => ({ op: ' ', text }));
  const tail: Edit[] = a.slice(a.length - suf).map((text) => ({ op: ' ', text }));
  return [...head, ...middle(A, B), ...tail];
}

function middle(A: readonly string[], B: readonly string[]): Edit[] {
  const n = A.length;
  const m = B.length;
  if (n === 0) return B.map((text) => ({ op: '+', text }));
  if (m === 0) return A.map((text) => ({ op: '-', text }));
  const max = Math.min(n + m, MAX_EDIT_DISTANCE);
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  let found = -1;
  for (let d = 0; d <= max && found < 0; d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[offset + k - 1] < v[offset + k + 1]) ? v[offset + k + 1] : v[offset + k - 1] + 1;
      let y = x - k;
      while (x < n && y < m && A[x] === B[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) {
        found = d;
        break;
      }
    }
  }
  if (found < 0) return [...A.map((text) => ({ op: '-' as const, text })), ...B.map((text) => ({ op: '+' as const, text }))];
  // Walk back from (n, m) through the saved V arrays.
  const out: Edit[] = [];
  let x = n;
  let y = m;
  for (let d = found; d > 0; d--) {
    const pv = trace[d];
    const k = x - y;
    const prevK = k === -d || (k !== d && pv[offset + k - 1] < pv[offset + k + 1]) ? k + 1 : k - 1;
    const prevX = pv[offset + prevK];
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      x--;
      y--;
      out.push({ op: ' ', text: A[x] });
    }
    if (x === prevX) out.push({ op: '+', text: B[--y] });
    else out.push({ op: '-', text: A[--x] });
  }
  while (x > 0 && y > 0) {
    x--;
    y--;
    out.push({ op: ' ', text: A[x] });
  }
  return out.reverse();
}

function splitLines(text: string): { lines: string[]; finalNewline: boolean } {
  if (text === '') return { lines: [], finalNewline: true };
  const finalNewline = text.endsWith('\n');
  const lines = (finalNewline ? text.slice(0, -1) : text).split('\n');
  return { lines, finalNewline };
}

export interface DiffOptions {
  /** Names in the `---` / `+++` header lines. */
  readonly oldName?: string;
  readonly newName?: string;
  /** Unchanged lines shown around each change. */
  readonly context?: number;
}

/**
 * A unified diff of two config texts; the empty string when they are equal.
 * @example configDiff(v1.text, v2.text, { oldName: 'v1', newName: 'v2' })
 */
export function configDiff(oldText: string, newText: string, options: DiffOptions = {}): string {
  if (oldText === newText) return '';
  const context = options.context ?? 3;
  const a = splitLines(oldText);
  const b = splitLines(newText);
  // A last line without a newline differs from the same text with one, as in `diff -u`.
  const NONL = '\u0000';
  const tag = (s: { lines: string[]; finalNewline: boolean }) =>
    s.finalNewline || s.lines.length === 0 ? s.lines : [...s.lines.slice(0, -1), s.lines[s.lines.length - 1] + NONL];
  const edits = diffLines(tag(a), tag(b)).map((e) => (e.text.endsWith(NONL) ? { op: e.op, text: e.text.slice(0, -1) } : e));
  const marker = '\\ No newline at end of file';
  // Positions (1-based) of each edit in old and new.
  const out: string[] = [`--- ${options.oldName ?? 'a'}`, `+++ ${options.newName ?? 'b'}`];
  let i = 0;
  let oldLine = 0;
  let newLine = 0;
  const pos: Array<{ o: number; n: number }> = edits.map((e) => {
    const p = { o: oldLine, n: newLine };
    if (e.op !== '+') oldLine++;
    if (e.op !== '-') newLine++;
    return p;
  });
  while (i < edits.length) {
    // Find the next change, then grow the hunk while changes are within 2*context of each other.
    while (i < edits.length && edits[i].op === ' ') i++;
    if (i >= edits.length) break;
    const start = Math.max(0, i - context);
    let end = i;
    let lastChange = i;
    while (end < edits.length && end - lastChange <= 2 * context) {
      if (edits[end].op !== ' ') lastChange = end;
      end++;
    }
    end = Math.min(edits.length, lastChange + context + 1);
    const hunk = edits.slice(start, end);
    const oldCount = hunk.filter((e) => e.op !== '+').length;
    const newCount = hunk.filter((e) => e.op !== '-').length;
    const oStart = oldCount === 0 ? pos[start].o : pos[start].o + 1;
    const nStart = newCount === 0 ? pos[start].n : pos[start].n + 1;
    const range = (s: number, c: number) => (c === 1 ? `${s}` : `${s},${c}`);
    out.push(`@@ -${range(oStart, oldCount)} +${range(nStart, newCount)} @@`);
    for (let j = start; j < end; j++) {
      const e = edits[j];
      out.push(e.op + e.text);
      const p = pos[j];
      const lastOld = e.op !== '+' && p.o === a.lines.length - 1 && !a.finalNewline;
      const lastNew = e.op !== '-' && p.n === b.lines.length - 1 && !b.finalNewline;
      if (lastOld || lastNew) out.push(marker);
    }
    i = end;
  }
  return out.join('\n') + '\n';
}
