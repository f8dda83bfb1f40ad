// The SQLite store's domains other than samples: small tables, written rarely, read by the API.
import { randomUUID } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import { TidemarkError } from '../errors.ts';
import {
  canonicalLabels,
  checkFinite,
  checkId,
  checkLimit,
  checkOneOf,
  checkOptionalText,
  checkOptionalTime,
  checkTenantId,
  checkText,
  checkTime,
  parseLabels,
} from './check.ts';
import { COUNTS_GROUP_BY, COUNTS_ROWS_SELECT, COUNTS_SELECT, addAlertFilters, alertHeld, alertService, checkAlertQuery, foldCounts, matchedRows, type AlertDialect } from './alert-query.ts';
import { compileMatchers, pinnedMetric } from './match.ts';
import { type SqliteContext, isSqliteError, marks } from './sqlite-base.ts';
import {
  ALERT_STATES,
  CHANGE_KINDS,
  FEEDBACK_LABELS,
  NOTIFICATION_STATUSES,
  ROLES,
  SEVERITIES,
  type Ack,
  type AckInput,
  type AckStore,
  type Alert,
  type AlertInput,
  type AlertQuery,
  type AlertCounts,
  type AlertStore,
  type AlertBatchResult,
  type AlertTransition,
  type AlertUpsert,
  type ApiToken,
  type AuditEntry,
  type AuditInput,
  type AuditQuery,
  type AuditStore,
  type ChangeEvent,
  type ChangeInput,
  type ChangeQuery,
  type ChangeStore,
  type Checkpoint,
  type CheckpointStore,
  type ConfigInput,
  type ConfigStore,
  type ConfigVersion,
  type Feedback,
  type FeedbackInput,
  type FeedbackQuery,
  type FeedbackStore,
  type Matcher,
  type NotificationDispatch,
  type NotificationInput,
  type NotificationIntent,
  type NotificationQuery,
  type NotificationSettlement,
  type PendingNotification,
  type NotificationRecord,
  type NotificationStore,
  type Series,
  type SeriesKey,
  type SeriesStore,
  type Silence,
  type SilenceInput,
  type SilenceQuery,
  type SilenceStore,
  type Tenant,
  type TenantStore,
  type TokenInput,
  type TokenStore,
} from './types.ts';

type Row = Record<string, unknown>;

/** A WHERE clause built from optional filters, with its parameters in order. */
class Where {
  readonly parts: string[] = [];
  readonly params: unknown[] = [];
  add(sql: string, ...params: unknown[]): this {
    this.parts.push(sql);
    this.params.push(...params);
    return this;
  }
  in(column: string, values: readonly unknown[] | undefined): this {
    if (values !== undefined) this.add(`${column} IN (${values.length ? marks(values.length) : 'NULL'})`, ...values);
    return this;
  }
  toString(): string {
    return this.parts.length ? `WHERE ${this.parts.join(' AND ')}` : '';
  }
}

function limitSql(limit: number | undefined): string {
  return limit === undefined ? '' : ` LIMIT ${limit}`;
}

export function jsonText(value: unknown, path: string): string | null {
  if (value === undefined || value === null) return null;
  try {
    const text = JSON.stringify(value);
    if (text === undefined) throw new Error('not representable as JSON');
    return text;
  } catch (err) {
    throw new TidemarkError('TM_ERR_INPUT', `expected a JSON value: ${(err as Error).message}`, path);
  }
}

function checkMatchers(matchers: readonly Matcher[] | undefined, path: string): void {
  if (matchers !== undefined) compileMatchers(matchers, path);
}

// ---------------------------------------------------------------------------------------------

export class SqliteTenants implements TenantStore {
  readonly #ctx: SqliteContext;
  readonly #insert: Statement;
  readonly #get: Statement<[string]>;
  constructor(ctx: SqliteContext) {
    this.#ctx = ctx;
    this.#insert = ctx.db.prepare('INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING');
    this.#get = ctx.db.prepare('SELECT * FROM tenants WHERE id = ?');
  }
  create(input: { id: string; name: string }): Promise<{ tenant: Tenant; created: boolean }> {
    return this.#ctx.run(() => {
      const id = checkTenantId(input.id, 'id');
      const name = checkText(input.name, 'name');
      const created = this.#insert.run(id, name, this.#ctx.now()).changes === 1;
      return { tenant: toTenant(this.#get.get(id) as Row), created };
    });
  }
  get(id: string): Promise<Tenant | undefined> {
    return this.#ctx.run(() => {
      const row = this.#get.get(id) as Row | undefined;
      return row && toTenant(row);
    });
  }
  list(): Promise<Tenant[]> {
    return this.#ctx.run(() => (this.#ctx.db.prepare('SELECT * FROM tenants ORDER BY id').all() as Row[]).map(toTenant));
  }
}

function toTenant(r: Row): Tenant {
  return { id: r.id as string, name: r.name as string, createdAt: r.created_at as number };
}

// ---------------------------------------------------------------------------------------------

export class SqliteTokens implements TokenStore {
  readonly #ctx: SqliteContext;
  constructor(ctx: SqliteContext) {
    this.#ctx = ctx;
  }
  create(input: TokenInput): Promise<ApiToken> {
    return this.#ctx.run(() => {
      const tenant = checkTenantId(input.tenant);
      const name = checkText(input.name, 'name');
      const role = checkOneOf(input.role, ROLES, 'role');
      if (typeof input.hash !== 'string' || !/^[0-9a-f]{64}$/.test(input.hash)) {
        throw new TidemarkError('TM_ERR_INPUT', 'a token hash is 64 lower-case hex digits (SHA-256; see hashToken)', 'hash');
      }
      const expiresAt = checkOptionalTime(input.expiresAt, 'expiresAt');
      this.#ctx.requireTenant(tenant);
      try {
        const info = this.#ctx.db
          .prepare('INSERT INTO api_tokens (tenant, name, role, hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)')
          .run(tenant, name, role, input.hash, this.#ctx.now(), expiresAt);
        return toToken(this.#ctx.db.prepare('SELECT * FROM api_tokens WHERE id = ?').get(info.lastInsertRowid) as Row);
      } catch (err) {
        if (isSqliteError(err, 'SQLITE_CONSTRAINT_UNIQUE')) throw new TidemarkError('TM_ERR_CONFLICT', 'a token with this hash already exists; generate a new secret', 'hash');
        throw err;
      }
    });
  }
  byHash(hash: string): Promise<ApiToken | undefined> {
    return this.#ctx.run(() => {
      const row = this.#ctx.db.prepare('SELECT * FROM api_tokens WHERE hash = ?').get(hash) as Row | undefined;
      return row && toToken(row);
    });
  }
  list(tenant: string): Promise<ApiToken[]> {
    return this.#ctx.run(() => (this.#ctx.db.prepare('SELECT * FROM api_tokens WHERE tenant = ? ORDER BY id').all(tenant) as Row[]).map(toToken));
  }
  revoke(tenant: string, id: number, at: number): Promise<boolean> {
    return this.#ctx.run(() => {
      checkTime(at, 'at');
      const db = this.#ctx.db;
      if (db.prepare('UPDATE api_tokens SET revoked_at = ? WHERE tenant = ? AND id = ? AND revoked_at IS NULL').run(at, tenant, id).changes === 1) return true;
      return db.prepare('SELECT 1 FROM api_tokens WHERE tenant = ? AND id = ?').get(tenant, id) !== undefined;
    });
  }
}

