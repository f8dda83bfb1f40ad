/**
 * The in-process bus: one process (tests, the embedded server's future use of the same worker
 * code). Durable only as long as the process lives.
 */
import { TidemarkError } from '../errors.ts';
import { DEFAULT_PARTITIONS, MAX_PARTITIONS, type Bus, type BusMessage, type CasKv, type KvEntry, type PartitionReader } from './types.ts';

export interface MemoryBusOptions {
  readonly partitions?: number;
  readonly leaseTtlMs?: number;
  /** Judges key expiry in `leases`; default Date.now. */
  readonly clock?: () => number;
}

export function checkPartitions(n: unknown, field = 'partitions'): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_PARTITIONS) {
    throw new TidemarkError('TM_ERR_CONFIG', `expected an integer from 1 to ${MAX_PARTITIONS}, got ${JSON.stringify(n)}`, field);
  }
  return n;
}

/** A map with revisions; with `ttlMs`, a key written longer ago than that reads as absent. */
export class MemoryKv implements CasKv {
  readonly #m = new Map<string, { value: Uint8Array; revision: number; at: number }>();
  #revision = 0;
  readonly #ttlMs: number;
  readonly #clock: () => number;

  constructor(ttlMs = Infinity, clock: () => number = Date.now) {
    this.#ttlMs = ttlMs;
    this.#clock = clock;
  }

  #live(key: string): { value: Uint8Array; revision: number; at: number } | undefined {
    const e = this.#m.get(key);
    if (e && this.#clock() - e.at >= this.#ttlMs) {
      this.#m.delete(key);
      return undefined;
    }
    return e;
  }

  async get(key: string): Promise<KvEntry | undefined> {
    const e = this.#live(key);
    return e && { value: e.value.slice(), revision: e.revision };
  }

  async create(key: string, value: Uint8Array): Promise<number> {
    if (this.#live(key)) throw new TidemarkError('TM_ERR_CONFLICT', 'the key already has a value', key);
    this.#m.set(key, { value: value.slice(), revision: ++this.#revision, at: this.#clock() });
    return this.#revision;
  }

  async update(key: string, value: Uint8Array, revision: number): Promise<number> {
    const e = this.#live(key);
    if (!e || e.revision !== revision) throw new TidemarkError('TM_ERR_CONFLICT', `the key is no longer at revision ${revision}`, key);
    this.#m.set(key, { value: value.slice(), revision: ++this.#revision, at: this.#clock() });
    return this.#revision;
  }

  async delete(key: string, revision: number): Promise<void> {
    const e = this.#live(key);
    if (!e || e.revision !== revision) throw new TidemarkError('TM_ERR_CONFLICT', `the key is no longer at revision ${revision}`, key);
    this.#m.delete(key);
  }

  async keys(prefix: string): Promise<string[]> {
    return [...this.#m.keys()].filter((k) => k.startsWith(prefix) && this.#live(k)).sort();
  }
}

class MemoryReader implements PartitionReader {
  readonly #bus: MemoryBus;
  readonly #log: BusMessage[];
  #pos: number;
  #closed = false;

  constructor(bus: MemoryBus, log: BusMessage[], fromSeq: number) {
    this.#bus = bus;
    this.#log = log;
    // Binary search: the first message with seq >= fromSeq.
    let lo = 0;
    let hi = log.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (log[mid].seq < fromSeq) lo = mid + 1;
      else hi = mid;
    }
    this.#pos = lo;
  }

  async next(max: number, waitMs: number): Promise<BusMessage[]> {
    if (this.#closed) throw new TidemarkError('TM_ERR_STATE', 'the reader is closed', 'reader');
    if (this.#pos >= this.#log.length && waitMs > 0) await this.#bus.waitForPublish(waitMs);
    const out = this.#log.slice(this.#pos, this.#pos + max);
    this.#pos += out.length;
    return out;
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  /** Trimming shifts the log: keep pointing at the same message. */
  shifted(n: number): void {
    this.#pos = Math.max(0, this.#pos - n);
  }
}

export class MemoryBus implements Bus {
  readonly partitions: number;
  readonly leaseTtlMs: number;
  readonly meta: MemoryKv;
  readonly leases: MemoryKv;
  readonly #logs: BusMessage[][];
  readonly #readers: Set<MemoryReader>[];
  #seq = 0;
  #waiters: (() => void)[] = [];
  #closed = false;
  readonly #listeners = new Set<(data: Uint8Array) => void>();

  constructor(o: MemoryBusOptions = {}) {
    this.partitions = checkPartitions(o.partitions ?? DEFAULT_PARTITIONS);
    this.leaseTtlMs = o.leaseTtlMs ?? 10_000;
    this.meta = new MemoryKv();
    this.leases = new MemoryKv(this.leaseTtlMs, o.clock);
    this.#logs = Array.from({ length: this.partitions }, () => []);
    this.#readers = Array.from({ length: this.partitions }, () => new Set());
  }

  #check(partition: number): void {
    if (this.#closed) throw new TidemarkError('TM_ERR_UNAVAILABLE', 'the bus is closed', 'bus');
    if (!Number.isInteger(partition) || partition < 0 || partition >= this.partitions) {
      throw new TidemarkError('TM_ERR_INPUT', `expected a partition from 0 to ${this.partitions - 1}, got ${partition}`, 'partition');
    }
  }

  async publish(partition: number, data: Uint8Array): Promise<number> {
    this.#check(partition);
    const seq = ++this.#seq;
    this.#logs[partition].push({ seq, data: data.slice() });
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
    return seq;
  }

  /** @internal Resolves at the next publish or after `ms`. */
  waitForPublish(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.#waiters.push(done);
    });
  }

  async reader(partition: number, fromSeq: number): Promise<PartitionReader> {
    this.#check(partition);
    const r = new MemoryReader(this, this.#logs[partition], fromSeq);
    this.#readers[partition].add(r);
    return r;
  }

  async trim(partition: number, belowSeq: number): Promise<void> {
    this.#check(partition);
    const log = this.#logs[partition];
    let n = 0;
    while (n < log.length && log[n].seq < belowSeq) n++;
    log.splice(0, n);
    for (const r of this.#readers[partition]) r.shifted(n);
  }

  async announce(data: Uint8Array): Promise<void> {
    if (this.#closed) throw new TidemarkError('TM_ERR_UNAVAILABLE', 'the bus is closed', 'bus');
    const copy = data.slice();
    // Later, as over a network: a listener never runs inside the announcer's call.
    for (const fn of this.#listeners) setImmediate(() => fn(copy));
  }

  onAnnounce(fn: (data: Uint8Array) => void): () => void {
    const f = (d: Uint8Array) => fn(d);
    this.#listeners.add(f);
    return () => this.#listeners.delete(f);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.clear();
    for (const f of this.#waiters) f();
    this.#waiters = [];
  }
}
