// Series explorer: search by metric name or selector, pick a series, see its points, band and
// the anomalies the engine recorded over a range.
import { useMemo, useState } from 'preact/hooks';
import { get, qs } from '../api.ts';
import { Chart } from '../components/chart.tsx';
import { ErrorBox, LabelChips, Loading, Panel, useAsync } from '../components/common.tsx';
import { findSeries, loadSeriesChart } from '../data.ts';
import { fmtNum, fmtTime } from '../format.ts';
import { labelsText, quote, sameLabels, seriesSelector } from '../labels.ts';
import { navigate, paths, useLocation } from '../router.tsx';
import type { Anomaly, SeriesRef } from '../types.ts';

const HOUR = 3_600_000;
const RANGES: [string, number][] = [
  ['1h', HOUR],
  ['6h', 6 * HOUR],
  ['24h', 24 * HOUR],
  ['2d', 48 * HOUR],
  ['7d', 7 * 24 * HOUR],
];
const MAX_LISTED = 200;

/** A bare metric name becomes a selector; anything with braces is used as written. */
export function toSelector(text: string): string {
  const t = text.trim();
  return /[{}]/.test(t) ? t : `{__name__=${quote(t)}}`;
}

export function ExplorePage() {
  const loc = useLocation();
  const q = loc.query.get('q') ?? '';
  const picked = loc.query.get('s') ?? '';
  const rangeName = loc.query.get('range') ?? '6h';
  const rangeMs = RANGES.find(([n]) => n === rangeName)?.[1] ?? 6 * HOUR;
  const [text, setText] = useState(q);
  const names = useAsync(() => get<string[]>('/api/v1/label/__name__/values'), []);

  const go = (next: Record<string, string>) => {
    const p = new URLSearchParams(location.search);
    for (const [k, v] of Object.entries(next)) if (v) p.set(k, v);
    else p.delete(k);
    navigate(`${paths.explore}?${p}`);
  };

  const found = useAsync(async () => (q ? findSeries(toSelector(q)) : undefined), [q]);
  const series = useMemo<SeriesRef | undefined>(() => {
    if (!picked || !found.data) return undefined;
    return found.data.find((s) => seriesSelector(s.metric, s.labels) === picked);
  }, [picked, found.data]);
  const [now] = useState(Date.now());
  const chart = useAsync(async () => (series ? loadSeriesChart(series, now - rangeMs, now, false) : undefined), [series, rangeMs]);
  const anomalies = useAsync(
    async () => (series ? (await get<Anomaly[]>(`/api/v1/anomalies${qs({ from: now - rangeMs, to: now + 1, limit: 1000 })}`)).filter((a) => a.metric === series.metric && sameLabels(a.labels, series.labels)) : undefined),
    [series, rangeMs],
  );

  return (
    <div class="page" data-testid="explore-page">
      <h1>Explore series</h1>
      <form
        class="filters"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          go({ q: text.trim(), s: '' });
        }}
      >
        <label class="grow">
          Metric or selector
          <input list="metric-names" value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} placeholder='http_requests_total or {service="checkout"}' spellcheck={false} data-testid="explore-query" />
        </label>
        <datalist id="metric-names">
          {(names.data ?? []).filter((n) => !n.startsWith('tidemark_')).map((n) => (
            <option key={n} value={n} />
          ))}
        </datalist>
        <button type="submit" class="primary">
          Search
        </button>
      </form>
      {found.error && <ErrorBox error={found.error} what="series" />}
      {q && !found.data && !found.error && <Loading what="series" />}
      {found.data && (
        <Panel title={`${found.data.length} series`} id="found">
          {found.data.length === 0 ? (
            <p class="muted">Nothing matches {toSelector(q)}.</p>
          ) : (
            <ul class="series-list" data-testid="series-list">
              {found.data.slice(0, MAX_LISTED).map((s) => {
                const key = seriesSelector(s.metric, s.labels);
                return (
                  <li key={key}>
                    <button type="button" class={`link ${key === picked ? 'on' : ''}`} aria-pressed={key === picked} onClick={() => go({ s: key })}>
                      {s.metric}
                    </button>{' '}
                    <LabelChips labels={s.labels} />
                  </li>
                );
              })}
              {found.data.length > MAX_LISTED && <li class="muted">… and {found.data.length - MAX_LISTED} more: narrow the selector.</li>}
            </ul>
          )}
        </Panel>
      )}
      {series && (
        <Panel
          title={`${series.metric} ${labelsText(series.labels)}`}
          id="series"
          actions={
            <div class="tabs" role="group" aria-label="Range">
              {RANGES.map(([n]) => (
                <button key={n} type="button" class={`tab ${n === rangeName ? 'on' : ''}`} aria-pressed={n === rangeName} onClick={() => go({ range: n })}>
                  {n}
                </button>
              ))}
            </div>
          }
        >
          {chart.error && <ErrorBox error={chart.error} what="points" />}
          {chart.data ? chart.data.t.length > 0 ? <Chart data={chart.data} label={series.metric} /> : <p class="muted">No points in this range.</p> : !chart.error && <Loading what="points" />}
          <h3>Anomalies in range</h3>
          {anomalies.data && anomalies.data.length === 0 && <p class="muted">The engine recorded none (it keeps the most recent ones in memory).</p>}
          {anomalies.data && anomalies.data.length > 0 && (
            <div class="table-wrap">
              <table data-testid="anomalies">
                <thead>
                  <tr>
                    <th scope="col">When</th>
                    <th scope="col" class="num">
                      Value
                    </th>
                    <th scope="col" class="num">
                      Expected
                    </th>
                    <th scope="col">Band</th>
                    <th scope="col" class="num">
                      Score
                    </th>
                    <th scope="col">Reasons</th>
                  </tr>
                </thead>
                <tbody>
                  {anomalies.data.slice(0, 200).map((a) => (
                    <tr key={a.t}>
                      <td>{fmtTime(a.t, true)}</td>
                      <td class="num">{fmtNum(a.value)}</td>
                      <td class="num">{fmtNum(a.expected)}</td>
                      <td>
                        {fmtNum(a.lower)} – {fmtNum(a.upper)}
                      </td>
                      <td class="num">{fmtNum(a.score)}</td>
                      <td>{a.reasons.join(', ')}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </Panel>
      )}
    </div>
  );
}