function toToken(r: Row): ApiToken {
  return {
    id: r.id as number,
    tenant: r.tenant as string,
    name: r.name as string,
    role: r.role as ApiToken['role'],
    hash: r.hash as string,
    createdAt: r.created_at as number,
    expiresAt: r.expires_at as number | null,
    revokedAt: r.revoked_at as number | null,
  };
}

// ---------------------------------------------------------------------------------------------

export class SqliteSeries implements SeriesStore {
  readonly #ctx: SqliteContext;
  /** tenant \0 metric \0 canonical labels -> id. Ids never change, so the cache is never stale. */
  readonly #ids = new Map<string, number>();
  readonly #maxCached: number;
  /**
   * Parsed series per tenant, by id, loaded on a tenant's first lookup and appended to by
   * intern (this process is the only writer). Matching then skips SQL and JSON parsing.
   * Tenants larger than #maxCached are not kept: their lookups scan SQL each time.
   */
  readonly #catalog = new Map<string, Series[]>();
  readonly #select: Statement<[string, string, string], number>;
  readonly #insert: Statement<[string, string, string, number]>;
  readonly #get: Statement<[number]>;
  readonly #maxId: Statement<[]>;
  readonly #internMisses: (misses: { key: string; tenant: string; metric: string; labels: string; index: number }[], out: number[], created: Series[]) => void;

  constructor(ctx: SqliteContext, maxCached: number) {
    this.#ctx = ctx;
    this.#maxCached = maxCached;
    const db = ctx.db;
    this.#select = db.prepare<[string, string, string], number>('SELECT id FROM series WHERE tenant = ? AND metric = ? AND labels = ?').pluck();
    this.#insert = db.prepare('INSERT INTO series (tenant, metric, labels, created_at) VALUES (?, ?, ?, ?)');
    this.#get = db.prepare('SELECT * FROM series WHERE id = ?');
    this.#maxId = db.prepare('SELECT MAX(id) AS id FROM series');
    this.#internMisses = db.transaction((misses, out, created: Series[]) => {
      const now = ctx.now();
      // The same new key twice in one batch: the second sees the first's id here.
      const local = new Map<string, number>();
      for (const m of misses) {
        let id = local.get(m.key) ?? this.#select.get(m.tenant, m.metric, m.labels);
        if (id === undefined) {
          id = Number(this.#insert.run(m.tenant, m.metric, m.labels, now).lastInsertRowid);
          created.push({ id, tenant: m.tenant, metric: m.metric, labels: parseLabels(m.labels) });
        }
        out[m.index] = id;
        local.set(m.key, id);
      }
    });
  }

  intern(keys: readonly SeriesKey[]): Promise<number[]> {
    return this.#ctx.run(() => {
      if (!Array.isArray(keys)) throw new TidemarkError('TM_ERR_INPUT', 'intern takes an array of {tenant, metric, labels}', 'keys');
      const out = new Array<number>(keys.length);
      const misses: { key: string; tenant: string; metric: string; labels: string; index: number }[] = [];
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i];
        const tenant = checkTenantId(k?.tenant, `keys[${i}].tenant`);
        const metric = checkText(k.metric, `keys[${i}].metric`);
        const labels = canonicalLabels(k.labels, `keys[${i}].labels`);
        const key = `${tenant}\0${metric}\0${labels}`;
        const id = this.#ids.get(key);
        if (id !== undefined) out[i] = id;
        else misses.push({ key, tenant, metric, labels, index: i });
      }
      if (misses.length) {
        for (const m of misses) this.#ctx.requireTenant(m.tenant, `keys[${m.index}].tenant`);
        // A crude bound on memory: start over rather than track recency on the hot path.
        if (this.#ids.size + misses.length > this.#maxCached) this.#ids.clear();
        const created: Series[] = [];
        this.#internMisses(misses, out, created);
        // Caches learn ids only after commit: SQLite may hand a rolled-back id to another key.
        for (const m of misses) this.#ids.set(m.key, out[m.index]);
        for (const s of created) {
          const list = this.#catalog.get(s.tenant);
          if (list && list.length < this.#maxCached) list.push(s);
          else if (list) this.#catalog.delete(s.tenant);
        }
      }
      return out;
    });
  }

  get(tenant: string, id: number): Promise<Series | undefined> {
    return this.#ctx.run(() => {
      const row = this.#get.get(id) as Row | undefined;
      return row && row.tenant === tenant ? toSeries(row) : undefined;
    });
  }

  find(tenant: string, matchers: readonly Matcher[], limit?: number): Promise<Series[]> {
    return this.#ctx.run(() => this.#select_(tenant, matchers, checkLimit(limit)));
  }

  maxId(): Promise<number> {
    return this.#ctx.run(() => Number((this.#maxId.get() as { id: number | null }).id ?? 0));
  }

  labelNames(tenant: string, matchers: readonly Matcher[] = []): Promise<string[]> {
    return this.#ctx.run(() => {
      const names = new Set<string>();
      const series = this.#select_(tenant, matchers, undefined);
      if (series.length) names.add('__name__');
      for (const s of series) for (const k in s.labels) names.add(k);
      return [...names].sort();
    });
  }

  labelValues(tenant: string, name: string, matchers: readonly Matcher[] = []): Promise<string[]> {
    return this.#ctx.run(() => {
      checkText(name, 'name');
      const values = new Set<string>();
      for (const s of this.#select_(tenant, matchers, undefined)) {
        const v = name === '__name__' ? s.metric : s.labels[name];
        if (v !== undefined) values.add(v);
      }
      return [...values].sort();
    });
  }

  /** The catalogue (or SQL, narrowed by tenant and pinned metric) supplies series; the matchers run here. */
  #select_(tenant: string, matchers: readonly Matcher[], limit: number | undefined): Series[] {
    const match = compileMatchers(matchers);
    const metric = pinnedMetric(matchers);
    const out: Series[] = [];
    const all = metric === undefined ? this.#tenantCatalog(tenant) : undefined;
    const rows: Iterable<Series> =
      all ??
      (function* (it: IterableIterator<Row>) {
        for (const r of it) yield { id: r.id as number, tenant, metric: r.metric as string, labels: parseLabels(r.labels as string) };
      })(
        (metric === undefined
          ? this.#ctx.db.prepare('SELECT id, metric, labels FROM series WHERE tenant = ? ORDER BY id').iterate(tenant)
          : this.#ctx.db.prepare('SELECT id, metric, labels FROM series WHERE tenant = ? AND metric = ? ORDER BY id').iterate(tenant, metric)) as IterableIterator<Row>,
      );
    for (const s of rows) {
      if (!match(s.metric, s.labels)) continue;
      // Callers get copies: the catalogue's objects must not be changed from outside.
      out.push({ id: s.id, tenant, metric: s.metric, labels: { ...s.labels } });
      if (limit !== undefined && out.length >= limit) break; // ends the iterator, freeing the statement
    }
    return out;
  }

  #tenantCatalog(tenant: string): Series[] | undefined {
    let list = this.#catalog.get(tenant);
    if (list) return list;
    const count = this.#ctx.db.prepare('SELECT count(*) FROM series WHERE tenant = ?').pluck().get(tenant) as number;
    if (count === 0 || count > this.#maxCached) return undefined;
    list = (this.#ctx.db.prepare('SELECT id, tenant, metric, labels FROM series WHERE tenant = ? ORDER BY id').all(tenant) as Row[]).map(toSeries);
    this.#catalog.set(tenant, list);
    return list;
  }
}

