// The PostgreSQL store's domains other than samples. Same semantics as sqlite-domains.ts; what
// differs is concurrency: several processes write at once, so every read-modify-write is one
// statement (INSERT ... ON CONFLICT) or a transaction that locks the row it decides on.
import { randomUUID } from 'node:crypto';
import { TidemarkError } from '../errors.ts';
import {
  canonicalLabels,
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
import { type PgContext, type Queryable, type Row, Where, binaryArray, binaryByteaArray, isPgError } from './pg-base.ts';
// The input checks live with the SQLite store; both stores reject the same input with the same message.
import { checkAlert, checkNotification, DISPATCH_COLUMNS, dispatchRows, foldPending, jsonText, settlementRows } from './sqlite-domains.ts';
import {
  ALERT_STATES,
  CHANGE_KINDS,
  FEEDBACK_LABELS,
  NOTIFICATION_STATUSES,
  ROLES,
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

function limitSql(w: Where, limit: number | undefined): string {
  return limit === undefined ? '' : ` LIMIT ${w.next(limit)}`;
}

// ---------------------------------------------------------------------------------------------

export class PgTenants implements TenantStore {
  readonly #ctx: PgContext;
  constructor(ctx: PgContext) {
    this.#ctx = ctx;
  }
  create(input: { id: string; name: string }): Promise<{ tenant: Tenant; created: boolean }> {
    return this.#ctx.run(async () => {
      const id = checkTenantId(input.id, 'id');
      const name = checkText(input.name, 'name');
      const ins = await this.#ctx.query('INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING RETURNING *', [id, name, this.#ctx.now()]);
      if (ins.length === 1) return { tenant: toTenant(ins[0]), created: true };
      const [row] = await this.#ctx.query('SELECT * FROM tenants WHERE id = $1', [id]);
      return { tenant: toTenant(row), created: false };
    });
  }
  get(id: string): Promise<Tenant | undefined> {
    return this.#ctx.run(async () => {
      const [row] = await this.#ctx.query('SELECT * FROM tenants WHERE id = $1', [id]);
      return row && toTenant(row);
    });
  }
  list(): Promise<Tenant[]> {
    return this.#ctx.run(async () => (await this.#ctx.query('SELECT * FROM tenants ORDER BY id')).map(toTenant));
  }
}

function toTenant(r: Row): Tenant {
  return { id: r.id as string, name: r.name as string, createdAt: r.created_at as number };
}

// ---------------------------------------------------------------------------------------------

