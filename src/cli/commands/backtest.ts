import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseQuery } from '../../api/promql.ts';
import { runBacktest, type BacktestConfig, type BacktestResult } from '../../engine/backtest.ts';
import { TidemarkError } from '../../errors.ts';
import { durationFlag, formatTable, intFlag, parseCliFlags, requireFlag } from '../../eval/index.ts';
import { loadConfig } from '../../config/index.ts';
import { openSqliteStore, SEVERITIES, type Matcher } from '../../store/index.ts';
import type { Command } from '../command.ts';

const DAY = 86_400_000;

const help = `Usage: tidemark backtest --data DIR [--config FILE | --config-version N] [--tenant ID]
                         [--selector SEL] [--from TIME] [--to TIME] [--warmup DUR] [--json]

Replays the recorded samples of a data dir through the full live pipeline (detectors, alert
lifecycle, grouping, silences, inhibition, budgets, impact gates, maintenance windows) on a
simulated clock, and prints the alerts and pages it would have produced, per day and severity,
then every alert. Nothing is sent and nothing is written to the data dir.

Options:
  --data DIR          the data dir of a Tidemark server (its tidemark.db is read)
  --config FILE       a config to try (not saved); default: the tenant's current version
  --config-version N  a stored config version instead
  --tenant ID         default: the config file's tenant, else "default"
  --selector SEL      series selector, e.g. '{service="checkout"}' or 'latency{region="eu"}'
                      (default: every series of the tenant)
  --from TIME         RFC 3339 or ms since the epoch (default: --to minus 7 days)
  --to TIME           RFC 3339 or ms since the epoch (default: now)
  --warmup DUR        history before --from that teaches the detectors first (default 24h)
  --max-points N      samples read at most (default 5000000)
  --json              print the whole result as one JSON document instead

Raw samples are kept 48 h by default (retention.raw): older periods have no raw points to replay.

Example:
  tidemark backtest --data .tidemark --config tidemark.yaml --selector '{service="auth"}' --from 2026-11-14T00:00:00Z --to 2026-11-21T00:00:00Z
`;

function timeFlag(v: string | undefined, flag: string, fallback: number): number {
  if (v === undefined) return fallback;
  const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isSafeInteger(ms) || ms < 0) throw new TidemarkError('TM_ERR_USAGE', `--${flag} must be an RFC 3339 time or ms since the epoch, got '${v}'`);
  return ms;
}

