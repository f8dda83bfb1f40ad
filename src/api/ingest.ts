// Ingest routes: remote_write, OTLP/HTTP, line protocol, the JSON batch, backfill, change
// events and the admin config endpoint. Every write is durable before its 2xx.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { IngestMode, IngestOutcome } from '../engine/index.ts';
import { TidemarkError } from '../errors.ts';
import {
  decodeJsonBatch,
  decodeLineProtocol,
  decodeOtlpJson,
  decodeOtlpProtobuf,
  decodeRemoteWrite,
  IngestBatch,
  maybeGunzip,
} from '../ingest/index.ts';
import { CHANGE_KINDS, type ChangeKind } from '../store/index.ts';
import type { ApiContext } from './app.ts';
import { errorBody } from './app.ts';
import { decodeCsvSamples } from './csv.ts';

/**
 * One decode batch per ingest mode, shared by every request: decoding is synchronous and the
 * engine reads a batch only before `engine.ingest` returns, so a batch is free again before
 * the next request can run. Sharing keeps one warm series cache instead of one per request
 * in flight (each costs ~500 bytes per series).
 */
class Batches {
  readonly live: IngestBatch;
  readonly replay: IngestBatch;
  constructor(clock: () => number) {
    this.live = new IngestBatch({ now: clock });
    // Backfill carries history; "too far in the future" does not apply to it.
    this.replay = new IngestBatch({ now: clock, maxFutureMs: Number.MAX_SAFE_INTEGER });
  }
  take(mode: IngestMode): IngestBatch {
    const b = mode === 'replay' ? this.replay : this.live;
    b.reset();
    return b;
  }
}