function toSeries(r: Row): Series {
  return { id: r.id as number, tenant: r.tenant as string, metric: r.metric as string, labels: parseLabels(r.labels as string) };
}

// ---------------------------------------------------------------------------------------------

export class SqliteChanges implements ChangeStore {
  readonly #ctx: SqliteContext;
  constructor(ctx: SqliteContext) {
    this.#ctx = ctx;
  }
  /** Committed (durable) when the promise resolves, like samples. */
  add(input: ChangeInput): Promise<{ event: ChangeEvent; created: boolean }> {
    return this.#ctx.run(() => {
      const tenant = checkTenantId(input.tenant);
      const t = checkTime(input.t, 't');
      const kind = checkOneOf(input.kind, CHANGE_KINDS, 'kind');
      const service = checkText(input.service, 'service');
      const labels = canonicalLabels(input.labels);
      const text = checkText(input.text, 'text');
      const author = checkOptionalText(input.author, 'author');
      const link = checkOptionalText(input.link, 'link');
      const externalId = checkOptionalText(input.externalId, 'externalId');
      this.#ctx.requireTenant(tenant);
      const db = this.#ctx.db;
      const existing = externalId === null ? undefined : (db.prepare('SELECT * FROM change_events WHERE tenant = ? AND external_id = ?').get(tenant, externalId) as Row | undefined);
      if (existing) return { event: toChange(existing), created: false };
      const info = db
        .prepare('INSERT INTO change_events (tenant, t, kind, service, labels, text, author, link, external_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(tenant, t, kind, service, labels, text, author, link, externalId);
      return { event: toChange(db.prepare('SELECT * FROM change_events WHERE id = ?').get(info.lastInsertRowid) as Row), created: true };
    });
  }
  list(q: ChangeQuery): Promise<ChangeEvent[]> {
    return this.#ctx.run(() => {
      const w = new Where().add('tenant = ?', q.tenant).add('t >= ?', checkTime(q.from, 'from')).add('t < ?', checkTime(q.to, 'to'));
      w.in('service', q.services).in('kind', q.kinds);
      const sql = `SELECT * FROM change_events ${w} ORDER BY t, id${limitSql(checkLimit(q.limit))}`;
      return (this.#ctx.db.prepare(sql).all(...w.params) as Row[]).map(toChange);
    });
  }
}

function toChange(r: Row): ChangeEvent {
  return {
    id: r.id as number,
    tenant: r.tenant as string,
    t: r.t as number,
    kind: r.kind as ChangeEvent['kind'],
    service: r.service as string,
    labels: parseLabels(r.labels as string),
    text: r.text as string,
    author: r.author as string | null,
    link: r.link as string | null,
    externalId: r.external_id as string | null,
  };
}

// ---------------------------------------------------------------------------------------------

export class SqliteAlerts implements AlertStore {
  readonly #ctx: SqliteContext;
  readonly #get: Statement<[string, string]>;
  readonly #upsert: (input: AlertInput) => AlertUpsert;
  readonly #upsertMany: (inputs: readonly AlertInput[]) => AlertBatchResult;
  constructor(ctx: SqliteContext) {
    this.#ctx = ctx;
    const db = ctx.db;
    this.#get = db.prepare('SELECT * FROM alerts WHERE tenant = ? AND fingerprint = ?');
    const write = db.prepare(
      `INSERT INTO alerts (tenant, fingerprint, metric, labels, series_id, state, severity, starts_at, ends_at, updated_at,
         score, reasons, owner, runbook, packet, config_version, held, service)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (tenant, fingerprint) DO UPDATE SET metric = excluded.metric, labels = excluded.labels,
         series_id = excluded.series_id, state = excluded.state, severity = excluded.severity,
         starts_at = excluded.starts_at, ends_at = excluded.ends_at, updated_at = excluded.updated_at,
         score = excluded.score, reasons = excluded.reasons, owner = excluded.owner, runbook = excluded.runbook,
         packet = excluded.packet, config_version = excluded.config_version, held = excluded.held, service = excluded.service`,
    );
    const history = db.prepare('INSERT INTO alert_history (tenant, fingerprint, t, state, severity, score) VALUES (?, ?, ?, ?, ?, ?)');
    this.#upsert = db.transaction((a: AlertInput): AlertUpsert => {
      const prev = this.#get.get(a.tenant, a.fingerprint) as Row | undefined;
      if (prev && a.at < (prev.updated_at as number)) {
        return { alert: toAlert(prev), created: false, transitioned: false, stale: true, previousState: prev.state as Alert['state'] };
      }
      write.run(
        a.tenant,
        a.fingerprint,
        a.metric,
        canonicalLabels(a.labels),
        a.seriesId ?? null,
        a.state,
        a.severity,
        a.startsAt,
        a.endsAt ?? null,
        a.at,
        a.score,
        JSON.stringify(a.reasons),
        a.owner ?? null,
        a.runbook ?? null,
        jsonText(a.packet, 'packet'),
        a.configVersion ?? null,
        alertHeld(a.packet) ? 1 : 0,
        alertService(a.labels),
      );
      const transitioned = !prev || prev.state !== a.state || prev.severity !== a.severity;
      if (transitioned) history.run(a.tenant, a.fingerprint, a.at, a.state, a.severity, a.score);
      return {
        alert: toAlert(this.#get.get(a.tenant, a.fingerprint) as Row),
        created: !prev,
        transitioned,
        stale: false,
        previousState: prev ? (prev.state as Alert['state']) : null,
      };
    });
    // Leaner than #upsert per row: no savepoint, and no read-back of the written row (nobody needs it).
    const prevOf = db.prepare('SELECT state, severity, updated_at FROM alerts WHERE tenant = ? AND fingerprint = ?');
    this.#upsertMany = db.transaction((inputs: readonly AlertInput[]): AlertBatchResult => {
      let stale = 0;
      for (const a of inputs) {
        const prev = prevOf.get(a.tenant, a.fingerprint) as Row | undefined;
        if (prev && a.at < (prev.updated_at as number)) {
          stale++;
          continue;
        }
        write.run(a.tenant, a.fingerprint, a.metric, canonicalLabels(a.labels), a.seriesId ?? null, a.state, a.severity, a.startsAt, a.endsAt ?? null, a.at, a.score,
          JSON.stringify(a.reasons), a.owner ?? null, a.runbook ?? null, jsonText(a.packet, 'packet'), a.configVersion ?? null, alertHeld(a.packet) ? 1 : 0, alertService(a.labels));
        if (!prev || prev.state !== a.state || prev.severity !== a.severity) history.run(a.tenant, a.fingerprint, a.at, a.state, a.severity, a.score);
      }
      return { written: inputs.length - stale, stale };
    });
  }

  upsertMany(inputs: readonly AlertInput[]): Promise<AlertBatchResult> {
    return this.#ctx.run(() => {
      for (const a of inputs) {
        checkAlert(a);
        this.#ctx.requireTenant(a.tenant);
      }
      return this.#upsertMany(inputs);
    });
  }

  upsert(input: AlertInput): Promise<AlertUpsert> {
    return this.#ctx.run(() => {
      checkAlert(input);
      this.#ctx.requireTenant(input.tenant);
      return this.#upsert(input);
    });
  }
  get(tenant: string, fingerprint: string): Promise<Alert | undefined> {
    return this.#ctx.run(() => {
      const row = this.#get.get(tenant, fingerprint) as Row | undefined;
      return row && toAlert(row);
    });
  }
  list(q: AlertQuery): Promise<Alert[]> {
    return this.#ctx.run(() => {
      const c = checkAlertQuery(q);
      const w = new Where().add('tenant = ?', q.tenant).in('state', q.states).in('severity', q.severities);
      addAlertFilters(w, q, SQLITE_ALERTS);
      // Without matchers the page is cut in SQL, so a page of 200 reads 200 rows, not 10,000;
      // matchers run here, so then the offset and limit count matched rows only.
      const paged = !c.hasMatchers && (c.limit !== undefined || c.offset > 0);
      const page = paged ? ` LIMIT ${c.limit ?? -1} OFFSET ${c.offset}` : '';
      let skip = paged ? 0 : c.offset;
      const out: Alert[] = [];
      // A summary cuts the packet in SQLite (json_extract), so the kilobytes are never parsed here.
      const cols = q.summary ? SUMMARY_COLUMNS : '*';
      for (const r of this.#ctx.db.prepare(`SELECT ${cols} FROM alerts ${w} ORDER BY ${c.orderBy}${page}`).iterate(...w.params) as IterableIterator<Row>) {
        if (c.hasMatchers && !c.match(r.metric as string, parseLabels(r.labels as string))) continue;
        if (skip > 0) {
          skip--;
          continue;
        }
        out.push(toAlert(r));
        if (c.limit !== undefined && out.length >= c.limit) break;
      }
      return out;
    });
  }
  counts(q: AlertQuery): Promise<AlertCounts> {
    return this.#ctx.run(() => {
      const c = checkAlertQuery(q);
      // State, severity, held, owner and service are folded from the groups, so the same read
      // also gives each facet without its own filter.
      const w = new Where().add('tenant = ?', q.tenant);
      addAlertFilters(w, { tenant: q.tenant, text: q.text }, SQLITE_ALERTS);
      const db = this.#ctx.db;
      const rows = c.hasMatchers
        ? matchedRows(db.prepare(`${COUNTS_ROWS_SELECT} FROM alerts ${w}`).iterate(...w.params) as IterableIterator<Row>, c.match)
        : (db.prepare(`${COUNTS_SELECT} FROM alerts ${w} ${COUNTS_GROUP_BY}`).all(...w.params) as Row[]);
      return foldCounts(rows, q);
    });
  }
  history(tenant: string, fingerprint: string): Promise<AlertTransition[]> {
    return this.#ctx.run(() =>
      (this.#ctx.db.prepare('SELECT t, state, severity, score FROM alert_history WHERE tenant = ? AND fingerprint = ? ORDER BY t, id').all(tenant, fingerprint) as AlertTransition[]).map(
        (r) => ({ ...r }),
      ),
    );
  }
}

