import { applyHeapGrowth, HEAP_GROWTH_HELP } from '../heap.ts';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildApp, parseDurationMs } from '../../api/index.ts';
import { CLUSTER_HELP, CLUSTER_OPTIONS, clusterSettings, nodeAnnouncer, openClusterNode, type ClusterNode } from '../../cluster/index.ts';
import { registerDemoReceiver, startDemo, type DemoHandle } from '../../demo/index.ts';
import { createEngine } from '../../engine/index.ts';
import { TidemarkError } from '../../errors.ts';
import { hashToken, newTokenSecret, openSqliteStore } from '../../store/index.ts';
import { registerWeb } from '../../web/index.ts';
import type { Command } from '../command.ts';

/** 9464: Tidemark's default port (the OpenTelemetry Prometheus exporter also defaults to it; pass --listen if both run on one host). */
export const DEFAULT_LISTEN = '127.0.0.1:9464';
export const DEFAULT_DATA_DIR = './.tidemark';

const help = `Usage: tidemark serve [--listen HOST:PORT] [--data DIR] [--config FILE] [--demo]

Runs Tidemark: ingest (remote_write, OTLP/HTTP, line protocol, JSON), detection, the query
API and /metrics, in one process on an embedded store in DIR.

Options:
  --listen HOST:PORT   where to listen (default ${DEFAULT_LISTEN})
  --data DIR           data directory (default ${DEFAULT_DATA_DIR}); created if missing
  --config FILE        a tenant config (YAML); reloaded on SIGHUP, each change versioned and audited;
                       its alerting: section (budgets, inhibition, escalation, anti-flap, ack TTL)
                       applies from the version that brings it
  --demo               also feed the built-in e-commerce scenario (backfill, then live)
  --demo-speed N       simulated minutes per wall minute while the demo catches up (default 60)
  --checkpoint-every D how often detector state is checkpointed (default 60s; e.g. 500ms, 5m)
${HEAP_GROWTH_HELP}
  --cluster            a stateless cluster node: ingest is published to NATS JetStream (a 2xx
                       once JetStream stored it; 503 while NATS or PostgreSQL is down) for
                       \`tidemark worker\` processes; the read API and UI read PostgreSQL
${CLUSTER_HELP}

On the first start with an empty data directory, tenant "default" and an admin token are
created; the token is printed once and written to DIR/admin-token (mode 0600).
TIDEMARK_BOOTSTRAP_TOKEN, when set, is used as that token instead of a random one.
SIGTERM/SIGINT flush, checkpoint the detectors and close the store.

Example:
  npx --no-install tidemark serve --demo
  curl -H "Authorization: Bearer $(cat .tidemark/admin-token)" 'http://127.0.0.1:9464/api/v1/anomalies'
`;

function parseListen(text: string): { host: string; port: number } {
  const m = /^(.*):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new TidemarkError('TM_ERR_USAGE', `expected HOST:PORT, e.g. 127.0.0.1:9464, got ${JSON.stringify(text)}`, '--listen');
  return { host: m[1].replace(/^\[(.*)\]$/, '$1') || '0.0.0.0', port };
}

