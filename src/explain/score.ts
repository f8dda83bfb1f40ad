/**
 * Scoring of root-cause sets as in the Squeeze and RiskLoc evaluations: a predicted element
 * counts only if it equals a true element exactly (same dimension=value pairs, order-free);
 * duplicates count once; TP, FP and FN are summed over cases before computing F1.
 */
import { TidemarkError } from '../errors.ts';

/** An element as `dimension=value` pairs. */
export type ElementPairs = readonly string[];

export interface RcaCounts {
  tp: number;
  fp: number;
  fn: number;
}

export interface RcaScore extends RcaCounts {
  precision: number;
  recall: number;
  f1: number;
}

/** Order-free identity of an element: its pairs sorted and joined by '&'. */
export function elementKey(pairs: ElementPairs): string {
  return [...pairs].sort().join('&');
}

/**
 * Parses the benchmark notation `a=a1&b=b2;c=c3` into elements. `where` names the source in
 * error messages.
 */
export function parseElementSet(text: string, where = 'root cause set'): string[][] {
  const t = text.trim();
  if (t === '') return [];
  return t.split(';').map((el) => {
    const pairs = el.split('&').map((p) => p.trim());
    for (const p of pairs) {
      const eq = p.indexOf('=');
      if (eq <= 0 || eq === p.length - 1) {
        throw new TidemarkError('TM_ERR_INPUT', `'${p}' is not a dimension=value pair (in '${text}')`, where);
      }
    }
    return pairs;
  });
}

/** TP/FP/FN of one case. */
export function scoreCase(predicted: readonly ElementPairs[], truth: readonly ElementPairs[]): RcaCounts {
  const p = new Set(predicted.map(elementKey));
  const t = new Set(truth.map(elementKey));
  let tp = 0;
  for (const k of p) if (t.has(k)) tp++;
  return { tp, fp: p.size - tp, fn: t.size - tp };
}

/** Adds `b` into `a` and returns `a`. */
export function addCounts(a: RcaCounts, b: RcaCounts): RcaCounts {
  a.tp += b.tp;
  a.fp += b.fp;
  a.fn += b.fn;
  return a;
}

/**
 * Precision, recall and F1 = 2TP / (2TP + FP + FN) of summed counts. With nothing to find and
 * nothing predicted every figure is 1; a ratio with an empty denominator otherwise is 0.
 */
export function rcaScore(c: RcaCounts): RcaScore {
  const { tp, fp, fn } = c;
  if (tp + fp + fn === 0) return { tp, fp, fn, precision: 1, recall: 1, f1: 1 };
  return {
    tp,
    fp,
    fn,
    precision: tp + fp > 0 ? tp / (tp + fp) : 0,
    recall: tp + fn > 0 ? tp / (tp + fn) : 0,
    f1: (2 * tp) / (2 * tp + fp + fn),
  };
}
