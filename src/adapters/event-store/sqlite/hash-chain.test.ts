/**
 * The SQLite log's hash chains: every append extends them, and any change to a stored
 * event (its payload, its removal) is found at the right position by the verifier.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { verifyLog, verifyStream } from '../../../apps/audit/verify-log.js';
import type { EventStore } from '../../../domain/event-store/event-store.js';
import { openSqliteEventStore } from './sqlite-event-store.js';

const event = (n: number) => ({ eventId: randomUUID(), type: 'Thing', data: { n } });

describe('SQLite hash chains', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mailtrail-chain-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** A log of 9 events: a-0..2, b-0..2, a-3..5 in that order (positions 1..9). */
  const filled = async (name: string): Promise<{ store: EventStore; path: string }> => {
    const path = join(dir, `${name}.sqlite`);
    const store = openSqliteEventStore({ path });
    await store.appendToStream('a-1', [event(0), event(1), event(2)], {
      expectedRevision: 'no_stream',
    });
    await store.appendToStream('b-1', [event(3), event(4), event(5)], {
      expectedRevision: 'no_stream',
    });
    await store.appendToStream('a-1', [event(6), event(7), event(8)], { expectedRevision: 2n });
    return { store, path };
  };
  const tamper = (path: string, sql: string) => {
    const db = new Database(path);
    db.exec(sql);
    db.close();
  };

  it('an untouched log verifies, from the start and from a time', async () => {
    const { store } = await filled('intact');
    const all = await verifyLog(store);
    assert.equal(all.checked, 9);
    assert.equal(all.problems, 0);
    assert.equal(all.head?.position, 9n);
    assert.match(all.head?.hash ?? '', /^[0-9a-f]{64}$/);
    const recent = await verifyLog(store, { since: Date.now() - 60_000 });
    assert.equal(recent.problems, 0);
    assert.equal(await verifyStream(store, 'a-1'), null);
    await store.close();
  });

  it('a changed payload is reported at its position as altered', async () => {
    const { store, path } = await filled('altered');
    tamper(path, `UPDATE events SET data = '{"n":40}' WHERE position = 5`);
    const result = await verifyLog(store);
    assert.equal(result.problems, 1);
    assert.deepEqual(
      result.findings.map((f) => [f.position, f.problem]),
      [[5n, 'altered']],
    );
    assert.deepEqual(await verifyStream(store, 'b-1'), {
      position: 5n,
      streamName: 'b-1',
      revision: 1n,
      problem: 'altered',
    });
    assert.equal(await verifyStream(store, 'a-1'), null);
    await store.close();
  });

  it('a removed event breaks the chain at the next position', async () => {
    const { store, path } = await filled('removed');
    tamper(path, 'DELETE FROM events WHERE position = 6');
    const result = await verifyLog(store);
    assert.deepEqual(
      result.findings.map((f) => [f.position, f.problem]),
      [[7n, 'missing-before']],
    );
    tamper(path, 'DELETE FROM events WHERE position = 8');
    const again = await verifyLog(store);
    assert.deepEqual(
      again.findings.map((f) => [f.position, f.problem]),
      [
        [7n, 'missing-before'],
        [9n, 'missing-in-stream'],
      ],
    );
    assert.equal(
      ((await verifyStream(store, 'a-1')) as { problem: string } | null)?.problem,
      'missing-in-stream',
    );
    await store.close();
  });

  it('a hash recomputed for a forged event still breaks the next one', async () => {
    const { store, path } = await filled('forged');
    // The forger changes the payload and rewrites that event's hashes with garbage of the
    // right size: the event no longer matches what came before it in either chain.
    tamper(
      path,
      `UPDATE events SET data = '{"n":99}', hash = randomblob(32), stream_hash = randomblob(32)
       WHERE position = 2`,
    );
    const result = await verifyLog(store);
    assert.equal(result.findings[0]?.position, 2n);
    assert.ok(
      result.findings.some((f) => f.position === 3n),
      'the next event no longer chains',
    );
    await store.close();
  });

  it('a log from before the chains gets them when opened, and verifies', async () => {
    const path = join(dir, 'legacy.sqlite');
    const legacy = new Database(path);
    legacy.exec(`
      CREATE TABLE streams (stream_name TEXT PRIMARY KEY, revision INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE events (position INTEGER PRIMARY KEY AUTOINCREMENT, stream_name TEXT NOT NULL,
        revision INTEGER NOT NULL, event_id TEXT NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL,
        metadata TEXT, recorded_at INTEGER NOT NULL, UNIQUE (stream_name, revision),
        UNIQUE (stream_name, event_id));
      CREATE TABLE blobs (key TEXT PRIMARY KEY, bytes BLOB NOT NULL) WITHOUT ROWID;
      INSERT INTO events (stream_name, revision, event_id, type, data, metadata, recorded_at)
        VALUES ('old-1', 0, 'e0', 'Thing', '{"n":0}', NULL, 1), ('old-1', 1, 'e1', 'Thing', '{"n":1}', NULL, 2);
      INSERT INTO streams VALUES ('old-1', 1);`);
    legacy.close();
    const store = openSqliteEventStore({ path });
    await store.appendToStream('old-1', [event(2)], { expectedRevision: 1n });
    const result = await verifyLog(store);
    assert.equal(result.checked, 3);
    assert.equal(result.problems, 0);
    assert.equal(await verifyStream(store, 'old-1'), null);
    await store.close();
  });
});
