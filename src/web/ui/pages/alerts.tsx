// The alerts list: state tabs (suppressed included, with why it did not page), counts by
// severity, filters by owner / service / tenant / free text, live refresh. Filters live in
// the URL query, so a filtered view can be shared (the token never is). The server filters,
// sorts and pages (a page is what is drawn), and one grouped read gives every count, so the
// page costs the same with 100 alerts or 100,000.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { getDoc } from '../api.ts';
import { ErrorBox, LabelChips, Loading, SeverityBadge, StateBadge, useAsync, useInterval } from '../components/common.tsx';
import { fmtAgo, fmtDuration, fmtNum, fmtTime } from '../format.ts';
import { Link, navigate, paths, useLocation } from '../router.tsx';
import { SEVERITY_NAMES, SEVERITY_ORDER, type Alert, type Severity } from '../types.ts';

const PAGE = 200; // rows drawn at once; more on demand
const REFRESH_MS = 10_000;
const TYPING_MS = 150; // the search asks the server once typing pauses, not per key

type Tab = 'open' | 'firing' | 'pending' | 'suppressed' | 'resolved' | 'all';
const TABS: [Tab, string][] = [
  ['open', 'Open'],
  ['firing', 'Firing'],
  ['pending', 'Pending'],
  ['suppressed', 'Suppressed'],
  ['resolved', 'Resolved'],
  ['all', 'All'],
];

/** The query parameters that select a tab on the server. */
const TAB_QUERY: Record<Tab, string> = {
  open: 'state=pending,firing',
  firing: 'state=firing',
  pending: 'state=pending',
  suppressed: 'state=pending,firing&held=true',
  resolved: 'state=resolved',
  all: '',
};

/** A row of `GET /api/v1/alerts?view=summary`: no packet, and why it did not page as `held`. */
type ListedAlert = Alert & { held: { kind: string; reason: string } | null };

interface Group {
  state: Alert['state'];
  severity: Severity;
  held: boolean;
  n: number;
}
interface Listing {
  data: ListedAlert[];
  total: number;
  counts: { groups: Group[]; owners: { value: string; n: number }[]; services: { value: string; n: number }[] };
}

function inTab(g: Group, tab: Tab): boolean {
  switch (tab) {
    case 'open':
      return g.state !== 'resolved';
    case 'suppressed':
      return g.state !== 'resolved' && g.held;
    case 'all':
      return true;
    default:
      return g.state === tab;
  }
}

/** Options for a filter: the server's values, plus the selected one even when nothing has it now. */
const options = (values: { value: string }[] | undefined, selected: string) => {
  const out = (values ?? []).map((v) => v.value);
  if (selected && !out.includes(selected)) out.push(selected);
  return out.sort();
};

