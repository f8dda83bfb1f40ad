// The real `tidemark serve` process: first start, config reload on SIGHUP, kill -9 mid-ingest
// and restart (every acknowledged sample, change event and config version is there, and the
// detectors resume from their checkpoint), and a clean SIGTERM shutdown.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openSqliteStore } from '../../store/index.ts';

const BIN = join(import.meta.dirname, '../../../bin/tidemark.js');
const TOKEN = 'tmk_test_bootstrap_token_0123456789';
const dir = mkdtempSync(join(tmpdir(), 'tidemark-serve-'));
// A failed assertion must not leave a server running: its pipes would keep this file's
// process (and the test run) alive.
const procs: ChildProcess[] = [];
after(() => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

interface Server {
  proc: ChildProcess;
  url: string;
  out: string[];
  exited: Promise<number | null>;
}

/** Starts `tidemark serve` on a free port and waits for its "listening" line (bounded). */
async function start(extra: string[] = []): Promise<Server> {
  const proc = spawn(process.execPath, [BIN, 'serve', '--data', join(dir, 'data'), '--listen', '127.0.0.1:0', '--checkpoint-every', '300ms', ...extra], {
    env: { ...process.env, TIDEMARK_BOOTSTRAP_TOKEN: TOKEN },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  procs.push(proc);
  const out: string[] = [];
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start in 15 s:\n${out.join('')}`)), 15_000);
    const onData = (b: Buffer) => {
      out.push(b.toString());
      const m = /listening on (http:\/\/[^\s]+)/.exec(out.join(''));
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', (b: Buffer) => out.push(b.toString()));
    proc.once('exit', () => reject(new Error(`serve exited early:\n${out.join('')}`)));
  });
  return { proc, url, out, exited };
}

async function api(s: Server, method: string, path: string, body?: unknown, type = 'application/json') {
  const res = await fetch(s.url + path, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body !== undefined && { 'content-type': type }) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  return { status: res.status, json: (await res.json().catch(() => ({}))) as Record<string, any>, text: '' };
}

const T0 = 1_700_000_000_000;
const STEP = 60_000;
const SERIES = ['auth', 'cart', 'search'];
const value = (i: number, s: number) => 100 + s * 10 + 5 * Math.sin(i / 20) + ((i * 31 + s * 7) % 5) * 0.3;
const CONFIG = (v: string) => `tenant: default\nlimits:\n  active_series: ${v}\n`;

describe('tidemark serve', () => {
  it('survives kill -9 mid-ingest: acknowledged data is kept and detectors resume from the checkpoint', async () => {
    const configFile = join(dir, 'tidemark.yaml');
    writeFileSync(configFile, CONFIG('1000'));
    let s = await start(['--config', configFile]);
    assert.match(s.out.join(''), /created tenant "default" and an admin token/);
    assert.equal(readFileSync(join(dir, 'data', 'admin-token'), 'utf8').trim(), TOKEN);
    assert.equal(statSync(join(dir, 'data', 'admin-token')).mode & 0o777, 0o600);
    assert.equal((await api(s, 'GET', '/api/v1/config')).json.data.version, 1);

    // SIGHUP reloads the file as version 2.
    writeFileSync(configFile, CONFIG('2000'));
    s.proc.kill('SIGHUP');
    for (let i = 0; i < 50 && (await api(s, 'GET', '/api/v1/config')).json.data.version !== 2; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal((await api(s, 'GET', '/api/v1/config')).json.data.version, 2);

    // Ingest: acknowledged batches are remembered; the checkpoint timer runs meanwhile.
    const acked = new Map<string, Set<number>>(SERIES.map((x) => [x, new Set()]));
    const ackedChanges: string[] = [];
    const send = async (from: number, n: number) => {
      const samples = [];
      for (let i = from; i < from + n; i++) for (const [si, service] of SERIES.entries()) samples.push({ metric: 'latency_ms', labels: { service }, t: T0 + i * STEP, value: value(i, si) });
      const r = await api(s, 'POST', '/api/v1/samples', { samples });
      if (r.status === 200) for (let i = from; i < from + n; i++) for (const x of SERIES) acked.get(x)!.add(T0 + i * STEP);
    };
    for (let i = 0; i < 600; i += 50) await send(i, 50);
    for (let k = 0; k < 3; k++) {
      const r = await api(s, 'POST', '/api/v1/changes', { kind: 'deploy', service: 'auth', t: T0 + k * STEP, text: `deploy ${k}`, id: `d${k}` });
      if (r.status === 201) ackedChanges.push(`deploy ${k}`);
    }
    await new Promise((r) => setTimeout(r, 700)); // at least one checkpoint of 600 points
    // Fire more batches and kill -9 while they are in flight.
    const inflight = [];
    for (let i = 600; i < 800; i += 10) inflight.push(send(i, 10).catch(() => undefined));
    await new Promise((r) => setTimeout(r, 30));
    s.proc.kill('SIGKILL');
    await Promise.all(inflight);
    await s.exited;
    const ackedCount = [...acked.values()].reduce((n, x) => n + x.size, 0);
    assert.ok(ackedCount >= 600 * 3, `acknowledged ${ackedCount}`);

    // Restart: everything acknowledged is there.
    s = await start(['--config', configFile]);
    assert.doesNotMatch(s.out.join(''), /created tenant/, 'the bootstrap runs once');
    // Newest stored point per series: batches in flight at the kill may be stored unacknowledged.
    const newest = new Map<string, number>();
    for (const [si, service] of SERIES.entries()) {
      const ts = [...acked.get(service)!].sort((a, b) => a - b);
      // The whole range sent (i < 800), so that points stored beyond the newest acknowledged
      // one count for `newest` too.
      const r = await api(s, 'GET', `/api/v1/query?query=${encodeURIComponent(`latency_ms{service="${service}"}[1001m]`)}&time=${(T0 + 1000 * STEP) / 1000}`);
      const stored = new Map<number, string>((r.json.data.result[0]?.values ?? []).map(([t, v]: [number, string]) => [t * 1000, v]));
      for (const t of ts) assert.equal(stored.get(t), String(value((t - T0) / STEP, si)), `${service} at ${t}`);
      newest.set(service, Math.max(...stored.keys()));
    }
    const ch = await api(s, 'GET', `/api/v1/changes?from=${T0}&to=${T0 + 10 * STEP}`);
    for (const text of ackedChanges) assert.ok(ch.json.data.some((e: { text: string }) => e.text === text), text);
    assert.equal((await api(s, 'GET', '/api/v1/config')).json.data.version, 2, 'the same file again is not a new version');

    // The next point resumes from the checkpoint (plus the log after it), not from nothing.
    // After the newest stored one, not the newest acknowledged: one older than a stored point
    // beyond the out-of-order tolerance is rightly refused as too old.
    const next = newest.get('auth')! + STEP;
    const r = await api(s, 'POST', '/api/v1/samples', { samples: [{ metric: 'latency_ms', labels: { service: 'auth' }, t: next, value: value((next - T0) / STEP, 0) }] });
    assert.equal(r.status, 200);
    const metrics = await (await fetch(s.url + '/metrics')).text();
    assert.match(metrics, /tidemark_series_restored\{origin="checkpoint"\} 1/);
    const band = await api(s, 'GET', `/api/v1/query?query=${encodeURIComponent('tidemark_expected{metric="latency_ms",service="auth"}')}&time=${next / 1000}`);
    assert.ok(Number.isFinite(Number(band.json.data.result[0]?.value[1])), 'a learned band for the first point after the restart');

    // SIGTERM: a clean stop that checkpoints and closes the store.
    s.proc.kill('SIGTERM');
    assert.equal(await s.exited, 0);
    assert.match(s.out.join(''), /SIGTERM: flushing, checkpointing and closing[\s\S]*stopped/);
    const store = await openSqliteStore({ dataDir: join(dir, 'data') });
    const audit = await store.audit.list({ tenant: 'default', action: 'config.put' });
    assert.equal(audit.length, 2);
    assert.match(audit[0].diff ?? '', /-  active_series: 1000\n\+  active_series: 2000/);
    await store.close();
  });
});
