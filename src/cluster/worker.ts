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
import { groupKeyOf, RULE_LABEL, type AggGroup, type AggregatorState } from '../engine/aggregate.ts';
import { decodeCheckpoint, encodeCheckpoint } from '../engine/checkpoint.ts';
import type { FencedAlert, FenceVerdict } from '../engine/alerting.ts';
import { createEngine, type Engine, type EngineOptions, type IngestMode } from '../engine/index.ts';
import { entityId } from '../engine/multivariate.ts';
import { TidemarkError } from '../errors.ts';
import { IngestBatch } from '../ingest/index.ts';
import { seriesKey } from '../ingest/names.ts';
import type { Alert, Checkpoint, Labels, Store } from '../store/index.ts';
import { decodeChange, type ClusterChange } from './changes.ts';
import { decodeInto, peekHeader } from './codec.ts';
import { applyFeed, decodeFeed, entityPartition, MultivariateFeeds, unitPartition, type ShadowState } from './feeds.ts';

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
  /**
   * Notifications of a partition's alerts go only while its lease has more than this left (ms),
   * by the expiry this worker computed before its last successful renewal; otherwise they wait
   * for the renewal, or are dropped when the lease is lost (the new owner announces them).
   * Default a third of the lease TTL: one renewal may be late before a delivery waits.
   */
  readonly fenceMarginMs?: number;
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
  /** Feed messages (rule aggregates, multivariate entities) applied, and their records. */
  feeds: number;
  feedRecords: number;
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
/** What a partition's unit checkpoint (aggregate groups, multivariate entities) records as its detector entries (a format tag). */
const UNIT_STATE = 'cluster-units/1';
const MV_PREFIX = 'multivariate:';

/** A partition's units of one tenant, as checkpointed. */
interface UnitState {
  rules: AggregatorState[];
  shadows: ShadowState[];
  entities: unknown[];
}
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
  /** A renewal found the lease taken: nothing of it may be delivered any more, even before `#lose` ran. */
  revoked: boolean;
  loop: Promise<void> | undefined;
  readonly batch: IngestBatch;
  /**
   * Per tenant, the sequence the partition's unit state (restored or last written) covers: feed
   * messages at or below it are in that state already (its checkpoint can be newer than the cursor).
   */
  readonly feedsCovered: Map<string, number>;
}