export function checkAlert(a: AlertInput): void {
  checkTenantId(a.tenant);
  checkText(a.fingerprint, 'fingerprint');
  checkText(a.metric, 'metric');
  canonicalLabels(a.labels);
  if (a.seriesId !== undefined && a.seriesId !== null) checkId(a.seriesId, 'seriesId');
  checkOneOf(a.state, ALERT_STATES, 'state');
  checkOneOf(a.severity, SEVERITIES, 'severity');
  checkTime(a.startsAt, 'startsAt');
  checkOptionalTime(a.endsAt, 'endsAt');
  checkTime(a.at, 'at');
  checkFinite(a.score, 'score');
  if (!Array.isArray(a.reasons) || a.reasons.some((r) => typeof r !== 'string')) throw new TidemarkError('TM_ERR_INPUT', 'reasons must be an array of strings', 'reasons');
  checkOptionalText(a.owner, 'owner');
  checkOptionalText(a.runbook, 'runbook');
  jsonText(a.packet, 'packet');
  if (a.configVersion !== undefined && a.configVersion !== null) checkId(a.configVersion, 'configVersion');
}

const SQLITE_ALERTS: AlertDialect = {
  instr: (hay, needle) => `instr(${hay}, ${needle})`,
  heldText: "(coalesce(packet ->> '$.heldReason', '') || ' ' || coalesce(packet -> '$.suppressions', ''))",
};

const SUMMARY_COLUMNS = "tenant, fingerprint, metric, labels, series_id, state, severity, starts_at, ends_at, updated_at, score, reasons, owner, runbook, config_version, CASE WHEN packet IS NULL THEN NULL ELSE json_object('suppressions', json(coalesce(packet -> '$.suppressions', '[]')), 'heldReason', packet ->> '$.heldReason') END AS packet";

function toAlert(r: Row): Alert {
  return {
    tenant: r.tenant as string,
    fingerprint: r.fingerprint as string,
    metric: r.metric as string,
    labels: parseLabels(r.labels as string),
    seriesId: r.series_id as number | null,
    state: r.state as Alert['state'],
    severity: r.severity as Alert['severity'],
    startsAt: r.starts_at as number,
    endsAt: r.ends_at as number | null,
    updatedAt: r.updated_at as number,
    score: r.score as number,
    reasons: JSON.parse(r.reasons as string) as string[],
    owner: r.owner as string | null,
    runbook: r.runbook as string | null,
    packet: r.packet === null ? null : JSON.parse(r.packet as string),
    configVersion: r.config_version as number | null,
  };
}

// ---------------------------------------------------------------------------------------------

interface IntentStatements {
  readonly insert: Statement;
  readonly payload: Statement;
  readonly upsert: Statement;
  readonly drop: Statement;
}

