import type { Labels, Store } from '../store/index.ts';
import type { Contributor } from './aggregate.ts';
import type { AlertingOptions } from './alerting.ts';
import type { FeatureContribution } from './multivariate.ts';

/** A point whose fused score reached its rule's threshold, as the API lists it. */
export interface Anomaly {
  readonly tenant: string;
  readonly seriesId: number;
  readonly metric: string;
  readonly labels: Labels;
  readonly t: number;
  readonly value: number;
  readonly score: number;
  readonly expected: number;
  readonly lower: number;
  readonly upper: number;
  readonly reasons: readonly string[];
  /** Name of the config rule that selected the series; '' for the default profile. */
  readonly rule: string;
  /** The tenant config version in force when the point was judged (null: no config). */
  readonly configVersion: number | null;
  /**
   * On a rule aggregate (a derived series, see aggregate.ts): the window's top contributing
   * segments, strongest first (empty when none stands out), and the text of a move of the whole
   * aggregate (null when there is none). Absent on raw series.
   */
  readonly contributors?: readonly Contributor[];
  readonly global?: string | null;
  /**
   * On a multivariate anomaly (metric `multivariate:<name>`, see multivariate.ts): each
   * feature's value, robust z and share of the score, strongest first, and a one-line reading
   * ("latency_p95 up (+6.2 sigma) while qps is flat"). Absent otherwise.
   */
  readonly features?: readonly FeatureContribution[];
  readonly explanation?: string;
}

/** One rejection reason with its count and the first few examples. */
export interface RejectionCount {
  readonly reason: string;
  count: number;
  readonly examples: { field: string; problem: string; line?: number }[];
}

/** What applying one batch did. */
export interface IngestOutcome {
  /** Samples stored (duplicates of stored points included: a retry is accepted, idempotently). */
  accepted: number;
  /** Accepted samples whose (series, t) was already there. */
  duplicates: number;
  /** Staleness markers: they end a series and are not stored as values. */
  stale: number;
  /** Points judged by the detectors (late points within tolerance are stored, not judged). */
  judged: number;
  /** Points stored but not judged: inside a maintenance window excluded from learning. */
  paused: number;
  anomalies: number;
  /** Engine rejections by reason (decoder rejections are the caller's). */
  rejected: Map<string, RejectionCount>;
  rejectedTotal: number;
  /** The first series refused by a cardinality limit, for the 429 answer. */
  cardinality: { metric: string; label: string | undefined; message: string } | undefined;
  /** Detector CPU time for the batch (ns) and store write time (ms), for /metrics. */
  detectNs: number;
  storeMs: number;
}

/** Options of `createEngine`; defaults in DEFAULT_ENGINE_OPTIONS. */
export interface EngineOptions {
  readonly store: Store;
  /** ms since the epoch; the only clock the engine reads. */
  readonly clock: () => number;
  /** How often dirty detector states are checkpointed (ms). 0 disables the timer. */
  readonly checkpointIntervalMs: number;
  /** A series with no sample for this long is checkpointed and dropped from memory (ms). */
  readonly idleMs: number;
  /** Anomalies kept per tenant for the API (a ring). */
  readonly maxAnomalies: number;
  /** Largest number of stored samples replayed into one series' state on restore. */
  readonly maxReplay: number;
  /** How often the checkpoint timer also runs the store's retention sweep (ms); 0 never. */
  readonly sweepIntervalMs: number;
  /** Alerting and notification options; false turns the alert stage off (replay tools, benchmarks). */
  readonly alerting?: AlertingOptions | false;
  /**
   * Cluster workers: restore every series from its checkpoint when it first arrives, not only
   * those that existed at start (another worker may have created and checkpointed it since).
   * Open alerts are then not all loaded at start either: the worker loads those of each
   * partition it takes (Alerting.restoreOpen).
   */
  readonly restoreEvery?: boolean;
  /**
   * False: restore state from the checkpoint only, without replaying stored samples after it.
   * A cluster worker replays its partition from the bus instead, live, so points judged by a
   * dead worker but not yet alerted on are judged again (alert upserts are idempotent). Default true.
   */
  readonly replayStored?: boolean;
  /**
   * The sequence stamped on checkpoints (the store keeps the highest). Default: the engine's
   * own, which grows per batch from its start time; cluster workers pass a clock-based one so a
   * worker started earlier cannot have its checkpoints refused after a takeover.
   */
  readonly checkpointSeq?: () => number;
}
