/**
 * The one conformance suite every integration runs (as Alertmanager's notifiers all run
 * `RetryTests`): success for 2xx, no retry for any 4xx (408 and 429 included), retries for 5xx,
 * timeouts and dropped connections, Retry-After honoured on a 5xx, and a body that is JSON of
 * the documented shape.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Dispatch } from '../alert/index.ts';
import { DeliveryStopped, NotifyError } from './http.ts';
import { Notifier, type Integration } from './notifier.ts';
import { sampleDispatch, startReceiver, validateBody, type LocalReceiver, type Reply } from './testkit.ts';

interface Case {
  readonly name: string;
  readonly script: Reply[];
  readonly ok: boolean;
  readonly attempts: number;
  readonly retryable?: boolean;
  readonly httpStatus?: number | null;
  /** Request timeout for this case; generous by default so a loaded machine does not turn a 4xx into a timeout. */
  readonly timeoutMs?: number;
}

const TIMEOUT_MS = 300; // for the timeout cases; their slow replies take 4x longer

const CASES: Case[] = [
  { name: '200 is delivered at once', script: [{ status: 200 }], ok: true, attempts: 1 },
  { name: '202 is delivered at once', script: [{ status: 202 }], ok: true, attempts: 1 },
  { name: '204 is delivered at once', script: [{ status: 204 }], ok: true, attempts: 1 },
  ...[400, 401, 403, 404, 408, 410, 413, 422, 429, 499].map((s) => ({ name: `${s} fails without retry`, script: [{ status: s, headers: { 'retry-after': '1' } }, { status: 200 }], ok: false, attempts: 1, retryable: false, httpStatus: s })),
  ...[500, 502, 503, 504, 599].map((s) => ({ name: `${s} is retried until it succeeds`, script: [{ status: s }, { status: s }, { status: 200 }], ok: true, attempts: 3 })),
  { name: '503 with Retry-After is retried after it', script: [{ status: 503, headers: { 'retry-after': '1' } }, { status: 200 }], ok: true, attempts: 2 },
  { name: '5xx every time fails after the last attempt, retryable', script: [{ status: 503 }, { status: 503 }, { status: 503 }, { status: 503 }], ok: false, attempts: 4, retryable: true, httpStatus: 503 },
  { name: 'a timeout is retried', script: [{ status: 200, delayMs: TIMEOUT_MS * 4 }, { status: 200 }], ok: true, attempts: 2, timeoutMs: TIMEOUT_MS },
  { name: 'a dropped connection is retried', script: [{ drop: true }, { status: 200 }], ok: true, attempts: 2 },
  { name: 'timeouts every time fail, retryable, with no status', script: Array.from({ length: 4 }, () => ({ status: 200, delayMs: TIMEOUT_MS * 4 })), ok: false, attempts: 4, retryable: true, httpStatus: null, timeoutMs: TIMEOUT_MS },
];

/**
 * Registers the suite for one integration kind. `make(url)` builds the integration pointed at the
 * local receiver's base URL; `path` is the request path it must use.
 */