export class SqliteNotifications implements NotificationStore {
  readonly #ctx: SqliteContext;
  /** The intent statements, prepared once: every page runs them (preparing cost more than running). */
  #intentStmts: IntentStatements | undefined;
  constructor(ctx: SqliteContext) {
    this.#ctx = ctx;
  }
  #stmts(): IntentStatements {
    const db = this.#ctx.db;
    return (this.#intentStmts ??= {
      insert: db.prepare(`INSERT INTO notifications (${DISPATCH_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, idempotency_key) DO NOTHING`),
      payload: db.prepare('INSERT INTO notification_payloads (tenant, dispatch_id, payload, at) VALUES (?, ?, ?, ?) ON CONFLICT (tenant, dispatch_id) DO NOTHING'),
      upsert: db.prepare(`INSERT INTO notifications (${DISPATCH_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (tenant, idempotency_key) DO UPDATE SET status = excluded.status, attempt = excluded.attempt, at = excluded.at, error = excluded.error
        WHERE notifications.status <> 'sent'`),
      drop: db.prepare("DELETE FROM notification_payloads WHERE tenant = ? AND dispatch_id = ? AND NOT EXISTS (SELECT 1 FROM notifications WHERE tenant = ? AND dispatch_id = ? AND status = 'pending')"),
    });
  }
  recordMany(inputs: readonly NotificationInput[]): Promise<number> {
    return this.#ctx.run(() => {
      const rows = inputs.map(checkNotification);
      for (const r of rows) this.#ctx.requireTenant(r[0]);
      const db = this.#ctx.db;
      const find = db.prepare('SELECT 1 FROM notifications WHERE tenant = ? AND idempotency_key = ?');
      const insert = db.prepare('INSERT INTO notifications (tenant, fingerprint, channel, alert_state, status, attempt, at, error, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
      return db.transaction(() => {
        let n = 0;
        for (const r of rows) {
          if (r[8] !== null && find.get(r[0], r[8])) continue;
          insert.run(...r);
          n++;
        }
        return n;
      })();
    });
  }
  record(input: NotificationInput): Promise<NotificationRecord> {
    return this.#ctx.run(() => {
      const row = checkNotification(input);
      const tenant = row[0];
      const key = row[8];
      this.#ctx.requireTenant(tenant);
      const db = this.#ctx.db;
      if (key !== null) {
        const existing = db.prepare('SELECT * FROM notifications WHERE tenant = ? AND idempotency_key = ?').get(tenant, key) as Row | undefined;
        if (existing) return toNotification(existing);
      }
      const info = db
        .prepare('INSERT INTO notifications (tenant, fingerprint, channel, alert_state, status, attempt, at, error, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(...row);
      return toNotification(db.prepare('SELECT * FROM notifications WHERE id = ?').get(info.lastInsertRowid) as Row);
    });
  }
  list(q: NotificationQuery): Promise<NotificationRecord[]> {
    return this.#ctx.run(() => {
      const w = new Where().add('tenant = ?', q.tenant);
      if (q.fingerprint !== undefined) w.add('fingerprint = ?', q.fingerprint);
      if (q.channel !== undefined) w.add('channel = ?', q.channel);
      if (q.status !== undefined) w.add('status = ?', q.status);
      if (q.from !== undefined) w.add('at >= ?', checkTime(q.from, 'from'));
      if (q.to !== undefined) w.add('at < ?', checkTime(q.to, 'to'));
      const sql = `SELECT * FROM notifications ${w} ORDER BY at DESC, id DESC${limitSql(checkLimit(q.limit))}`;
      return (this.#ctx.db.prepare(sql).all(...w.params) as Row[]).map(toNotification);
    });
  }
  lastSent(tenant: string, fingerprint: string, channel: string): Promise<NotificationRecord | undefined> {
    return this.#ctx.run(() => {
      const row = this.#ctx.db
        .prepare("SELECT * FROM notifications WHERE tenant = ? AND fingerprint = ? AND channel = ? AND status = 'sent' ORDER BY at DESC, id DESC LIMIT 1")
        .get(tenant, fingerprint, channel) as Row | undefined;
      return row && toNotification(row);
    });
  }
  intend(intents: readonly NotificationIntent[]): Promise<number> {
    return this.#ctx.run(() => {
      const checked = intents.map((i) => ({ rows: dispatchRows(i, 'pending', 0, null), payload: [checkTenantId(i.tenant), i.dispatchId, jsonText(i.payload, 'payload') ?? 'null', i.at] as const }));
      for (const c of checked) this.#ctx.requireTenant(c.payload[0]);
      const db = this.#ctx.db;
      const { insert, payload } = this.#stmts();
      return db.transaction(() => {
        let n = 0;
        for (const c of checked) {
          let stored = 0;
          for (const r of c.rows) stored += insert.run(...r).changes;
          // A dispatch settled already needs no payload: nothing will send it again.
          if (stored > 0) payload.run(...c.payload);
          n += stored;
        }
        return n;
      })();
    });
  }
  settle(settlements: readonly NotificationSettlement[]): Promise<number> {
    return this.#ctx.run(() => {
      const checked = settlements.map((s) => settlementRows(s));
      for (const rows of checked) for (const r of rows) this.#ctx.requireTenant(r[0]);
      const db = this.#ctx.db;
      const { upsert, drop } = this.#stmts();
      return db.transaction(() => {
        let n = 0;
        for (const rows of checked) {
          for (const r of rows) n += upsert.run(...r).changes;
          if (rows.length > 0) drop.run(rows[0][0], rows[0][9], rows[0][0], rows[0][9]);
        }
        return n;
      })();
    });
  }
  pending(q: { tenant: string; before?: number; limit?: number }): Promise<PendingNotification[]> {
    return this.#ctx.run(() => {
      const tenant = checkTenantId(q.tenant);
      const before = q.before === undefined ? Number.MAX_SAFE_INTEGER : checkTime(q.before, 'before');
      const limit = checkLimit(q.limit);
      const rows = this.#ctx.db
        .prepare(`SELECT n.dispatch_id, n.channel, n.fingerprint, n.at, p.payload FROM notifications n
          LEFT JOIN notification_payloads p ON p.tenant = n.tenant AND p.dispatch_id = n.dispatch_id
          WHERE n.tenant = ? AND n.status = 'pending' AND n.dispatch_id IS NOT NULL AND n.at < ? ORDER BY n.at, n.id`)
        .all(tenant, before) as Row[];
      return foldPending(tenant, rows, limit);
    });
  }
}

/** The columns `dispatchRows` fills, in its order. */
export const DISPATCH_COLUMNS = 'tenant, fingerprint, channel, alert_state, status, attempt, at, error, idempotency_key, dispatch_id';

/** The key of a dispatch's row for one channel and alert: unique per tenant with every other idempotency key. */
function dispatchKey(dispatchId: string, channel: string, fingerprint: string): string {
  return JSON.stringify(['dispatch', dispatchId, channel, fingerprint]);
}

type DispatchRow = [string, string, string, string, string, number, number, string | null, string, string];

/** A dispatch's log rows (one per channel and alert) checked, in DISPATCH_COLUMNS order. */
export function dispatchRows(d: NotificationDispatch, status: NotificationRecord['status'], attempt: number, error: string | null | undefined): DispatchRow[] {
  const tenant = checkTenantId(d.tenant);
  const id = checkText(d.dispatchId, 'dispatchId');
  const at = checkTime(d.at, 'at');
  const err = checkOptionalText(error, 'error');
  if (!Array.isArray(d.channels) || d.channels.length === 0) throw new TidemarkError('TM_ERR_INPUT', 'channels must be a non-empty array', 'channels');
  if (!Array.isArray(d.alerts) || d.alerts.length === 0) throw new TidemarkError('TM_ERR_INPUT', 'alerts must be a non-empty array', 'alerts');
  const out: DispatchRow[] = [];
  for (const c of d.channels) {
    const channel = checkText(c, 'channels');
    for (const a of d.alerts) {
      const fp = checkText(a.fingerprint, 'alerts.fingerprint');
      out.push([tenant, fp, channel, checkOneOf(a.alertState, ALERT_STATES, 'alerts.alertState'), status, attempt, at, err, dispatchKey(id, channel, fp), id]);
    }
  }
  return out;
}

