// The alert stage: verdicts -> alert lifecycle, grouping, silences, inhibition, gates, budgets -> dispatches.
export { AlertStage, BUDGET_SUMMARY_METRIC, BUDGET_SUMMARY_RULE, isBudgetSummary, ENTITY_ID_BASE, alertFingerprint, triageUrl, PACKET_KIND, WATCH_ALL, WATCH_ANOMALIES, WATCH_UNKNOWN, type AlertCounters, type AlertEffects, type AlertStageOptions } from './stage.ts';
export { DEFAULT_ALERT_POLICY, resolvePolicy } from './policy.ts';
export { compileLabelMatchers, parseRecurrence, silenceActive, silenceStatus, compileSilence } from './match.ts';
export { ImpactTracker, type GateResult } from './impact.ts';
export { routeReceivers } from './route.ts';
export type {
  AlertPolicy, AlertView, Budget, Dispatch, DispatchKind, Escalation, FlapPolicy, InhibitRule, Suppression, SuppressionKind, AlertEvent, VerdictView, FeatureShare,
} from './types.ts';