/** Media type without parameters, lower-cased; '' when absent. */
function mediaType(req: FastifyRequest): string {
  return (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
}

function requireType(req: FastifyRequest, accepted: readonly string[], allowMissing = false): string {
  const t = mediaType(req);
  if ((t === '' && allowMissing) || accepted.includes(t)) return t;
  throw new TidemarkError('TM_ERR_MEDIA_TYPE', `Content-Type ${t ? JSON.stringify(t) : '(none)'} is not accepted here; send ${accepted.join(' or ')}`, 'Content-Type');
}

function bodyOf(req: FastifyRequest): Buffer {
  return Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

type Rejections = { reason: string; count: number; examples: { field: string; problem: string; line?: number }[] }[];

/** Merges decoder and engine rejections into one answer (status and JSON body). */
function answer(tenant: string, decoded: Rejections, o: IngestOutcome | undefined, allowEmpty: boolean): Answer {
  const rejections: Rejections = decoded;
  if (o) for (const r of o.rejected.values()) rejections.push({ reason: r.reason, count: r.count, examples: r.examples });
  const rejected = rejections.reduce((n, r) => n + r.count, 0);
  const accepted = o?.accepted ?? 0;
  const stale = o?.stale ?? 0;
  const body: Record<string, unknown> = { status: 'success', accepted, rejected, duplicates: o?.duplicates ?? 0, stale, rejections };
  if (o?.cardinality) {
    const c = o.cardinality;
    Object.assign(body, errorBody('TM_ERR_CARDINALITY', c.message, c.label === undefined ? 'metric' : `labels.${c.label}`, { accepted, rejected, duplicates: o.duplicates, stale, rejections }));
    (body.error as Record<string, unknown>).metric = c.metric;
    (body.error as Record<string, unknown>).label = c.label ?? null;
    return { status: 429, body };
  }
  if (accepted + stale === 0) {
    if (rejected === 0) {
      if (allowEmpty) return { status: 200, body };
      return { status: 400, body: errorBody('TM_ERR_INPUT', 'the body holds no samples', 'body', { accepted, rejected, rejections }) };
    }
    const first = rejections[0];
    const summary = rejections.map((r) => `${r.reason}: ${r.count}`).join(', ');
    const ex = first.examples[0];
    return {
      status: 400,
      body: errorBody('TM_ERR_INPUT', `no sample was accepted; ${rejected} rejected (${summary})${ex ? `; first: ${ex.field}: ${ex.problem}` : ''}`, ex?.field, { accepted, rejected, duplicates: 0, stale, rejections }),
    };
  }
  void tenant;
  return { status: 200, body };
}

export function registerIngestRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { engine, clock, limits, metrics } = ctx;
  const batches = new Batches(clock);

  /** Decode into the shared batch, apply through the engine, count, answer. */
  async function ingest(req: FastifyRequest, format: string, decode: (batch: IngestBatch) => void, mode: IngestMode = 'live', allowEmpty = false): Promise<Answer> {
    const tenant = req.token!.tenant;
    // Everything up to engine.ingest's return is synchronous: the batch is not shared meanwhile.
    const batch = batches.take(mode);
    decode(batch);
    const rejections = batch.rejections();
    for (const r of rejections) metrics.rejected.inc({ tenant, reason: r.reason }, r.count);
    const pending = batch.length > 0 ? (ctx.sink ?? engine).ingest(tenant, batch, mode) : undefined;
    const o = pending && (await pending);
    if (o) metrics.observe(tenant, format, o);
    return answer(tenant, rejections, o, allowEmpty);
  }

  const send = (reply: FastifyReply, a: Answer) => reply.code(a.status).send(a.body);

  app.post('/api/v1/samples', { config: { role: 'write' } }, async (req, reply) => {
    requireType(req, ['application/json']);
    const body = maybeGunzip(bodyOf(req), req.headers['content-encoding'] as string | undefined, limits.maxDecodedBytes);
    return send(reply, await ingest(req, 'json', (b) => decodeJsonBatch(body, b)));
  });

  // Prometheus remote_write 1.0: snappy-compressed protobuf.
  app.post('/api/v1/write', { config: { role: 'write' } }, async (req, reply) => {
    requireType(req, ['application/x-protobuf']);
    const enc = String(req.headers['content-encoding'] ?? 'snappy').toLowerCase();
    if (enc !== 'snappy') throw new TidemarkError('TM_ERR_MEDIA_TYPE', `Content-Encoding ${JSON.stringify(enc)} is not accepted here; remote_write bodies are snappy`, 'Content-Encoding');
    const body = bodyOf(req);
    const a = await ingest(req, 'remote_write', (b) => decodeRemoteWrite(body, b, { maxDecodedBytes: limits.maxDecodedBytes }), 'live', true);
    return send(reply, a);
  });

  // OTLP/HTTP metrics, protobuf or JSON, optionally gzip.
  app.post('/v1/metrics', { config: { role: 'write' } }, async (req, reply) => {
    const type = requireType(req, ['application/x-protobuf', 'application/json']);
    const body = maybeGunzip(bodyOf(req), req.headers['content-encoding'] as string | undefined, limits.maxDecodedBytes);
    const a = await ingest(req, 'otlp', (b) => (type === 'application/json' ? decodeOtlpJson(body, b) : decodeOtlpProtobuf(body, b)), 'live', true);
    if (a.status !== 200) return send(reply, a);
    // ExportMetricsServiceResponse, with partial_success when something was rejected.
    const rejected = a.body.rejected as number;
    const message = rejected > 0 ? `${rejected} data points rejected: ${(a.body.rejections as { reason: string; count: number }[]).map((r) => `${r.reason}: ${r.count}`).join(', ')}` : '';
    if (type === 'application/json') {
      return reply.code(200).send(rejected > 0 ? { partialSuccess: { rejectedDataPoints: String(rejected), errorMessage: message }, ...a.body } : a.body);
    }
    return reply.code(200).type('application/x-protobuf').send(rejected > 0 ? otlpPartialSuccess(rejected, message) : Buffer.alloc(0));
  });

  // InfluxDB line protocol, v2 and v1 paths (Telegraf's outputs.influxdb_v2 and outputs.influxdb).
  for (const path of ['/api/v2/write', '/write']) {
    app.post(path, { config: { role: 'write' } }, async (req, reply) => {
      requireType(req, ['text/plain', 'application/octet-stream'], true);
      const q = req.query as Record<string, string | undefined>;
      const body = maybeGunzip(bodyOf(req), req.headers['content-encoding'] as string | undefined, limits.maxDecodedBytes);
      const precision = q.precision ?? 'ns';
      if (!/^(ns|n|us|u|µs|ms|s|m|h)$/.test(precision)) {
        throw new TidemarkError('TM_ERR_INPUT', `unknown precision ${JSON.stringify(precision)}; use ns, us, ms or s`, 'precision');
      }
      const a = await ingest(req, 'line_protocol', (b) => decodeLineProtocol(body, b, { precision }));
      // As InfluxDB: 204 when every line was written, 400 for a partial write (the accepted
      // lines are stored; Telegraf and the InfluxDB clients do not retry a 400).
      if (a.status === 200 && (a.body.rejected as number) === 0) return reply.code(204).send();
      if (a.status === 200) {
        const rs = a.body.rejections as { reason: string; count: number; examples: { field: string; problem: string }[] }[];
        const ex = rs[0].examples[0];
        const msg = `partial write: ${a.body.accepted} samples accepted, ${a.body.rejected} rejected (${rs.map((r) => `${r.reason}: ${r.count}`).join(', ')})${ex ? `; first: ${ex.field}: ${ex.problem}` : ''}`;
        return reply.code(400).send({ ...a.body, ...errorBody('TM_ERR_INPUT', msg, ex?.field) });
      }
      return send(reply, a);
    });
  }

  // History into detector state and the store through replay, never live alerting.
  app.post('/api/v1/backfill', { config: { role: 'write' } }, async (req, reply) => {
    const type = requireType(req, ['application/json', 'text/csv']);
    const body = maybeGunzip(bodyOf(req), req.headers['content-encoding'] as string | undefined, limits.maxDecodedBytes);
    const a = await ingest(req, 'backfill', (b) => (type === 'text/csv' ? decodeCsvSamples(body.toString('utf8'), b) : decodeJsonBatch(body, b)), 'replay');
    return send(reply, a);
  });

  app.post('/api/v1/changes', { config: { role: 'write' } }, async (req, reply) => {
    requireType(req, ['application/json']);
    const input = parseChange(bodyOf(req), req.token!.tenant);
    const { event, created } = await engine.addChange(input);
    return reply.code(created ? 201 : 200).send({ status: 'success', data: event });
  });

  app.get('/api/v1/config', { config: { role: 'admin' } }, async (req, reply) => {
    const latest = await ctx.store.config.latest(req.token!.tenant);
    if (!latest) throw new TidemarkError('TM_ERR_NOT_FOUND', 'this tenant has no config yet; it runs on the defaults', 'config');
    return reply.send({ status: 'success', data: latest });
  });

  app.post('/api/v1/config', { config: { role: 'admin' } }, async (req, reply) => {
    requireType(req, ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/plain']);
    const yaml = bodyOf(req).toString('utf8');
    const tenant = req.token!.tenant;
    const declared = /^tenant:\s*["']?([^"'\s#]+)/m.exec(yaml)?.[1];
    if (declared !== undefined && declared !== tenant) {
      throw new TidemarkError('TM_ERR_FORBIDDEN', `the config is for tenant ${declared}, but the token belongs to tenant ${tenant}`, 'tenant');
    }
    const q = req.query as Record<string, string | undefined>;
    const r = await engine.putConfig(yaml, `token:${req.token!.name}`, q.comment ?? null, 'request body');
    return reply.code(r.created ? 201 : 200).send({ status: 'success', data: { version: r.version.version, created: r.created, relearning: r.relearning } });
  });
}

/** Validates a change event body; every problem names its field. */
function parseChange(body: Buffer, tenant: string): Parameters<ApiContext['engine']['addChange']>[0] {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new TidemarkError('TM_ERR_INPUT', `body is not valid JSON (${(err as Error).message})`, 'body');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new TidemarkError('TM_ERR_INPUT', 'a change event is a JSON object: {"kind": "deploy", "service": "auth", "t": <ms>, "text": "..."}', 'body');
  }
  const d = doc as Record<string, unknown>;
  const known = ['kind', 'service', 't', 'text', 'labels', 'author', 'link', 'id'];
  for (const k of Object.keys(d)) if (!known.includes(k)) throw new TidemarkError('TM_ERR_INPUT', `unknown field; valid fields: ${known.join(', ')}`, k);
  if (!CHANGE_KINDS.includes(d.kind as ChangeKind)) throw new TidemarkError('TM_ERR_INPUT', `expected one of ${CHANGE_KINDS.join(', ')}, got ${JSON.stringify(d.kind)}`, 'kind');
  if (typeof d.service !== 'string' || d.service === '') throw new TidemarkError('TM_ERR_INPUT', 'expected the name of the service that changed', 'service');
  if (typeof d.t !== 'number' || !Number.isSafeInteger(d.t) || d.t < 0) throw new TidemarkError('TM_ERR_INPUT', `expected an integer time in ms since the epoch, got ${JSON.stringify(d.t)}`, 't');
  if (d.t < 1e11) throw new TidemarkError('TM_ERR_INPUT', `${d.t} looks like seconds; send ms since the epoch`, 't');
  if (d.text !== undefined && typeof d.text !== 'string') throw new TidemarkError('TM_ERR_INPUT', 'expected a string', 'text');
  const labels: Record<string, string> = {};
  if (d.labels !== undefined) {
    if (typeof d.labels !== 'object' || d.labels === null || Array.isArray(d.labels)) throw new TidemarkError('TM_ERR_INPUT', 'expected an object of string values', 'labels');
    for (const [k, v] of Object.entries(d.labels)) {
      if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(k)) throw new TidemarkError('TM_ERR_INPUT', 'not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)', `labels.${k}`);
      if (typeof v !== 'string') throw new TidemarkError('TM_ERR_INPUT', `expected a string, got ${typeof v}`, `labels.${k}`);
      labels[k] = v;
    }
  }
  for (const k of ['author', 'link', 'id'] as const) {
    if (d[k] !== undefined && d[k] !== null && typeof d[k] !== 'string') throw new TidemarkError('TM_ERR_INPUT', 'expected a string', k);
  }
  if (typeof d.link === 'string' && !/^https?:\/\//.test(d.link)) throw new TidemarkError('TM_ERR_INPUT', 'expected an http(s) URL', 'link');
  return {
    tenant,
    kind: d.kind as ChangeKind,
    service: d.service,
    t: d.t,
    text: (d.text as string | undefined) ?? '',
    labels,
    author: (d.author as string | undefined) ?? null,
    link: (d.link as string | undefined) ?? null,
    externalId: (d.id as string | undefined) ?? null,
  };
}

/** ExportMetricsServiceResponse { partial_success = 1 { rejected_data_points = 1; error_message = 2 } }. */
function otlpPartialSuccess(rejected: number, message: string): Buffer {
  const msg = Buffer.from(message, 'utf8');
  const inner = Buffer.concat([Buffer.from([0x08]), varint(rejected), Buffer.from([0x12]), varint(msg.length), msg]);
  return Buffer.concat([Buffer.from([0x0a]), varint(inner.length), inner]);
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}
