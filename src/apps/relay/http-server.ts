import Fastify from 'fastify';
import { countByStatus } from '../../projections/delivery-queue/queries.js';
import type { ReadModelDb } from '../../projections/runner/read-model-db.js';
import type { WindowRow } from './throttle-windows.js';

/** Health and queue status for operators and load balancers; the provider APIs come later. */
export const createHttpServer = (
  readDb: ReadModelDb,
  live: { readonly throttleWindows: () => Promise<readonly WindowRow[]> },
) => {
  const app = Fastify({ logger: false });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/status', async () => ({ recipients: countByStatus(readDb) }));
  app.get('/shaping/status', async () => ({ windows: await live.throttleWindows() }));
  return app;
};
