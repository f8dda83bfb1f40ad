/**
 * Alerts and silences over HTTP, plus the alerting self-metrics ("monitoring the monitor"):
 *   GET  /api/v1/alerts                  filters: state, severity, owner, service, tenant, q (free text), held=true|false, match[] (selectors);
 *                                        limit (500), offset, sort=recent|severity; view=summary (no packet, `held`); counts=1 (adds total + counts)
 *   GET  /api/v1/alerts/:id              the alert with history, suppressions, events, notifications, acks, feedback
 *   GET  /api/v1/alerts/:id/packet       the triage packet (what, when, where, impact, why, next, related); ?refresh=1
 *   POST /api/v1/alerts/:id/ack          {"ttl": "30m", "comment": "..."}            (write)
 *   POST /api/v1/alerts/:id/feedback     {"label": "noise", "comment": "..."}        (write)
 *   GET  /api/v1/silences                ?status=active|pending|expired
 *   POST /api/v1/silences                {"matchers": "{region=\"eu\"}", "startsAt", "endsAt" | "duration", "reason", "recurrence"?, "id"?} (write)
 *   DELETE /api/v1/silences/:id          expires it now                              (write)
 * Who acts is the token's name. Reads need a read token, writes a write token (admin: both).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Counter, Gauge, Histogram } from 'prom-client';
import { compileLabelMatchers, DEFAULT_ALERT_POLICY, parseRecurrence, resolvePolicy, silenceStatus } from '../alert/index.ts';
import { parseDuration } from '../config/index.ts';
import { TriageBuilder } from '../engine/index.ts';
import { TidemarkError } from '../errors.ts';
import type { Suppression } from '../alert/index.ts';
import { ALERT_ORDERS, ALERT_STATES, FEEDBACK_LABELS, SEVERITIES, type Alert, type AlertOrder, type AlertState, type FeedbackLabel, type Matcher, type Severity, type Silence } from '../store/index.ts';
import type { ApiContext } from './app.ts';
import { jsonObject } from './body.ts';
import { registerNotifierMetrics } from './metrics.ts';
import { parseQuery } from './promql.ts';

const MAX_SILENCE_MS = 366 * 86_400_000; // a year and a day: longer is a config change, not a silence

function params(req: FastifyRequest): URLSearchParams {
  return new URLSearchParams(req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '');
}

function list<T extends string>(p: URLSearchParams, name: string, valid: readonly T[]): T[] | undefined {
  const raw = p.getAll(name).flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
  if (raw.length === 0) return undefined;
  for (const v of raw) if (!valid.includes(v as T)) throw new TidemarkError('TM_ERR_INPUT', `expected one of ${valid.join(', ')}, got ${JSON.stringify(v)}`, name);
  return raw as T[];
}

function intParam(p: URLSearchParams, name: string, fallback: number, min: number): number {
  const raw = p.get(name);
  if (raw === null) return fallback;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isSafeInteger(n) || n < min) throw new TidemarkError('TM_ERR_INPUT', `expected an integer of at least ${min}, got ${JSON.stringify(raw)}`, name);
  return n;
}


function known(d: Record<string, unknown>, keys: readonly string[]): void {
  for (const k of Object.keys(d)) if (!keys.includes(k)) throw new TidemarkError('TM_ERR_INPUT', `unknown field; valid fields: ${keys.join(', ')}`, k);
}

function optionalText(d: Record<string, unknown>, key: string, max = 2000): string | null {
  const v = d[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' || v.length > max) throw new TidemarkError('TM_ERR_INPUT', `expected a string of at most ${max} characters`, key);
  return v;
}

/** A duration as `30m` or milliseconds. */
function durationField(v: unknown, key: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  const ms = typeof v === 'string' ? parseDuration(v) : typeof v === 'number' && Number.isSafeInteger(v) ? v : undefined;
  if (ms === undefined || ms <= 0) throw new TidemarkError('TM_ERR_INPUT', `expected a positive duration such as 30m, or milliseconds, got ${JSON.stringify(v)}`, key);
  return ms;
}

