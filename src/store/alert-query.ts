// The alert list's filters, order and counts as SQL, shared by the SQLite and PostgreSQL stores:
// the dialects differ only in a few expressions (AlertDialect), and keeping one builder keeps
// the two stores returning the same rows for the same query (the conformance suite checks).
import { TidemarkError } from '../errors.ts';
import { compileMatchers } from './match.ts';
import { checkLimit, parseLabels } from './check.ts';
import { ALERT_ORDERS, ALERT_STATES, SEVERITIES, type AlertCounts, type AlertQuery, type AlertState, type Severity } from './types.ts';

export interface AlertDialect {
  /** An expression that is > 0 when `needle` occurs in `hay`. */
  instr(hay: string, needle: string): string;
  /** Why it was held, as text to search. */
  readonly heldText: string;
}

/**
 * Whether something held the alert back (a suppression in its packet, or the impact gate's
 * reason), as the list shows it; stored in the `held` column on every upsert.
 */
export function alertHeld(packet: unknown): boolean {
  if (typeof packet !== 'object' || packet === null || Array.isArray(packet)) return false;
  const p = packet as { suppressions?: unknown; heldReason?: unknown };
  return (Array.isArray(p.suppressions) && p.suppressions.length > 0) || Boolean(p.heldReason);
}

/** The alert's service for lists: its `service` label, else `exported_service`; stored in the `service` column. */
export function alertService(labels: Readonly<Record<string, string>> | undefined): string | null {
  return labels?.service || labels?.exported_service || null;
}

interface WhereLike {
  add(sql: string, ...params: unknown[]): unknown;
}

export interface CheckedAlertQuery {
  readonly limit: number | undefined;
  readonly offset: number;
  readonly orderBy: string;
  readonly match: (metric: string, labels: Readonly<Record<string, string>>) => boolean;
  readonly hasMatchers: boolean;
}

export function checkAlertQuery(q: AlertQuery): CheckedAlertQuery {
  const limit = checkLimit(q.limit);
  const offset = q.offset ?? 0;
  if (!Number.isSafeInteger(offset) || offset < 0) throw new TidemarkError('TM_ERR_INPUT', `offset must be a non-negative integer, got ${String(q.offset)}`, 'offset');
  const order = q.order ?? 'recent';
  if (!ALERT_ORDERS.includes(order)) throw new TidemarkError('TM_ERR_INPUT', `order must be one of ${ALERT_ORDERS.join(', ')}, got ${JSON.stringify(order)}`, 'order');
  if (q.text !== undefined && typeof q.text !== 'string') throw new TidemarkError('TM_ERR_INPUT', 'text must be a string', 'text');
  if (q.service !== undefined && typeof q.service !== 'string') throw new TidemarkError('TM_ERR_INPUT', 'service must be a string', 'service');
  // S3 is the worst severity. The fingerprint breaks ties so pages never overlap or skip rows with equal start times.
  const orderBy = order === 'severity' ? 'severity DESC, starts_at DESC, fingerprint' : 'starts_at DESC, fingerprint';
  return { limit, offset, orderBy, match: compileMatchers(q.matchers ?? []), hasMatchers: (q.matchers ?? []).length > 0 };
}

/** A label pair as it appears inside the stored canonical labels text (`[["name","value"],...]`). */
function pairText(name: string, value: string): string {
  return `${JSON.stringify(name).slice(1, -1)}","${JSON.stringify(value).slice(1, -1)}`;
}

/**
 * Adds the filters other than tenant/state/severity (the callers already add those). `skip`
 * leaves one out, for facet counts that must not filter by themselves.
 */
export function addAlertFilters(w: WhereLike, q: AlertQuery, d: AlertDialect, skip?: 'owner' | 'service' | 'held'): void {
  if (q.owner !== undefined && skip !== 'owner') w.add('owner = ?', q.owner);
  if (q.service !== undefined && q.service !== '' && skip !== 'service') w.add('service = ?', q.service);
  if (q.held !== undefined && skip !== 'held') w.add('held = ?', q.held ? 1 : 0);
  for (const word of (q.text ?? '').toLowerCase().split(/\s+/)) {
    if (word === '') continue;
    const eq = word.indexOf('=');
    if (eq > 0) {
      w.add(`${d.instr('lower(labels)', '?')} > 0`, pairText(word.slice(0, eq), word.slice(eq + 1)));
      continue;
    }
    w.add(
      `${d.instr(`lower(metric || ' ' || fingerprint || ' ' || coalesce(owner, '') || ' ' || reasons || ' ' || labels || ' ' || ${d.heldText})`, '?')} > 0`,
      word,
    );
  }
}

type Row = Record<string, unknown>;

/** The grouped read behind AlertStore.counts: state, severity, held, owner, service → n. */
export const COUNTS_SELECT = 'SELECT state, severity, held, owner, service, count(*) AS n';
export const COUNTS_GROUP_BY = 'GROUP BY 1, 2, 3, 4, 5';

/**
 * Folds grouped rows into AlertCounts. The rows carry owner and service so one read gives the
 * groups (all filters) and both facets (every filter but their own).
 */
export function foldCounts(rows: Iterable<Row>, q: AlertQuery): AlertCounts {
  const groups = new Map<string, { state: AlertState; severity: Severity; held: boolean; n: number }>();
  const owners = new Map<string, number>();
  const services = new Map<string, number>();
  const wantService = q.service !== undefined && q.service !== '' ? q.service : undefined;
  for (const r of rows) {
    const state = r.state as AlertState;
    const severity = r.severity as Severity;
    const held = r.held === true || Number(r.held) === 1;
    const owner = (r.owner as string | null) ?? null;
    const service = (r.service as string | null) ?? null;
    const n = Number(r.n);
    const stateOk = q.states === undefined || q.states.includes(state);
    const sevOk = q.severities === undefined || q.severities.includes(severity);
    const heldOk = q.held === undefined || q.held === held;
    if (!stateOk || !sevOk || !heldOk) continue;
    const ownerOk = q.owner === undefined || q.owner === owner;
    const serviceOk = wantService === undefined || wantService === service;
    if (ownerOk && serviceOk) {
      const k = `${state}\u0000${severity}\u0000${held}`;
      const g = groups.get(k);
      if (g) g.n += n;
      else groups.set(k, { state, severity, held, n });
    }
    if (serviceOk && owner !== null) owners.set(owner, (owners.get(owner) ?? 0) + n);
    if (ownerOk && service !== null) services.set(service, (services.get(service) ?? 0) + n);
  }
  const facet = (m: Map<string, number>) => [...m].map(([value, n]) => ({ value, n })).sort((a, b) => b.n - a.n || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
  const order = (g: { state: AlertState; severity: Severity; held: boolean }) => ALERT_STATES.indexOf(g.state) * 100 + SEVERITIES.indexOf(g.severity) * 2 + (g.held ? 1 : 0);
  return { groups: [...groups.values()].sort((a, b) => order(a) - order(b)), owners: facet(owners), services: facet(services) };
}

/**
 * Rows for counts when label matchers are given (they run in JS): each alert's grouping keys
 * plus metric and labels; the matcher drops rows and the rest count one each.
 */
export const COUNTS_ROWS_SELECT = 'SELECT state, severity, held, owner, service, 1 AS n, metric, labels';

export function matchedRows(rows: Iterable<Row>, match: CheckedAlertQuery['match']): Row[] {
  const out: Row[] = [];
  for (const r of rows) if (match(r.metric as string, parseLabels(r.labels as string))) out.push(r);
  return out;
}
