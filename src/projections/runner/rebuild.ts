import type {
  EventStore,
  GlobalPosition,
  RecordedEvent,
} from '../../domain/event-store/event-store.js';
import { checkpointKey, liveTables, type Projection, rebuildTables } from './projection.js';
import {
  createTables,
  deleteCheckpoint,
  dropTables,
  type ReadModelDb,
  readCheckpoint,
  writeCheckpoint,
} from './read-model-db.js';
import { applyBatch, catchUpProjection } from './run-projection.js';

/**
 * Rebuilds a projection from position 0 into shadow tables while the live one keeps
 * serving, then swaps them in. The swap catches up to the head inside its own write
 * transaction, so no event the live runner applied before the swap can be missing after it.
 */
export const rebuildProjection = async (
  store: EventStore,
  db: ReadModelDb,
  p: Projection,
  onProgress?: (position: GlobalPosition, head: GlobalPosition) => void,
): Promise<GlobalPosition> => {
  const shadow = rebuildTables(p);
  const shadowKey = checkpointKey(p, true);
  dropTables(db, shadow, p);
  deleteCheckpoint(db, shadowKey);
  const head = await store.headPosition();
  await catchUpProjection(store, db, p, {
    tables: shadow,
    key: shadowKey,
    onProgress: (position) => onProgress?.(position, head),
  });
  const live = liveTables(p);
  const liveKey = checkpointKey(p);
  // Events committed since the catch-up: read them before taking the write lock, apply them
  // inside it. If the live runner got further still in between, read the tail again.
  for (let tries = 0; tries < 10; tries++) {
    const tail: RecordedEvent[] = [];
    for await (const e of store.readAll({ after: readCheckpoint(db, shadowKey), filter: p.filter }))
      tail.push(e);
    const finalHead = await store.headPosition();
    const swapped = db
      .transaction(() => {
        applyBatch(db, p, shadow, shadowKey, tail, finalHead);
        const position = readCheckpoint(db, shadowKey);
        if (readCheckpoint(db, liveKey) > position) return false;
        dropTables(db, live, p);
        for (const logical of Object.keys(p.tables))
          db.exec(`ALTER TABLE ${shadow(logical)} RENAME TO ${live(logical)}`);
        for (const logical of Object.keys(p.indexes))
          db.exec(`DROP INDEX IF EXISTS ${shadow(logical)}`);
        createTables(db, p, live);
        writeCheckpoint(db, liveKey, position);
        deleteCheckpoint(db, shadowKey);
        return true;
      })
      .immediate();
    if (swapped) return readCheckpoint(db, liveKey);
  }
  throw new Error(`${p.name}: the live projection kept moving past the rebuild; try again`);
};
