/**
 * Read API in the Prometheus HTTP API's formats, for selector-only queries, plus anomalies and
 * change events as JSON. Each series' band and score are readable as companion series
 * `tidemark_expected`, `tidemark_lower`, `tidemark_upper`, `tidemark_score`, with the series'
 * labels plus `metric="<its metric name>"` (a series' own `metric` label becomes
 * `exported_metric`, as Prometheus renames colliding labels), so a Grafana Prometheus data
 * source charts value, band and score side by side:
 *   latency_p99{service="auth"}   tidemark_upper{metric="latency_p99",service="auth"}
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { TidemarkError } from '../errors.ts';
import { CHANGE_KINDS, type ChangeKind, type Matcher, type Series } from '../store/index.ts';
import type { ApiContext } from './app.ts';
import { parseDurationMs, parseQuery, type ParsedSelector } from './promql.ts';

const COMPANIONS = { tidemark_expected: 'expected', tidemark_lower: 'lower', tidemark_upper: 'upper', tidemark_score: 'score' } as const;
type Companion = keyof typeof COMPANIONS;
const LOOKBACK_MS = 5 * 60_000; // Prometheus's default lookback delta

/** Query parameters from the URL and, for POST, a form-encoded body (Grafana posts queries). */
function params(req: FastifyRequest): URLSearchParams {
  const p = new URLSearchParams(req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '');
  if (req.method === 'POST') {
    const type = (req.headers['content-type'] ?? '').split(';')[0].trim();
    if (type !== 'application/x-www-form-urlencoded') {
      throw new TidemarkError('TM_ERR_MEDIA_TYPE', `Content-Type ${JSON.stringify(type)} is not accepted here; send application/x-www-form-urlencoded or use GET`, 'Content-Type');
    }
    for (const [k, v] of new URLSearchParams(Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '')) p.append(k, v);
  }
  return p;
}

/** A Prometheus time parameter: unix seconds (fractions allowed) or RFC 3339. Returns ms. */
function promTime(p: URLSearchParams, name: string, fallback?: number): number {
  const raw = p.get(name);
  if (raw === null || raw === '') {
    if (fallback !== undefined) return fallback;
    throw new TidemarkError('TM_ERR_INPUT', `missing parameter ${name} (unix seconds or RFC 3339)`, name);
  }
  const n = Number(raw);
  const ms = Number.isFinite(n) ? Math.round(n * 1000) : Date.parse(raw);
  if (!Number.isFinite(ms)) throw new TidemarkError('TM_ERR_INPUT', `${JSON.stringify(raw)} is neither unix seconds nor an RFC 3339 time`, name);
  return ms;
}

/** A time parameter of the JSON endpoints: ms since the epoch or RFC 3339. */
function msTime(p: URLSearchParams, name: string, fallback: number): number {
  const raw = p.get(name);
  if (raw === null || raw === '') return fallback;
  const ms = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
  if (!Number.isFinite(ms)) throw new TidemarkError('TM_ERR_INPUT', `${JSON.stringify(raw)} is neither ms since the epoch nor an RFC 3339 time`, name);
  return ms;
}

