// Self-monitoring: what `GET /metrics` exports, in Prometheus text format (prom-client).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Alerting, Engine, IngestOutcome } from '../engine/index.ts';
import type { NotifierCounters } from '../notify/index.ts';

/** The service's own metrics. One registry per app, so tests can build several apps. */
export class ServiceMetrics {
  readonly registry = new Registry();
  readonly ingested: Counter<'tenant' | 'format'>;
  readonly rejected: Counter<'tenant' | 'reason'>;
  readonly detectSeconds: Histogram;
  readonly storeSeconds: Histogram;
  readonly anomalies: Counter<'tenant'>;
  readonly requests: Counter<'route' | 'status'>;

  constructor(engine: Engine, clock: () => number, startedAt: number) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'tidemark_process_' });
    this.ingested = new Counter({ name: 'tidemark_samples_ingested_total', help: 'Samples accepted and stored, by tenant and wire format.', labelNames: ['tenant', 'format'], registers });
    this.rejected = new Counter({ name: 'tidemark_samples_rejected_total', help: 'Input items rejected, by tenant and reason code.', labelNames: ['tenant', 'reason'], registers });
    this.anomalies = new Counter({ name: 'tidemark_anomalies_total', help: 'Points whose fused score reached their rule threshold.', labelNames: ['tenant'], registers });
    this.requests = new Counter({ name: 'tidemark_http_requests_total', help: 'HTTP requests by route and status code.', labelNames: ['route', 'status'], registers });
    this.detectSeconds = new Histogram({
      name: 'tidemark_detector_seconds_per_sample',
      help: 'Time the engine spent judging one sample (batch time / batch samples), observed per batch.',
      buckets: [1e-7, 2.5e-7, 5e-7, 1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 1e-4],
      registers,
    });
    this.storeSeconds = new Histogram({
      name: 'tidemark_store_write_seconds',
      help: 'Time from handing a batch to the store until it was durable.',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    new Gauge({
      name: 'tidemark_active_series',
      help: 'Series held live (with detector state) per tenant.',
      labelNames: ['tenant'],
      registers,
      collect() {
        this.reset();
        for (const [tenant, n] of engine.stats().activeSeries) this.set({ tenant }, n);
      },
    });
    new Gauge({
      name: 'tidemark_series_coverage',
      help: 'Live series per tenant and metric whose detectors are still learning, or monitored (judging points).',
      labelNames: ['tenant', 'metric', 'state'],
      registers,
      collect() {
        this.reset();
        for (const [tenant, byMetric] of engine.coverage()) {
          for (const [metric, c] of byMetric) {
            this.set({ tenant, metric, state: 'learning' }, c.learning);
            this.set({ tenant, metric, state: 'monitored' }, c.monitored);
          }
        }
      },
    });
    new Gauge({
      name: 'tidemark_checkpoint_age_seconds',
      help: 'Seconds since the last completed detector checkpoint (since start when there was none).',
      registers,
      collect() {
        const last = engine.stats().lastCheckpointAt || startedAt;
        this.set(Math.max(0, (clock() - last) / 1000));
      },
    });
    new Gauge({
      name: 'tidemark_series_restored',
      help: 'Series restored since start, by origin: checkpoint (+ replay of the log after it), replay only, or new.',
      labelNames: ['origin'],
      registers,
      collect() {
        const r = engine.stats().restored;
        this.set({ origin: 'checkpoint' }, r.checkpoint);
        this.set({ origin: 'replay' }, r.replay);
        this.set({ origin: 'new' }, r.new);
      },
    });
    if (engine.alerting) registerDeliveryMetrics(this.registry, engine.alerting);
    new Gauge({
      name: 'tidemark_checkpoints_written',
      help: 'Detector checkpoints written since start.',
      registers,
      collect() {
        this.set(engine.stats().checkpointsWritten);
      },
    });
  }

  /** Records one applied batch. */
  observe(tenant: string, format: string, o: IngestOutcome): void {
    if (o.accepted > 0) this.ingested.inc({ tenant, format }, o.accepted);
    for (const r of o.rejected.values()) this.rejected.inc({ tenant, reason: r.reason }, r.count);
    if (o.anomalies > 0) this.anomalies.inc({ tenant }, o.anomalies);
    const n = o.judged + o.accepted;
    if (n > 0) this.detectSeconds.observe(o.detectNs / 1e9 / Math.max(1, o.judged || o.accepted));
    if (o.storeMs > 0) this.storeSeconds.observe(o.storeMs / 1000);
  }
}

/**
 * The notifier's per-receiver counters (deliveries, failures, retries by receiver and
 * integration), read at scrape time: `serve` (api/alerts.ts) and a worker's /metrics
 * (cluster/metrics.ts) export the same.
 */
export function registerNotifierMetrics(registers: Registry[], counters: NotifierCounters): void {
  for (const [name, key, help] of [
    ['tidemark_notifier_deliveries_total', 'sent', 'Deliveries that succeeded, by receiver and integration.'],
    ['tidemark_notifier_failures_total', 'failed', 'Deliveries that failed after their last attempt, by receiver and integration.'],
    ['tidemark_notifier_retries_total', 'retries', 'Retries made, by receiver and integration.'],
  ] as const) {
    new Gauge({
      name, help, labelNames: ['receiver', 'integration'], registers,
      collect() {
        this.reset();
        for (const [k, n] of counters[key]) {
          const [receiver, integration] = k.split('\u0000');
          this.set({ receiver, integration }, n);
        }
      },
    });
  }
}

/**
 * At-least-once delivery and the cluster fence, on `registry`: fence verdicts (a `serve`
 * process has no fence: all zero) and notification intents. Counts since start, read at scrape
 * time (gauges named like counters, as the other alerting figures in api/alerts.ts).
 */
export function registerDeliveryMetrics(registry: Registry, al: Alerting): void {
  const registers = [registry];
  new Gauge({
    name: 'tidemark_notify_fence_total',
    help: 'Cluster delivery fence since start: deliveries held for a lease renewal (held), dispatches let through (delivered), dispatches and alerts dropped because the lease was lost (dropped, dropped_alerts; their new owner sends them), retries called off for a lost lease (stopped_retries).',
    labelNames: ['verdict'],
    registers,
    collect() {
      const c = al.fenceCounters;
      this.set({ verdict: 'held' }, c.held);
      this.set({ verdict: 'delivered' }, c.delivered);
      this.set({ verdict: 'dropped' }, c.droppedDispatches);
      this.set({ verdict: 'dropped_alerts' }, c.droppedAlerts);
      this.set({ verdict: 'stopped_retries' }, c.stoppedRetries);
    },
  });
  new Gauge({
    name: 'tidemark_notify_intents_total',
    help: 'Notification intents since start: recorded before a send, sent again after a restart or takeover (resent, same id), not recorded because the store write failed (unwritten; sent anyway), dispatches not sent because the same id was queued, in flight or sent here already (deduplicated).',
    labelNames: ['event'],
    registers,
    collect() {
      const c = al.intentCounters;
      this.set({ event: 'recorded' }, c.recorded);
      this.set({ event: 'resent' }, c.resent);
      this.set({ event: 'unwritten' }, c.unwritten);
      this.set({ event: 'deduplicated' }, c.deduplicated);
    },
  });
}
