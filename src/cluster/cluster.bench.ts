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
 * workers joined, one after another); for each setup also the CPU time per sample of every
 * component (each Node process, this run's PostgreSQL backends found by application_name,
 * the rest of PostgreSQL, NATS, the generator, the whole machine) and the rows each table
 * took, because on a shared machine the rates move with the other jobs and these do not.
 * 300 points per series (600,000 samples) by default: at 100 the embedded run lasted under a
 * second on an idle machine, and the cluster's one-second checkpoint tail weighed on its rate.
 *
 *   node --import tsx src/cluster/cluster.bench.ts [--series 2000] [--steps 300] [--workers 1,2,4]
 *
 * TIDEMARK_BENCH_CPU_PROFILE=DIR writes a V8 CPU profile of every process (cluster node and
 * workers, and the embedded process) into DIR, to see where a component's CPU time per sample goes.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { jetstreamManager } from '@nats-io/jetstream';
import { openJetStreamBus } from '../bus/index.ts';
import { reachable, TEST_NATS_URL, uniqueName } from '../bus/testkit.ts';
import { hashToken, openStoreFromUrl } from '../store/index.ts';
import { createPool } from '../store/postgres.ts';
import { dropSchemas, TEST_POSTGRES_URL, uniqueSchema } from '../store/pg-testkit.ts';
import { CliProc, waitFor } from './testkit.ts';

const TOKEN = 'tmk_bench_cluster_token_0123456789';
const PARTITIONS = 16;

interface Options {
  /** Worker counts to measure, in order (the ratio needs 2). */
  workers: number[];
  series: number;
  steps: number;
  stepsPerBatch: number;
  groups: number;
}

const DEFAULTS: Options = { workers: [1, 2, 4], series: 2000, steps: 300, stepsPerBatch: 10, groups: 4 };

// ---------------------------------------------------------------------------------------
// CPU accounting: where the machine's CPU time went while samples were measured. Wall-clock
// rates on a shared 2-core machine swing with the other jobs; CPU time per sample of each
// component (Node processes, their PostgreSQL backends, NATS) does not, and says which one
// would saturate first.

/** Kernel clock ticks per second for /proc's utime and stime (USER_HZ, 100 on Linux). */
const TICK_MS = 10;

/** utime + stime of a process in ms, or undefined when it is gone (or not Linux). */
function cpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * TICK_MS;
  } catch {
    return undefined;
  }
}

