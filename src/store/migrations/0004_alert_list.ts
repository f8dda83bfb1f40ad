import type { Migration } from '../migrate.ts';

// The alerts list reads pages of 200 and counts 10,000 alerts by state, severity, held and
// service every few seconds. Whether something held an alert back lives in its packet (JSON of
// kilobytes) and its service in the labels text: deriving them per read costs more than the rest
// of the read, so the store writes both beside the packet on every upsert, and this fills them
// for existing rows once. The index serves the triage order (worst severity, newest) a page at a
// time without sorting every alert.
const INDEX = 'CREATE INDEX alerts_severity ON alerts (tenant, severity, starts_at, fingerprint);';

const sqlite = `
ALTER TABLE alerts ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN service TEXT;
UPDATE alerts SET
  held = CASE WHEN packet IS NOT NULL AND json_type(packet) = 'object' AND (coalesce(json_array_length(packet, '$.suppressions'), 0) > 0 OR coalesce(packet ->> '$.heldReason', '') NOT IN ('', 0)) THEN 1 ELSE 0 END,
  service = (SELECT j.value ->> 1 FROM json_each(alerts.labels) j WHERE j.value ->> 0 IN ('service', 'exported_service') ORDER BY j.value ->> 0 = 'service' DESC LIMIT 1);
${INDEX}
`;

const postgres = `
ALTER TABLE alerts ADD COLUMN held INTEGER NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN service TEXT;
UPDATE alerts SET
  held = CASE WHEN packet IS NOT NULL AND jsonb_typeof(packet::jsonb) = 'object' AND (
    CASE WHEN jsonb_typeof(packet::jsonb -> 'suppressions') = 'array' THEN jsonb_array_length(packet::jsonb -> 'suppressions') > 0 ELSE false END
    OR coalesce(packet::jsonb ->> 'heldReason', '') NOT IN ('', 'false', '0')) THEN 1 ELSE 0 END,
  service = (SELECT e ->> 1 FROM jsonb_array_elements(labels::jsonb) e WHERE e ->> 0 IN ('service', 'exported_service') ORDER BY e ->> 0 = 'service' DESC LIMIT 1);
${INDEX}
`;

export const m0004: Migration = {
  version: 4,
  name: 'alert list columns',
  sqlite,
  postgres,
};
