// The engine: ingest -> series state -> detect -> store, in order, in one place.
export { createEngine, DEFAULT_ENGINE_OPTIONS, Engine, type EngineStats, type IngestMode } from './engine.ts';
export { CARDINALITY_REASONS, type EngineRejectReason } from './tenant.ts';
export type { Anomaly, EngineOptions, IngestOutcome, RejectionCount } from './types.ts';
export { Alerting, type AlertingOptions } from './alerting.ts';
export { TriageBuilder, TriageWiring, TRIAGE_DEFAULTS, type TriageOptions } from './triage.ts';
