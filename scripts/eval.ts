// `npm run eval`: runs the evaluation suite (NAB dev corpus + synthetic suite) with the default
// detector profile and ends with one `EVAL {...}` line of figures.
//   node --import tsx scripts/eval.ts [--detectors FILE] [--keep]
// Datasets: ../shared/datasets from the repo root, or $TIDEMARK_DATASETS.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TidemarkError } from '../src/errors.ts';
import { loadDetectorSet, parseCliFlags, runEvalSuite } from '../src/eval/index.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
try {
  const flags = parseCliFlags(process.argv.slice(2), {
    detectors: { type: 'string' },
    keep: { type: 'boolean', default: false },
  });
  const datasets = process.env.TIDEMARK_DATASETS ?? resolve(root, '../shared/datasets');
  const detectorSet = await loadDetectorSet(flags.detectors as string | undefined);
  const figures = runEvalSuite({
    datasets,
    detectorSet,
    keep: flags.keep as boolean,
    log: (line) => process.stdout.write(line + '\n'),
  });
  process.stdout.write(`EVAL ${JSON.stringify(figures).replaceAll(',"', ', "').replaceAll('":', '": ')}\n`);
} catch (err) {
  if (!(err instanceof TidemarkError)) throw err;
  process.stderr.write(`eval: ${err.message} [${err.code}]\n`);
  process.exitCode = 2;
}
