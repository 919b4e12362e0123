import type Database from 'better-sqlite3';
import type { EventFilter, RecordedEvent } from '../../domain/event-store/event-store.js';

/** Physical table names: the live ones, or a rebuild's shadow copies. */
export type Tables = (logical: string) => string;

/**
 * A projection folds events into tables of the read-model database. Its rows and its
 * checkpoint are written in one transaction, so a crash replays at most the last batch and
 * never double-counts. A new `version` gets fresh tables built from position 0.
 */
export interface Projection {
  readonly name: string;
  readonly version: number;
  readonly filter: EventFilter;
  /** Logical table names and their column definitions. */
  readonly tables: Readonly<Record<string, string>>;
  /** Logical index name → `table (columns) [WHERE …]`, e.g. `recipients (recipient)`. */
  readonly indexes: Readonly<Record<string, string>>;
  /** Applies a batch inside the runner's transaction. Must be deterministic. */
  readonly apply: (db: Database.Database, t: Tables, events: readonly RecordedEvent[]) => void;
}

export const liveTables =
  (p: Projection): Tables =>
  (logical) =>
    `${p.name}_v${p.version}_${logical}`;

export const rebuildTables =
  (p: Projection): Tables =>
  (logical) =>
    `${p.name}_v${p.version}_rebuild_${logical}`;

export const checkpointKey = (p: Projection, rebuild = false): string =>
  `${p.name}@${p.version}${rebuild ? '#rebuild' : ''}`;
