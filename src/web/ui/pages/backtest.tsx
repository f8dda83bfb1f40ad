// Backtest: a config (the current one, a stored version, or an edited copy), a series selector
// and a time range; how many alerts and pages it would have produced per day and severity, and
// which, through the live pipeline (POST /api/v1/backtest, src/engine/backtest.ts), before
// saving it. Says so when the server lacks the endpoint.
import { useState } from 'preact/hooks';
import { ApiError, api, get } from '../api.ts';
import { ErrorBox, LabelChips, NotAvailable, Panel, SeverityBadge, StateBadge, useAsync, useCanAct } from '../components/common.tsx';
import { fmtDuration, fmtNum, fmtTime, toLocalInput } from '../format.ts';
import { SEVERITY_ORDER, type BacktestAlert, type BacktestResult, type ConfigVersion } from '../types.ts';

export const BACKTEST_ENDPOINT = 'POST /api/v1/backtest';
const ALERT_ROWS = 200; // alerts drawn at once; the totals count them all

type Source = 'current' | 'version' | 'edit';

const heldText = (a: BacktestAlert) => (a.suppressions.length > 0 ? a.suppressions.map((s) => `${s.kind}: ${s.reason}`).join('; ') : a.heldReason ?? '');

export function BacktestPage() {
  const canAct = useCanAct();
  const current = useAsync(async () => (canAct ? get<ConfigVersion>('/api/v1/config').catch(() => undefined) : undefined), [canAct]);
  const versions = useAsync(async () => (canAct ? get<{ version: number; at: number; author: string }[]>('/api/v1/config/versions').catch(() => []) : []), [canAct]);
  const [source, setSource] = useState<Source>('current');
  const [version, setVersion] = useState('');
  const [yaml, setYaml] = useState('');
  const [selector, setSelector] = useState('');
  const [from, setFrom] = useState(() => toLocalInput(Date.now() - 7 * 86_400_000));
  const [to, setTo] = useState(() => toLocalInput(Date.now()));
  const [warmup, setWarmup] = useState('24h');
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<BacktestResult | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [rows, setRows] = useState(ALERT_ROWS);

  const run = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setResult(null);
    setRows(ALERT_ROWS);
    try {
      const body = {
        ...(source === 'edit' && { config: yaml }),
        ...(source === 'version' && version && { configVersion: Number(version) }),
        ...(selector.trim() && { selector: selector.trim() }),
        from: new Date(from).getTime(),
        to: new Date(to).getTime(),
        ...(warmup.trim() && { warmup: warmup.trim() }),
      };
      setResult(await api<BacktestResult>('POST', '/api/v1/backtest', body));
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };

  const days = result?.days ?? [];
  const maxAlerts = Math.max(1, ...days.map((d) => d.alerts ?? 0));
  const fired = (result?.alerts ?? []).filter((a) => a.firingAt !== null).reverse();
  const stored = versions.data ?? [];
  return (
    <div class="page" data-testid="backtest-page">
      <h1>Backtest</h1>
      <form class="panel form" onSubmit={run} aria-label="Backtest">
        <fieldset>
          <legend>Config</legend>
          <label class="inline">
            <input type="radio" name="cfg" checked={source === 'current'} onChange={() => setSource('current')} /> The current version{current.data ? ` (v${current.data.version})` : ''}
          </label>
          {stored.length > 1 && (
            <label class="inline">
              <input type="radio" name="cfg" checked={source === 'version'} onChange={() => setSource('version')} /> A stored version{' '}
              <select
                value={version}
                aria-label="Stored version"
                data-testid="backtest-version"
                onChange={(e) => {
                  setVersion((e.target as HTMLSelectElement).value);
                  setSource('version');
                }}
              >
                <option value="">pick…</option>
                {stored.map((v) => (
                  <option key={v.version} value={String(v.version)}>
                    v{v.version} · {fmtTime(v.at)} · {v.author}
                  </option>
                ))}
              </select>
            </label>
          )}
          <label class="inline">
            <input
              type="radio"
              name="cfg"
              checked={source === 'edit'}
              data-testid="backtest-edit"
              onChange={() => {
                setSource('edit');
                if (!yaml && current.data) setYaml(current.data.yaml);
              }}
            />{' '}
            An edited copy (not saved)
          </label>
          {source === 'edit' && (
            <label>
              Config YAML
              <textarea rows={14} class="code" value={yaml} onInput={(e) => setYaml((e.target as HTMLTextAreaElement).value)} spellcheck={false} data-testid="backtest-yaml" />
            </label>
          )}
        </fieldset>
        <label>
          Series selector
          <input value={selector} onInput={(e) => setSelector((e.target as HTMLInputElement).value)} placeholder='{service="checkout"} (empty: every series)' spellcheck={false} data-testid="backtest-selector" />
        </label>
        <div class="row">
          <label>
            From
            <input type="datetime-local" value={from} onInput={(e) => setFrom((e.target as HTMLInputElement).value)} data-testid="backtest-from" />
          </label>
          <label>
            To
            <input type="datetime-local" value={to} onInput={(e) => setTo((e.target as HTMLInputElement).value)} data-testid="backtest-to" />
          </label>
          <label>
            Warm-up
            <input value={warmup} onInput={(e) => setWarmup((e.target as HTMLInputElement).value)} size={6} title="History before From that teaches the detectors first, without alerting" />
          </label>
        </div>
        <button type="submit" class="primary" disabled={busy} data-testid="run-backtest">
          {busy ? 'Running…' : 'Run backtest'}
        </button>
      </form>

      {error instanceof ApiError && error.missingEndpoint ? (
        <NotAvailable endpoint={BACKTEST_ENDPOINT} what="Backtests">
          It will replay the chosen range through the same detectors, grouping, silences and budgets as live serving (issue 8). Nothing was run.
        </NotAvailable>
      ) : (
        error && <ErrorBox error={error} what={error instanceof ApiError && error.field ? `the backtest (${error.field})` : 'the backtest'} />
      )}
      {result && (
        <Panel title="Would have produced" id="result">
          <p data-testid="backtest-totals">
            {fmtNum(result.totals?.alerts ?? days.reduce((n, d) => n + (d.alerts ?? 0), 0))} alerts, {fmtNum(result.totals?.pages ?? days.reduce((n, d) => n + (d.pages ?? 0), 0))} pages
            {result.totals?.notifications !== undefined ? `, ${fmtNum(result.totals.notifications)} notifications` : ''}
          </p>
          {result.series !== undefined && (
            <p class="muted" data-testid="backtest-run">
              Config {result.configVersion == null ? 'defaults' : `v${result.configVersion}`}
              {result.draft ? ' (unsaved)' : ''} · {fmtNum(result.series)} series · {fmtNum(result.points ?? 0)} points judged after {fmtNum(result.warmupPoints ?? 0)} warm-up points ·{' '}
              {fmtDuration(result.elapsedMs ?? 0)}
              {result.totals?.cleared ? ` · ${fmtNum(result.totals.cleared)} cleared while pending` : ''}
              {result.totals?.suppressed && Object.keys(result.totals.suppressed).length > 0
                ? ` · held back: ${Object.entries(result.totals.suppressed)
                    .map(([k, n]) => `${n} ${k}`)
                    .join(', ')}`
                : ''}
            </p>
          )}
          <div class="table-wrap">
            <table data-testid="backtest-days">
              <thead>
                <tr>
                  <th scope="col">Day</th>
                  <th scope="col" class="num">
                    Alerts
                  </th>
                  {SEVERITY_ORDER.map((s) => (
                    <th key={s} scope="col" class="num">
                      {s}
                    </th>
                  ))}
                  <th scope="col" class="num">
                    Pages
                  </th>
                  <th scope="col" class="num">
                    Notifications
                  </th>
                  <th scope="col">Volume</th>
                </tr>
              </thead>
              <tbody>
                {days.map((d) => (
                  <tr key={String(d.day)}>
                    <td>{typeof d.day === 'number' ? new Date(d.day).toISOString().slice(0, 10) : d.day}</td>
                    <td class="num">{fmtNum(d.alerts ?? 0)}</td>
                    {SEVERITY_ORDER.map((s) => (
                      <td key={s} class="num">
                        {fmtNum(d.bySeverity?.[s] ?? 0)}
                      </td>
                    ))}
                    <td class="num">{fmtNum(d.pages ?? 0)}</td>
                    <td class="num">{fmtNum(d.notifications ?? 0)}</td>
                    <td>
                      <span class="sharebar" aria-hidden="true">
                        <span style={{ width: `${((d.alerts ?? 0) / maxAlerts) * 100}%` }} />
                      </span>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {result.alerts !== undefined && (
            <>
              <h3>Alerts, newest first</h3>
              {fired.length === 0 ? (
                <p class="box" data-testid="backtest-no-alerts">
                  Nothing would have fired.
                </p>
              ) : (
                <div class="table-wrap">
                  <table class="alerts" data-testid="backtest-alerts">
                    <thead>
                      <tr>
                        <th scope="col">Alert</th>
                        <th scope="col">Sev</th>
                        <th scope="col">State at the end</th>
                        <th scope="col">Fired</th>
                        <th scope="col">Paged</th>
                        <th scope="col">Why it did not page</th>
                      </tr>
                    </thead>
                    <tbody>
                      {fired.slice(0, rows).map((a) => (
                        <tr key={`${a.fingerprint}@${a.startsAt}`} data-fingerprint={a.fingerprint}>
                          <td>
                            {a.metric}
                            <LabelChips labels={a.labels} skip={['metric', 'severity', 'tenant']} />
                          </td>
                          <td>
                            <SeverityBadge severity={a.severity} />
                          </td>
                          <td>
                            <StateBadge state={a.state} />
                          </td>
                          <td>
                            {fmtTime(a.firingAt)}
                            {a.endsAt !== null && <span class="muted"> · lasted {fmtDuration(a.endsAt - a.startsAt)}</span>}
                          </td>
                          <td>{a.paged ? 'yes' : 'no'}</td>
                          <td class="held">{heldText(a) || <span class="muted">–</span>}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              )}
              {fired.length > rows && (
                <button type="button" onClick={() => setRows(rows + ALERT_ROWS)}>
                  Show {Math.min(ALERT_ROWS, fired.length - rows)} more
                </button>
              )}
              {result.alertsTruncated && <p class="muted">Only the newest alerts are listed; the counts above include all of them.</p>}
            </>
          )}
        </Panel>
      )}
    </div>
  );
}
