import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openSqliteDatabase } from './open-database.js';

describe('the event log file', () => {
  it('is durable per commit and keeps savepoint journals off the disk', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailtrail-open-'));
    try {
      const db = openSqliteDatabase(join(dir, 'events.sqlite'));
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(db.pragma('synchronous', { simple: true }), 2, 'FULL: fsync at every commit');
      assert.equal(db.pragma('page_size', { simple: true }), 16384);
      // 2 = MEMORY: a group commit's per-append savepoints never create temporary files.
      assert.equal(db.pragma('temp_store', { simple: true }), 2);
      db.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