/** A time as ms since the epoch or RFC 3339. */
function timeField(v: unknown, key: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  const ms = typeof v === 'number' ? v : typeof v === 'string' ? Date.parse(v) : NaN;
  if (!Number.isSafeInteger(ms) || ms < 0) throw new TidemarkError('TM_ERR_INPUT', `expected ms since the epoch or an RFC 3339 time, got ${JSON.stringify(v)}`, key);
  return ms;
}

/** Silence matchers: a selector string (`{region="eu",severity=~"S[23]"}`) or a list of {name, op, value}. */
function matchersField(v: unknown): Matcher[] {
  let out: Matcher[];
  if (typeof v === 'string') {
    try {
      out = parseQuery(v).matchers;
    } catch (err) {
      throw new TidemarkError('TM_ERR_INPUT', `cannot parse the selector: ${(err as Error).message}`, 'matchers');
    }
    out = out.map((m) => (m.name === '__name__' ? { ...m, name: 'metric' } : m));
  } else if (Array.isArray(v)) out = v as Matcher[];
  else throw new TidemarkError('TM_ERR_INPUT', 'expected a selector such as {region="eu"} or a list of {name, op, value}', 'matchers');
  if (out.length === 0) throw new TidemarkError('TM_ERR_INPUT', 'a silence needs at least one matcher (an empty list would silence everything)', 'matchers');
  compileLabelMatchers(out, 'matchers');
  return out.map((m) => ({ name: m.name, op: m.op, value: m.value }));
}

/**
 * An alert as the alerts list draws it: no packet (the triage packet alone can be kilobytes,
 * and the list of 10,000 is read every few seconds), with why it did not page computed here.
 */
function summary(a: Alert): Record<string, unknown> {
  const p = (a.packet ?? {}) as { suppressions?: Suppression[]; heldReason?: string | null };
  let latest: Suppression | undefined;
  if (Array.isArray(p.suppressions)) for (const s of p.suppressions) if (!latest || s.at >= latest.at) latest = s;
  const held = latest ? { kind: latest.kind, reason: latest.reason } : p.heldReason ? { kind: 'gate', reason: p.heldReason } : null;
  return {
    tenant: a.tenant, fingerprint: a.fingerprint, metric: a.metric, labels: a.labels, state: a.state, severity: a.severity,
    startsAt: a.startsAt, endsAt: a.endsAt, updatedAt: a.updatedAt, score: a.score, reasons: a.reasons, owner: a.owner, held,
  };
}

function silenceOut(s: Silence, now: number): Record<string, unknown> {
  return { ...s, status: silenceStatus(s, now) };
}

