/**
 * The Numenta Anomaly Benchmark (NAB) scorer, following the reference implementation
 * numenta/NAB step for step: nab/sweeper.py (per-row sweep scores, scores by threshold),
 * nab/optimizer.py (one threshold per profile over all files jointly), nab/scorer.py (per-file
 * scores at that threshold, summed), nab/runner.py `normalize` (100 * (raw - null) / (perfect -
 * null)) and config/profiles.json (the three cost matrices).
 *
 * The rules, as NAB implements them:
 * - The first min(floor(0.15 * n), 0.15 * 5000) rows of each file are probationary: not scored.
 * - A row is a detection when its anomaly score is >= the threshold.
 * - A detection inside a window [start, end] at row i earns
 *   tpWeight * S(-(right - i + 1) / width) / S(-1), where S(x) = 2 / (1 + e^(5x)) - 1 is the
 *   scaled sigmoid, right is the window's last row and width its row count; a detection on the
 *   first row earns exactly tpWeight. Only the best (that is, the earliest) detection of a window
 *   counts; a window without a detection costs fnWeight.
 * - A detection outside every window costs fpWeight * S(|i - right'| / (width' - 1)) where right'
 *   and width' belong to the preceding window (S is -1 past 3 window-widths), or fpWeight when no
 *   window precedes it. Every such row counts, not just the first.
 * - The threshold is chosen per profile to maximise the summed score over all files together,
 *   among the distinct anomaly scores of all scored rows (and 1.1, "detect nothing").
 * - The null detector (constant 0.5) scored the same way gives the baseline; the perfect score is
 *   tpWeight times the number of windows in the labels.
 *
 * Where NAB would crash, this scorer picks the evident meaning and says so: a one-row window
 * followed by a false positive (NAB divides by zero) scores that false positive as far away (-1);
 * a file whose every scored row lies above the chosen threshold (NAB finds no matching row)
 * scores with all of its rows detected.
 */

/** The weights of one NAB application profile (config/profiles.json). */
export interface NabCostMatrix {
  readonly tpWeight: number;
  readonly fpWeight: number;
  readonly fnWeight: number;
  readonly tnWeight: number;
}

export type NabProfileName = 'standard' | 'reward_low_FP_rate' | 'reward_low_FN_rate';

export interface NabProfile {
  readonly name: NabProfileName;
  readonly costMatrix: NabCostMatrix;
}

/** NAB's three application profiles, in the order NAB reports them. */
export const NAB_PROFILES: readonly NabProfile[] = Object.freeze([
  { name: 'standard', costMatrix: { tpWeight: 1.0, fpWeight: 0.11, fnWeight: 1.0, tnWeight: 1.0 } },
  { name: 'reward_low_FP_rate', costMatrix: { tpWeight: 1.0, fpWeight: 0.22, fnWeight: 1.0, tnWeight: 1.0 } },
  { name: 'reward_low_FN_rate', costMatrix: { tpWeight: 1.0, fpWeight: 0.11, fnWeight: 2.0, tnWeight: 1.0 } },
]);

/** NAB's probationary share of each file (runner.py `probationaryPercent`). */
export const NAB_PROBATION_PERCENT = 0.15;

/** The constant score of NAB's null detector, which sets the baseline. */
export const NAB_NULL_SCORE = 0.5;

/** The threshold NAB starts its sweep at: above every score, so nothing is detected. */
export const NAB_START_THRESHOLD = 1.1;

/** One scored file: its row times, the detector's scores and its anomaly windows. */
export interface NabFile {
  /** Relative path as in the labels, e.g. `realTweets/Twitter_volume_AAPL.csv`. */
  readonly name: string;
  /** Row times (any consistent unit; window bounds must equal row times exactly). */
  readonly times: ArrayLike<number>;
  /** Anomaly scores in [0, 1], one per row. */
  readonly scores: ArrayLike<number>;
  /** Windows as [first row time, last row time], sorted and not overlapping. */
  readonly windows: readonly (readonly [number, number])[];
}

/** The score and row counts at one threshold (sweeper.py `ThresholdScore`). */
export interface NabThresholdScore {
  threshold: number;
  score: number;
  tp: number;
  tn: number;
  fp: number;
  fn: number;
  total: number;
}

