/**
 * What `tidemark serve --cluster` and `tidemark worker` share: the URLs of the cluster's NATS and
 * PostgreSQL (flags or environment), opening both, and closing them in order.
 */
import { openJetStreamBus, type JetStreamBus } from '../bus/index.ts';
import { TidemarkError } from '../errors.ts';
import { openStoreFromUrl, type Store } from '../store/index.ts';
import { BusSink } from './ingest.ts';

export const NATS_ENV = 'TIDEMARK_NATS_URL';
export const POSTGRES_ENV = 'TIDEMARK_POSTGRES_URL';

export interface ClusterFlags {
  nats?: string;
  postgres?: string;
  partitions?: string;
  prefix?: string;
  'lease-ttl'?: string;
}

/** The flag options every cluster command parses (node:util parseArgs). */
export const CLUSTER_OPTIONS = {
  nats: { type: 'string' },
  postgres: { type: 'string' },
  partitions: { type: 'string' },
  prefix: { type: 'string', default: 'tidemark' },
  'lease-ttl': { type: 'string', default: '10s' },
} as const;

export const CLUSTER_HELP = `  --nats URL           NATS with JetStream, e.g. nats://127.0.0.1:4222 (or env ${NATS_ENV})
  --postgres URL       PostgreSQL, e.g. postgres://127.0.0.1:5432/tidemark (or env ${POSTGRES_ENV});
                       ?schema=NAME picks the schema (default tidemark)
  --partitions N       partitions of a new cluster (default 64; fixed once created)
  --prefix NAME        the JetStream stream and bucket names (default tidemark)
  --lease-ttl D        a dead worker's partitions move after this long (default 10s)`;

export interface ClusterNode {
  readonly bus: JetStreamBus;
  readonly store: Store;
  readonly sink: BusSink;
  close(): Promise<void>;
}

/** Reads and checks the cluster flags (environment variables fill in absent URLs). */
export function clusterSettings(v: ClusterFlags, parseDuration: (s: string) => number | undefined): { nats: string; postgres: string; partitions: number | undefined; prefix: string; leaseTtlMs: number } {
  const nats = v.nats ?? process.env[NATS_ENV];
  const postgres = v.postgres ?? process.env[POSTGRES_ENV];
  if (!nats) throw new TidemarkError('TM_ERR_USAGE', `cluster mode needs NATS: pass --nats nats://HOST:4222 or set ${NATS_ENV}`, '--nats');
  if (!/^nats:\/\//.test(nats)) throw new TidemarkError('TM_ERR_USAGE', `expected a nats:// URL, got ${JSON.stringify(nats)}`, '--nats');
  if (!postgres) throw new TidemarkError('TM_ERR_USAGE', `cluster mode needs PostgreSQL: pass --postgres postgres://HOST:5432/DB or set ${POSTGRES_ENV}`, '--postgres');
  if (!/^postgres(ql)?:\/\//.test(postgres)) throw new TidemarkError('TM_ERR_USAGE', `expected a postgres:// URL, got ${JSON.stringify(postgres)}`, '--postgres');
  let partitions: number | undefined;
  if (v.partitions !== undefined) {
    partitions = Number(v.partitions);
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > 4096) throw new TidemarkError('TM_ERR_USAGE', `expected an integer from 1 to 4096, got ${JSON.stringify(v.partitions)}`, '--partitions');
  }
  const leaseTtlMs = parseDuration(v['lease-ttl'] ?? '10s');
  if (!leaseTtlMs || leaseTtlMs < 300) throw new TidemarkError('TM_ERR_USAGE', `expected a duration of at least 300ms, e.g. 10s, got ${JSON.stringify(v['lease-ttl'])}`, '--lease-ttl');
  return { nats, postgres, partitions, prefix: v.prefix ?? 'tidemark', leaseTtlMs };
}

/** Opens the bus and the store of a cluster (closing the first if the second fails). */
export async function openClusterNode(s: ReturnType<typeof clusterSettings>): Promise<ClusterNode> {
  const bus = await openJetStreamBus({ url: s.nats, prefix: s.prefix, partitions: s.partitions, leaseTtlMs: s.leaseTtlMs });
  let store: Store;
  try {
    store = await openStoreFromUrl(s.postgres);
  } catch (err) {
    await bus.close();
    throw err;
  }
  return {
    bus,
    store,
    sink: new BusSink(bus),
    async close() {
      await bus.close().catch(() => undefined);
      await store.close();
    },
  };
}
