import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { chainHash } from '../../../domain/audit/event-chain.js';
import { type EventRow, SCHEMA } from './schema.js';

/**
 * The event log file: WAL, synchronous=FULL (a commit is on disk), 16 KB pages, savepoint
 * journals in memory, schema in place.
 */
export const openSqliteDatabase = (path: string): Database.Database => {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  // Bodies are blobs of kilobytes to megabytes: 16 KB pages chain a quarter as many
  // overflow pages as SQLite's 4 KB default (100 KB bodies: about half the CPU per insert
  // and a third more inserts a second, measured). Takes effect on a new file only.
  db.pragma('page_size = 16384');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  // Group commit gives each append a savepoint. Its journal (the pages it changed, a few
  // 16 KB pages) outgrows SQLite's 64 KB in-memory limit and spills to a temporary file,
  // created and deleted by every commit: a fifth of the writer thread's CPU went to those
  // writes, opens and closes. In memory it is freed when the savepoint is released.
  db.pragma('temp_store = MEMORY');
  db.exec(SCHEMA);
  addHashChains(db);
  return db;
};

/**
 * A log from before the hash chains gets them once, in one transaction: every event is
 * hashed as it stands now, so tampering from here on shows; what was done to it before
 * cannot be told.
 */
const addHashChains = (db: Database.Database): void => {
  const columns = (db.pragma('table_info(events)') as Array<{ name: string }>).map((c) => c.name);
  if (columns.includes('hash')) return;
  db.transaction(() => {
    db.exec('ALTER TABLE events ADD COLUMN hash BLOB');
    db.exec('ALTER TABLE events ADD COLUMN stream_hash BLOB');
    db.exec('ALTER TABLE streams ADD COLUMN hash BLOB');
    const update = db.prepare('UPDATE events SET hash = ?, stream_hash = ? WHERE position = ?');
    const streams = new Map<string, Buffer>();
    let previous: Buffer | null = null;
    const rows = db
      .prepare('SELECT * FROM events ORDER BY position')
      .safeIntegers(true)
      .iterate() as IterableIterator<EventRow>;
    const done: Array<[Buffer, Buffer, bigint]> = [];
    for (const row of rows) {
      const fields = {
        streamName: row.stream_name,
        revision: row.revision,
        eventId: row.event_id,
        type: row.type,
        data: row.data,
        metadata: row.metadata,
        recordedAt: Number(row.recorded_at),
      };
      const hash = chainHash(previous, fields);
      const streamHash = chainHash(streams.get(row.stream_name) ?? null, fields);
      streams.set(row.stream_name, streamHash);
      previous = hash;
      done.push([hash, streamHash, row.position]);
    }
    for (const [hash, streamHash, position] of done) update.run(hash, streamHash, position);
    const setStream = db.prepare('UPDATE streams SET hash = ? WHERE stream_name = ?');
    for (const [name, hash] of streams) setStream.run(hash, name);
  })();
};
