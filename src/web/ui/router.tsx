// A tiny History-API router: paths under /ui/ (the server answers the app for all of them).
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';

const EVENT = 'tidemark:navigate';

export interface Location {
  path: string;
  query: URLSearchParams;
}

function current(): Location {
  return { path: location.pathname, query: new URLSearchParams(location.search) };
}

/** Goes to `to` (a path with an optional query); `replace` keeps the history entry (filters). */
export function navigate(to: string, replace = false): void {
  if (replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  window.dispatchEvent(new Event(EVENT));
}

/** The current location, re-rendering on navigation and back/forward. */
export function useLocation(): Location {
  const [loc, setLoc] = useState(current);
  useEffect(() => {
    const on = () => setLoc(current());
    window.addEventListener('popstate', on);
    window.addEventListener(EVENT, on);
    return () => {
      window.removeEventListener('popstate', on);
      window.removeEventListener(EVENT, on);
    };
  }, []);
  return loc;
}

interface AnchorProps {
  href: string;
  children?: ComponentChildren;
  class?: string;
  title?: string;
  'aria-current'?: 'page';
}

/** A real link (keyboard, middle-click, copy link all work) that navigates in place on a plain click. */
export function Link({ href, children, ...rest }: AnchorProps) {
  const onClick = (e: MouseEvent) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(href);
  };
  return (
    <a href={href} onClick={onClick} {...rest}>
      {children}
    </a>
  );
}

/** `/ui/triage/:tenant/:fp` against a path: the params, or undefined. */
export function match(pattern: string, path: string): Record<string, string> | undefined {
  const p = pattern.split('/');
  const s = path.replace(/\/+$/, '').split('/');
  if (p.length !== s.length) return undefined;
  const out: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    if (p[i].startsWith(':')) {
      try {
        out[p[i].slice(1)] = decodeURIComponent(s[i]);
      } catch {
        return undefined;
      }
    } else if (p[i] !== s[i]) return undefined;
  }
  return out;
}

export const paths = {
  alerts: '/ui/alerts',
  triage: (tenant: string, fp: string) => `/ui/triage/${encodeURIComponent(tenant)}/${encodeURIComponent(fp)}`,
  silences: '/ui/silences',
  explore: '/ui/explore',
  backtest: '/ui/backtest',
  config: '/ui/config',
};
