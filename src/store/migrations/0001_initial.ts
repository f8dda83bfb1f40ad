import type { Migration } from '../migrate.ts';

// The first schema. Times are integer milliseconds; label sets are the canonical JSON pair
// arrays from check.ts (`[["code","500"],["job","api"]]`); other JSON columns hold JSON text.
//
// Dialect spots for the PostgreSQL version of this migration:
// - `INTEGER PRIMARY KEY` (SQLite's rowid alias) -> `BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY`.
// - `WITHOUT ROWID` -> drop it (a PRIMARY KEY is a separate B-tree there; consider CLUSTER or
//   time partitioning of `samples`).
// - `REAL` -> `DOUBLE PRECISION`; `BLOB` -> `BYTEA`; JSON `TEXT` -> `JSONB` if queried.
// - Times and sequence numbers need `BIGINT` (SQLite's INTEGER is already 64-bit).
// - SQLite stores NaN as NULL; PostgreSQL keeps NaN: read NULL and NaN alike as missing.
// Everything else (CHECK, UNIQUE, REFERENCES, ON CONFLICT upserts in the store code) is shared.
export const m0001: Migration = {
  version: 1,
  name: 'initial',
  sqlite: `
CREATE TABLE tenants (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

CREATE TABLE api_tokens (
  id INTEGER PRIMARY KEY,
  tenant TEXT NOT NULL REFERENCES tenants (id),
  name TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('read', 'write', 'admin')),
  hash TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  revoked_at INTEGER
);
CREATE INDEX api_tokens_tenant ON api_tokens (tenant);

CREATE TABLE series (
  id INTEGER PRIMARY KEY,
  tenant TEXT NOT NULL REFERENCES tenants (id),
  metric TEXT NOT NULL,
  labels TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  UNIQUE (tenant, metric, labels)
);

-- The hot table: clustered by (series, time) so a range read is one contiguous B-tree walk.
-- No foreign key to series: ingest would pay a lookup per row; ids come from intern().
CREATE TABLE samples (
  series_id INTEGER NOT NULL,
  t INTEGER NOT NULL,
  v REAL,
  PRIMARY KEY (series_id, t)
) WITHOUT ROWID;

CREATE TABLE rollups_1m (
  series_id INTEGER NOT NULL,
  t INTEGER NOT NULL,
  n INTEGER NOT NULL,
  sum REAL,
  min REAL,
  max REAL,
  PRIMARY KEY (series_id, t)
) WITHOUT ROWID;

CREATE TABLE bands (
  series_id INTEGER NOT NULL,
  t INTEGER NOT NULL,
  expected REAL,
  lower REAL,
  upper REAL,
  score REAL,
  PRIMARY KEY (series_id, t)
) WITHOUT ROWID;

-- Small key/value facts about the store itself (the rollup watermark).
CREATE TABLE store_meta (
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);

CREATE TABLE change_events (
  id INTEGER PRIMARY KEY,
  tenant TEXT NOT NULL REFERENCES tenants (id),
  t INTEGER NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('deploy', 'flag', 'config', 'schema', 'infra')),
  service TEXT NOT NULL,
  labels TEXT NOT NULL,
  text TEXT NOT NULL,
  author TEXT,
  link TEXT,
  external_id TEXT,
  UNIQUE (tenant, external_id)
);
CREATE INDEX change_events_time ON change_events (tenant, t);

CREATE TABLE alerts (
  tenant TEXT NOT NULL REFERENCES tenants (id),
  fingerprint TEXT NOT NULL,
  metric TEXT NOT NULL,
  labels TEXT NOT NULL,
  series_id INTEGER,
  state TEXT NOT NULL CHECK (state IN ('pending', 'firing', 'resolved')),
  severity TEXT NOT NULL CHECK (severity IN ('S0', 'S1', 'S2', 'S3')),
  starts_at INTEGER NOT NULL,
  ends_at INTEGER,
  updated_at INTEGER NOT NULL,
  score REAL NOT NULL,
  reasons TEXT NOT NULL,
  owner TEXT,
  runbook TEXT,
  packet TEXT,
  config_version INTEGER,
  PRIMARY KEY (tenant, fingerprint)
);
CREATE INDEX alerts_state ON alerts (tenant, state, starts_at);

CREATE TABLE alert_history (
  id INTEGER PRIMARY KEY,
  tenant TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  t INTEGER NOT NULL,
  state TEXT NOT NULL,
  severity TEXT NOT NULL,
  score REAL NOT NULL,
  FOREIGN KEY (tenant, fingerprint) REFERENCES alerts (tenant, fingerprint)
);
CREATE INDEX alert_history_alert ON alert_history (tenant, fingerprint, t);

CREATE TABLE notifications (
  id INTEGER PRIMARY KEY,
  tenant TEXT NOT NULL REFERENCES tenants (id),
  fingerprint TEXT NOT NULL,
  channel TEXT NOT NULL,
  alert_state TEXT NOT NULL CHECK (alert_state IN ('pending', 'firing', 'resolved')),
  status TEXT NOT NULL CHECK (status IN ('sent', 'failed')),
  attempt INTEGER NOT NULL,
  at INTEGER NOT NULL,
  error TEXT
);
CREATE INDEX notifications_alert ON notifications (tenant, fingerprint, channel, at);
CREATE INDEX notifications_time ON notifications (tenant, at);

CREATE TABLE silences (
  tenant TEXT NOT NULL REFERENCES tenants (id),
  id TEXT NOT NULL,
  matchers TEXT NOT NULL,
  starts_at INTEGER NOT NULL,
  ends_at INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  reason TEXT NOT NULL,
  recurrence TEXT,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, id),
  CHECK (ends_at >= starts_at)
);
CREATE INDEX silences_time ON silences (tenant, ends_at);

CREATE TABLE acks (
  id INTEGER PRIMARY KEY,
  tenant TEXT NOT NULL REFERENCES tenants (id),
  fingerprint TEXT NOT NULL,
  actor TEXT NOT NULL,
  at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  comment TEXT,
  cleared_at INTEGER,
  UNIQUE (tenant, fingerprint, actor, at)
);

CREATE TABLE feedback (
  tenant TEXT NOT NULL REFERENCES tenants (id),
  fingerprint TEXT NOT NULL,
  actor TEXT NOT NULL,
  label TEXT NOT NULL CHECK (label IN ('real', 'noise', 'expected', 'new_normal')),
  at INTEGER NOT NULL,
  comment TEXT,
  PRIMARY KEY (tenant, fingerprint, actor)
);
CREATE INDEX feedback_time ON feedback (tenant, at);

CREATE TABLE config_versions (
  tenant TEXT NOT NULL REFERENCES tenants (id),
  version INTEGER NOT NULL,
  yaml TEXT NOT NULL,
  author TEXT NOT NULL,
  at INTEGER NOT NULL,
  comment TEXT,
  PRIMARY KEY (tenant, version)
);

CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY,
  tenant TEXT NOT NULL REFERENCES tenants (id),
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  diff TEXT
);
CREATE INDEX audit_log_time ON audit_log (tenant, at);

-- Detector state per series and the ingest sequence number it covers.
CREATE TABLE checkpoints (
  series_id INTEGER PRIMARY KEY,
  seq INTEGER NOT NULL,
  blob BLOB NOT NULL,
  at INTEGER NOT NULL
);
`,
};
