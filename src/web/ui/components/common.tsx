// Small shared pieces: async loading, error and "not available yet" panels, labels, badges.
// Everything user-supplied is rendered as text children (Preact escapes it); nothing here
// sets innerHTML.
import type { ComponentChildren } from 'preact';
import { createContext } from 'preact';
import { useCallback, useContext, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, type UiRole } from '../api.ts';
import type { Labels } from '../labels.ts';
import type { Severity } from '../types.ts';
import { SEVERITY_NAMES } from '../types.ts';

export interface Session {
  role: UiRole;
  logout(message?: string): void;
}

export const SessionContext = createContext<Session>({ role: 'read', logout: () => undefined });

export const useSession = () => useContext(SessionContext);

/** True when the session may act (ack, silence, label, config); read-only tokens see no action buttons. */
export const useCanAct = () => useSession().role === 'admin';

export interface Async<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload(): void;
}

/** Runs `load` when `deps` change (and on reload); keeps the last data while reloading. */
export function useAsync<T>(load: () => Promise<T>, deps: unknown[]): Async<T> {
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  const seq = useRef(0);
  useEffect(() => {
    const n = ++seq.current;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => n === seq.current && setState({ data, loading: false }),
      (error: Error) => n === seq.current && setState((s) => ({ data: s.data, error, loading: false })),
    );
  }, [...deps, tick]); // eslint-disable-line react-hooks/exhaustive-deps
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

/** Re-runs `fn` every `ms` while `on` and the page is visible. */
export function useInterval(fn: () => void, ms: number, on: boolean): void {
  const saved = useRef(fn);
  saved.current = fn;
  useEffect(() => {
    if (!on) return;
    const id = setInterval(() => {
      if (document.visibilityState === 'visible') saved.current();
    }, ms);
    return () => clearInterval(id);
  }, [ms, on]);
}

export function ErrorBox({ error, what }: { error: Error; what?: string }) {
  const api = error instanceof ApiError ? error : undefined;
  return (
    <div class="box error" role="alert">
      <strong>{what ? `Could not load ${what}` : 'Something failed'}</strong>
      <p>
        {error.message}
      </p>
      {api && <p class="muted">{`${api.code} · ${api.path}`}</p>}
    </div>
  );
}

/** The honest panel for a feature whose endpoint the server does not have yet. */
export function NotAvailable({ endpoint, what, children }: { endpoint: string; what: string; children?: ComponentChildren }) {
  return (
    <div class="box unavailable" data-testid="not-available" data-endpoint={endpoint}>
      <strong>{what}: not available yet</strong>
      <p>
        This server has no <code>{endpoint}</code> endpoint yet. {children}
      </p>
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function SeverityBadge({ severity }: { severity: Severity }) {
  return (
    <span class={`sev sev-${severity}`} title={SEVERITY_NAMES[severity]}>
      {severity}
    </span>
  );
}

export function StateBadge({ state }: { state: string }) {
  return <span class={`state state-${state}`}>{state}</span>;
}

/** Labels as chips `name=value`, each escaped as text. */
export function LabelChips({ labels, skip = [] }: { labels: Labels; skip?: readonly string[] }) {
  const names = Object.keys(labels)
    .filter((k) => !skip.includes(k))
    .sort();
  if (names.length === 0) return null;
  return (
    <span class="chips">
      {names.map((k) => (
        <span class="chip" key={k}>
          <span class="chip-k">{k}</span>=<span class="chip-v">{labels[k]}</span>
        </span>
      ))}
    </span>
  );
}

export function Panel({ title, id, children, actions }: { title: string; id?: string; children: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <section class="panel" aria-labelledby={id ? `${id}-h` : undefined} id={id}>
      <header class="panel-h">
        <h2 id={id ? `${id}-h` : undefined}>{title}</h2>
        {actions}
      </header>
      {children}
    </section>
  );
}

/** A one-line result of an action, announced to screen readers. */
export function Flash({ message }: { message: { kind: 'ok' | 'error'; text: string } | null }) {
  if (!message) return <p class="flash" role="status" aria-live="polite" />;
  return (
    <p class={`flash flash-${message.kind}`} role={message.kind === 'error' ? 'alert' : 'status'} aria-live="polite">
      {message.text}
    </p>
  );
}
