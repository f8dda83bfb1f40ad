// Config and audit: the current version, its history with line diffs between versions, and
// who changed what. The API serves the current version today; history and audit endpoints are
// read when the server has them.
import { useMemo, useState } from 'preact/hooks';
import { ApiError, get } from '../api.ts';
import { ErrorBox, Loading, NotAvailable, Panel, useAsync, useCanAct } from '../components/common.tsx';
import { lineDiff } from '../diff.ts';
import { fmtTime } from '../format.ts';
import type { AuditEntry, ConfigVersion } from '../types.ts';

export const CONFIG_HISTORY_ENDPOINT = 'GET /api/v1/config/versions';
export const AUDIT_ENDPOINT = 'GET /api/v1/audit';

function Diff({ before, after }: { before: string; after: string }) {
  const lines = useMemo(() => lineDiff(before, after), [before, after]);
  const changed = lines.some((l) => l.op !== ' ');
  if (!changed) return <p class="muted">No change.</p>;
  // Unchanged runs are folded to 3 lines of context around each change.
  const keep = lines.map((l, i) => l.op !== ' ' || lines.slice(Math.max(0, i - 3), i + 4).some((x) => x.op !== ' '));
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    if (keep[i]) out.push(<div key={i} class={`dl dl-${lines[i].op === '+' ? 'add' : lines[i].op === '-' ? 'del' : 'ctx'}`}>{`${lines[i].op} ${lines[i].text}`}</div>);
    else if (i === 0 || keep[i - 1]) out.push(<div key={i} class="dl dl-fold">⋯</div>);
  }
  return (
    <pre class="diff" data-testid="diff">
      {out}
    </pre>
  );
}

/** One entry of `GET /api/v1/config/versions`: the YAML comes only with `?version=N`. */
interface VersionSummary {
  version: number;
  author: string;
  at: number;
  hash: string;
  message: string | null;
}

/** The diff of version `v` against the one before it, each fetched with `?version=N`. */
function VersionDiff({ version }: { version: number }) {
  const pair = useAsync(async () => {
    const after = await get<ConfigVersion>(`/api/v1/config/versions?version=${version}`);
    const before = version > 1 ? await get<ConfigVersion>(`/api/v1/config/versions?version=${version - 1}`) : null;
    return { before: before?.yaml ?? '', after: after.yaml };
  }, [version]);
  if (pair.error) return <ErrorBox error={pair.error} what={`config version ${version}`} />;
  if (!pair.data) return <Loading what={`config version ${version}`} />;
  return <Diff before={pair.data.before} after={pair.data.after} />;
}

function History({ current }: { current: ConfigVersion }) {
  const versions = useAsync(() => get<VersionSummary[]>('/api/v1/config/versions'), []);
  const [open, setOpen] = useState<number | null>(null);
  if (versions.error instanceof ApiError && versions.error.missingEndpoint) {
    return (
      <NotAvailable endpoint={CONFIG_HISTORY_ENDPOINT} what="Config history and diffs">
        The store keeps every version (this is version {current.version}); the API does not list them yet.
      </NotAvailable>
    );
  }
  if (versions.error) return <ErrorBox error={versions.error} what="config history" />;
  if (!versions.data) return <Loading what="config history" />;
  return (
    <ol class="versions" data-testid="versions">
      {versions.data.map((v) => (
        <li key={v.version}>
          <button type="button" class="link" aria-expanded={open === v.version} onClick={() => setOpen(open === v.version ? null : v.version)}>
            v{v.version}
          </button>{' '}
          by {v.author}, {fmtTime(v.at)}
          {v.message ? ` · ${v.message}` : ''}
          {open === v.version && <VersionDiff version={v.version} />}
        </li>
      ))}
    </ol>
  );
}

function Audit() {
  const audit = useAsync(() => get<AuditEntry[]>('/api/v1/audit?limit=200'), []);
  if (audit.error instanceof ApiError && audit.error.missingEndpoint) {
    return (
      <NotAvailable endpoint={AUDIT_ENDPOINT} what="The audit log">
        Config changes, silences and acknowledgements are written to the store's audit log; the API does not list it yet.
      </NotAvailable>
    );
  }
  if (audit.error) return <ErrorBox error={audit.error} what="the audit log" />;
  if (!audit.data) return <Loading what="the audit log" />;
  return (
    <div class="table-wrap">
      <table data-testid="audit">
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Who</th>
            <th scope="col">What</th>
            <th scope="col">Target</th>
            <th scope="col">Change</th>
          </tr>
        </thead>
        <tbody>
          {audit.data.map((e) => (
            <tr key={e.id}>
              <td>{fmtTime(e.at, true)}</td>
              <td>{e.actor}</td>
              <td>{e.action}</td>
              <td>{e.target}</td>
              <td>
                <code class="clip">{e.diff ?? ''}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function ConfigPage() {
  const canAct = useCanAct();
  const current = useAsync(async () => {
    try {
      return await get<ConfigVersion>('/api/v1/config');
    } catch (e) {
      // 404 with a TM_ERR_NOT_FOUND on field config: the tenant runs on the defaults.
      if (e instanceof ApiError && e.status === 404 && !e.missingEndpoint) return null;
      throw e;
    }
  }, [canAct]);
  if (!canAct) {
    return (
      <div class="page">
        <h1>Config & audit</h1>
        <p class="box">The config and the audit log need an admin token; this session's token is read-only.</p>
      </div>
    );
  }
  return (
    <div class="page" data-testid="config-page">
      <h1>Config & audit</h1>
      {current.error && <ErrorBox error={current.error} what="the config" />}
      {current.data === undefined && !current.error && <Loading what="the config" />}
      {current.data === null && <p class="box">This tenant has no config yet: it runs on the defaults.</p>}
      {current.data && (
        <>
          <Panel title={`Current: version ${current.data.version}`} id="current">
            <p class="muted" data-testid="config-meta">
              by {current.data.author}, {fmtTime(current.data.at)}
              {current.data.comment ? ` · ${current.data.comment}` : ''}
            </p>
            <details>
              <summary>Show the YAML</summary>
              <pre class="code">{current.data.yaml}</pre>
            </details>
          </Panel>
          <Panel title="History" id="history">
            <History current={current.data} />
          </Panel>
        </>
      )}
      <Panel title="Audit log" id="audit">
        <Audit />
      </Panel>
    </div>
  );
}
