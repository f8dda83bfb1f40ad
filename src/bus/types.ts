/**
 * The bus contract: partitioned, durable, ordered logs plus a small compare-and-set key-value
 * store for leases and cursors. Two implementations: in-process (memory.ts, one process and
 * tests) and NATS JetStream (jetstream.ts, a cluster). Both pass `runBusConformance`.
 */
import { fnv1a32 } from '../series/index.ts';

/** One stored message of a partition. `seq` grows with every publish and is never reused. */
export interface BusMessage {
  readonly seq: number;
  readonly data: Uint8Array;
}

/** Reads one partition in order. Not shared between callers; `close` when done. */
export interface PartitionReader {
  /**
   * The next messages after those already returned, at most `max`, in sequence order. Waits up
   * to `waitMs` for the first one and resolves to an empty array when none arrived.
   */
  next(max: number, waitMs: number): Promise<BusMessage[]>;
  close(): Promise<void>;
}

/** A key's stored value and the revision a compare-and-set must name. */
export interface KvEntry {
  readonly value: Uint8Array;
  readonly revision: number;
}

/**
 * A key-value store with compare-and-set. Keys are dotted tokens (`[A-Za-z0-9_.-]`). A lost race
 * rejects with TM_ERR_CONFLICT; an unreachable server with TM_ERR_UNAVAILABLE.
 */
export interface CasKv {
  get(key: string): Promise<KvEntry | undefined>;
  /** Stores a value for a key that has none; resolves to its revision. */
  create(key: string, value: Uint8Array): Promise<number>;
  /** Replaces the value stored at exactly `revision`; resolves to the new revision. */
  update(key: string, value: Uint8Array, revision: number): Promise<number>;
  /** Deletes the key if it is still at `revision` (a lost race rejects with TM_ERR_CONFLICT). */
  delete(key: string, revision: number): Promise<void>;
  /** Keys with this prefix that hold a value, sorted. */
  keys(prefix: string): Promise<string[]>;
}

export interface Bus {
  /** Fixed when the bus is created; every node reads the same number. */
  readonly partitions: number;
  /** Stores a message in a partition; resolves with its sequence once it is durable. */
  publish(partition: number, data: Uint8Array): Promise<number>;
  /** A reader of one partition starting at the first message with seq >= `fromSeq`. */
  reader(partition: number, fromSeq: number): Promise<PartitionReader>;
  /** Drops a partition's messages with seq < `belowSeq` (they are applied and checkpointed). */
  trim(partition: number, belowSeq: number): Promise<void>;
  /** Persistent keys: partition cursors. */
  readonly meta: CasKv;
  /** Keys that expire `leaseTtlMs` after their last write: leases and worker heartbeats. */
  readonly leases: CasKv;
  readonly leaseTtlMs: number;
  /**
   * Broadcasts a small message to every process of the cluster that listens now (not stored, at
   * most once): a hint that something changed in the store, whose readers also poll for it.
   */
  announce(data: Uint8Array): Promise<void>;
  /** Calls `fn` for every announcement from now on (its own too); returns the unsubscribe. */
  onAnnounce(fn: (data: Uint8Array) => void): () => void;
  close(): Promise<void>;
}

/** The partition a series key belongs to: FNV-1a of its canonical key, modulo the partition count. */
export function partitionOf(key: string, partitions: number): number {
  return fnv1a32(key) % partitions;
}

export const MAX_PARTITIONS = 4096;
export const DEFAULT_PARTITIONS = 64;
