// Silences and maintenance windows: list (with what each mutes now), create (optionally
// recurring: weekdays and a local time in an IANA zone, or an RRULE), expire.
import { useMemo, useState } from 'preact/hooks';
import { api, get } from '../api.ts';
import { ErrorBox, Flash, Loading, useAsync, useCanAct } from '../components/common.tsx';
import { fmtAgo, fmtTime, toLocalInput } from '../format.ts';
import { matchersText, matchesAll } from '../labels.ts';
import { describeRecurrence, silenceMutesAt } from '../recurrence.ts';
import { Link, paths } from '../router.tsx';
import type { Alert, Silence } from '../types.ts';

type Listed = Silence & { status: 'active' | 'pending' | 'expired' };
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

function CreateForm({ onCreated }: { onCreated(): void }) {
  const [matchers, setMatchers] = useState('');
  const [start, setStart] = useState(() => toLocalInput(Date.now()));
  const [end, setEnd] = useState(() => toLocalInput(Date.now() + 2 * 3_600_000));
  const [reason, setReason] = useState('');
  const [rec, setRec] = useState<'none' | 'weekly' | 'rrule'>('none');
  const [days, setDays] = useState<string[]>(['sat', 'sun']);
  const [at, setAt] = useState('02:00');
  const [recDuration, setRecDuration] = useState('2h');
  const [rrule, setRrule] = useState('FREQ=WEEKLY;BYDAY=SA;BYHOUR=2;BYMINUTE=0');
  const [zone, setZone] = useState(() => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC');
  const [flash, setFlash] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setFlash(null);
    const recurrence = rec === 'weekly' ? { weekdays: days, at, duration: recDuration, timeZone: zone } : rec === 'rrule' ? { rrule, duration: recDuration, timeZone: zone } : undefined;
    try {
      const s = await api<Listed>('POST', '/api/v1/silences', { matchers, startsAt: new Date(start).getTime(), endsAt: new Date(end).getTime(), reason, ...(recurrence && { recurrence }) });
      setFlash({ kind: 'ok', text: `Silence ${s.id} created (${s.status}).` });
      setMatchers('');
      setReason('');
      onCreated();
    } catch (err) {
      const x = err as Error;
      setFlash({ kind: 'error', text: x.message });
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="panel form" onSubmit={submit} aria-labelledby="new-silence-h" data-testid="silence-form">
      <h2 id="new-silence-h">New silence or maintenance window</h2>
      <label>
        Matchers
        <input value={matchers} required placeholder='{service="checkout", region=~"eu-.*"}' onInput={(e) => setMatchers((e.target as HTMLInputElement).value)} spellcheck={false} data-testid="new-matchers" />
      </label>
      <div class="row">
        <label>
          Starts
          <input type="datetime-local" value={start} required onInput={(e) => setStart((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Ends
          <input type="datetime-local" value={end} required onInput={(e) => setEnd((e.target as HTMLInputElement).value)} data-testid="new-end" />
        </label>
      </div>
      <label>
        Reason
        <input value={reason} required placeholder="planned database maintenance" onInput={(e) => setReason((e.target as HTMLInputElement).value)} data-testid="new-reason" />
      </label>
      <fieldset>
        <legend>Recurrence</legend>
        {(['none', 'weekly', 'rrule'] as const).map((r) => (
          <label key={r} class="inline">
            <input type="radio" name="rec" value={r} checked={rec === r} onChange={() => setRec(r)} /> {r === 'none' ? 'None (one window)' : r === 'weekly' ? 'Weekly' : 'RRULE'}
          </label>
        ))}
        {rec !== 'none' && (
          <div class="rec">
            {rec === 'weekly' ? (
              <>
                <div class="days" role="group" aria-label="Weekdays">
                  {DAYS.map((d) => (
                    <label key={d} class="inline">
                      <input type="checkbox" checked={days.includes(d)} onChange={(e) => setDays((e.target as HTMLInputElement).checked ? [...days, d] : days.filter((x) => x !== d))} data-testid={`day-${d}`} /> {d}
                    </label>
                  ))}
                </div>
                <label>
                  At (local time)
                  <input type="time" value={at} onInput={(e) => setAt((e.target as HTMLInputElement).value)} />
                </label>
              </>
            ) : (
              <label>
                RRULE
                <input value={rrule} onInput={(e) => setRrule((e.target as HTMLInputElement).value)} spellcheck={false} />
              </label>
            )}
            <div class="row">
              <label>
                Each lasts
                <input value={recDuration} onInput={(e) => setRecDuration((e.target as HTMLInputElement).value)} placeholder="2h" />
              </label>
              <label>
                Time zone
                <input value={zone} onInput={(e) => setZone((e.target as HTMLInputElement).value)} placeholder="Europe/Berlin" />
              </label>
            </div>
            <p class="muted">The silence mutes only during these occurrences, between its start and end.</p>
          </div>
        )}
      </fieldset>
      <button type="submit" class="primary" disabled={busy} data-testid="create-silence">
        Create silence
      </button>
      <Flash message={flash} />
    </form>
  );
}

export function SilencesPage() {
  const canAct = useCanAct();
  const [status, setStatus] = useState<'current' | 'expired' | 'all'>('current');
  const [flash, setFlash] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);
  const list = useAsync(() => get<Listed[]>('/api/v1/silences'), []);
  const open = useAsync(() => get<Alert[]>('/api/v1/alerts?state=pending,firing&limit=10000'), []);
  const now = Date.now();
  const rows = useMemo(() => (list.data ?? []).filter((s) => (status === 'all' ? true : status === 'expired' ? s.status === 'expired' : s.status !== 'expired')).sort((a, b) => b.startsAt - a.startsAt), [list.data, status]);

  const expire = async (s: Listed) => {
    try {
      await api('DELETE', `/api/v1/silences/${encodeURIComponent(s.id)}`);
      setFlash({ kind: 'ok', text: `Silence ${s.id} expired.` });
      list.reload();
    } catch (e) {
      setFlash({ kind: 'error', text: `Expire failed: ${(e as Error).message}` });
    }
  };

  return (
    <div class="page" data-testid="silences-page">
      <div class="page-h">
        <h1>Silences</h1>
        <div class="tabs" role="group" aria-label="Status">
          {(['current', 'expired', 'all'] as const).map((s) => (
            <button key={s} type="button" class={`tab ${s === status ? 'on' : ''}`} aria-pressed={s === status} onClick={() => setStatus(s)}>
              {s === 'current' ? 'Active & pending' : s[0].toUpperCase() + s.slice(1)}
            </button>
          ))}
        </div>
      </div>
      <Flash message={flash} />
      {list.error && <ErrorBox error={list.error} what="silences" />}
      {!list.data && !list.error && <Loading what="silences" />}
      {list.data && (
        <div class="table-wrap">
          <table data-testid="silences-table">
            <thead>
              <tr>
                <th scope="col">Matchers</th>
                <th scope="col">Status</th>
                <th scope="col">Window</th>
                <th scope="col">Mutes now</th>
                <th scope="col">Reason</th>
                <th scope="col">By</th>
                {canAct && <th scope="col">Action</th>}
              </tr>
            </thead>
            <tbody>
              {rows.map((s) => {
                const mutingNow = silenceMutesAt(s, now);
                const muted = mutingNow && open.data ? open.data.filter((a) => matchesAll(s.matchers, { ...a.labels, metric: a.labels.metric ?? a.metric })) : [];
                const rec = describeRecurrence(s.recurrence);
                return (
                  <tr key={s.id} data-silence={s.id}>
                    <td>
                      <code class="matchers">{matchersText(s.matchers)}</code>
                    </td>
                    <td>
                      <span class={`state state-${s.status}`}>{s.status}</span>
                    </td>
                    <td>
                      {fmtTime(s.startsAt)} → {fmtTime(s.endsAt)}
                      <span class="muted"> ({s.status === 'pending' ? `starts ${fmtAgo(s.startsAt, now)}` : s.status === 'active' ? `ends ${fmtAgo(s.endsAt, now)}` : `ended ${fmtAgo(s.endsAt, now)}`})</span>
                      {rec && <div class="rec-desc">↻ {rec}</div>}
                    </td>
                    <td data-testid="mutes">
                      {!mutingNow ? (
                        <span class="muted">{s.status === 'active' && rec ? 'between occurrences' : 'nothing'}</span>
                      ) : open.data ? (
                        muted.length === 0 ? (
                          <span class="muted">no open alert</span>
                        ) : (
                          <details>
                            <summary>
                              {muted.length} open alert{muted.length === 1 ? '' : 's'}
                            </summary>
                            <ul class="plain">
                              {muted.slice(0, 20).map((a) => (
                                <li key={a.fingerprint}>
                                  <Link href={paths.triage(a.tenant, a.fingerprint)}>{a.metric}</Link> <span class="muted">{a.severity}</span>
                                </li>
                              ))}
                            </ul>
                          </details>
                        )
                      ) : (
                        '…'
                      )}
                    </td>
                    <td>{s.reason}</td>
                    <td>{s.createdBy}</td>
                    {canAct && (
                      <td>
                        {s.status !== 'expired' && (
                          <button type="button" onClick={() => void expire(s)} aria-label={`Expire silence ${s.id}`} data-testid="expire">
                            Expire
                          </button>
                        )}
                      </td>
                    )}
                  </tr>
                );
              })}
            </tbody>
          </table>
          {rows.length === 0 && <p class="box">No silences here.</p>}
        </div>
      )}
      {canAct ? <CreateForm onCreated={list.reload} /> : <p class="muted readonly-note">Read-only token: creating and expiring silences needs an admin token.</p>}
    </div>
  );
}
