// The app shell: login, navigation, theme, routes.
import { useEffect, useState } from 'preact/hooks';
import { clearToken, getToken, tokenRole, setToken, unauthorized, type UiRole } from './api.ts';
import { SessionContext } from './components/common.tsx';
import { AlertsPage } from './pages/alerts.tsx';
import { BacktestPage } from './pages/backtest.tsx';
import { ConfigPage } from './pages/config.tsx';
import { ExplorePage } from './pages/explore.tsx';
import { SilencesPage } from './pages/silences.tsx';
import { TriagePage } from './pages/triage.tsx';
import { Link, match, paths, useLocation } from './router.tsx';

const THEME_KEY = 'tidemark.theme';

function initialTheme(): 'light' | 'dark' {
  const saved = localStorage.getItem(THEME_KEY);
  if (saved === 'light' || saved === 'dark') return saved;
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

function useTheme(): ['light' | 'dark', () => void] {
  const [theme, setTheme] = useState(initialTheme);
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
  }, [theme]);
  const toggle = () => {
    const next = theme === 'dark' ? 'light' : 'dark';
    localStorage.setItem(THEME_KEY, next);
    setTheme(next);
  };
  return [theme, toggle];
}

function Login({ message, onLogin }: { message: string | null; onLogin(token: string, role: UiRole): void }) {
  const [token, setTokenText] = useState('');
  const [error, setError] = useState<string | null>(message);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const t = token.trim();
    if (!t) return setError('Paste an API token.');
    setBusy(true);
    try {
      const r = await tokenRole(t);
      if ('error' in r) setError(r.error);
      else onLogin(t, r.role);
    } catch (err) {
      setError(`Cannot reach the server: ${(err as Error).message}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="login">
      <h1>Tidemark</h1>
      {/* POST and no action: the token can never end up in the address bar, even without JavaScript. */}
      <form method="post" onSubmit={submit} class="login-form" autocomplete="off">
        <label for="token">API token</label>
        <input id="token" name="token" type="password" autocomplete="off" spellcheck={false} value={token} onInput={(e) => setTokenText((e.target as HTMLInputElement).value)} autofocus />
        <p class="muted">
          A read token shows alerts, series and silences; an admin token can also acknowledge, silence, label and see the config. The token is kept in this tab only (sessionStorage)
          and sent as a header.
        </p>
        {error && (
          <p class="flash flash-error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Checking…' : 'Log in'}
        </button>
      </form>
    </main>
  );
}

const NAV: [string, string][] = [
  [paths.alerts, 'Alerts'],
  [paths.silences, 'Silences'],
  [paths.explore, 'Explore'],
  [paths.backtest, 'Backtest'],
  [paths.config, 'Config & audit'],
];

function Routes({ path }: { path: string }) {
  if (path === '/' || path === '/ui' || path === '/ui/' || path === paths.alerts) return <AlertsPage />;
  const t = match('/ui/triage/:tenant/:fp', path);
  if (t) return <TriagePage tenant={t.tenant} fingerprint={t.fp} />;
  if (path === paths.silences) return <SilencesPage />;
  if (path === paths.explore) return <ExplorePage />;
  if (path === paths.backtest) return <BacktestPage />;
  if (path === paths.config) return <ConfigPage />;
  return (
    <div class="box">
      <h1>Not found</h1>
      <p>
        There is no page here. <Link href={paths.alerts}>Go to the alerts</Link>.
      </p>
    </div>
  );
}

export function App() {
  const [theme, toggleTheme] = useTheme();
  const [role, setRole] = useState<UiRole | null>(null);
  const [checking, setChecking] = useState(getToken() !== null);
  const [message, setMessage] = useState<string | null>(null);
  const loc = useLocation();

  const logout = (why?: string) => {
    clearToken();
    setRole(null);
    setMessage(why ?? null);
  };

  // A stored token (this tab, after a reload): find its role again.
  useEffect(() => {
    const t = getToken();
    if (!t) return;
    tokenRole(t)
      .then((r) => ('error' in r ? logout(r.error) : setRole(r.role)))
      .catch((e: Error) => setMessage(`Cannot reach the server: ${e.message}`))
      .finally(() => setChecking(false));
  }, []);

  useEffect(() => {
    const on = (m: string) => logout(`Logged out: ${m}`);
    unauthorized.add(on);
    return () => void unauthorized.delete(on);
  }, []);

  const themeButton = (
    <button type="button" class="ghost" onClick={toggleTheme} aria-label={`Switch to ${theme === 'dark' ? 'light' : 'dark'} theme`}>
      {theme === 'dark' ? '☀ Light' : '☾ Dark'}
    </button>
  );

  if (checking) return <p class="muted pad">Checking the session…</p>;
  if (!role) {
    return (
      <>
        <div class="topbar-lite">{themeButton}</div>
        <Login
          message={message}
          onLogin={(token, r) => {
            setToken(token);
            setMessage(null);
            setRole(r);
          }}
        />
      </>
    );
  }

  const active = (href: string) => (href === paths.alerts ? loc.path === '/' || loc.path.startsWith('/ui/alerts') || loc.path.startsWith('/ui/triage') || loc.path === '/ui' || loc.path === '/ui/' : loc.path.startsWith(href));
  return (
    <SessionContext.Provider value={{ role, logout }}>
      <a href="#main" class="skip">
        Skip to content
      </a>
      <header class="topbar">
        <Link href={paths.alerts} class="brand">
          Tidemark
        </Link>
        <nav aria-label="Main">
          {NAV.map(([href, text]) => (
            <Link key={href} href={href} aria-current={active(href) ? 'page' : undefined}>
              {text}
            </Link>
          ))}
        </nav>
        <div class="topbar-right">
          <span class={`role role-${role}`} title={role === 'read' ? 'Read-only token: no actions' : 'Admin token'}>
            {role === 'read' ? 'read-only' : 'admin'}
          </span>
          {themeButton}
          <button type="button" class="ghost" onClick={() => logout()}>
            Log out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Routes path={loc.path} />
      </main>
    </SessionContext.Provider>
  );
}
