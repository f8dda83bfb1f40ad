// A real peer: Debian's prometheus-alertmanager, started here on 127.0.0.1, receives Tidemark's
// alerts through its v2 API; the test reads them back from its API, resolves them, and checks
// that Alertmanager itself announces the resolution to its own (local) webhook receiver.
// Skipped with a notice when the binary is absent, unless TIDEMARK_REQUIRE_SERVICES=1.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Dispatch } from '../alert/index.ts';
import { Notifier } from './notifier.ts';
import { sampleDispatch, startReceiver, SAMPLE_ALERT, type LocalReceiver } from './testkit.ts';

const BIN = process.env.TIDEMARK_ALERTMANAGER_BIN ?? '/usr/bin/prometheus-alertmanager';
const present = existsSync(BIN);
if (!present) {
  if (process.env.TIDEMARK_REQUIRE_SERVICES === '1') throw new Error(`${BIN} is required (TIDEMARK_REQUIRE_SERVICES=1) but absent`);
  console.log(`# SKIP alertmanager peer test: ${BIN} not found (apt-get install prometheus-alertmanager)`);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

let am: ChildProcess | undefined;
let amUrl = '';
let dir = '';
let hook: LocalReceiver;
let stderr = '';

before(async () => {
  if (!present) return;
  hook = await startReceiver();
  dir = mkdtempSync(join(tmpdir(), 'tidemark-am-'));
  writeFileSync(join(dir, 'am.yml'), `
route:
  receiver: hook
  group_by: [alertname, region]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: ${hook.url}/am-hook
        send_resolved: true
`);
  const port = await freePort();
  amUrl = `http://127.0.0.1:${port}`;
  am = spawn(BIN, [`--config.file=${join(dir, 'am.yml')}`, `--storage.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address=', '--log.level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
  am.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      if ((await fetch(`${amUrl}/-/ready`)).ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`alertmanager did not become ready: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
});

after(async () => {
  if (!present) return;
  // Alertmanager writes its snapshot into the data dir on SIGTERM: wait for it to exit (at
  // most 10 s, then SIGKILL) before removing the dir, or rmdir races its last write.
  if (am && am.exitCode === null && am.signalCode === null) {
    const exited = new Promise<void>((r) => am!.once('exit', () => r()));
    am.kill('SIGTERM');
    const timer = setTimeout(() => am!.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  await hook.close();
  rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
});

interface AmAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
  status: { state: string };
}

async function amAlerts(): Promise<AmAlert[]> {
  const r = await fetch(`${amUrl}/api/v2/alerts`);
  assert.equal(r.status, 200);
  return (await r.json()) as AmAlert[];
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; alertmanager said: ${stderr.slice(-500)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test('alertmanager v2: receives a firing alert, shows it, and takes its resolution', { skip: !present }, async () => {
  const now = Date.now();
  const firing: Dispatch = { ...sampleDispatch('firing'), receiver: 'legacy-am', alerts: [{ ...SAMPLE_ALERT, startsAt: now - 60_000 }], at: now, validUntil: now + 3_600_000 };
  const notifier = new Notifier({
    receivers: () => new Map([['legacy-am', { name: 'legacy-am', alertmanager: { url: amUrl }, webhook: undefined, slack: undefined, pagerduty: undefined }]]),
  });
  const [sent] = await notifier.send(firing);
  assert.equal(sent.ok, true, sent.error?.message);
  assert.equal(sent.integration, 'alertmanager');

  const [a] = await waitFor('the alert in Alertmanager', async () => {
    const list = (await amAlerts()).filter((x) => x.labels.alertname === 'checkout-error-rate');
    return list.length > 0 ? list : undefined;
  });
  assert.equal(a.status.state, 'active');
  assert.deepEqual(a.labels, { alertname: 'checkout-error-rate', ...SAMPLE_ALERT.labels });
  assert.equal(a.annotations.value, '42.5');
  assert.equal(a.annotations.expected, '10');
  assert.equal(a.annotations.band, '5..15');
  assert.equal(a.annotations.runbook_url, 'https://runbooks.example.com/checkout');
  assert.equal(a.generatorURL, SAMPLE_ALERT.triageUrl);
  assert.equal(Date.parse(a.startsAt), now - 60_000);

  // Alertmanager's own webhook gets it firing.
  await waitFor('the firing notification from Alertmanager', async () => (hook.received.some((r) => (r.body as { status: string }).status === 'firing') ? true : undefined));

  const resolvedAt = Date.now() - 1000;
  const resolved: Dispatch = { ...firing, status: 'resolved', alerts: [{ ...firing.alerts[0], status: 'resolved', endsAt: resolvedAt }], at: Date.now() };
  const [r2] = await notifier.send(resolved);
  assert.equal(r2.ok, true, r2.error?.message);
  await waitFor('the alert to leave the active list', async () => ((await amAlerts()).some((x) => x.labels.alertname === 'checkout-error-rate') ? undefined : true));
  const res = await waitFor('the resolved notification from Alertmanager', async () =>
    hook.received.map((r) => r.body as { status: string; alerts: { status: string; endsAt: string; labels: Record<string, string> }[] }).find((b) => b.status === 'resolved'));
  assert.equal(res.alerts[0].status, 'resolved');
  assert.equal(res.alerts[0].labels.service, 'checkout');
  assert.equal(Date.parse(res.alerts[0].endsAt), resolvedAt);
});

test('alertmanager v2: a malformed alert is a 400, not retried', { skip: !present }, async () => {
  const notifier = new Notifier({
    receivers: () => new Map([['legacy-am', { name: 'legacy-am', alertmanager: { url: amUrl }, webhook: undefined, slack: undefined, pagerduty: undefined }]]),
    hooks: { sleep: async () => undefined },
  });
  // endsAt before startsAt is refused by Alertmanager's validation.
  const bad: Dispatch = { ...sampleDispatch('resolved'), receiver: 'legacy-am', alerts: [{ ...SAMPLE_ALERT, status: 'resolved', startsAt: Date.now(), endsAt: Date.now() - 3_600_000 }] };
  const [o] = await notifier.send(bad);
  assert.equal(o.ok, false);
  assert.equal(o.attempts, 1);
  assert.equal(o.error?.httpStatus, 400);
  assert.equal(o.error?.retryable, false);
});
