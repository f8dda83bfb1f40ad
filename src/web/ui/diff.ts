// A line diff for config versions (longest common subsequence). Pure (no DOM).

export interface DiffLine {
  readonly op: ' ' | '+' | '-';
  readonly text: string;
}

const MAX_CELLS = 4_000_000; // 2,000 x 2,000 lines; beyond that the diff is shown as replace-all

/** Lines of `b` against `a`: kept (' '), added ('+'), removed ('-'), in reading order. */
export function lineDiff(a: string, b: string): DiffLine[] {
  const x = a === '' ? [] : a.split('\n');
  const y = b === '' ? [] : b.split('\n');
  // Common head and tail first: most edits touch a few lines in the middle.
  let head = 0;
  while (head < x.length && head < y.length && x[head] === y[head]) head++;
  let tail = 0;
  while (tail < x.length - head && tail < y.length - head && x[x.length - 1 - tail] === y[y.length - 1 - tail]) tail++;
  const out: DiffLine[] = x.slice(0, head).map((text) => ({ op: ' ', text }));
  const xs = x.slice(head, x.length - tail);
  const ys = y.slice(head, y.length - tail);
  const n = xs.length;
  const m = ys.length;
  if ((n + 1) * (m + 1) > MAX_CELLS) {
    for (const text of xs) out.push({ op: '-', text });
    for (const text of ys) out.push({ op: '+', text });
  } else {
    // lcs[i][j]: LCS length of xs[i..] and ys[j..].
    const w = m + 1;
    const lcs = new Uint32Array((n + 1) * w);
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        lcs[i * w + j] = xs[i] === ys[j] ? lcs[(i + 1) * w + j + 1] + 1 : Math.max(lcs[(i + 1) * w + j], lcs[i * w + j + 1]);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && xs[i] === ys[j]) {
        out.push({ op: ' ', text: xs[i] });
        i++;
        j++;
      } else if (i < n && (j === m || lcs[(i + 1) * w + j] >= lcs[i * w + j + 1])) {
        out.push({ op: '-', text: xs[i++] }); // removals before additions at the same place
      } else {
        out.push({ op: '+', text: ys[j++] });
      }
    }
  }
  for (const text of x.slice(x.length - tail)) out.push({ op: ' ', text });
  return out;
}