function intParam(p: URLSearchParams, name: string, fallback: number, max: number): number {
  const raw = p.get(name);
  if (raw === null || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new TidemarkError('TM_ERR_INPUT', `expected a positive integer, got ${JSON.stringify(raw)}`, name);
  return Math.min(n, max);
}

function fmt(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return Number.isNaN(v) ? 'NaN' : String(v);
}

/** A selector resolved against the store: series plus, for companions, which band column. */
interface Resolved {
  series: Series[];
  companion: Companion | undefined;
  truncated: boolean;
}

function companionOf(sel: ParsedSelector): Companion | undefined {
  return sel.metric !== undefined && Object.hasOwn(COMPANIONS, sel.metric) ? (sel.metric as Companion) : undefined;
}

/** Matchers over the companion's labels -> matchers over the underlying series. */
function underlying(matchers: readonly Matcher[]): Matcher[] {
  const out: Matcher[] = [];
  for (const m of matchers) {
    if (m.name === '__name__') continue;
    if (m.name === 'metric') out.push({ ...m, name: '__name__' });
    else if (m.name === 'exported_metric') out.push({ ...m, name: 'metric' });
    else out.push(m);
  }
  return out;
}

function labelsOut(s: Series, companion: Companion | undefined): Record<string, string> {
  if (!companion) return { __name__: s.metric, ...s.labels };
  const out: Record<string, string> = { __name__: companion, metric: s.metric };
  for (const [k, v] of Object.entries(s.labels)) out[k === 'metric' ? 'exported_metric' : k] = v;
  return out;
}

export function registerQueryRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { store, engine, clock, limits } = ctx;

  async function resolve(tenant: string, sel: ParsedSelector): Promise<Resolved> {
    const companion = companionOf(sel);
    const matchers = companion ? underlying(sel.matchers) : sel.matchers;
    const found = await store.series.find(tenant, matchers, limits.maxQuerySeries + 1);
    const truncated = found.length > limits.maxQuerySeries;
    return { series: truncated ? found.slice(0, limits.maxQuerySeries) : found, companion, truncated };
  }

  /** Points of one series (or its companion column) with from <= t < to. */
  async function points(tenant: string, s: Series, companion: Companion | undefined, from: number, to: number): Promise<{ t: Float64Array; v: Float64Array }> {
    if (!companion) return store.samples.range(tenant, s.id, from, to);
    const b = await store.samples.bands(tenant, s.id, from, to);
    return { t: b.t, v: b[COMPANIONS[companion]] };
  }

  function selectors(p: URLSearchParams, required: boolean): ParsedSelector[] {
    const list = p.getAll('match[]');
    if (list.length === 0 && required) throw new TidemarkError('TM_ERR_INPUT', 'at least one match[] selector is required, e.g. match[]=up{job="api"}', 'match[]');
    return list.map((q) => {
      try {
        return parseQuery(q);
      } catch (err) {
        if (err instanceof TidemarkError) throw new TidemarkError('TM_ERR_INPUT', err.message.replace(/^query: /, ''), 'match[]');
        throw err;
      }
    });
  }

  const read = { config: { role: 'read' as const } };

  const series = async (req: FastifyRequest) => {
    const p = params(req);
    const tenant = req.token!.tenant;
    const seen = new Set<string>();
    const data: Record<string, string>[] = [];
    for (const sel of selectors(p, true)) {
      const r = await resolve(tenant, sel);
      for (const s of r.series) {
        const key = `${r.companion ?? ''}\0${s.id}`;
        if (!seen.has(key)) {
          seen.add(key);
          data.push(labelsOut(s, r.companion));
        }
      }
    }
    return { status: 'success', data };
  };
  app.get('/api/v1/series', read, series);
  app.post('/api/v1/series', read, series);

  const labels = async (req: FastifyRequest) => {
    const p = params(req);
    const tenant = req.token!.tenant;
    const sels = selectors(p, false);
    const names = new Set<string>();
    if (sels.length === 0) for (const n of await store.series.labelNames(tenant)) names.add(n);
    for (const sel of sels) for (const n of await store.series.labelNames(tenant, sel.matchers)) names.add(n);
    return { status: 'success', data: [...names].sort() };
  };
  app.get('/api/v1/labels', read, labels);
  app.post('/api/v1/labels', read, labels);

  app.get('/api/v1/label/:name/values', read, async (req) => {
    const name = (req.params as { name: string }).name;
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name)) throw new TidemarkError('TM_ERR_INPUT', `${JSON.stringify(name)} is not a label name`, 'name');
    const p = params(req);
    const tenant = req.token!.tenant;
    const sels = selectors(p, false);
    const values = new Set<string>();
    if (sels.length === 0) for (const v of await store.series.labelValues(tenant, name)) values.add(v);
    for (const sel of sels) for (const v of await store.series.labelValues(tenant, name, sel.matchers)) values.add(v);
    // Companion series exist for every series: offer their names for autocompletion.
    if (name === '__name__' && values.size > 0) for (const c of Object.keys(COMPANIONS)) values.add(c);
    return { status: 'success', data: [...values].sort() };
  });

  function parseQ(p: URLSearchParams): ParsedSelector {
    const q = p.get('query');
    if (!q) throw new TidemarkError('TM_ERR_INPUT', 'missing parameter query (a series selector such as up{job="api"})', 'query');
    return parseQuery(q);
  }

  const instant = async (req: FastifyRequest) => {
    const p = params(req);
    const tenant = req.token!.tenant;
    const sel = parseQ(p);
    const time = promTime(p, 'time', clock());
    const r = await resolve(tenant, sel);
    const warnings = r.truncated ? [`only the first ${limits.maxQuerySeries} series are returned`] : undefined;
    if (sel.rangeMs !== undefined) {
      const result = [];
      for (const s of r.series) {
        const pts = await points(tenant, s, r.companion, time - sel.rangeMs + 1, time + 1);
        if (pts.t.length === 0) continue;
        const values: [number, string][] = [];
        for (let i = 0; i < pts.t.length; i++) values.push([pts.t[i] / 1000, fmt(pts.v[i])]);
        result.push({ metric: labelsOut(s, r.companion), values });
      }
      return { status: 'success', data: { resultType: 'matrix', result }, ...(warnings && { warnings }) };
    }
    const result = [];
    for (const s of r.series) {
      const pts = await points(tenant, s, r.companion, time - LOOKBACK_MS + 1, time + 1);
      const n = pts.t.length;
      if (n === 0) continue;
      result.push({ metric: labelsOut(s, r.companion), value: [time / 1000, fmt(pts.v[n - 1])] as [number, string] });
    }
    return { status: 'success', data: { resultType: 'vector', result }, ...(warnings && { warnings }) };
  };
  app.get('/api/v1/query', read, instant);
  app.post('/api/v1/query', read, instant);

  const range = async (req: FastifyRequest) => {
    const p = params(req);
    const tenant = req.token!.tenant;
    const sel = parseQ(p);
    if (sel.rangeMs !== undefined) throw new TidemarkError('TM_ERR_INPUT', 'a range selector ([...]) needs /api/v1/query; query_range evaluates instant selectors at each step', 'query');
    const start = promTime(p, 'start');
    const end = promTime(p, 'end');
    const rawStep = p.get('step') ?? '';
    const step = Number.isFinite(Number(rawStep)) && rawStep !== '' ? Number(rawStep) * 1000 : parseDurationMs(rawStep);
    if (!step || step <= 0) throw new TidemarkError('TM_ERR_INPUT', `expected a positive step (seconds or a duration such as 30s), got ${JSON.stringify(rawStep)}`, 'step');
    if (end < start) throw new TidemarkError('TM_ERR_INPUT', 'end is before start', 'end');
    const steps = Math.floor((end - start) / step) + 1;
    if (steps > limits.maxQueryPoints) {
      throw new TidemarkError('TM_ERR_INPUT', `${steps} points per series is more than ${limits.maxQueryPoints}; use a larger step or a shorter range`, 'step');
    }
    const r = await resolve(tenant, sel);
    const result = [];
    for (const s of r.series) {
      const pts = await points(tenant, s, r.companion, start - LOOKBACK_MS + 1, end + 1);
      if (pts.t.length === 0) continue;
      const values: [number, string][] = [];
      let j = 0;
      // At each step: the newest point at or before it, if within the lookback.
      for (let t = start; t <= end; t += step) {
        while (j < pts.t.length && pts.t[j] <= t) j++;
        if (j > 0 && pts.t[j - 1] > t - LOOKBACK_MS && !Number.isNaN(pts.v[j - 1])) values.push([t / 1000, fmt(pts.v[j - 1])]);
      }
      if (values.length > 0) result.push({ metric: labelsOut(s, r.companion), values });
    }
    return { status: 'success', data: { resultType: 'matrix', result }, ...(r.truncated && { warnings: [`only the first ${limits.maxQuerySeries} series are returned`] }) };
  };
  app.get('/api/v1/query_range', read, range);
  app.post('/api/v1/query_range', read, range);

  app.get('/api/v1/anomalies', read, async (req) => {
    const p = params(req);
    const now = clock();
    const from = msTime(p, 'from', now - 86400_000);
    const to = msTime(p, 'to', now + 1);
    const limit = intParam(p, 'limit', 100, 1000);
    return { status: 'success', data: engine.anomalies(req.token!.tenant, from, to, limit) };
  });

  app.get('/api/v1/changes', read, async (req) => {
    const p = params(req);
    const now = clock();
    const kinds = p.getAll('kind');
    for (const k of kinds) if (!CHANGE_KINDS.includes(k as ChangeKind)) throw new TidemarkError('TM_ERR_INPUT', `expected one of ${CHANGE_KINDS.join(', ')}, got ${JSON.stringify(k)}`, 'kind');
    const services = p.getAll('service');
    const data = await store.changes.list({
      tenant: req.token!.tenant,
      from: msTime(p, 'from', now - 7 * 86400_000),
      to: msTime(p, 'to', now + 1),
      ...(services.length > 0 && { services }),
      ...(kinds.length > 0 && { kinds: kinds as ChangeKind[] }),
      limit: intParam(p, 'limit', 1000, 10_000),
    });
    return { status: 'success', data };
  });
}


