// The triage page of one alert, root cause first: what and since when, the chart against its
// band with change markers and last week, where (top contributors), why likely (correlated
// changes), impact, next steps, and the actions (ack, silence, label) for tokens that may act.
import { useMemo, useState } from 'preact/hooks';
import { ApiError, api, get, qs } from '../api.ts';
import { Chart, Sparkline, type ChartMarker } from '../components/chart.tsx';
import { ErrorBox, Flash, LabelChips, Loading, NotAvailable, Panel, SeverityBadge, StateBadge, useAsync, useCanAct } from '../components/common.tsx';
import { findSeries, loadSeriesChart, loadSummed } from '../data.ts';
import { fmtAgo, fmtDuration, fmtNum, fmtShare, fmtTime, safeHref } from '../format.ts';
import { labelsText, pickAlertSeries, quote, seriesLabelsOfAlert, silencePrefill } from '../labels.ts';
import { Link, paths } from '../router.tsx';
import type { AlertDetail, ChangeEvent, FeedbackLabel, PacketChange, PacketSegment, Silence, StagePacket, TriagePacket } from '../types.ts';

const HOUR = 3_600_000;
const SPANS: [string, number][] = [
  ['6h', 6 * HOUR],
  ['24h', 24 * HOUR],
  ['7d', 7 * 24 * HOUR],
];

/** The chart window: `span` long, showing the alert's start with some history before it. */
export function chartWindow(startsAt: number, endsAt: number | null, span: number, now: number): [number, number] {
  let end = endsAt === null ? now : Math.min(now, endsAt + span / 4);
  let start = end - span;
  if (startsAt < start + span / 8) {
    start = startsAt - span / 8;
    end = Math.min(now, start + span);
  }
  return [Math.round(start), Math.round(end)];
}

/** A segment's selector for its small chart: the alert's metric, the drill's scope, the segment's pairs. */
export function segmentSelector(metric: string, scope: Readonly<Record<string, string>>, seg: PacketSegment): string | undefined {
  const labels: Record<string, string> = { ...scope };
  for (const p of seg.pairs ?? []) {
    // Folded values ("(other)") and absent ones are not series labels.
    if (p.value.startsWith('(')) return undefined;
    labels[p.dimension] = p.value;
  }
  return `{${[`__name__=${quote(metric)}`, ...Object.keys(labels).sort().map((k) => `${k}=${quote(labels[k])}`)].join(', ')}}`;
}