export class PgTokens implements TokenStore {
  readonly #ctx: PgContext;
  constructor(ctx: PgContext) {
    this.#ctx = ctx;
  }
  create(input: TokenInput): Promise<ApiToken> {
    return this.#ctx.run(async () => {
      const tenant = checkTenantId(input.tenant);
      const name = checkText(input.name, 'name');
      const role = checkOneOf(input.role, ROLES, 'role');
      if (typeof input.hash !== 'string' || !/^[0-9a-f]{64}$/.test(input.hash)) {
        throw new TidemarkError('TM_ERR_INPUT', 'a token hash is 64 lower-case hex digits (SHA-256; see hashToken)', 'hash');
      }
      const expiresAt = checkOptionalTime(input.expiresAt, 'expiresAt');
      await this.#ctx.requireTenant(tenant);
      try {
        const [row] = await this.#ctx.query('INSERT INTO api_tokens (tenant, name, role, hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *', [
          tenant,
          name,
          role,
          input.hash,
          this.#ctx.now(),
          expiresAt,
        ]);
        return toToken(row);
      } catch (err) {
        if (isPgError(err, '23505')) throw new TidemarkError('TM_ERR_CONFLICT', 'a token with this hash already exists; generate a new secret', 'hash');
        throw err;
      }
    });
  }
  byHash(hash: string): Promise<ApiToken | undefined> {
    return this.#ctx.run(async () => {
      const [row] = await this.#ctx.query('SELECT * FROM api_tokens WHERE hash = $1', [hash]);
      return row && toToken(row);
    });
  }
  list(tenant: string): Promise<ApiToken[]> {
    return this.#ctx.run(async () => (await this.#ctx.query('SELECT * FROM api_tokens WHERE tenant = $1 ORDER BY id', [tenant])).map(toToken));
  }
  revoke(tenant: string, id: number, at: number): Promise<boolean> {
    return this.#ctx.run(async () => {
      checkTime(at, 'at');
      if (!Number.isSafeInteger(id)) return false;
      const done = await this.#ctx.query('UPDATE api_tokens SET revoked_at = $1 WHERE tenant = $2 AND id = $3 AND revoked_at IS NULL RETURNING id', [at, tenant, id]);
      if (done.length === 1) return true;
      return (await this.#ctx.query('SELECT 1 FROM api_tokens WHERE tenant = $1 AND id = $2', [tenant, id])).length === 1;
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

/** Inserts the new keys (in key order) and returns the id of every key, by position. */
const INTERN_SQL = `
WITH k AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS k (tenant, metric, labels, i)),
ins AS (
  INSERT INTO series (tenant, metric, labels, created_at) SELECT tenant, metric, labels, $4 FROM k ORDER BY tenant, metric, labels
  ON CONFLICT (tenant, metric, md5(labels)) DO NOTHING
  RETURNING id, tenant, metric, labels)
SELECT k.i, coalesce(ins.id, s.id) AS id FROM k
  LEFT JOIN ins ON ins.tenant = k.tenant AND ins.metric = k.metric AND ins.labels = k.labels
  LEFT JOIN series s ON s.tenant = k.tenant AND s.metric = k.metric AND md5(s.labels) = md5(k.labels) AND s.labels = k.labels`;

interface Miss {
  key: string;
  tenant: string;
  metric: string;
  labels: string;
  index: number;
}

export class PgSeries implements SeriesStore {
  readonly #ctx: PgContext;
  /**
   * tenant \0 metric \0 canonical labels -> id. Ids never change, so the cache is never stale
   * even with other processes interning. (Unlike SQLite there is no catalogue of parsed
   * series: another process may add series at any time, so find() asks the database.)
   */
  readonly #ids = new Map<string, number>();
  readonly #maxCached: number;

  constructor(ctx: PgContext, maxCached: number) {
    this.#ctx = ctx;
    this.#maxCached = maxCached;
  }

  intern(keys: readonly SeriesKey[]): Promise<number[]> {
    return this.#ctx.run(async () => {
      if (!Array.isArray(keys)) throw new TidemarkError('TM_ERR_INPUT', 'intern takes an array of {tenant, metric, labels}', 'keys');
      const out = new Array<number>(keys.length);
      const misses: Miss[] = [];
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
      if (misses.length === 0) return out;
      for (const m of misses) await this.#ctx.requireTenant(m.tenant, `keys[${m.index}].tenant`);
      const ids = await this.#internMisses(misses);
      if (this.#ids.size + misses.length > this.#maxCached) this.#ids.clear();
      for (const m of misses) {
        const id = ids.get(m.key)!;
        out[m.index] = id;
        this.#ids.set(m.key, id);
      }
      return out;
    });
  }

  /**
   * One statement inserts the new keys and returns every id. A key inserted by another
   * transaction that commits while ours runs is neither inserted (conflict) nor visible to
   * our snapshot: those come back empty and the next round, with a new snapshot, finds them.
   * Rows are inserted in key order, so two processes interning overlapping batches wait for
   * each other instead of deadlocking.
   */
  async #internMisses(misses: Miss[]): Promise<Map<string, number>> {
    const found = new Map<string, number>();
    let todo = [...new Map(misses.map((m) => [m.key, m])).values()];
    for (let round = 0; todo.length > 0; round++) {
      if (round === 5) throw new TidemarkError('TM_ERR_STORE', 'could not intern series: they kept conflicting with concurrent writers');
      let rows: Row[];
      try {
        rows = await this.#ctx.query(INTERN_SQL, [todo.map((m) => m.tenant), todo.map((m) => m.metric), todo.map((m) => m.labels), this.#ctx.now()]);
      } catch (err) {
        // Ordered inserts make this rare, but a deadlock victim simply tries again.
        if (isPgError(err, '40P01')) continue;
        throw err;
      }
      const next: Miss[] = [];
      for (const r of rows) {
        const m = todo[(r.i as number) - 1];
        if (r.id === null) next.push(m);
        else found.set(m.key, r.id as number);
      }
      todo = next;
    }
    return found;
  }

  get(tenant: string, id: number): Promise<Series | undefined> {
    return this.#ctx.run(async () => {
      if (!Number.isSafeInteger(id)) return undefined;
      const [row] = await this.#ctx.query('SELECT * FROM series WHERE id = $1 AND tenant = $2', [id, tenant]);
      return row && toSeries(row);
    });
  }

  find(tenant: string, matchers: readonly Matcher[], limit?: number): Promise<Series[]> {
    return this.#ctx.run(() => this.#select(tenant, matchers, checkLimit(limit)));
  }

  maxId(): Promise<number> {
    return this.#ctx.run(async () => {
      const [row] = await this.#ctx.query('SELECT MAX(id) AS id FROM series');
      return Number(row?.id ?? 0);
    });
  }

  labelNames(tenant: string, matchers: readonly Matcher[] = []): Promise<string[]> {
    return this.#ctx.run(async () => {
      const names = new Set<string>();
      const series = await this.#select(tenant, matchers, undefined);
      if (series.length) names.add('__name__');
      for (const s of series) for (const k in s.labels) names.add(k);
      return [...names].sort();
    });
  }

  labelValues(tenant: string, name: string, matchers: readonly Matcher[] = []): Promise<string[]> {
    return this.#ctx.run(async () => {
      checkText(name, 'name');
      const values = new Set<string>();
      for (const s of await this.#select(tenant, matchers, undefined)) {
        const v = name === '__name__' ? s.metric : s.labels[name];
        if (v !== undefined) values.add(v);
      }
      return [...values].sort();
    });
  }

  /** SQL narrows by tenant, pinned metric and label equalities; the matchers run here, as in the SQLite store. */
  async #select(tenant: string, matchers: readonly Matcher[], limit: number | undefined): Promise<Series[]> {
    const match = compileMatchers(matchers);
    const metric = pinnedMetric(matchers);
    const w = new Where().add('tenant = ?', tenant);
    if (metric !== undefined) w.add('metric = ?', metric);
    // A label equality is a substring of the canonical label text (`["code","500"]`): the
    // server drops most non-matching rows before they are shipped and parsed here, where the
    // matcher still decides. (No such shortcut for regexes: PostgreSQL's syntax is not JavaScript's.)
    for (const m of matchers) {
      if (m.op === '=' && m.name !== '__name__' && m.value !== '') w.add('strpos(labels, ?) > 0', JSON.stringify([m.name, m.value]));
    }
    const out: Series[] = [];
    // Without matchers the limit goes to SQL; with them, rows are filtered here first.
    const sqlLimit = matchers.length === 0 && limit !== undefined ? ` LIMIT ${w.next(limit)}` : '';
    for (const r of await this.#ctx.query(`SELECT id, metric, labels FROM series ${w} ORDER BY id${sqlLimit}`, w.params)) {
      const s: Series = { id: r.id as number, tenant, metric: r.metric as string, labels: parseLabels(r.labels as string) };
      if (!match(s.metric, s.labels)) continue;
      out.push(s);
      if (limit !== undefined && out.length >= limit) break;
    }
    return out;
  }
}

function toSeries(r: Row): Series {
  return { id: r.id as number, tenant: r.tenant as string, metric: r.metric as string, labels: parseLabels(r.labels as string) };
}

// ---------------------------------------------------------------------------------------------

