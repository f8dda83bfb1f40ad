/**
 * Backtests over HTTP:
 *   POST /api/v1/backtest   {"config"?: "<yaml>", "configVersion"?: 3, "selector"?: "{service=\"auth\"}",
 *                            "from": ms | RFC 3339, "to": ms | RFC 3339, "warmup"?: "24h"}      (read)
 * Answers alerts and pages per day and severity, and every alert, as src/engine/backtest.ts
 * computes them through the live pipeline over the tenant's recorded samples.
 *
 * A read token is enough: a backtest changes nothing and reveals only what the tenant's read API
 * already shows. What it costs is CPU, so each tenant runs one at a time (409 while one runs), the
 * range and the samples read are bounded, and a client that hangs up stops its run.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parseDuration } from '../config/index.ts';
import { BACKTEST_DEFAULTS, runBacktest, type BacktestConfig } from '../engine/backtest.ts';
import { TidemarkError } from '../errors.ts';
import type { Matcher } from '../store/index.ts';
import type { ApiContext } from './app.ts';
import { jsonObject } from './body.ts';
import { parseQuery } from './promql.ts';

const MAX_ALERTS = 2_000; // alerts listed in one answer; totals and days always count them all
const MAX_YAML = 1024 * 1024; // 1 MiB of config text


function timeField(v: unknown, key: string): number {
  const ms = typeof v === 'number' ? v : typeof v === 'string' ? (/^\d+$/.test(v) ? Number(v) : Date.parse(v)) : NaN;
  if (!Number.isSafeInteger(ms) || ms < 0) throw new TidemarkError('TM_ERR_INPUT', `expected ms since the epoch or an RFC 3339 time, got ${JSON.stringify(v)}`, key);
  return ms;
}

/** The backtest request body, checked: every mistake names its field. */
export function backtestRequest(d: Record<string, unknown>, now: number): { config: BacktestConfig; matchers: Matcher[]; from: number; to: number; warmupMs: number } {
  const keys = ['config', 'configVersion', 'selector', 'from', 'to', 'warmup'];
  for (const k of Object.keys(d)) if (!keys.includes(k)) throw new TidemarkError('TM_ERR_INPUT', `unknown field; valid fields: ${keys.join(', ')}`, k);
  let config: BacktestConfig = { kind: 'current' };
  if (d.config !== undefined && d.config !== null) {
    if (typeof d.config !== 'string' || d.config.trim() === '' || d.config.length > MAX_YAML) throw new TidemarkError('TM_ERR_INPUT', 'expected the config as YAML text (at most 1 MiB)', 'config');
    if (d.configVersion !== undefined && d.configVersion !== null) throw new TidemarkError('TM_ERR_INPUT', 'give config or configVersion, not both', 'configVersion');
    config = { kind: 'yaml', yaml: d.config };
  } else if (d.configVersion !== undefined && d.configVersion !== null) {
    if (!Number.isSafeInteger(d.configVersion) || (d.configVersion as number) < 1) throw new TidemarkError('TM_ERR_INPUT', `expected a stored config version (1, 2, ...), got ${JSON.stringify(d.configVersion)}`, 'configVersion');
    config = { kind: 'version', version: d.configVersion as number };
  }
  let matchers: Matcher[] = [];
  if (d.selector !== undefined && d.selector !== null) {
    if (typeof d.selector !== 'string') throw new TidemarkError('TM_ERR_INPUT', 'expected a series selector such as {service="checkout"}', 'selector');
    if (d.selector.trim() !== '') {
      try {
        matchers = parseQuery(d.selector).matchers;
      } catch (err) {
        throw new TidemarkError('TM_ERR_INPUT', (err as Error).message.replace(/^query: /, ''), 'selector');
      }
    }
  }
  if (d.from === undefined) throw new TidemarkError('TM_ERR_INPUT', 'the start of the period is required', 'from');
  const from = timeField(d.from, 'from');
  const to = d.to === undefined ? now : timeField(d.to, 'to');
  let warmupMs: number = BACKTEST_DEFAULTS.warmupMs;
  if (d.warmup !== undefined && d.warmup !== null) {
    const ms = typeof d.warmup === 'number' ? d.warmup : typeof d.warmup === 'string' ? (d.warmup === '0' ? 0 : parseDuration(d.warmup)) : undefined;
    if (ms === undefined || !Number.isSafeInteger(ms) || ms < 0 || ms > 7 * 86_400_000) throw new TidemarkError('TM_ERR_INPUT', `expected a duration such as 24h (at most 7d), got ${JSON.stringify(d.warmup)}`, 'warmup');
    warmupMs = ms;
  }
  return { config, matchers, from, to, warmupMs };
}

export function registerBacktestRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { store, engine, clock } = ctx;
  const running = new Set<string>();

  app.post('/api/v1/backtest', { config: { role: 'read' } }, async (req) => {
    const tenant = req.token!.tenant;
    const r = backtestRequest(jsonObject(req, '{"selector": "{service=\\"auth\\"}", "from": "2026-11-14T00:00:00Z", "to": "2026-11-21T00:00:00Z"}'), clock());
    if (running.has(tenant)) throw new TidemarkError('TM_ERR_CONFLICT', `a backtest of tenant ${tenant} is already running; one runs at a time per tenant, retry when it ends`, 'url');
    running.add(tenant);
    const abort = new AbortController();
    const onClose = () => {
      if (!req.raw.complete || !req.raw.socket?.writable) abort.abort();
    };
    req.raw.socket?.once('close', onClose);
    try {
      const policy = engine.options.alerting === false ? undefined : engine.options.alerting?.policy;
      const result = await runBacktest({ source: store, tenant, ...r, policy, signal: abort.signal });
      const { dispatches, alerts, ...rest } = result;
      return { status: 'success', data: { ...rest, alerts: alerts.slice(-MAX_ALERTS), alertsTruncated: alerts.length > MAX_ALERTS, dispatchCount: dispatches.length } };
    } finally {
      req.raw.socket?.off('close', onClose);
      running.delete(tenant);
    }
  });
}
