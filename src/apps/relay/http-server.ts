import Fastify from 'fastify';
import { countByStatus } from '../../projections/delivery-queue/queries.js';
import type { ReadModelDb } from '../../projections/runner/read-model-db.js';

/** Health and queue status for operators and load balancers; the provider APIs come later. */
export const createHttpServer = (readDb: ReadModelDb) => {
  const app = Fastify({ logger: false });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/status', async () => ({ recipients: countByStatus(readDb) }));
  return app;
};
