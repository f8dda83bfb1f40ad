/**
 * `npm run bench:cluster`: one `tidemark serve --cluster` node and N `tidemark worker`
 * processes on the machine's NATS JetStream and PostgreSQL, against the embedded single
 * process (`tidemark serve` on SQLite) fed by the same generator over HTTP, in the same run.
 *
 * Generator: `series` gauges, rounds of `stepsPerBatch` points per series, each round sent as
 * `groups` JSON batches (disjoint series, sent concurrently, so every series stays in time
 * order). Embedded: done when the last 2xx arrived (it judges before answering). Cluster: done
 * when every partition's messages were applied and checkpointed (the workers trim the stream
 * below their cursors, so the stream is empty). Reported: samples/s, the cluster/embedded
 * ratio, and for 1, 2 and 4 workers samples/s and lease moves (partitions handed over as
 * workers joined, one after another).
 *
 *   node --import tsx src/cluster/cluster.bench.ts [--series 2000] [--steps 100]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { jetstreamManager } from '@nats-io/jetstream';
import { openJetStreamBus } from '../bus/index.ts';
import { reachable, TEST_NATS_URL, uniqueName } from '../bus/testkit.ts';
import { hashToken, openStoreFromUrl } from '../store/index.ts';
import { dropSchemas, TEST_POSTGRES_URL, uniqueSchema } from '../store/pg-testkit.ts';

const BIN = join(import.meta.dirname, '../../bin/tidemark.js');
const TOKEN = 'tmk_bench_cluster_token_0123456789';
const PARTITIONS = 16;

interface Options {
  series: number;
  steps: number;
  stepsPerBatch: number;
  groups: number;
}

const DEFAULTS: Options = { series: 2000, steps: 100, stepsPerBatch: 10, groups: 4 };

class Proc {
  readonly out: string[] = [];
  readonly child: ChildProcess;
  constructor(args: string[], env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    this.child.stdout!.on('data', (b: Buffer) => this.out.push(b.toString()));
    this.child.stderr!.on('data', (b: Buffer) => this.out.push(b.toString()));
  }
  get text(): string {
    return this.out.join('');
  }
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill(signal);
    await exited;
  }
}

async function until(what: string, ok: () => boolean | Promise<boolean>, ms: number, logs: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`bench: timed out waiting for ${what}\n${logs()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The request bodies, prepared before the clock starts: rounds of `groups` bodies. */
function bodies(o: Options, t0: number): string[][] {
  const rounds: string[][] = [];
  const per = Math.ceil(o.series / o.groups);
  for (let from = 0; from < o.steps; from += o.stepsPerBatch) {
    const round: string[] = [];
    for (let g = 0; g < o.groups; g++) {
      const samples: unknown[] = [];
      for (let s = g * per; s < Math.min(o.series, (g + 1) * per); s++) {
        for (let step = from; step < Math.min(o.steps, from + o.stepsPerBatch); step++) {
          samples.push({ metric: 'bench_latency_ms', labels: { service: `svc${s % 10}`, instance: `i${s}` }, t: t0 + step * 15_000, value: 100 + (s % 50) + 5 * Math.sin(step / 10) + ((step * 7919 + s) % 7) * 0.1 });
        }
      }
      round.push(JSON.stringify({ samples }));
    }
    rounds.push(round);
  }
  return rounds;
}

