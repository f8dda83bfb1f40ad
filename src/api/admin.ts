/**
 * Who am I, config history and the audit log over HTTP:
 *   GET /api/v1/whoami                 {tenant, role, tokenName}                          (any valid token)
 *   GET /api/v1/config/versions        the tenant's config versions, newest first: {version, author, at, hash, message}
 *                                      ?limit=N; ?version=N answers that one version with its `yaml`     (admin)
 *   GET /api/v1/audit                  audit entries {id, at, actor, action, target, diff}, newest first;
 *                                      ?limit=N (default 100, at most 1000), ?before=<ms or RFC 3339>;
 *                                      the answer's `next` is the `before` of the following page (null: no more) (admin)
 * Every read is of the token's own tenant. Unknown or malformed query fields are 400 naming the field.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { TidemarkError } from '../errors.ts';
import type { AuditEntry, ConfigVersion } from '../store/index.ts';
import type { ApiContext } from './app.ts';

const AUDIT_DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000; // entries per page: more is a paging loop, not one answer

/** The query string, refusing fields the route does not know and repeated fields. */
function query(req: FastifyRequest, known: readonly string[]): URLSearchParams {
  const p = new URLSearchParams(req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '');
  for (const k of new Set(p.keys())) {
    if (!known.includes(k)) throw new TidemarkError('TM_ERR_INPUT', `unknown query field; valid fields: ${known.join(', ') || 'none'}`, k);
    if (p.getAll(k).length > 1) throw new TidemarkError('TM_ERR_INPUT', 'give this field once', k);
  }
  return p;
}

function positiveInt(p: URLSearchParams, name: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const raw = p.get(name);
  if (raw === null) return undefined;
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > max) {
    throw new TidemarkError('TM_ERR_INPUT', `expected an integer from 1 to ${max}, got ${JSON.stringify(raw)}`, name);
  }
  return n;
}

/** A time as integer ms since the epoch or RFC 3339. */
function timeParam(p: URLSearchParams, name: string): number | undefined {
  const raw = p.get(name);
  if (raw === null) return undefined;
  const ms = /^\d+$/.test(raw) ? Number(raw) : /^\d{4}-\d{2}-\d{2}T/.test(raw) ? Date.parse(raw) : NaN;
  if (!Number.isSafeInteger(ms) || ms < 0) throw new TidemarkError('TM_ERR_INPUT', `expected ms since the epoch or an RFC 3339 time, got ${JSON.stringify(raw)}`, name);
  return ms;
}

/** Hex SHA-256 of the YAML text: tells two versions (or a file on disk) apart without reading them. */
function configHash(yaml: string): string {
  return createHash('sha256').update(yaml, 'utf8').digest('hex');
}

function versionOut(v: ConfigVersion, withYaml: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { version: v.version, author: v.author, at: v.at, hash: configHash(v.yaml), message: v.comment };
  if (withYaml) out.yaml = v.yaml;
  return out;
}

/**
 * One page of the audit log before `before`, and the `before` of the next page. Paging is by
 * time, so a page never ends inside a group of entries with the same `at` (the next page would
 * skip the rest of the group): such a group moves whole to the next page, and a group larger
 * than the page is answered whole.
 */
async function auditPage(ctx: ApiContext, tenant: string, limit: number, before: number | undefined): Promise<{ data: AuditEntry[]; next: number | null }> {
  const rows = await ctx.store.audit.list({ tenant, to: before, limit: limit + 1 });
  if (rows.length <= limit) return { data: rows, next: null };
  const page = rows.slice(0, limit);
  const lastAt = page[page.length - 1].at;
  if (rows[limit].at === lastAt) {
    while (page.length > 0 && page[page.length - 1].at === lastAt) page.pop();
    if (page.length === 0) {
      const group = await ctx.store.audit.list({ tenant, from: lastAt, to: lastAt + 1 });
      const older = await ctx.store.audit.list({ tenant, to: lastAt, limit: 1 });
      return { data: group, next: older.length > 0 ? lastAt : null };
    }
  }
  return { data: page, next: page[page.length - 1].at };
}

export function registerAdminRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const { store } = ctx;
  const admin = { config: { role: 'admin' as const } };

  app.get('/api/v1/whoami', { config: { role: 'any' as const } }, async (req) => {
    query(req, []);
    const t = req.token!;
    return { status: 'success', data: { tenant: t.tenant, role: t.role, tokenName: t.name } };
  });

  app.get('/api/v1/config/versions', admin, async (req) => {
    const p = query(req, ['version', 'limit']);
    const tenant = req.token!.tenant;
    const version = positiveInt(p, 'version');
    const limit = positiveInt(p, 'limit', MAX_LIMIT);
    if (version !== undefined) {
      if (limit !== undefined) throw new TidemarkError('TM_ERR_INPUT', 'give version (one version) or limit (a list), not both', 'limit');
      const v = await store.config.get(tenant, version);
      if (!v) throw new TidemarkError('TM_ERR_NOT_FOUND', `tenant ${tenant} has no config version ${version}`, 'version');
      return { status: 'success', data: versionOut(v, true) };
    }
    const list = await store.config.list(tenant, limit);
    return { status: 'success', data: list.map((v) => versionOut(v, false)) };
  });

  app.get('/api/v1/audit', admin, async (req) => {
    const p = query(req, ['limit', 'before']);
    const limit = positiveInt(p, 'limit', MAX_LIMIT) ?? AUDIT_DEFAULT_LIMIT;
    const before = timeParam(p, 'before');
    const { data, next } = await auditPage(ctx, req.token!.tenant, limit, before);
    return { status: 'success', data, next };
  });
}
