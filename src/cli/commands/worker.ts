import { applyHeapGrowth, HEAP_GROWTH_HELP } from '../heap.ts';
import { parseArgs } from 'node:util';
import { parseDurationMs } from '../../api/index.ts';
import { ClusterWorker, CLUSTER_HELP, CLUSTER_OPTIONS, clusterSettings, openClusterNode, serveWorkerMetrics, type MetricsServer } from '../../cluster/index.ts';
import { TidemarkError } from '../../errors.ts';
import type { Command } from '../command.ts';

const help = `Usage: tidemark worker --nats URL --postgres URL [--id ID] [--checkpoint-every D] [--metrics HOST:PORT]

A cluster worker: leases partitions of the ingest stream, restores their detector state and
stream position from PostgreSQL, runs the detectors and the alert stage on them in order, and
checkpoints state with the position it covers. Start as many as you like; partitions are
rebalanced as workers come and go, and a dead worker's partitions move after the lease TTL.
Acks, silences and config versions written through any node's API are announced on NATS and
applied at once; workers also re-read them from PostgreSQL every 5s.

Options:
${CLUSTER_HELP}
  --id ID              this worker's name in leases and logs (default worker-<pid>-<random>)
  --checkpoint-every D detector state and stream positions are saved this often (default 5s);
                       at most this much is replayed after a worker dies
  --metrics HOST:PORT  serve GET /metrics here (engine figures, delivery fence, notification
                       intents); off by default
${HEAP_GROWTH_HELP}

SIGTERM/SIGINT checkpoint, release the partitions at once (no lease wait) and exit.

Example:
  tidemark worker --nats nats://127.0.0.1:4222 --postgres postgres://127.0.0.1:5432/tidemark
`;

export const workerCommand: Command = {
  name: 'worker',
  summary: 'Run a cluster worker (detectors and alerting on leased partitions)',
  help,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: { ...CLUSTER_OPTIONS, id: { type: 'string' }, 'checkpoint-every': { type: 'string', default: '5s' }, metrics: { type: 'string' }, 'heap-growth-percent': { type: 'string' } },
      strict: true,
      allowPositionals: false,
    });
    applyHeapGrowth(values['heap-growth-percent']);
    const settings = clusterSettings(values, parseDurationMs);
    const checkpointEveryMs = parseDurationMs(values['checkpoint-every']!);
    if (!checkpointEveryMs) throw new TidemarkError('TM_ERR_USAGE', `expected a duration such as 5s, got ${JSON.stringify(values['checkpoint-every'])}`, '--checkpoint-every');
    if (values.id !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(values.id)) throw new TidemarkError('TM_ERR_USAGE', `expected 1-64 characters of [A-Za-z0-9_-], got ${JSON.stringify(values.id)}`, '--id');
    let metricsAt: { host: string; port: number } | undefined;
    if (values.metrics !== undefined) {
      const m = /^(.+):(\d{1,5})$/.exec(values.metrics);
      if (!m || Number(m[2]) > 65535) throw new TidemarkError('TM_ERR_USAGE', `expected HOST:PORT, e.g. 127.0.0.1:9465, got ${JSON.stringify(values.metrics)}`, '--metrics');
      metricsAt = { host: m[1].replace(/^\[(.*)\]$/, '$1'), port: Number(m[2]) };
    }
    const out = (line: string) => process.stdout.write(line + '\n');
    const node = await openClusterNode(settings);
    let worker: ClusterWorker;
    try {
      worker = await ClusterWorker.start({ bus: node.bus, store: node.store, id: values.id, checkpointEveryMs, log: out });
    } catch (err) {
      await node.close();
      throw err;
    }
    let metrics: MetricsServer | undefined;
    if (metricsAt) {
      try {
        metrics = await serveWorkerMetrics(worker, metricsAt.host, metricsAt.port);
      } catch (err) {
        await worker.stop();
        await node.close();
        throw err;
      }
    }
    out(`tidemark worker: ${worker.id} running (${node.bus.partitions} partitions, lease ${settings.leaseTtlMs} ms)${metrics ? `, metrics on ${metrics.url}/metrics` : ''}`);
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        out(`tidemark worker: ${signal}: checkpointing and releasing partitions`);
        resolve();
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
    await metrics?.close();
    await worker.stop();
    await node.close();
    out('tidemark worker: stopped');
    return 0;
  },
};
