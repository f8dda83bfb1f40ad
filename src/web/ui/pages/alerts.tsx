// The alerts list: state tabs (suppressed included, with why it did not page), counts by
// severity, filters by owner / service / tenant / free text, live refresh. Filters live in
// the URL query, so a filtered view can be shared (the token never is).
import { useMemo, useState } from 'preact/hooks';
import { get } from '../api.ts';
import { ErrorBox, LabelChips, Loading, SeverityBadge, StateBadge, useAsync, useInterval } from '../components/common.tsx';
import { fmtAgo, fmtDuration, fmtNum, fmtTime } from '../format.ts';
import { Link, navigate, paths, useLocation } from '../router.tsx';
import { SEVERITY_NAMES, SEVERITY_ORDER, type Alert, type Severity, type StagePacket, type Suppression } from '../types.ts';

const LIMIT = 10_000; // the API's cap for one list
const PAGE = 200; // rows drawn at once; more on demand
const REFRESH_MS = 10_000;

type Tab = 'open' | 'firing' | 'pending' | 'suppressed' | 'resolved' | 'all';
const TABS: [Tab, string][] = [
  ['open', 'Open'],
  ['firing', 'Firing'],
  ['pending', 'Pending'],
  ['suppressed', 'Suppressed'],
  ['resolved', 'Resolved'],
  ['all', 'All'],
];

interface Row {
  alert: Alert;
  packet: StagePacket;
  /** Why it did not page (latest suppression or impact gate), if anything held it. */
  held: { kind: string; reason: string } | null;
  service: string;
  text: string;
}

function toRow(a: Alert): Row {
  const packet = (a.packet ?? {}) as StagePacket;
  const sups: Suppression[] = Array.isArray(packet.suppressions) ? packet.suppressions : [];
  let latest: Suppression | undefined;
  for (const s of sups) if (!latest || s.at >= latest.at) latest = s;
  const held = latest ? { kind: latest.kind, reason: latest.reason } : packet.heldReason ? { kind: 'gate', reason: packet.heldReason } : null;
  const service = a.labels.service ?? a.labels.exported_service ?? '';
  const text = [a.metric, a.fingerprint, a.owner ?? '', ...a.reasons, ...Object.entries(a.labels).map(([k, v]) => `${k}=${v}`), held?.reason ?? ''].join(' ').toLowerCase();
  return { alert: a, packet, held, service, text };
}

function inTab(r: Row, tab: Tab): boolean {
  const s = r.alert.state;
  switch (tab) {
    case 'open':
      return s !== 'resolved';
    case 'suppressed':
      return s !== 'resolved' && r.held !== null;
    case 'all':
      return true;
    default:
      return s === tab;
  }
}

const distinct = (rows: Row[], f: (r: Row) => string) => [...new Set(rows.map(f).filter((x) => x !== ''))].sort();

