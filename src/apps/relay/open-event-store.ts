import type { MessagePort } from 'node:worker_threads';
import { openSqliteEventStore } from '../../adapters/event-store/sqlite/sqlite-event-store.js';
import type { EventStore } from '../../domain/event-store/event-store.js';
import type { Config } from '../config/schema.js';
import { dataPaths } from './data-paths.js';

/**
 * The configured event log. SQLite: this thread's connection, its appends sent to the
 * writer thread when a port to it is given. EventStoreDB: a client of the cluster, loaded
 * only then (the gRPC client costs every thread and every CLI command about 0.15 s and 20 MB).
 */
export const openEventStore = async (
  config: Config,
  sqlite: { readonly writer?: MessagePort; readonly recentBlobBytes?: number } = {},
): Promise<EventStore> =>
  config.store.kind === 'esdb'
    ? (await import('../../adapters/event-store/esdb/esdb-event-store.js')).openEsdbEventStore({
        connectionString: config.store.connectionString,
        blobMaxAgeSeconds: Math.ceil(config.store.blobMaxAge / 1000),
      })
    : openSqliteEventStore({
        path: dataPaths(config).events,
        ...(sqlite.writer ? { writer: sqlite.writer } : {}),
        ...(sqlite.writer && sqlite.recentBlobBytes
          ? { recentBlobBytes: sqlite.recentBlobBytes }
          : {}),
      });