export class ClusterWorker {
  readonly id: string;
  readonly engine: Engine;
  readonly stats: WorkerStats = { messages: 0, samples: 0, acquired: 0, released: 0, lost: 0, checkpoints: 0, retries: 0, changes: 0, forgotten: 0, feeds: 0, feedRecords: 0 };
  readonly #bus: Bus;
  readonly #store: Store;
  readonly #leases: Leases;
  readonly #clock: () => number;
  readonly #o: Required<Pick<WorkerOptions, 'checkpointEveryMs' | 'batchMessages' | 'refreshEveryMs' | 'fenceMarginMs'>> & { tickMs: number; maxPartitions: number };
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
  /** The engine's checkpoint sequence (unit-state checkpoints share it). */
  #checkpointSeq: () => number = () => 0;
  /** Shadows of the member series of the multivariate entities this worker's partitions own. */
  readonly #mv = new MultivariateFeeds();
  /** Takeovers whose unsettled notifications could not be read yet (the store was down). */
  #resendLater: { tenants: readonly string[]; partitions: ReadonlySet<number>; before: number }[] = [];

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
      fenceMarginMs: o.fenceMarginMs ?? Math.floor(o.bus.leaseTtlMs / 3),
    };
    if (!(this.#o.fenceMarginMs >= 0 && this.#o.fenceMarginMs < o.bus.leaseTtlMs)) {
      throw new TidemarkError('TM_ERR_INPUT', `fenceMarginMs must be at least 0 and below the lease TTL (${o.bus.leaseTtlMs} ms), got ${o.fenceMarginMs}`, 'fenceMarginMs');
    }
    this.#log = o.log ?? (() => undefined);
  }

  /**
   * Starts a worker: registers it, then takes its share of the partitions in the background.
   * @example const w = await ClusterWorker.start({ bus, store }); ...; await w.stop();
   */
  static async start(o: WorkerOptions): Promise<ClusterWorker> {
    const clock = o.clock ?? Date.now;
    let lastSeq = 0;
    // Clock-based and increasing, so the next owner's checkpoints are never refused as older.
    const checkpointSeq = () => (lastSeq = Math.max(lastSeq + 1, clock() * 1000));
    // The engine is built before the worker: until it is, nothing is owned, so nothing may go.
    let fence: (a: FencedAlert) => FenceVerdict = () => 'hold';
    const engine = await createEngine({
      ...o.engine,
      alerting: o.engine?.alerting === false ? false : { ...o.engine?.alerting, fence: (a) => fence(a) },
      store: o.store,
      clock,
      checkpointIntervalMs: 0, // the worker checkpoints, with the cursors
      restoreEvery: true,
      replayStored: false,
      checkpointSeq,
    });
    let w: ClusterWorker;
    try {
      w = new ClusterWorker(o, engine, clock);
    } catch (err) {
      await engine.close();
      throw err;
    }
    fence = (a) => w.#fence(a);
    // Aggregate groups and multivariate entities are fed on their own partitions (feeds.ts), not by the series' owners.
    engine.feedAggregates = false;
    engine.feedMultivariate = false;
    w.#checkpointSeq = checkpointSeq;
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
    for (const r of this.#resendLater.splice(0)) await this.#resendPending(r.tenants, r.partitions, r.before);
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
      else {
        // At once, not after the gate: a checkpoint holding the gate may be waiting for a held delivery of it.
        run.revoked = true;
        lost.push(run);
      }
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
    run.revoked = true;
    this.#runs.delete(run.partition);
    void run.loop?.then(() => run.reader?.close()).catch(() => undefined);
    void this.engine.release((_tenant, key) => partitionOf(key, this.#bus.partitions) === run.partition, false);
    void this.engine.dropAggregateGroups((t, g) => this.#groupPartition(t, g) === run.partition, false);
    this.#dropEntities(run.partition);
    this.#forget(run.partition, false);
  }

  /**
   * Whether a notification of this alert may go now (Alerting's fence). Split brain: a worker
   * stalled past its lease TTL (GC, CPU starvation) must not page for a partition another worker
   * has taken over and restored. Proof of ownership is the expiry computed before the last
   * renewal that won its compare-and-set; with less than the margin left the delivery waits for
   * the next renewal, which either extends the lease (deliver) or finds it taken (drop: the new
   * owner restores the alert and, seeing no `sent` row, announces it). A partition being handed
   * over or a stopping worker renews no more: its deliveries go while the lease lasts, then drop.
   */
  #fence(a: FencedAlert): FenceVerdict {
    const run = this.#runs.get(this.#partitionOfSeries(a.tenant, a.metric, a.labels));
    if (!run || run.revoked) return 'drop';
    const left = run.lease.expiresAt - this.#clock();
    if (run.stopping || this.#stopped) return left > 0 ? 'deliver' : 'drop';
    return left > this.#o.fenceMarginMs ? 'deliver' : 'hold';
  }

  /** Forgets the multivariate entities of a partition and their shadows. */
  #dropEntities(partition: number): void {
    this.#mv.drop(partition);
    for (const tenant of this.engine.stats().activeSeries.keys()) this.engine.multivariate.dropEntities(tenant, (d, k) => entityPartition(tenant, d, k, this.#bus.partitions) === partition);
  }

  /** The partition that owns an aggregate group (cached on the group). */
  #groupPartition(tenant: string, g: AggGroup): number {
    if (g.partition < 0) g.partition = unitPartition(tenant, g.agg.rule.name, g.key, this.#bus.partitions);
    return g.partition;
  }

  /**
   * The partition of a series given by metric and labels: the key ingest nodes hash, or for a
   * rule aggregate's derived series, its group's partition.
   */
  #partitionOfSeries(tenant: string, metric: string, labels: Labels): number {
    if (metric.startsWith(MV_PREFIX)) {
      const det = this.engine.config(tenant).config?.multivariate?.find((d) => `${MV_PREFIX}${d.name}` === metric);
      if (det) return entityPartition(tenant, det.name, det.joinOn.map((l) => `${l}=${labels[l] ?? ''}`).join(','), this.#bus.partitions);
    }
    const rule = labels[RULE_LABEL];
    if (rule !== undefined) {
      const agg = this.engine.aggregation(tenant).aggregators.find((a) => a.rule.name === rule && a.metric === metric);
      if (agg) return unitPartition(tenant, rule, groupKeyOf(agg.rule.groupBy, labels), this.#bus.partitions);
    }
    const flat = Object.entries(labels).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)).flat();
    return partitionOf(seriesKey(metric, flat, flat.length), this.#bus.partitions);
  }

  /** Drops a partition's open alerts from the alert stage: its new owner restores them from the store. */
  #forget(partition: number, persist = true): void {
    const al = this.engine.alerting;
    if (!al) return;
    const n = al.stage.forget((tenant, metric, labels) => {
      return this.#partitionOfSeries(tenant, metric, labels) === partition;
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
    const taken: [number, Lease][] = [];
    // Intents recorded before this are the previous owners'; ours, made after the restore below, are in flight here.
    const takeoverAt = this.#clock();
    for (let k = 0; k < P && this.#runs.size + taken.length < share && !this.#stopped; k++) {
      const p = (start + k) % P;
      if (this.#runs.has(p)) continue;
      const lease = await this.#leases.acquire(`${LEASE}${p}`, this.id, this.#bus.leaseTtlMs);
      if (lease) taken.push([p, lease]);
    }
    if (taken.length === 0) return;
    const tenants = (await this.#store.tenants.list()).map((t) => t.id);
    // The configs in force decide where aggregate groups and entities live: the newest before restoring them.
    await this.engine.refreshConfigs();
    await this.#restoreAlerts(tenants, new Set(taken.map(([p]) => p)));
    for (const [p, lease] of taken) await this.#startRun(p, lease, tenants);
    // After the runs exist: the fence lets a delivery go only for a partition with a run.
    await this.#resendPending(tenants, new Set(taken.map(([p]) => p)), takeoverAt);
  }

  /**
   * Sends again, with their ids, the notifications of the partitions just taken whose intents
   * their previous owner recorded and never settled (it died between the send and the log
   * write, or before the send): at least once, deduplicated by the receivers. Restored alerts
   * count those intents as announced, so they are not announced a second time under a new id.
   */
  async #resendPending(tenants: readonly string[], partitions: ReadonlySet<number>, before: number): Promise<void> {
    const al = this.engine.alerting;
    if (!al) return;
    // Still ours: a partition lost meanwhile is its next owner's to send.
    const mine = (alerts: readonly FencedAlert[]) => alerts.some((a) => {
      const p = this.#partitionOfSeries(a.tenant, a.metric, a.labels);
      return partitions.has(p) && this.#runs.has(p);
    });
    const left: string[] = [];
    for (const tenant of tenants) {
      try {
        const n = await al.resendPending(tenant, mine, before);
        if (n > 0) this.#log(`worker ${this.id}: sending ${n} unsettled notification${n === 1 ? '' : 's'} of tenant ${tenant} again`);
      } catch (err) {
        left.push(tenant);
        this.#log(`worker ${this.id}: reading unsettled notifications of tenant ${tenant}, retrying: ${(err as Error).message}`);
      }
    }
    // The store is down: the next control tick asks again (a lost page is worse than a late one).
    if (left.length > 0) this.#resendLater.push({ tenants: left, partitions, before });
  }

  /**
   * Open alerts of the series of the partitions just taken: their episodes continue instead of
   * opening new ones. Once per lease round, however many partitions it took.
   */
  async #restoreAlerts(tenants: readonly string[], partitions: ReadonlySet<number>): Promise<void> {
    const al = this.engine.alerting;
    if (!al) return;
    for (const tenant of tenants) {
      const mine = new Set<string>();
      for (const a of await this.#store.alerts.list({ tenant, states: ['pending', 'firing'] })) {
        if (a.seriesId === null) continue;
        // A multivariate entity has no series: its alert names it.
        const s = a.metric.startsWith(MV_PREFIX) ? a : await this.#store.series.get(tenant, a.seriesId);
        if (s && partitions.has(this.#partitionOfSeries(tenant, s.metric, s.labels))) mine.add(a.fingerprint);
      }
      if (mine.size > 0) await al.restoreOpen(tenant, (a: Alert) => mine.has(a.fingerprint), true);
    }
  }

  /** The id of a tenant's unit-state checkpoint for a partition (in the id space of multivariate entities, above every series id). */
  #unitStateId(tenant: string, partition: number): number {
    return entityId(tenant, '\u0001aggregates', String(partition));
  }

  /**
   * Puts back the units of a partition (aggregate groups, multivariate entities and their member
   * series' shadows) from its last checkpoint. Returns per tenant the sequence it covers. A unit
   * of another config (changed rule, detector or detector set) is dropped: it starts afresh.
   */
  async #restoreUnits(partition: number, tenants: readonly string[]): Promise<Map<string, number>> {
    const covered = new Map<string, number>();
    const ids = tenants.map((t) => this.#unitStateId(t, partition));
    const cps = await this.#store.checkpoints.getMany(ids);
    tenants.forEach((tenant, i) => {
      const cp = cps.get(ids[i]);
      if (!cp) return;
      try {
        const d = decodeCheckpoint(cp.blob);
        if (d.entries !== UNIT_STATE) return;
        const units = d.state as UnitState;
        const aggs = this.engine.aggregation(tenant).aggregators;
        for (const st of units.rules) {
          const agg = aggs.find((a) => a.signature === st.signature);
          if (agg?.restoreGroups(st)) for (const g of agg.groups.values()) if (st.groups.some((x) => x.key === g.key)) g.partition = partition;
        }
        this.#mv.restore(partition, tenant, units.shadows, (m, l) => this.engine.seriesRule(tenant, m, l));
        this.engine.multivariate.restoreEntities(tenant, this.engine.config(tenant).config, units.entities);
        covered.set(tenant, d.lastT);
      } catch (err) {
        this.#log(`worker ${this.id}: partition ${partition}: unit state of tenant ${tenant} not restored, its aggregate groups and entities start afresh: ${(err as Error).message}`);
      }
    });
    return covered;
  }

  async #startRun(partition: number, lease: Lease, tenants: readonly string[]): Promise<void> {
    const cur = await this.#bus.meta.get(`${CURSOR}${partition}`);
    const cursor = cur ? Number(JSON.parse(td.decode(cur.value)).seq) : 0;
    const feedsCovered = await this.#restoreUnits(partition, tenants);
    const run: Run = {
      partition,
      lease,
      reader: await this.#bus.reader(partition, cursor + 1),
      applied: cursor,
      cursor,
      cursorRevision: cur?.revision ?? 0,
      stopping: false,
      revoked: false,
      loop: undefined,
      batch: new IngestBatch({ now: this.#clock, maxFutureMs: Number.MAX_SAFE_INTEGER }),
      feedsCovered,
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
        if (head?.kind === 'feed') {
          const m = msgs[i++];
          await this.#gate.enter();
          try {
            if (run.stopping) return;
            await this.#applyFeed(run, m);
          } finally {
            this.#gate.leave();
          }
          if (run.stopping && run.applied < m.seq) return;
          continue;
        }
        let j = i + 1;
        let bytes = msgs[i].data.length;
        while (head && j < msgs.length && j - i < MERGE_MESSAGES && bytes < MERGE_BYTES) {
          const h = peekHeader(msgs[j].data);
          if (!h || h.kind !== 'samples' || h.tenant !== head.tenant || h.mode !== head.mode) break;
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

  /**
   * Applies a feed (feeds.ts) to the aggregate groups and multivariate entities this partition
   * owns, and judges the windows it closed. A feed of a config version newer than ours waits for that version (read
   * from the store, retried while it is down). The aggregation moves with the records, so a
   * failed write of derived points is not retried (it would find the windows closed): it is
   * logged, and those derived points are missing from the store.
   */
  async #applyFeed(run: Run, m: BusMessage): Promise<void> {
    let feed;
    try {
      feed = decodeFeed(m.data);
    } catch (err) {
      this.#log(`worker ${this.id}: partition ${run.partition}: skipped message ${m.seq}: ${(err as Error).message}`);
      run.applied = m.seq;
      return;
    }
    if (m.seq <= (run.feedsCovered.get(feed.tenant) ?? 0)) {
      run.applied = m.seq;
      return;
    }
    while (feed.configVersion !== null && (this.engine.config(feed.tenant).version ?? 0) < feed.configVersion) {
      try {
        await this.engine.refreshConfigs();
        if ((this.engine.config(feed.tenant).version ?? 0) < feed.configVersion) {
          this.#log(`worker ${this.id}: partition ${run.partition}: feed ${m.seq} is of config v${feed.configVersion} of tenant ${feed.tenant}, which the store does not hold; applied under v${this.engine.config(feed.tenant).version}`);
        }
        break;
      } catch (err) {
        this.stats.retries++;
        this.#log(`worker ${this.id}: partition ${run.partition}: reading config v${feed.configVersion} of tenant ${feed.tenant}, retrying: ${(err as Error).message}`);
        this.#gate.leave();
        await sleep(DEFAULTS.retryMs);
        await this.#gate.enter();
        if (run.stopping) return;
      }
    }
    this.stats.feedRecords += applyFeed(feed, this.engine.aggregation(feed.tenant), run.partition, this.#bus.partitions);
    const tenant = feed.tenant;
    const { config, version } = this.engine.config(tenant);
    const mv = this.engine.multivariate;
    const al = this.engine.alerting;
    const verdicts = al?.stage.counters.verdicts ?? 0;
    this.stats.feedRecords += this.#mv.apply(feed, {
      config,
      seriesRule: (m, l) => this.engine.seriesRule(tenant, m, l),
      range: this.engine.aggregation(tenant).range,
      observe: (m, l, t, v, score, accept) => mv.observe(tenant, config, version, m, l, t, v, score, accept),
    }, run.partition, this.#bus.partitions);
    if (al && al.stage.counters.verdicts !== verdicts) al.kick();
    try {
      await this.engine.judgeAggregates(feed.tenant, feed.mode);
    } catch (err) {
      this.#log(`worker ${this.id}: partition ${run.partition}: derived points of feed ${m.seq} not stored: ${(err as Error).message}`);
    }
    this.stats.feeds++;
    this.stats.messages++;
    run.applied = m.seq;
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
    // Checkpointed above with the cursor: the next owner restores them.
    await this.engine.dropAggregateGroups((t, g) => this.#groupPartition(t, g) === run.partition, false);
    this.#dropEntities(run.partition);
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
      // Not for a lease whose renewal is overdue (maybe not ours): its new owner's units must stand.
      const runs = (only ?? [...this.#runs.values()]).filter((r) => r.applied > r.cursor && this.#runs.get(r.partition) === r && r.lease.expiresAt - this.#clock() >= this.#o.tickMs);
      // Before the engine's pass, which then finds the entities clean and does not write them again.
      const entities = this.#snapshotEntities(runs);
      await this.engine.checkpoint();
      this.#lastCheckpoint = this.#clock();
      await this.#checkpointUnits(runs, entities);
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

  /** Per run and tenant: the multivariate entities and shadows of its partition (marked clean). */
  #snapshotEntities(runs: readonly Run[]): Map<Run, Map<string, Pick<UnitState, 'shadows' | 'entities'>>> {
    const out = new Map<Run, Map<string, Pick<UnitState, 'shadows' | 'entities'>>>();
    for (const run of runs) {
      const m = new Map<string, Pick<UnitState, 'shadows' | 'entities'>>();
      for (const tenant of this.engine.stats().activeSeries.keys()) {
        const entities = this.engine.multivariate.snapshotEntities(tenant, (d, k) => entityPartition(tenant, d, k, this.#bus.partitions) === run.partition);
        m.set(tenant, { shadows: this.#mv.snapshot(run.partition, tenant), entities });
      }
      out.set(run, m);
    }
    return out;
  }

  /**
   * Writes the units (aggregate groups, multivariate entities and their shadows) of each
   * partition that moved, per tenant, stamped with the sequence they cover; after the derived
   * series' checkpoints (engine.checkpoint) and before the cursor. A crash between the two
   * leaves derived series ahead of their groups: the new owner replays those windows and skips
   * judging them again (the derived series' time says so).
   */
  async #checkpointUnits(runs: readonly Run[], mv: Map<Run, Map<string, Pick<UnitState, 'shadows' | 'entities'>>>): Promise<void> {
    const cps: Checkpoint[] = [];
    const now = this.#clock();
    for (const tenant of this.engine.stats().activeSeries.keys()) {
      const aggs = this.engine.aggregation(tenant).aggregators;
      for (const run of runs) {
        const rules = aggs.map((a) => a.snapshotGroups((g) => this.#groupPartition(tenant, g) === run.partition)).filter((st) => st.groups.length > 0);
        const { shadows, entities } = mv.get(run)?.get(tenant) ?? { shadows: [], entities: [] };
        if (rules.length === 0 && shadows.length === 0 && entities.length === 0 && !run.feedsCovered.has(tenant)) continue;
        const state: UnitState = { rules, shadows, entities };
        cps.push({ seriesId: this.#unitStateId(tenant, run.partition), seq: this.#checkpointSeq(), blob: encodeCheckpoint(run.applied, UNIT_STATE, state), at: now });
        run.feedsCovered.set(tenant, run.applied);
      }
    }
    if (cps.length > 0) await this.#store.checkpoints.put(cps);
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
