// The evaluation harness: NAB scoring and running, synthetic injection, replay and scoring.
export { parseCliFlags, requireFlag, intFlag, numberFlag, durationFlag } from './args.ts';
export { loadDetectorSet, parseDetectorEntries } from './detectors.ts';
export { fixed, formatNabTable, formatReplaySummary, formatReplayTable, formatTable, minutes, nabJsonLine, round } from './format.ts';
export { NAB_PROFILES, scoreNab, type NabFile, type NabProfileResult } from './nab.ts';
export { discoverNabFiles, loadNabResults, readNabWindows } from './nab-io.ts';
export { runNab, type NabRunSummary } from './nab-run.ts';
export {
  REPLAY_DEFAULTS,
  replayAll,
  replaySeries,
  scoreReplay,
  type AnomalyEvent,
  type JudgedEvent,
  type KindMetrics,
  type ReplayLabel,
  type ReplayOptions,
  type ReplayScore,
  type ReplaySeries,
  type SeriesReplay,
} from './replay.ts';
export { LABELS_FILE, readLabels, readSeriesInput, writeSuite } from './series-io.ts';
export { EVAL_SYNTH, runEvalSuite, type SuiteFigures } from './suite.ts';
export { ANOMALY_KINDS, SYNTH_DEFAULTS, generateSuite, type AnomalyKind, type SynthOptions, type SynthSeries } from './synth.ts';
export { formatTimestamp, parseTimestamp } from './time.ts';
