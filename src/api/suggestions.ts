/**
 * Suggestions learned from feedback labels (src/engine/backtest-suggest.ts):
 *   GET  /api/v1/suggestions              ?project=0 skips the backtests of each one's effect  (read)
 *   POST /api/v1/suggestions/:id/apply    stores the new config version, or resets the series' baseline (admin)
 * Applying is audited twice: the config version's own `config.put` entry with its diff, and a
 * `suggestion.apply` entry naming the suggestion, its evidence and projected effect.
 * With `feedback.auto_apply` enabled in a tenant's config, the server applies config changes
 * itself within its bounds (outOfBounds in backtest-suggest.ts), every `every` and after each new
 * feedback label, as actor `tidemark/auto`, one change per check (the others were computed
 * against the version it replaces).
 */
import type { FastifyInstance } from 'fastify';
import { AUTO_ACTOR, outOfBounds, SUGGEST_DEFAULTS, suggestChanges, type Suggestion } from '../engine/backtest-suggest.ts';
import { TidemarkError } from '../errors.ts';
import type { ApiContext } from './app.ts';

export interface AutoApplyRun {
  /** The suggestion applied, with the config version it stored; null when none was within bounds. */
  readonly applied: { readonly suggestion: Suggestion; readonly configVersion: number } | null;
  /** Why each other suggestion did not apply itself. */
  readonly skipped: readonly { readonly id: string; readonly kind: string; readonly rule: string; readonly why: string }[];
}

/**
 * One automatic check for a tenant: the suggestions with their projections, the first within
 * the config's `feedback.auto_apply` bounds applied as `tidemark/auto` (a config version and a
 * `suggestion.apply` audit entry with the effect and the bounds it met).
 */
export async function autoApplySuggestions(ctx: Pick<ApiContext, 'store' | 'engine' | 'clock'>, tenant: string): Promise<AutoApplyRun> {
  const { store, engine, clock } = ctx;
  const latest = await store.config.latest(tenant);
  const bounds = latest ? engine.config(tenant).config?.feedback?.autoApply : undefined;
  if (!bounds?.enabled) return { applied: null, skipped: [] };
  const now = clock();
  const policy = engine.options.alerting === false ? undefined : engine.options.alerting?.policy;
  const list = await suggestChanges({ store, tenant, now, policy, project: true });
  const from = now - SUGGEST_DEFAULTS.lookbackMs;
  const applies = (await store.audit.list({ tenant, action: 'suggestion.apply', from })).map((a) => {
    let d: { kind?: string; rule?: string; evidence?: { fingerprints?: string[] } } = {};
    try {
      d = JSON.parse(a.diff ?? '{}');
    } catch {
      // An entry written by hand: it carries no evidence to compare.
    }
    return { at: a.at, actor: a.actor, kind: d.kind, rule: d.rule, fingerprints: new Set(d.evidence?.fingerprints ?? []) };
  });
  const labelledAt = new Map<string, number>();
  for (const f of await store.feedback.list({ tenant, from })) labelledAt.set(f.fingerprint, Math.max(f.at, labelledAt.get(f.fingerprint) ?? 0));
  const skipped: { id: string; kind: string; rule: string; why: string }[] = [];
  for (const s of list) {
    const acted = applies.filter((a) => s.evidence.fingerprints.some((fp) => a.fingerprints.has(fp)));
    const why = outOfBounds(s, bounds, {
      stepsTaken: applies.filter((a) => a.actor === AUTO_ACTOR && a.kind === 'widen_band' && a.rule === s.rule).length,
      actedOnAt: acted.length ? Math.max(...acted.map((a) => a.at)) : null,
      newestEvidenceAt: Math.max(0, ...s.evidence.fingerprints.map((fp) => labelledAt.get(fp) ?? 0)),
    });
    if (why !== null) {
      skipped.push({ id: s.id, kind: s.kind, rule: s.rule, why });
      continue;
    }
    const put = await engine.putConfig(s.yaml!, AUTO_ACTOR, `suggestion ${s.id}: ${s.title} (applied automatically within feedback.auto_apply)`, 'suggested config');
    await store.audit.add({
      tenant, at: clock(), actor: AUTO_ACTOR, action: 'suggestion.apply', target: `config/v${put.version.version}`,
      diff: JSON.stringify({ id: s.id, kind: s.kind, rule: s.rule, title: s.title, why: s.why, evidence: s.evidence, effect: s.effect, bounds }),
    });
    return { applied: { suggestion: { ...s }, configVersion: put.version.version }, skipped };
  }
  return { applied: null, skipped };
}