export function AlertsPage() {
  const loc = useLocation();
  const q = loc.query;
  const tab = (TABS.find(([t]) => t === q.get('state'))?.[0] ?? 'open') as Tab;
  const sevParam = q.get('severity') ?? '';
  const sevs = new Set(sevParam.split(',').filter((s): s is Severity => SEVERITY_ORDER.includes(s as Severity)));
  const owner = q.get('owner') ?? '';
  const service = q.get('service') ?? '';
  const tenant = q.get('tenant') ?? '';
  const text = q.get('q') ?? '';
  const [live, setLive] = useState(true);
  const [shown, setShown] = useState(PAGE);
  const [now, setNow] = useState(Date.now());
  // What the server is asked for lags the search box by a pause in typing.
  const [needle, setNeedle] = useState(text.trim());
  useEffect(() => {
    const t = setTimeout(() => setNeedle(text.trim()), TYPING_MS);
    return () => clearTimeout(t);
  }, [text]);

  const sevList = SEVERITY_ORDER.filter((s) => sevs.has(s)).join(',');
  const res = useAsync(async () => {
    const p = [TAB_QUERY[tab], 'view=summary', 'sort=severity', `limit=${shown}`, 'counts=1'];
    if (sevList) p.push(`severity=${sevList}`);
    for (const [k, v] of [['owner', owner], ['service', service], ['tenant', tenant], ['q', needle]] as const) if (v) p.push(`${k}=${encodeURIComponent(v)}`);
    const doc = await getDoc<Listing>(`/api/v1/alerts?${p.filter((x) => x !== '').join('&')}`);
    setNow(Date.now());
    return doc;
  }, [tab, sevList, owner, service, tenant, needle, shown]);
  useInterval(res.reload, REFRESH_MS, live);

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

  const groups = res.data?.counts.groups ?? [];
  // The groups ignore state and severity, so each chip says what it would show in this tab.
  const counts = useMemo(() => {
    const c: Record<Severity, number> = { S0: 0, S1: 0, S2: 0, S3: 0 };
    for (const g of groups) if (inTab(g, tab)) c[g.severity] += g.n;
    return c;
  }, [groups, tab]);
  const tabCounts = useMemo(() => {
    const c: Record<string, number> = Object.fromEntries(TABS.map(([t]) => [t, 0]));
    for (const g of groups) for (const [t] of TABS) if (inTab(g, t)) c[t] += g.n;
    return c;
  }, [groups]);
  const all = tabCounts.all ?? 0;
  const rows = res.data?.data ?? [];
  const total = res.data?.total ?? 0;
  const tenants = options(rows.length ? [{ value: rows[0].tenant }] : [], tenant);

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
        <FilterSelect label="Owner" value={owner} options={options(res.data?.counts.owners, owner)} onChange={(v) => set('owner', v)} />
        <FilterSelect label="Service" value={service} options={options(res.data?.counts.services, service)} onChange={(v) => set('service', v)} />
        <FilterSelect label="Tenant" value={tenant} options={tenants} onChange={(v) => set('tenant', v)} />
      </div>

      {res.error && <ErrorBox error={res.error} what="alerts" />}
      {!res.data && !res.error && <Loading what="alerts" />}
      {res.data && (
        <>
          <p class="muted" data-testid="alerts-summary">
            {rows.length} shown of {total} matching · {all} alerts
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
                {rows.map((a) => (
                  <tr key={a.fingerprint} data-fingerprint={a.fingerprint}>
                    <td>
                      <Link href={paths.triage(a.tenant, a.fingerprint)} class="alert-link">
                        {a.metric}
                      </Link>
                      <LabelChips labels={a.labels} skip={['metric', 'severity', 'owner', 'tenant']} />
                    </td>
                    <td>
                      <SeverityBadge severity={a.severity} />
                    </td>
                    <td>
                      <StateBadge state={a.state} />
                    </td>
                    <td title={fmtTime(a.startsAt, true)}>
                      {fmtAgo(a.startsAt, now)}
                      {a.endsAt !== null && <span class="muted"> · lasted {fmtDuration(a.endsAt - a.startsAt)}</span>}
                    </td>
                    <td class="num">{fmtNum(a.score)}</td>
                    <td>{a.owner ?? <span class="muted">–</span>}</td>
                    <td class="held">
                      {a.held ? (
                        <>
                          <span class={`held-kind held-${a.held.kind}`}>{a.held.kind}</span> {a.held.reason}
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
          {rows.length === 0 && <p class="box">No alerts match these filters.</p>}
          {total > rows.length && rows.length >= shown && (
            <button type="button" onClick={() => setShown(shown + PAGE)} disabled={res.loading} data-testid="alerts-more">
              Show {Math.min(PAGE, total - rows.length)} more
            </button>
          )}
        </>
      )}
    </div>
  );
}

/** A labelled filter menu whose empty choice means "any". */
function FilterSelect(p: { label: string; value: string; options: readonly string[]; onChange: (value: string) => void }) {
  return (
    <label>
      {p.label}
      <select value={p.value} onChange={(e) => p.onChange((e.target as HTMLSelectElement).value)}>
        <option value="">any</option>
        {p.options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    </label>
  );
}
