/**
 * Writes made through a cluster node's API that the workers' alert stages must see: the write
 * itself goes to PostgreSQL (the truth), then the node announces it on the bus so the workers
 * apply it at once instead of at their next poll.
 *
 * Why a bus announcement and not PostgreSQL LISTEN/NOTIFY: every node and worker already holds
 * a NATS connection that reconnects by itself and resubscribes, while LISTEN needs a dedicated
 * PostgreSQL connection per process (outside the store's pool) with its own reconnect logic.
 * An announcement lost while a worker is disconnected costs at most one poll period: workers
 * re-read configs, silences and acks from the store every few seconds anyway.
 */
import type { Bus } from '../bus/index.ts';
import type { Engine } from '../engine/index.ts';

/** Feedback needs no announcement: no worker state reads it (it is read from the store). */
export type ClusterChange =
  | { readonly kind: 'ack'; readonly tenant: string; readonly fingerprint: string }
  | { readonly kind: 'silences'; readonly tenant: string }
  | { readonly kind: 'config'; readonly tenant: string };

const te = new TextEncoder();
const td = new TextDecoder();
const VERSION = 1;

export function encodeChange(c: ClusterChange): Uint8Array {
  return te.encode(JSON.stringify({ v: VERSION, ...c }));
}

/** Undefined for anything not written by `encodeChange` (another version, or noise on the subject). */
export function decodeChange(data: Uint8Array): ClusterChange | undefined {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(td.decode(data)) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (!o || o.v !== VERSION || typeof o.tenant !== 'string') return undefined;
  if (o.kind === 'ack' && typeof o.fingerprint === 'string') return { kind: 'ack', tenant: o.tenant, fingerprint: o.fingerprint };
  if (o.kind === 'silences' || o.kind === 'config') return { kind: o.kind, tenant: o.tenant };
  return undefined;
}

/**
 * An announcer for a node: never throws (the write is stored; the workers' poll is the fallback
 * when NATS is down), reports failures to `log`.
 */
export function changeAnnouncer(bus: Bus, log: (line: string) => void = () => undefined): (c: ClusterChange) => Promise<void> {
  return async (c) => {
    try {
      await bus.announce(encodeChange(c));
    } catch (err) {
      log(`tidemark: announcing ${c.kind} of tenant ${c.tenant} failed (workers pick it up at their next poll): ${(err as Error).message}`);
    }
  };
}

/**
 * The announcer a cluster node hands to buildApp (`announce`), with config versions stored
 * through its engine (admin API, suggestions, SIGHUP) announced too.
 */
export function nodeAnnouncer(bus: Bus, engine: Engine, log?: (line: string) => void): (c: ClusterChange) => Promise<void> {
  const announce = changeAnnouncer(bus, log);
  engine.configListeners.add((tenant) => void announce({ kind: 'config', tenant }));
  // The node routes rule-aggregate feeds by its tenants' configs (feeds.ts): it follows versions
  // stored through other nodes on their announcement. One missed (NATS away) is made good by the
  // workers, which apply a feed under the newest stored config (see feeds.ts).
  bus.onAnnounce((data) => {
    if (decodeChange(data)?.kind === 'config') void engine.refreshConfigs().catch((err: Error) => log?.(`tidemark: reloading configs: ${err.message}`));
  });
  return announce;
}