export class PgChanges implements ChangeStore {
  readonly #ctx: PgContext;
  constructor(ctx: PgContext) {
    this.#ctx = ctx;
  }
  add(input: ChangeInput): Promise<{ event: ChangeEvent; created: boolean }> {
    return this.#ctx.run(async () => {
      const tenant = checkTenantId(input.tenant);
      const t = checkTime(input.t, 't');
      const kind = checkOneOf(input.kind, CHANGE_KINDS, 'kind');
      const service = checkText(input.service, 'service');
      const labels = canonicalLabels(input.labels);
      const text = checkText(input.text, 'text');
      const author = checkOptionalText(input.author, 'author');
      const link = checkOptionalText(input.link, 'link');
      const externalId = checkOptionalText(input.externalId, 'externalId');
      await this.#ctx.requireTenant(tenant);
      const ins = await this.#ctx.query(
        `INSERT INTO change_events (tenant, t, kind, service, labels, text, author, link, external_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (tenant, external_id) DO NOTHING RETURNING *`,
        [tenant, t, kind, service, labels, text, author, link, externalId],
      );
      if (ins.length === 1) return { event: toChange(ins[0]), created: true };
      const [row] = await this.#ctx.query('SELECT * FROM change_events WHERE tenant = $1 AND external_id = $2', [tenant, externalId]);
      return { event: toChange(row), created: false };
    });
  }
  list(q: ChangeQuery): Promise<ChangeEvent[]> {
    return this.#ctx.run(async () => {
      const w = new Where().add('tenant = ?', q.tenant).add('t >= ?', checkTime(q.from, 'from')).add('t < ?', checkTime(q.to, 'to'));
      w.in('service', q.services).in('kind', q.kinds);
      const sql = `SELECT * FROM change_events ${w} ORDER BY t, id${limitSql(w, checkLimit(q.limit))}`;
      return (await this.#ctx.query(sql, w.params)).map(toChange);
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

const ALERT_COLUMNS = 'tenant, fingerprint, metric, labels, series_id, state, severity, starts_at, ends_at, updated_at, score, reasons, owner, runbook, packet, config_version, held, service';

export class PgAlerts implements AlertStore {
  readonly #ctx: PgContext;
  constructor(ctx: PgContext) {
    this.#ctx = ctx;
  }

  /**
   * Idempotent by (tenant, fingerprint) across processes: the insert either creates the alert
   * or, on conflict, the row is locked FOR UPDATE and the stale / transition decision is made
   * on the locked version, so two workers replaying the same partition write one history row.
   */
  upsert(input: AlertInput): Promise<AlertUpsert> {
    return this.#ctx.run(async () => {
      checkAlert(input);
      await this.#ctx.requireTenant(input.tenant);
      const a = input;
      const values = [
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
      ];
      return this.#ctx.tx(async (c): Promise<AlertUpsert> => {
        const history = (q: Queryable) =>
          this.#ctx.query('INSERT INTO alert_history (tenant, fingerprint, t, state, severity, score) VALUES ($1, $2, $3, $4, $5, $6)', [a.tenant, a.fingerprint, a.at, a.state, a.severity, a.score], q);
        const ins = await this.#ctx.query(
          `INSERT INTO alerts (${ALERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
           ON CONFLICT (tenant, fingerprint) DO NOTHING RETURNING *`,
          values,
          c,
        );
        if (ins.length === 1) {
          await history(c);
          return { alert: toAlert(ins[0]), created: true, transitioned: true, stale: false, previousState: null };
        }
        const [prev] = await this.#ctx.query('SELECT * FROM alerts WHERE tenant = $1 AND fingerprint = $2 FOR UPDATE', [a.tenant, a.fingerprint], c);
        const previousState = prev.state as Alert['state'];
        if (a.at < (prev.updated_at as number)) return { alert: toAlert(prev), created: false, transitioned: false, stale: true, previousState };
        const [row] = await this.#ctx.query(
          `UPDATE alerts SET metric = $3, labels = $4, series_id = $5, state = $6, severity = $7, starts_at = $8, ends_at = $9, updated_at = $10,
             score = $11, reasons = $12, owner = $13, runbook = $14, packet = $15, config_version = $16, held = $17, service = $18
           WHERE tenant = $1 AND fingerprint = $2 RETURNING *`,
          values,
          c,
        );
        const transitioned = prev.state !== a.state || prev.severity !== a.severity;
        if (transitioned) await history(c);
        return { alert: toAlert(row), created: false, transitioned, stale: false, previousState };
      });
    });
  }
  /**
   * One transaction of three statements whatever the batch size: the stored versions are locked
   * (in key order, so two workers cannot deadlock), the stale and transition decisions are made
   * here in input order, then the last version of each alert and every history row go in as
   * multi-row inserts.
   */
  upsertMany(inputs: readonly AlertInput[]): Promise<AlertBatchResult> {
    return this.#ctx.run(async () => {
      for (const a of inputs) checkAlert(a);
      for (const t of new Set(inputs.map((a) => a.tenant))) await this.#ctx.requireTenant(t);
      if (inputs.length === 0) return { written: 0, stale: 0 };
      const keyOf = (tenant: string, fingerprint: string) => `${tenant}\u0000${fingerprint}`;
      const keys = new Map<string, AlertInput>();
      for (const a of inputs) keys.set(keyOf(a.tenant, a.fingerprint), a);
      return this.#ctx.tx(async (c): Promise<AlertBatchResult> => {
        const locked = await this.#ctx.query(
          `SELECT tenant, fingerprint, state, severity, updated_at FROM alerts
           WHERE (tenant, fingerprint) IN (SELECT * FROM unnest($1::text[], $2::text[])) ORDER BY tenant, fingerprint FOR UPDATE`,
          [[...keys.values()].map((a) => a.tenant), [...keys.values()].map((a) => a.fingerprint)],
          c,
        );
        const cur = new Map<string, { state: string; severity: string; at: number }>();
        for (const r of locked) cur.set(keyOf(r.tenant as string, r.fingerprint as string), { state: r.state as string, severity: r.severity as string, at: Number(r.updated_at) });
        const last = new Map<string, AlertInput>();
        const hist: AlertInput[] = [];
        let stale = 0;
        for (const a of inputs) {
          const k = keyOf(a.tenant, a.fingerprint);
          const prev = cur.get(k);
          if (prev && a.at < prev.at) {
            stale++;
            continue;
          }
          if (!prev || prev.state !== a.state || prev.severity !== a.severity) hist.push(a);
          cur.set(k, { state: a.state, severity: a.severity, at: a.at });
          last.set(k, a);
        }
        const rows = [...last.values()];
        if (rows.length > 0) {
          const col = <T,>(f: (a: AlertInput) => T) => rows.map(f);
          // The WHERE keeps a row another worker inserted meanwhile (not locked above) from going back in time.
          await this.#ctx.query(
            `INSERT INTO alerts (${ALERT_COLUMNS})
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::bigint[], $9::bigint[], $10::bigint[],
               $11::float8[], $12::text[], $13::text[], $14::text[], $15::text[], $16::bigint[], $17::int[], $18::text[])
             ON CONFLICT (tenant, fingerprint) DO UPDATE SET metric = excluded.metric, labels = excluded.labels, series_id = excluded.series_id,
               state = excluded.state, severity = excluded.severity, starts_at = excluded.starts_at, ends_at = excluded.ends_at,
               updated_at = excluded.updated_at, score = excluded.score, reasons = excluded.reasons, owner = excluded.owner,
               runbook = excluded.runbook, packet = excluded.packet, config_version = excluded.config_version,
               held = excluded.held, service = excluded.service
             WHERE alerts.updated_at <= excluded.updated_at`,
            [
              col((a) => a.tenant),
              col((a) => a.fingerprint),
              col((a) => a.metric),
              col((a) => canonicalLabels(a.labels)),
              col((a) => a.seriesId ?? null),
              col((a) => a.state),
              col((a) => a.severity),
              col((a) => a.startsAt),
              col((a) => a.endsAt ?? null),
              col((a) => a.at),
              col((a) => a.score),
              col((a) => JSON.stringify(a.reasons)),
              col((a) => a.owner ?? null),
              col((a) => a.runbook ?? null),
              col((a) => jsonText(a.packet, 'packet')),
              col((a) => a.configVersion ?? null),
              col((a) => (alertHeld(a.packet) ? 1 : 0)),
              col((a) => alertService(a.labels)),
            ],
            c,
          );
        }
        if (hist.length > 0) {
          await this.#ctx.query(
            `INSERT INTO alert_history (tenant, fingerprint, t, state, severity, score)
             SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::float8[])`,
            [hist.map((a) => a.tenant), hist.map((a) => a.fingerprint), hist.map((a) => a.at), hist.map((a) => a.state), hist.map((a) => a.severity), hist.map((a) => a.score)],
            c,
          );
        }
        return { written: inputs.length - stale, stale };
      });
    });
  }
  get(tenant: string, fingerprint: string): Promise<Alert | undefined> {
    return this.#ctx.run(async () => {
      const [row] = await this.#ctx.query('SELECT * FROM alerts WHERE tenant = $1 AND fingerprint = $2', [tenant, fingerprint]);
      return row && toAlert(row);
    });
  }
  list(q: AlertQuery): Promise<Alert[]> {
    return this.#ctx.run(async () => {
      const c = checkAlertQuery(q);
      const w = new Where().add('tenant = ?', q.tenant).in('state', q.states).in('severity', q.severities);
      addAlertFilters(w, q, PG_ALERTS);
      // Matchers run here, so with them the offset and limit count matched rows only.
      let page = '';
      if (!c.hasMatchers) {
        if (c.limit !== undefined) page += ` LIMIT ${w.next(c.limit)}`;
        if (c.offset > 0) page += ` OFFSET ${w.next(c.offset)}`;
      }
      let skip = c.hasMatchers ? c.offset : 0;
      const out: Alert[] = [];
      for (const r of await this.#ctx.query(`SELECT * FROM alerts ${w} ORDER BY ${c.orderBy}${page}`, w.params)) {
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
    return this.#ctx.run(async () => {
      const c = checkAlertQuery(q);
      const w = new Where().add('tenant = ?', q.tenant);
      addAlertFilters(w, { tenant: q.tenant, text: q.text }, PG_ALERTS);
      const rows = c.hasMatchers
        ? matchedRows(await this.#ctx.query(`${COUNTS_ROWS_SELECT} FROM alerts ${w}`, w.params), c.match)
        : await this.#ctx.query(`${COUNTS_SELECT} FROM alerts ${w} ${COUNTS_GROUP_BY}`, w.params);
      return foldCounts(rows, q);
    });
  }
  history(tenant: string, fingerprint: string): Promise<AlertTransition[]> {
    return this.#ctx.run(async () =>
      (await this.#ctx.query('SELECT t, state, severity, score FROM alert_history WHERE tenant = $1 AND fingerprint = $2 ORDER BY t, id', [tenant, fingerprint])).map((r) => ({
        t: r.t as number,
        state: r.state as AlertTransition['state'],
        severity: r.severity as AlertTransition['severity'],
        score: r.score as number,
      })),
    );
  }
}