/** A settlement's rows checked. */
export function settlementRows(s: NotificationSettlement): DispatchRow[] {
  const status = checkOneOf(s.status, ['sent', 'failed'] as const, 'status');
  if (!Number.isSafeInteger(s.attempt) || s.attempt < 1) throw new TidemarkError('TM_ERR_INPUT', `attempt must be a positive integer, got ${s.attempt}`, 'attempt');
  return dispatchRows(s, status, s.attempt, s.error);
}

/** Pending rows (oldest first) folded into dispatches, at most `limit`. */
export function foldPending(tenant: string, rows: readonly Row[], limit: number | undefined): PendingNotification[] {
  const by = new Map<string, { channels: Set<string>; fingerprints: Set<string>; payload: unknown; at: number }>();
  for (const r of rows) {
    const id = r.dispatch_id as string;
    let d = by.get(id);
    if (!d) {
      if (limit !== undefined && by.size >= limit) continue;
      by.set(id, (d = { channels: new Set(), fingerprints: new Set(), payload: r.payload === null || r.payload === undefined ? null : JSON.parse(r.payload as string), at: Number(r.at) }));
    }
    d.channels.add(r.channel as string);
    d.fingerprints.add(r.fingerprint as string);
  }
  return [...by].map(([dispatchId, d]) => ({ tenant, dispatchId, channels: [...d.channels].sort(), fingerprints: [...d.fingerprints].sort(), payload: d.payload, at: d.at }));
}

/** A notification input checked, as the row's values in column order (tenant first, idempotency key last). */
export function checkNotification(input: NotificationInput): [string, string, string, string, string, number, number, string | null, string | null] {
  const tenant = checkTenantId(input.tenant);
  const fingerprint = checkText(input.fingerprint, 'fingerprint');
  const channel = checkText(input.channel, 'channel');
  const alertState = checkOneOf(input.alertState, ALERT_STATES, 'alertState');
  const status = checkOneOf(input.status, NOTIFICATION_STATUSES, 'status');
  if (!Number.isSafeInteger(input.attempt) || input.attempt < 1) throw new TidemarkError('TM_ERR_INPUT', `attempt must be a positive integer, got ${input.attempt}`, 'attempt');
  const at = checkTime(input.at, 'at');
  const error = checkOptionalText(input.error, 'error');
  const key = checkOptionalText(input.idempotencyKey, 'idempotencyKey');
  return [tenant, fingerprint, channel, alertState, status, input.attempt, at, error, key];
}

function toNotification(r: Row): NotificationRecord {
  return {
    id: r.id as number,
    tenant: r.tenant as string,
    fingerprint: r.fingerprint as string,
    channel: r.channel as string,
    alertState: r.alert_state as NotificationRecord['alertState'],
    status: r.status as NotificationRecord['status'],
    attempt: r.attempt as number,
    at: r.at as number,
    error: r.error as string | null,
    idempotencyKey: (r.idempotency_key ?? null) as string | null,
    dispatchId: (r.dispatch_id ?? null) as string | null,
  };
}

// ---------------------------------------------------------------------------------------------

export class SqliteSilences implements SilenceStore {
  readonly #ctx: SqliteContext;
  readonly #get: Statement<[string, string]>;
  constructor(ctx: SqliteContext) {
    this.#ctx = ctx;
    this.#get = ctx.db.prepare('SELECT * FROM silences WHERE tenant = ? AND id = ?');
  }
  put(input: SilenceInput): Promise<Silence> {
    return this.#ctx.run(() => {
      const tenant = checkTenantId(input.tenant);
      if (!Array.isArray(input.matchers) || input.matchers.length === 0) {
        throw new TidemarkError('TM_ERR_INPUT', 'a silence needs at least one matcher (an empty list would silence everything)', 'matchers');
      }
      compileMatchers(input.matchers);
      const startsAt = checkTime(input.startsAt, 'startsAt');
      const endsAt = checkTime(input.endsAt, 'endsAt');
      if (endsAt <= startsAt) throw new TidemarkError('TM_ERR_INPUT', `endsAt (${endsAt}) must be after startsAt (${startsAt})`, 'endsAt');
      const createdBy = checkText(input.createdBy, 'createdBy');
      const reason = checkText(input.reason, 'reason');
      const recurrence = jsonText(input.recurrence, 'recurrence');
      const id = input.id === undefined ? randomUUID() : checkText(input.id, 'id');
      if (id.length > 128) throw new TidemarkError('TM_ERR_INPUT', 'a silence id is at most 128 characters', 'id');
      this.#ctx.requireTenant(tenant);
      const matchers = JSON.stringify(input.matchers.map((m) => ({ name: m.name, op: m.op, value: m.value })));
      this.#ctx.db
        .prepare(
          `INSERT INTO silences (tenant, id, matchers, starts_at, ends_at, created_by, reason, recurrence, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (tenant, id) DO UPDATE SET matchers = excluded.matchers, starts_at = excluded.starts_at,
             ends_at = excluded.ends_at, created_by = excluded.created_by, reason = excluded.reason, recurrence = excluded.recurrence`,
        )
        .run(tenant, id, matchers, startsAt, endsAt, createdBy, reason, recurrence, this.#ctx.now());
      return toSilence(this.#get.get(tenant, id) as Row);
    });
  }
  get(tenant: string, id: string): Promise<Silence | undefined> {
    return this.#ctx.run(() => {
      const row = this.#get.get(tenant, id) as Row | undefined;
      return row && toSilence(row);
    });
  }
  list(q: SilenceQuery): Promise<Silence[]> {
    return this.#ctx.run(() => {
      const w = new Where().add('tenant = ?', q.tenant);
      if (q.activeAt !== undefined) {
        const at = checkTime(q.activeAt, 'activeAt');
        w.add('starts_at <= ?', at).add('ends_at > ?', at);
      }
      return (this.#ctx.db.prepare(`SELECT * FROM silences ${w} ORDER BY starts_at, id`).all(...w.params) as Row[]).map(toSilence);
    });
  }
  expire(tenant: string, id: string, at: number): Promise<Silence | undefined> {
    return this.#ctx.run(() => {
      checkTime(at, 'at');
      // A silence that has not started yet ends before it starts: zero length, never active.
      this.#ctx.db.prepare('UPDATE silences SET starts_at = min(starts_at, ?), ends_at = ? WHERE tenant = ? AND id = ? AND ends_at > ?').run(at, at, tenant, id, at);
      const row = this.#get.get(tenant, id) as Row | undefined;
      return row && toSilence(row);
    });
  }
}

function toSilence(r: Row): Silence {
  return {
    id: r.id as string,
    tenant: r.tenant as string,
    matchers: JSON.parse(r.matchers as string) as Matcher[],
    startsAt: r.starts_at as number,
    endsAt: r.ends_at as number,
    createdBy: r.created_by as string,
    reason: r.reason as string,
    recurrence: r.recurrence === null ? null : JSON.parse(r.recurrence as string),
    createdAt: r.created_at as number,
  };
}

