import type { Command } from '../command.ts';
import {
  REPLAY_DEFAULTS,
  fixed,
  formatReplaySummary,
  formatReplayTable,
  formatTable,
  formatTimestamp,
  intFlag,
  loadDetectorSet,
  minutes,
  numberFlag,
  parseCliFlags,
  readLabels,
  readSeriesInput,
  replayAll,
  requireFlag,
  round,
  scoreReplay,
  type JudgedEvent,
  type ReplayOptions,
} from '../../eval/index.ts';

const help = `Usage: tidemark replay --input FILE|DIR [--labels FILE] [--detectors FILE] [--threshold 0.9]
                       [--merge-gap N] [--tolerance N] [--json]

Replays series through a detector set (each series with a fresh state, points in time order)
and prints the anomaly events found; with labels, scores them.

Input: a CSV (timestamp,value; timestamp in seconds, ms, us or ns since the epoch, told apart
by magnitude, or ISO-8601, UTC unless an offset is given; an empty value is a missing point), a
JSON file ([{name, points: [[t, v], ...]}]), or a directory of such files (labels.json is
skipped). A CSV series is named after its file.

Events: a point alerts when its fused score >= --threshold (never while learning). Alerting
points less than --merge-gap sampling intervals apart form one event, from its first to its last
alerting point.
Scoring (--labels, e.g. inject's labels.json): an event matches a label of its series when it
overlaps [start, end + --tolerance intervals]; a label counts as detected once; detection delay =
first alerting point - label start. Events on expected changes (deploy, restart, holiday) are
neither true nor false alerts. Prints precision, recall, F1, mean delay and false alerts per day,
overall and per anomaly kind, and false alerts per series per week on series without labels.

Options:
  --input PATH       series file or directory
  --labels FILE      labels to score against (optional)
  --detectors FILE   YAML/JSON \`detectors: [{name, config}]\` (default: the default profile)
  --threshold X      alert threshold on the fused score, 0..1        (default ${REPLAY_DEFAULTS.threshold})
  --merge-gap N      merge alerting points closer than N intervals   (default ${REPLAY_DEFAULTS.mergeGap})
  --tolerance N      label windows extend N intervals past their end (default ${REPLAY_DEFAULTS.tolerance})
  --json             print one JSON object (events and metrics) instead of tables

Example:
  tidemark inject --out /tmp/synth && tidemark replay --input /tmp/synth --labels /tmp/synth/labels.json
`;

const MAX_LISTED = 200;

function verdictText(e: JudgedEvent): string {
  return e.kind === null ? e.verdict : `${e.verdict} (${e.kind})`;
}

/** `tidemark replay`: run series through detectors and score the events. */
export const replayCommand: Command = {
  name: 'replay',
  summary: 'Replay series through detectors; list anomalies and score them against labels',
  help,
  async run(argv) {
    const flags = parseCliFlags(argv, {
      input: { type: 'string' },
      labels: { type: 'string' },
      detectors: { type: 'string' },
      threshold: { type: 'string' },
      'merge-gap': { type: 'string' },
      tolerance: { type: 'string' },
      json: { type: 'boolean', default: false },
    });
    const input = requireFlag(flags.input as string | undefined, 'input');
    const options: ReplayOptions = {
      threshold: numberFlag(flags.threshold as string | undefined, 'threshold', REPLAY_DEFAULTS.threshold, 0, 1),
      mergeGap: intFlag(flags['merge-gap'] as string | undefined, 'merge-gap', REPLAY_DEFAULTS.mergeGap, 1, 1_000_000),
      tolerance: intFlag(flags.tolerance as string | undefined, 'tolerance', REPLAY_DEFAULTS.tolerance, 0, 1_000_000),
    };
    const series = readSeriesInput(input);
    const labels = flags.labels === undefined ? undefined : readLabels(flags.labels as string);
    const set = await loadDetectorSet(flags.detectors as string | undefined);
    const run = replayAll(set, series, options);
    const events = run.replays.flatMap((r) => r.events);
    const score = labels === undefined ? undefined : scoreReplay(run.replays, labels.labels, labels.expected, options);
    const pps = run.points / Math.max(run.ms / 1000, 1e-9);

    if (flags.json) {
      const metric = (m: NonNullable<typeof score>['overall']) => ({
        kind: m.kind,
        labels: m.labels,
        detected: m.detected,
        precision: round(m.precision),
        recall: round(m.recall),
        f1: round(m.f1),
        mean_delay_ms: round(m.meanDelayMs, 0),
        false_alerts: m.falseAlerts,
        false_alerts_per_day: round(m.falseAlertsPerDay),
      });
      const doc = {
        series: series.length,
        points: run.points,
        points_per_second: Math.round(pps),
        options,
        events: (score?.events ?? events).map((e) => ({
          series: e.series,
          start: e.start,
          end: e.end,
          peak: round(e.peak),
          reasons: e.reasons,
          ...(score === undefined ? {} : { verdict: (e as JudgedEvent).verdict, kind: (e as JudgedEvent).kind }),
        })),
        ...(score === undefined
          ? {}
          : {
              overall: metric(score.overall),
              by_kind: score.byKind.map(metric),
              true_alerts: score.trueAlerts,
              false_alerts: score.falseAlerts,
              expected_alerts: score.expectedAlerts,
              clean: { series: score.clean.series, false_alerts: score.clean.falseAlerts, per_series_week: round(score.clean.perSeriesWeek) },
            }),
      };
      process.stdout.write(JSON.stringify(doc) + '\n');
      return 0;
    }

    const out: string[] = [];
    out.push(
      `replayed ${series.length} series, ${run.points} points in ${(run.ms / 1000).toFixed(2)} s (${Math.round(pps)} points/s); ` +
        `threshold ${options.threshold}, merge gap ${options.mergeGap} intervals`,
    );
    out.push('');
    out.push(`anomalies found: ${events.length}${events.length > MAX_LISTED ? ` (first ${MAX_LISTED} listed)` : ''}`);
    if (events.length > 0) {
      const listed = (score?.events ?? events).slice(0, MAX_LISTED);
      out.push(
        formatTable(
          ['series', 'start', 'end', 'peak', score ? 'verdict' : 'points', 'reasons'],
          listed.map((e) => [
            e.series,
            formatTimestamp(e.start),
            formatTimestamp(e.end),
            fixed(e.peak, 3),
            score === undefined ? String(e.points) : verdictText(e as JudgedEvent),
            e.reasons.join(','),
          ]),
        ),
      );
    }
    if (score !== undefined) {
      out.push('');
      out.push(`scored against ${flags.labels} (${score.labels.length} labels; tolerance ${options.tolerance} intervals):`);
      out.push(formatReplayTable(score));
      out.push('');
      out.push(formatReplaySummary(score));
      const missed = score.labels.filter((l) => !l.detected);
      if (missed.length > 0) {
        out.push(`missed: ${missed.slice(0, 20).map((l) => `${l.series} ${l.kind} @ ${formatTimestamp(l.start)}`).join('; ')}${missed.length > 20 ? '; ...' : ''}`);
      }
      out.push(`mean detection delay: ${minutes(score.overall.meanDelayMs)} min`);
    }
    process.stdout.write(out.join('\n') + '\n');
    return 0;
  },
};