export const serveCommand: Command = {
  name: 'serve',
  summary: 'Run the Tidemark server (ingest, detection, query API, /metrics)',
  help,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        listen: { type: 'string', default: DEFAULT_LISTEN },
        data: { type: 'string', default: DEFAULT_DATA_DIR },
        config: { type: 'string' },
        demo: { type: 'boolean', default: false },
        'demo-speed': { type: 'string', default: '60' },
        'checkpoint-every': { type: 'string', default: '60s' },
        'heap-growth-percent': { type: 'string' },
        cluster: { type: 'boolean', default: false },
        ...CLUSTER_OPTIONS,
      },
      strict: true,
      allowPositionals: false,
    });
    const { host, port } = parseListen(values.listen!);
    applyHeapGrowth(values['heap-growth-percent']);
    const speed = Number(values['demo-speed']);
    if (!(speed >= 1)) throw new TidemarkError('TM_ERR_USAGE', `expected a number >= 1, got ${JSON.stringify(values['demo-speed'])}`, '--demo-speed');
    const checkpointIntervalMs = parseDurationMs(values['checkpoint-every']!);
    if (!checkpointIntervalMs) throw new TidemarkError('TM_ERR_USAGE', `expected a duration such as 60s, got ${JSON.stringify(values['checkpoint-every'])}`, '--checkpoint-every');
    const dataDir = resolve(values.data!);
    const configPath = values.config === undefined ? undefined : resolve(values.config);
    if (configPath && !existsSync(configPath)) throw new TidemarkError('TM_ERR_NOT_FOUND', 'no such config file', configPath);
    const out = (line: string) => process.stdout.write(line + '\n');
    const err = (line: string) => process.stderr.write(line + '\n');

    const clock = Date.now;
    // Cluster mode: PostgreSQL instead of the embedded store, and batches go to the bus.
    const cluster = values.cluster ? clusterSettings(values, parseDurationMs) : undefined;
    if (cluster && values.demo) throw new TidemarkError('TM_ERR_USAGE', 'the demo runs in one process; drop --cluster or --demo', '--demo');
    let node: ClusterNode | undefined;
    if (cluster) {
      mkdirSync(dataDir, { recursive: true }); // for the admin-token file
      node = await openClusterNode(cluster);
    }
    const store = node ? node.store : await openSqliteStore({ dataDir });
    let closing = false;
    try {
      // First start: a tenant and an admin token, shown once.
      if ((await store.tenants.list()).length === 0) {
        await store.tenants.create({ id: 'default', name: 'default' });
        const secret = process.env.TIDEMARK_BOOTSTRAP_TOKEN || newTokenSecret();
        await store.tokens.create({ tenant: 'default', name: 'bootstrap-admin', role: 'admin', hash: hashToken(secret) });
        const file = join(dataDir, 'admin-token');
        writeFileSync(file, secret + '\n', { mode: 0o600 });
        chmodSync(file, 0o600);
        out(`tidemark: created tenant "default" and an admin token (shown once; also in ${file}, mode 0600):`);
        out(`  ${secret}`);
      }
      // A cluster node judges nothing: workers own detector state and the alert stage.
      const engine = await createEngine({ store, clock, checkpointIntervalMs: node ? 0 : checkpointIntervalMs, ...(node ? { alerting: false as const } : {}) });
      const loadConfigFile = async (why: string) => {
        const yaml = readFileSync(configPath!, 'utf8');
        const r = await engine.putConfig(yaml, `file:${configPath}`, why, configPath);
        out(r.created ? `tidemark: config ${configPath} stored as version ${r.version.version} of tenant ${r.version.tenant} (${why})` : `tidemark: config ${configPath} unchanged (version ${r.version.version})`);
      };
      if (configPath) await loadConfigFile('loaded at start');

      let ready = false;
      // Acks, silences and configs written on a node reach the workers' alert stages at once.
      const announce = node ? nodeAnnouncer(node.bus, engine, err) : undefined;
      // Rule aggregates are fed by group (src/cluster/feeds.ts), routed by the tenant configs.
      if (node) node.sink.configs = (tenant) => engine.config(tenant);
      const app = await buildApp({ store, engine, clock, isReady: () => ready && !closing, sink: node?.sink, announce });
      await registerWeb(app); // the triage UI at / (built into dist/web by npm install)
      if (values.demo) registerDemoReceiver(app); // before listen: Fastify takes no routes after
      await app.listen({ host, port });
      const addr = app.server.address();
      const url = typeof addr === 'object' && addr ? `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}` : `http://${host}:${port}`;
      out(node ? `tidemark: cluster node listening on ${url} (NATS stream ${node.bus.stream}, ${node.bus.partitions} partitions)` : `tidemark: listening on ${url} (data ${dataDir})`);
      ready = true;

      let demo: DemoHandle | undefined;
      if (values.demo) {
        // The demo config's webhook receiver is this server; loopback reaches it whatever --listen says.
        const origin = typeof addr === 'object' && addr ? `http://${addr.family === 'IPv6' ? '[::1]' : '127.0.0.1'}:${addr.port}` : url;
        demo = startDemo({ app, store, engine, clock, speed, log: out, origin });
        void demo.backfilled.then(() => out(`tidemark: demo running; try: curl -H "Authorization: Bearer $(cat ${join(dataDir, 'admin-token')})" '${url}/api/v1/anomalies'`));
      }

      const onHup = () => {
        if (!configPath) return err('tidemark: SIGHUP ignored: no --config file');
        loadConfigFile('reloaded on SIGHUP').catch((e: Error) => err(`tidemark: config reload refused, keeping the running version:\n${e.message}`));
      };
      process.on('SIGHUP', onHup);
      await new Promise<void>((resolveStop) => {
        const stop = (signal: string) => {
          if (closing) return;
          closing = true;
          out(`tidemark: ${signal}: flushing, checkpointing and closing`);
          resolveStop();
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
      process.off('SIGHUP', onHup);
      demo?.stop();
      await app.close();
      await engine.close();
      if (node) await node.close();
      else await store.close();
      out('tidemark: stopped');
      return 0;
    } catch (e) {
      if (!closing) await (node ? node.close() : store.close()).catch(() => undefined);
      throw e;
    }
  },
};
