import {
  BACKWARDS,
  binaryEvent,
  END,
  EventStoreDBClient,
  FORWARDS,
  jsonEvent,
  START,
} from '@eventstore/db-client';
import type {
  AppendOptions,
  AppendResult,
  Blob,
  EventStore,
  GlobalPosition,
  NewEvent,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  SubscribeOptions,
  SubscriptionItem,
} from '../../../domain/event-store/event-store.js';
import { resumable } from '../resumable-subscription.js';
import {
  BLOB_EVENT_TYPE,
  blobStream,
  type EsdbRecorded,
  isLogEvent,
  matchesFilter,
  nameUuid,
  toEventId,
  toExpectedRevision,
  toPosition,
  toRecordedEvent,
  toServerFilter,
  toStoreError,
} from './esdb-mapping.js';

export interface EsdbStoreOptions {
  /** `esdb://host:2113?tls=false`, `esdb+discover://cluster.example:2113`, … */
  readonly connectionString: string;
  /** How long blob streams (message bodies) are kept ($maxAge), in seconds. */
  readonly blobMaxAgeSeconds: number;
}

const PAGE = 500;

type ResolvedLike = { readonly event?: EsdbRecorded };

const isNotFound = (error: unknown): boolean =>
  (error as { type?: string } | null)?.type === 'stream-not-found';

/**
 * The event store port on EventStoreDB/KurrentDB (`@eventstore/db-client`), for operators
 * who outgrow one machine. Streams map one to one; the port's global position is the
 * commit position; blobs (message bodies) are one binary event in a `blob-<key>` stream,
 * written before the events that refer to them, so both are durable before the append
 * returns; system streams and blob streams never appear in reads of the log. There is no
 * hash chain here (`readChain` is left out): the cluster's own replication is the record.
 */
