import { createWriteStream, existsSync, openSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Writable } from 'node:stream';
import type { EventStore } from '../../domain/event-store/event-store.js';
import type { Projection } from '../../projections/runner/projection.js';
import { openReadModelDb, type ReadModelDb } from '../../projections/runner/read-model-db.js';
import { catchUpProjection } from '../../projections/runner/run-projection.js';
import { configPathFrom, loadConfig, parseConfig } from '../config/load-config.js';
import type { Config } from '../config/schema.js';
import { dataPaths } from '../relay/data-paths.js';
import { openEventStore } from '../relay/open-event-store.js';

export interface CliContext {
  readonly config: Config;
  readonly store: EventStore;
  readonly readDb: ReadModelDb;
  close(): Promise<void>;
}

/** The config a command runs with: the file if there is one, the defaults if not. */
export const cliConfig = (flag: string | undefined): Config => {
  const path = configPathFrom(flag);
  if (existsSync(path)) return loadConfig(path, { create: false }).config;
  if (flag) return loadConfig(path, { create: false }).config; // says the file is missing
  const config = parseConfig({});
  return { ...config, dataDir: resolve(config.dataDir) };
};

/**
 * Opens the log and the read models. The relay may be running: both are SQLite in WAL mode,
 * and projection batches are idempotent, so catching up here is safe alongside it.
 */
export const openContext = async (
  flag: string | undefined,
  projections: readonly Projection[] = [],
): Promise<CliContext> => {
  const config = cliConfig(flag);
  const paths = dataPaths(config);
  const store = await openEventStore(config);
  const readDb = openReadModelDb(paths.projections);
  for (const p of projections) await catchUpProjection(store, readDb, p);
  return {
    config,
    store,
    readDb,
    close: async () => {
      await store.close();
      readDb.close();
    },
  };
};

/**
 * Where `--output` goes: the file, opened at once so a bad path is an error the command
 * reports (a stream would find out later, out of reach); without one, standard output.
 */
export const openOutput = (path: string | undefined): Writable =>
  path ? createWriteStream('', { fd: openSync(path, 'w') }) : process.stdout;

/** JSON with bigints as decimal strings (positions and revisions). */
export const toJson = (value: unknown): string =>
  JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2);

export const fail = (message: string, code = 1): never => {
  process.stderr.write(`mailtrail: ${message}\n`);
  process.exit(code);
};
