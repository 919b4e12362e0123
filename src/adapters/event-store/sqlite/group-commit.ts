import type Database from 'better-sqlite3';
import { chainHash } from '../../../domain/audit/event-chain.js';
import {
  type AppendOptions,
  type AppendResult,
  EventStoreError,
  type NewEvent,
} from '../../../domain/event-store/event-store.js';
import { checkExpectedRevision, checkIdempotency } from '../append-rules.js';

export interface AppendRequest {
  readonly streamName: string;
  readonly events: readonly NewEvent[];
  readonly options: AppendOptions;
}

interface Pending extends AppendRequest {
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Group commit on one SQLite connection: appends that arrive within `windowMs` of the first
 * share one IMMEDIATE transaction (a savepoint each, so one append's conflict spares the
 * others) and one fsync. `onCommitted` runs after every successful commit, with the appends
 * that took effect (not the refused or deduplicated ones).
 */
export const createGroupCommit = (
  db: Database.Database,
  windowMs: number,
  onCommitted: (committed: readonly AppendRequest[]) => void,
) => {
  const selectStream = db
    .prepare('SELECT revision, hash FROM streams WHERE stream_name = ?')
    .safeIntegers(true);
  const selectLastHash = db.prepare('SELECT hash FROM events ORDER BY position DESC LIMIT 1');
  const selectEventById = db
    .prepare('SELECT revision, position FROM events WHERE stream_name = ? AND event_id = ?')
    .safeIntegers(true);
  const insertEvent = db
    .prepare(
      `INSERT INTO events
         (stream_name, revision, event_id, type, data, metadata, recorded_at, hash, stream_hash)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .safeIntegers(true);
  const upsertStream = db.prepare(
    `INSERT INTO streams (stream_name, revision, hash) VALUES (?, ?, ?)
     ON CONFLICT (stream_name) DO UPDATE SET revision = excluded.revision, hash = excluded.hash`,
  );
  const insertBlob = db.prepare('INSERT OR REPLACE INTO blobs (key, bytes) VALUES (?, ?)');

  // The global chain's last hash, read at the start of each batch inside its write lock
  // (other processes append to the same file too), carried from append to append.
  let lastHash: Buffer | null = null;

  const appendOne = db.transaction((p: AppendRequest): AppendResult => {
    const row = selectStream.get(p.streamName) as
      | { revision: bigint; hash: Buffer | null }
      | undefined;
    const current = row ? row.revision : 'no_stream';
    const duplicate = checkIdempotency(
      p.streamName,
      p.events,
      current,
      (eventId) =>
        selectEventById.get(p.streamName, eventId) as
          | { revision: bigint; position: bigint }
          | undefined,
    );
    if (duplicate) return duplicate;
    checkExpectedRevision(p.streamName, p.options.expectedRevision, current);
    let revision = current === 'no_stream' ? -1n : current;
    let position = 0n;
    const now = Date.now();
    let globalHash = lastHash;
    let streamHash = row?.hash ?? null;
    for (const event of p.events) {
      revision += 1n;
      const fields = {
        streamName: p.streamName,
        revision,
        eventId: event.eventId,
        type: event.type,
        data: JSON.stringify(event.data),
        metadata: event.metadata ? JSON.stringify(event.metadata) : null,
        recordedAt: now,
      };
      globalHash = chainHash(globalHash, fields);
      streamHash = chainHash(streamHash, fields);
      const info = insertEvent.run(
        p.streamName,
        revision,
        fields.eventId,
        fields.type,
        fields.data,
        fields.metadata,
        now,
        globalHash,
        streamHash,
      );
      position = BigInt(info.lastInsertRowid);
    }
    upsertStream.run(p.streamName, revision, streamHash);
    for (const blob of p.options.blobs ?? []) insertBlob.run(blob.key, blob.bytes);
    // Only now: a refused append (its savepoint rolled back) leaves the chain where it was.
    lastHash = globalHash;
    return { nextExpectedRevision: revision, position, deduplicated: false };
  });

  const commitBatch = db.transaction((batch: readonly Pending[]) => {
    lastHash = (selectLastHash.get() as { hash: Buffer | null } | undefined)?.hash ?? null;
    return batch.map((p) => {
      try {
        return { ok: true as const, result: appendOne(p) };
      } catch (error) {
        return { ok: false as const, error };
      }
    });
  });

  let pending: Pending[] = [];
  const flush = (): void => {
    const batch = pending;
    pending = [];
    if (batch.length === 0) return;
    let outcomes: ReturnType<typeof commitBatch>;
    try {
      // IMMEDIATE: take the write lock up front (waiting up to busy_timeout for another
      // connection), rather than fail when a read transaction cannot be upgraded.
      outcomes = commitBatch.immediate(batch);
    } catch (cause) {
      const error = new EventStoreError('StoreUnavailable', `commit failed: ${String(cause)}`, {
        cause,
      });
      for (const p of batch) p.reject(error);
      return;
    }
    const committed: AppendRequest[] = [];
    outcomes.forEach((outcome, i) => {
      const p = batch[i] as Pending;
      if (outcome.ok && !outcome.result.deduplicated) committed.push(p);
      if (outcome.ok) p.resolve(outcome.result);
      else p.reject(outcome.error);
    });
    onCommitted(committed);
  };

  return {
    append: (request: AppendRequest): Promise<AppendResult> =>
      new Promise((resolve, reject) => {
        if (request.events.length === 0)
          return reject(new EventStoreError('InvalidEvent', 'an append needs at least one event'));
        if (pending.length === 0) {
          if (windowMs > 0) setTimeout(flush, windowMs);
          else setImmediate(flush);
        }
        pending.push({ ...request, resolve, reject });
      }),
    /** Commits whatever is waiting, now (before closing). */
    flush,
  };
};
