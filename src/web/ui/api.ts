// The API client: the token lives in sessionStorage (this tab only, gone when it closes) and
// travels in the Authorization header; it is never put in a URL.

const TOKEN_KEY = 'tidemark.token';

/** What the token may do in the UI: `read` sees everything, `admin` also acts (ack, silence, label, config). */
export type UiRole = 'read' | 'admin';

/** An API answer that was not 2xx, with the catalogue code and field the server named. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly field: string | undefined;
  readonly path: string;
  constructor(status: number, code: string, message: string, field: string | undefined, path: string) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
    this.path = path;
  }
  /** The server has no such endpoint yet (its 404 for unknown routes), as opposed to "no such alert". */
  get missingEndpoint(): boolean {
    return this.status === 404 && this.code === 'TM_ERR_NOT_FOUND' && /(^|: )no endpoint /.test(this.message);
  }
}

export function getToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function clearToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** Listeners told when the server refuses the token (401), so the app can return to the login. */
export const unauthorized = new Set<(message: string) => void>();

/** Query string from pairs; repeated names allowed (match[]). */
export function qs(params: Record<string, string | number | undefined | readonly string[]>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) p.append(k, x);
    else p.append(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}

async function send(method: string, path: string, body: unknown, token: string | null, contentType = 'application/json'): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = contentType;
  return fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    credentials: 'omit',
    cache: 'no-store',
  });
}

async function read<T>(res: Response, path: string): Promise<T> {
  let doc: { data?: unknown; error?: { code?: string; message?: string; field?: string } } = {};
  try {
    doc = await res.json();
  } catch {
    // An empty or non-JSON body: the status says enough.
  }
  if (!res.ok) {
    const e = doc.error ?? {};
    const err = new ApiError(res.status, e.code ?? `HTTP_${res.status}`, e.message ?? `${res.status} ${res.statusText}`, e.field, path);
    if (res.status === 401) for (const f of unauthorized) f(err.message);
    throw err;
  }
  return doc.data as T;
}

/** Calls the API with the session's token and returns the answer's `data`. */
export async function api<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown, contentType?: string): Promise<T> {
  const res = await send(method, path, body, getToken(), contentType);
  return read<T>(res, path);
}

export const get = <T>(path: string) => api<T>('GET', path);

/** Like `get`, but the whole answer, for lists that send more than `data` (a total, counts). */
export async function getDoc<T extends object>(path: string): Promise<T> {
  const res = await send('GET', path, undefined, getToken());
  if (!res.ok) return read<never>(res, path); // throws the ApiError
  return (await res.json()) as T;
}

/**
 * What a token may do, from `GET /api/v1/whoami`. A write-only token can send data but not
 * read it, so the UI cannot use it.
 */
export async function tokenRole(token: string): Promise<{ role: UiRole } | { error: string }> {
  const res = await send('GET', '/api/v1/whoami', undefined, token);
  if (res.status === 401) return { error: 'The server does not know this token (or it was revoked or has expired).' };
  const who = await read<{ role: string }>(res, '/api/v1/whoami').catch((x: Error) => x);
  if (who instanceof Error) return { error: `The server answered ${res.status}: ${who.message}` };
  if (who.role === 'read' || who.role === 'admin') return { role: who.role };
  return { error: 'This token cannot read alerts: it is a write-only token (for sending data). Log in with a read or an admin token.' };
}
