/**
 * A cluster worker: leases partitions of the bus, restores their series from checkpoints and
 * their cursor (the bus sequence the checkpoints cover), applies their messages in order through
 * the same Engine as `tidemark serve`, and checkpoints state together with the cursor.
 *
 * Why nothing is applied twice: a detector moves only for points newer than its series' last
 * judged time, and checkpoints are written before the cursor that says they cover it. A new owner
 * replays from the cursor: messages the old owner applied after it are either covered by a later
 * checkpoint (their points are not newer, so they are stored again idempotently but not judged)
 * or not (they are judged now, live, and alert upserts by fingerprint absorb a second judgement).
 */
import { partitionOf, Leases, type Bus, type BusMessage, type Lease, type PartitionReader } from '../bus/index.ts';
import { createEngine, type Engine, type EngineOptions, type IngestMode } from '../engine/index.ts';
import { TidemarkError } from '../errors.ts';
import { IngestBatch } from '../ingest/index.ts';
import { seriesKey } from '../ingest/names.ts';
import type { Alert, Labels, Store } from '../store/index.ts';
import { decodeChange, type ClusterChange } from './changes.ts';
import { decodeInto, peekHeader } from './codec.ts';

export interface WorkerOptions {
  readonly bus: Bus;
  readonly store: Store;
  /** Unique per process; default `<hostname-ish>-<pid>-<random>`. */
  readonly id?: string;
  readonly clock?: () => number;
  /** How often leases are renewed and rebalanced (ms). Default a third of the lease TTL. */
  readonly tickMs?: number;
  /** How often state and cursors are checkpointed (ms). Default 5 s: the replay after a failover. */
  readonly checkpointEveryMs?: number;
  /**
   * How often configs, silences and acks are re-read from the store (ms). Default 5 s. Writes
   * through a node's API are announced and apply at once; this catches announcements missed.
   */
  readonly refreshEveryMs?: number;
  /** Messages fetched per read. Default 256. */
  readonly batchMessages?: number;
  /** At most this many partitions (default: a fair share of the live workers). */
  readonly maxPartitions?: number;
  /** Engine options (alerting, limits); store, clock and the cluster switches are set here. */
  readonly engine?: Partial<EngineOptions>;
  readonly log?: (line: string) => void;
}

/** Counters for /metrics, the benchmark and tests. */
export interface WorkerStats {
  messages: number;
  samples: number;
  acquired: number;
  released: number;
  lost: number;
  checkpoints: number;
  retries: number;
  /** Announced writes (acks, silences, configs) applied. */
  changes: number;
  /** Open alerts dropped from the alert stage with the partitions given up. */
  forgotten: number;
}

const DEFAULTS = Object.freeze({
  checkpointEveryMs: 5_000, // 5 s: at most this much of a partition is replayed after a failover
  batchMessages: 256,
  readWaitMs: 500, // a read returns after this long when the partition is idle
  retryMs: 500, // wait before re-applying a message whose store write failed
  refreshMs: 5_000, // config versions and silences stored by other nodes apply within this
});

const LEASE = 'lease.p.';
const MEMBERS = 'members';
const MERGE_BYTES = 4 << 20; // 4 MiB of messages at most in one engine batch
// Few enough that a worker catching up on a backlog still hands the alert stage points in
// small steps (its timers run on the wall clock between batches).
const MERGE_MESSAGES = 8;
const CURSOR = 'cursor.';
const te = new TextEncoder();
const td = new TextDecoder();

/** Partition loops apply messages inside `enter/leave`; a checkpoint runs alone. */
class Gate {
  #active = 0;
  #exclusive: Promise<void> | undefined;
  #idle: (() => void) | undefined;

