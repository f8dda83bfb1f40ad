import type { Command } from '../command.ts';
import { loadDetectorSet, parseCliFlags, requireFlag, runNab } from '../../eval/index.ts';

const help = `Usage: tidemark eval nab --data DIR --out DIR [--detectors FILE] [--reasons] [--quiet]

Runs a detector set over a NAB-format corpus and writes NAB results. Every
DIR/<category>/<file>.csv (columns timestamp,value; timestamps UTC) streams through a fresh
detector state, one row at a time in file order, with no labels and the same settings for every
file. Writes OUT/<category>/<file>.csv with header timestamp,value,anomaly_score, one row per
input row, timestamps and values copied verbatim; anomaly_score is the fused score in [0, 1]
(0 while the detectors are learning). Score the output with \`tidemark eval score\`.

Options:
  --data DIR         NAB data directory (e.g. ../shared/datasets/nab-dev/data)
  --out DIR          where to write results (created if missing; files are overwritten)
  --detectors FILE   YAML/JSON file \`detectors: [{name, config}]\` (default: the default profile)
  --reasons          also write columns reason,detector: each scored row's reasons and the
                     detectors behind them, strongest first, joined by ';' (empty where the
                     row scored 0); the scorer ignores them
  --quiet            print only the summary line

Example:
  tidemark eval nab --data ../shared/datasets/nab-dev/data --out /tmp/nab-results
`;

/** `tidemark eval nab`: the NAB runner. */
export const evalNabCommand: Command = {
  name: 'eval nab',
  summary: 'Run detectors over a NAB corpus and write NAB results files',
  help,
  async run(argv) {
    const flags = parseCliFlags(argv, {
      data: { type: 'string' },
      out: { type: 'string' },
      detectors: { type: 'string' },
      reasons: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
    });
    const dataDir = requireFlag(flags.data as string | undefined, 'data');
    const outDir = requireFlag(flags.out as string | undefined, 'out');
    const set = await loadDetectorSet(flags.detectors as string | undefined);
    const summary = runNab(dataDir, outDir, set, (f) => {
      if (!flags.quiet) process.stdout.write(`${f.name}  ${f.rows} rows  ${Math.round(f.rows / Math.max(f.detectMs / 1000, 1e-9))} points/s\n`);
    }, { reasons: flags.reasons as boolean });
    const pps = summary.rows / Math.max(summary.detectMs / 1000, 1e-9);
    process.stdout.write(
      `${summary.files.length} files, ${summary.rows} rows in ${(summary.totalMs / 1000).toFixed(2)} s; ` +
        `detectors ${Math.round(pps)} points/s (${(summary.detectMs / 1000).toFixed(2)} s); results in ${outDir}\n`,
    );
    return 0;
  },
};