const PG_ALERTS: AlertDialect = {
  instr: (hay, needle) => `strpos(${hay}, ${needle})`,
  heldText: "(coalesce(packet::jsonb ->> 'heldReason', '') || ' ' || coalesce((packet::jsonb -> 'suppressions')::text, ''))",
};

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

export class PgNotifications implements NotificationStore {
  readonly #ctx: PgContext;
  constructor(ctx: PgContext) {
    this.#ctx = ctx;
  }
  /** One multi-row insert in one statement (so one transaction); keys already stored, or repeated in the batch, insert nothing. */
  recordMany(inputs: readonly NotificationInput[]): Promise<number> {
    return this.#ctx.run(async () => {
      const rows = inputs.map(checkNotification);
      for (const t of new Set(rows.map((r) => r[0]))) await this.#ctx.requireTenant(t);
      if (rows.length === 0) return 0;
      const ins = await this.#ctx.query(
        `INSERT INTO notifications (tenant, fingerprint, channel, alert_state, status, attempt, at, error, idempotency_key)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::bigint[], $8::text[], $9::text[])
         ON CONFLICT (tenant, idempotency_key) DO NOTHING RETURNING id`,
        [0, 1, 2, 3, 4, 5, 6, 7, 8].map((i) => rows.map((r) => r[i])),
      );
      return ins.length;
    });
  }
  record(input: NotificationInput): Promise<NotificationRecord> {
    return this.#ctx.run(async () => {
      const tenant = checkTenantId(input.tenant);
      const fingerprint = checkText(input.fingerprint, 'fingerprint');
      const channel = checkText(input.channel, 'channel');
      const alertState = checkOneOf(input.alertState, ALERT_STATES, 'alertState');
      const status = checkOneOf(input.status, NOTIFICATION_STATUSES, 'status');
      if (!Number.isSafeInteger(input.attempt) || input.attempt < 1) throw new TidemarkError('TM_ERR_INPUT', `attempt must be a positive integer, got ${input.attempt}`, 'attempt');
      const at = checkTime(input.at, 'at');
      const error = checkOptionalText(input.error, 'error');
      const key = checkOptionalText(input.idempotencyKey, 'idempotencyKey');
      await this.#ctx.requireTenant(tenant);
      // Two workers recording the same key at once: one inserts, the other reads its row.
      const ins = await this.#ctx.query(
        `INSERT INTO notifications (tenant, fingerprint, channel, alert_state, status, attempt, at, error, idempotency_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (tenant, idempotency_key) DO NOTHING RETURNING *`,
        [tenant, fingerprint, channel, alertState, status, input.attempt, at, error, key],
      );
      const [row] = ins.length ? ins : await this.#ctx.query('SELECT * FROM notifications WHERE tenant = $1 AND idempotency_key = $2', [tenant, key]);
      return toNotification(row);
    });
  }
  list(q: NotificationQuery): Promise<NotificationRecord[]> {
    return this.#ctx.run(async () => {
      const w = new Where().add('tenant = ?', q.tenant);
      if (q.fingerprint !== undefined) w.add('fingerprint = ?', q.fingerprint);
      if (q.channel !== undefined) w.add('channel = ?', q.channel);
      if (q.status !== undefined) w.add('status = ?', q.status);
      if (q.from !== undefined) w.add('at >= ?', checkTime(q.from, 'from'));
      if (q.to !== undefined) w.add('at < ?', checkTime(q.to, 'to'));
      const sql = `SELECT * FROM notifications ${w} ORDER BY at DESC, id DESC${limitSql(w, checkLimit(q.limit))}`;
      return (await this.#ctx.query(sql, w.params)).map(toNotification);
    });
  }
  lastSent(tenant: string, fingerprint: string, channel: string): Promise<NotificationRecord | undefined> {
    return this.#ctx.run(async () => {
      const [row] = await this.#ctx.query(
        "SELECT * FROM notifications WHERE tenant = $1 AND fingerprint = $2 AND channel = $3 AND status = 'sent' ORDER BY at DESC, id DESC LIMIT 1",
        [tenant, fingerprint, channel],
      );
      return row && toNotification(row);
    });
  }
  intend(intents: readonly NotificationIntent[]): Promise<number> {
    return this.#ctx.run(async () => {
      const rows = intents.flatMap((i) => dispatchRows(i, 'pending', 0, null));
      const payloads = new Map(intents.map((i) => [`${i.tenant}\u0000${i.dispatchId}`, [i.tenant, i.dispatchId, jsonText(i.payload, 'payload') ?? 'null', i.at] as const]));
      for (const t of new Set(rows.map((r) => r[0]))) await this.#ctx.requireTenant(t);
      if (rows.length === 0) return 0;
      return this.#ctx.tx(async (c) => {
        const ins = await this.#ctx.query(
          `INSERT INTO notifications (${DISPATCH_COLUMNS}) SELECT * FROM ${UNNEST_DISPATCH}
           ON CONFLICT (tenant, idempotency_key) DO NOTHING RETURNING tenant, dispatch_id`,
          columns(rows),
          c,
        );
        // A dispatch settled already needs no payload: nothing will send it again.
        const stored = [...new Set(ins.map((r) => `${r.tenant as string}\u0000${r.dispatch_id as string}`))].map((k) => payloads.get(k)!);
        if (stored.length > 0) {
          await this.#ctx.query(
            `INSERT INTO notification_payloads (tenant, dispatch_id, payload, at) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[])
             ON CONFLICT (tenant, dispatch_id) DO NOTHING`,
            [0, 1, 2, 3].map((i) => stored.map((p) => p[i])),
            c,
          );
        }
        return ins.length;
      });
    });
  }
  settle(settlements: readonly NotificationSettlement[]): Promise<number> {
    return this.#ctx.run(async () => {
      // One statement may touch a row once: fold repeats of a key as applying them in order would ("sent" stays).
      const byKey = new Map<string, ReturnType<typeof settlementRows>[number]>();
      for (const r of settlements.flatMap(settlementRows)) {
        const k = `${r[0]}\u0000${r[8]}`;
        if (byKey.get(k)?.[4] !== 'sent') byKey.set(k, r);
      }
      const rows = [...byKey.values()];
      for (const t of new Set(rows.map((r) => r[0]))) await this.#ctx.requireTenant(t);
      if (rows.length === 0) return 0;
      return this.#ctx.tx(async (c) => {
        const up = await this.#ctx.query(
          `INSERT INTO notifications (${DISPATCH_COLUMNS}) SELECT * FROM ${UNNEST_DISPATCH}
           ON CONFLICT (tenant, idempotency_key) DO UPDATE SET status = EXCLUDED.status, attempt = EXCLUDED.attempt, at = EXCLUDED.at, error = EXCLUDED.error
           WHERE notifications.status <> 'sent' RETURNING id`,
          columns(rows),
          c,
        );
        const ids = [...new Set(rows.map((r) => `${r[0]}\u0000${r[9]}`))].map((k) => k.split('\u0000'));
        await this.#ctx.query(
          `DELETE FROM notification_payloads p USING unnest($1::text[], $2::text[]) AS d (tenant, dispatch_id)
           WHERE p.tenant = d.tenant AND p.dispatch_id = d.dispatch_id
             AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.tenant = p.tenant AND n.dispatch_id = p.dispatch_id AND n.status = 'pending')`,
          [ids.map((x) => x[0]), ids.map((x) => x[1])],
          c,
        );
        return up.length;
      });
    });
  }
  pending(q: { tenant: string; before?: number; limit?: number }): Promise<PendingNotification[]> {
    return this.#ctx.run(async () => {
      const tenant = checkTenantId(q.tenant);
      const before = q.before === undefined ? Number.MAX_SAFE_INTEGER : checkTime(q.before, 'before');
      const limit = checkLimit(q.limit);
      const rows = await this.#ctx.query(
        `SELECT n.dispatch_id, n.channel, n.fingerprint, n.at, p.payload FROM notifications n
         LEFT JOIN notification_payloads p ON p.tenant = n.tenant AND p.dispatch_id = n.dispatch_id
         WHERE n.tenant = $1 AND n.status = 'pending' AND n.dispatch_id IS NOT NULL AND n.at < $2 ORDER BY n.at, n.id`,
        [tenant, before],
      );
      return foldPending(tenant, rows, limit);
    });
  }
}

