/** Plain-text tables and number formatting for evaluation reports. */
import type { NabProfileResult } from './nab.ts';
import type { KindMetrics, ReplayScore } from './replay.ts';

/** Left-aligns the first column and right-aligns the others, two spaces apart. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (r: readonly string[]) =>
    r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** `x` with `digits` decimals; NaN and infinities as `-`. */
export function fixed(x: number, digits: number): string {
  return Number.isFinite(x) ? x.toFixed(digits) : '-';
}

/** Rounds for machine-readable output (JSON lines), keeping NaN out of JSON. */
export function round(x: number, digits = 4): number | null {
  if (!Number.isFinite(x)) return null;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** The per-profile NAB table: normalised score, threshold, raw/null scores, windows and row counts. */
export function formatNabTable(results: readonly NabProfileResult[]): string {
  return formatTable(
    ['profile', 'score', 'threshold', 'raw', 'null', 'windows', 'TP rows', 'FP rows', 'FN rows'],
    results.map((p) => [
      p.profile,
      fixed(p.score, 2),
      p.threshold > 1 ? 'none' : fixed(p.threshold, 6),
      fixed(p.raw, 3),
      fixed(p.nullScore, 3),
      `${p.windowsDetected}/${p.windowsTotal}`,
      String(p.counts.tp),
      String(p.counts.fp),
      String(p.counts.fn),
    ]),
  );
}

/** The exact last line of `eval score --json`: the three normalised scores. */
export function nabJsonLine(results: readonly NabProfileResult[]): string {
  const by = (name: string) => round(results.find((p) => p.profile === name)?.score ?? NaN);
  return `{"standard": ${by('standard')}, "reward_low_FP_rate": ${by('reward_low_FP_rate')}, "reward_low_FN_rate": ${by('reward_low_FN_rate')}}`;
}

/** Milliseconds as minutes with one decimal, or `-`. */
export function minutes(ms: number): string {
  return Number.isFinite(ms) ? (ms / 60_000).toFixed(1) : '-';
}

/** The replay metrics table: one row per anomaly kind, then the overall row. */
export function formatReplayTable(score: ReplayScore): string {
  const row = (m: KindMetrics) => [
    m.kind,
    String(m.labels),
    String(m.detected),
    fixed(m.recall, 3),
    fixed(m.precision, 3),
    fixed(m.f1, 3),
    minutes(m.meanDelayMs),
    String(m.falseAlerts),
    fixed(m.falseAlertsPerDay, 3),
  ];
  return formatTable(
    ['kind', 'labels', 'detected', 'recall', 'precision', 'F1', 'delay min', 'false alerts', 'false/day'],
    [...score.byKind.map(row), row(score.overall)],
  );
}

/** The summary lines under the replay table: alert counts and the clean-series false alert rate. */
export function formatReplaySummary(score: ReplayScore): string {
  const c = score.clean;
  return [
    `alerts: ${score.trueAlerts} true, ${score.falseAlerts} false, ${score.expectedAlerts} on expected changes (deploy/restart/holiday; not counted as false)`,
    c.series > 0
      ? `clean series: ${c.series}, ${c.falseAlerts} false alerts = ${fixed(c.perSeriesWeek, 3)} per series per week`
      : 'clean series: none (every series has labels)',
  ].join('\n');
}
