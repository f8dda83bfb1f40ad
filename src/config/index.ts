/**
 * The tenant configuration contract: YAML in, a strict, defaulted, frozen `TenantConfig` out,
 * or every problem with its path and line. Also the pieces other stages reuse (selectors,
 * durations, maintenance windows) and pure versioning/audit helpers for the store.
 */
export { loadConfig, loadConfigOrThrow, MAX_CONFIG_BYTES, BUILTIN_ALERT_LABELS, type LoadResult } from './load.ts';
export { formatConfigIssue, type ConfigIssue } from './reader.ts';
export { DEFAULTS } from './defaults.ts';
export { MULTIVARIATE_DEFAULTS, multivariateRule, multivariateRuleName, type MultivariateCascade, type MultivariateDetector, type MultivariateFeature, type MultivariateForest } from './multivariate.ts';
export { AUTO_APPLY_DEFAULTS, AUTO_APPLY_KINDS, type AutoApply, type AutoApplyKind, type FeedbackConfig } from './feedback.ts';
export { parseSelector, parseMatchers, compileSelector, formatSelector, type Selector, type LabelMatcher, type MatchOp } from './selector.ts';
export { parseDuration, formatDuration } from './duration.ts';
export { inMaintenance } from './maintenance.ts';
export { configDiff } from './diff.ts';
export {
  hashConfig, nextConfigVersion, describeConfigChange, auditConfigChange, type ConfigVersion, type ConfigAuditEntry,
} from './version.ts';
export type {
  TenantConfig, MetricSchema, MetricType, Rule, Aggregation, AggregationFunction, Sensitivity, Severity, ImpactGate,
  LimitGate, SloGate, BurnRateWindow, MaintenanceWindow, OneOffWindow, RecurringWindow, Weekday, AlertTiming, Receiver,
  Route, Limits, AlertingConfig, RuleFlap,
} from './types.ts';
