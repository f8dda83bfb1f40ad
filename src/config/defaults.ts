/**
 * Every default of the tenant config, in one place, applied once by the loader. Durations are
 * milliseconds; the comment after each value says what it means in config notation.
 */
import type { BurnRateWindow } from './types.ts';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

export const DEFAULTS = deepFreeze({
  /** Config format version; the only one today. */
  version: 1 as const,
  metric: {
    /** Valid range when `range` is absent: counters cannot be negative. */
    counterRange: [0, Infinity] as const,
    otherRange: [-Infinity, Infinity] as const,
  },
  rule: {
    /** Sensitivity when absent. */
    sensitivity: 'medium' as const,
    /** Fused detector score (0..1) an alert needs, per named sensitivity. 0.5 is "unusual", 0.9+ "clearly anomalous". */
    thresholds: { low: 0.97, medium: 0.9, high: 0.75 },
    timing: {
      forMs: 0, // 0s: fire on the first anomalous evaluation
      keepFiringForMs: 0, // 0s: resolve as soon as the condition clears
      groupWaitMs: 30 * SECOND, // 30s, as Alertmanager
      groupIntervalMs: 5 * MINUTE, // 5m, as Alertmanager
      repeatIntervalMs: 4 * HOUR, // 4h, as Alertmanager
      flap: undefined, // the tenant's alerting.anti_flap (itself defaulting to DEFAULT_ALERT_POLICY.flap)
    },
  },
  slo: {
    /**
     * Multi-window, multi-burn-rate alerting (Google SRE workbook, "Alerting on SLOs"):
     * page when 2% of a 30-day budget burns in 1h (14.4x) or 5% in 6h (6x), with the short
     * window confirming the burn is still going on.
     */
    windows: [
      { longMs: 1 * HOUR, shortMs: 5 * MINUTE, burnRate: 14.4 }, // 14.4x over 1h & 5m
      { longMs: 6 * HOUR, shortMs: 30 * MINUTE, burnRate: 6 }, // 6x over 6h & 30m
    ] as readonly BurnRateWindow[],
  },
  maintenance: {
    timeZone: 'UTC',
  },
  limits: {
    activeSeries: 100_000, // series per tenant with a sample in the last hour
    labelValuesPerMetric: 10_000, // distinct values of one label name within one metric
    labelsPerSeries: 30, // label pairs per series, the metric name not counted
    labelValueLength: 1_024, // characters in one label value
    outOfOrderToleranceMs: 5 * MINUTE, // 5m: older samples than newest - 5m are rejected
    maxFutureSkewMs: 10 * MINUTE, // 10m: samples further ahead of the clock are rejected
  },
});

export { deepFreeze };
