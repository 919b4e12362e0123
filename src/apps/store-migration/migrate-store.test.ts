/**
 * Copying the embedded SQLite log into another store: every stream at the same revisions
 * with the same ids and data, bodies along, and an interrupted copy resumed without
 * duplicates. The target here is the in-memory store (it keeps the port's contract, as
 * EventStoreDB does; a copy into a real EventStoreDB needs a server, see docs/scale-out.md).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createMemoryEventStore } from '../../adapters/event-store/memory/memory-event-store.js';
import { openSqliteEventStore } from '../../adapters/event-store/sqlite/sqlite-event-store.js';
import type { EventStore, RecordedEvent } from '../../domain/event-store/event-store.js';
import { migrateStore } from './migrate-store.js';

const collect = async (store: EventStore): Promise<RecordedEvent[]> => {
  const out: RecordedEvent[] = [];
  for await (const e of store.readAll()) out.push(e);
  return out;
};
const shape = (events: readonly RecordedEvent[]) =>
  events.map(({ streamName, revision, eventId, type, data, metadata }) => ({
    streamName,
    revision,
    eventId,
    type,
    data,
    metadata,
  }));

describe('store migration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mailtrail-migrate-'));
  let source: EventStore;
  before(async () => {
    source = openSqliteEventStore({ path: join(dir, 'events.db') });
    // Three messages interleaved with a credential stream, bodies as blobs.
    for (let m = 0; m < 3; m++) {
      await source.appendToStream(
        `message-m${m}`,
        [
          {
            eventId: `accepted-${m}`,
            type: 'MessageAccepted',
            data: { bodyRef: `body-m${m}`, n: m },
            metadata: { source: 'smtp' },
          },
        ],
        {
          expectedRevision: 'no_stream',
          blobs: [{ key: `body-m${m}`, bytes: Buffer.from(`body ${m}\r\n`) }],
        },
      );
      await source.appendToStream(
        'credential-c1',
        [{ eventId: `c-${m}`, type: 'Noted', data: { m } }],
        { expectedRevision: m === 0 ? 'no_stream' : BigInt(m - 1) },
      );
    }
    for (let m = 0; m < 3; m++)
      await source.appendToStream(
        `message-m${m}`,
        [{ eventId: `delivered-${m}`, type: 'MessageDelivered', data: { m } }],
        { expectedRevision: 0n },
      );
  });
  after(async () => {
    await source.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('copies every stream at its revisions with its ids, data and metadata, and the bodies', async () => {
    const target = createMemoryEventStore();
    const result = await migrateStore(source, target);
    assert.deepEqual(result, { copied: 9, alreadyThere: 0, position: await source.headPosition() });
    assert.deepEqual(shape(await collect(target)), shape(await collect(source)));
    for (let m = 0; m < 3; m++)
      assert.equal(
        Buffer.from((await target.readBlob(`body-m${m}`)) ?? []).toString(),
        `body ${m}\r\n`,
      );
  });

  it('an interrupted copy resumes from its checkpoint, and a copy run again adds nothing', async () => {
    const target = createMemoryEventStore();
    const stop = new AbortController();
    let checkpoint = 0n;
    const first = await migrateStore(source, target, {
      signal: stop.signal,
      onProgress: (p) => {
        checkpoint = p.position;
        if (p.events === 4) stop.abort();
      },
    });
    assert.equal(first.copied, 4);
    const rest = await migrateStore(source, target, { after: checkpoint });
    assert.equal(rest.copied, 5);
    assert.deepEqual(shape(await collect(target)), shape(await collect(source)));
    // From the very start again (no checkpoint kept): every event is recognised, none added.
    const again = await migrateStore(source, target);
    assert.deepEqual([again.copied, again.alreadyThere], [0, 9]);
    assert.equal((await collect(target)).length, 9);
  });
});
