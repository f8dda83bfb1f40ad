import type { Command } from '../command.ts';
import { TidemarkError } from '../../errors.ts';
import {
  fixed,
  formatNabTable,
  formatTable,
  loadNabResults,
  nabJsonLine,
  parseCliFlags,
  requireFlag,
  scoreNab,
} from '../../eval/index.ts';

const help = `Usage: tidemark eval score --results DIR --labels FILE [--json] [--per-file]

Scores a NAB results directory by the Numenta Anomaly Benchmark's rules (numenta/NAB): a
probationary period of min(floor(0.15*n), 750) rows per file, anomaly windows, the scaled
sigmoid, the three profiles (standard, reward_low_FP_rate, reward_low_FN_rate), one threshold
per profile optimised over all files jointly, and normalisation 100*(raw-null)/(perfect-null).

Options:
  --results DIR   results as DIR/<category>/<file>.csv with columns timestamp,anomaly_score
                  (value and other columns are ignored)
  --labels FILE   NAB windows (combined_windows.json); it lists the files that are scored
  --json          end with one line {"standard": x, "reward_low_FP_rate": y, "reward_low_FN_rate": z}
  --per-file      also print each file's standard-profile score and windows found

Example:
  tidemark eval score --results out/nab --labels ../shared/datasets/nab-dev/combined_windows.json --json
`;

/** `tidemark eval score`: the NAB scorer. */
export const evalScoreCommand: Command = {
  name: 'eval score',
  summary: 'Score a NAB results directory (normalised NAB scores per profile)',
  help,
  async run(argv) {
    const flags = parseCliFlags(argv, {
      results: { type: 'string' },
      labels: { type: 'string' },
      json: { type: 'boolean', default: false },
      'per-file': { type: 'boolean', default: false },
    });
    const resultsDir = requireFlag(flags.results as string | undefined, 'results');
    const labelsPath = requireFlag(flags.labels as string | undefined, 'labels');
    const corpus = loadNabResults(resultsDir, labelsPath);
    let results;
    try {
      results = scoreNab(corpus.files);
    } catch (err) {
      throw new TidemarkError('TM_ERR_INPUT', (err as Error).message, labelsPath);
    }
    const out: string[] = [];
    const windows = results[0]!.windowsTotal;
    out.push(`NAB score of ${resultsDir}: ${corpus.files.length} files, ${corpus.rows} rows, ${windows} windows`);
    if (corpus.unlabelled.length > 0) {
      out.push(`(ignored ${corpus.unlabelled.length} results files the labels do not list: ${corpus.unlabelled.slice(0, 5).join(', ')}${corpus.unlabelled.length > 5 ? ', ...' : ''})`);
    }
    out.push('');
    out.push(formatNabTable(results));
    out.push('');
    out.push('TP/FP/FN rows are scored rows counted as NAB counts them; "windows" = windows with a detection.');
    if (flags['per-file']) {
      const std = results[0]!;
      out.push('');
      out.push(`Per file, ${std.profile} profile at threshold ${fixed(std.threshold, 6)}:`);
      out.push(
        formatTable(
          ['file', 'score', 'windows', 'FP rows'],
          std.files.map((f) => [f.name, fixed(f.score, 3), `${f.windowsDetected}/${f.windowsTotal}`, String(f.fp)]),
        ),
      );
    }
    if (flags.json) out.push(nabJsonLine(results));
    process.stdout.write(out.join('\n') + '\n');
    return 0;
  },
};
