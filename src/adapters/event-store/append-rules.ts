import {
  type AppendResult,
  EventStoreError,
  type ExpectedRevision,
  type NewEvent,
  type StreamRevision,
  wrongExpectedRevision,
} from '../../domain/event-store/event-store.js';

type Current = StreamRevision | 'no_stream';

/** The optimistic-concurrency rule every backend applies, EventStoreDB's semantics. */
export const checkExpectedRevision = (
  streamName: string,
  expected: ExpectedRevision,
  current: Current,
): void => {
  const ok =
    expected === 'any' ||
    (expected === 'no_stream' && current === 'no_stream') ||
    (expected === 'stream_exists' && current !== 'no_stream') ||
    (typeof expected === 'bigint' && current === expected);
  if (!ok) throw wrongExpectedRevision(streamName, expected, current);
};

/**
 * Idempotent append: when every event id of the batch is already in the stream, at
 * consecutive revisions, the append succeeds without writing. When only some are, the
 * caller is confused about what it wrote, and that is an error rather than a guess.
 */
export const checkIdempotency = (
  streamName: string,
  events: readonly NewEvent[],
  current: Current,
  lookup: (eventId: string) => { revision: bigint; position: bigint } | undefined,
): AppendResult | undefined => {
  if (current === 'no_stream') return undefined;
  const hits = events.map((e) => lookup(e.eventId));
  const found = hits.filter((h) => h !== undefined);
  if (found.length === 0) return undefined;
  const consecutive = found.every(
    (h, i) => i === 0 || h.revision === (found[0] as { revision: bigint }).revision + BigInt(i),
  );
  if (found.length !== events.length || !consecutive)
    throw new EventStoreError(
      'IdempotencyConflict',
      `${streamName}: ${found.length} of ${events.length} event ids were already appended`,
    );
  const last = found[found.length - 1] as { revision: bigint; position: bigint };
  return { nextExpectedRevision: last.revision, position: last.position, deduplicated: true };
};