function Contributors({ packet, metric, window }: { packet: TriagePacket; metric: string; window: [number, number] }) {
  const where = packet.where;
  const list: readonly PacketSegment[] = where?.segments ?? [];
  const scope = where?.scope ?? {};
  const sparks = useAsync(
    () =>
      Promise.all(
        list.slice(0, 10).map(async (seg) => {
          const sel = segmentSelector(metric, scope, seg);
          return sel ? loadSummed(sel, window[0], window[1]).catch(() => []) : [];
        }),
      ),
    [packet, metric, window[0], window[1]],
  );
  return (
    <>
      {where?.verdict && (
        <p class="verdict" data-testid="where-verdict">
          {where.verdict}
        </p>
      )}
      {where?.global && !where.verdict?.includes(where.global.text) && <p class="held">{where.global.text}</p>}
      {list.length === 0 ? (
        <p class="muted" data-testid="no-contributors">
          {where?.mode === 'none' ? 'No drill-down for this alert.' : 'No segment stands out.'}
        </p>
      ) : (
        <div class="table-wrap">
          <table data-testid="contributors">
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">Segment</th>
                <th scope="col">Share of delta</th>
                <th scope="col" class="num">
                  Observed
                </th>
                <th scope="col" class="num">
                  Expected
                </th>
                <th scope="col" class="num">
                  Delta
                </th>
                <th scope="col" class="num">
                  Confidence
                </th>
                <th scope="col">Trend</th>
              </tr>
            </thead>
            <tbody>
              {list.map((seg, i) => (
                <tr key={i} data-testid="contributor-row" class={seg.suspect ? 'suspect' : ''}>
                  <td>{i + 1}</td>
                  <td class="segment">
                    {seg.text ?? (seg.pairs ?? []).map((p) => `${p.dimension}=${p.value}`).join(' & ')}
                    {!seg.suspect && <span class="muted"> (below the confidence floor: not named as the cause)</span>}
                  </td>
                  <td>
                    <span class="sharebar" aria-hidden="true">
                      <span style={{ width: `${Math.max(0, Math.min(1, Math.abs(seg.share ?? 0))) * 100}%` }} />
                    </span>{' '}
                    <span class="share">{fmtShare(seg.share)}</span>
                  </td>
                  <td class="num">{fmtNum(seg.observed)}</td>
                  <td class="num">{fmtNum(seg.expected)}</td>
                  <td class="num">{fmtNum(seg.delta)}</td>
                  <td class="num">{fmtShare(seg.confidence)}</td>
                  <td>{i < 10 && sparks.data ? <Sparkline points={sparks.data[i] ?? []} /> : <span class="muted">–</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {where && where.children > 0 && (
        <p class="muted">
          Drilled {where.children} series over {where.dimensions.join(', ') || 'no dimension'} ({where.mode})
          {Object.keys(scope).length > 0 ? ` within ${labelsText(scope)}` : ''}.
        </p>
      )}
    </>
  );
}

function changeLine(c: { kind?: string; service?: string; text?: string; labels?: Readonly<Record<string, string>>; author?: string | null; link?: string | null }) {
  const href = safeHref(c.link);
  return (
    <>
      <span class={`kind kind-${c.kind ?? 'change'}`}>{c.kind ?? 'change'}</span> <strong>{c.service ?? ''}</strong> {c.text ?? ''}
      {c.labels && Object.keys(c.labels).length > 0 && <LabelChips labels={c.labels} />}
      {c.author && <span class="muted"> by {c.author}</span>}
      {href && (
        <>
          {' '}
          <a href={href} rel="noopener noreferrer" target="_blank">
            details
          </a>
        </>
      )}
    </>
  );
}

function Actions({ detail, reload }: { detail: AlertDetail; reload(): void }) {
  const a = detail.alert;
  const [ttl, setTtl] = useState('30m');
  const [comment, setComment] = useState('');
  const [matchers, setMatchers] = useState(() => silencePrefill(a.labels));
  const [duration, setDuration] = useState('2h');
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [flash, setFlash] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);
  const id = encodeURIComponent(a.fingerprint);
  const run = async (what: string, f: () => Promise<string>) => {
    setBusy(true);
    setFlash(null);
    try {
      setFlash({ kind: 'ok', text: await f() });
      reload();
    } catch (e) {
      const err = e as Error;
      setFlash({ kind: 'error', text: `${what} failed: ${err.message}` });
    } finally {
      setBusy(false);
    }
  };
  const ack = (e: Event) => {
    e.preventDefault();
    void run('Acknowledge', async () => {
      const r = await api<{ by: string; expiresAt: number }>('POST', `/api/v1/alerts/${id}/ack`, { ttl, ...(comment.trim() && { comment: comment.trim() }) });
      return `Acknowledged by ${r.by} until ${fmtTime(r.expiresAt)}.`;
    });
  };
  const silence = (e: Event) => {
    e.preventDefault();
    void run('Silence', async () => {
      const s = await api<Silence>('POST', '/api/v1/silences', { matchers, duration, reason });
      return `Silence ${s.id} created until ${fmtTime(s.endsAt)}.`;
    });
  };
  const label = (l: FeedbackLabel) =>
    void run('Label', async () => {
      await api('POST', `/api/v1/alerts/${id}/feedback`, { label: l });
      return `Labelled ${l.replace('_', ' ')}.`;
    });
  const labels = detail.feedback;
  return (
    <Panel title="Actions" id="actions">
      <div class="actions">
        <form class="action" onSubmit={ack} aria-label="Acknowledge">
          <h3>Acknowledge</h3>
          <label>
            For
            <select value={ttl} onChange={(e) => setTtl((e.target as HTMLSelectElement).value)}>
              {['15m', '30m', '1h', '4h', '12h'].map((t) => (
                <option key={t}>{t}</option>
              ))}
            </select>
          </label>
          <label>
            Comment
            <input value={comment} onInput={(e) => setComment((e.target as HTMLInputElement).value)} placeholder="looking into it" />
          </label>
          <button type="submit" class="primary" disabled={busy || a.state === 'resolved'} data-testid="ack">
            Acknowledge
          </button>
          {a.state === 'resolved' && <p class="muted">Resolved alerts need no acknowledgement.</p>}
        </form>

        <form class="action" onSubmit={silence} aria-label="Silence">
          <h3>Silence</h3>
          <label>
            Matchers
            <textarea rows={3} value={matchers} onInput={(e) => setMatchers((e.target as HTMLTextAreaElement).value)} data-testid="silence-matchers" spellcheck={false} />
          </label>
          <label>
            For
            <select value={duration} onChange={(e) => setDuration((e.target as HTMLSelectElement).value)}>
              {['30m', '1h', '2h', '4h', '12h', '1d', '3d', '1w'].map((t) => (
                <option key={t}>{t}</option>
              ))}
            </select>
          </label>
          <label>
            Reason
            <input value={reason} required onInput={(e) => setReason((e.target as HTMLInputElement).value)} placeholder="deploying the fix" data-testid="silence-reason" />
          </label>
          <button type="submit" disabled={busy} data-testid="silence">
            Silence
          </button>
        </form>

        <div class="action" role="group" aria-labelledby="label-h">
          <h3 id="label-h">Label</h3>
          <div class="buttons">
            {(['real', 'noise', 'expected', 'new_normal'] as FeedbackLabel[]).map((l) => (
              <button key={l} type="button" disabled={busy} onClick={() => label(l)} data-testid={`label-${l}`}>
                {l === 'new_normal' ? 'New normal' : l[0].toUpperCase() + l.slice(1)}
              </button>
            ))}
          </div>
          {labels.length > 0 && (
            <ul class="plain" data-testid="labels">
              {labels.map((f) => (
                <li key={`${f.by}-${f.at}`}>
                  <strong>{f.label.replace('_', ' ')}</strong> by {f.by}, {fmtTime(f.at)}
                  {f.comment ? `: ${f.comment}` : ''}
                </li>
              ))}
            </ul>
          )}
        </div>
      </div>
      <Flash message={flash} />
    </Panel>
  );
}

export function TriagePage({ tenant, fingerprint }: { tenant: string; fingerprint: string }) {
  const canAct = useCanAct();
  const [span, setSpan] = useState(SPANS[0][1]);
  const [now] = useState(Date.now());
  const id = encodeURIComponent(fingerprint);
  const detail = useAsync(() => get<AlertDetail>(`/api/v1/alerts/${id}`), [fingerprint]);
  const packet = useAsync(() => get<TriagePacket>(`/api/v1/alerts/${id}/packet`), [fingerprint]);
  const a = detail.data?.alert;
  const win = useMemo<[number, number] | undefined>(() => (a ? chartWindow(a.startsAt, a.endsAt, span, now) : undefined), [a?.startsAt, a?.endsAt, span, now]);

  const series = useAsync(async () => {
    if (!a) return undefined;
    const candidates = await findSeries(`{__name__=${quote(a.metric)}}`);
    return pickAlertSeries(a.labels, candidates) ?? null;
  }, [a?.fingerprint]);
  const chart = useAsync(async () => (series.data && win ? loadSeriesChart(series.data, win[0], win[1]) : undefined), [series.data, win?.[0], win?.[1]]);
  const changes = useAsync(async () => (win && a ? get<ChangeEvent[]>(`/api/v1/changes${qs({ from: Math.min(win[0], a.startsAt - 2 * HOUR), to: win[1] + 1, limit: 500 })}`) : undefined), [win?.[0], win?.[1], a?.startsAt]);
  const markers = useMemo<ChartMarker[]>(() => (changes.data && win ? changes.data.filter((c) => c.t >= win[0] && c.t <= win[1]).map((c) => ({ t: c.t, label: `${c.kind} ${c.service}` })) : []), [changes.data, win]);
  const shade = useMemo<[number, number] | undefined>(() => (a ? [a.startsAt, a.endsAt ?? now] : undefined), [a?.startsAt, a?.endsAt, now]);

  if (detail.error) {
    return (
      <div class="page">
        <p>
          <Link href={paths.alerts}>← Alerts</Link>
        </p>
        <ErrorBox error={detail.error} what={`alert ${fingerprint}`} />
      </div>
    );
  }
  if (!detail.data || !a) return <Loading what="the alert" />;
  const d = detail.data;
  const sp = (a.packet ?? {}) as StagePacket;
  const pk = packet.data;
  const missingPacket = packet.error instanceof ApiError && packet.error.missingEndpoint;
  const runbook = a.runbook ?? pk?.next?.runbook ?? null;
  const runbookHref = safeHref(runbook);
  const owner = a.owner ?? pk?.next?.owner ?? null;
  const onset = pk?.when?.onset ?? sp.crossedAt ?? a.startsAt;

  // Same time last week: the newest point with a value a week earlier.
  let weekCmp: { now: number; then: number } | null = null;
  if (chart.data?.lastWeek) {
    for (let i = chart.data.t.length - 1; i >= 0; i--) {
      const v = chart.data.value[i];
      const w = chart.data.lastWeek[i];
      if (v !== null && w !== null) {
        weekCmp = { now: v, then: w };
        break;
      }
    }
  }

  const correlated: readonly PacketChange[] = pk?.why?.changes ?? [];
  const nearby = (changes.data ?? []).filter((c) => c.t <= onset + 15 * 60_000 && c.t >= onset - 2 * HOUR).sort((x, y) => Math.abs(onset - x.t) - Math.abs(onset - y.t));
  const impact = pk?.impact;

  return (
    <div class="page triage" data-testid="triage-page">
      <p>
        <Link href={paths.alerts}>← Alerts</Link>
      </p>
      {tenant !== a.tenant && (
        <p class="box">
          This link names tenant <strong>{tenant}</strong>; the alert shown is tenant <strong>{a.tenant}</strong>'s, the one your token belongs to.
        </p>
      )}
      <header class="triage-h">
        <h1>
          <SeverityBadge severity={a.severity} /> {a.metric}
        </h1>
        <LabelChips labels={a.labels} skip={['metric', 'severity']} />
        <p class="meta">
          <StateBadge state={a.state} /> since {fmtTime(a.startsAt)} ({a.endsAt === null ? `${fmtDuration(now - a.startsAt)} so far` : `lasted ${fmtDuration(a.endsAt - a.startsAt)}`}) · score {fmtNum(a.score)}
          {pk?.when?.onset !== undefined && pk.when.onset !== a.startsAt ? ` · onset ${fmtTime(pk.when.onset)}` : ''}
          {sp.firingAt ? ` · firing since ${fmtTime(sp.firingAt)}` : ''}
          {sp.dataState === 'unknown' && <span class="warn"> · no data since {fmtTime(sp.unknownSince)}: state unknown</span>}
        </p>
      </header>

      <div class="grid2">
        <Panel title="What" id="what">
          <dl class="kv">
            <dt>Value</dt>
            <dd data-testid="what-value">{fmtNum(pk?.what?.value ?? sp.value)}</dd>
            <dt>Expected</dt>
            <dd>
              {fmtNum(pk?.what?.expected ?? sp.expected)} (band {fmtNum(pk?.what?.band?.lower ?? sp.lower)} – {fmtNum(pk?.what?.band?.upper ?? sp.upper)})
            </dd>
            <dt>Detectors</dt>
            <dd>
              {(pk?.what?.detectors ?? sp.detectors ?? a.reasons.map((r) => ({ name: '', reason: r }))).map((x, i) => (
                <span key={i} class="reason">
                  {x.name ? `${x.name}: ` : ''}
                  {x.reason}
                </span>
              ))}
            </dd>
            <dt>Rule</dt>
            <dd>{sp.rule || a.labels.rule || 'default profile'}</dd>
            <dt>Config</dt>
            <dd>{a.configVersion !== null ? `version ${a.configVersion}` : 'defaults'}</dd>
            <dt>Same time last week</dt>
            <dd data-testid="last-week">
              {weekCmp ? `${fmtNum(weekCmp.now)} now vs ${fmtNum(weekCmp.then)} a week ago (${weekCmp.then !== 0 ? `${weekCmp.now >= weekCmp.then ? '+' : ''}${fmtShare((weekCmp.now - weekCmp.then) / Math.abs(weekCmp.then))}` : 'n/a'})` : chart.data ? 'no data a week earlier' : '…'}
            </dd>
          </dl>
        </Panel>
        <Panel title="Next" id="next">
          <dl class="kv">
            <dt>Owner</dt>
            <dd data-testid="owner">{owner ?? <span class="muted">none configured</span>}</dd>
            <dt>Runbook</dt>
            <dd>
              {runbookHref ? (
                <a href={runbookHref} rel="noopener noreferrer" target="_blank" data-testid="runbook">
                  {runbook}
                </a>
              ) : runbook ? (
                <span>{runbook}</span>
              ) : (
                <span class="muted">none configured</span>
              )}
            </dd>
            <dt>Impact</dt>
            <dd data-testid="impact">
              {impact?.text ?? sp.impact ?? <span class="muted">no impact condition reported</span>}
              {impact?.kind === 'slo' && impact.burnRates.length > 0 && (
                <ul class="plain burn" data-testid="burn-rates">
                  {impact.burnRates.map((b, i) => (
                    <li key={i}>
                      burn {fmtNum(b.long)}× over {fmtDuration(b.longMs)} and {fmtNum(b.short)}× over {fmtDuration(b.shortMs)} (pages above {fmtNum(b.threshold)}×)
                    </li>
                  ))}
                </ul>
              )}
              {sp.heldReason && <p class="held">Held: {sp.heldReason}</p>}
            </dd>
          </dl>
          {pk?.next?.suggestions && pk.next.suggestions.length > 0 && (
            <ul>
              {pk.next.suggestions.map((x, i) => (
                <li key={i}>
                  <span class={`kind kind-${x.action}`}>{x.action}</span> {x.text}
                </li>
              ))}
            </ul>
          )}
          {d.suppressions.length > 0 && (
            <>
              <h3>Why it did not page</h3>
              <ul class="plain" data-testid="suppressions">
                {d.suppressions.map((s, i) => (
                  <li key={i}>
                    <span class={`held-kind held-${s.kind}`}>{s.kind}</span> {s.reason} <span class="muted">({fmtTime(s.at)})</span>
                  </li>
                ))}
              </ul>
            </>
          )}
        </Panel>
      </div>

      <Panel
        title="Metric against its expected band"
        id="chart"
        actions={
          <div class="tabs" role="group" aria-label="Range">
            {SPANS.map(([name, ms]) => (
              <button key={name} type="button" class={`tab ${ms === span ? 'on' : ''}`} aria-pressed={ms === span} onClick={() => setSpan(ms)}>
                {name}
              </button>
            ))}
          </div>
        }
      >
        {series.error && <ErrorBox error={series.error} what="the series" />}
        {series.data === null && <p class="box">No stored series matches this alert's labels {labelsText(seriesLabelsOfAlert(a.labels))}.</p>}
        {chart.error && <ErrorBox error={chart.error} what="the chart" />}
        {chart.data && win && (chart.data.t.length > 0 ? <Chart data={chart.data} markers={markers} shade={shade} label={a.metric} /> : <p class="box">No points of this series between {fmtTime(win[0])} and {fmtTime(win[1])}.</p>)}
        {!chart.data && !chart.error && series.data !== null && <Loading what="the chart" />}
      </Panel>

      <Panel title="Where: top contributing segments" id="where">
        {missingPacket ? (
          <NotAvailable endpoint="GET /api/v1/alerts/{id}/packet" what="Top contributors">
            The triage packet (issue 5) ranks the segments that explain the change; until the server has it, drill down in <Link href={`${paths.explore}?q=${encodeURIComponent(`{__name__=${quote(a.metric)}}`)}`}>Explore</Link>.
          </NotAvailable>
        ) : packet.error ? (
          <ErrorBox error={packet.error} what="the triage packet" />
        ) : pk && win ? (
          <Contributors packet={pk} metric={a.metric} window={win} />
        ) : (
          <Loading what="the triage packet" />
        )}
      </Panel>

      <Panel title="Why likely: correlated changes" id="why">
        {pk?.why?.verdict && (
          <p class="verdict" data-testid="why-verdict">
            {pk.why.verdict}
          </p>
        )}
        {pk && correlated.length > 0 && (
          <ol data-testid="correlated">
            {correlated.map((c, i) => (
              <li key={c.id ?? i} class={c.suspect ? 'suspect' : ''}>
                <span class="muted">{c.offsetMs <= 0 ? `${fmtDuration(-c.offsetMs)} before onset` : `${fmtDuration(c.offsetMs)} after onset`} · </span>
                {changeLine(c)} <span class="muted">· confidence {fmtShare(c.confidence)}</span>
                {!c.suspect && <span class="muted"> (considered, not named)</span>}
                {c.evidence && <p class="evidence">{c.evidence}</p>}
              </li>
            ))}
          </ol>
        )}
        {pk && correlated.length === 0 && <p class="muted">No recorded change around the onset.</p>}
        {packet.error && (
          <>
            {missingPacket ? (
              <NotAvailable endpoint="GET /api/v1/alerts/{id}/packet" what="Ranked correlated changes">
                Below: the change events recorded from 2 h before the onset to 15 min after, nearest first, not ranked.
              </NotAvailable>
            ) : (
              <p class="muted">The triage packet failed (see above); below: the change events near the onset, not ranked.</p>
            )}
            {nearby.length === 0 ? (
              <p class="muted">No change events recorded near the onset ({fmtTime(onset)}).</p>
            ) : (
              <ul class="plain" data-testid="nearby-changes">
                {nearby.slice(0, 10).map((c) => (
                  <li key={c.id}>
                    <span class="muted">{c.t <= onset ? `${fmtDuration(onset - c.t)} before onset` : `${fmtDuration(c.t - onset)} after onset`}</span> · {changeLine(c)}
                  </li>
                ))}
              </ul>
            )}
          </>
        )}
      </Panel>

      {canAct ? <Actions detail={d} reload={detail.reload} /> : <p class="muted readonly-note">Read-only token: acknowledging, silencing and labelling need an admin token.</p>}

      {pk?.related && pk.related.length > 0 && (
        <Panel title="Related alerts" id="related">
          <ul class="plain">
            {pk.related.map((r) => (
              <li key={r.fingerprint}>
                <Link href={paths.triage(a.tenant, r.fingerprint)}>{r.metric}</Link> <LabelChips labels={r.labels} /> <span class="muted">{r.reason}</span>
              </li>
            ))}
          </ul>
        </Panel>
      )}

      <Panel title="History" id="history">
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">What</th>
              </tr>
            </thead>
            <tbody>
              {[
                ...d.history.map((h) => ({ t: h.t, text: `${h.state} at ${h.severity}, score ${fmtNum(h.score)}` })),
                ...d.events.map((e) => ({ t: e.at, text: `${e.kind}: ${e.text}` })),
                ...d.acks.map((k) => ({ t: k.at, text: `acknowledged by ${k.by} until ${fmtTime(k.expiresAt)}${k.comment ? `: ${k.comment}` : ''}` })),
                ...d.notifications.map((n) => ({ t: n.at, text: `notification to ${n.channel} (${n.alertState}): ${n.status}${n.error ? `, ${n.error}` : ''}` })),
              ]
                .sort((x, y) => y.t - x.t)
                .map((r, i) => (
                  <tr key={i}>
                    <td title={fmtTime(r.t, true)}>{fmtAgo(r.t, now)}</td>
                    <td>{r.text}</td>
                  </tr>
                ))}
            </tbody>
          </table>
        </div>
      </Panel>
    </div>
  );
}