// ---------------------------------------------------------------------------------------------

export class SqliteAcks implements AckStore {
  readonly #ctx: SqliteContext;
  constructor(ctx: SqliteContext) {
    this.#ctx = ctx;
  }
  add(input: AckInput): Promise<Ack> {
    return this.#ctx.run(() => {
      const tenant = checkTenantId(input.tenant);
      const fingerprint = checkText(input.fingerprint, 'fingerprint');
      const by = checkText(input.by, 'by');
      const at = checkTime(input.at, 'at');
      if (!Number.isSafeInteger(input.ttlMs) || input.ttlMs < 1) throw new TidemarkError('TM_ERR_INPUT', `ttlMs must be a positive integer, got ${input.ttlMs}`, 'ttlMs');
      const comment = checkOptionalText(input.comment, 'comment');
      this.#ctx.requireTenant(tenant);
      const db = this.#ctx.db;
      db.prepare('INSERT INTO acks (tenant, fingerprint, actor, at, expires_at, comment) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, fingerprint, actor, at) DO NOTHING').run(
        tenant,
        fingerprint,
        by,
        at,
        at + input.ttlMs,
        comment,
      );
      return toAck(db.prepare('SELECT * FROM acks WHERE tenant = ? AND fingerprint = ? AND actor = ? AND at = ?').get(tenant, fingerprint, by, at) as Row);
    });
  }
  active(tenant: string, at: number, fingerprint?: string): Promise<Ack[]> {
    return this.#ctx.run(() => {
      checkTime(at, 'at');
      const w = new Where().add('tenant = ?', tenant);
      if (fingerprint !== undefined) w.add('fingerprint = ?', fingerprint);
      w.add('at <= ?', at).add('expires_at > ?', at).add('(cleared_at IS NULL OR cleared_at > ?)', at);
      return (this.#ctx.db.prepare(`SELECT * FROM acks ${w} ORDER BY at, id`).all(...w.params) as Row[]).map(toAck);
    });
  }
  clear(tenant: string, fingerprint: string, at: number): Promise<number> {
    return this.#ctx.run(() => {
      checkTime(at, 'at');
      return this.#ctx.db
        .prepare('UPDATE acks SET cleared_at = ? WHERE tenant = ? AND fingerprint = ? AND at <= ? AND expires_at > ? AND cleared_at IS NULL')
        .run(at, tenant, fingerprint, at, at).changes;
    });
  }
  history(tenant: string, fingerprint: string): Promise<Ack[]> {
    return this.#ctx.run(() => (this.#ctx.db.prepare('SELECT * FROM acks WHERE tenant = ? AND fingerprint = ? ORDER BY at, id').all(tenant, fingerprint) as Row[]).map(toAck));
  }
}

function toAck(r: Row): Ack {
  return {
    id: r.id as number,
    tenant: r.tenant as string,
    fingerprint: r.fingerprint as string,
    by: r.actor as string,
    at: r.at as number,
    expiresAt: r.expires_at as number,
    comment: r.comment as string | null,
    clearedAt: r.cleared_at as number | null,
  };
}

// ---------------------------------------------------------------------------------------------

export class SqliteFeedback implements FeedbackStore {
  readonly #ctx: SqliteContext;
  constructor(ctx: SqliteContext) {
    this.#ctx = ctx;
  }
  put(input: FeedbackInput): Promise<Feedback> {
    return this.#ctx.run(() => {
      const tenant = checkTenantId(input.tenant);
      const fingerprint = checkText(input.fingerprint, 'fingerprint');
      const label = checkOneOf(input.label, FEEDBACK_LABELS, 'label');
      const by = checkText(input.by, 'by');
      const at = checkTime(input.at, 'at');
      const comment = checkOptionalText(input.comment, 'comment');
      this.#ctx.requireTenant(tenant);
      const db = this.#ctx.db;
      db.prepare(
        `INSERT INTO feedback (tenant, fingerprint, actor, label, at, comment) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (tenant, fingerprint, actor) DO UPDATE SET label = excluded.label, at = excluded.at, comment = excluded.comment
         WHERE excluded.at >= feedback.at`,
      ).run(tenant, fingerprint, by, label, at, comment);
      return toFeedback(db.prepare('SELECT * FROM feedback WHERE tenant = ? AND fingerprint = ? AND actor = ?').get(tenant, fingerprint, by) as Row);
    });
  }
  list(q: FeedbackQuery): Promise<Feedback[]> {
    return this.#ctx.run(() => {
      const w = new Where().add('tenant = ?', q.tenant);
      if (q.fingerprint !== undefined) w.add('fingerprint = ?', q.fingerprint);
      if (q.label !== undefined) w.add('label = ?', q.label);
      if (q.from !== undefined) w.add('at >= ?', checkTime(q.from, 'from'));
      if (q.to !== undefined) w.add('at < ?', checkTime(q.to, 'to'));
      return (this.#ctx.db.prepare(`SELECT * FROM feedback ${w} ORDER BY at, fingerprint, actor`).all(...w.params) as Row[]).map(toFeedback);
    });
  }
}

function toFeedback(r: Row): Feedback {
  return {
    tenant: r.tenant as string,
    fingerprint: r.fingerprint as string,
    label: r.label as Feedback['label'],
    by: r.actor as string,
    at: r.at as number,
    comment: r.comment as string | null,
  };
}

// ---------------------------------------------------------------------------------------------

