/**
 * The alert stage's contract: what goes in (verdicts of judged points), the tenant-wide
 * policy it applies (anti-flap, budgets, inhibition, escalation, acks), and what comes out
 * (alert upserts for the store and dispatches for `notify/`). Times are ms since the epoch.
 */
import type { AlertState, Labels, Matcher, Severity } from '../store/types.ts';

export type { AlertState, Labels, Matcher, Severity };

/** What a detector set said about one point, as the stage reads it (the engine's object is reused). */
export interface VerdictView {
  readonly score: number;
  readonly expected: number;
  readonly lower: number;
  readonly upper: number;
  readonly learning: boolean;
  readonly reasons: readonly string[];
  /** The detector behind each reason, aligned with `reasons`. */
  readonly sources: readonly string[];
  /**
   * The judged value lies outside [lower, upper] (detect's FusedVerdict.outside): the condition
   * of an open alert still holds, though detectors that report once score it 0. Never opens one.
   */
  readonly outside?: boolean;
  /** A model says a condition it reported goes on (FusedVerdict.ongoing): holds like `outside`. */
  readonly ongoing?: boolean;
  /** A multivariate verdict's per-feature contributions, highest first (src/engine/multivariate.ts). */
  readonly features?: readonly FeatureShare[];
  /** A multivariate verdict's one-line explanation ("latency_p95 up while qps, cpu are flat"). */
  readonly explanation?: string;
}

/** One feature's part in a multivariate score: its value, robust z, and the score it explains. */
export interface FeatureShare {
  readonly feature: string;
  readonly value: number;
  readonly z: number;
  readonly gain: number;
}

/** Suppression kinds: why an alert did not notify (or page) at some moment. */
export type SuppressionKind = 'silence' | 'inhibition' | 'budget' | 'gate' | 'maintenance' | 'ack';

/** One suppression on an alert's record, so the UI can show why it did not page. */
export interface Suppression {
  readonly kind: SuppressionKind;
  /** First time this suppression (same kind and reason) was seen. */
  readonly at: number;
  readonly reason: string;
  /** Receiver concerned, when the suppression is per receiver (budgets). */
  readonly receiver?: string;
}

/** Something that happened to an alert besides state changes (escalations, acks, no data). */
export interface AlertEvent {
  readonly at: number;
  readonly kind: 'escalated' | 'acknowledged' | 'no_data' | 'data_back' | 'severity' | 'resolved' | 'recovered';
  readonly text: string;
}

/** An M-of-N trigger over the last N judged points, and a separate recovery window. */
export interface FlapPolicy {
  /** Anomalous points needed among the last `triggerN` to trigger (1..triggerN). */
  readonly triggerM: number;
  /** Points the trigger window spans (1..31). */
  readonly triggerN: number;
  /** Consecutive normal points needed before a firing alert may resolve (>= 1). */
  readonly recoveryPoints: number;
  /** An open alert with no verdict for this long is marked "no data" (unknown, never resolved). */
  readonly noDataAfterMs: number;
}

/** A cap per hour; beyond it one summary notification replaces the rest. */
export interface Budget {
  /** Notifications announcing S2+ alerts (pages) per hour. */
  readonly pagesPerHour: number;
  /** All notifications (pages included) per hour. */
  readonly notificationsPerHour: number;
}

/** A firing source alert mutes targets that agree with it on every `equal` label. */
export interface InhibitRule {
  readonly source: readonly Matcher[];
  readonly target: readonly Matcher[];
  readonly equal: readonly string[];
}

/** A page to `receiver` not acknowledged within `afterMs` goes to `next` as well. */
export interface Escalation {
  readonly receiver: string;
  readonly afterMs: number;
  readonly next: string;
}

/** Tenant-wide alerting policy (defaults: DEFAULT_ALERT_POLICY). Per-rule timing comes from the tenant config. */
export interface AlertPolicy {
  readonly flap: FlapPolicy;
  readonly tenantBudget: Budget;
  /** Budget every receiver gets unless `receiverBudgets` names it. */
  readonly receiverBudget: Budget;
  readonly receiverBudgets: Readonly<Record<string, Budget>>;
  /** The summary for held notifications goes out this long after the first one held. */
  readonly budgetSummaryDelayMs: number;
  readonly inhibitRules: readonly InhibitRule[];
  readonly escalations: readonly Escalation[];
  /** An ack without its own TTL lasts this long. */
  readonly ackTtlMs: number;
  /** Score, value and band changes of open alerts are written to the store at most this often. */
  readonly persistIntervalMs: number;
  /** Base of the triage links in notifications, e.g. `https://tidemark.example.com`. */
  readonly externalUrl: string;
  /** Alertmanager keeps a firing alert this long after each notification unless re-sent. */
  readonly alertmanagerValidForMs: number;
}

/** One alert as a notification shows it. */
export interface AlertView {
  readonly fingerprint: string;
  readonly tenant: string;
  readonly rule: string;
  readonly status: 'firing' | 'resolved';
  readonly severity: Severity;
  readonly metric: string;
  /** Series labels plus the built-in ones (tenant, rule, metric, severity, owner), group_by and static labels. */
  readonly labels: Labels;
  readonly value: number;
  readonly expected: number;
  readonly lower: number;
  readonly upper: number;
  readonly score: number;
  readonly detectors: readonly { readonly name: string; readonly reason: string }[];
  readonly startsAt: number;
  readonly endsAt: number | null;
  readonly owner: string | null;
  readonly runbook: string | null;
  readonly triageUrl: string;
  /** Why the configured severity was lowered (impact gate), if it was. */
  readonly heldReason: string | null;
  /** A multivariate alert's explanation ("latency_p95 up while qps is flat"); absent otherwise. */
  readonly explanation?: string;
}

/**
 * `update` is not produced by the stage: the engine sends it after a notification that went out
 * before its alerts' triage packets were ready, carrying their summary (the page is never held for it).
 */
export type DispatchKind = 'notify' | 'acknowledge' | 'summary' | 'escalation' | 'mitigation' | 'update';

/** One notification to one receiver, ready for `notify/`. */
export interface Dispatch {
  /**
   * Stable id: group id, kind and a hash of what it announces (see AlertStage); the same
   * notification gets the same id on every worker and across restarts. Receivers deduplicate by
   * it (the webhook's `id` and `Idempotency-Key`).
   */
  readonly id: string;
  readonly tenant: string;
  readonly receiver: string;
  readonly kind: DispatchKind;
  /** Hash of the group key: PagerDuty's dedup_key, one incident per group. */
  readonly groupId: string;
  readonly groupKey: string;
  readonly groupLabels: Labels;
  readonly commonLabels: Labels;
  /** 'firing' while any alert of the group fires. */
  readonly status: 'firing' | 'resolved';
  /** Highest severity among the firing alerts (S0 when none fire). */
  readonly severity: Severity;
  /** True when it announces an S2+ alert. */
  readonly page: boolean;
  readonly alerts: readonly AlertView[];
  /** Clock reading when the stage produced it. */
  readonly at: number;
  /** Earliest crossing sample time among alerts this dispatch announces for the first time (latency). */
  readonly crossedAt: number | null;
  /** For summaries and escalations: the text to show. */
  readonly text: string | null;
  /** URL for `mitigation` dispatches (the rule's mitigation hook). */
  readonly url: string | null;
  /** Alertmanager: a firing alert stays until this time unless re-sent. */
  readonly validUntil: number;
  /** Who acknowledged, for `acknowledge`. */
  readonly ackBy: string | null;
}
