/**
 * The validated, defaulted, frozen configuration of one tenant, as `loadConfig` returns it.
 * YAML keys are snake_case; here they are camelCase and every duration is in milliseconds,
 * named `...Ms`, so no consumer has to parse or guess a unit again.
 */
import type { Budget, Escalation, FlapPolicy, InhibitRule } from '../alert/types.ts';
import type { DetectorEntry } from '../detect/types.ts';
import type { MultivariateDetector } from './multivariate.ts';
import type { FeedbackConfig } from './feedback.ts';
import type { Selector } from './selector.ts';

export type MetricType = 'counter' | 'gauge' | 'histogram';

/** The event contract for one metric; ingest enforces it and counts rejections by reason. */
export interface MetricSchema {
  readonly name: string;
  readonly type: MetricType;
  readonly unit: string;
  readonly help: string;
  /** Valid values, inclusive; `-Infinity`/`Infinity` when open. */
  readonly min: number;
  readonly max: number;
  /** The only label names a sample of this metric may carry. */
  readonly labels: readonly string[];
  /** Label names refused outright (high-cardinality ids); disjoint from `labels`. */
  readonly denyLabels: readonly string[];
  /** Distinct values per label name for this metric (the tenant limit unless overridden). */
  readonly maxLabelValues: number;
}

export const AGGREGATION_FUNCTIONS = ['rate', 'sum', 'avg', 'max', 'min', 'quantile'] as const;
export type AggregationFunction = (typeof AGGREGATION_FUNCTIONS)[number];

export interface Aggregation {
  readonly fn: AggregationFunction;
  readonly windowMs: number;
  /** The quantile for `quantile`, in [0, 1]; undefined otherwise. */
  readonly q: number | undefined;
}

export const SENSITIVITY_LEVELS = ['low', 'medium', 'high'] as const;
export type SensitivityLevel = (typeof SENSITIVITY_LEVELS)[number];

/** The fused score an alert needs; `level` is 'custom' when the config gave a number. */
export interface Sensitivity {
  readonly level: SensitivityLevel | 'custom';
  readonly threshold: number;
}

