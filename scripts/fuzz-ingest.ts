/**
 * Long-running fuzzer for the ingest decoders (the bounded version runs in src/ingest/fuzz.test.ts).
 *
 *   node --import tsx scripts/fuzz-ingest.ts [--seconds 60] [--seed 1] [--target all] [--hang-ms 2000]
 *
 * Decoding runs in a worker thread; before each decode the worker copies its input into shared
 * memory and bumps a counter, so the main thread can tell a hang (no progress for --hang-ms)
 * from a slow machine, stop the worker and print the input that hung. Inputs that make a
 * decoder throw anything but a TidemarkError, or produce invalid samples, are printed in base64.
 * Exit code: 0 clean, 1 violations or a hang, 2 bad arguments.
 */
import { parseArgs } from 'node:util';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { IngestBatch } from '../src/ingest/batch.ts';
import type { FuzzTarget } from '../src/ingest/testkit.ts';
import { FUZZ_NOW, FUZZ_TARGETS, fuzzCheck, fuzzInput, fuzzSeeds, rng } from '../src/ingest/testkit.ts';

const MAX_INPUT = 1 << 20;

interface Job {
  targets: FuzzTarget[];
  seed: number;
  seconds: number;
  shared: SharedArrayBuffer;
}

type Report = { kind: 'violation'; target: FuzzTarget; problem: string; input: string } | { kind: 'done'; counts: Record<string, number> };

function runWorker(job: Job): void {
  const state = new Int32Array(job.shared, 0, 4); // [progress, input length, target index]
  const bytes = new Uint8Array(job.shared, 16);
  const r = rng(job.seed);
  const seeds = fuzzSeeds(rng(job.seed + 1));
  const batch = new IngestBatch({ now: () => FUZZ_NOW });
  const counts: Record<string, number> = {};
  const until = Date.now() + job.seconds * 1000;
  let i = 0;
  while (Date.now() < until) {
    const ti = i++ % job.targets.length;
    const target = job.targets[ti];
    const input = fuzzInput(r, target, seeds);
    if (input.length > MAX_INPUT) continue;
    bytes.set(input);
    Atomics.store(state, 1, input.length);
    Atomics.store(state, 2, ti);
    Atomics.add(state, 0, 1);
    const problem = fuzzCheck(target, input, batch);
    counts[target] = (counts[target] ?? 0) + 1;
    if (problem !== null) parentPort?.postMessage({ kind: 'violation', target, problem, input: Buffer.from(input).toString('base64') } satisfies Report);
  }
  parentPort?.postMessage({ kind: 'done', counts } satisfies Report);
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        seconds: { type: 'string', default: '60' },
        seed: { type: 'string', default: String(Date.now() % 1_000_000) },
        target: { type: 'string', default: 'all' },
        'hang-ms': { type: 'string', default: '2000' },
      },
      strict: true,
    }));
  } catch (e) {
    process.stderr.write(`fuzz-ingest: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
  const all = Object.keys(FUZZ_TARGETS) as FuzzTarget[];
  const targets = values.target === 'all' ? all : (values.target.split(',') as FuzzTarget[]);
  const bad = targets.filter((t) => !all.includes(t));
  const seconds = Number(values.seconds);
  const seed = Number(values.seed);
  const hangMs = Number(values['hang-ms']);
  if (bad.length > 0 || !(seconds > 0) || !Number.isInteger(seed) || !(hangMs > 0)) {
    process.stderr.write(`fuzz-ingest: bad arguments${bad.length ? ` (unknown target ${bad.join(', ')}; valid: all, ${all.join(', ')})` : ''}\n`);
    return 2;
  }
  const shared = new SharedArrayBuffer(16 + MAX_INPUT);
  const state = new Int32Array(shared, 0, 4);
  // A worker does not get the tsx loader for its entry file, so it starts from a line of
  // JavaScript that imports this file once the loader is in place.
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(import.meta.url)}); });`;
  const worker = new Worker(boot, { eval: true, workerData: { targets, seed, seconds, shared } satisfies Job });
  console.log(`fuzzing ${targets.join(', ')} for ${seconds} s, seed ${seed}`);
  let violations = 0;
  return await new Promise<number>((resolve) => {
    let last = -1;
    let stuckSince = Date.now();
    const watchdog = setInterval(() => {
      const now = Atomics.load(state, 0);
      if (now !== last) {
        last = now;
        stuckSince = Date.now();
        return;
      }
      if (Date.now() - stuckSince < hangMs) return;
      const len = Atomics.load(state, 1);
      const target = targets[Atomics.load(state, 2)];
      const input = Buffer.from(new Uint8Array(shared, 16, len)).toString('base64');
      console.log(`HANG in ${target} (no progress for ${hangMs} ms); input (base64): ${input}`);
      clearInterval(watchdog);
      void worker.terminate().then(() => resolve(1));
    }, Math.min(250, hangMs / 4));
    worker.on('message', (m: Report) => {
      if (m.kind === 'violation') {
        violations++;
        console.log(`VIOLATION in ${m.target}: ${m.problem}; input (base64): ${m.input}`);
        return;
      }
      clearInterval(watchdog);
      const total = Object.values(m.counts).reduce((a, b) => a + b, 0);
      console.log(`${total} inputs (${Object.entries(m.counts).map(([t, n]) => `${t} ${n}`).join(', ')}), ${violations} violations`);
      resolve(violations > 0 ? 1 : 0);
    });
    worker.on('error', (e) => {
      clearInterval(watchdog);
      console.log(`worker failed: ${e.stack ?? e.message}`);
      resolve(1);
    });
  });
}

if (isMainThread) {
  main().then((code) => process.exit(code));
} else {
  runWorker(workerData as Job);
}
