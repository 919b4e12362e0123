/**
 * The event store port. Every backend (SQLite, in-memory, EventStoreDB) implements this
 * interface and passes the same contract suite (adapters/event-store/contract.test.ts).
 *
 * Revisions are per stream, 0-based and gapless. Positions are global, strictly
 * increasing in commit order, and may have gaps: compare them with `>`, never assume +1.
 */

import type { ChainedEvent } from '../audit/event-chain.js';

export type StreamRevision = bigint;
export type GlobalPosition = bigint;

export type ExpectedRevision = 'any' | 'no_stream' | 'stream_exists' | StreamRevision;

export type EventMetadata = Readonly<Record<string, string | number | boolean | null>>;

export interface NewEvent<T extends string = string, D = unknown> {
  /** Caller-generated id; appending the same ids to the same stream again is a no-op. */
  readonly eventId: string;
  readonly type: T;
  readonly data: D;
  readonly metadata?: EventMetadata;
}

export interface RecordedEvent<T extends string = string, D = unknown> extends NewEvent<T, D> {
  readonly streamName: string;
  readonly revision: StreamRevision;
  readonly position: GlobalPosition;
  readonly recordedAt: Date;
}

/** Opaque bytes committed atomically with an append (message bodies). */
export interface Blob {
  readonly key: string;
  readonly bytes: Uint8Array;
}

export interface AppendOptions {
  readonly expectedRevision: ExpectedRevision;
  /** Stored in the same transaction as the events: both are durable, or neither. */
  readonly blobs?: readonly Blob[];
}

export interface AppendResult {
  readonly nextExpectedRevision: StreamRevision;
  readonly position: GlobalPosition;
  /** True when every event id was already committed and nothing was written. */
  readonly deduplicated: boolean;
}

export interface ReadStreamOptions {
  /** Inclusive. Default: the first event forwards, the last backwards. */
  readonly fromRevision?: StreamRevision;
  readonly direction?: 'forwards' | 'backwards';
  readonly maxCount?: number;
}

export interface EventFilter {
  readonly streamPrefixes?: readonly string[];
  readonly eventTypes?: readonly string[];
}

export interface ReadAllOptions {
  /** Exclusive. Undefined reads from the beginning. */
  readonly after?: GlobalPosition;
  readonly maxCount?: number;
  readonly filter?: EventFilter;
}

export interface SubscribeOptions extends ReadAllOptions {
  readonly signal?: AbortSignal;
}

export type SubscriptionItem =
  | { readonly kind: 'event'; readonly event: RecordedEvent }
  /**
   * All events up to here were delivered (some may have been filtered out): a consumer can
   * checkpoint here and commit what it holds. Sent whenever the subscription reaches the head.
   */
  | { readonly kind: 'checkpoint'; readonly position: GlobalPosition }
  /** History is read; what follows is live. Sent once. */
  | { readonly kind: 'caughtUp'; readonly position: GlobalPosition };

export interface EventStore {
  appendToStream(
    streamName: string,
    events: readonly NewEvent[],
    options: AppendOptions,
  ): Promise<AppendResult>;
  /** A missing stream yields nothing. */
  readStream(streamName: string, options?: ReadStreamOptions): AsyncIterable<RecordedEvent>;
  readAll(options?: ReadAllOptions): AsyncIterable<RecordedEvent>;
  /** Catch-up, then live, until the signal aborts. */
  subscribeToAll(options?: SubscribeOptions): AsyncIterable<SubscriptionItem>;
  readBlob(key: string): Promise<Uint8Array | undefined>;
  /** The position of the last committed event, 0n when the store is empty. */
  headPosition(): Promise<GlobalPosition>;
  /**
   * The log as stored, with its hash chains, from the first event recorded at or after
   * `since` (epoch ms; default: the beginning), and the global hash just before it; or one
   * stream's events (`start` is then null). For `audit verify` and `messages show`; a
   * backend that keeps no chains leaves it out.
   */
  readChain?(options?: { readonly since?: number; readonly stream?: string }): Promise<{
    readonly start: Uint8Array | null;
    readonly events: AsyncIterable<ChainedEvent>;
  }>;
  close(): Promise<void>;
}

export type EventStoreErrorCode =
  | 'WrongExpectedRevision'
  | 'IdempotencyConflict'
  | 'StoreUnavailable'
  | 'InvalidEvent';

export class EventStoreError extends Error {
  constructor(
    readonly code: EventStoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = `EventStoreError[${code}]`;
  }
}

export const wrongExpectedRevision = (
  stream: string,
  expected: ExpectedRevision,
  actual: StreamRevision | 'no_stream',
): EventStoreError =>
  new EventStoreError(
    'WrongExpectedRevision',
    `${stream}: expected revision ${String(expected)}, stream is at ${String(actual)}`,
  );

export const isEventStoreError = (
  error: unknown,
  code?: EventStoreErrorCode,
): error is EventStoreError =>
  error instanceof EventStoreError && (code === undefined || error.code === code);

/** The category of a stream is what precedes its first dash: `message-01H…` → `message`. */
export const streamCategory = (streamName: string): string => {
  const dash = streamName.indexOf('-');
  return dash < 0 ? streamName : streamName.slice(0, dash);
};

export const matchesFilter = (
  event: Pick<RecordedEvent, 'streamName' | 'type'>,
  filter: EventFilter | undefined,
): boolean => {
  if (!filter) return true;
  if (filter.eventTypes && !filter.eventTypes.includes(event.type)) return false;
  if (filter.streamPrefixes && !filter.streamPrefixes.some((p) => event.streamName.startsWith(p)))
    return false;
  return true;
};
