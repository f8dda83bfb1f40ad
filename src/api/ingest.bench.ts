/**
 * Remote-write ingest benchmark, detection and durability on, against a real `tidemark serve`
 * child process (so the server's CPU time is measured apart from the load generator's).
 *
 * Load: Prometheus-sized requests of 2,000 samples (one per series) over `series` series with
 * 6 labels each, rounds of one sample per series 15 s apart in sample time, `concurrency`
 * requests in flight. The first `warmRounds` rounds are untimed (series creation, then enough
 * points that every series' detectors judge rather than learn); then load runs for `seconds`.
 * Reported: samples/s (wall), samples per server CPU-second ("per core"), p99 request latency,
 * and server CPU-seconds per sample. The same generator then runs against
 * Debian's Prometheus with --web.enable-remote-write-receiver for a ratio.
 *
 * Memory: `memorySeries` series are created (one sample each, plus a second round so their
 * detectors hold state), then the server's resident set size is read from /proc.
 *
 *   node --import tsx src/api/ingest.bench.ts [--seconds 60] [--series 100000] [--memory-series 1000000] [--slice-seconds 10] [--idle-seconds 15] [--warm-rounds 160]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { compress } from 'snappyjs';

const BIN = join(import.meta.dirname, '../../bin/tidemark.js');
const TOKEN = 'tmk_bench_token_0123456789abcdef';
const BATCH = 2000;
const STEP_MS = 15_000;

export interface IngestBenchOptions {
  seconds: number;
  series: number;
  concurrency: number;
  memorySeries: number;
  prometheusSeconds: number;
  /** Print p99, CPU and the server's event-loop delay per slice of this many seconds (0: none). */
  sliceSeconds: number;
  /** After the memory load, wait this long without requests and read the RSS again (0: don't). */
  idleSeconds: number;
  /**
   * Untimed rounds before the timed load (at least 1: series creation). The default takes every
   * series past the default profile's novelty window (128 points), so the timed load measures
   * detectors that judge and bands that are stored, not detectors still learning.
   */
  warmRounds: number;
}

const DEFAULTS: IngestBenchOptions = { seconds: 60, series: 100_000, concurrency: 4, memorySeries: 1_000_000, prometheusSeconds: 20, sliceSeconds: 10, idleSeconds: 15, warmRounds: 160 };

/** One 2,000-series WriteRequest with slots for timestamps and values, patched per round. */
export class Template {
  readonly buf: Buffer;
  readonly tOff: Int32Array;
  readonly vOff: Int32Array;
  constructor(first: number, count: number) {
    const parts: Buffer[] = [];
    const tOff = new Int32Array(count);
    const vOff = new Int32Array(count);
    let pos = 0;
    for (let i = 0; i < count; i++) {
      const s = first + i;
      const labels: [string, string][] = [
        ['__name__', `bench_metric_${s % 100}`],
        ['cluster', `c${s % 3}`],
        ['instance', `10.0.${(s >> 8) & 255}.${s & 255}:9100`],
        ['job', `job_${s % 10}`],
        ['pod', `pod-${Math.floor(s / 100)}`],
        ['series', String(s)],
      ];
      const lab = Buffer.concat(labels.map(([n, v]) => field(1, Buffer.concat([field(1, Buffer.from(n)), field(2, Buffer.from(v))]))));
      // Sample { double value = 1; int64 timestamp = 2 }: 1 + 8 + 1 + 6 bytes (ms timestamps < 2^41 are 6-byte varints).
      const sample = Buffer.alloc(16);
      sample[0] = 0x09;
      sample[9] = 0x10;
      const smp = field(2, sample);
      const ts = Buffer.concat([lab, smp]);
      const head = Buffer.concat([Buffer.from([0x0a]), varint(ts.length)]);
      const sampleStart = pos + head.length + lab.length + 2; // after the sample's tag and length
      vOff[i] = sampleStart + 1;
      tOff[i] = sampleStart + 10;
      parts.push(head, ts);
      pos += head.length + ts.length;
    }
    this.buf = Buffer.concat(parts);
    this.tOff = tOff;
    this.vOff = vOff;
  }
  /** The snappy body for one round (timestamp `t`, values from `round`). */
  body(t: number, round: number): Buffer {
    const b = this.buf;
    for (let i = 0; i < this.tOff.length; i++) {
      b.writeDoubleLE(100 + ((i * 7 + round * 13) % 17) + 10 * Math.sin(round / 30 + i), this.vOff[i]);
      let v = t;
      let o = this.tOff[i];
      for (let k = 0; k < 5; k++) {
        b[o++] = (v % 128) | 0x80;
        v = Math.floor(v / 128);
      }
      b[o] = v;
    }
    return compress(b);
  }
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}

