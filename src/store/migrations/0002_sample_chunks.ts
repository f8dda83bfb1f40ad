import type { Migration } from '../migrate.ts';

// Samples and bands move from one row per point to a log plus per-series chunks (see
// sqlite-samples.ts). The old `samples` and `bands` tables stay for one release: the store
// converts any rows left in them into chunks when it opens, then empties them.
//
// PostgreSQL: `BLOB` -> `BYTEA`; drop `WITHOUT ROWID` (or CLUSTER on the key); the rest is shared.
export const m0002: Migration = {
  version: 2,
  name: 'sample chunks',
  sqlite: `
-- Group commits of appended samples and bands, until their block is flushed into chunks.
CREATE TABLE sample_log (
  block INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (block, seq)
) WITHOUT ROWID;

-- One series' samples and bands from one block, time ordered. Clustered by block, so that a
-- flush appends at the end of the B-tree instead of touching a page per series; a block
-- flushed again after a crash rewrites the same rows.
CREATE TABLE sample_chunks (
  block INTEGER NOT NULL,
  series_id INTEGER NOT NULL,
  t_min INTEGER NOT NULL,
  t_max INTEGER NOT NULL,
  samples INTEGER NOT NULL,
  bands INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (block, series_id)
) WITHOUT ROWID;

-- Flushed blocks and the time they span: a read seeks (block, series) in each block that
-- overlaps its range. Written last in a flush, so a block is visible only once complete.
CREATE TABLE sample_blocks (
  block INTEGER PRIMARY KEY,
  t_min INTEGER NOT NULL,
  t_max INTEGER NOT NULL
);
`,
};
