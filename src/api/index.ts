// The HTTP API: ingest, query, changes, backfill, config, /metrics, health.
export { buildApp, DEFAULT_API_LIMITS, errorBody, type ApiLimits, type AppOptions } from './app.ts';
export { decodeCsvSamples } from './csv.ts';
export { parseDurationMs, parseQuery, type ParsedSelector } from './promql.ts';
