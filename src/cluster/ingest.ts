/**
 * The ingest side of a cluster node: what `engine.ingest` is in one process. Accepted samples
 * (decoded and validated exactly as in one process) are split by series partition and published;
 * the answer waits for every partition's JetStream ack, so a 2xx means the data is durable.
 */
import type { Bus } from '../bus/index.ts';
import type { IngestMode, IngestOutcome } from '../engine/index.ts';
import { TidemarkError } from '../errors.ts';
import type { IngestBatch } from '../ingest/index.ts';
import { encodeByPartition } from './codec.ts';
import { encodeFeeds, type FeedConfig } from './feeds.ts';

/** Where the API hands decoded batches (AppOptions.sink). */
export interface IngestSink {
  ingest(tenant: string, batch: IngestBatch, mode: IngestMode): Promise<IngestOutcome>;
}

/** Counters for the node's logs and the benchmark. */
export interface PublishStats {
  batches: number;
  messages: number;
  samples: number;
  failures: number;
}

export class BusSink implements IngestSink {
  readonly stats: PublishStats = { batches: 0, messages: 0, samples: 0, failures: 0 };
  readonly #bus: Bus;
  /**
   * The tenant config batches are routed by (the node's engine): series that feed a rule
   * aggregate also go, as feed messages, to their aggregate group's partition (feeds.ts).
   * Unset: no feeds are published, and workers compute no rule aggregates.
   */
  configs: ((tenant: string) => FeedConfig) | undefined;
  /** Per tenant and rule, the newest sample time routed (the rule's watermark as this node saw it). */
  readonly #marks = new Map<string, number>();

  constructor(bus: Bus, configs?: (tenant: string) => FeedConfig) {
    this.#bus = bus;
    this.configs = configs;
  }

  /**
   * Encodes synchronously (the API reuses the batch once this returns), then publishes. A
   * failed publish rejects with TM_ERR_UNAVAILABLE (503): the client retries the whole request,
   * and the partitions that did store it see the samples twice, which the store and the
   * detectors ignore (same series and time).
   */
  ingest(tenant: string, batch: IngestBatch, mode: IngestMode): Promise<IngestOutcome> {
    const started = process.hrtime.bigint();
    const parts = encodeByPartition(tenant, batch, mode, this.#bus.partitions);
    const stale = batch.staleCount;
    let samples = 0;
    for (const p of parts) samples += p.samples;
    // Feeds are acknowledged with the batch: a client retry after a partial failure sends them
    // again, which the aggregates ignore (same series and time, see RuleAggregator.add).
    if (this.configs) for (const f of encodeFeeds(tenant, batch, mode, this.#bus.partitions, this.configs(tenant), this.#marks)) parts.push(f);
    const encodeNs = Number(process.hrtime.bigint() - started);
    const t0 = performance.now();
    return Promise.all(parts.map((p) => this.#bus.publish(p.partition, p.data))).then(
      () => {
        this.stats.batches++;
        this.stats.messages += parts.length;
        this.stats.samples += samples;
        return {
          accepted: samples - stale,
          duplicates: 0,
          stale,
          judged: 0,
          paused: 0,
          anomalies: 0,
          rejected: new Map(),
          rejectedTotal: 0,
          cardinality: undefined,
          detectNs: encodeNs,
          storeMs: performance.now() - t0,
        };
      },
      (err: unknown) => {
        this.stats.failures++;
        if (err instanceof TidemarkError && err.code === 'TM_ERR_UNAVAILABLE') throw err;
        throw new TidemarkError('TM_ERR_UNAVAILABLE', `the batch was not stored (${(err as Error).message}); retry it`, 'bus');
      },
    );
  }
}