function field(num: number, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from([(num << 3) | 2]), varint(payload.length), payload]);
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** utime + stime of a process in seconds. */
function cpuSeconds(pid: number): number {
  const [user, sys] = cpuSplit(pid);
  return user + sys;
}

/** [utime, stime] of a process in seconds: kernel time is mostly the writes of the logs and the database. */
function cpuSplit(pid: number): [number, number] {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return [Number(rest[11]) / 100, Number(rest[12]) / 100]; // USER_HZ is 100 on Linux
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

async function waitHttp(url: string, ms: number): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (r.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > until) throw new Error(`${url} did not come up in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

interface LoadResult {
  samples: number;
  seconds: number;
  cpuSeconds: number;
  p99Ms: number;
  p50Ms: number;
  /** Kernel part of cpuSeconds. */
  sysSeconds: number;
  errors: number;
  firstError: string;
}

/** Sends rounds of the templates to `url` until `seconds` pass (after `warmRounds` untimed rounds). */
async function load(url: string, headers: Record<string, string>, templates: Template[], pid: number, seconds: number, concurrency: number, warmRounds: number, t0: number, sliceMs = 0, sliceMetrics?: string): Promise<LoadResult> {
  const log = (s: string) => process.stdout.write(s + '\n');
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const u = new URL(url);
  const post = (body: Buffer) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent, headers: { ...headers, 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0', 'content-length': body.length } }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      req.end(body);
    });
  let round = 0;
  let next = 0;
  const bodyFor = () => {
    const b = templates[next].body(t0 + round * STEP_MS, round);
    if (++next === templates.length) {
      next = 0;
      round++;
    }
    return b;
  };
  // Warm-up: series creation.
  while (round < warmRounds) {
    const batch = [];
    for (let i = 0; i < concurrency && round < warmRounds; i++) batch.push(post(bodyFor()));
    for (const r of await Promise.all(batch)) if (r.status >= 300) throw new Error(`warm-up answered ${r.status}: ${r.text.slice(0, 300)}`);
  }
  const lat: number[] = [];
  let samples = 0;
  let errors = 0;
  let firstError = '';
  const cpu0 = cpuSeconds(pid);
  const sys0 = cpuSplit(pid)[1];
  const start = performance.now();
  const end = start + seconds * 1000;
  // Per-slice figures, so a run whose latency grows over time shows it (an extra log line per slice).
  const slice = { lat: [] as number[], samples: 0, cpu: cpu0, at: start };
  const endSlice = async () => {
    const now = performance.now();
    const cpu = cpuSeconds(pid);
    const sl = slice.lat.sort((a, b) => a - b);
    const sampled = slice.samples;
    const from = slice.at;
    const cpuFrom = slice.cpu;
    slice.lat = [];
    slice.samples = 0;
    slice.cpu = cpu;
    slice.at = now;
    const q = (f: number) => (sl[Math.min(sl.length - 1, Math.floor(sl.length * f))] ?? NaN).toFixed(1);
    let server = '';
    if (sliceMetrics !== undefined) {
      try {
        const m = await (await fetch(sliceMetrics, { signal: AbortSignal.timeout(5000) })).text();
        const g = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(m)?.[1] ?? NaN);
        server = `, server event-loop delay p99 ${(1000 * g('tidemark_process_nodejs_eventloop_lag_p99_seconds')).toFixed(1)} ms max ${(1000 * g('tidemark_process_nodejs_eventloop_lag_max_seconds')).toFixed(1)} ms, heap ${(g('tidemark_process_nodejs_heap_size_used_bytes') / 2 ** 20).toFixed(0)} MiB, checkpoints written ${g('tidemark_checkpoints_written')}`;
      } catch (err) {
        server = `, /metrics failed: ${(err as Error).message}`;
      }
    }
    log(`  slice ${((from - start) / 1000).toFixed(0)}-${((now - start) / 1000).toFixed(0)} s: ${sl.length} requests, ${Math.round(sampled / (cpu - cpuFrom)).toLocaleString('en-US')} samples per server CPU-second, p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${q(1)} ms${server}`);
  };
  const sliceTimer = sliceMs > 0 ? setInterval(() => void endSlice(), sliceMs) : undefined;
  const worker = async () => {
    while (performance.now() < end) {
      const body = bodyFor();
      const t = performance.now();
      const r = await post(body);
      const ms = performance.now() - t;
      lat.push(ms);
      slice.lat.push(ms);
      if (r.status < 300) {
        samples += BATCH;
        slice.samples += BATCH;
      } else if (errors++ === 0) firstError = `${r.status} ${r.text.slice(0, 300)}`;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const wall = (performance.now() - start) / 1000;
  const cpu = cpuSeconds(pid) - cpu0;
  const sys = cpuSplit(pid)[1] - sys0;
  if (sliceTimer !== undefined) {
    clearInterval(sliceTimer);
    if (slice.lat.length > 0) await endSlice();
  }
  agent.destroy();
  lat.sort((a, b) => a - b);
  return { samples, seconds: wall, cpuSeconds: cpu, p99Ms: lat[Math.floor(lat.length * 0.99)] ?? NaN, p50Ms: lat[Math.floor(lat.length / 2)] ?? NaN, errors, firstError, sysSeconds: sys };
}

async function startTidemark(dir: string, config?: string, heapMb?: number): Promise<{ proc: ChildProcess; base: string }> {
  const port = await freePort();
  const args = [BIN, 'serve', '--data', join(dir, 'data'), '--listen', `127.0.0.1:${port}`];
  if (config) {
    writeFileSync(join(dir, 'bench.yaml'), config);
    args.push('--config', join(dir, 'bench.yaml'));
  }
  // TIDEMARK_BENCH_NODE_ARGS: extra node flags for the server (e.g. --cpu-prof) when profiling.
  const extra = (process.env.TIDEMARK_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  // TIDEMARK_BENCH_SERVER_OUT: a file for the server's stdout (e.g. with --trace-gc in TIDEMARK_BENCH_NODE_ARGS).
  const outPath = process.env.TIDEMARK_BENCH_SERVER_OUT;
  const out = outPath ? openSync(outPath, 'a') : 'ignore';
  const proc = spawn(process.execPath, [...extra, ...(heapMb ? [`--max-old-space-size=${heapMb}`] : []), ...args], { env: { ...process.env, TIDEMARK_BOOTSTRAP_TOKEN: TOKEN }, stdio: ['ignore', out, 'inherit'] });
  if (typeof out === 'number') closeSync(out);
  const base = `http://127.0.0.1:${port}`;
  await waitHttp(`${base}/readyz`, 20_000);
  return { proc, base };
}

async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null) return;
  const done = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  const t = setTimeout(() => proc.kill('SIGKILL'), 30_000);
  await done;
  clearTimeout(t);
}