  async enter(): Promise<void> {
    while (this.#exclusive) await this.#exclusive;
    this.#active++;
  }
  leave(): void {
    if (--this.#active === 0) this.#idle?.();
  }
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    while (this.#exclusive) await this.#exclusive;
    let done!: () => void;
    this.#exclusive = new Promise((r) => (done = r));
    try {
      if (this.#active > 0) await new Promise<void>((r) => (this.#idle = r));
      this.#idle = undefined;
      return await fn();
    } finally {
      this.#exclusive = undefined;
      done();
    }
  }
}

interface Run {
  readonly partition: number;
  lease: Lease;
  reader: PartitionReader | undefined;
  /** The last sequence applied to the engine. */
  applied: number;
  /** The sequence the stored cursor covers, and its key revision (0: no cursor yet). */
  cursor: number;
  cursorRevision: number;
  stopping: boolean;
  loop: Promise<void> | undefined;
  readonly batch: IngestBatch;
}

export class ClusterWorker {
  readonly id: string;
  readonly engine: Engine;
  readonly stats: WorkerStats = { messages: 0, samples: 0, acquired: 0, released: 0, lost: 0, checkpoints: 0, retries: 0, changes: 0, forgotten: 0 };
  readonly #bus: Bus;
  readonly #store: Store;
  readonly #leases: Leases;
  readonly #clock: () => number;
  readonly #o: Required<Pick<WorkerOptions, 'checkpointEveryMs' | 'batchMessages' | 'refreshEveryMs'>> & { tickMs: number; maxPartitions: number };
  readonly #log: (line: string) => void;
  readonly #runs = new Map<number, Run>();
  readonly #gate = new Gate();
  #workers = 1;
  /** Partitions being handed over in the background (their runs are stopping). */
  readonly #releasing = new Set<Promise<void>>();
  #lastCheckpoint = 0;
  #lastRefresh = 0;
  #control: Promise<void> | undefined;
  #renewing: Promise<void> | undefined;
  #stopped = false;
  readonly #wakers = new Set<() => void>();
  #unsubscribe: (() => void) | undefined;
  /** Announced changes apply one after another, in the order they were heard. */
  #changes: Promise<void> = Promise.resolve();

  private constructor(o: WorkerOptions, engine: Engine, clock: () => number) {
    this.#bus = o.bus;
    this.#store = o.store;
    this.#clock = clock;
    this.engine = engine;
    this.id = o.id ?? `worker-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    this.#leases = new Leases(o.bus.leases, clock);
    this.#o = {
      checkpointEveryMs: o.checkpointEveryMs ?? DEFAULTS.checkpointEveryMs,
      batchMessages: o.batchMessages ?? DEFAULTS.batchMessages,
      refreshEveryMs: o.refreshEveryMs ?? DEFAULTS.refreshMs,
      tickMs: o.tickMs ?? Math.max(50, Math.floor(o.bus.leaseTtlMs / 3)),
      maxPartitions: o.maxPartitions ?? Infinity,
    };
    this.#log = o.log ?? (() => undefined);
  }

  /**
   * Starts a worker: registers it, then takes its share of the partitions in the background.
   * @example const w = await ClusterWorker.start({ bus, store }); ...; await w.stop();
   */
  static async start(o: WorkerOptions): Promise<ClusterWorker> {
    const clock = o.clock ?? Date.now;
    let lastSeq = 0;
    const engine = await createEngine({
      ...o.engine,
      store: o.store,
      clock,
      checkpointIntervalMs: 0, // the worker checkpoints, with the cursors
      restoreEvery: true,
      replayStored: false,
      // Clock-based and increasing, so the next owner's checkpoints are never refused as older.
      checkpointSeq: () => (lastSeq = Math.max(lastSeq + 1, clock() * 1000)),
    });
    const w = new ClusterWorker(o, engine, clock);
    w.#unsubscribe = o.bus.onAnnounce((data) => {
      const c = decodeChange(data);
      if (c) w.#changes = w.#changes.then(() => w.#apply(c)).catch((err: Error) => w.#log(`worker ${w.id}: applying ${c.kind} of tenant ${c.tenant}: ${err.message}`));
    });
    w.#workers = await w.#beat();
    w.#renewing = w.#renewLoop();
    w.#control = w.#controlLoop();
    return w;
  }

  /**
   * A write made on a node: read it back from the store into this worker's engine and stage. An
   * ack or silence for alerts this worker does not own changes nothing here.
   */
  async #apply(c: ClusterChange): Promise<void> {
    if (this.#stopped) return;
    const al = this.engine.alerting;
    if (c.kind === 'config') await this.engine.refreshConfigs();
    else if (c.kind === 'silences') await al?.reloadSilences(c.tenant);
    else await al?.syncAcks(c.tenant, c.fingerprint);
    this.stats.changes++;
  }

  /** Partitions this worker holds now, ascending. */
  owned(): number[] {
    return [...this.#runs.keys()].sort((a, b) => a - b);
  }

  /** The last applied sequence of each owned partition. */
  applied(): Map<number, number> {
    return new Map([...this.#runs].map(([p, r]) => [p, r.applied]));
  }

  /**
   * Renews this worker's entry in the member list (one key, updated by compare-and-set, expired
   * entries dropped by whoever writes next) and returns how many workers are alive. One key,
   * not a key per worker: listing a bucket's keys is not consistent while they are being written.
   */
  async #beat(leave = false): Promise<number> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const now = this.#clock();
      const cur = await this.#bus.leases.get(MEMBERS);
      let members: Record<string, number> = {};
      try {
        if (cur) members = JSON.parse(td.decode(cur.value)) as Record<string, number>;
      } catch {
        members = {};
      }
      for (const [id, until] of Object.entries(members)) if (!(until > now)) delete members[id];
      if (leave) delete members[this.id];
      else members[this.id] = now + this.#bus.leaseTtlMs;
      const value = te.encode(JSON.stringify(members));
      try {
        if (cur) await this.#bus.leases.update(MEMBERS, value, cur.revision);
        else await this.#bus.leases.create(MEMBERS, value);
        return Object.keys(members).length;
      } catch (err) {
        if (!(err instanceof TidemarkError && err.code === 'TM_ERR_CONFLICT')) throw err;
      }
    }
    throw new TidemarkError('TM_ERR_UNAVAILABLE', 'the member list kept changing under us', MEMBERS);
  }

  /** Sleeps `ms` unless the worker stops meanwhile. */
  #pause(ms: number): Promise<void> {
    return new Promise<void>((r) => {
      if (this.#stopped) return r();
      const t = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(t);
        self.#wakers.delete(done);
        r();
      }
      this.#wakers.add(done);
    });
  }

  /**
   * Heartbeat and lease renewal on their own loop: a slow checkpoint or store must not let
   * the leases lapse (that would move partitions away from a worker that is merely busy).
   */
  async #renewLoop(): Promise<void> {
    while (!this.#stopped) {
      try {
        this.#workers = await this.#beat();
        await this.#renew();
      } catch (err) {
        this.#log(`worker ${this.id}: renewing leases: ${(err as Error).message}`);
      }
      await this.#pause(this.#o.tickMs);
    }
  }

  async #controlLoop(): Promise<void> {
    while (!this.#stopped) {
      try {
        await this.#tick();
      } catch (err) {
        this.#log(`worker ${this.id}: ${(err as Error).message}`);
      }
      await this.#pause(Math.min(this.#o.tickMs, this.#o.checkpointEveryMs));
    }
  }

  /** Checkpoints when due, rebalances, picks up config changes. */
  async #tick(): Promise<void> {
    if (this.#clock() - this.#lastCheckpoint >= this.#o.checkpointEveryMs) await this.checkpoint();
    await this.#rebalance();
    if (this.#clock() - this.#lastRefresh >= this.#o.refreshEveryMs) {
      this.#lastRefresh = this.#clock();
      // Config versions and silences are written through any node's API into the store.
      await this.engine.refreshConfigs();
      // Announcements are the fast path; this poll catches those missed while NATS was away.
      if (this.engine.alerting) {
        for (const t of await this.#store.tenants.list()) {
          await this.engine.alerting.reloadSilences(t.id);
          await this.engine.alerting.syncAcks(t.id);
        }
      }
    }
  }

  async #renew(): Promise<void> {
    const lost: Run[] = [];
    await Promise.all([...this.#runs.values()].map(async (run) => {
      if (run.stopping) return;
      const l = await this.#leases.renew(run.lease, this.#bus.leaseTtlMs);
      if (l) run.lease = l;
      else lost.push(run);
    }));
    if (lost.length > 0) await this.#gate.exclusive(async () => lost.forEach((r) => this.#runs.get(r.partition) === r && this.#lose(r)));
  }

  /**
   * A lease taken over by someone else: stop at once, keep nothing of it, checkpoint nothing.
   * Called inside the gate's exclusive section, so no message of it is being applied; its loop
   * sees `stopping` when it next enters.
   */
  #lose(run: Run): void {
    this.#log(`worker ${this.id}: lost partition ${run.partition}`);
    this.stats.lost++;
    run.stopping = true;
    this.#runs.delete(run.partition);
    void run.loop?.then(() => run.reader?.close()).catch(() => undefined);
    void this.engine.release((_tenant, key) => partitionOf(key, this.#bus.partitions) === run.partition, false);
    this.#forget(run.partition, false);
  }

  /** The partition of a series given by metric and labels (the key ingest nodes hash). */
  #partitionOfSeries(metric: string, labels: Labels): number {
    const flat = Object.entries(labels).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)).flat();
    return partitionOf(seriesKey(metric, flat, flat.length), this.#bus.partitions);
  }

  /** Drops a partition's open alerts from the alert stage: its new owner restores them from the store. */
  #forget(partition: number, persist = true): void {
    const al = this.engine.alerting;
    if (!al) return;
    const n = al.stage.forget((_tenant, metric, labels) => {
      return this.#partitionOfSeries(metric, labels) === partition;
    }, persist);
    this.stats.forgotten += n;
    al.pump(); // writes the changed alerts persisted on the way out
  }

  /** Takes free or expired partitions up to a fair share; gives extras back when others joined. */
  async #rebalance(): Promise<void> {
    if (this.#releasing.size > 0) return; // one hand-over at a time
    const P = this.#bus.partitions;
    const share = Math.min(this.#o.maxPartitions, Math.ceil(P / Math.max(1, this.#workers)));
    const mine = this.owned();
    if (mine.length > share) {
      // Give back the highest-numbered extras, in the background so that renewing the other
      // leases is not held up by the partitions' reads finishing.
      for (const p of mine.slice(share)) {
        const task: Promise<void> = this.#release(this.#runs.get(p)!)
          .catch((err: Error) => this.#log(`worker ${this.id}: releasing partition ${p}: ${err.message}`))
          .finally(() => this.#releasing.delete(task));
        this.#releasing.add(task);
      }
      return;
    }
    if (mine.length === share) return;
    // Start at a point of our own so workers starting together do not all race for partition 0.
    let start = 0;
    for (let i = 0; i < this.id.length; i++) start = (start * 31 + this.id.charCodeAt(i)) >>> 0;
    for (let k = 0; k < P && this.#runs.size < share && !this.#stopped; k++) {
      const p = (start + k) % P;
      if (this.#runs.has(p)) continue;
      const lease = await this.#leases.acquire(`${LEASE}${p}`, this.id, this.#bus.leaseTtlMs);
      if (lease) await this.#startRun(p, lease);
    }
  }

  async #startRun(partition: number, lease: Lease): Promise<void> {
    const cur = await this.#bus.meta.get(`${CURSOR}${partition}`);
    const cursor = cur ? Number(JSON.parse(td.decode(cur.value)).seq) : 0;
    // Open alerts of this partition's series: continue their episodes instead of opening new ones.
    if (this.engine.alerting) {
      for (const t of await this.#store.tenants.list()) {
        const mineAlerts: Alert[] = [];
        for (const a of await this.#store.alerts.list({ tenant: t.id, states: ['pending', 'firing'] })) {
          if (a.seriesId === null) continue;
          const s = await this.#store.series.get(t.id, a.seriesId);
          if (!s) continue;
          if (this.#partitionOfSeries(s.metric, s.labels) === partition) mineAlerts.push(a);
        }
        if (mineAlerts.length > 0) await this.engine.alerting.restoreOpen(t.id, (a) => mineAlerts.some((m) => m.fingerprint === a.fingerprint), true);
      }
    }
    const run: Run = {
      partition,
      lease,
      reader: await this.#bus.reader(partition, cursor + 1),
      applied: cursor,
      cursor,
      cursorRevision: cur?.revision ?? 0,
      stopping: false,
      loop: undefined,
      batch: new IngestBatch({ now: this.#clock, maxFutureMs: Number.MAX_SAFE_INTEGER }),
    };
    this.#runs.set(partition, run);
    this.stats.acquired++;
    this.#log(`worker ${this.id}: took partition ${partition} at sequence ${cursor + 1}`);
    run.loop = this.#consume(run);
  }

  async #consume(run: Run): Promise<void> {
    while (!run.stopping) {
      let msgs;
      try {
        msgs = await run.reader!.next(this.#o.batchMessages, DEFAULTS.readWaitMs);
      } catch (err) {
        this.#log(`worker ${this.id}: partition ${run.partition}: ${(err as Error).message}`);
        await sleep(DEFAULTS.retryMs);
        continue;
      }
      // Consecutive messages of one tenant and mode go to the engine as one batch: one pass and
      // one store transaction instead of one per message (ingest nodes publish small messages).
      let i = 0;
      while (i < msgs.length) {
        if (run.stopping) return;
        if (msgs[i].seq <= run.applied) {
          i++; // a reader restarted by the client may repeat
          continue;
        }
        const head = peekHeader(msgs[i].data);
        let j = i + 1;
        let bytes = msgs[i].data.length;
        while (head && j < msgs.length && j - i < MERGE_MESSAGES && bytes < MERGE_BYTES) {
          const h = peekHeader(msgs[j].data);
          if (!h || h.tenant !== head.tenant || h.mode !== head.mode) break;
          bytes += msgs[j].data.length;
          j++;
        }
        const group = msgs.slice(i, j);
        i = j;
        await this.#gate.enter();
        try {
          if (run.stopping) return;
          await this.#applyOne(run, group);
        } finally {
          this.#gate.leave();
        }
        if (run.stopping && run.applied < group[group.length - 1].seq) return;
      }
    }
  }

  /**
   * Applies one message, retrying while the store is down; `applied` moves only on success.
   * A retry after the detectors already judged the batch (only its writes failed) goes in as
   * replay: stored, not judged or alerted again, and not refused as older than the tolerance.
   */
  async #applyOne(run: Run, group: readonly BusMessage[]): Promise<void> {
    const seq = group[group.length - 1].seq;
    for (let attempt = 0; ; attempt++) {
      let decoded!: { tenant: string; mode: IngestMode };
      try {
        for (let k = 0; k < group.length; k++) decoded = decodeInto(group[k].data, run.batch, k > 0);
      } catch (err) {
        if (group.length > 1) {
          // Apply them one by one, so only the malformed one is skipped.
          for (const m of group) await this.#applyOne(run, [m]);
          return;
        }
        // Not written by Tidemark: skipping it is all a retry could do too.
        this.#log(`worker ${this.id}: partition ${run.partition}: skipped message ${seq}: ${(err as Error).message}`);
        run.applied = seq;
        return;
      }
      try {
        if (run.batch.length > 0) {
          const mode = attempt > 0 && decoded.mode === 'live' && this.#judged(decoded.tenant, run.batch) ? 'replay' : decoded.mode;
          const o = await this.engine.ingest(decoded.tenant, run.batch, mode);
          this.stats.samples += o.accepted;
        }
        this.stats.messages += group.length;
        run.applied = seq;
        return;
      } catch (err) {
        if (run.stopping) return;
        this.stats.retries++;
        this.#log(`worker ${this.id}: partition ${run.partition}: message ${seq} not applied, retrying: ${(err as Error).message}`);
        this.#gate.leave(); // let a checkpoint or a stop through while we wait
        await sleep(DEFAULTS.retryMs);
        await this.#gate.enter();
        if (run.stopping) return;
      }
    }
  }

  /** True when every series of the batch is live and already judged up to its newest point. */
  #judged(tenant: string, b: IngestBatch): boolean {
    const newest = new Float64Array(b.seriesCount).fill(-Infinity);
    const sids = b.seriesIds;
    const t = b.timestamps;
    for (let i = 0; i < b.length; i++) if (t[i] > newest[sids[i]]) newest[sids[i]] = t[i];
    for (let s = 0; s < b.seriesCount; s++) {
      const info = this.engine.seriesInfo(tenant, b.seriesKey(s));
      if (!info || info.lastT < newest[s]) return false;
    }
    return true;
  }

  async #stopRun(run: Run): Promise<void> {
    run.stopping = true;
    await run.loop;
    await run.reader?.close().catch(() => undefined);
    this.#runs.delete(run.partition);
  }

  /** Hands a partition over: checkpoint, cursor, drop its series, release the lease. */
  async #release(run: Run): Promise<void> {
    run.stopping = true;
    await run.loop;
    await this.checkpoint([run]);
    await this.#stopRun(run);
    await this.engine.release((tenant, key) => partitionOf(key, this.#bus.partitions) === run.partition);
    this.#forget(run.partition);
    await this.engine.alerting?.settled();
    await this.#leases.release(run.lease).catch(() => false);
    this.stats.released++;
    this.#log(`worker ${this.id}: released partition ${run.partition} at sequence ${run.applied}`);
  }

  /**
   * Checkpoints every changed series, then writes the cursor of each partition (all, or `only`)
   * whose applied sequence moved, and trims the bus below it. A lease about to lapse (its
   * renewal is late) gets no cursor: the compare-and-set on the cursor key is the last guard
   * against writing over a new owner.
   */
  async checkpoint(only?: Run[]): Promise<void> {
    await this.#gate.exclusive(async () => {
      const al = this.engine.alerting;
      if (al) {
        al.stage.persistAll();
        al.pump();
        await al.settled();
      }
      await this.engine.checkpoint();
      this.#lastCheckpoint = this.#clock();
      for (const run of only ?? [...this.#runs.values()]) {
        if (run.applied <= run.cursor || this.#runs.get(run.partition) !== run) continue;
        if (run.lease.expiresAt - this.#clock() < this.#o.tickMs) continue; // renewal overdue: maybe not ours
        const value = te.encode(JSON.stringify({ seq: run.applied, worker: this.id, at: this.#clock() }));
        const key = `${CURSOR}${run.partition}`;
        try {
          run.cursorRevision = run.cursorRevision === 0 ? await this.#bus.meta.create(key, value) : await this.#bus.meta.update(key, value, run.cursorRevision);
        } catch (err) {
          if (err instanceof TidemarkError && err.code === 'TM_ERR_CONFLICT') {
            this.#lose(run); // someone else owns it now
            continue;
          }
          throw err;
        }
        run.cursor = run.applied;
        this.stats.checkpoints++;
        await this.#bus.trim(run.partition, run.cursor + 1).catch((err: Error) => this.#log(`worker ${this.id}: trim failed: ${err.message}`));
      }
    });
  }

  /** Stops consuming, checkpoints, releases every lease, closes the engine (not the bus or store). */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#unsubscribe?.();
    for (const wake of [...this.#wakers]) wake();
    await this.#control;
    await this.#renewing;
    await Promise.all([...this.#releasing]);
    const runs = [...this.#runs.values()];
    for (const r of runs) r.stopping = true;
    await Promise.all(runs.map((r) => r.loop));
    await this.checkpoint(runs).catch((err: Error) => this.#log(`worker ${this.id}: final checkpoint failed: ${err.message}`));
    for (const r of runs) {
      await r.reader?.close().catch(() => undefined);
      await this.#leases.release(r.lease).catch(() => false);
    }
    this.#runs.clear();
    await this.#changes;
    await this.#beat(true).catch(() => 0);
    await this.engine.close();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