export const openEsdbEventStore = (options: EsdbStoreOptions): EventStore => {
  const client = EventStoreDBClient.connectionString(options.connectionString);

  const writeBlob = async (blob: Blob): Promise<void> => {
    const stream = blobStream(blob.key);
    try {
      // The same id and `no_stream`: written again after a crash, it is the same write.
      await client.appendToStream(
        stream,
        binaryEvent({
          id: nameUuid(`blob:${blob.key}`),
          type: BLOB_EVENT_TYPE,
          data: blob.bytes,
        }),
        { expectedRevision: 'no_stream' },
      );
      await client.setStreamMetadata(stream, { maxAge: options.blobMaxAgeSeconds });
    } catch (error) {
      throw toStoreError(error, stream);
    }
  };

  /** The last `events.length` events of the stream, if they are exactly these. */
  const alreadyAppended = async (
    streamName: string,
    ids: readonly string[],
  ): Promise<AppendResult | null> => {
    const tail: RecordedEvent[] = [];
    for await (const e of readStream(streamName, {
      direction: 'backwards',
      maxCount: ids.length,
    }))
      tail.unshift(e);
    if (tail.length !== ids.length) return null;
    const same = tail.every((e, i) => nameOrUuid(e.eventId) === ids[i]);
    const last = tail.at(-1);
    return same && last
      ? { nextExpectedRevision: last.revision, position: last.position, deduplicated: true }
      : null;
  };

  const nameOrUuid = (eventId: string) => toEventId(eventId, undefined).id;

  async function* readStream(
    streamName: string,
    readOptions: ReadStreamOptions = {},
  ): AsyncIterable<RecordedEvent> {
    const backwards = readOptions.direction === 'backwards';
    try {
      const reading = client.readStream(streamName, {
        direction: backwards ? BACKWARDS : FORWARDS,
        fromRevision: readOptions.fromRevision ?? (backwards ? END : START),
        ...(readOptions.maxCount !== undefined ? { maxCount: readOptions.maxCount } : {}),
      });
      for await (const resolved of reading as AsyncIterable<ResolvedLike>)
        if (resolved.event) yield toRecordedEvent(resolved.event);
    } catch (error) {
      if (isNotFound(error)) return;
      throw toStoreError(error, streamName);
    }
  }

  /** The log after a position, in pages, system and blob events left out. */
  async function* readAll(readOptions: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    let after = readOptions.after;
    let left = readOptions.maxCount ?? Number.POSITIVE_INFINITY;
    for (;;) {
      let seen = 0;
      try {
        const page = client.readAll({
          direction: FORWARDS,
          fromPosition: after === undefined ? START : toPosition(after),
          maxCount: PAGE,
        });
        for await (const resolved of page as AsyncIterable<ResolvedLike>) {
          seen++;
          const raw = resolved.event;
          if (!raw?.position) continue;
          // Reads from a position include it; the port's `after` does not.
          if (after !== undefined && raw.position.commit <= after) continue;
          after = raw.position.commit;
          if (!isLogEvent(raw.streamId, raw.type)) continue;
          const event = toRecordedEvent(raw);
          if (!matchesFilter(readOptions.filter, event)) continue;
          yield event;
          if (--left <= 0) return;
        }
      } catch (error) {
        throw toStoreError(error);
      }
      if (seen < PAGE) return;
    }
  }

  const headPosition = async (): Promise<GlobalPosition> => {
    try {
      // The last event of the log proper: system events ($stats…) come and go after it.
      for await (const resolved of client.readAll({
        direction: BACKWARDS,
        fromPosition: END,
        maxCount: PAGE,
      }) as AsyncIterable<ResolvedLike>) {
        const raw = resolved.event;
        if (raw?.position && isLogEvent(raw.streamId, raw.type)) return raw.position.commit;
      }
      return 0n;
    } catch (error) {
      throw toStoreError(error);
    }
  };

  /** One connection's subscription: it ends with the connection (see `resumable`). */
  async function* subscribeOnce(
    subscribeOptions: SubscribeOptions = {},
  ): AsyncIterable<SubscriptionItem> {
    // History by reads (any server version), then live from where they stopped. The head
    // is read first: the history read covers at least up to it, so it is a safe checkpoint
    // (read after, it could pass events appended meanwhile that were not delivered yet).
    let last = subscribeOptions.after;
    const { filter, signal } = subscribeOptions;
    const head = await headPosition();
    for await (const event of readAll({
      ...(last !== undefined ? { after: last } : {}),
      ...(filter ? { filter } : {}),
    })) {
      if (signal?.aborted) return;
      last = event.position;
      yield { kind: 'event', event };
    }
    yield { kind: 'caughtUp', position: last !== undefined && last > head ? last : head };
    const subscription = client.subscribeToAll({
      fromPosition: last === undefined ? START : toPosition(last),
      filter: toServerFilter(filter),
    });
    const stop = () => void subscription.unsubscribe();
    signal?.addEventListener('abort', stop, { once: true });
    try {
      for await (const resolved of subscription as AsyncIterable<ResolvedLike>) {
        const raw = resolved.event;
        if (!raw?.position || (last !== undefined && raw.position.commit <= last)) continue;
        last = raw.position.commit;
        if (!isLogEvent(raw.streamId, raw.type)) continue;
        const event = toRecordedEvent(raw);
        if (matchesFilter(filter, event)) yield { kind: 'event', event };
        // Nothing is known to be waiting: everything up to here was delivered.
        if (subscription.readableLength === 0) yield { kind: 'checkpoint', position: last };
      }
    } catch (error) {
      if (!signal?.aborted) throw toStoreError(error);
    } finally {
      signal?.removeEventListener('abort', stop);
      await subscription.unsubscribe().catch(() => {});
    }
  }

  // A node failure or leader election drops the subscription: it is reopened from the last
  // event delivered, so the relay's projections keep following the log.
  const subscribeToAll = (
    subscribeOptions: SubscribeOptions = {},
  ): AsyncIterable<SubscriptionItem> =>
    resumable((after) => subscribeOnce({ ...subscribeOptions, after }), {
      after: subscribeOptions.after,
      signal: subscribeOptions.signal,
      // The adapter has no logger of its own: a warning on stderr says why reads stall.
      onRetry: (error, waitMs) =>
        process.emitWarning(
          `EventStoreDB subscription lost (${(error as Error).message}); reopening in ${waitMs} ms`,
        ),
    });

  return {
    appendToStream: async (
      streamName: string,
      events: readonly NewEvent[],
      appendOptions: AppendOptions,
    ): Promise<AppendResult> => {
      const mapped = events.map((e) => ({ event: e, ...toEventId(e.eventId, e.metadata) }));
      const replay = await alreadyAppended(
        streamName,
        mapped.map((m) => m.id),
      );
      if (replay) return replay;
      for (const blob of appendOptions.blobs ?? []) await writeBlob(blob);
      try {
        const result = await client.appendToStream(
          streamName,
          mapped.map((m) =>
            jsonEvent({
              id: m.id,
              type: m.event.type,
              data: m.event.data as Record<string, unknown>,
              metadata: m.metadata,
            }),
          ),
          { expectedRevision: toExpectedRevision(appendOptions.expectedRevision) },
        );
        return {
          nextExpectedRevision: result.nextExpectedRevision,
          position: result.position?.commit ?? (await headPosition()),
          deduplicated: false,
        };
      } catch (error) {
        throw toStoreError(error, streamName);
      }
    },
    readStream,
    readAll,
    subscribeToAll,
    readBlob: async (key: string): Promise<Uint8Array | undefined> => {
      for await (const event of readStream(blobStream(key), {
        direction: 'backwards',
        maxCount: 1,
      }))
        return event.data as Uint8Array;
      return undefined;
    },
    headPosition,
    close: () => client.dispose(),
  };
};