/** Runs the benchmark; returns the two BENCH records (and prints them as it goes). */
export async function runIngestBench(options: Partial<IngestBenchOptions> = {}): Promise<Record<string, unknown>[]> {
  const o = { ...DEFAULTS, ...options };
  const log = (s: string) => process.stdout.write(s + '\n');
  const dir = mkdtempSync(join(tmpdir(), 'tidemark-ingest-bench-'));
  const out: Record<string, unknown>[] = [];
  try {
    const t0 = Date.now() - 30 * 86400_000; // sample time: a month ago, 15 s apart per round
    const warmRounds = Math.max(1, o.warmRounds);
    log(`ingest bench: ${o.series.toLocaleString('en-US')} series, ${BATCH}-sample requests, ${o.concurrency} in flight, ${o.seconds} s after ${warmRounds} untimed rounds`);
    const templates: Template[] = [];
    for (let s = 0; s < o.series; s += BATCH) templates.push(new Template(s, Math.min(BATCH, o.series - s)));

    const tm = await startTidemark(dir);
    const r = await load(`${tm.base}/api/v1/write`, { authorization: `Bearer ${TOKEN}` }, templates, tm.proc.pid!, o.seconds, o.concurrency, warmRounds, t0, o.sliceSeconds * 1000, `${tm.base}/metrics`);
    const metrics = await (await fetch(`${tm.base}/metrics`)).text();
    // How far the WAL got ahead of its checkpoints under sustained load.
    const walBytes = (() => {
      try {
        return statSync(join(dir, 'data', 'tidemark.db-wal')).size;
      } catch {
        return NaN;
      }
    })();
    await stop(tm.proc);
    const perCore = r.samples / r.cpuSeconds;
    log(`tidemark: ${Math.round(r.samples / r.seconds).toLocaleString('en-US')} samples/s wall, ${Math.round(perCore).toLocaleString('en-US')} samples per server CPU-second, ` +
      `${(r.cpuSeconds / r.seconds).toFixed(2)} cores busy, p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms, ${(1e6 * r.cpuSeconds / r.samples).toFixed(2)} server CPU-µs per sample (${(1e6 * r.sysSeconds / r.samples).toFixed(2)} in the kernel), ${r.errors} errors ${r.firstError}`);
    const detect = /tidemark_detector_seconds_per_sample_sum (\S+)\ntidemark_detector_seconds_per_sample_count (\S+)/.exec(metrics);
    if (detect) log(`tidemark: engine pass per sample (mean of batch means) ${(1e6 * Number(detect[1]) / Number(detect[2])).toFixed(2)} µs`);
    const store = /tidemark_store_write_seconds_sum (\S+)\ntidemark_store_write_seconds_count (\S+)/.exec(metrics);
    if (store) log(`tidemark: store write per batch (mean) ${(1000 * Number(store[1]) / Number(store[2])).toFixed(1)} ms, WAL file ${(walBytes / 2 ** 20).toFixed(1)} MiB at the end`);

    let ratio: number | null = null;
    if (spawnSync('prometheus', ['--version']).status === 0) {
      const port = await freePort();
      writeFileSync(join(dir, 'prometheus.yml'), 'global:\n  scrape_interval: 1m\n');
      const prom = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'prom')}`, `--web.listen-address=127.0.0.1:${port}`, '--web.enable-remote-write-receiver'], { stdio: 'ignore' });
      await waitHttp(`http://127.0.0.1:${port}/-/ready`, 20_000);
      const p = await load(`http://127.0.0.1:${port}/api/v1/write`, {}, templates, prom.pid!, o.prometheusSeconds, o.concurrency, 1, t0);
      await stop(prom);
      const promPerCore = p.samples / p.cpuSeconds;
      ratio = perCore / promPerCore;
      log(`prometheus: ${Math.round(p.samples / p.seconds).toLocaleString('en-US')} samples/s wall, ${Math.round(promPerCore).toLocaleString('en-US')} samples per CPU-second, p99 ${p.p99Ms.toFixed(1)} ms, ${p.errors} errors ${p.firstError} (${o.prometheusSeconds} s)`);
    } else log('prometheus: binary absent, no ratio');
    const rw = { name: 'ingest.remote_write', samples_per_s_per_core: Math.round(perCore), samples_per_s_wall: Math.round(r.samples / r.seconds), p99_ms: Number(r.p99Ms.toFixed(1)), ratio_vs_prometheus: ratio === null ? null : Number(ratio.toFixed(3)), cpu_us_per_sample: Number((1e6 * r.cpuSeconds / r.samples).toFixed(3)), seconds: Number(r.seconds.toFixed(1)), warm_rounds: warmRounds };
    log(`BENCH ${JSON.stringify(rw)}`);
    out.push(rw);

    if (o.memorySeries > 0) {
      rmSync(join(dir, 'data'), { recursive: true, force: true });
      const config = `tenant: default\nlimits:\n  active_series: ${o.memorySeries}\n  label_values_per_metric: ${o.memorySeries}\n`;
      const mem = await startTidemark(dir, config, 12_000);
      const big: Template[] = [];
      for (let s = 0; s < o.memorySeries; s += BATCH) big.push(new Template(s, Math.min(BATCH, o.memorySeries - s)));
      const started = Date.now();
      // Two rounds: every series interned and its detector state holding two points.
      await load(`${mem.base}/api/v1/write`, { authorization: `Bearer ${TOKEN}` }, big, mem.proc.pid!, 0, o.concurrency, 2, t0);
      const m = await (await fetch(`${mem.base}/metrics`)).text();
      const active = Number(/tidemark_active_series\{tenant="default"\} (\d+)/.exec(m)?.[1] ?? NaN);
      const rss = rssBytes(mem.proc.pid!);
      const loadSeconds = Math.round((Date.now() - started) / 1000);
      const heap = (text: string) => {
        const g = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) / 2 ** 20;
        return `V8 heap ${g('tidemark_process_nodejs_heap_size_used_bytes').toFixed(0)} MiB used of ${g('tidemark_process_nodejs_heap_size_total_bytes').toFixed(0)} MiB, external ${g('tidemark_process_nodejs_external_memory_bytes').toFixed(0)} MiB`;
      };
      log(`memory: right after the load: RSS ${(rss / 2 ** 30).toFixed(2)} GiB, ${heap(m)}`);
      // The same server after `idleSeconds` without requests: what V8 gives back once the burst is over.
      let rssIdle = NaN;
      if (o.idleSeconds > 0) {
        await new Promise((r) => setTimeout(r, o.idleSeconds * 1000));
        const mi = await (await fetch(`${mem.base}/metrics`)).text();
        rssIdle = rssBytes(mem.proc.pid!);
        log(`memory: after ${o.idleSeconds} s idle: RSS ${(rssIdle / 2 ** 30).toFixed(2)} GiB, ${heap(mi)}`);
      }
      await stop(mem.proc);
      const rec = { name: 'series.memory', active_series: active, rss_bytes: rss, bytes_per_series: Math.round(rss / active), rss_idle_bytes: Number.isNaN(rssIdle) ? null : rssIdle, load_seconds: loadSeconds };
      log(`memory: ${active.toLocaleString('en-US')} active series in ${(rss / 2 ** 30).toFixed(2)} GiB RSS (${rec.bytes_per_series} bytes per series), loaded in ${rec.load_seconds} s`);
      log(`BENCH ${JSON.stringify(rec)}`);
      out.push(rec);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { seconds: { type: 'string' }, series: { type: 'string' }, 'memory-series': { type: 'string' }, concurrency: { type: 'string' }, 'prometheus-seconds': { type: 'string' }, 'slice-seconds': { type: 'string' }, 'idle-seconds': { type: 'string' }, 'warm-rounds': { type: 'string' } }, strict: true });
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  await runIngestBench({
    ...(values.seconds && { seconds: num(values.seconds) }),
    ...(values.series && { series: num(values.series) }),
    ...(values['memory-series'] !== undefined && { memorySeries: num(values['memory-series']) }),
    ...(values.concurrency && { concurrency: num(values.concurrency) }),
    ...(values['prometheus-seconds'] && { prometheusSeconds: num(values['prometheus-seconds']) }),
    ...(values['slice-seconds'] !== undefined && { sliceSeconds: num(values['slice-seconds']) }),
    ...(values['idle-seconds'] !== undefined && { idleSeconds: num(values['idle-seconds']) }),
    ...(values['warm-rounds'] !== undefined && { warmRounds: num(values['warm-rounds']) }),
  });
}
