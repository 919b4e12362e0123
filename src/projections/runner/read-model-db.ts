import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { GlobalPosition } from '../../domain/event-store/event-store.js';
import { checkpointKey, type Projection, type Tables } from './projection.js';

export type ReadModelDb = Database.Database;

const cache = new WeakMap<ReadModelDb, Map<string, Database.Statement>>();

/** A prepared statement, prepared once per database: projections run the same few SQL. */
export const statement = (db: ReadModelDb, sql: string): Database.Statement => {
  let statements = cache.get(db);
  if (!statements) {
    statements = new Map();
    cache.set(db, statements);
  }
  let prepared = statements.get(sql);
  if (!prepared) {
    prepared = db.prepare(sql);
    statements.set(sql, prepared);
  }
  return prepared;
};

/**
 * The read-model database: every projection's tables and their checkpoints, in one SQLite
 * file whatever the event store backend is. synchronous=NORMAL: a power cut may lose the
 * last batches, and the checkpoint goes back with them, so they are simply replayed.
 */
export const openReadModelDb = (path: string): ReadModelDb => {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 10000');
  db.exec(`CREATE TABLE IF NOT EXISTS projection_checkpoints (
    key TEXT PRIMARY KEY, position INTEGER NOT NULL, updated_at INTEGER NOT NULL) WITHOUT ROWID`);
  return db;
};

export const createTables = (db: ReadModelDb, p: Projection, t: Tables): void => {
  for (const [logical, columns] of Object.entries(p.tables))
    db.exec(`CREATE TABLE IF NOT EXISTS ${t(logical)} (${columns})`);
  for (const [logical, definition] of Object.entries(p.indexes)) {
    const match = /^(\w+)\s*(\(.*)$/s.exec(definition.trim());
    if (!match)
      throw new Error(`index ${logical} of ${p.name}: expected "table (columns) [WHERE …]"`);
    db.exec(`CREATE INDEX IF NOT EXISTS ${t(logical)} ON ${t(match[1] as string)} ${match[2]}`);
  }
};

export const dropTables = (db: ReadModelDb, t: Tables, p: Projection): void => {
  for (const logical of Object.keys(p.tables)) db.exec(`DROP TABLE IF EXISTS ${t(logical)}`);
};

export const readCheckpoint = (db: ReadModelDb, key: string): GlobalPosition => {
  const row = statement(db, 'SELECT position FROM projection_checkpoints WHERE key = ?')
    .safeIntegers(true)
    .get(key) as { position: bigint } | undefined;
  return row?.position ?? 0n;
};

export const writeCheckpoint = (db: ReadModelDb, key: string, position: GlobalPosition): void => {
  statement(
    db,
    `INSERT INTO projection_checkpoints (key, position, updated_at) VALUES (?, ?, ?)
     ON CONFLICT (key) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at`,
  ).run(key, position, Date.now());
};

export const deleteCheckpoint = (db: ReadModelDb, key: string): void => {
  db.prepare('DELETE FROM projection_checkpoints WHERE key = ?').run(key);
};

export const liveCheckpoint = (db: ReadModelDb, p: Projection): GlobalPosition =>
  readCheckpoint(db, checkpointKey(p));