const NO_WINDOW = -1;
const PROBATIONARY = -2;

/**
 * Rows of one or more files after the sweep (sweeper.py `AnomalyPoint` list): the anomaly score,
 * the weighted sweep score, and the window id (>= 0), NO_WINDOW or PROBATIONARY.
 */
export interface NabSweep {
  readonly scores: Float64Array;
  readonly sweep: Float64Array;
  readonly window: Int32Array;
  /** Window ids are below this bound. */
  readonly windowCount: number;
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** NAB's scaled sigmoid: 2 * sigmoid(-5x) - 1, and -1 beyond 3 (sweeper.py `scaledSigmoid`). */
export function scaledSigmoid(relativePositionInWindow: number): number {
  if (relativePositionInWindow > 3.0) return -1.0;
  return 2 * sigmoid(-5 * relativePositionInWindow) - 1.0;
}

/** Rows NAB leaves unscored at the start of a file of `numRows` rows. */
export function probationaryLength(numRows: number, probationPercent = NAB_PROBATION_PERCENT): number {
  return Math.min(Math.floor(probationPercent * numRows), probationPercent * 5000);
}

function indexOf(times: ArrayLike<number>, t: number): number {
  for (let i = 0; i < times.length; i++) if (times[i] === t) return i;
  return -1;
}

/**
 * The sweep of one file (sweeper.py `calcSweepScore`): for every row, the score it would add if it
 * were a detection. Window ids start at `windowIdOffset` so that files can be concatenated.
 */
export function sweepFile(
  file: NabFile,
  cost: NabCostMatrix,
  probationPercent = NAB_PROBATION_PERCENT,
  windowIdOffset = 0,
): NabSweep {
  const { times } = file;
  const n = times.length;
  if (file.scores.length !== n) throw new Error(`${file.name}: ${n} times but ${file.scores.length} scores`);
  const scores = Float64Array.from(file.scores);
  const sweep = new Float64Array(n);
  const window = new Int32Array(n);
  const maxTP = scaledSigmoid(-1.0);
  const probation = probationaryLength(n, probationPercent);
  const limits = file.windows;

  let next = 0; // NAB pops windows off the front of its list as it enters them.
  let cur = -1;
  let curRight = 0;
  let curWidth = 0;
  let prevRight = -1;
  let prevWidth = 0;

  for (let i = 0; i < n; i++) {
    const t = times[i]!;
    if (next < limits.length && t === limits[next]![0]) {
      cur = next++;
      curRight = indexOf(times, limits[cur]![1]);
      if (curRight === -1) throw new Error(`${file.name}: window end ${limits[cur]![1]} is not a row time`);
      curWidth = curRight - indexOf(times, limits[cur]![0]) + 1;
    }
    let weighted: number;
    if (cur !== -1) {
      const positionInWindow = -(curRight - i + 1) / curWidth;
      weighted = (scaledSigmoid(positionInWindow) * cost.tpWeight) / maxTP;
    } else {
      let unweighted: number;
      if (prevRight === -1) {
        unweighted = -1.0;
      } else {
        // A one-row window gives 0 here; NAB raises ZeroDivisionError, we score "far away" (-1).
        const positionPastWindow = prevWidth - 1 === 0 ? Infinity : Math.abs(prevRight - i) / (prevWidth - 1);
        unweighted = scaledSigmoid(positionPastWindow);
      }
      weighted = unweighted * cost.fpWeight;
    }
    scores[i] = file.scores[i]!;
    sweep[i] = weighted;
    window[i] = i >= probation ? (cur === -1 ? NO_WINDOW : windowIdOffset + cur) : PROBATIONARY;
    if (cur !== -1 && t === limits[cur]![1]) {
      prevRight = i;
      prevWidth = curWidth;
      cur = -1;
    }
  }
  return { scores, sweep, window, windowCount: windowIdOffset + limits.length };
}

/** Joins the sweeps of several files (their window ids must already be distinct). */
export function concatSweeps(parts: readonly NabSweep[]): NabSweep {
  let n = 0;
  let windowCount = 0;
  for (const p of parts) {
    n += p.scores.length;
    windowCount = Math.max(windowCount, p.windowCount);
  }
  const scores = new Float64Array(n);
  const sweep = new Float64Array(n);
  const window = new Int32Array(n);
  let at = 0;
  for (const p of parts) {
    scores.set(p.scores, at);
    sweep.set(p.sweep, at);
    window.set(p.window, at);
    at += p.scores.length;
  }
  return { scores, sweep, window, windowCount };
}

/**
 * Scores at every distinct threshold, highest first (sweeper.py `calcScoreByThreshold`). The row
 * for threshold T counts every scored row with anomaly score >= T as a detection; the first row is
 * for 1.1 (nothing detected).
 */
export function scoresByThreshold(s: NabSweep, fnWeight: number): NabThresholdScore[] {
  const { scores, sweep, window } = s;
  const order: number[] = [];
  for (let i = 0; i < scores.length; i++) if (window[i] !== PROBATIONARY) order.push(i);
  // Highest score first; equal scores keep row order, as Python's stable sorted(reverse=True).
  order.sort((a, b) => scores[b]! - scores[a]! || a - b);

  // NAB keeps one score part for all false positives, then one per window (starting at
  // -fnWeight) in order of first appearance, and re-sums them at each threshold.
  const partOrder: number[] = [];
  const part = new Float64Array(s.windowCount);
  const seen = new Uint8Array(s.windowCount);
  let tn = 0;
  let fn = 0;
  for (const i of order) {
    const w = window[i]!;
    if (w >= 0) {
      fn++;
      if (seen[w] === 0) {
        seen[w] = 1;
        partOrder.push(w);
        part[w] = -fnWeight;
      }
    } else {
      tn++;
    }
  }
  let fpPart = 0;
  const sumParts = (): number => {
    let total = 0;
    total += fpPart;
    for (const w of partOrder) total += part[w]!;
    return total;
  };

  const out: NabThresholdScore[] = [];
  let tp = 0;
  let fp = 0;
  let cur = NAB_START_THRESHOLD;
  for (const i of order) {
    const score = scores[i]!;
    if (score !== cur) {
      out.push({ threshold: cur, score: sumParts(), tp, tn, fp, fn, total: tp + tn + fp + fn });
      cur = score;
    }
    const w = window[i]!;
    if (w >= 0) {
      tp++;
      fn--;
      if (sweep[i]! > part[w]!) part[w] = sweep[i]!;
    } else {
      fp++;
      tn--;
      fpPart += sweep[i]!;
    }
  }
  out.push({ threshold: cur, score: sumParts(), tp, tn, fp, fn, total: tp + tn + fp + fn });
  return out;
}

/** The best threshold: the highest score, and on a tie the higher threshold (optimizer.py). */
export function bestThreshold(rows: readonly NabThresholdScore[]): NabThresholdScore {
  let best = rows[0]!;
  for (const r of rows) if (r.score > best.score) best = r;
  return best;
}

/**
 * The row of `rows` that applies at `threshold` (sweeper.py `scoreDataSet`): the row for exactly
 * that threshold, else the last row above it.
 */
export function rowAtThreshold(rows: readonly NabThresholdScore[], threshold: number): NabThresholdScore {
  let prev: NabThresholdScore | undefined;
  for (const r of rows) {
    if (r.threshold === threshold) return r;
    if (r.threshold < threshold) return prev ?? r;
    prev = r;
  }
  // Every row lies above the threshold: NAB finds no row here; all of them are detections.
  return rows[rows.length - 1]!;
}

/** One file's result at the chosen threshold. */
export interface NabFileResult extends NabThresholdScore {
  readonly name: string;
  /** Windows with at least one scored detection, and all windows of the file. */
  readonly windowsDetected: number;
  readonly windowsTotal: number;
}

/** One profile's result over the corpus. */
export interface NabProfileResult {
  readonly profile: NabProfileName;
  readonly costMatrix: NabCostMatrix;
  /** The optimised threshold (1.1 means "detect nothing"). */
  readonly threshold: number;
  /** Sum of the per-file scores at the threshold (NAB's "Totals" row). */
  readonly raw: number;
  /** The null detector's raw score (its own optimised threshold), and the perfect score. */
  readonly nullScore: number;
  readonly perfectScore: number;
  /** 100 * (raw - null) / (perfect - null). */
  readonly score: number;
  readonly counts: { tp: number; tn: number; fp: number; fn: number; total: number };
  readonly windowsDetected: number;
  readonly windowsTotal: number;
  readonly files: readonly NabFileResult[];
}

export interface NabOptions {
  readonly profiles?: readonly NabProfile[];
  readonly probationPercent?: number;
}

function sweepCorpus(files: readonly NabFile[], cost: NabCostMatrix, probationPercent: number): NabSweep[] {
  const out: NabSweep[] = [];
  let offset = 0;
  for (const f of files) {
    out.push(sweepFile(f, cost, probationPercent, offset));
    offset += f.windows.length;
  }
  return out;
}

function windowsDetected(s: NabSweep, threshold: number): number {
  const hit = new Set<number>();
  for (let i = 0; i < s.scores.length; i++) {
    const w = s.window[i]!;
    if (w >= 0 && s.scores[i]! >= threshold) hit.add(w);
  }
  return hit.size;
}

/** Optimises the threshold for one profile, then scores every file at it (optimizer + scorer). */
export function scoreProfile(
  files: readonly NabFile[],
  profile: NabProfile,
  probationPercent = NAB_PROBATION_PERCENT,
): { threshold: number; raw: number; files: NabFileResult[] } {
  const cost = profile.costMatrix;
  const sweeps = sweepCorpus(files, cost, probationPercent);
  const threshold = bestThreshold(scoresByThreshold(concatSweeps(sweeps), cost.fnWeight)).threshold;
  const results: NabFileResult[] = [];
  let raw = 0;
  for (let k = 0; k < files.length; k++) {
    const row = rowAtThreshold(scoresByThreshold(sweeps[k]!, cost.fnWeight), threshold);
    raw += row.score;
    results.push({
      ...row,
      threshold,
      name: files[k]!.name,
      windowsDetected: windowsDetected(sweeps[k]!, threshold),
      windowsTotal: files[k]!.windows.length,
    });
  }
  return { threshold, raw, files: results };
}

/**
 * Scores a corpus by NAB's rules for every profile, normalised against the null detector
 * (constant 0.5, scored with its own optimised threshold) and the perfect detector.
 * Throws when the files hold no window (the normalised score is then undefined).
 *
 * @example scoreNab([{ name: 'a.csv', times, scores, windows: [[t1, t2]] }])[0].score
 */
export function scoreNab(files: readonly NabFile[], options: NabOptions = {}): NabProfileResult[] {
  const profiles = options.profiles ?? NAB_PROFILES;
  const probationPercent = options.probationPercent ?? NAB_PROBATION_PERCENT;
  let windowsTotal = 0;
  for (const f of files) windowsTotal += f.windows.length;
  if (windowsTotal === 0) throw new Error('the labels hold no anomaly window, so the normalised NAB score is undefined');
  const nullFiles: NabFile[] = files.map((f) => ({
    name: f.name,
    times: f.times,
    windows: f.windows,
    scores: new Float64Array(f.times.length).fill(NAB_NULL_SCORE),
  }));

  return profiles.map((profile) => {
    const result = scoreProfile(files, profile, probationPercent);
    const nullScore = scoreProfile(nullFiles, profile, probationPercent).raw;
    const perfectScore = windowsTotal * profile.costMatrix.tpWeight;
    const counts = { tp: 0, tn: 0, fp: 0, fn: 0, total: 0 };
    let detected = 0;
    for (const f of result.files) {
      counts.tp += f.tp;
      counts.tn += f.tn;
      counts.fp += f.fp;
      counts.fn += f.fn;
      counts.total += f.total;
      detected += f.windowsDetected;
    }
    return {
      profile: profile.name,
      costMatrix: profile.costMatrix,
      threshold: result.threshold,
      raw: result.raw,
      nullScore,
      perfectScore,
      score: (100 * (result.raw - nullScore)) / (perfectScore - nullScore),
      counts,
      windowsDetected: detected,
      windowsTotal,
      files: result.files,
    };
  });
}
