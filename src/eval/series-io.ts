/**
 * Series files for replay and injection.
 *
 * CSV: header `timestamp,value`, one point per row; timestamps are numbers since the epoch
 * (milliseconds, what `tidemark inject` writes, or seconds, microseconds or nanoseconds, told
 * apart by magnitude: see `epochMs`) or ISO-8601 (`2024-01-01T00:00:00Z`; UTC when no offset is
 * given); an empty value is a missing point (NaN). The series is named after the file.
 * JSON: `[{name, points: [[t, v], ...]}]` or `{series: [...]}` (t as a number since the epoch or
 * ISO text, v a number or null for missing).
 * Labels: `{labels: [{series, kind, start, end}], expected: [...]}` as written by inject, or a
 * bare list of labels; start/end as numbers since the epoch or ISO text, inclusive.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { TidemarkError } from '../errors.ts';
import { columnIndex, parseCsv } from './csv.ts';
import type { ReplayLabel, ReplaySeries } from './replay.ts';
import type { SynthOptions, SynthSeries } from './synth.ts';
import { epochMs, parseTimestamp } from './time.ts';

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new TidemarkError('TM_ERR_NOT_FOUND', 'no such file', path);
    throw err;
  }
}

function checkOrder(times: Float64Array, where: (i: number) => string): void {
  for (let i = 1; i < times.length; i++) {
    if (times[i]! < times[i - 1]!) throw new TidemarkError('TM_ERR_INPUT', 'timestamps go backwards; points must be in time order', where(i));
  }
}

/** Parses a `timestamp,value` CSV into one series named `name`. */
export function parseSeriesCsv(text: string, name: string, path: string): ReplaySeries {
  const table = parseCsv(text, path);
  const ti = columnIndex(table, 'timestamp', path);
  const vi = columnIndex(table, 'value', path);
  const n = table.rows.length;
  const times = new Float64Array(n);
  const values = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    const row = table.rows[r]!;
    const where = `${path}:${table.lines[r]}`;
    const t = parseTimestamp(row[ti] ?? '');
    if (Number.isNaN(t)) throw new TidemarkError('TM_ERR_INPUT', `'${row[ti] ?? ''}' is not a timestamp (a number since the epoch or ISO-8601)`, where);
    const text = (row[vi] ?? '').trim();
    const v = text === '' ? NaN : Number(text);
    if (text !== '' && Number.isNaN(v)) throw new TidemarkError('TM_ERR_INPUT', `value '${text}' is not a number`, where);
    times[r] = t;
    values[r] = v;
  }
  checkOrder(times, (i) => `${path}:${table.lines[i]}`);
  return { name, times, values };
}

function jsonTime(x: unknown): number {
  if (typeof x === 'number') return Number.isFinite(x) ? epochMs(x) : NaN;
  if (typeof x === 'string') return parseTimestamp(x);
  return NaN;
}

/** Parses JSON series: `[{name, points: [[t, v], ...]}]` or `{series: [...]}`. */
export function parseSeriesJson(text: string, path: string): ReplaySeries[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new TidemarkError('TM_ERR_INPUT', `not valid JSON: ${(err as Error).message}`, path);
  }
  const list = Array.isArray(doc) ? doc : (doc as { series?: unknown } | null)?.series;
  if (!Array.isArray(list)) throw new TidemarkError('TM_ERR_INPUT', 'expected [{name, points: [[t, v], ...]}] or {series: [...]}', path);
  return list.map((s: unknown, k: number) => {
    const where = `${path}: series[${k}]`;
    const { name, points } = (s ?? {}) as { name?: unknown; points?: unknown };
    if (typeof name !== 'string' || name === '') throw new TidemarkError('TM_ERR_INPUT', 'expected a series name', `${where}.name`);
    if (!Array.isArray(points)) throw new TidemarkError('TM_ERR_INPUT', 'expected points: [[t, v], ...]', `${where}.points`);
    const times = new Float64Array(points.length);
    const values = new Float64Array(points.length);
    points.forEach((p: unknown, i: number) => {
      const ok = Array.isArray(p) && p.length === 2 && (typeof p[1] === 'number' || p[1] === null);
      const t = ok ? jsonTime((p as unknown[])[0]) : NaN;
      if (!ok || Number.isNaN(t)) throw new TidemarkError('TM_ERR_INPUT', 'expected [timestamp, value or null]', `${where}.points[${i}]`);
      times[i] = t;
      values[i] = (p as unknown[])[1] === null ? NaN : ((p as unknown[])[1] as number);
    });
    checkOrder(times, (i) => `${where}.points[${i}]`);
    return { name, times, values };
  });
}

