/**
 * Alerts and silences over HTTP, plus the alerting self-metrics ("monitoring the monitor"):
 *   GET  /api/v1/alerts                  filters: state, severity, owner, match[] (selectors), limit
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
import { compileLabelMatchers, parseRecurrence, silenceStatus } from '../alert/index.ts';
import { parseDuration } from '../config/index.ts';
import { TriageBuilder } from '../engine/index.ts';
import { TidemarkError } from '../errors.ts';
import { ALERT_STATES, FEEDBACK_LABELS, SEVERITIES, type AlertState, type FeedbackLabel, type Matcher, type Severity, type Silence } from '../store/index.ts';
import type { ApiContext } from './app.ts';
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

function jsonBody(req: FastifyRequest, example: string): Record<string, unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim();
  const buf = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  if (buf.length === 0) return {};
  if (type !== 'application/json') throw new TidemarkError('TM_ERR_MEDIA_TYPE', `Content-Type ${JSON.stringify(type)} is not accepted here; send application/json`, 'Content-Type');
  let doc: unknown;
  try {
    doc = JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw new TidemarkError('TM_ERR_INPUT', `body is not valid JSON (${(err as Error).message})`, 'body');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new TidemarkError('TM_ERR_INPUT', `expected a JSON object such as ${example}`, 'body');
  return doc as Record<string, unknown>;
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

function silenceOut(s: Silence, now: number): Record<string, unknown> {
  return { ...s, status: silenceStatus(s, now) };
}

export function registerAlertRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { store, engine, clock, metrics } = ctx;
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
    const limitRaw = p.get('limit');
    const limit = limitRaw === null ? 500 : Number(limitRaw);
    if (!Number.isSafeInteger(limit) || limit < 1) throw new TidemarkError('TM_ERR_INPUT', `expected a positive integer, got ${JSON.stringify(limitRaw)}`, 'limit');
    const data = await store.alerts.list({
      tenant: req.token!.tenant,
      states: list<AlertState>(p, 'state', ALERT_STATES),
      severities: list<Severity>(p, 'severity', SEVERITIES),
      owner: p.get('owner') ?? undefined,
      matchers,
      limit: Math.min(limit, 10_000),
    });
    return { status: 'success', data };
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

  app.post('/api/v1/alerts/:id/ack', write, async (req, reply) => {
    const tenant = req.token!.tenant;
    const id = (req.params as { id: string }).id;
    const d = jsonBody(req, '{"ttl": "30m", "comment": "looking"}');
    known(d, ['ttl', 'comment']);
    const ttlMs = durationField(d.ttl, 'ttl');
    const comment = optionalText(d, 'comment');
    const alert = await store.alerts.get(tenant, id);
    if (!alert) throw new TidemarkError('TM_ERR_NOT_FOUND', `no alert ${id} in tenant ${tenant}`, 'id');
    if (alert.state === 'resolved') throw new TidemarkError('TM_ERR_CONFLICT', `alert ${id} is resolved; there is nothing to acknowledge`, 'id');
    const ack = await alerting().ack(tenant, id, req.token!.name, ttlMs, comment);
    await store.audit.add({ tenant, at: ack.at, actor: `token:${req.token!.name}`, action: 'alert.ack', target: `alert/${id}`, diff: comment });
    return reply.code(201).send({ status: 'success', data: ack });
  });

  app.post('/api/v1/alerts/:id/feedback', write, async (req, reply) => {
    const tenant = req.token!.tenant;
    const id = (req.params as { id: string }).id;
    const d = jsonBody(req, '{"label": "noise"}');
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
    const d = jsonBody(req, '{"matchers": "{region=\\"eu\\"}", "duration": "2h", "reason": "deploy"}');
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
  for (const [name, key, help] of [
    ['tidemark_notifier_deliveries_total', 'sent', 'Deliveries that succeeded, by receiver and integration.'],
    ['tidemark_notifier_failures_total', 'failed', 'Deliveries that failed after their last attempt, by receiver and integration.'],
    ['tidemark_notifier_retries_total', 'retries', 'Retries made, by receiver and integration.'],
  ] as const) {
    new Gauge({
      name, help, labelNames: ['receiver', 'integration'], registers,
      collect() {
        this.reset();
        for (const [k, n] of notifier.counters[key]) this.set({ receiver: split(k)[0], integration: split(k)[1] }, n);
      },
    });
  }
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
