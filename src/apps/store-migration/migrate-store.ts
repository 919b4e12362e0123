import {
  type Blob,
  type EventStore,
  type GlobalPosition,
  isEventStoreError,
  type RecordedEvent,
} from '../../domain/event-store/event-store.js';

export interface MigrationProgress {
  /** Events copied (or found already copied) so far, and the source position reached. */
  readonly events: number;
  readonly position: GlobalPosition;
  readonly head: GlobalPosition;
}

export interface MigrationOptions {
  /** Resume after this source position (a checkpoint from an earlier run); default: 0. */
  readonly after?: GlobalPosition;
  /** Told after each event, with where the copy stands (for a progress bar, a checkpoint). */
  readonly onProgress?: (progress: MigrationProgress) => void;
  readonly signal?: AbortSignal;
}

/** The blobs an event refers to (a message's body, its per-recipient headers). */
const blobKeysOf = (event: RecordedEvent): string[] => {
  const data = event.data as { bodyRef?: unknown; recipientHeadersRef?: unknown } | null;
  return [data?.bodyRef, data?.recipientHeadersRef].filter(
    (key): key is string => typeof key === 'string',
  );
};

/**
 * Copies a whole log into another store in commit order, each event into its own stream
 * at its own revision (the expected revision is the one before it) with its own id and
 * metadata, and each message body along with the event that refers to it. Positions are
 * the target's own. Safe to run again over what was copied: an event already there is
 * recognised by its id (the port's idempotent append), so an interrupted copy resumes
 * from its last checkpoint, or from the start, without duplicates.
 */
export const migrateStore = async (
  source: EventStore,
  target: EventStore,
  options: MigrationOptions = {},
): Promise<{
  readonly copied: number;
  readonly alreadyThere: number;
  readonly position: GlobalPosition;
}> => {
  const head = await source.headPosition();
  let copied = 0;
  let alreadyThere = 0;
  let position = options.after ?? 0n;
  for await (const event of source.readAll(
    options.after !== undefined ? { after: options.after } : {},
  )) {
    if (options.signal?.aborted) break;
    const blobs: Blob[] = [];
    for (const key of blobKeysOf(event)) {
      const bytes = await source.readBlob(key);
      if (bytes) blobs.push({ key, bytes });
    }
    try {
      const result = await target.appendToStream(
        event.streamName,
        [
          {
            eventId: event.eventId,
            type: event.type,
            data: event.data,
            ...(event.metadata ? { metadata: event.metadata } : {}),
          },
        ],
        {
          expectedRevision: event.revision === 0n ? 'no_stream' : event.revision - 1n,
          ...(blobs.length > 0 ? { blobs } : {}),
        },
      );
      if (result.deduplicated) alreadyThere++;
      else copied++;
    } catch (error) {
      // The stream there is already past this revision: fine only if this very event is there.
      if (!isEventStoreError(error, 'WrongExpectedRevision') || !(await isThere(target, event)))
        throw error;
      alreadyThere++;
    }
    position = event.position;
    options.onProgress?.({ events: copied + alreadyThere, position, head });
  }
  return { copied, alreadyThere, position };
};

const isThere = async (target: EventStore, event: RecordedEvent): Promise<boolean> => {
  for await (const there of target.readStream(event.streamName, {
    fromRevision: event.revision,
    maxCount: 1,
  }))
    return there.eventId === event.eventId;
  return false;
};
