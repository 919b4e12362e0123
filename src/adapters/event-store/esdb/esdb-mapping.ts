import { createHash } from 'node:crypto';
import {
  ANY,
  type AppendExpectedRevision,
  type ErrorType,
  eventTypeFilter,
  type Filter,
  NO_STREAM,
  type Position,
  STREAM_EXISTS,
  streamNameFilter,
} from '@eventstore/db-client';
import {
  type EventFilter,
  type EventMetadata,
  EventStoreError,
  type ExpectedRevision,
  type GlobalPosition,
  type RecordedEvent,
} from '../../../domain/event-store/event-store.js';

/**
 * Between the port and EventStoreDB's client: revisions, positions, event ids, filters,
 * errors. Pure and unit-tested without a server (esdb-mapping.test.ts); the adapter only
 * moves data through these.
 */

/** Message bodies and other blobs live in their own streams, outside the port's log. */
export const BLOB_STREAM_PREFIX = 'blob-';
export const BLOB_EVENT_TYPE = 'Blob';
export const blobStream = (key: string): string => `${BLOB_STREAM_PREFIX}${key}`;

export const toExpectedRevision = (expected: ExpectedRevision): AppendExpectedRevision => {
  switch (expected) {
    case 'any':
      return ANY;
    case 'no_stream':
      return NO_STREAM;
    case 'stream_exists':
      return STREAM_EXISTS;
    default:
      return expected;
  }
};

/**
 * The port's position is EventStoreDB's commit position: for every append since the TCP
 * client's explicit transactions, commit and prepare are equal, and commit is what
 * subscriptions and checkpoints carry (prepare is sometimes 0 there).
 */
export const fromPosition = (position: Position): GlobalPosition => position.commit;
export const toPosition = (position: GlobalPosition): Position => ({
  commit: position,
  prepare: position,
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
/** Our namespace for name-based event ids (RFC 9562 UUIDv5). */
const NAMESPACE = Buffer.from('6f0c7e2e8a5b4c1d9e3f2a1b0c9d8e7f', 'hex');
/** Where an event id that is not a UUID is kept, so it reads back as it was given. */
export const ORIGINAL_ID_KEY = 'mailtrail.eventId';

/** A UUIDv5 of a name: the same name gives the same id, so idempotency holds. */
export const nameUuid = (name: string): string => {
  const hash = createHash('sha1').update(NAMESPACE).update(name, 'utf8').digest();
  hash[6] = ((hash[6] ?? 0) & 0x0f) | 0x50;
  hash[8] = ((hash[8] ?? 0) & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
};

/**
 * EventStoreDB wants UUID event ids; ours are UUIDs in the relay but any string in the
 * port. A UUID goes as it is; anything else as its UUIDv5, the original kept in metadata.
 */
export const toEventId = (
  eventId: string,
  metadata: EventMetadata | undefined,
): { readonly id: string; readonly metadata: Record<string, unknown> } =>
  UUID.test(eventId)
    ? { id: eventId.toLowerCase(), metadata: { ...metadata } }
    : { id: nameUuid(eventId), metadata: { ...metadata, [ORIGINAL_ID_KEY]: eventId } };

export interface EsdbRecorded {
  readonly streamId: string;
  readonly id: string;
  readonly revision: bigint;
  readonly type: string;
  readonly created: Date;
  readonly data: unknown;
  readonly metadata?: unknown;
  readonly position?: Position;
}

export const toRecordedEvent = (event: EsdbRecorded): RecordedEvent => {
  const { [ORIGINAL_ID_KEY]: original, ...metadata } = (event.metadata ?? {}) as Record<
    string,
    string | number | boolean | null
  >;
  if (!event.position)
    throw new EventStoreError(
      'StoreUnavailable',
      `${event.streamId}@${event.revision}: the server gave no position (EventStoreDB 22.6 or later is needed)`,
    );
  return {
    eventId: typeof original === 'string' ? original : event.id,
    type: event.type,
    data: event.data,
    ...(Object.keys(metadata).length > 0 ? { metadata } : {}),
    streamName: event.streamId,
    revision: event.revision,
    position: fromPosition(event.position),
    recordedAt: event.created,
  };
};

/** System streams and events (`$`…) and our blob streams are not part of the port's log. */
export const isLogEvent = (streamName: string, type: string): boolean =>
  !streamName.startsWith('$') &&
  !type.startsWith('$') &&
  !streamName.startsWith(BLOB_STREAM_PREFIX);

export const matchesFilter = (filter: EventFilter | undefined, event: RecordedEvent): boolean =>
  (!filter?.streamPrefixes || filter.streamPrefixes.some((p) => event.streamName.startsWith(p))) &&
  (!filter?.eventTypes || filter.eventTypes.includes(event.type));

const escapeRegex = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The server-side part of a filter. EventStoreDB filters on stream names or on event
 * types, not both: stream prefixes go to the server (they cut the most), event types are
 * then matched here too (`matchesFilter`). With neither, system events and blob streams are
 * left out on the server.
 */
export const toServerFilter = (filter: EventFilter | undefined): Filter => {
  if (filter?.streamPrefixes && filter.streamPrefixes.length > 0)
    return streamNameFilter({ prefixes: [...filter.streamPrefixes] });
  if (filter?.eventTypes && filter.eventTypes.length > 0)
    return eventTypeFilter({
      regex: `^(?:${filter.eventTypes.map(escapeRegex).join('|')})$`,
    });
  // An empty prefix list matches nothing (as in the port); stream names are never empty.
  if (filter?.streamPrefixes) return streamNameFilter({ regex: '^$' });
  return streamNameFilter({ regex: `^(?!\\$|${escapeRegex(BLOB_STREAM_PREFIX)})` });
};

/** The client's error types the port knows, and what they mean to it. */
const UNAVAILABLE: ReadonlySet<`${ErrorType}`> = new Set([
  'unavailable',
  'deadline-exceeded',
  'timeout',
  'not-leader',
  'cancelled',
]);

/** A client error in the port's terms; anything else is rethrown as it is. */
export const toStoreError = (error: unknown, streamName?: string): unknown => {
  const type = (error as { type?: string } | null)?.type;
  if (type === 'wrong-expected-version') {
    const e = error as { expectedVersion?: unknown; actualVersion?: unknown };
    return new EventStoreError(
      'WrongExpectedRevision',
      `${streamName ?? 'stream'}: expected revision ${String(e.expectedVersion)}, stream is at ${String(e.actualVersion)}`,
      { cause: error },
    );
  }
  if (type === 'maximum-append-size-exceeded' || type === 'invalid-argument')
    return new EventStoreError('InvalidEvent', (error as Error).message, { cause: error });
  if (type !== undefined && UNAVAILABLE.has(type as `${ErrorType}`))
    return new EventStoreError('StoreUnavailable', (error as Error).message, { cause: error });
  return error;
};
