import type { Migration } from '../migrate.ts';

// At-least-once notifications (issue 7): before a dispatch is sent, each of its alerts gets a
// `pending` row per channel, keyed by (dispatch id, channel, alert) in the idempotency key, and
// the dispatch itself is kept in notification_payloads; the receiver's 2xx turns the rows `sent`.
// A restart, or the worker that takes the alerts' partition over, sends every dispatch that is
// still pending again with the same id, and receivers drop the repeat by that id.
// SQLite cannot change a CHECK constraint in place: the table is rebuilt with its rows and indexes.
const rest = `
CREATE INDEX notifications_dispatch ON notifications (tenant, dispatch_id) WHERE dispatch_id IS NOT NULL;
CREATE INDEX notifications_pending ON notifications (tenant, at) WHERE status = 'pending';
CREATE TABLE notification_payloads (
  tenant TEXT NOT NULL REFERENCES tenants (id),
  dispatch_id TEXT NOT NULL,
  payload TEXT NOT NULL,
  at BIGINT NOT NULL,
  PRIMARY KEY (tenant, dispatch_id)
);
`;

const sqlite = `
CREATE TABLE notifications_next (
  id INTEGER PRIMARY KEY,
  tenant TEXT NOT NULL REFERENCES tenants (id),
  fingerprint TEXT NOT NULL,
  channel TEXT NOT NULL,
  alert_state TEXT NOT NULL CHECK (alert_state IN ('pending', 'firing', 'resolved')),
  status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
  attempt INTEGER NOT NULL,
  at INTEGER NOT NULL,
  error TEXT,
  idempotency_key TEXT,
  dispatch_id TEXT
);
INSERT INTO notifications_next (id, tenant, fingerprint, channel, alert_state, status, attempt, at, error, idempotency_key)
  SELECT id, tenant, fingerprint, channel, alert_state, status, attempt, at, error, idempotency_key FROM notifications;
DROP TABLE notifications;
ALTER TABLE notifications_next RENAME TO notifications;
CREATE INDEX notifications_alert ON notifications (tenant, fingerprint, channel, at);
CREATE INDEX notifications_time ON notifications (tenant, at);
CREATE UNIQUE INDEX notifications_key ON notifications (tenant, idempotency_key);
${rest}`;

const postgres = `
ALTER TABLE notifications DROP CONSTRAINT notifications_status_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_status_check CHECK (status IN ('pending', 'sent', 'failed'));
ALTER TABLE notifications ADD COLUMN dispatch_id TEXT;
${rest}`;

export const m0005: Migration = {
  version: 5,
  name: 'notification intents',
  sqlite,
  postgres,
};