export class SqliteConfig implements ConfigStore {
  readonly #ctx: SqliteContext;
  readonly #put: (input: ConfigInput) => { config: ConfigVersion; created: boolean };
  constructor(ctx: SqliteContext) {
    this.#ctx = ctx;
    const db = ctx.db;
    const latest = db.prepare('SELECT * FROM config_versions WHERE tenant = ? ORDER BY version DESC LIMIT 1');
    const insert = db.prepare('INSERT INTO config_versions (tenant, version, yaml, author, at, comment) VALUES (?, ?, ?, ?, ?, ?)');
    const audit = db.prepare('INSERT INTO audit_log (tenant, at, actor, action, target, diff) VALUES (?, ?, ?, ?, ?, ?)');
    this.#put = db.transaction((c: ConfigInput) => {
      const cur = latest.get(c.tenant) as Row | undefined;
      if (cur && cur.yaml === c.yaml) return { config: toConfig(cur), created: false };
      const curVersion = cur ? (cur.version as number) : 0;
      if (c.baseVersion !== undefined && c.baseVersion !== curVersion) {
        throw new TidemarkError('TM_ERR_CONFLICT', `the config was edited from version ${c.baseVersion}, but the latest is version ${curVersion}: reload it and apply the change again`, 'baseVersion');
      }
      const version = curVersion + 1;
      insert.run(c.tenant, version, c.yaml, c.author, c.at, c.comment ?? null);
      audit.run(c.tenant, c.at, c.author, 'config.put', `config/v${version}`, c.diff ?? null);
      return { config: toConfig(latest.get(c.tenant) as Row), created: true };
    });
  }
  put(input: ConfigInput): Promise<{ config: ConfigVersion; created: boolean }> {
    return this.#ctx.run(() => {
      checkTenantId(input.tenant);
      checkText(input.yaml, 'yaml', true);
      checkText(input.author, 'author');
      checkTime(input.at, 'at');
      checkOptionalText(input.comment, 'comment');
      checkOptionalText(input.diff, 'diff');
      if (input.baseVersion !== undefined && (!Number.isSafeInteger(input.baseVersion) || input.baseVersion < 0)) {
        throw new TidemarkError('TM_ERR_INPUT', `baseVersion must be a version number (0 for none), got ${input.baseVersion}`, 'baseVersion');
      }
      this.#ctx.requireTenant(input.tenant);
      return this.#put(input);
    });
  }
  get(tenant: string, version: number): Promise<ConfigVersion | undefined> {
    return this.#ctx.run(() => {
      const row = this.#ctx.db.prepare('SELECT * FROM config_versions WHERE tenant = ? AND version = ?').get(tenant, version) as Row | undefined;
      return row && toConfig(row);
    });
  }
  latest(tenant: string): Promise<ConfigVersion | undefined> {
    return this.#ctx.run(() => {
      const row = this.#ctx.db.prepare('SELECT * FROM config_versions WHERE tenant = ? ORDER BY version DESC LIMIT 1').get(tenant) as Row | undefined;
      return row && toConfig(row);
    });
  }
  list(tenant: string, limit?: number): Promise<ConfigVersion[]> {
    return this.#ctx.run(() =>
      (this.#ctx.db.prepare(`SELECT * FROM config_versions WHERE tenant = ? ORDER BY version DESC${limitSql(checkLimit(limit))}`).all(tenant) as Row[]).map(toConfig),
    );
  }
}

function toConfig(r: Row): ConfigVersion {
  return { tenant: r.tenant as string, version: r.version as number, yaml: r.yaml as string, author: r.author as string, at: r.at as number, comment: r.comment as string | null };
}

// ---------------------------------------------------------------------------------------------

export class SqliteAudit implements AuditStore {
  readonly #ctx: SqliteContext;
  constructor(ctx: SqliteContext) {
    this.#ctx = ctx;
  }
  add(input: AuditInput): Promise<AuditEntry> {
    return this.#ctx.run(() => {
      const tenant = checkTenantId(input.tenant);
      const at = checkTime(input.at, 'at');
      const actor = checkText(input.actor, 'actor');
      const action = checkText(input.action, 'action');
      const target = checkText(input.target, 'target');
      const diff = checkOptionalText(input.diff, 'diff');
      this.#ctx.requireTenant(tenant);
      const db = this.#ctx.db;
      const info = db.prepare('INSERT INTO audit_log (tenant, at, actor, action, target, diff) VALUES (?, ?, ?, ?, ?, ?)').run(tenant, at, actor, action, target, diff);
      return toAudit(db.prepare('SELECT * FROM audit_log WHERE id = ?').get(info.lastInsertRowid) as Row);
    });
  }
  list(q: AuditQuery): Promise<AuditEntry[]> {
    return this.#ctx.run(() => {
      const w = new Where().add('tenant = ?', q.tenant);
      if (q.from !== undefined) w.add('at >= ?', checkTime(q.from, 'from'));
      if (q.to !== undefined) w.add('at < ?', checkTime(q.to, 'to'));
      if (q.actor !== undefined) w.add('actor = ?', q.actor);
      if (q.action !== undefined) w.add('action = ?', q.action);
      const sql = `SELECT * FROM audit_log ${w} ORDER BY at DESC, id DESC${limitSql(checkLimit(q.limit))}`;
      return (this.#ctx.db.prepare(sql).all(...w.params) as Row[]).map(toAudit);
    });
  }
}

function toAudit(r: Row): AuditEntry {
  return {
    id: r.id as number,
    tenant: r.tenant as string,
    at: r.at as number,
    actor: r.actor as string,
    action: r.action as string,
    target: r.target as string,
    diff: r.diff as string | null,
  };
}

// ---------------------------------------------------------------------------------------------

export class SqliteCheckpoints implements CheckpointStore {
  readonly #ctx: SqliteContext;
  readonly #get: Statement<[number]>;
  readonly #put: (list: readonly Checkpoint[]) => number;
  constructor(ctx: SqliteContext) {
    this.#ctx = ctx;
    const db = ctx.db;
    this.#get = db.prepare('SELECT * FROM checkpoints WHERE series_id = ?');
    const write = db.prepare(
      `INSERT INTO checkpoints (series_id, seq, blob, at) VALUES (?, ?, ?, ?)
       ON CONFLICT (series_id) DO UPDATE SET seq = excluded.seq, blob = excluded.blob, at = excluded.at
       WHERE excluded.seq >= checkpoints.seq`,
    );
    this.#put = db.transaction((list: readonly Checkpoint[]) => {
      let written = 0;
      for (const c of list) written += write.run(c.seriesId, c.seq, Buffer.from(c.blob.buffer, c.blob.byteOffset, c.blob.byteLength), c.at).changes;
      return written;
    });
  }
  put(checkpoints: readonly Checkpoint[]): Promise<number> {
    return this.#ctx.run(() => {
      if (!Array.isArray(checkpoints)) throw new TidemarkError('TM_ERR_INPUT', 'put takes an array of checkpoints', 'checkpoints');
      checkpoints.forEach((c, i) => {
        checkId(c?.seriesId, `checkpoints[${i}].seriesId`);
        if (!Number.isSafeInteger(c.seq) || c.seq < 0) throw new TidemarkError('TM_ERR_INPUT', `seq must be a non-negative integer, got ${c.seq}`, `checkpoints[${i}].seq`);
        if (!(c.blob instanceof Uint8Array)) throw new TidemarkError('TM_ERR_INPUT', 'blob must be a Uint8Array', `checkpoints[${i}].blob`);
        checkTime(c.at, `checkpoints[${i}].at`);
      });
      return this.#put(checkpoints);
    });
  }
  get(seriesId: number): Promise<Checkpoint | undefined> {
    return this.#ctx.run(() => {
      const row = this.#get.get(seriesId) as Row | undefined;
      return row && toCheckpoint(row);
    });
  }
  getMany(seriesIds: readonly number[]): Promise<Map<number, Checkpoint>> {
    return this.#ctx.run(() => {
      const out = new Map<number, Checkpoint>();
      // Chunks stay under SQLite's bound-parameter limit.
      for (let i = 0; i < seriesIds.length; i += 500) {
        const ids = seriesIds.slice(i, i + 500);
        for (const r of this.#ctx.db.prepare(`SELECT * FROM checkpoints WHERE series_id IN (${marks(ids.length)})`).all(...ids) as Row[]) {
          const c = toCheckpoint(r);
          out.set(c.seriesId, c);
        }
      }
      return out;
    });
  }
}

function toCheckpoint(r: Row): Checkpoint {
  const b = r.blob as Buffer;
  return { seriesId: r.series_id as number, seq: r.seq as number, blob: new Uint8Array(b.buffer, b.byteOffset, b.byteLength), at: r.at as number };
}
