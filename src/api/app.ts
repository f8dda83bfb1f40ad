/**
 * The HTTP API: a fastify app over an engine and its store. `buildApp` never listens, so
 * tests drive it with `app.inject`; `tidemark serve` calls `listen`.
 */
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Engine } from '../engine/index.ts';
import { ERRORS, TidemarkError, type ErrorCode } from '../errors.ts';
import { hashToken, type ApiToken, type Role, type Store } from '../store/index.ts';
import { registerAdminRoutes } from './admin.ts';
import { registerAlertRoutes } from './alerts.ts';
import { registerBacktestRoutes } from './backtest.ts';
import { registerShadowRoutes } from './shadow.ts';
import { registerSuggestionRoutes } from './suggestions.ts';
import { registerIngestRoutes } from './ingest.ts';
import { ServiceMetrics } from './metrics.ts';
import { registerQueryRoutes } from './query.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The role a token needs for this route (`any`: every valid token); absent: no token needed. */
    role?: Role | 'any';
  }
  interface FastifyRequest {
    /** The authenticated token (set for routes with a role). */
    token: ApiToken | null;
  }
}

/** Request limits; defaults in DEFAULT_API_LIMITS. */
export interface ApiLimits {
  /** Largest request body as sent (compressed), bytes. */
  readonly maxBodyBytes: number;
  /** Largest body once decompressed, bytes. */
  readonly maxDecodedBytes: number;
  /** Series returned by one query at most. */
  readonly maxQuerySeries: number;
  /** Points per series in one query_range answer, as Prometheus's 11,000. */
  readonly maxQueryPoints: number;
}

export const DEFAULT_API_LIMITS: ApiLimits = Object.freeze({
  maxBodyBytes: 16 * 1024 * 1024, // 16 MiB as sent
  maxDecodedBytes: 64 * 1024 * 1024, // 64 MiB decompressed
  maxQuerySeries: 10_000,
  maxQueryPoints: 11_000,
});

export interface AppOptions {
  readonly store: Store;
  readonly engine: Engine;
  readonly clock: () => number;
  readonly limits?: Partial<ApiLimits>;
  /** /readyz answers 200 only when this is true (default: always). */
  readonly isReady?: () => boolean;
  /** Log requests (fastify's pino logger); default off. */
  readonly logger?: boolean;
  /** Where decoded batches go instead of `engine.ingest` (a cluster node publishes them to the bus). */
  readonly sink?: Pick<Engine, 'ingest'>;
  /**
   * A cluster node (no alert stage here) tells the workers about writes their alert stages must
   * apply; the write is already in the store when it is called. See src/cluster/changes.ts.
   */
  readonly announce?: (change: AnnouncedChange) => Promise<void>;
}

/** What a cluster node announces after a write (src/cluster/changes.ts ClusterChange). */
export type AnnouncedChange =
  | { readonly kind: 'ack'; readonly tenant: string; readonly fingerprint: string }
  | { readonly kind: 'silences'; readonly tenant: string }
  | { readonly kind: 'config'; readonly tenant: string };

/** What route modules get. */
export interface ApiContext {
  readonly store: Store;
  readonly engine: Engine;
  readonly clock: () => number;
  readonly limits: ApiLimits;
  readonly metrics: ServiceMetrics;
  readonly sink?: Pick<Engine, 'ingest'>;
  readonly announce?: AppOptions['announce'];
}

const TOKEN_CACHE_MS = 5_000; // a revoked token stops working within 5 s
const TOKEN_CACHE_MAX = 10_000;

/** The JSON body of every error: `{error: {code, message, field?}}`, plus Prometheus's `status`. */
export function errorBody(code: ErrorCode, message: string, field?: string, extra?: Record<string, unknown>): Record<string, unknown> {
  return { status: 'error', errorType: code === 'TM_ERR_INTERNAL' || code === 'TM_ERR_STORE' ? 'internal' : 'bad_data', ...extra, error: field === undefined ? { code, message } : { code, message, field } };
}

export function sendError(reply: FastifyReply, err: TidemarkError, extra?: Record<string, unknown>): FastifyReply {
  return reply.code(err.status).type('application/json').send(errorBody(err.code, err.message, err.path, extra));
}

function satisfies(have: Role, need: Role | 'any'): boolean {
  return need === 'any' || have === 'admin' || have === need;
}