/** The name `labels.json` inject writes; replay skips it when reading a directory. */
export const LABELS_FILE = 'labels.json';

/** Reads series from a CSV or JSON file, or from every such file of a directory (sorted). */
export function readSeriesInput(path: string): ReplaySeries[] {
  if (!existsSync(path)) throw new TidemarkError('TM_ERR_NOT_FOUND', 'no such file or directory', path);
  if (statSync(path).isDirectory()) {
    const files = readdirSync(path)
      .filter((f) => (f.endsWith('.csv') || f.endsWith('.json')) && f !== LABELS_FILE)
      .sort();
    if (files.length === 0) throw new TidemarkError('TM_ERR_INPUT', 'no .csv or .json series files found', path);
    return files.flatMap((f) => readSeriesInput(join(path, f)));
  }
  const text = readText(path);
  if (extname(path) === '.json') return parseSeriesJson(text, path);
  return [parseSeriesCsv(text, basename(path, extname(path)), path)];
}

export interface LabelsFile {
  readonly labels: ReplayLabel[];
  readonly expected: ReplayLabel[];
}

function parseLabelList(list: unknown, where: string): ReplayLabel[] {
  if (!Array.isArray(list)) throw new TidemarkError('TM_ERR_INPUT', 'expected a list of {series, kind, start, end}', where);
  return list.map((x: unknown, i: number) => {
    const at = `${where}[${i}]`;
    const { series, kind, start, end } = (x ?? {}) as Record<string, unknown>;
    if (typeof series !== 'string') throw new TidemarkError('TM_ERR_INPUT', 'expected a series name', `${at}.series`);
    if (typeof kind !== 'string') throw new TidemarkError('TM_ERR_INPUT', 'expected a kind', `${at}.kind`);
    const s = jsonTime(start);
    const e = jsonTime(end);
    if (Number.isNaN(s) || Number.isNaN(e) || e < s) {
      throw new TidemarkError('TM_ERR_INPUT', 'expected start <= end, as numbers since the epoch or ISO-8601 timestamps', at);
    }
    return { series, kind, start: s, end: e };
  });
}

/** Reads a labels file (inject's labels.json, or a bare list of labels). */
export function readLabels(path: string): LabelsFile {
  const text = readText(path);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new TidemarkError('TM_ERR_INPUT', `not valid JSON: ${(err as Error).message}`, path);
  }
  if (Array.isArray(doc)) return { labels: parseLabelList(doc, path), expected: [] };
  const o = (doc ?? {}) as { labels?: unknown; expected?: unknown };
  return {
    labels: parseLabelList(o.labels, `${path}: labels`),
    expected: o.expected === undefined ? [] : parseLabelList(o.expected, `${path}: expected`),
  };
}

/**
 * Writes a generated suite: one `<name>.csv` per series (`timestamp,value`, timestamp in ms since
 * the epoch) and `labels.json` with the generator options, series, labels and expected changes.
 */
export function writeSuite(dir: string, suite: readonly SynthSeries[], options: SynthOptions): void {
  mkdirSync(dir, { recursive: true });
  for (const s of suite) {
    const lines: string[] = ['timestamp,value'];
    for (let i = 0; i < s.times.length; i++) lines.push(`${s.times[i]},${Number.isNaN(s.values[i]!) ? '' : s.values[i]}`);
    writeFileSync(join(dir, `${s.name}.csv`), lines.join('\n') + '\n');
  }
  const doc = {
    format: 'tidemark-synth/1',
    generator: { ...options, start: new Date(options.start).toISOString() },
    series: suite.map((s) => ({ name: s.name, metric: s.metric, anomaly: s.anomaly })),
    labels: suite.flatMap((s) => s.labels),
    expected: suite.flatMap((s) => s.expected),
  };
  writeFileSync(join(dir, LABELS_FILE), JSON.stringify(doc, null, 1) + '\n');
}