/** `tidemark backtest`: what a config would have alerted and paged over a recorded period. */
export const backtestCommand: Command = {
  name: 'backtest',
  summary: 'Replay recorded samples through the full alert pipeline: alerts and pages per day',
  help,
  async run(argv) {
    const flags = parseCliFlags(argv, {
      data: { type: 'string' },
      config: { type: 'string' },
      'config-version': { type: 'string' },
      tenant: { type: 'string' },
      selector: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      warmup: { type: 'string' },
      'max-points': { type: 'string' },
      json: { type: 'boolean', default: false },
    });
    const dataDir = resolve(requireFlag(flags.data as string | undefined, 'data'));
    if (!existsSync(join(dataDir, 'tidemark.db'))) throw new TidemarkError('TM_ERR_USAGE', `--data ${dataDir} has no tidemark.db; give the data dir of a Tidemark server`);
    if (flags.config !== undefined && flags['config-version'] !== undefined) throw new TidemarkError('TM_ERR_USAGE', 'give --config or --config-version, not both');
    let config: BacktestConfig = { kind: 'current' };
    let tenant = flags.tenant as string | undefined;
    if (flags.config !== undefined) {
      const path = resolve(flags.config as string);
      let yaml: string;
      try {
        yaml = readFileSync(path, 'utf8');
      } catch (err) {
        throw new TidemarkError('TM_ERR_USAGE', `cannot read --config ${path}: ${(err as Error).message}`);
      }
      const { config: c, errors } = loadConfig(yaml, path);
      if (!c) throw new TidemarkError('TM_ERR_CONFIG', `${errors.length} problem(s) in ${path}:\n  ${errors.map((e) => `${e.path || '(root)'}${e.line === undefined ? '' : ` (line ${e.line})`}: ${e.message}`).join('\n  ')}`);
      tenant ??= c.tenant;
      config = { kind: 'yaml', yaml };
    } else if (flags['config-version'] !== undefined) {
      config = { kind: 'version', version: intFlag(flags['config-version'] as string, 'config-version', 0, 1) };
    }
    let matchers: Matcher[] = [];
    if (flags.selector !== undefined && (flags.selector as string).trim() !== '') {
      try {
        matchers = parseQuery(flags.selector as string).matchers;
      } catch (err) {
        throw new TidemarkError('TM_ERR_USAGE', `--selector: ${(err as Error).message.replace(/^query: /, '')}`);
      }
    }
    const to = timeFlag(flags.to as string | undefined, 'to', Date.now());
    const from = timeFlag(flags.from as string | undefined, 'from', to - 7 * DAY);
    const warmupMs = flags.warmup === '0' ? 0 : durationFlag(flags.warmup as string | undefined, 'warmup', DAY);
    const maxPoints = intFlag(flags['max-points'] as string | undefined, 'max-points', 5_000_000, 1);
    const store = await openSqliteStore({ dataDir });
    let r: BacktestResult;
    try {
      r = await runBacktest({ source: store, tenant: tenant ?? 'default', config, matchers, from, to, warmupMs, maxPoints });
    } catch (err) {
      if (err instanceof TidemarkError && (err.code === 'TM_ERR_INPUT' || err.code === 'TM_ERR_NOT_FOUND')) {
        const why = err.path && err.message.startsWith(`${err.path}: `) ? err.message.slice(err.path.length + 2) : err.message;
        throw new TidemarkError('TM_ERR_USAGE', `${err.path ? `${flagOf(err.path)}: ` : ''}${why}`);
      }
      throw err;
    } finally {
      await store.close();
    }
    if (flags.json) {
      process.stdout.write(JSON.stringify(r) + '\n');
      return 0;
    }
    process.stdout.write(formatResult(r) + '\n');
    return 0;
  },
};

function flagOf(field: string): string {
  if (field === 'configVersion') return '--config-version';
  if (field.startsWith('config')) return '--config';
  return `--${field}`;
}

const iso = (t: number) => new Date(t).toISOString().replace('.000Z', 'Z');

/** The human answer: totals, a table per day, then the alerts. */
export function formatResult(r: BacktestResult): string {
  const out: string[] = [];
  out.push(`Backtest of tenant ${r.tenant}, config ${r.configVersion === null ? '(defaults)' : `v${r.configVersion}`}${r.draft ? ' (unsaved)' : ''}, ${iso(r.from)} to ${iso(r.to)}`);
  out.push(`${r.series} series, ${r.points} points judged after ${r.warmupPoints} warm-up points, in ${r.elapsedMs} ms`);
  const sup = Object.entries(r.totals.suppressed).map(([k, n]) => `${n} ${k}`).join(', ');
  out.push(`Would have produced ${r.totals.alerts} alerts, ${r.totals.pages} pages, ${r.totals.notifications} notifications; ${r.totals.cleared} cleared while pending${sup ? `; suppressions: ${sup}` : ''}`);
  out.push('');
  out.push(formatTable(['day', 'alerts', ...SEVERITIES, 'pages', 'notifications', 'cleared'], r.days.map((d) => [iso(d.day).slice(0, 10), String(d.alerts), ...SEVERITIES.map((s) => String(d.bySeverity[s])), String(d.pages), String(d.notifications), String(d.cleared)])));
  const fired = r.alerts.filter((a) => a.firingAt !== null);
  if (fired.length > 0) {
    out.push('');
    out.push(formatTable(
      ['fired', 'severity', 'state', 'paged', 'alert', 'held'],
      fired.map((a) => [iso(a.firingAt!), a.severity, a.state, a.paged ? 'yes' : 'no', `${a.metric}{${Object.entries(a.labels).filter(([k]) => !['metric', 'tenant', 'severity'].includes(k)).map(([k, v]) => `${k}="${v}"`).join(',')}}`, a.suppressions.length > 0 ? a.suppressions.map((s) => s.kind).join(',') : a.heldReason ? 'gate' : '']),
    ));
  }
  return out.join('\n');
}