export function registerAlertRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { store, engine, clock, metrics, announce } = ctx;
  const read = { config: { role: 'read' as const } };
  const write = { config: { role: 'write' as const } };
  const alerting = () => {
    if (!engine.alerting) throw new TidemarkError('TM_ERR_NOT_FOUND', 'alerting is turned off in this server', 'url');
    return engine.alerting;
  };

  app.get('/api/v1/alerts', read, async (req) => {
    const p = params(req);
    const matchers: Matcher[] = [];
    for (const q of p.getAll('match[]')) {
      try {
        matchers.push(...parseQuery(q).matchers);
      } catch (err) {
        throw new TidemarkError('TM_ERR_INPUT', (err as Error).message, 'match[]');
      }
    }
    const limit = intParam(p, 'limit', 500, 1);
    const offset = intParam(p, 'offset', 0, 0);
    const view = p.get('view') ?? 'full';
    if (view !== 'full' && view !== 'summary') throw new TidemarkError('TM_ERR_INPUT', `expected full or summary, got ${JSON.stringify(view)}`, 'view');
    const sort = p.get('sort') ?? 'recent';
    if (!ALERT_ORDERS.includes(sort as AlertOrder)) throw new TidemarkError('TM_ERR_INPUT', `expected one of ${ALERT_ORDERS.join(', ')}, got ${JSON.stringify(sort)}`, 'sort');
    const heldRaw = p.get('held');
    if (heldRaw !== null && heldRaw !== 'true' && heldRaw !== 'false') throw new TidemarkError('TM_ERR_INPUT', `expected true or false, got ${JSON.stringify(heldRaw)}`, 'held');
    const countsRaw = p.get('counts');
    if (countsRaw !== null && countsRaw !== '0' && countsRaw !== '1') throw new TidemarkError('TM_ERR_INPUT', `expected 0 or 1, got ${JSON.stringify(countsRaw)}`, 'counts');
    const text = p.get('q') ?? '';
    if (text.length > 500) throw new TidemarkError('TM_ERR_INPUT', 'expected at most 500 characters of search text', 'q');
    const tenant = req.token!.tenant;
    // A token reads its own tenant only: asking for another one is a filter that matches nothing.
    const tenantParam = p.get('tenant');
    const otherTenant = tenantParam !== null && tenantParam !== '' && tenantParam !== tenant;
    const filters = {
      tenant,
      owner: p.get('owner') || undefined,
      service: p.get('service') || undefined,
      text: text.trim() || undefined,
      matchers,
    };
    const states = list<AlertState>(p, 'state', ALERT_STATES);
    const severities = list<Severity>(p, 'severity', SEVERITIES);
    const held = heldRaw === null ? undefined : heldRaw === 'true';
    const data = otherTenant
      ? []
      : await store.alerts.list({ ...filters, states, severities, held, limit: Math.min(limit, 10_000), offset, order: sort as AlertOrder, summary: view === 'summary' });
    const out: Record<string, unknown> = { status: 'success', data: view === 'summary' ? data.map(summary) : data };
    if (countsRaw === '1') {
      // One grouped read: the groups ignore state, severity and held so a page can show the
      // count behind every tab and chip; `total` is what the page's own filters match.
      const counts = otherTenant ? { groups: [], owners: [], services: [] } : await store.alerts.counts(filters);
      let total = 0;
      for (const g of counts.groups) if ((!states || states.includes(g.state)) && (!severities || severities.includes(g.severity)) && (held === undefined || held === g.held)) total += g.n;
      out.total = total;
      out.counts = counts;
    }
    return out;
  });

  app.get('/api/v1/alerts/:id', read, async (req) => {
    const tenant = req.token!.tenant;
    const id = (req.params as { id: string }).id;
    const alert = await store.alerts.get(tenant, id);
    if (!alert) throw new TidemarkError('TM_ERR_NOT_FOUND', `no alert ${id} in tenant ${tenant}`, 'id');
    const packet = (alert.packet ?? {}) as { suppressions?: unknown[]; events?: unknown[] };
    const [history, notifications, acks, feedback] = await Promise.all([
      store.alerts.history(tenant, id),
      store.notifications.list({ tenant, fingerprint: id, limit: 200 }),
      store.acks.history(tenant, id),
      store.feedback.list({ tenant, fingerprint: id }),
    ]);
    return { status: 'success', data: { alert, history, suppressions: packet.suppressions ?? [], events: packet.events ?? [], notifications, acks, feedback } };
  });

  // The triage packet (what/when/where/impact/why/next/related): the one stored when the episode
  // fired, else (pending, or built before this feature) computed now; `?refresh=1` recomputes.
  const triage = engine.alerting?.triage.builder ?? new TriageBuilder(store, (t) => engine.config(t), clock);
  app.get('/api/v1/alerts/:id/packet', read, async (req) => {
    const tenant = req.token!.tenant;
    const id = (req.params as { id: string }).id;
    const alert = await store.alerts.get(tenant, id);
    if (!alert) throw new TidemarkError('TM_ERR_NOT_FOUND', `no alert ${id} in tenant ${tenant}`, 'id');
    const refresh = params(req).get('refresh');
    if (refresh !== null && refresh !== '0' && refresh !== '1') throw new TidemarkError('TM_ERR_INPUT', `expected 0 or 1, got ${JSON.stringify(refresh)}`, 'refresh');
    const stored = (alert.packet as { triage?: unknown } | null)?.triage;
    if (stored !== undefined && refresh !== '1') return { status: 'success', data: stored, stored: true };
    return { status: 'success', data: await triage.build(alert), stored: false };
  });

  /**
   * An ack on a cluster node, which runs no alert stage: stored, then announced; the worker that
   * owns the alert applies it (stops repeats and escalation, acknowledges PagerDuty).
   */
  const nodeAck = async (tenant: string, fingerprint: string, by: string, ttlMs: number | undefined, comment: string | null) => {
    let ttl = ttlMs;
    if (ttl === undefined) {
      try {
        ttl = resolvePolicy(engine.config(tenant).config?.alerting, DEFAULT_ALERT_POLICY).ackTtlMs;
      } catch {
        ttl = DEFAULT_ALERT_POLICY.ackTtlMs; // the workers warn about a policy they cannot apply
      }
    }
    const ack = await store.acks.add({ tenant, fingerprint, by, at: clock(), ttlMs: ttl, comment });
    await announce!({ kind: 'ack', tenant, fingerprint });
    return ack;
  };

  app.post('/api/v1/alerts/:id/ack', write, async (req, reply) => {
    const tenant = req.token!.tenant;
    const id = (req.params as { id: string }).id;
    const d = jsonObject(req, '{"ttl": "30m", "comment": "looking"}');
    known(d, ['ttl', 'comment']);
    const ttlMs = durationField(d.ttl, 'ttl');
    const comment = optionalText(d, 'comment');
    const alert = await store.alerts.get(tenant, id);
    if (!alert) throw new TidemarkError('TM_ERR_NOT_FOUND', `no alert ${id} in tenant ${tenant}`, 'id');
    if (alert.state === 'resolved') throw new TidemarkError('TM_ERR_CONFLICT', `alert ${id} is resolved; there is nothing to acknowledge`, 'id');
    const ack = !engine.alerting && announce ? await nodeAck(tenant, id, req.token!.name, ttlMs, comment) : await alerting().ack(tenant, id, req.token!.name, ttlMs, comment);
    await store.audit.add({ tenant, at: ack.at, actor: `token:${req.token!.name}`, action: 'alert.ack', target: `alert/${id}`, diff: comment });
    return reply.code(201).send({ status: 'success', data: ack });
  });

  app.post('/api/v1/alerts/:id/feedback', write, async (req, reply) => {
    const tenant = req.token!.tenant;
    const id = (req.params as { id: string }).id;
    const d = jsonObject(req, '{"label": "noise"}');
    known(d, ['label', 'comment']);
    if (!FEEDBACK_LABELS.includes(d.label as FeedbackLabel)) throw new TidemarkError('TM_ERR_INPUT', `expected one of ${FEEDBACK_LABELS.join(', ')}, got ${JSON.stringify(d.label)}`, 'label');
    const alert = await store.alerts.get(tenant, id);
    if (!alert) throw new TidemarkError('TM_ERR_NOT_FOUND', `no alert ${id} in tenant ${tenant}`, 'id');
    const fb = await store.feedback.put({ tenant, fingerprint: id, label: d.label as FeedbackLabel, by: req.token!.name, at: clock(), comment: optionalText(d, 'comment') });
    feedbackCounter.inc({ tenant, label: fb.label });
    return reply.code(201).send({ status: 'success', data: fb });
  });

  app.get('/api/v1/silences', read, async (req) => {
    const tenant = req.token!.tenant;
    const status = list(params(req), 'status', ['active', 'pending', 'expired'] as const);
    const now = clock();
    const data = (await store.silences.list({ tenant })).map((s) => silenceOut(s, now)).filter((s) => !status || status.includes(s.status as 'active'));
    return { status: 'success', data };
  });

  app.post('/api/v1/silences', write, async (req, reply) => {
    const tenant = req.token!.tenant;
    const d = jsonObject(req, '{"matchers": "{region=\\"eu\\"}", "duration": "2h", "reason": "deploy"}');
    known(d, ['id', 'matchers', 'startsAt', 'endsAt', 'duration', 'reason', 'recurrence']);
    const now = clock();
    const matchers = matchersField(d.matchers);
    const startsAt = timeField(d.startsAt, 'startsAt') ?? now;
    const dur = durationField(d.duration, 'duration');
    let endsAt = timeField(d.endsAt, 'endsAt');
    if (endsAt !== undefined && dur !== undefined) throw new TidemarkError('TM_ERR_INPUT', 'give endsAt or duration, not both', 'duration');
    endsAt ??= dur === undefined ? undefined : startsAt + dur;
    if (endsAt === undefined) throw new TidemarkError('TM_ERR_INPUT', 'a silence needs an end: endsAt or duration (silences expire on their own)', 'endsAt');
    if (endsAt <= startsAt) throw new TidemarkError('TM_ERR_INPUT', 'endsAt must be after startsAt', 'endsAt');
    if (endsAt - startsAt > MAX_SILENCE_MS) throw new TidemarkError('TM_ERR_INPUT', 'a silence lasts at most 366 days; use a maintenance window in the config for longer', 'endsAt');
    if (endsAt <= now) throw new TidemarkError('TM_ERR_INPUT', 'endsAt is in the past: this silence would never be active', 'endsAt');
    if (typeof d.reason !== 'string' || d.reason.trim() === '') throw new TidemarkError('TM_ERR_INPUT', 'say why (it is shown to whoever wonders why nothing paged)', 'reason');
    parseRecurrence(d.recurrence, 'recurrence');
    if (d.id !== undefined && (typeof d.id !== 'string' || d.id === '')) throw new TidemarkError('TM_ERR_INPUT', 'expected a silence id string', 'id');
    const existed = typeof d.id === 'string' ? await store.silences.get(tenant, d.id) : undefined;
    const s = await store.silences.put({ tenant, id: d.id as string | undefined, matchers, startsAt, endsAt, createdBy: req.token!.name, reason: d.reason, recurrence: d.recurrence ?? null });
    await store.audit.add({ tenant, at: now, actor: `token:${req.token!.name}`, action: existed ? 'silence.update' : 'silence.create', target: `silence/${s.id}`, diff: JSON.stringify({ matchers, startsAt, endsAt, reason: d.reason, recurrence: d.recurrence ?? null }) });
    await engine.alerting?.reloadSilences(tenant);
    await announce?.({ kind: 'silences', tenant });
    return reply.code(existed ? 200 : 201).send({ status: 'success', data: silenceOut(s, now) });
  });

  app.delete('/api/v1/silences/:id', write, async (req) => {
    const tenant = req.token!.tenant;
    const id = (req.params as { id: string }).id;
    const now = clock();
    const s = await store.silences.expire(tenant, id, now);
    if (!s) throw new TidemarkError('TM_ERR_NOT_FOUND', `no silence ${id} in tenant ${tenant}`, 'id');
    await store.audit.add({ tenant, at: now, actor: `token:${req.token!.name}`, action: 'silence.expire', target: `silence/${id}` });
    await engine.alerting?.reloadSilences(tenant);
    await announce?.({ kind: 'silences', tenant });
    return { status: 'success', data: silenceOut(s, now) };
  });

  // ---- monitoring the monitor -------------------------------------------------------------
  const registers = [metrics.registry];
  const feedbackCounter = new Counter({ name: 'tidemark_alert_feedback_total', help: 'Feedback labels given to alerts (real, noise, expected, new_normal), by tenant.', labelNames: ['tenant', 'label'], registers });
  new Gauge({
    name: 'tidemark_alert_noise_share',
    help: 'Share of alerts with feedback whose latest label is noise, per tenant (0 to 1; from the stored feedback, so it survives restarts).',
    labelNames: ['tenant'], registers,
    async collect() {
      this.reset();
      for (const t of await store.tenants.list()) {
        // Latest label per alert: people may relabel, and the last word is the current judgement.
        const latest = new Map<string, { at: number; label: FeedbackLabel }>();
        for (const f of await store.feedback.list({ tenant: t.id })) {
          const prev = latest.get(f.fingerprint);
          if (!prev || f.at >= prev.at) latest.set(f.fingerprint, { at: f.at, label: f.label });
        }
        if (latest.size === 0) continue;
        let noise = 0;
        for (const l of latest.values()) if (l.label === 'noise') noise++;
        this.set({ tenant: t.id }, noise / latest.size);
      }
    },
  });
  const al = engine.alerting;
  if (!al) return;
  const split = (k: string) => k.split('\u0000');
  const ackHist = new Histogram({ name: 'tidemark_alert_time_to_ack_seconds', help: 'From firing to the first acknowledgement.', labelNames: ['tenant'], buckets: [30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400], registers });
  const resolveHist = new Histogram({ name: 'tidemark_alert_time_to_resolve_seconds', help: 'From firing to resolution.', labelNames: ['tenant'], buckets: [60, 300, 600, 1800, 3600, 7200, 14400, 43200, 86400], registers });
  al.durationListeners.add((kind, tenant, ms) => (kind === 'ack' ? ackHist : resolveHist).observe({ tenant }, ms / 1000));
  const stage = al.stage;
  const notifier = al.notifier;
  new Gauge({
    name: 'tidemark_alerts_fired_total', help: 'Alerts that started firing since start, by tenant and severity.', labelNames: ['tenant', 'severity'], registers,
    collect() {
      this.reset();
      for (const [k, n] of stage.counters.fired) this.set({ tenant: split(k)[0], severity: split(k)[1] }, n);
    },
  });
  new Gauge({
    name: 'tidemark_alerts_firing', help: 'Alerts firing now, by tenant and severity.', labelNames: ['tenant', 'severity'], registers,
    collect() {
      this.reset();
      for (const [k, n] of stage.openAlerts()) this.set({ tenant: split(k)[0], severity: split(k)[1] }, n);
    },
  });
  new Gauge({
    name: 'tidemark_notifications_dispatched_total', help: 'Notifications the alert stage produced, by tenant, receiver, kind and severity.', labelNames: ['tenant', 'receiver', 'kind', 'severity'], registers,
    collect() {
      this.reset();
      for (const [k, n] of stage.counters.dispatched) {
        const [tenant, receiver, kind, severity] = split(k);
        this.set({ tenant, receiver, kind, severity }, n);
      }
    },
  });
  new Gauge({
    name: 'tidemark_alert_suppressions_total', help: 'Alert notifications held back, by tenant and reason (silence, inhibition, budget, gate, maintenance).', labelNames: ['tenant', 'reason'], registers,
    collect() {
      this.reset();
      for (const [k, n] of stage.counters.held) this.set({ tenant: split(k)[0], reason: split(k)[1] }, n);
    },
  });
  new Gauge({
    name: 'tidemark_alert_verdicts_total', help: 'Detector verdicts the alert stage has read since start.', registers,
    collect() {
      this.set(stage.counters.verdicts);
    },
  });
  registerNotifierMetrics(registers, notifier.counters);
  new Gauge({
    name: 'tidemark_notifier_backlog', help: 'Notifications queued or being delivered.', registers,
    collect() {
      this.set(al.backlog());
    },
  });
  new Gauge({
    name: 'tidemark_alert_budget_held', help: 'Alerts held by a budget and not yet announced by a summary, per tenant.', labelNames: ['tenant'], registers,
    collect() {
      this.reset();
      for (const [tenant, n] of stage.heldBacklog()) this.set({ tenant }, n);
    },
  });
}
