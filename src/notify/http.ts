/**
 * One JSON POST with a timeout, and the retry policy around it. Errors say whether a retry can
 * help, as Alertmanager's notifiers return `(recoverable, err)`: 5xx, timeouts and network
 * errors are retryable; every 4xx is not, 408 and 429 included. That is the contract the issue
 * states ("retries with backoff on 5xx and network errors, no retry on 4xx"), and it keeps a
 * rate-limited receiver (429) from being hammered by our backoff on top of its own limit: the
 * failure is logged and counted, and the next group notification tries again.
 */
import { TidemarkError } from '../errors.ts';

/** A failed delivery. `httpStatus` is null for timeouts and network errors. */
export class NotifyError extends TidemarkError {
  readonly retryable: boolean;
  readonly httpStatus: number | null;
  /** From a Retry-After header, when the peer sent one (ms). */
  readonly retryAfterMs: number | null;
  constructor(message: string, retryable: boolean, httpStatus: number | null, path: string, retryAfterMs: number | null = null) {
    super('TM_ERR_NOTIFY', `${message} (${retryable ? 'retryable' : 'not retryable'})`, path);
    this.name = 'NotifyError';
    this.retryable = retryable;
    this.httpStatus = httpStatus;
    this.retryAfterMs = retryAfterMs;
  }
}

/** Whether an HTTP status is worth retrying: 5xx only (see the file comment). */
export function retryableStatus(status: number): boolean {
  return status >= 500;
}

export interface PostOptions {
  readonly timeoutMs: number;
  readonly headers?: Record<string, string>;
}

const MAX_ERROR_BODY = 512; // characters of a peer's error body kept in the message

/** Where a URL points, without credentials, path secrets or query (Slack and PagerDuty keys live there). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname.split('/').slice(0, 3).join('/')}${u.pathname.split('/').length > 3 ? '/...' : ''}`;
  } catch {
    return '<invalid url>';
  }
}

/**
 * POSTs JSON and resolves with the response status and body text on 2xx; rejects with a
 * NotifyError otherwise (timeouts via AbortSignal.timeout).
 */
export async function postJson(url: string, body: unknown, o: PostOptions): Promise<{ status: number; text: string }> {
  const where = redactUrl(url);
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'Tidemark', ...o.headers },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(o.timeoutMs),
      redirect: 'error',
    });
  } catch (err) {
    const e = err as Error;
    if (e.name === 'TimeoutError' || e.name === 'AbortError') throw new NotifyError(`no answer from ${where} within ${o.timeoutMs} ms`, true, null, where);
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new NotifyError(`cannot reach ${where}: ${cause?.code ?? cause?.message ?? e.message}`, true, null, where);
  }
  let text = '';
  try {
    text = await res.text();
  } catch {
    // A body cut off after the status line: the status decides.
  }
  if (res.status >= 200 && res.status < 300) return { status: res.status, text };
  const ra = res.headers.get('retry-after');
  const retryAfterMs = ra === null ? null : /^\d+$/.test(ra) ? Number(ra) * 1000 : Number.isFinite(Date.parse(ra)) ? Math.max(0, Date.parse(ra) - Date.now()) : null;
  throw new NotifyError(`${where} answered ${res.status}: ${text.slice(0, MAX_ERROR_BODY).trim() || res.statusText}`, retryableStatus(res.status), res.status, where, retryAfterMs);
}

/** Retry policy: `attempts` in all, exponential backoff from `baseMs` capped at `maxMs`, with jitter. */
export interface RetryPolicy {
  readonly attempts: number;
  readonly baseMs: number;
  readonly maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = Object.freeze({
  attempts: 4, // 1 try + 3 retries
  baseMs: 500, // 0.5 s, 1 s, 2 s (+ up to 50% jitter)
  maxMs: 10_000, // 10 s: also the cap on a peer's Retry-After
});

export interface RetryHooks {
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  readonly onRetry?: (err: NotifyError, attempt: number) => void;
  /**
   * Asked right before each retry (after the backoff): false calls the delivery off, and it
   * rejects with DeliveryStopped. A cluster worker asks its fence here, so a worker that lost the
   * partition's lease while backing off sends nothing more (the new owner sends it).
   */
  readonly proceed?: () => boolean | Promise<boolean>;
}

/** A delivery called off between attempts by `RetryHooks.proceed`: not a failure of the receiver. */
export class DeliveryStopped extends NotifyError {
  readonly last: NotifyError;
  constructor(last: NotifyError, attempts: number) {
    super(`called off before attempt ${attempts + 1} (the sender may no longer send it): ${last.message}`, false, last.httpStatus, last.path ?? 'notify');
    this.name = 'DeliveryStopped';
    this.last = last;
    (this as { attempts?: number }).attempts = attempts;
  }
}

/**
 * Runs `fn` until it succeeds, fails with a non-retryable error, or runs out of attempts.
 * Resolves with the number of attempts made; rejects with the last error and `attempts` on it.
 */
export async function withRetry(fn: () => Promise<unknown>, p: RetryPolicy, hooks: RetryHooks = {}): Promise<number> {
  const sleep = hooks.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const random = hooks.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    try {
      await fn();
      return attempt;
    } catch (err) {
      const e = err instanceof NotifyError ? err : new NotifyError((err as Error).message, false, null, 'notify');
      (e as { attempts?: number }).attempts = attempt;
      if (!e.retryable || attempt >= p.attempts) throw e;
      hooks.onRetry?.(e, attempt);
      const backoff = Math.min(p.maxMs, p.baseMs * 2 ** (attempt - 1)) * (1 + 0.5 * random());
      await sleep(Math.min(p.maxMs, Math.max(backoff, e.retryAfterMs ?? 0)));
      if (hooks.proceed && !(await hooks.proceed())) throw new DeliveryStopped(e, attempt);
    }
  }
}