export function runIntegrationConformance(kind: 'webhook' | 'slack' | 'pagerduty' | 'alertmanager', make: (baseUrl: string) => Integration, path: string): void {
  describe(`integration conformance: ${kind}`, () => {
    let rx: LocalReceiver;
    const sleeps: number[] = [];
    before(async () => {
      rx = await startReceiver();
    });
    after(async () => {
      await rx.close();
    });

    const deliver = async (d: Dispatch, timeoutMs = 5_000) => {
      const i = make(rx.url);
      const n = new Notifier({ receivers: () => undefined, timeoutMs, hooks: { sleep: async (ms) => void sleeps.push(ms), random: () => 0 } });
      return n.deliver(d, 'r', i);
    };

    for (const c of CASES) {
      test(c.name, async () => {
        rx.received.length = 0;
        sleeps.length = 0;
        rx.script = [...c.script];
        const o = await deliver(sampleDispatch(), c.timeoutMs);
        assert.ok(o, 'a firing dispatch always has a body');
        assert.equal(o.ok, c.ok, o.error?.message);
        assert.equal(o.attempts, c.attempts);
        // A dropped or timed-out request still reached the receiver: one request per attempt.
        await new Promise((r) => setTimeout(r, 20));
        assert.equal(rx.received.length, c.attempts);
        assert.equal(sleeps.length, c.attempts - 1, 'one backoff between attempts');
        if (!c.ok) {
          assert.ok(o.error instanceof NotifyError);
          assert.equal(o.error.code, 'TM_ERR_NOTIFY');
          assert.equal(o.error.retryable, c.retryable);
          assert.equal(o.error.httpStatus, c.httpStatus);
          assert.match(o.error.message, c.retryable ? /\(retryable\)$/ : /\(not retryable\)$/);
        }
        if (c.name.includes('Retry-After')) assert.equal(sleeps[0], 1000, 'Retry-After: 1 is honoured');
      });
    }

    test('backoff grows exponentially and is capped', async () => {
      rx.received.length = 0;
      sleeps.length = 0;
      rx.script = [{ status: 500 }, { status: 500 }, { status: 500 }, { status: 200 }];
      const o = await deliver(sampleDispatch());
      assert.equal(o?.ok, true);
      assert.deepEqual(sleeps, [500, 1000, 2000]);
    });

    test('a retry asks `proceed` first: false stops the delivery, neither sent nor failed; true retries', async () => {
      const asked: number[] = [];
      for (const [answer, want] of [[false, { ok: false, stopped: true, requests: 2 }], [true, { ok: true, stopped: undefined, requests: 3 }]] as const) {
        rx.received.length = 0;
        sleeps.length = 0;
        rx.script = [{ status: 503 }, { status: 503 }, { status: 200 }];
        let left = answer ? 2 : 1; // false: the lease is found lost before the second retry
        const n = new Notifier({ receivers: () => undefined, timeoutMs: 5_000, hooks: { sleep: async (ms) => void sleeps.push(ms), random: () => 0 } });
        const o = await n.deliver(sampleDispatch(), 'r', make(rx.url), () => {
          asked.push(rx.received.length);
          return left-- > 0;
        });
        await new Promise((r) => setTimeout(r, 20));
        assert.equal(o?.ok, want.ok);
        assert.equal(o?.stopped, want.stopped);
        assert.equal(rx.received.length, want.requests);
        if (!answer) {
          assert.ok(o?.error instanceof DeliveryStopped);
          assert.equal(o.attempts, 2);
          assert.equal(n.counters.failed.size, 0, 'a stopped delivery is not a failure of the receiver');
        }
      }
      assert.deepEqual(asked, [1, 2, 1, 2], 'asked after each failed attempt, before the next');
    });

    test('request shape: POST JSON to the documented path, body of the documented shape', async () => {
      for (const k of ['firing', 'resolved', 'acknowledge'] as const) {
        rx.received.length = 0;
        rx.script = [];
        const o = await deliver(sampleDispatch(k));
        if (o === undefined) {
          // Only Alertmanager has no acknowledgement, and Slack/webhook still say it.
          assert.equal(`${kind}/${k}`, 'alertmanager/acknowledge');
          continue;
        }
        assert.equal(o.ok, true);
        const r = rx.received[0];
        assert.equal(r.method, 'POST');
        assert.equal(r.url, path);
        assert.match(String(r.headers['content-type']), /^application\/json/);
        assert.notEqual(typeof r.body, 'string', 'the body is JSON');
        assert.deepEqual(validateBody(kind, r.body), [], `${k} body`);
        // The webhook names the notification, so a receiver can drop a repeat (at-least-once delivery).
        if (kind === 'webhook') assert.equal(r.headers['idempotency-key'], sampleDispatch(k).id);
        if (kind === 'pagerduty' && k === 'firing') assert.equal((r.body as { payload: { custom_details: { notification_id: string } } }).payload.custom_details.notification_id, sampleDispatch(k).id);
      }
    });
  });
}
