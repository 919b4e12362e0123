export const SCHEMA = `
CREATE TABLE IF NOT EXISTS streams (
  stream_name TEXT PRIMARY KEY,
  revision    INTEGER NOT NULL,
  hash        BLOB
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS events (
  position    INTEGER PRIMARY KEY AUTOINCREMENT,
  stream_name TEXT NOT NULL,
  revision    INTEGER NOT NULL,
  event_id    TEXT NOT NULL,
  type        TEXT NOT NULL,
  data        TEXT NOT NULL,
  metadata    TEXT,
  recorded_at INTEGER NOT NULL,
  hash        BLOB,
  stream_hash BLOB,
  UNIQUE (stream_name, revision),
  UNIQUE (stream_name, event_id)
);
CREATE INDEX IF NOT EXISTS events_type_position ON events (type, position);

CREATE TABLE IF NOT EXISTS blobs (
  key   TEXT PRIMARY KEY,
  bytes BLOB NOT NULL
) WITHOUT ROWID;
`;

/** An events row as read with safe integers. */
export interface EventRow {
  position: bigint;
  stream_name: string;
  revision: bigint;
  event_id: string;
  type: string;
  data: string;
  metadata: string | null;
  recorded_at: bigint;
}
