/**
 * The evaluation suite behind `npm run eval`: the NAB dev corpus (run + score) and the synthetic
 * suite (generate + replay + score) at 1 minute and again at 5 minutes, with one summary line
 * of figures at the end.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DetectorSet } from '../detect/types.ts';
import { TidemarkError } from '../errors.ts';
import { fixed, formatNabTable, formatReplaySummary, formatReplayTable, minutes, round } from './format.ts';
import { scoreNab } from './nab.ts';
import { loadNabResults } from './nab-io.ts';
import { runNab } from './nab-run.ts';
import { REPLAY_DEFAULTS, replayAll, scoreReplay, type ReplayOptions, type ReplayScore } from './replay.ts';
import { readLabels, readSeriesInput, writeSuite } from './series-io.ts';
import { SYNTH_DEFAULTS, generateSuite, type SynthOptions } from './synth.ts';

/** The synthetic suite `npm run eval` generates: fixed seed, 40 series x 14 days at 1 minute. */
export const EVAL_SYNTH: Readonly<SynthOptions> = Object.freeze({
  ...SYNTH_DEFAULTS,
  series: 40,
  days: 14,
  intervalMs: 60_000,
  seed: 2024,
  cleanFraction: 0.25, // 10 clean series, 30 with anomalies (each kind on 3-4 series)
});

/**
 * The same suite sampled every 5 minutes (CloudWatch's default period, a common scrape
 * interval): a window of points spans hours of the daily cycle and a spike is one point, so
 * detection differs from the 1-minute suite. Reported beside it, not a target of its own.
 */
export const EVAL_SYNTH_5MIN: Readonly<SynthOptions> = Object.freeze({ ...EVAL_SYNTH, intervalMs: 300_000 });

export interface SuiteOptions {
  /** The shared datasets folder (holding nab-dev/). */
  readonly datasets: string;
  readonly detectorSet: DetectorSet;
  readonly synth?: SynthOptions;
  /** The coarse-sampling suite (default EVAL_SYNTH_5MIN); null skips it. */
  readonly coarse?: SynthOptions | null;
  readonly replay?: ReplayOptions;
  /** Keep the temporary results instead of deleting them (NAB's with each scored row's reasons: see runNab). */
  readonly keep?: boolean;
  readonly log: (line: string) => void;
}

/** The figures of one suite run (the EVAL line). */
export interface SuiteFigures {
  nab_standard: number | null;
  nab_low_fp: number | null;
  nab_low_fn: number | null;
  synthetic_f1: number | null;
  clean_false_alerts_per_series_week: number | null;
  /** The coarse-sampling suite's F1 and clean false alerts (null when it was skipped). */
  synthetic_5min_f1: number | null;
  clean_5min_false_alerts_per_series_week: number | null;
}

/** Runs the suite, logging progress and tables, and returns the figures. */
export function runEvalSuite(options: SuiteOptions): SuiteFigures {
  const { log } = options;
  const nabDir = join(options.datasets, 'nab-dev');
  const windows = join(nabDir, 'combined_windows.json');
  if (!existsSync(join(nabDir, 'data')) || !existsSync(windows)) {
    throw new TidemarkError('TM_ERR_NOT_FOUND', 'expected nab-dev/data and nab-dev/combined_windows.json (set TIDEMARK_DATASETS)', options.datasets);
  }
  const work = mkdtempSync(join(tmpdir(), 'tidemark-eval-'));
  try {
    log(`== NAB (${nabDir}) ==`);
    const run = runNab(join(nabDir, 'data'), join(work, 'nab'), options.detectorSet, undefined, { reasons: options.keep === true });
    log(`${run.files.length} files, ${run.rows} rows; detectors ${Math.round(run.rows / Math.max(run.detectMs / 1000, 1e-9))} points/s`);
    const nab = scoreNab(loadNabResults(join(work, 'nab'), windows).files);
    log(formatNabTable(nab));

    const replayOptions = options.replay ?? REPLAY_DEFAULTS;
    const synthetic = (synth: SynthOptions, dir: string) => {
      log('');
      log(`== synthetic: ${synth.series} series x ${synth.days} days at ${synth.intervalMs / 1000}s, seed ${synth.seed} ==`);
      const synthDir = join(work, dir);
      writeSuite(synthDir, generateSuite(synth), synth);
      const labels = readLabels(join(synthDir, 'labels.json'));
      const replay = replayAll(options.detectorSet, readSeriesInput(synthDir), replayOptions);
      log(`${replay.points} points; detectors ${Math.round(replay.points / Math.max(replay.ms / 1000, 1e-9))} points/s; threshold ${replayOptions.threshold}`);
      const score = scoreReplay(replay.replays, labels.labels, labels.expected, replayOptions);
      log(formatReplayTable(score));
      log(formatReplaySummary(score));
      return score;
    };
    const score = synthetic(options.synth ?? EVAL_SYNTH, 'synth');
    const coarseOptions = options.coarse === undefined ? EVAL_SYNTH_5MIN : options.coarse;
    const coarse = coarseOptions === null ? null : { options: coarseOptions, score: synthetic(coarseOptions, 'synth-coarse') };

    const by = (name: string) => nab.find((p) => p.profile === name)!.score;
    const summary = (what: string, s: ReplayScore) => {
      const o = s.overall;
      log(
        `${what} F1 ${fixed(o.f1, 3)} (precision ${fixed(o.precision, 3)}, recall ${fixed(o.recall, 3)}), mean delay ${minutes(o.meanDelayMs)} min, ` +
          `clean false alerts ${fixed(s.clean.perSeriesWeek, 3)} per series per week`,
      );
    };
    log('');
    log(`NAB standard ${fixed(by('standard'), 2)}, reward_low_FP_rate ${fixed(by('reward_low_FP_rate'), 2)}, reward_low_FN_rate ${fixed(by('reward_low_FN_rate'), 2)}`);
    summary('synthetic', score);
    if (coarse !== null) summary(`synthetic at ${coarse.options.intervalMs / 60_000} min`, coarse.score);
    if (options.keep) log(`results kept in ${work}`);
    return {
      nab_standard: round(by('standard'), 2),
      nab_low_fp: round(by('reward_low_FP_rate'), 2),
      nab_low_fn: round(by('reward_low_FN_rate'), 2),
      synthetic_f1: round(score.overall.f1, 3),
      clean_false_alerts_per_series_week: round(score.clean.perSeriesWeek, 3),
      synthetic_5min_f1: coarse === null ? null : round(coarse.score.overall.f1, 3),
      clean_5min_false_alerts_per_series_week: coarse === null ? null : round(coarse.score.clean.perSeriesWeek, 3),
    };
  } finally {
    if (!options.keep) rmSync(work, { recursive: true, force: true });
  }
}
