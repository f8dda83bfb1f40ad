/**
 * Reading NAB-format corpora from disk: `<dir>/<category>/<file>.csv` data or results files and
 * the `combined_windows.json` labels (`{"<category>/<file>.csv": [["start", "end"], ...]}`).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TidemarkError } from '../errors.ts';
import { columnIndex, readCsvFile } from './csv.ts';
import type { NabFile } from './nab.ts';
import { parseTimestamp } from './time.ts';

/** Lists `<category>/<file>.csv` under `dir` (one level of category folders), sorted. */
export function discoverNabFiles(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new TidemarkError('TM_ERR_NOT_FOUND', 'no such directory', dir);
  }
  const out: string[] = [];
  for (const category of readdirSync(dir).sort()) {
    const catPath = join(dir, category);
    if (category.startsWith('.') || !statSync(catPath).isDirectory()) continue;
    for (const name of readdirSync(catPath).sort()) {
      if (name.endsWith('.csv') && statSync(join(catPath, name)).isFile()) out.push(`${category}/${name}`);
    }
  }
  return out;
}

/** NAB windows per file, as written in the labels file (timestamps still text). */
export type NabWindowsFile = ReadonlyMap<string, readonly (readonly [string, string])[]>;

/** Reads a `combined_windows.json`-style labels file, checking its shape. */
export function readNabWindows(path: string): NabWindowsFile {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new TidemarkError('TM_ERR_NOT_FOUND', 'no such file', path);
    throw new TidemarkError('TM_ERR_INPUT', `not valid JSON: ${(err as Error).message}`, path);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new TidemarkError('TM_ERR_INPUT', 'expected an object mapping "<category>/<file>.csv" to a list of [start, end] windows', path);
  }
  const out = new Map<string, (readonly [string, string])[]>();
  for (const [file, windows] of Object.entries(raw)) {
    if (!Array.isArray(windows)) throw new TidemarkError('TM_ERR_INPUT', 'expected a list of [start, end] windows', `${path}: ${file}`);
    const list: (readonly [string, string])[] = [];
    windows.forEach((w: unknown, i: number) => {
      if (!Array.isArray(w) || w.length !== 2 || typeof w[0] !== 'string' || typeof w[1] !== 'string') {
        throw new TidemarkError('TM_ERR_INPUT', 'expected a window ["start timestamp", "end timestamp"]', `${path}: ${file}[${i}]`);
      }
      list.push([w[0], w[1]]);
    });
    out.set(file, list);
  }
  return out;
}

/**
 * Resolves text windows against a file's row times, as NAB's CorpusLabel does: every bound must
 * be a row time exactly, and windows must be in order and not overlap.
 */
export function resolveWindows(
  windows: readonly (readonly [string, string])[],
  times: ArrayLike<number>,
  where: string,
): [number, number][] {
  const present = new Set<number>();
  for (let i = 0; i < times.length; i++) present.add(times[i]!);
  const out: [number, number][] = [];
  windows.forEach(([a, b], i) => {
    const start = parseTimestamp(a);
    const end = parseTimestamp(b);
    for (const [text, t] of [[a, start], [b, end]] as const) {
      if (Number.isNaN(t)) throw new TidemarkError('TM_ERR_INPUT', `window ${i}: '${text}' is not a timestamp`, where);
      if (!present.has(t)) {
        throw new TidemarkError('TM_ERR_INPUT', `window ${i}: timestamp '${text}' is not a row of the file (window bounds must match row timestamps exactly)`, where);
      }
    }
    if (end < start) throw new TidemarkError('TM_ERR_INPUT', `window ${i}: ends (${b}) before it starts (${a})`, where);
    const prev = out[out.length - 1];
    if (prev !== undefined && start < prev[1]) {
      throw new TidemarkError('TM_ERR_INPUT', `window ${i}: starts (${a}) before window ${i - 1} ends; windows must be sorted and not overlap`, where);
    }
    out.push([start, end]);
  });
  return out;
}

export interface NabResultsCorpus {
  readonly files: NabFile[];
  /** Results files present under the directory but not listed in the labels (not scored). */
  readonly unlabelled: string[];
  readonly rows: number;
}

/**
 * Loads `<resultsDir>/<category>/<file>.csv` (columns timestamp, anomaly_score; value optional)
 * for every file the labels list. A labelled file without results is an error naming it.
 */
export function loadNabResults(resultsDir: string, labelsPath: string): NabResultsCorpus {
  const labels = readNabWindows(labelsPath);
  const present = discoverNabFiles(resultsDir);
  const files: NabFile[] = [];
  let rows = 0;
  for (const name of [...labels.keys()].sort()) {
    const path = join(resultsDir, name);
    if (!existsSync(path)) {
      throw new TidemarkError('TM_ERR_NOT_FOUND', `no results for labelled file '${name}' (expected ${path})`, resultsDir);
    }
    const table = readCsvFile(path);
    const ti = columnIndex(table, 'timestamp', path);
    const si = columnIndex(table, 'anomaly_score', path);
    const n = table.rows.length;
    const times = new Float64Array(n);
    const scores = new Float64Array(n);
    for (let r = 0; r < n; r++) {
      const row = table.rows[r]!;
      const where = `${path}:${table.lines[r]}`;
      const t = parseTimestamp(row[ti] ?? '');
      if (Number.isNaN(t)) throw new TidemarkError('TM_ERR_INPUT', `'${row[ti] ?? ''}' is not a timestamp`, where);
      const text = (row[si] ?? '').trim();
      const s = text === '' ? NaN : Number(text);
      if (!(s >= 0 && s <= 1)) throw new TidemarkError('TM_ERR_INPUT', `anomaly_score '${text}' is not a number in [0, 1]`, where);
      times[r] = t;
      scores[r] = s;
    }
    files.push({ name, times, scores, windows: resolveWindows(labels.get(name)!, times, `${labelsPath}: ${name}`) });
    rows += n;
  }
  const unlabelled = present.filter((p) => !labels.has(p));
  return { files, unlabelled, rows };
}
