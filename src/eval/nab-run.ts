/**
 * The NAB runner: streams every `<data>/<category>/<file>.csv` through a detector set, one fresh
 * state per file, and writes `<out>/<category>/<file>.csv` with the fused score per row. It sees
 * rows in order, one at a time, never the labels; every file gets the same detector set.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { DetectorSet } from '../detect/types.ts';
import { newFusedVerdict } from '../detect/types.ts';
import { TidemarkError } from '../errors.ts';
import { columnIndex, readCsvFile } from './csv.ts';
import { discoverNabFiles } from './nab-io.ts';
import { parseTimestamp } from './time.ts';

/** The score a row gets in results: the fused score clamped to [0, 1], 0 while learning. */
export function resultScore(learning: boolean, score: number): number {
  if (learning || !(score > 0)) return 0;
  return score > 1 ? 1 : score;
}

export interface NabRunFile {
  readonly name: string;
  readonly rows: number;
  /** Milliseconds spent in the detector set alone. */
  readonly detectMs: number;
}

export interface NabRunSummary {
  readonly files: NabRunFile[];
  readonly rows: number;
  readonly detectMs: number;
  readonly totalMs: number;
}

export interface NabRunOptions {
  /**
   * Also write, per row, why it scored: columns `reason` and `detector` after `anomaly_score`,
   * each the verdict's reasons (and the detectors behind them), strongest first, joined by ';'
   * (empty where the row scored 0). NAB's scorer and `tidemark eval score` ignore extra
   * columns; this is for reading which detector a false positive came from.
   */
  readonly reasons?: boolean;
}

/**
 * Runs `set` over every data file under `dataDir` and writes NAB results under `outDir`.
 * `onFile` hears about each file when it is written.
 */
export function runNab(
  dataDir: string,
  outDir: string,
  set: DetectorSet,
  onFile?: (file: NabRunFile) => void,
  options: NabRunOptions = {},
): NabRunSummary {
  const t0 = performance.now();
  const names = discoverNabFiles(dataDir);
  if (names.length === 0) throw new TidemarkError('TM_ERR_INPUT', 'no <category>/<file>.csv files found', dataDir);
  const files: NabRunFile[] = [];
  const verdict = newFusedVerdict();
  let rows = 0;
  let detectMs = 0;
  for (const name of names) {
    const path = join(dataDir, name);
    const table = readCsvFile(path);
    const ti = columnIndex(table, 'timestamp', path);
    const vi = columnIndex(table, 'value', path);
    const n = table.rows.length;
    const times = new Float64Array(n);
    const values = new Float64Array(n);
    for (let r = 0; r < n; r++) {
      const row = table.rows[r]!;
      const t = parseTimestamp(row[ti] ?? '');
      if (Number.isNaN(t)) throw new TidemarkError('TM_ERR_INPUT', `'${row[ti] ?? ''}' is not a timestamp`, `${path}:${table.lines[r]}`);
      const text = (row[vi] ?? '').trim();
      const v = text === '' ? NaN : Number(text);
      if (text !== '' && Number.isNaN(v)) throw new TidemarkError('TM_ERR_INPUT', `value '${text}' is not a number`, `${path}:${table.lines[r]}`);
      times[r] = t;
      values[r] = v;
    }

    const scores = new Float64Array(n);
    // Why each scored row scored (only with options.reasons; reason and source codes hold no ','
    // or ';'). Only scored rows are written in the timed loop; the rest are filled when output.
    const why: (string | undefined)[] | null = options.reasons ? new Array<string | undefined>(n) : null;
    const d0 = performance.now();
    const state = set.init();
    for (let r = 0; r < n; r++) {
      set.update(state, times[r]!, values[r]!, verdict);
      scores[r] = resultScore(verdict.learning, verdict.score);
      if (why && scores[r]! > 0) why[r] = `${verdict.reasons.join(';')},${verdict.sources.join(';')}`;
    }
    const ms = performance.now() - d0;

    const out: string[] = [why ? 'timestamp,value,anomaly_score,reason,detector' : 'timestamp,value,anomaly_score'];
    for (let r = 0; r < n; r++) {
      const row = table.rows[r]!;
      out.push(why ? `${row[ti]},${row[vi]},${scores[r]},${why[r] ?? ','}` : `${row[ti]},${row[vi]},${scores[r]}`);
    }
    const outPath = join(outDir, name);
    mkdirSync(dirname(outPath), { recursive: true });
    writeFileSync(outPath, out.join('\n') + '\n');
    const file = { name, rows: n, detectMs: ms };
    files.push(file);
    onFile?.(file);
    rows += n;
    detectMs += ms;
  }
  return { files, rows, detectMs, totalMs: performance.now() - t0 };
}
