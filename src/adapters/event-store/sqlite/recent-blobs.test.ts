import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { EventStore } from '../../../domain/event-store/event-store.js';
import { createRecentBlobs } from './recent-blobs.js';
import { openSqliteEventStore } from './sqlite-event-store.js';
import { type SqliteWriter, startSqliteWriter } from './sqlite-writer.js';

describe('recent blobs', () => {
  it('keeps the newest entries within the byte budget', () => {
    const recent = createRecentBlobs(10);
    recent.add('a', Buffer.from('aaaa'));
    recent.add('b', Buffer.from('bbbb'));
    recent.add('c', Buffer.from('cccc'));
    assert.equal(recent.get('a'), undefined);
    assert.equal(recent.get('b')?.toString(), 'bbbb');
    assert.equal(recent.get('c')?.toString(), 'cccc');
  });

  it('does not keep a blob larger than the budget, and replaces a key in place', () => {
    const recent = createRecentBlobs(4);
    recent.add('big', Buffer.from('too large'));
    assert.equal(recent.get('big'), undefined);
    recent.add('k', Buffer.from('1'));
    recent.add('k', Buffer.from('22'));
    assert.equal(recent.get('k')?.toString(), '22');
  });
});

describe('sqlite store with a writer thread and recent blobs', () => {
  let dir: string;
  let writer: SqliteWriter;
  let appending: EventStore;
  let reading: EventStore;
  let file: Database.Database;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mailtrail-blobs-'));
    const path = join(dir, 'events.db');
    writer = await startSqliteWriter(path);
    appending = openSqliteEventStore({ path, writer: writer.connect() });
    // Another connection, as the delivery thread has: it hears of blobs committed by others.
    reading = openSqliteEventStore({ path, writer: writer.connect(), recentBlobBytes: 64 });
    file = new Database(path);
  });
  after(async () => {
    file.close();
    await appending.close();
    await reading.close();
    await writer.close();
    rmSync(dir, { recursive: true, force: true });
  });

  let eventIds = 0;
  const append = (stream: string, key: string, bytes: Buffer) =>
    appending.appendToStream(stream, [{ eventId: `e-${++eventIds}`, type: 'T', data: {} }], {
      expectedRevision: 'no_stream',
      blobs: [{ key, bytes }],
    });

  const forget = (key: string) => file.prepare('DELETE FROM blobs WHERE key = ?').run(key);

  const eventually = async (check: () => Promise<boolean>) => {
    const deadline = Date.now() + 5000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 5));
    }
  };

  before(async () => {
    // The reader asks for blobs on its own port; until the writer has heard it, commits
    // are not passed on (the relay then reads them from the file). Wait for that here.
    for (let i = 0; ; i++) {
      await append(`warm-${i}`, `warm-${i}`, Buffer.from('w'));
      forget(`warm-${i}`);
      await new Promise((r) => setTimeout(r, 20));
      if (await reading.readBlob(`warm-${i}`)) break;
    }
  });

  it('another connection gets the committed bytes in memory, not from the file', async () => {
    await append('s-1', 'body-1', Buffer.from('first body'));
    // Gone from the file: only the copy the writer handed over can answer now.
    forget('body-1');
    assert.equal(await appending.readBlob('body-1'), undefined);
    await eventually(async () => (await reading.readBlob('body-1')) !== undefined);
    assert.equal(Buffer.from((await reading.readBlob('body-1')) ?? []).toString(), 'first body');
  });

  it('past its budget it reads the file again', async () => {
    await append('s-2', 'body-2', Buffer.alloc(40, 'x'));
    await append('s-3', 'body-3', Buffer.alloc(40, 'y'));
    forget('body-3');
    await eventually(async () => (await reading.readBlob('body-3')) !== undefined);
    assert.equal(Buffer.from((await reading.readBlob('body-3')) ?? []).toString(), 'y'.repeat(40));
    // body-2 was evicted from memory (40 + 40 > 64) and is still read from the file.
    assert.equal(Buffer.from((await reading.readBlob('body-2')) ?? []).toString(), 'x'.repeat(40));
  });

  it('a refused append hands over no blob', async () => {
    await assert.rejects(append('s-3', 'body-refused', Buffer.from('no')));
    await append('s-4', 'body-4', Buffer.from('later'));
    forget('body-4');
    await eventually(async () => (await reading.readBlob('body-4')) !== undefined);
    assert.equal(await reading.readBlob('body-refused'), undefined);
  });
});
