import type { Migration } from '../migrate.ts';

// An idempotency key per notification record (NotificationInput.idempotencyKey): a cluster
// worker that replays a partition after a failover records the same sends again, and the key
// makes the second record a no-op. NULL keys (records without one) never conflict: both
// databases treat NULLs in a unique index as distinct. The same text serves both dialects.
const sql = `
ALTER TABLE notifications ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX notifications_key ON notifications (tenant, idempotency_key);
`;

export const m0003: Migration = {
  version: 3,
  name: 'notification keys',
  sqlite: sql,
  postgres: sql,
};
