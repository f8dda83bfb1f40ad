/**
 * The NATS JetStream bus: one stream `<prefix>` with subjects `<prefix>.p.<n>`, one per
 * partition; a persistent key-value bucket `<prefix>-meta` (the partition count, fixed at
 * creation, and partition cursors) and one whose keys expire, `<prefix>-leases`. Written for
 * nats-server 2.9 (no 2.10-only features: single filter subjects, no stream metadata).
 */
import { DeliverPolicy, jetstream, jetstreamManager, JetStreamApiError, type Consumer, type ConsumerMessages, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { TidemarkError } from '../errors.ts';
import { checkPartitions } from './memory.ts';
import type { Bus, BusMessage, CasKv, KvEntry, PartitionReader } from './types.ts';

export interface JetStreamBusOptions {
  /** `nats://host:port` (several comma-separated for a NATS cluster). */
  readonly url: string;
  /** Names the stream and the buckets; `[A-Za-z0-9_-]`. Default `tidemark`. */
  readonly prefix?: string;
  /**
   * The partition count of a new cluster. An existing cluster keeps its count: a different
   * number here is refused (TM_ERR_CONFIG), since moving series between partitions would
   * reorder their samples. Undefined: read it (a new cluster gets DEFAULT_PARTITIONS).
   */
  readonly partitions?: number;
  /** Lease keys expire this long after their last write. Default 10 s. */
  readonly leaseTtlMs?: number;
  /** Messages older than this are dropped even when not yet applied. Default 7 days. */
  readonly maxAgeMs?: number;
  /** How long a publish waits for JetStream's ack before failing as unavailable. Default 5 s. */
  readonly publishTimeoutMs?: number;
  /** How long the first connection may take. Default 2 s. */
  readonly connectTimeoutMs?: number;
  /** File storage (default) or memory (benchmarks only: not durable). */
  readonly storage?: 'file' | 'memory';
}

const DEFAULTS = Object.freeze({
  prefix: 'tidemark',
  partitions: 64,
  leaseTtlMs: 10_000, // 10 s: a dead worker's partitions move after at most this long
  maxAgeMs: 7 * 86400_000, // 7 d of unapplied backlog at most
  publishTimeoutMs: 5_000,
  connectTimeoutMs: 2_000,
});

const WRONG_LAST_SEQUENCE = 10071;

/** Maps a NATS failure to the catalogue: a lost CAS race is a conflict, the rest is unavailability. */
export function natsError(err: unknown, what: string): TidemarkError {
  if (err instanceof TidemarkError) return err;
  if (err instanceof JetStreamApiError && err.code === WRONG_LAST_SEQUENCE) return new TidemarkError('TM_ERR_CONFLICT', 'lost a compare-and-set race', what);
  return new TidemarkError('TM_ERR_UNAVAILABLE', `NATS JetStream did not answer (${(err as Error).message}); retry`, what);
}

const NAME = /^[A-Za-z0-9_-]{1,64}$/;

class JsKv implements CasKv {
  readonly #kv: KV;
  readonly #name: string;
  constructor(kv: KV, name: string) {
    this.#kv = kv;
    this.#name = name;
  }

  async get(key: string): Promise<KvEntry | undefined> {
    try {
      const e = await this.#kv.get(key);
      if (!e || e.operation !== 'PUT') return undefined;
      return { value: e.value, revision: e.revision };
    } catch (err) {
      throw natsError(err, `${this.#name}/${key}`);
    }
  }
  async create(key: string, value: Uint8Array): Promise<number> {
    try {
      return await this.#kv.create(key, value);
    } catch (err) {
      // kv.create reports an existing key as its own error, not as a JetStream API error.
      if (/exists|wrong last sequence/i.test((err as Error).message)) throw new TidemarkError('TM_ERR_CONFLICT', 'the key already has a value', `${this.#name}/${key}`);
      throw natsError(err, `${this.#name}/${key}`);
    }
  }
  async update(key: string, value: Uint8Array, revision: number): Promise<number> {
    try {
      return await this.#kv.update(key, value, revision);
    } catch (err) {
      throw natsError(err, `${this.#name}/${key}`);
    }
  }
  async delete(key: string, revision: number): Promise<void> {
    try {
      await this.#kv.delete(key, { previousSeq: revision });
    } catch (err) {
      throw natsError(err, `${this.#name}/${key}`);
    }
  }
  async keys(prefix: string): Promise<string[]> {
    try {
      const out: string[] = [];
      for await (const k of await this.#kv.keys()) if (k.startsWith(prefix)) out.push(k);
      return out.sort();
    } catch (err) {
      throw natsError(err, `${this.#name}/keys`);
    }
  }
}

/**
 * Reads a partition through an ordered consumer's `consume()`: the client keeps pulls
 * outstanding, recreates the consumer at the right sequence after a gap or a reconnect, and
 * we buffer what arrives (at most `BUFFER` messages ahead of the caller).
 */
class JsReader implements PartitionReader {
  readonly #queue: BusMessage[] = [];
  #wake: (() => void) | undefined;
  #error: Error | undefined;
  #messages: ConsumerMessages | undefined;
  #closed = false;

  constructor(consumer: Consumer) {
    void this.#pump(consumer);
  }

  async #pump(consumer: Consumer): Promise<void> {
    try {
      this.#messages = await consumer.consume({ max_messages: BUFFER });
      if (this.#closed) await this.#messages.close();
      for await (const m of this.#messages) {
        this.#queue.push({ seq: m.seq, data: m.data });
        this.#wake?.();
      }
    } catch (err) {
      this.#error = err as Error;
      this.#wake?.();
    }
  }

  async next(max: number, waitMs: number): Promise<BusMessage[]> {
    if (this.#queue.length === 0 && !this.#error && waitMs > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, waitMs);
        const self = this;
        function done() {
          clearTimeout(t);
          self.#wake = undefined;
          resolve();
        }
        this.#wake = done;
      });
    }
    if (this.#queue.length === 0 && this.#error) throw natsError(this.#error, 'read');
    return this.#queue.splice(0, max);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#messages?.close().catch(() => undefined);
  }
}

const BUFFER = 512;

export class JetStreamBus implements Bus {
  readonly partitions: number;
  readonly leaseTtlMs: number;
  readonly meta: CasKv;
  readonly leases: CasKv;
  readonly stream: string;
  readonly nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #publishTimeoutMs: number;
  readonly #subjects: string[];
  readonly #buckets: string[];
  readonly #readers = new Set<JsReader>();

  constructor(init: { nc: NatsConnection; js: JetStreamClient; jsm: JetStreamManager; stream: string; partitions: number; leaseTtlMs: number; meta: KV; leases: KV; publishTimeoutMs: number }) {
    this.nc = init.nc;
    this.#js = init.js;
    this.#jsm = init.jsm;
    this.stream = init.stream;
    this.partitions = init.partitions;
    this.leaseTtlMs = init.leaseTtlMs;
    this.meta = new JsKv(init.meta, `${init.stream}-meta`);
    this.leases = new JsKv(init.leases, `${init.stream}-leases`);
    this.#publishTimeoutMs = init.publishTimeoutMs;
    this.#subjects = Array.from({ length: init.partitions }, (_, i) => `${init.stream}.p.${i}`);
    this.#buckets = [`${init.stream}-meta`, `${init.stream}-leases`];
  }

  #subject(partition: number): string {
    const s = this.#subjects[partition];
    if (s === undefined) throw new TidemarkError('TM_ERR_INPUT', `expected a partition from 0 to ${this.partitions - 1}, got ${partition}`, 'partition');
    return s;
  }

  async publish(partition: number, data: Uint8Array): Promise<number> {
    const subject = this.#subject(partition);
    try {
      const ack = await this.#js.publish(subject, data, { timeout: this.#publishTimeoutMs });
      return ack.seq;
    } catch (err) {
      throw natsError(err, `publish to ${subject}`);
    }
  }

  async reader(partition: number, fromSeq: number): Promise<PartitionReader> {
    const subject = this.#subject(partition);
    try {
      const c = await this.#js.consumers.get(this.stream, {
        filter_subjects: subject, // a string, so the client sends 2.9's single filter_subject
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: Math.max(1, fromSeq),
      });
      const r = new JsReader(c);
      this.#readers.add(r);
      return r;
    } catch (err) {
      throw natsError(err, `read ${subject}`);
    }
  }

  async trim(partition: number, belowSeq: number): Promise<void> {
    const subject = this.#subject(partition);
    try {
      await this.#jsm.streams.purge(this.stream, { filter: subject, seq: belowSeq });
    } catch (err) {
      throw natsError(err, `trim ${subject}`);
    }
  }

  /**
   * A core NATS subject beside the stream (`<prefix>.ctl`, outside its `<prefix>.p.*`): nothing
   * is stored, and a process that is disconnected misses what was said meanwhile.
   */
  async announce(data: Uint8Array): Promise<void> {
    try {
      this.nc.publish(`${this.stream}.ctl`, data);
      await this.nc.flush();
    } catch (err) {
      throw natsError(err, `${this.stream}.ctl`);
    }
  }

  onAnnounce(fn: (data: Uint8Array) => void): () => void {
    // The client subscribes again by itself after a reconnect.
    const sub = this.nc.subscribe(`${this.stream}.ctl`, {
      callback: (err, msg) => {
        if (!err) fn(msg.data);
      },
    });
    return () => sub.unsubscribe();
  }

  /** Deletes the stream and both buckets (tests, `tidemark` has no command for it). */
  async destroy(): Promise<void> {
    await this.#jsm.streams.delete(this.stream).catch(() => false);
    for (const b of this.#buckets) await this.#jsm.streams.delete(`KV_${b}`).catch(() => false);
  }

  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    await this.nc.close();
  }
}