/** Rows in DISPATCH_COLUMNS order as unnest's arrays. */
const UNNEST_DISPATCH = 'unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::bigint[], $8::text[], $9::text[], $10::text[])';

function columns(rows: readonly (readonly unknown[])[]): unknown[][] {
  return [0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => rows.map((r) => r[i]));
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
    idempotencyKey: r.idempotency_key as string | null,
    dispatchId: (r.dispatch_id ?? null) as string | null,
  };
}

// ---------------------------------------------------------------------------------------------

export class PgSilences implements SilenceStore {
  readonly #ctx: PgContext;
  constructor(ctx: PgContext) {
    this.#ctx = ctx;
  }
  put(input: SilenceInput): Promise<Silence> {
    return this.#ctx.run(async () => {
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
      await this.#ctx.requireTenant(tenant);
      const matchers = JSON.stringify(input.matchers.map((m) => ({ name: m.name, op: m.op, value: m.value })));
      const [row] = await this.#ctx.query(
        `INSERT INTO silences (tenant, id, matchers, starts_at, ends_at, created_by, reason, recurrence, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (tenant, id) DO UPDATE SET matchers = excluded.matchers, starts_at = excluded.starts_at,
           ends_at = excluded.ends_at, created_by = excluded.created_by, reason = excluded.reason, recurrence = excluded.recurrence
         RETURNING *`,
        [tenant, id, matchers, startsAt, endsAt, createdBy, reason, recurrence, this.#ctx.now()],
      );
      return toSilence(row);
    });
  }
  get(tenant: string, id: string): Promise<Silence | undefined> {
    return this.#ctx.run(async () => {
      const [row] = await this.#ctx.query('SELECT * FROM silences WHERE tenant = $1 AND id = $2', [tenant, id]);
      return row && toSilence(row);
    });
  }
  list(q: SilenceQuery): Promise<Silence[]> {
    return this.#ctx.run(async () => {
      const w = new Where().add('tenant = ?', q.tenant);
      if (q.activeAt !== undefined) {
        const at = checkTime(q.activeAt, 'activeAt');
        w.add('starts_at <= ?', at).add('ends_at > ?', at);
      }
      return (await this.#ctx.query(`SELECT * FROM silences ${w} ORDER BY starts_at, id`, w.params)).map(toSilence);
    });
  }
  expire(tenant: string, id: string, at: number): Promise<Silence | undefined> {
    return this.#ctx.run(async () => {
      checkTime(at, 'at');
      // A silence that has not started yet ends before it starts: zero length, never active.
      const done = await this.#ctx.query(
        'UPDATE silences SET starts_at = least(starts_at, $1), ends_at = $1 WHERE tenant = $2 AND id = $3 AND ends_at > $1 RETURNING *',
        [at, tenant, id],
      );
      const [row] = done.length ? done : await this.#ctx.query('SELECT * FROM silences WHERE tenant = $1 AND id = $2', [tenant, id]);
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

