/**
 * Copying the embedded SQLite log into another store: every stream at the same revisions
 * with the same ids and data, bodies along, and an interrupted copy resumed without
 * duplicates. Targets: the in-memory store (it keeps the port's contract, as EventStoreDB
 * does) always; a real EventStoreDB/KurrentDB when EVENTSTORE_CONNECTION_STRING names one,
 * else reported as skipped with that reason. Each test copies a fresh SQLite log whose
 * streams carry a run id of their own, so a shared server's other streams do not count.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openEsdbEventStore } from '../../adapters/event-store/esdb/esdb-event-store.js';
import { createMemoryEventStore } from '../../adapters/event-store/memory/memory-event-store.js';
import { openSqliteEventStore } from '../../adapters/event-store/sqlite/sqlite-event-store.js';
import type { EventStore, RecordedEvent } from '../../domain/event-store/event-store.js';
import { migrateStore } from './migrate-store.js';

const TARGETS: ReadonlyArray<{
  readonly name: string;
  readonly skip?: string | undefined;
  readonly open: () => EventStore;
}> = [
  { name: 'memory', open: createMemoryEventStore },
  {
    name: 'esdb',
    skip: process.env.EVENTSTORE_CONNECTION_STRING
      ? undefined
      : 'EVENTSTORE_CONNECTION_STRING is not set: no EventStoreDB/KurrentDB server to copy into (none can run on this machine: no server package, no Docker engine)',
    open: () =>
      openEsdbEventStore({
        connectionString: process.env.EVENTSTORE_CONNECTION_STRING ?? '',
        blobMaxAgeSeconds: 3600,
      }),
  },
];

const shape = (events: readonly RecordedEvent[]) =>
  events.map(({ streamName, revision, eventId, type, data, metadata }) => ({
    streamName,
    revision,
    eventId,
    type,
    data,
    metadata,
  }));

const dir = mkdtempSync(join(tmpdir(), 'mailtrail-migrate-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A SQLite log of three messages interleaved with a credential stream, bodies as blobs. */
const seededSource = async () => {
  const run = randomUUID().slice(0, 8);
  const source = openSqliteEventStore({ path: join(dir, `events-${run}.db`) });
  for (let m = 0; m < 3; m++) {
    await source.appendToStream(
      `message-m${m}-${run}`,
      [
        {
          eventId: randomUUID(),
          type: 'MessageAccepted',
          data: { bodyRef: `body-m${m}-${run}`, n: m },
          metadata: { source: 'smtp' },
        },
      ],
      {
        expectedRevision: 'no_stream',
        blobs: [{ key: `body-m${m}-${run}`, bytes: Buffer.from(`body ${m}\r\n`) }],
      },
    );
    await source.appendToStream(
      `credential-c1-${run}`,
      [{ eventId: randomUUID(), type: 'Noted', data: { m } }],
      { expectedRevision: m === 0 ? 'no_stream' : BigInt(m - 1) },
    );
  }
  for (let m = 0; m < 3; m++)
    await source.appendToStream(
      `message-m${m}-${run}`,
      [{ eventId: randomUUID(), type: 'MessageDelivered', data: { m } }],
      { expectedRevision: 0n },
    );
  /** This run's events in a store, in log order. */
  const collect = async (store: EventStore): Promise<RecordedEvent[]> => {
    const out: RecordedEvent[] = [];
    for await (const e of store.readAll({
      filter: { streamPrefixes: ['message-', 'credential-'] },
    }))
      if (e.streamName.endsWith(`-${run}`)) out.push(e);
    return out;
  };
  return { source, run, collect };
};

for (const target of TARGETS)
  describe(`store migration into ${target.name}`, { skip: target.skip ?? false }, () => {
    it('copies every stream at its revisions with its ids, data and metadata, and the bodies', async () => {
      const { source, run, collect } = await seededSource();
      const into = target.open();
      try {
        const result = await migrateStore(source, into);
        assert.deepEqual(result, {
          copied: 9,
          alreadyThere: 0,
          position: await source.headPosition(),
        });
        assert.deepEqual(shape(await collect(into)), shape(await collect(source)));
        for (let m = 0; m < 3; m++)
          assert.equal(
            Buffer.from((await into.readBlob(`body-m${m}-${run}`)) ?? []).toString(),
            `body ${m}\r\n`,
          );
      } finally {
        await into.close();
        await source.close();
      }
    });

    it('an interrupted copy resumes from its checkpoint, and a copy run again adds nothing', async () => {
      const { source, collect } = await seededSource();
      const into = target.open();
      try {
        const stop = new AbortController();
        let checkpoint = 0n;
        const first = await migrateStore(source, into, {
          signal: stop.signal,
          onProgress: (p) => {
            checkpoint = p.position;
            if (p.events === 4) stop.abort();
          },
        });
        assert.equal(first.copied, 4);
        const rest = await migrateStore(source, into, { after: checkpoint });
        assert.equal(rest.copied, 5);
        assert.deepEqual(shape(await collect(into)), shape(await collect(source)));
        // From the very start again (no checkpoint kept): every event is recognised, none added.
        const again = await migrateStore(source, into);
        assert.deepEqual([again.copied, again.alreadyThere], [0, 9]);
        assert.equal((await collect(into)).length, 9);
      } finally {
        await into.close();
        await source.close();
      }
    });
  });