export function AlertsPage() {
  const loc = useLocation();
  const q = loc.query;
  const tab = (TABS.find(([t]) => t === q.get('state'))?.[0] ?? 'open') as Tab;
  const sevs = new Set((q.get('severity') ?? '').split(',').filter((s): s is Severity => SEVERITY_ORDER.includes(s as Severity)));
  const owner = q.get('owner') ?? '';
  const service = q.get('service') ?? '';
  const tenant = q.get('tenant') ?? '';
  const text = q.get('q') ?? '';
  const [live, setLive] = useState(true);
  const [shown, setShown] = useState(PAGE);
  const [now, setNow] = useState(Date.now());

  const res = useAsync(async () => {
    const data = await get<Alert[]>(`/api/v1/alerts?limit=${LIMIT}`);
    setNow(Date.now());
    return data;
  }, []);
  useInterval(res.reload, REFRESH_MS, live);

  const rows = useMemo(() => (res.data ?? []).map(toRow), [res.data]);

  const set = (name: string, value: string) => {
    const p = new URLSearchParams(location.search);
    if (value) p.set(name, value);
    else p.delete(name);
    const s = p.toString();
    setShown(PAGE);
    navigate(`${paths.alerts}${s ? `?${s}` : ''}`, true);
  };
  const toggleSev = (s: Severity) => {
    const next = new Set(sevs);
    if (next.has(s)) next.delete(s);
    else next.add(s);
    set('severity', SEVERITY_ORDER.filter((x) => next.has(x)).join(','));
  };

  // Everything but the severity filter, so the counts say what each severity chip would show.
  const needle = text.trim().toLowerCase();
  const base = useMemo(
    () =>
      rows.filter(
        (r) =>
          inTab(r, tab) &&
          (!owner || r.alert.owner === owner) &&
          (!service || r.service === service) &&
          (!tenant || r.alert.tenant === tenant) &&
          (!needle || needle.split(/\s+/).every((w) => r.text.includes(w))),
      ),
    [rows, tab, owner, service, tenant, needle],
  );
  const counts = useMemo(() => {
    const c: Record<Severity, number> = { S0: 0, S1: 0, S2: 0, S3: 0 };
    for (const r of base) c[r.alert.severity]++;
    return c;
  }, [base]);
  const shownRows = useMemo(() => {
    const list = sevs.size === 0 ? base : base.filter((r) => sevs.has(r.alert.severity));
    // Worst first, then newest.
    return [...list].sort((a, b) => SEVERITY_ORDER.indexOf(a.alert.severity) - SEVERITY_ORDER.indexOf(b.alert.severity) || b.alert.startsAt - a.alert.startsAt);
  }, [base, q.get('severity')]); // eslint-disable-line react-hooks/exhaustive-deps
  const tabCounts = useMemo(() => Object.fromEntries(TABS.map(([t]) => [t, rows.filter((r) => inTab(r, t)).length])), [rows]);

  return (
    <div class="page" data-testid="alerts-page">
      <div class="page-h">
        <h1>Alerts</h1>
        <div class="live">
          <label>
            <input type="checkbox" checked={live} onChange={(e) => setLive((e.target as HTMLInputElement).checked)} /> Live
          </label>
          <button type="button" class="ghost" onClick={res.reload} disabled={res.loading}>
            Refresh
          </button>
          <span class="muted" aria-live="polite">
            {res.loading ? 'updating…' : `updated ${fmtTime(now, true).slice(11)}`}
          </span>
        </div>
      </div>

      <div class="tabs" role="group" aria-label="State">
        {TABS.map(([t, name]) => (
          <button key={t} type="button" class={`tab ${t === tab ? 'on' : ''}`} aria-pressed={t === tab} onClick={() => set('state', t === 'open' ? '' : t)}>
            {name} <span class="count">{tabCounts[t] ?? 0}</span>
          </button>
        ))}
      </div>

      <div class="sevcounts" role="group" aria-label="Severity">
        {SEVERITY_ORDER.map((s) => (
          <button key={s} type="button" class={`sevchip sev-${s} ${sevs.has(s) ? 'on' : ''}`} aria-pressed={sevs.has(s)} onClick={() => toggleSev(s)} data-testid={`count-${s}`}>
            <span class="sevchip-n">{counts[s]}</span>
            <span>
              {s} · {SEVERITY_NAMES[s]}
            </span>
          </button>
        ))}
      </div>

      <div class="filters">
        <label>
          Search
          <input type="search" value={text} placeholder="metric, label=value, reason…" onInput={(e) => set('q', (e.target as HTMLInputElement).value)} data-testid="filter-text" />
        </label>
        <label>
          Owner
          <select value={owner} onChange={(e) => set('owner', (e.target as HTMLSelectElement).value)}>
            <option value="">any</option>
            {distinct(rows, (r) => r.alert.owner ?? '').map((o) => (
              <option key={o} value={o}>
                {o}
              </option>
            ))}
          </select>
        </label>
        <label>
          Service
          <select value={service} onChange={(e) => set('service', (e.target as HTMLSelectElement).value)}>
            <option value="">any</option>
            {distinct(rows, (r) => r.service).map((o) => (
              <option key={o} value={o}>
                {o}
              </option>
            ))}
          </select>
        </label>
        <label>
          Tenant
          <select value={tenant} onChange={(e) => set('tenant', (e.target as HTMLSelectElement).value)}>
            <option value="">any</option>
            {distinct(rows, (r) => r.alert.tenant).map((o) => (
              <option key={o} value={o}>
                {o}
              </option>
            ))}
          </select>
        </label>
      </div>

      {res.error && <ErrorBox error={res.error} what="alerts" />}
      {!res.data && !res.error && <Loading what="alerts" />}
      {res.data && (
        <>
          <p class="muted" data-testid="alerts-summary">
            {shownRows.length} of {rows.length} alerts{rows.length >= LIMIT ? ` (the newest ${LIMIT})` : ''}
          </p>
          <div class="table-wrap">
            <table class="alerts" data-testid="alerts-table">
              <thead>
                <tr>
                  <th scope="col">Alert</th>
                  <th scope="col">Sev</th>
                  <th scope="col">State</th>
                  <th scope="col">Started</th>
                  <th scope="col" class="num">
                    Score
                  </th>
                  <th scope="col">Owner</th>
                  <th scope="col">Why it did not page</th>
                </tr>
              </thead>
              <tbody>
                {shownRows.slice(0, shown).map((r) => (
                  <tr key={r.alert.fingerprint} data-fingerprint={r.alert.fingerprint}>
                    <td>
                      <Link href={paths.triage(r.alert.tenant, r.alert.fingerprint)} class="alert-link">
                        {r.alert.metric}
                      </Link>
                      <LabelChips labels={r.alert.labels} skip={['metric', 'severity', 'owner', 'tenant']} />
                    </td>
                    <td>
                      <SeverityBadge severity={r.alert.severity} />
                    </td>
                    <td>
                      <StateBadge state={r.alert.state} />
                    </td>
                    <td title={fmtTime(r.alert.startsAt, true)}>
                      {fmtAgo(r.alert.startsAt, now)}
                      {r.alert.endsAt !== null && <span class="muted"> · lasted {fmtDuration(r.alert.endsAt - r.alert.startsAt)}</span>}
                    </td>
                    <td class="num">{fmtNum(r.alert.score)}</td>
                    <td>{r.alert.owner ?? <span class="muted">–</span>}</td>
                    <td class="held">
                      {r.held ? (
                        <>
                          <span class={`held-kind held-${r.held.kind}`}>{r.held.kind}</span> {r.held.reason}
                        </>
                      ) : (
                        <span class="muted">–</span>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {shownRows.length === 0 && <p class="box">No alerts match these filters.</p>}
          {shownRows.length > shown && (
            <button type="button" onClick={() => setShown(shown + PAGE)}>
              Show {Math.min(PAGE, shownRows.length - shown)} more
            </button>
          )}
        </>
      )}
    </div>
  );
}