/** S0 log-only, S1 notify, S2 page, S3 page + auto-mitigation hook. */
export const SEVERITIES = ['S0', 'S1', 'S2', 'S3'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Impact when an impact metric crosses a hard limit. */
export interface LimitGate {
  readonly kind: 'limit';
  readonly selector: Selector;
  readonly op: 'above' | 'below';
  readonly value: number;
}

export interface BurnRateWindow {
  readonly longMs: number;
  readonly shortMs: number;
  /** Multiple of the sustainable error rate (1 - objective) that both windows must exceed. */
  readonly burnRate: number;
}

/** Impact when an SLO's error budget burns fast in both windows of any pair. */
export interface SloGate {
  readonly kind: 'slo';
  /** Percent, e.g. 99.9. */
  readonly objective: number;
  readonly errors: Selector;
  readonly total: Selector;
  readonly windows: readonly BurnRateWindow[];
}

export type ImpactGate = LimitGate | SloGate;

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface OneOffWindow {
  readonly kind: 'once';
  readonly startMs: number;
  readonly endMs: number;
  readonly comment: string;
  /** `exclude_from_learning`: while the window is on, the rule's series give no verdicts and their models learn nothing (absent: false). */
  readonly excludeFromLearning?: boolean;
}

export interface RecurringWindow {
  readonly kind: 'recurring';
  readonly weekdays: readonly Weekday[];
  /** Start, in minutes after local midnight in `timeZone`. */
  readonly startMinute: number;
  readonly durationMs: number;
  /** Canonical IANA name, e.g. `Europe/Berlin`. */
  readonly timeZone: string;
  readonly comment: string;
  /** `exclude_from_learning`: while the window is on, the rule's series give no verdicts and their models learn nothing (absent: false). */
  readonly excludeFromLearning?: boolean;
}

export type MaintenanceWindow = OneOffWindow | RecurringWindow;

/** A rule's own anti-flap settings (`timing.trigger`, `timing.recovery`), over the tenant's `alerting.anti_flap`. */
export type RuleFlap = Partial<Pick<FlapPolicy, 'triggerM' | 'triggerN' | 'recoveryPoints'>>;

export interface AlertTiming {
  readonly forMs: number;
  readonly keepFiringForMs: number;
  readonly groupWaitMs: number;
  readonly groupIntervalMs: number;
  readonly repeatIntervalMs: number;
  /** Undefined when the rule sets neither trigger nor recovery. */
  readonly flap: RuleFlap | undefined;
}

export interface Rule {
  readonly name: string;
  readonly selector: Selector;
  readonly aggregation: Aggregation;
  /** The detector set (configs validated by the registry); undefined means the default profile. */
  readonly detectors: readonly DetectorEntry[] | undefined;
  readonly sensitivity: Sensitivity;
  readonly severity: Severity;
  readonly impact: ImpactGate | undefined;
  readonly owner: string;
  /** Sends straight to this receiver; undefined means the routing tree decides. */
  readonly receiver: string | undefined;
  /**
   * `data_quality_receiver`: alerts whose strongest reason is data quality (unit change, range,
   * null rate) go to this receiver, the owning pipeline's, instead. Absent: like the others.
   */
  readonly dataQualityReceiver?: string;
  readonly runbook: string | undefined;
  /** S3 only: called to start auto-mitigation. */
  readonly mitigationHook: string | undefined;
  /** Labels that split the rule into one alert per group. */
  readonly groupBy: readonly string[];
  /** Static labels every alert of this rule carries (routing matches on them). */
  readonly labels: Readonly<Record<string, string>>;
  readonly maintenance: readonly MaintenanceWindow[];
  readonly timing: AlertTiming;
  /**
   * A ratio rule: `selector` selects the numerator (errors), this the denominator (requests);
   * the rule's aggregate is sum(numerator) / sum(denominator) per group. Absent otherwise.
   */
  readonly denominator?: Selector;
  /**
   * `detect_on`: which series the rule's detectors judge. Absent: `series`, each selected series
   * on its own. `aggregate`: only the rule's aggregate per group_by group (a derived series
   * `<rule>:<fn>`), drilled into its dimensions when anomalous; `both`: the aggregate and each series.
   */
  readonly detectOn?: 'aggregate' | 'both';
  /**
   * `shadow: true`: the rule runs log-only beside the live ones (src/engine/backtest-shadow.ts):
   * its series keep their live rule, and its would-have-paged volume is counted, never sent.
   */
  readonly shadow?: boolean;
}

export interface Receiver {
  readonly name: string;
  readonly webhook: { readonly url: string } | undefined;
  readonly slack: { readonly webhookUrl: string; readonly channel: string | undefined } | undefined;
  readonly pagerduty: { readonly routingKey: string } | undefined;
  readonly alertmanager: { readonly url: string } | undefined;
}

/** A node of the routing tree; `receiver` is already inherited from the parent when omitted. */
export interface Route {
  readonly receiver: string;
  /** Label equality matchers; all must hold. Empty at the root. */
  readonly match: Readonly<Record<string, string>>;
  /** Label regex matchers (fully anchored, RE2 syntax); all must hold. */
  readonly matchRe: Readonly<Record<string, string>>;
  /** Keep looking at later siblings after this route matched. */
  readonly continue: boolean;
  readonly routes: readonly Route[];
}

export interface Limits {
  readonly activeSeries: number;
  readonly labelValuesPerMetric: number;
  readonly labelsPerSeries: number;
  readonly labelValueLength: number;
  readonly outOfOrderToleranceMs: number;
  readonly maxFutureSkewMs: number;
}

/**
 * The `alerting:` section: overrides of the alert stage's tenant-wide policy, in the shape
 * `resolvePolicy` (src/alert/policy.ts) merges over its defaults. Only keys the file sets are
 * present, so the defaults stay in one place (DEFAULT_ALERT_POLICY).
 */
export interface AlertingConfig {
  readonly flap?: Partial<FlapPolicy>;
  readonly tenantBudget?: Partial<Budget>;
  readonly receiverBudget?: Partial<Budget>;
  readonly receiverBudgets?: Readonly<Record<string, Partial<Budget>>>;
  readonly budgetSummaryDelayMs?: number;
  readonly inhibitRules?: readonly InhibitRule[];
  readonly escalations?: readonly Escalation[];
  readonly ackTtlMs?: number;
}

export interface TenantConfig {
  readonly version: 1;
  readonly tenant: string;
  readonly metrics: readonly MetricSchema[];
  readonly rules: readonly Rule[];
  readonly receivers: readonly Receiver[];
  /** Undefined when every rule names its receiver (or is S0). */
  readonly route: Route | undefined;
  readonly limits: Limits;
  /** Undefined when the file has no `alerting:` section (the server's policy applies). */
  readonly alerting: AlertingConfig | undefined;
  /** Isolation Forest detectors over joined series (`multivariate:`); absent when none. */
  readonly multivariate?: readonly MultivariateDetector[];
  /** What may apply itself from feedback labels (`feedback:`); absent when the file has no such section. */
  readonly feedback?: FeedbackConfig;
}