export function registerSuggestionRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { store, engine, clock } = ctx;
  const running = new Set<string>();
  const policy = () => (engine.options.alerting === false ? undefined : engine.options.alerting?.policy);

  /** One computation per tenant at a time: with projections, each suggestion costs two backtests. */
  const compute = async (tenant: string, project: boolean): Promise<Suggestion[]> => {
    if (running.has(tenant)) throw new TidemarkError('TM_ERR_CONFLICT', `suggestions of tenant ${tenant} are being computed; retry when that ends`, 'url');
    running.add(tenant);
    try {
      return await suggestChanges({ store, tenant, now: clock(), policy: policy(), project });
    } finally {
      running.delete(tenant);
    }
  };

  // Automatic application: a check per tenant every `every`, and one after each new label.
  const lastAuto = new Map<string, number>();
  const auto = async (tenant: string): Promise<void> => {
    if (running.has(tenant)) return; // the next label or tick checks again
    running.add(tenant);
    try {
      lastAuto.set(tenant, clock());
      const run = await autoApplySuggestions(ctx, tenant);
      if (run.applied) app.log.info({ tenant, suggestion: run.applied.suggestion.id, configVersion: run.applied.configVersion }, 'applied a suggestion within feedback.auto_apply');
    } catch (err) {
      app.log.warn({ tenant, err }, 'automatic suggestion check failed');
    } finally {
      running.delete(tenant);
    }
  };
  const tick = setInterval(() => {
    void (async () => {
      for (const t of await store.tenants.list()) {
        const every = engine.config(t.id).config?.feedback?.autoApply;
        if (every?.enabled && clock() - (lastAuto.get(t.id) ?? -Infinity) >= every.everyMs) await auto(t.id);
      }
    })().catch((err) => app.log.warn({ err }, 'automatic suggestion tick failed'));
  }, 60_000);
  tick.unref();
  app.addHook('onClose', async () => clearInterval(tick));
  app.addHook('onResponse', async (req, reply) => {
    if (req.method === 'POST' && reply.statusCode === 201 && req.routeOptions.url === '/api/v1/alerts/:id/feedback' && req.token) {
      if (engine.config(req.token.tenant).config?.feedback?.autoApply.enabled) void auto(req.token.tenant);
    }
  });

  app.get('/api/v1/suggestions', { config: { role: 'read' } }, async (req) => {
    const q = new URLSearchParams(req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '');
    const p = q.get('project');
    if (p !== null && p !== '0' && p !== '1') throw new TidemarkError('TM_ERR_INPUT', `expected 0 or 1, got ${JSON.stringify(p)}`, 'project');
    return { status: 'success', data: await compute(req.token!.tenant, p !== '0') };
  });

  app.post('/api/v1/suggestions/:id/apply', { config: { role: 'admin' } }, async (req, reply) => {
    const tenant = req.token!.tenant;
    const id = (req.params as { id: string }).id;
    const s = (await compute(tenant, false)).find((x) => x.id === id);
    if (!s) throw new TidemarkError('TM_ERR_NOT_FOUND', `no suggestion ${id} for tenant ${tenant}: the config or the feedback changed since it was listed; list the suggestions again`, 'id');
    const actor = `token:${req.token!.name}`;
    let version: number | null = null;
    if (s.yaml !== null) {
      const put = await engine.putConfig(s.yaml, actor, `suggestion ${s.id}: ${s.title}`, 'suggested config');
      version = put.version.version;
    } else if (s.series) {
      if (!engine.resetSeries(tenant, s.series.metric, s.series.labels)) {
        throw new TidemarkError('TM_ERR_CONFLICT', `series ${s.series.metric} is not live (no recent samples): its baseline cannot be reset now; apply again once it reports`, 'id');
      }
    }
    const audit = await store.audit.add({
      tenant, at: clock(), actor, action: 'suggestion.apply',
      target: version !== null ? `config/v${version}` : `series/${s.series!.metric}${JSON.stringify(s.series!.labels)}`,
      diff: JSON.stringify({ id: s.id, kind: s.kind, rule: s.rule, title: s.title, why: s.why, evidence: s.evidence }),
    });
    return reply.code(201).send({ status: 'success', data: { suggestion: { ...s, yaml: undefined }, configVersion: version, audit } });
  });
}
