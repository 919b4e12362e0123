import type {
  EventStore,
  GlobalPosition,
  RecordedEvent,
} from '../../domain/event-store/event-store.js';
import { checkpointKey, liveTables, type Projection, type Tables } from './projection.js';
import {
  createTables,
  type ReadModelDb,
  readCheckpoint,
  writeCheckpoint,
} from './read-model-db.js';

const BATCH = 500;

/**
 * Applies events and moves the checkpoint in one transaction. The checkpoint is re-read
 * inside the transaction and events at or below it are skipped, so two runners on the same
 * projection (the relay and a CLI, or a rebuild swapping in) never apply an event twice.
 */
export const applyBatch = (
  db: ReadModelDb,
  p: Projection,
  t: Tables,
  key: string,
  events: readonly RecordedEvent[],
  upTo: GlobalPosition,
): GlobalPosition => {
  let applied = 0n;
  db.transaction(() => {
    const checkpoint = readCheckpoint(db, key);
    const fresh = events.filter((e) => e.position > checkpoint);
    if (fresh.length > 0) p.apply(db, t, fresh);
    const next = upTo > checkpoint ? upTo : checkpoint;
    if (next !== checkpoint) writeCheckpoint(db, key, next);
    applied = next;
  }).immediate();
  return applied;
};

export interface CatchUpOptions {
  readonly tables?: Tables;
  readonly key?: string;
  readonly onProgress?: (position: GlobalPosition) => void;
}

/** Brings a projection up to the store's current head, then returns its checkpoint. */
export const catchUpProjection = async (
  store: EventStore,
  db: ReadModelDb,
  p: Projection,
  options: CatchUpOptions = {},
): Promise<GlobalPosition> => {
  const t = options.tables ?? liveTables(p);
  const key = options.key ?? checkpointKey(p);
  createTables(db, p, t);
  const head = await store.headPosition();
  let position = readCheckpoint(db, key);
  let batch: RecordedEvent[] = [];
  for await (const event of store.readAll({ after: position, filter: p.filter })) {
    if (event.position > head) break;
    batch.push(event);
    if (batch.length >= BATCH) {
      position = applyBatch(db, p, t, key, batch, event.position);
      batch = [];
      options.onProgress?.(position);
    }
  }
  position = applyBatch(db, p, t, key, batch, head);
  options.onProgress?.(position);
  return position;
};

export interface LiveProjectionOptions {
  readonly signal: AbortSignal;
  /** Called after each committed batch, with the events it applied. */
  readonly onApplied?: (events: readonly RecordedEvent[]) => void;
  readonly onError?: (error: unknown) => void;
}

/** Follows the store live. Returns when the signal aborts. */
export const runProjection = async (
  store: EventStore,
  db: ReadModelDb,
  p: Projection,
  options: LiveProjectionOptions,
): Promise<void> => {
  const t = liveTables(p);
  const key = checkpointKey(p);
  createTables(db, p, t);
  let batch: RecordedEvent[] = [];
  const flush = (upTo: GlobalPosition): void => {
    const events = batch;
    batch = [];
    applyBatch(db, p, t, key, events, upTo);
    if (events.length > 0) options.onApplied?.(events);
  };
  for await (const item of store.subscribeToAll({
    after: readCheckpoint(db, key),
    filter: p.filter,
    signal: options.signal,
  })) {
    if (item.kind === 'event') {
      batch.push(item.event);
      if (batch.length >= BATCH) flush(item.event.position);
    } else flush(item.position);
  }
};
