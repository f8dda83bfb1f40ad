// Backtest: a config (the current one or an edited copy), a series selector and a time range;
// how many alerts and pages it would have produced per day, through the live pipeline, before
// saving it. Runs against POST /api/v1/backtest (issue 8) and says so when the server lacks it.
import { useState } from 'preact/hooks';
import { ApiError, api, get } from '../api.ts';
import { ErrorBox, NotAvailable, Panel, useAsync, useCanAct } from '../components/common.tsx';
import { fmtNum, toLocalInput } from '../format.ts';
import type { BacktestResult, ConfigVersion } from '../types.ts';

export const BACKTEST_ENDPOINT = 'POST /api/v1/backtest';

export function BacktestPage() {
  const canAct = useCanAct();
  const current = useAsync(async () => (canAct ? get<ConfigVersion>('/api/v1/config').catch(() => undefined) : undefined), [canAct]);
  const [edit, setEdit] = useState(false);
  const [yaml, setYaml] = useState('');
  const [selector, setSelector] = useState('');
  const [from, setFrom] = useState(() => toLocalInput(Date.now() - 7 * 86_400_000));
  const [to, setTo] = useState(() => toLocalInput(Date.now()));
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<BacktestResult | null>(null);
  const [error, setError] = useState<Error | null>(null);

  const run = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      const body = { ...(edit && { config: yaml }), ...(selector.trim() && { selector: selector.trim() }), from: new Date(from).getTime(), to: new Date(to).getTime() };
      setResult(await api<BacktestResult>('POST', '/api/v1/backtest', body));
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };

  const days = result?.days ?? [];
  const maxAlerts = Math.max(1, ...days.map((d) => d.alerts ?? 0));
  return (
    <div class="page" data-testid="backtest-page">
      <h1>Backtest</h1>
      <form class="panel form" onSubmit={run} aria-label="Backtest">
        <fieldset>
          <legend>Config</legend>
          <label class="inline">
            <input type="radio" name="cfg" checked={!edit} onChange={() => setEdit(false)} /> The current version{current.data ? ` (v${current.data.version})` : ''}
          </label>
          <label class="inline">
            <input
              type="radio"
              name="cfg"
              checked={edit}
              onChange={() => {
                setEdit(true);
                if (!yaml && current.data) setYaml(current.data.yaml);
              }}
            />{' '}
            An edited copy (not saved)
          </label>
          {edit && (
            <label>
              Config YAML
              <textarea rows={14} class="code" value={yaml} onInput={(e) => setYaml((e.target as HTMLTextAreaElement).value)} spellcheck={false} />
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
            <input type="datetime-local" value={from} onInput={(e) => setFrom((e.target as HTMLInputElement).value)} />
          </label>
          <label>
            To
            <input type="datetime-local" value={to} onInput={(e) => setTo((e.target as HTMLInputElement).value)} />
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
        error && <ErrorBox error={error} what="the backtest" />
      )}
      {result && (
        <Panel title="Would have produced" id="result">
          <p data-testid="backtest-totals">
            {fmtNum(result.totals?.alerts ?? days.reduce((n, d) => n + (d.alerts ?? 0), 0))} alerts, {fmtNum(result.totals?.pages ?? days.reduce((n, d) => n + (d.pages ?? 0), 0))} pages
            {result.totals?.notifications !== undefined ? `, ${fmtNum(result.totals.notifications)} notifications` : ''}
          </p>
          <div class="table-wrap">
            <table data-testid="backtest-days">
              <thead>
                <tr>
                  <th scope="col">Day</th>
                  <th scope="col" class="num">
                    Alerts
                  </th>
                  <th scope="col" class="num">
                    Pages
                  </th>
                  <th scope="col">Volume</th>
                </tr>
              </thead>
              <tbody>
                {days.map((d) => (
                  <tr key={String(d.day)}>
                    <td>{typeof d.day === 'number' ? new Date(d.day).toISOString().slice(0, 10) : d.day}</td>
                    <td class="num">{fmtNum(d.alerts ?? 0)}</td>
                    <td class="num">{fmtNum(d.pages ?? 0)}</td>
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
        </Panel>
      )}
    </div>
  );
}
