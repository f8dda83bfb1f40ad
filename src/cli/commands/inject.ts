import type { Command } from '../command.ts';
import { TidemarkError } from '../../errors.ts';
import {
  ANOMALY_KINDS,
  SYNTH_DEFAULTS,
  durationFlag,
  generateSuite,
  intFlag,
  numberFlag,
  parseCliFlags,
  requireFlag,
  writeSuite,
  type AnomalyKind,
  type SynthOptions,
} from '../../eval/index.ts';

const help = `Usage: tidemark inject --out DIR [--series N] [--days D] [--interval 60s] [--seed S]
                       [--kinds a,b,..] [--clean | --clean-fraction F]

Generates realistic DevOps metric series with labelled anomalies (seeded: the same options give
the same files). Metrics: qps, latency_p50, latency_p99, errors, cpu, counter, with daily and
weekly seasonality, a weekend dip, a slow trend, noise proportional to the level and a holiday.
Benign changes (deploy steps, counter restarts, the holiday) are labelled "expected", not anomalies.
Each anomalous series carries 2-3 anomalies of one kind (fewer if they do not fit), injected after
the first half; p99 latency also has rare benign tail bursts (x1.2-1.5), as real p99s do.

Writes DIR/<name>.csv (header timestamp,value; timestamp = integer ms since the epoch, UTC) and
DIR/labels.json: {labels: [{series, kind, start, end}], expected: [...], series, generator}
(start/end in ms, inclusive).

Options:
  --out DIR              output directory (created if missing)
  --series N             number of series                         (default ${SYNTH_DEFAULTS.series})
  --days D               days per series                          (default ${SYNTH_DEFAULTS.days})
  --interval DUR         sampling interval, e.g. 60s, 5m          (default 60s)
  --seed S               random seed                              (default ${SYNTH_DEFAULTS.seed})
  --kinds a,b,..         anomaly kinds, round-robin over series   (default: all)
                         ${ANOMALY_KINDS.join(', ')}
  --clean                no anomalies at all (same as --clean-fraction 1)
  --clean-fraction F     share of series left clean, 0..1         (default ${SYNTH_DEFAULTS.cleanFraction})

Example:
  tidemark inject --out /tmp/synth --series 12 --days 14 --kinds spike,level_shift --seed 7
`;

/** `tidemark inject`: the synthetic series generator. */
export const injectCommand: Command = {
  name: 'inject',
  summary: 'Generate synthetic metric series with labelled anomalies',
  help,
  async run(argv) {
    const flags = parseCliFlags(argv, {
      out: { type: 'string' },
      series: { type: 'string' },
      days: { type: 'string' },
      interval: { type: 'string' },
      seed: { type: 'string' },
      kinds: { type: 'string' },
      clean: { type: 'boolean', default: false },
      'clean-fraction': { type: 'string' },
    });
    const out = requireFlag(flags.out as string | undefined, 'out');
    let kinds: readonly AnomalyKind[] = ANOMALY_KINDS;
    if (flags.kinds !== undefined) {
      const list = (flags.kinds as string).split(',').map((k) => k.trim()).filter((k) => k !== '');
      for (const k of list) {
        if (!(ANOMALY_KINDS as readonly string[]).includes(k)) {
          throw new TidemarkError('TM_ERR_USAGE', `--kinds: unknown anomaly kind '${k}' (valid: ${ANOMALY_KINDS.join(', ')})`);
        }
      }
      if (list.length === 0) throw new TidemarkError('TM_ERR_USAGE', `--kinds needs at least one of: ${ANOMALY_KINDS.join(', ')}`);
      kinds = list as AnomalyKind[];
    }
    if (flags.clean && flags['clean-fraction'] !== undefined) {
      throw new TidemarkError('TM_ERR_USAGE', '--clean and --clean-fraction cannot be combined');
    }
    const options: SynthOptions = {
      ...SYNTH_DEFAULTS,
      series: intFlag(flags.series as string | undefined, 'series', SYNTH_DEFAULTS.series, 1, 100_000),
      days: numberFlag(flags.days as string | undefined, 'days', SYNTH_DEFAULTS.days, 2, 366),
      intervalMs: durationFlag(flags.interval as string | undefined, 'interval', SYNTH_DEFAULTS.intervalMs),
      seed: intFlag(flags.seed as string | undefined, 'seed', SYNTH_DEFAULTS.seed, 0, 0xffffffff),
      kinds,
      cleanFraction: flags.clean ? 1 : numberFlag(flags['clean-fraction'] as string | undefined, 'clean-fraction', SYNTH_DEFAULTS.cleanFraction, 0, 1),
    };
    let suite;
    try {
      suite = generateSuite(options);
    } catch (err) {
      if (err instanceof RangeError) throw new TidemarkError('TM_ERR_USAGE', err.message);
      throw err;
    }
    writeSuite(out, suite, options);
    const labels = suite.reduce((s, x) => s + x.labels.length, 0);
    const points = suite.reduce((s, x) => s + x.times.length, 0);
    const clean = suite.filter((s) => s.anomaly === null).length;
    process.stdout.write(`wrote ${suite.length} series (${clean} clean), ${points} points, ${labels} labelled anomalies to ${out}\n`);
    return 0;
  },
};