/**
 * Builds the API app (routes, auth, error catalogue, /metrics); does not listen.
 * @example const app = await buildApp({ store, engine, clock: Date.now }); await app.listen({ port: 9464 });
 */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const limits: ApiLimits = { ...DEFAULT_API_LIMITS, ...options.limits };
  const { store, engine, clock } = options;
  const app = Fastify({ logger: options.logger ?? false, bodyLimit: limits.maxBodyBytes, return503OnClosing: true, forceCloseConnections: true });
  const metrics = new ServiceMetrics(engine, clock, clock());
  const ctx: ApiContext = { store, engine, clock, limits, metrics, sink: options.sink, announce: options.announce };

  // Every body arrives as bytes; each route checks the content type it reads and decodes itself
  // (snappy, gzip, protobuf, JSON, line protocol, CSV, YAML), so one parser fits all.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.decorateRequest('token', null);

  const cache = new Map<string, { token: ApiToken | undefined; until: number }>();
  app.addHook('onRequest', async (req: FastifyRequest) => {
    const need = req.routeOptions.config?.role;
    if (need === undefined) return;
    const header = req.headers.authorization ?? '';
    // `Token` is what InfluxDB clients and Telegraf send; it means the same here.
    const m = /^(?:Bearer|Token)\s+(\S+)\s*$/i.exec(header);
    if (!m) throw new TidemarkError('TM_ERR_UNAUTHORIZED', 'missing API token: send the header `Authorization: Bearer <token>`', 'Authorization');
    const hash = hashToken(m[1]);
    const now = performance.now();
    let hit = cache.get(hash);
    if (!hit || hit.until < now) {
      if (cache.size >= TOKEN_CACHE_MAX) cache.clear();
      hit = { token: await store.tokens.byHash(hash), until: now + TOKEN_CACHE_MS };
      cache.set(hash, hit);
    }
    const t = hit.token;
    const at = clock();
    if (!t || t.revokedAt !== null || (t.expiresAt !== null && t.expiresAt <= at)) {
      throw new TidemarkError('TM_ERR_UNAUTHORIZED', t ? 'the API token was revoked or has expired' : 'unknown API token', 'Authorization');
    }
    if (!satisfies(t.role, need)) {
      throw new TidemarkError('TM_ERR_FORBIDDEN', `this endpoint needs a token with role ${need} (or admin); token "${t.name}" has role ${t.role}`, 'Authorization');
    }
    req.token = t;
  });

  app.addHook('onResponse', async (req, reply) => {
    metrics.requests.inc({ route: req.routeOptions.url ?? 'unknown', status: String(reply.statusCode) });
  });

  app.setErrorHandler((err: FastifyError | TidemarkError, req, reply) => {
    if (err instanceof TidemarkError) return sendError(reply, err);
    const status = (err as FastifyError).statusCode ?? 500;
    const code = (err as FastifyError).code;
    if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return sendError(reply, new TidemarkError('TM_ERR_TOO_LARGE', `the request body is larger than the limit of ${limits.maxBodyBytes} bytes; send smaller batches`, 'body'));
    }
    if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return sendError(reply, new TidemarkError('TM_ERR_MEDIA_TYPE', err.message, 'Content-Type'));
    if (status >= 400 && status < 500) {
      const c: ErrorCode = status === 413 ? 'TM_ERR_TOO_LARGE' : status === 415 ? 'TM_ERR_MEDIA_TYPE' : 'TM_ERR_INPUT';
      return reply.code(ERRORS[c].status).send(errorBody(c, err.message));
    }
    req.log.error(err);
    process.emitWarning(`request ${req.method} ${req.url} failed: ${err.stack ?? err.message}`);
    return reply.code(500).send(errorBody('TM_ERR_INTERNAL', `the request failed: ${err.message}`));
  });

  app.setNotFoundHandler((req, reply) =>
    sendError(reply, new TidemarkError('TM_ERR_NOT_FOUND', `no endpoint ${req.method} ${req.url.split('?')[0]}; see the README for the API`, 'url')),
  );

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const ready = options.isReady?.() ?? true;
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'starting' });
  });
  app.get('/metrics', async (_req, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });

  registerIngestRoutes(app, ctx);
  registerQueryRoutes(app, ctx);
  registerAlertRoutes(app, ctx);
  registerAdminRoutes(app, ctx);
  registerBacktestRoutes(app, ctx);
  registerSuggestionRoutes(app, ctx);
  registerShadowRoutes(app, ctx);
  return app;
}