export class PgAcks implements AckStore {
  readonly #ctx: PgContext;
  constructor(ctx: PgContext) {
    this.#ctx = ctx;
  }
  add(input: AckInput): Promise<Ack> {
    return this.#ctx.run(async () => {
      const tenant = checkTenantId(input.tenant);
      const fingerprint = checkText(input.fingerprint, 'fingerprint');
      const by = checkText(input.by, 'by');
      const at = checkTime(input.at, 'at');
      if (!Number.isSafeInteger(input.ttlMs) || input.ttlMs < 1) throw new TidemarkError('TM_ERR_INPUT', `ttlMs must be a positive integer, got ${input.ttlMs}`, 'ttlMs');
      const comment = checkOptionalText(input.comment, 'comment');
      await this.#ctx.requireTenant(tenant);
      const ins = await this.#ctx.query(
        'INSERT INTO acks (tenant, fingerprint, actor, at, expires_at, comment) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant, fingerprint, actor, at) DO NOTHING RETURNING *',
        [tenant, fingerprint, by, at, at + input.ttlMs, comment],
      );
      const [row] = ins.length ? ins : await this.#ctx.query('SELECT * FROM acks WHERE tenant = $1 AND fingerprint = $2 AND actor = $3 AND at = $4', [tenant, fingerprint, by, at]);
      return toAck(row);
    });
  }
  active(tenant: string, at: number, fingerprint?: string): Promise<Ack[]> {
    return this.#ctx.run(async () => {
      checkTime(at, 'at');
      const w = new Where().add('tenant = ?', tenant);
      if (fingerprint !== undefined) w.add('fingerprint = ?', fingerprint);
      w.add('at <= ?', at).add('expires_at > ?', at).add('(cleared_at IS NULL OR cleared_at > ?)', at);
      return (await this.#ctx.query(`SELECT * FROM acks ${w} ORDER BY at, id`, w.params)).map(toAck);
    });
  }
  clear(tenant: string, fingerprint: string, at: number): Promise<number> {
    return this.#ctx.run(async () => {
      checkTime(at, 'at');
      const done = await this.#ctx.query(
        'UPDATE acks SET cleared_at = $1 WHERE tenant = $2 AND fingerprint = $3 AND at <= $1 AND expires_at > $1 AND cleared_at IS NULL RETURNING id',
        [at, tenant, fingerprint],
      );
      return done.length;
    });
  }
  history(tenant: string, fingerprint: string): Promise<Ack[]> {
    return this.#ctx.run(async () => (await this.#ctx.query('SELECT * FROM acks WHERE tenant = $1 AND fingerprint = $2 ORDER BY at, id', [tenant, fingerprint])).map(toAck));
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

export class PgFeedback implements FeedbackStore {
  readonly #ctx: PgContext;
  constructor(ctx: PgContext) {
    this.#ctx = ctx;
  }
  put(input: FeedbackInput): Promise<Feedback> {
    return this.#ctx.run(async () => {
      const tenant = checkTenantId(input.tenant);
      const fingerprint = checkText(input.fingerprint, 'fingerprint');
      const label = checkOneOf(input.label, FEEDBACK_LABELS, 'label');
      const by = checkText(input.by, 'by');
      const at = checkTime(input.at, 'at');
      const comment = checkOptionalText(input.comment, 'comment');
      await this.#ctx.requireTenant(tenant);
      const done = await this.#ctx.query(
        `INSERT INTO feedback (tenant, fingerprint, actor, label, at, comment) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (tenant, fingerprint, actor) DO UPDATE SET label = excluded.label, at = excluded.at, comment = excluded.comment
         WHERE excluded.at >= feedback.at RETURNING *`,
        [tenant, fingerprint, by, label, at, comment],
      );
      const [row] = done.length ? done : await this.#ctx.query('SELECT * FROM feedback WHERE tenant = $1 AND fingerprint = $2 AND actor = $3', [tenant, fingerprint, by]);
      return toFeedback(row);
    });
  }
  list(q: FeedbackQuery): Promise<Feedback[]> {
    return this.#ctx.run(async () => {
      const w = new Where().add('tenant = ?', q.tenant);
      if (q.fingerprint !== undefined) w.add('fingerprint = ?', q.fingerprint);
      if (q.label !== undefined) w.add('label = ?', q.label);
      if (q.from !== undefined) w.add('at >= ?', checkTime(q.from, 'from'));
      if (q.to !== undefined) w.add('at < ?', checkTime(q.to, 'to'));
      return (await this.#ctx.query(`SELECT * FROM feedback ${w} ORDER BY at, fingerprint, actor`, w.params)).map(toFeedback);
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

export class PgConfig implements ConfigStore {
  readonly #ctx: PgContext;
  constructor(ctx: PgContext) {
    this.#ctx = ctx;
  }
  put(input: ConfigInput): Promise<{ config: ConfigVersion; created: boolean }> {
    return this.#ctx.run(async () => {
      checkTenantId(input.tenant);
      checkText(input.yaml, 'yaml', true);
      checkText(input.author, 'author');
      checkTime(input.at, 'at');
      checkOptionalText(input.comment, 'comment');
      checkOptionalText(input.diff, 'diff');
      if (input.baseVersion !== undefined && (!Number.isSafeInteger(input.baseVersion) || input.baseVersion < 0)) {
        throw new TidemarkError('TM_ERR_INPUT', `baseVersion must be a version number (0 for none), got ${input.baseVersion}`, 'baseVersion');
      }
      const c = input;
      return this.#ctx.tx(async (db) => {
        // Locking the tenant row serialises config edits of one tenant across processes (NO KEY
        // UPDATE: foreign-key checks of other writes to the tenant are not blocked).
        const owner = await this.#ctx.query('SELECT 1 FROM tenants WHERE id = $1 FOR NO KEY UPDATE', [c.tenant], db);
        if (owner.length === 0) throw new TidemarkError('TM_ERR_NOT_FOUND', `tenant ${JSON.stringify(c.tenant)} does not exist; create it first`, 'tenant');
        const [cur] = await this.#ctx.query('SELECT * FROM config_versions WHERE tenant = $1 ORDER BY version DESC LIMIT 1', [c.tenant], db);
        if (cur && cur.yaml === c.yaml) return { config: toConfig(cur), created: false };
        const curVersion = cur ? (cur.version as number) : 0;
        if (c.baseVersion !== undefined && c.baseVersion !== curVersion) {
          throw new TidemarkError('TM_ERR_CONFLICT', `the config was edited from version ${c.baseVersion}, but the latest is version ${curVersion}: reload it and apply the change again`, 'baseVersion');
        }
        const version = curVersion + 1;
        const [row] = await this.#ctx.query(
          'INSERT INTO config_versions (tenant, version, yaml, author, at, comment) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *',
          [c.tenant, version, c.yaml, c.author, c.at, c.comment ?? null],
          db,
        );
        await this.#ctx.query('INSERT INTO audit_log (tenant, at, actor, action, target, diff) VALUES ($1, $2, $3, $4, $5, $6)', [c.tenant, c.at, c.author, 'config.put', `config/v${version}`, c.diff ?? null], db);
        return { config: toConfig(row), created: true };
      });
    });
  }
  get(tenant: string, version: number): Promise<ConfigVersion | undefined> {
    return this.#ctx.run(async () => {
      if (!Number.isSafeInteger(version) || Math.abs(version) > 2 ** 31 - 1) return undefined;
      const [row] = await this.#ctx.query('SELECT * FROM config_versions WHERE tenant = $1 AND version = $2', [tenant, version]);
      return row && toConfig(row);
    });
  }
  latest(tenant: string): Promise<ConfigVersion | undefined> {
    return this.#ctx.run(async () => {
      const [row] = await this.#ctx.query('SELECT * FROM config_versions WHERE tenant = $1 ORDER BY version DESC LIMIT 1', [tenant]);
      return row && toConfig(row);
    });
  }
  list(tenant: string, limit?: number): Promise<ConfigVersion[]> {
    return this.#ctx.run(async () => {
      const w = new Where().add('tenant = ?', tenant);
      return (await this.#ctx.query(`SELECT * FROM config_versions ${w} ORDER BY version DESC${limitSql(w, checkLimit(limit))}`, w.params)).map(toConfig);
    });
  }
}

