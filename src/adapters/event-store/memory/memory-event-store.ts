import { EventEmitter } from 'node:events';
import {
  type AppendOptions,
  type AppendResult,
  type EventStore,
  EventStoreError,
  matchesFilter,
  type NewEvent,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  type SubscribeOptions,
  type SubscriptionItem,
} from '../../../domain/event-store/event-store.js';
import { checkExpectedRevision, checkIdempotency } from '../append-rules.js';
import { waitForChange } from '../wait-for-change.js';

/**
 * An in-memory event store for tests and tools: same contract, no durability. Positions
 * step by 2 on purpose, so consumers that assume gapless positions fail the contract suite.
 */
export const createMemoryEventStore = (): EventStore => {
  const log: RecordedEvent[] = [];
  const streams = new Map<string, RecordedEvent[]>();
  const blobs = new Map<string, Uint8Array>();
  const appended = new EventEmitter();
  appended.setMaxListeners(0);
  let closed = false;

  const appendNow = (
    streamName: string,
    events: readonly NewEvent[],
    options: AppendOptions,
  ): AppendResult => {
    const stream = streams.get(streamName);
    const current = stream ? BigInt(stream.length - 1) : 'no_stream';
    const duplicate = checkIdempotency(streamName, events, current, (id) =>
      stream?.find((e) => e.eventId === id),
    );
    if (duplicate) return duplicate;
    checkExpectedRevision(streamName, options.expectedRevision, current);
    const target = stream ?? [];
    const recordedAt = new Date();
    for (const event of events) {
      const last = log[log.length - 1];
      const recorded: RecordedEvent = {
        ...event,
        data: structuredClone(event.data),
        streamName,
        revision: BigInt(target.length),
        position: (last?.position ?? 0n) + 2n,
        recordedAt,
      };
      target.push(recorded);
      log.push(recorded);
    }
    streams.set(streamName, target);
    for (const blob of options.blobs ?? []) blobs.set(blob.key, blob.bytes);
    const last = target[target.length - 1] as RecordedEvent;
    return { nextExpectedRevision: last.revision, position: last.position, deduplicated: false };
  };

  const readAllNow = (options: ReadAllOptions): RecordedEvent[] =>
    log
      .filter((e) => e.position > (options.after ?? 0n) && matchesFilter(e, options.filter))
      .slice(0, options.maxCount ?? Number.MAX_SAFE_INTEGER);

  return {
    appendToStream: async (streamName, events, options) => {
      if (closed) throw new EventStoreError('StoreUnavailable', 'the store is closed');
      if (events.length === 0)
        throw new EventStoreError('InvalidEvent', 'an append needs at least one event');
      const result = appendNow(streamName, events, options);
      appended.emit('append');
      return result;
    },
    async *readStream(streamName: string, options: ReadStreamOptions = {}) {
      const events = [...(streams.get(streamName) ?? [])];
      const backwards = options.direction === 'backwards';
      if (backwards) events.reverse();
      const from = options.fromRevision;
      const selected = events
        .filter((e) =>
          from === undefined ? true : backwards ? e.revision <= from : e.revision >= from,
        )
        .slice(0, options.maxCount ?? Number.MAX_SAFE_INTEGER);
      yield* selected;
    },
    async *readAll(options: ReadAllOptions = {}) {
      yield* readAllNow(options);
    },
    async *subscribeToAll(options: SubscribeOptions = {}): AsyncIterable<SubscriptionItem> {
      let after = options.after ?? 0n;
      let caughtUp = false;
      while (!options.signal?.aborted && !closed) {
        const head = log[log.length - 1]?.position ?? 0n;
        let any = false;
        for (const event of readAllNow({ ...options, after, maxCount: undefined })) {
          if (event.position > head) break;
          yield { kind: 'event', event };
          after = event.position;
          any = true;
        }
        if (after < head || any) {
          after = head;
          yield { kind: 'checkpoint', position: after };
        }
        if (!caughtUp) {
          caughtUp = true;
          yield { kind: 'caughtUp', position: after };
        }
        await waitForChange(appended, 'append', 1_000, options.signal);
      }
    },
    readBlob: async (key) => blobs.get(key),
    headPosition: async () => log[log.length - 1]?.position ?? 0n,
    close: async () => {
      closed = true;
      appended.emit('append');
    },
  };
};
