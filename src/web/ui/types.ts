// Shapes the UI reads, as types only (nothing of the server is bundled): stored records from the
// store's contract, the triage packet from src/explain. The backtest answer is the documented
// shape of an endpoint still to come, read defensively: only what is present is drawn.
import type { AlertEvent, Suppression } from '../../alert/types.ts';
import type { PacketChange, PacketSegment, TriagePacket } from '../../explain/packet.ts';
import type { Ack, Alert, AlertTransition, AuditEntry, ChangeEvent, ConfigVersion, Feedback, FeedbackLabel, NotificationRecord, Severity, Silence } from '../../store/types.ts';

export type { Ack, Alert, AlertEvent, AlertTransition, AuditEntry, ChangeEvent, ConfigVersion, Feedback, FeedbackLabel, NotificationRecord, Severity, Silence, Suppression };

export const SEVERITY_ORDER: readonly Severity[] = ['S3', 'S2', 'S1', 'S0'];
export const SEVERITY_NAMES: Record<Severity, string> = { S0: 'log only', S1: 'notify', S2: 'page', S3: 'page + mitigate' };

/** What the alert stage keeps in `alert.packet` (src/alert/stage.ts). */
export interface StagePacket {
  rule?: string;
  value?: number | null;
  expected?: number | null;
  lower?: number | null;
  upper?: number | null;
  detectors?: { name: string; reason: string }[];
  configuredSeverity?: Severity;
  heldReason?: string | null;
  impact?: string | null;
  firingAt?: number | null;
  crossedAt?: number | null;
  dataState?: 'ok' | 'unknown';
  unknownSince?: number | null;
  acked?: unknown;
  suppressions?: Suppression[];
  events?: AlertEvent[];
}

/** GET /api/v1/alerts/{id}. */
export interface AlertDetail {
  alert: Alert;
  history: AlertTransition[];
  suppressions: Suppression[];
  events: AlertEvent[];
  notifications: NotificationRecord[];
  acks: Ack[];
  feedback: Feedback[];
}

/**
 * GET /api/v1/alerts/{id}/packet: the triage packet as src/explain/packet.ts builds it
 * (what / when / where / impact / why / next / related). Parts may be missing in packets
 * stored by older versions, so the page reads every part with optional chaining.
 */
export type { PacketChange, PacketSegment, TriagePacket };

/** POST /api/v1/backtest (issue 6/8): alerts and pages per day through the live pipeline. */
export interface BacktestResult {
  days?: { day: string | number; alerts?: number; pages?: number; notifications?: number; cleared?: number; bySeverity?: Partial<Record<Severity, number>> }[];
  totals?: { alerts?: number; pages?: number; notifications?: number; cleared?: number; suppressed?: Record<string, number> };
  configVersion?: number | null;
  draft?: boolean;
  series?: number;
  points?: number;
  warmupPoints?: number;
  elapsedMs?: number;
  alerts?: BacktestAlert[];
  alertsTruncated?: boolean;
}

/** One alert episode of a backtest (src/engine/backtest.ts). */
export interface BacktestAlert {
  fingerprint: string;
  metric: string;
  labels: Record<string, string>;
  state: string;
  severity: Severity;
  startsAt: number;
  endsAt: number | null;
  firingAt: number | null;
  paged: boolean;
  heldReason: string | null;
  suppressions: Suppression[];
}

/** A Prometheus query_range answer's series. */
export interface PromSeries {
  metric: Record<string, string>;
  values: [number, string][];
}

export interface SeriesRef {
  metric: string;
  labels: Record<string, string>;
}

export interface Anomaly {
  seriesId: number;
  metric: string;
  labels: Record<string, string>;
  t: number;
  value: number;
  score: number;
  expected: number;
  lower: number;
  upper: number;
  reasons: string[];
  rule: string;
}