function toConfig(r: Row): ConfigVersion {
  return { tenant: r.tenant as string, version: r.version as number, yaml: r.yaml as string, author: r.author as string, at: r.at as number, comment: r.comment as string | null };
}

// ---------------------------------------------------------------------------------------------

export class PgAudit implements AuditStore {
  readonly #ctx: PgContext;
  constructor(ctx: PgContext) {
    this.#ctx = ctx;
  }
  add(input: AuditInput): Promise<AuditEntry> {
    return this.#ctx.run(async () => {
      const tenant = checkTenantId(input.tenant);
      const at = checkTime(input.at, 'at');
      const actor = checkText(input.actor, 'actor');
      const action = checkText(input.action, 'action');
      const target = checkText(input.target, 'target');
      const diff = checkOptionalText(input.diff, 'diff');
      await this.#ctx.requireTenant(tenant);
      const [row] = await this.#ctx.query('INSERT INTO audit_log (tenant, at, actor, action, target, diff) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *', [tenant, at, actor, action, target, diff]);
      return toAudit(row);
    });
  }
  list(q: AuditQuery): Promise<AuditEntry[]> {
    return this.#ctx.run(async () => {
      const w = new Where().add('tenant = ?', q.tenant);
      if (q.from !== undefined) w.add('at >= ?', checkTime(q.from, 'from'));
      if (q.to !== undefined) w.add('at < ?', checkTime(q.to, 'to'));
      if (q.actor !== undefined) w.add('actor = ?', q.actor);
      if (q.action !== undefined) w.add('action = ?', q.action);
      const sql = `SELECT * FROM audit_log ${w} ORDER BY at DESC, id DESC${limitSql(w, checkLimit(q.limit))}`;
      return (await this.#ctx.query(sql, w.params)).map(toAudit);
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

export class PgCheckpoints implements CheckpointStore {
  readonly #ctx: PgContext;
  constructor(ctx: PgContext) {
    this.#ctx = ctx;
  }
  put(checkpoints: readonly Checkpoint[]): Promise<number> {
    return this.#ctx.run(async () => {
      if (!Array.isArray(checkpoints)) throw new TidemarkError('TM_ERR_INPUT', 'put takes an array of checkpoints', 'checkpoints');
      checkpoints.forEach((c, i) => {
        checkId(c?.seriesId, `checkpoints[${i}].seriesId`);
        if (!Number.isSafeInteger(c.seq) || c.seq < 0) throw new TidemarkError('TM_ERR_INPUT', `seq must be a non-negative integer, got ${c.seq}`, `checkpoints[${i}].seq`);
        if (!(c.blob instanceof Uint8Array)) throw new TidemarkError('TM_ERR_INPUT', 'blob must be a Uint8Array', `checkpoints[${i}].blob`);
        checkTime(c.at, `checkpoints[${i}].at`);
      });
      if (checkpoints.length === 0) return 0;
      // One statement cannot update a row twice: of repeated series the last with the highest
      // seq is what a row-by-row write would have left.
      const last = new Map<number, Checkpoint>();
      for (const c of checkpoints) {
        const prev = last.get(c.seriesId);
        if (prev === undefined || c.seq >= prev.seq) last.set(c.seriesId, c);
      }
      // In series order: two workers writing overlapping sets (a partition handover) cannot deadlock.
      const list = [...last.values()].sort((x, y) => x.seriesId - y.seriesId);
      const rows = await this.#ctx.query(
        `INSERT INTO checkpoints (series_id, seq, blob, at) SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::bigint[])
         ON CONFLICT (series_id) DO UPDATE SET seq = excluded.seq, blob = excluded.blob, at = excluded.at
         WHERE excluded.seq >= checkpoints.seq RETURNING series_id`,
        // Binary arrays: the blobs go as they are, not hex-encoded into an array literal.
        [binaryArray(list.map((c) => c.seriesId), undefined, true), binaryArray(list.map((c) => c.seq), undefined, true), binaryByteaArray(list.map((c) => c.blob)), binaryArray(list.map((c) => c.at), undefined, true)],
      );
      return rows.length;
    });
  }
  get(seriesId: number): Promise<Checkpoint | undefined> {
    return this.#ctx.run(async () => {
      if (!Number.isSafeInteger(seriesId)) return undefined;
      const [row] = await this.#ctx.query('SELECT * FROM checkpoints WHERE series_id = $1', [seriesId]);
      return row && toCheckpoint(row);
    });
  }
  getMany(seriesIds: readonly number[]): Promise<Map<number, Checkpoint>> {
    return this.#ctx.run(async () => {
      const out = new Map<number, Checkpoint>();
      const ids = seriesIds.filter((id) => Number.isSafeInteger(id));
      if (ids.length === 0) return out;
      for (const r of await this.#ctx.query('SELECT * FROM checkpoints WHERE series_id = ANY($1::bigint[])', [ids])) {
        const c = toCheckpoint(r);
        out.set(c.seriesId, c);
      }
      return out;
    });
  }
}

function toCheckpoint(r: Row): Checkpoint {
  const b = r.blob as Buffer;
  return { seriesId: r.series_id as number, seq: r.seq as number, blob: new Uint8Array(b.buffer, b.byteOffset, b.byteLength), at: r.at as number };
}