/**
 * Connects to NATS and opens (creating on first use) the stream and buckets of a cluster.
 * Rejects with TM_ERR_UNAVAILABLE when NATS is unreachable, TM_ERR_CONFIG when `partitions`
 * disagrees with the cluster's.
 * @example const bus = await openJetStreamBus({ url: 'nats://127.0.0.1:4222', partitions: 64 });
 */
export async function openJetStreamBus(options: JetStreamBusOptions): Promise<JetStreamBus> {
  const o = { ...DEFAULTS, ...options };
  if (!NAME.test(o.prefix)) throw new TidemarkError('TM_ERR_CONFIG', `expected 1-64 characters of [A-Za-z0-9_-], got ${JSON.stringify(o.prefix)}`, 'prefix');
  if (options.partitions !== undefined) checkPartitions(options.partitions);
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: o.url.split(',').map((s) => s.trim().replace(/^nats:\/\//, '')),
      timeout: o.connectTimeoutMs,
      name: `tidemark-${process.pid}`,
      // Keep trying for ever: the node answers 503 meanwhile and recovers by itself.
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    });
  } catch (err) {
    throw new TidemarkError('TM_ERR_UNAVAILABLE', `cannot connect to NATS at ${o.url}: ${(err as Error).message}`, '--nats');
  }
  try {
    const jsm = await jetstreamManager(nc, { timeout: o.publishTimeoutMs });
    const js = jetstream(nc, { timeout: o.publishTimeoutMs });
    const kvm = new Kvm(js);
    const storage = o.storage === 'memory' ? 'memory' : 'file';
    const meta = await kvm.create(`${o.prefix}-meta`, { history: 1, storage: storage as never });
    const leases = await kvm.create(`${o.prefix}-leases`, { history: 1, ttl: o.leaseTtlMs, storage: storage as never });
    const metaKv = new JsKv(meta, `${o.prefix}-meta`);
    // The partition count: first writer wins, everyone else reads it.
    const want = options.partitions ?? o.partitions;
    let stored = await metaKv.get('partitions');
    if (!stored) {
      try {
        await metaKv.create('partitions', new TextEncoder().encode(String(want)));
      } catch (err) {
        if (!(err instanceof TidemarkError && err.code === 'TM_ERR_CONFLICT')) throw err;
      }
      stored = await metaKv.get('partitions');
    }
    const partitions = Number(new TextDecoder().decode(stored!.value));
    checkPartitions(partitions, `${o.prefix}-meta/partitions`);
    if (options.partitions !== undefined && options.partitions !== partitions) {
      throw new TidemarkError('TM_ERR_CONFIG', `the cluster "${o.prefix}" was created with ${partitions} partitions; the count is fixed (got ${options.partitions})`, 'partitions');
    }
    const config = {
      name: o.prefix,
      subjects: [`${o.prefix}.p.*`],
      storage: storage as never,
      max_age: o.maxAgeMs * 1_000_000, // nanoseconds
      num_replicas: 1,
    };
    try {
      await jsm.streams.info(o.prefix);
    } catch {
      await jsm.streams.add(config).catch(async (err: Error) => {
        // Another node created it between our info and add.
        await jsm.streams.info(o.prefix).catch(() => {
          throw err;
        });
      });
    }
    return new JetStreamBus({ nc, js, jsm, stream: o.prefix, partitions, leaseTtlMs: o.leaseTtlMs, meta, leases, publishTimeoutMs: o.publishTimeoutMs });
  } catch (err) {
    await nc.close().catch(() => undefined);
    throw natsError(err, 'open the bus');
  }
}