/** How often the kernel took the CPU away from a process that still wanted it (a sign of more runnable work than cores). */
function preemptions(pid: number): number {
  try {
    return Number(/nonvoluntary_ctxt_switches:\s*(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** CPU ms of every process whose command name is `comm` (all PostgreSQL processes, say). */
function cpuOfCommand(comm: string): Map<number, number> {
  const out = new Map<number, number>();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  for (const d of pids) {
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) !== comm) continue;
      const ms = cpuMs(Number(d));
      if (ms !== undefined) out.set(Number(d), ms);
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** Busy and total CPU ms of the whole machine (all cores), from /proc/stat. */
function machineMs(): { busy: number; total: number } {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
    const total = f.reduce((a, b) => a + b, 0);
    return { busy: (total - f[3] - f[4]) * TICK_MS, total: total * TICK_MS };
  } catch {
    return { busy: NaN, total: NaN };
  }
}

interface CpuSnapshot {
  readonly procs: Map<number, number>;
  readonly backends: Map<number, number>;
  readonly postgres: Map<number, number>;
  readonly nats: Map<number, number>;
  readonly machine: { busy: number; total: number };
  readonly self: number;
  /** Preemptions of this run's own processes, summed. */
  readonly preempted: number;
}

/** CPU time per sample, per component, over a measured window. */
export interface CpuFigures {
  /** CPU µs per sample of each component; `pgBackends` are the backends of this run's processes. */
  readonly usPerSample: Record<string, number>;
  /** Busy share of the whole machine (1 = every core busy the whole window). */
  readonly machineBusy: number;
  /** Preemptions of this run's Node processes per 1,000 samples. */
  readonly preemptedPer1000: number;
}

/** PostgreSQL backends whose application_name starts with `appPrefix`, with their CPU ms. */
async function backendsOf(appPrefix: string): Promise<Map<number, number>> {
  const pool = createPool(TEST_POSTGRES_URL, 'public', { poolSize: 1 });
  try {
    const { rows } = await pool.query('SELECT pid FROM pg_stat_activity WHERE application_name LIKE $1', [`${appPrefix}%`]);
    const out = new Map<number, number>();
    for (const r of rows as { pid: number }[]) {
      const ms = cpuMs(r.pid);
      if (ms !== undefined) out.set(r.pid, ms);
    }
    return out;
  } finally {
    await pool.end();
  }
}

async function snapshot(pids: Record<string, number[]>, appPrefix: string | undefined): Promise<CpuSnapshot> {
  const procs = new Map<number, number>();
  for (const list of Object.values(pids)) for (const p of list) procs.set(p, cpuMs(p) ?? 0);
  const u = process.cpuUsage();
  return {
    procs,
    backends: appPrefix === undefined ? new Map() : await backendsOf(appPrefix),
    postgres: cpuOfCommand('postgres'),
    nats: cpuOfCommand('nats-server'),
    machine: machineMs(),
    self: (u.user + u.system) / 1000,
    preempted: Object.values(pids).flat().reduce((n, p) => n + preemptions(p), 0),
  };
}

/** What a map's processes spent between two snapshots (processes new at the end count whole). */
function spent(a: Map<number, number>, b: Map<number, number>): number {
  let ms = 0;
  for (const [pid, end] of b) ms += end - (a.get(pid) ?? 0);
  return ms;
}

function cpuFigures(a: CpuSnapshot, b: CpuSnapshot, pids: Record<string, number[]>, samples: number): CpuFigures {
  const us = (ms: number) => Number(((ms * 1000) / samples).toFixed(2));
  const out: Record<string, number> = {};
  for (const [name, list] of Object.entries(pids)) out[name] = us(list.reduce((s, p) => s + (b.procs.get(p) ?? 0) - (a.procs.get(p) ?? 0), 0));
  const backends = spent(a.backends, b.backends);
  if (a.backends.size > 0 || b.backends.size > 0) out.pgBackends = us(backends);
  // The server's own processes (WAL writer, checkpointer) and other clients' backends, which on
  // a shared machine include other jobs': an upper bound of what this run cost beyond its backends.
  out.pgOther = us(spent(a.postgres, b.postgres) - backends);
  out.nats = us(spent(a.nats, b.nats));
  out.generator = us(b.self - a.self);
  const busy = b.machine.busy - a.machine.busy;
  out.machine = us(busy);
  return { usPerSample: out, machineBusy: Number((busy / (b.machine.total - a.machine.total)).toFixed(2)), preemptedPer1000: Number((((b.preempted - a.preempted) * 1000) / samples).toFixed(1)) };
}

/**
 * Rows inserted and updated per table of the run's schema and each table's size with indexes
 * and TOAST: what the workers made PostgreSQL do. (The statistics lag commits by up to a second.)
 */
async function tableWrites(schema: string): Promise<string> {
  const pool = createPool(TEST_POSTGRES_URL, 'public', { poolSize: 1 });
  try {
    await new Promise((r) => setTimeout(r, 1000));
    const { rows } = await pool.query(
      `SELECT relname, n_tup_ins + n_tup_upd AS n, pg_total_relation_size(relid) AS bytes FROM pg_stat_user_tables
       WHERE schemaname = $1 AND n_tup_ins + n_tup_upd > 0 ORDER BY n DESC`,
      [schema],
    );
    const [cp] = (await pool.query(`SELECT count(*)::int AS n, coalesce(avg(octet_length(blob)), 0)::int AS bytes FROM ${schema}.checkpoints`)).rows as { n: number; bytes: number }[];
    return `${(rows as { relname: string; n: string; bytes: string }[]).map((r) => `${r.relname} ${r.n} (${(Number(r.bytes) / 2 ** 20).toFixed(1)} MiB)`).join(', ')}; ${cp.n} checkpoints of ${cp.bytes} bytes on average`;
  } finally {
    await pool.end();
  }
}

function formatCpu(c: CpuFigures): string {
  return `CPU µs/sample ${Object.entries(c.usPerSample).map(([k, v]) => `${k} ${v}`).join(', ')}; machine busy ${Math.round(c.machineBusy * 100)}%; ${c.preemptedPer1000} preemptions of its processes per 1,000 samples`;
}

const PROFILE_DIR = process.env.TIDEMARK_BENCH_CPU_PROFILE;

/** A `tidemark` child with its environment, CPU-profiled when TIDEMARK_BENCH_CPU_PROFILE is set. */
function proc(args: string[], env: Record<string, string> = {}): CliProc {
  const nodeArgs = PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`, `--cpu-prof-name=${env.PGAPPNAME ?? args[0]}.cpuprofile`] : [];
  return new CliProc(args, { env, nodeArgs });
}

/** The bench's waits: polled every 50 ms. */
const until = (what: string, ok: () => boolean | Promise<boolean>, ms: number, logs: () => string): Promise<void> => waitFor(what, ok, logs, ms, 50);

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

function listening(p: CliProc): string | undefined {
  return /listening on (http:\/\/[^\s]+)/.exec(p.text)?.[1];
}

async function embedded(o: Options, rounds: string[][]): Promise<{ samplesPerSec: number; seconds: number; cpu: CpuFigures }> {
  const dir = mkdtempSync(join(tmpdir(), 'tidemark-bench-embedded-'));
  const p = proc(['serve', '--listen', '127.0.0.1:0', '--data', dir], { TIDEMARK_BOOTSTRAP_TOKEN: TOKEN });
  try {
    await until('the embedded server', () => listening(p) !== undefined, 60_000, () => p.text);
    const pids = { embedded: [p.child.pid!] };
    const before = await snapshot(pids, undefined);
    const started = performance.now();
    const samples = await feed(listening(p)!, rounds);
    const seconds = (performance.now() - started) / 1000;
    const after = await snapshot(pids, undefined);
    if (samples !== o.series * o.steps) throw new Error(`bench: embedded accepted ${samples} of ${o.series * o.steps}`);
    return { samplesPerSec: Math.round(samples / seconds), seconds, cpu: cpuFigures(before, after, pids, samples) };
  } finally {
    await p.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function cluster(o: Options, rounds: string[][], workers: number): Promise<{ samplesPerSec: number; seconds: number; feedSeconds: number; leaseMoves: number; runMoves: number; joinSeconds: number; cpu: CpuFigures; tables: string; idleCpuPerWorker: number }> {
  const schema = uniqueSchema('tm_bench_');
  const prefix = uniqueName('tmbench');
  const pgUrl = `${TEST_POSTGRES_URL}?schema=${schema}`;
  const dir = mkdtempSync(join(tmpdir(), 'tidemark-bench-node-'));
  const store = await openStoreFromUrl(pgUrl);
  await store.tenants.create({ id: 'default', name: 'default' });
  await store.tokens.create({ tenant: 'default', name: 'bench', role: 'admin', hash: hashToken(TOKEN) });
  await store.close();
  const flags = ['--nats', TEST_NATS_URL, '--postgres', pgUrl, '--prefix', prefix, '--lease-ttl', '3s'];
  const procs: CliProc[] = [];
  const logs = () => procs.map((p) => p.text).join('\n---\n');
  const nc = await openJetStreamBus({ url: TEST_NATS_URL, prefix, partitions: PARTITIONS });
  const jsm = await jetstreamManager(nc.nc);
  try {
    const node = proc(['serve', '--cluster', ...flags, '--listen', '127.0.0.1:0', '--data', dir], { PGAPPNAME: `${prefix}-node` });
    procs.push(node);
    await until('the cluster node', () => listening(node) !== undefined, 60_000, logs);
    // Workers join one after another, as in a rolling start: each join moves partitions.
    const joinStart = performance.now();
    const ws: CliProc[] = [];
    const held = () => ws.reduce((n, w) => n + (w.text.match(/took partition/g)?.length ?? 0) - (w.text.match(/(released|lost) partition/g)?.length ?? 0), 0);
    for (let i = 0; i < workers; i++) {
      const w = proc(['worker', ...flags, '--id', `w${i}`, '--checkpoint-every', '1s'], { PGAPPNAME: `${prefix}-w${i}` });
      procs.push(w);
      ws.push(w);
      await until(`worker ${i}`, () => /running/.test(w.text), 60_000, logs);
      const share = Math.ceil(PARTITIONS / (i + 1));
      await until(`worker ${i} takes its share`, () => held() === PARTITIONS && ws.every((x) => (x.text.match(/took partition/g)?.length ?? 0) - (x.text.match(/(released|lost) partition/g)?.length ?? 0) <= share), 60_000, logs);
    }
    const joinSeconds = (performance.now() - joinStart) / 1000;
    const leaseMoves = ws.reduce((n, w) => n + (w.text.match(/(released|lost) partition/g)?.length ?? 0), 0);
    const pids = { ingestNode: [node.child.pid!], workers: ws.map((w) => w.child.pid!) };
    // What the workers cost with nothing to do (lease renewals, reads that wait, refreshes): the
    // part of their CPU that grows with their number rather than with the samples.
    const idle0 = ws.map((w) => cpuMs(w.child.pid!) ?? 0);
    const idleStart = performance.now();
    await new Promise((r) => setTimeout(r, 2000));
    const idleCpuPerWorker = ws.reduce((sum, w, i) => sum + (cpuMs(w.child.pid!) ?? 0) - idle0[i], 0) / ws.length / (performance.now() - idleStart);
    const before = await snapshot(pids, prefix);
    const started = performance.now();
    const samples = await feed(listening(node)!, rounds);
    // Accepted (stored in JetStream) by now; what follows is the workers' backlog plus one checkpoint.
    const feedSeconds = (performance.now() - started) / 1000;
    await until('workers applied and checkpointed everything', async () => (await jsm.streams.info(prefix)).state.messages === 0, 300_000, logs);
    const seconds = (performance.now() - started) / 1000;
    const after = await snapshot(pids, prefix);
    // Partitions that changed hands while samples flowed (a lease renewed too late on a loaded
    // machine): each costs a restore from checkpoints and a replay from the cursor.
    const runMoves = ws.reduce((n, w) => n + (w.text.match(/(released|lost) partition/g)?.length ?? 0), 0) - leaseMoves;
    if (samples !== o.series * o.steps) throw new Error(`bench: the cluster accepted ${samples} of ${o.series * o.steps}`);
    const tables = await tableWrites(schema);
    return { samplesPerSec: Math.round(samples / seconds), seconds, feedSeconds, leaseMoves, runMoves, joinSeconds, cpu: cpuFigures(before, after, pids, samples), tables, idleCpuPerWorker };
  } finally {
    for (const p of procs.reverse()) await p.kill();
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
  const load = loadavg()[0];
  log(`load average ${load.toFixed(1)} on ${cpus().length} cores at the start`);
  log(`${o.series} series x ${o.steps} points = ${o.series * o.steps} samples; ${rounds.length} rounds of ${o.groups} JSON batches; ${PARTITIONS} partitions`);
  const base = await embedded(o, rounds);
  log(`embedded single process: ${base.samplesPerSec} samples/s (${base.seconds.toFixed(1)} s); ${formatCpu(base.cpu)}`);
  const scaling: Record<string, { samplesPerSec: number; leaseMoves: number; runMoves: number; cpu: CpuFigures; idle: number }> = {};
  let two: Awaited<ReturnType<typeof cluster>> | undefined;
  for (const n of o.workers) {
    const r = await cluster(o, rounds, n);
    if (n === 2) two = r;
    scaling[`workers${n}`] = { samplesPerSec: r.samplesPerSec, leaseMoves: r.leaseMoves, runMoves: r.runMoves, cpu: r.cpu, idle: r.idleCpuPerWorker };
    log(`1 ingest node + ${n} worker(s): ${r.samplesPerSec} samples/s (${r.seconds.toFixed(1)} s to applied and checkpointed, of which ${r.feedSeconds.toFixed(1)} s until the last 2xx), ${r.leaseMoves} lease moves while ${n} worker(s) joined (${r.joinSeconds.toFixed(1)} s), ${r.runMoves} while samples flowed`);
    log(`  ${formatCpu(r.cpu)}; an idle worker used ${(r.idleCpuPerWorker * 100).toFixed(1)}% of a core`);
    log(`  PostgreSQL rows written (inserted+updated) and size by table: ${r.tables}`);
  }
  const ratio = two ? two.samplesPerSec / base.samplesPerSec : NaN;
  if (two) log(`ratio (1 ingest node + 2 workers) / embedded = ${ratio.toFixed(2)}`);
  return [{
    name: 'cluster',
    samples: o.series * o.steps,
    series: o.series,
    partitions: PARTITIONS,
    embeddedSamplesPerSec: base.samplesPerSec,
    clusterSamplesPerSec: two?.samplesPerSec ?? null,
    ratioVsEmbedded: Number(ratio.toFixed(3)),
    ...Object.fromEntries(Object.entries(scaling).flatMap(([k, v]) => [[`${k}SamplesPerSec`, v.samplesPerSec], [`${k}LeaseMoves`, v.leaseMoves], [`${k}LeaseMovesDuringRun`, v.runMoves]])),
    // CPU µs per sample by component: the figures that do not move with the machine's load.
    embeddedCpuUsPerSample: base.cpu.usPerSample,
    ...Object.fromEntries(Object.entries(scaling).map(([k, v]) => [`${k}CpuUsPerSample`, { ...v.cpu.usPerSample, machineBusy: v.cpu.machineBusy, preemptedPer1000: v.cpu.preemptedPer1000, idleWorkerCoreShare: Number(v.idle.toFixed(3)) }])),
    loadAverage: Number(load.toFixed(1)),
  }];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { series: { type: 'string' }, steps: { type: 'string' }, workers: { type: 'string' } } });
  const r = await runClusterBench({
    ...(values.series && { series: Number(values.series) }),
    ...(values.steps && { steps: Number(values.steps) }),
    ...(values.workers && { workers: values.workers.split(',').map((w) => {
      const n = Number(w);
      if (!Number.isInteger(n) || n < 1) throw new Error(`--workers takes positive integers separated by commas, got ${JSON.stringify(values.workers)}`);
      return n;
    }) }),
  });
  for (const x of r) process.stdout.write(`BENCH ${JSON.stringify(x)}\n`);
}
