// PostgreSQL text of migration 2 (`sample chunks` on SQLite): the point tables. SQLite packs
// points into per-series chunks because a row per point cost two B-tree inserts in one
// process; PostgreSQL takes batches through unnest() into plain rows keyed (series, time), so
// a range read is one index range scan and the retention sweep is plain DELETEs. There is no
// tenant column: series ids are global, and reads check the owner through `series`.
export const PG_0002_SAMPLES = `
CREATE TABLE samples (
  series_id BIGINT NOT NULL,
  t BIGINT NOT NULL,
  v DOUBLE PRECISION,
  PRIMARY KEY (series_id, t)
);

CREATE TABLE bands (
  series_id BIGINT NOT NULL,
  t BIGINT NOT NULL,
  expected DOUBLE PRECISION,
  lower DOUBLE PRECISION,
  upper DOUBLE PRECISION,
  score DOUBLE PRECISION,
  PRIMARY KEY (series_id, t)
);

CREATE TABLE rollups_1m (
  series_id BIGINT NOT NULL,
  t BIGINT NOT NULL,
  n INTEGER NOT NULL,
  sum DOUBLE PRECISION,
  min DOUBLE PRECISION,
  max DOUBLE PRECISION,
  PRIMARY KEY (series_id, t)
);
`;
