// The real `tidemark serve --config FILE`: the file's `alerting:` budget holds notifications back
// and sends exactly one summary; SIGHUP reloads the file and the new budget applies. A local
// HTTP receiver stands in for the team's webhook. Wall clock, so waits are bounded polls.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { startReceiver, type LocalReceiver } from '../../notify/testkit.ts';

const BIN = join(import.meta.dirname, '../../../bin/tidemark.js');
const TOKEN = 'tmk_test_bootstrap_token_alerting_0123';
const dir = mkdtempSync(join(tmpdir(), 'tidemark-serve-alerting-'));
let proc: ChildProcess | undefined;
let rx: LocalReceiver | undefined;
after(async () => {
  if (proc && proc.exitCode === null) {
    const exited = new Promise((r) => proc!.once('exit', r));
    proc.kill('SIGTERM');
    await exited;
  }
  await rx?.close();
  rmSync(dir, { recursive: true, force: true });
});

function config(url: string, notificationsPerHour: number): string {
  return `tenant: default
metrics:
  - { name: latency, type: gauge, unit: s, labels: [service] }
receivers:
  - name: chat
    webhook: { url: '${url}/chat' }
rules:
  - name: latency-high
    selector: latency
    aggregation: { function: avg, window: 1m }
    detectors: [{ name: threshold, config: { above: 50 } }]
    severity: S1
    owner: team-a
    receiver: chat
    group_by: [service]
    timing: { group_wait: 0s, group_interval: 1m }
alerting:
  budgets:
    tenant: { notifications_per_hour: ${notificationsPerHour} }
    summary_delay: 0s
`;
}

async function waitFor(what: string, ok: () => boolean | Promise<boolean>, out: string[]): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}:\n${out.join('')}`);
}

type Body = { kind: string; text: string | null; groupLabels: Record<string, string> };

test('serve --config applies the alerting budget, and SIGHUP reloads it', async () => {
  rx = await startReceiver({ status: 200, body: 'ok' });
  const file = join(dir, 'tidemark.yaml');
  writeFileSync(file, config(rx.url, 1));
  proc = spawn(process.execPath, [BIN, 'serve', '--data', join(dir, 'data'), '--listen', '127.0.0.1:0', '--config', file], {
    env: { ...process.env, TIDEMARK_BOOTSTRAP_TOKEN: TOKEN },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: string[] = [];
  proc.stdout!.on('data', (b: Buffer) => out.push(b.toString()));
  proc.stderr!.on('data', (b: Buffer) => out.push(b.toString()));
  await waitFor('listening', () => /listening on http/.test(out.join('')), out);
  const url = /listening on (http:\/\/[^\s]+)/.exec(out.join(''))![1];
  const api = (method: string, path: string, body?: unknown) => fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  const spike = async (services: string[]) => {
    const t = Date.now() - 1000;
    const res = await api('POST', '/api/v1/samples', { samples: services.map((service) => ({ metric: 'latency', labels: { service }, t, value: 100 })) });
    assert.equal(res.status, 200, await res.text());
  };
  const bodies = () => rx!.received.filter((x) => x.url === '/chat').map((x) => x.body as Body);

  // Three groups fire at once; the YAML budget allows one notification an hour.
  await spike(['a', 'b', 'c']);
  await waitFor('a notification and a summary', () => bodies().some((b) => b.kind === 'summary'), out);
  await new Promise((r) => setTimeout(r, 500)); // anything else would have arrived by now
  assert.equal(bodies().filter((b) => b.kind === 'notify').length, 1, JSON.stringify(bodies()));
  const summaries = bodies().filter((b) => b.kind === 'summary');
  assert.equal(summaries.length, 1);
  assert.match(summaries[0].text ?? '', /^2 more alerts held: tenant default is over its budget of \d+ pages and 1 notifications per hour/);

  // SIGHUP: the file now allows 10 an hour; three new groups all notify, with no summary.
  writeFileSync(file, config(rx.url, 10));
  proc.kill('SIGHUP');
  await waitFor('the reload', () => /stored as version 2/.test(out.join('')), out);
  const before = bodies().length;
  await spike(['d', 'e', 'f']);
  await waitFor('three notifications', () => bodies().slice(before).filter((b) => b.kind === 'notify').length >= 3, out);
  await new Promise((r) => setTimeout(r, 500));
  // A triage update may follow a page that went out before its packet was built: not a notification of its own.
  const later = bodies().slice(before).filter((b) => b.kind !== 'update');
  assert.deepEqual(later.map((b) => b.kind), ['notify', 'notify', 'notify'], JSON.stringify(later));
  assert.deepEqual(later.map((b) => b.groupLabels.service).sort(), ['d', 'e', 'f']);
});