async function feed(url: string, rounds: string[][]): Promise<number> {
  let samples = 0;
  for (const round of rounds) {
    const answers = await Promise.all(round.map(async (body) => {
      for (let attempt = 0; ; attempt++) {
        const res = await fetch(`${url}/api/v1/samples`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(120_000) });
        const text = await res.text();
        if (res.status === 200) return JSON.parse(text) as { accepted: number };
        if (res.status !== 503 || attempt > 20) throw new Error(`bench: ${res.status} ${text.slice(0, 300)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }));
    for (const a of answers) samples += a.accepted;
  }
  return samples;
}

function listening(p: Proc): string | undefined {
  return /listening on (http:\/\/[^\s]+)/.exec(p.text)?.[1];
}

async function embedded(o: Options, rounds: string[][]): Promise<{ samplesPerSec: number; seconds: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'tidemark-bench-embedded-'));
  const p = new Proc(['serve', '--listen', '127.0.0.1:0', '--data', dir], { TIDEMARK_BOOTSTRAP_TOKEN: TOKEN });
  try {
    await until('the embedded server', () => listening(p) !== undefined, 60_000, () => p.text);
    const started = performance.now();
    const samples = await feed(listening(p)!, rounds);
    const seconds = (performance.now() - started) / 1000;
    if (samples !== o.series * o.steps) throw new Error(`bench: embedded accepted ${samples} of ${o.series * o.steps}`);
    return { samplesPerSec: Math.round(samples / seconds), seconds };
  } finally {
    await p.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function cluster(o: Options, rounds: string[][], workers: number): Promise<{ samplesPerSec: number; seconds: number; leaseMoves: number; joinSeconds: number }> {
  const schema = uniqueSchema('tm_bench_');
  const prefix = uniqueName('tmbench');
  const pgUrl = `${TEST_POSTGRES_URL}?schema=${schema}`;
  const dir = mkdtempSync(join(tmpdir(), 'tidemark-bench-node-'));
  const store = await openStoreFromUrl(pgUrl);
  await store.tenants.create({ id: 'default', name: 'default' });
  await store.tokens.create({ tenant: 'default', name: 'bench', role: 'admin', hash: hashToken(TOKEN) });
  await store.close();
  const flags = ['--nats', TEST_NATS_URL, '--postgres', pgUrl, '--prefix', prefix, '--lease-ttl', '3s'];
  const procs: Proc[] = [];
  const logs = () => procs.map((p) => p.text).join('\n---\n');
  const nc = await openJetStreamBus({ url: TEST_NATS_URL, prefix, partitions: PARTITIONS });
  const jsm = await jetstreamManager(nc.nc);
  try {
    const node = new Proc(['serve', '--cluster', ...flags, '--listen', '127.0.0.1:0', '--data', dir]);
    procs.push(node);
    await until('the cluster node', () => listening(node) !== undefined, 60_000, logs);
    // Workers join one after another, as in a rolling start: each join moves partitions.
    const joinStart = performance.now();
    const ws: Proc[] = [];
    const held = () => ws.reduce((n, w) => n + (w.text.match(/took partition/g)?.length ?? 0) - (w.text.match(/(released|lost) partition/g)?.length ?? 0), 0);
    for (let i = 0; i < workers; i++) {
      const w = new Proc(['worker', ...flags, '--id', `w${i}`, '--checkpoint-every', '1s']);
      procs.push(w);
      ws.push(w);
      await until(`worker ${i}`, () => /running/.test(w.text), 60_000, logs);
      const share = Math.ceil(PARTITIONS / (i + 1));
      await until(`worker ${i} takes its share`, () => held() === PARTITIONS && ws.every((x) => (x.text.match(/took partition/g)?.length ?? 0) - (x.text.match(/(released|lost) partition/g)?.length ?? 0) <= share), 60_000, logs);
    }
    const joinSeconds = (performance.now() - joinStart) / 1000;
    const leaseMoves = ws.reduce((n, w) => n + (w.text.match(/(released|lost) partition/g)?.length ?? 0), 0);
    const started = performance.now();
    const samples = await feed(listening(node)!, rounds);
    await until('workers applied and checkpointed everything', async () => (await jsm.streams.info(prefix)).state.messages === 0, 300_000, logs);
    const seconds = (performance.now() - started) / 1000;
    if (samples !== o.series * o.steps) throw new Error(`bench: the cluster accepted ${samples} of ${o.series * o.steps}`);
    return { samplesPerSec: Math.round(samples / seconds), seconds, leaseMoves, joinSeconds };
  } finally {
    for (const p of procs.reverse()) await p.stop();
    await nc.destroy();
    await nc.close();
    await dropSchemas([schema]);
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runClusterBench(opts: Partial<Options> = {}): Promise<object[]> {
  const o = { ...DEFAULTS, ...opts };
  if (!(await reachable(TEST_NATS_URL)) || !(await reachable(TEST_POSTGRES_URL))) {
    process.stdout.write(`cluster bench: skipped: NATS (${TEST_NATS_URL}) or PostgreSQL (${TEST_POSTGRES_URL}) is not reachable\n`);
    return [{ name: 'cluster', skipped: true }];
  }
  const rounds = bodies(o, Date.now() - o.steps * 15_000);
  const log = (s: string) => process.stdout.write(`cluster bench: ${s}\n`);
  log(`${o.series} series x ${o.steps} points = ${o.series * o.steps} samples; ${rounds.length} rounds of ${o.groups} JSON batches; ${PARTITIONS} partitions`);
  const base = await embedded(o, rounds);
  log(`embedded single process: ${base.samplesPerSec} samples/s (${base.seconds.toFixed(1)} s)`);
  const scaling: Record<string, { samplesPerSec: number; leaseMoves: number }> = {};
  let two: Awaited<ReturnType<typeof cluster>> | undefined;
  for (const n of [1, 2, 4]) {
    const r = await cluster(o, rounds, n);
    if (n === 2) two = r;
    scaling[`workers${n}`] = { samplesPerSec: r.samplesPerSec, leaseMoves: r.leaseMoves };
    log(`1 ingest node + ${n} worker(s): ${r.samplesPerSec} samples/s (${r.seconds.toFixed(1)} s to applied and checkpointed), ${r.leaseMoves} lease moves while ${n} worker(s) joined (${r.joinSeconds.toFixed(1)} s)`);
  }
  const ratio = two!.samplesPerSec / base.samplesPerSec;
  log(`ratio (1 ingest node + 2 workers) / embedded = ${ratio.toFixed(2)}`);
  return [{
    name: 'cluster',
    samples: o.series * o.steps,
    series: o.series,
    partitions: PARTITIONS,
    embeddedSamplesPerSec: base.samplesPerSec,
    clusterSamplesPerSec: two!.samplesPerSec,
    ratioVsEmbedded: Number(ratio.toFixed(3)),
    ...Object.fromEntries(Object.entries(scaling).flatMap(([k, v]) => [[`${k}SamplesPerSec`, v.samplesPerSec], [`${k}LeaseMoves`, v.leaseMoves]])),
  }];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { series: { type: 'string' }, steps: { type: 'string' } } });
  const r = await runClusterBench({ ...(values.series && { series: Number(values.series) }), ...(values.steps && { steps: Number(values.steps) }) });
  for (const x of r) process.stdout.write(`BENCH ${JSON.stringify(x)}\n`);
}
