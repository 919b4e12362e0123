import {
  type EventFilter,
  type EventStore,
  type GlobalPosition,
  matchesFilter,
  type RecordedEvent,
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
  /** Called after each committed batch, per projection, with the events it applied. */
  readonly onApplied?: (projection: Projection, events: readonly RecordedEvent[]) => void;
}

/** One subscription for several projections: what they listen to, together. */
const unionFilter = (projections: readonly Projection[]): EventFilter | undefined => {
  const filters = projections.map((p) => p.filter);
  if (filters.some((f) => !f.streamPrefixes || f.eventTypes)) return undefined;
  return { streamPrefixes: [...new Set(filters.flatMap((f) => f.streamPrefixes ?? []))] };
};

/**
 * Follows the store live for several projections at once: one read of each event, one
 * read-model transaction per batch for all of them, each with its own checkpoint. Returns
 * when the signal aborts.
 */
export const runProjections = async (
  store: EventStore,
  db: ReadModelDb,
  projections: readonly Projection[],
  options: LiveProjectionOptions,
): Promise<void> => {
  const targets = projections.map((p) => ({ p, t: liveTables(p), key: checkpointKey(p) }));
  for (const { p, t } of targets) createTables(db, p, t);
  const from = targets.reduce<GlobalPosition | undefined>((min, { key }) => {
    const c = readCheckpoint(db, key);
    return min === undefined || c < min ? c : min;
  }, undefined);
  let batch: RecordedEvent[] = [];
  const flush = (upTo: GlobalPosition): void => {
    const events = batch;
    batch = [];
    const applied = targets.map(({ p }) => events.filter((e) => matchesFilter(e, p.filter)));
    db.transaction(() => {
      targets.forEach(({ p, t, key }, i) => {
        applyBatch(db, p, t, key, applied[i] as RecordedEvent[], upTo);
      });
    }).immediate();
    targets.forEach(({ p }, i) => {
      const mine = applied[i] as RecordedEvent[];
      if (mine.length > 0) options.onApplied?.(p, mine);
    });
  };
  const filter = unionFilter(projections);
  for await (const item of store.subscribeToAll({
    after: from ?? 0n,
    ...(filter ? { filter } : {}),
    signal: options.signal,
  })) {
    if (item.kind === 'event') {
      batch.push(item.event);
      if (batch.length >= BATCH) flush(item.event.position);
    } else flush(item.position);
  }
};

/** Follows the store live for one projection. */
export const runProjection = (
  store: EventStore,
  db: ReadModelDb,
  p: Projection,
  options: LiveProjectionOptions,
): Promise<void> => runProjections(store, db, [p], options);
