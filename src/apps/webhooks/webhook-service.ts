import { randomUUID } from 'node:crypto';
import type { MessagePort } from 'node:worker_threads';
import type { Logger } from 'pino';
import { openSqliteEventStore } from '../../adapters/event-store/sqlite/sqlite-event-store.js';
import { createFileWebhookSecretStore } from '../../adapters/webhook-secrets/file-webhook-secrets.js';
import { WEBHOOK_PROJECTIONS } from '../../projections/registry.js';
import { openReadModelDb } from '../../projections/runner/read-model-db.js';
import { catchUpProjection, runProjections } from '../../projections/runner/run-projection.js';
import type { Config } from '../config/schema.js';
import { dataPaths } from '../relay/data-paths.js';
import { createWebhookDispatcher } from './webhook-dispatcher.js';

/**
 * Webhooks, apart from delivery: keeps the outbox live and posts what falls due, on its own
 * connections to the log and the read models, so it can run on its own thread and a slow
 * or dead endpoint takes nothing from mail delivery.
 */
export const startWebhookService = async (config: Config, log: Logger, writer?: MessagePort) => {
  const paths = dataPaths(config);
  const store = openSqliteEventStore({ path: paths.events, ...(writer ? { writer } : {}) });
  const readDb = openReadModelDb(paths.projections);
  for (const projection of WEBHOOK_PROJECTIONS) await catchUpProjection(store, readDb, projection);
  const dispatcher = createWebhookDispatcher({
    store,
    readDb,
    secrets: createFileWebhookSecretStore(paths.keys),
    hostname: config.hostname,
    retrySchedule: config.webhooks.retry,
    timeoutMs: config.webhooks.timeout,
    maxInFlight: config.webhooks.maxInFlight,
    perEndpoint: config.webhooks.perEndpoint,
    newEventId: randomUUID,
    now: Date.now,
    log,
  });
  const controller = new AbortController();
  const runner = runProjections(store, readDb, WEBHOOK_PROJECTIONS, {
    signal: controller.signal,
    onApplied: (_projection, events) => dispatcher.observe(events),
  }).catch((error) => {
    if (!controller.signal.aborted) log.error({ err: error }, 'webhook projections stopped');
  });
  dispatcher.start();
  return {
    stop: async () => {
      await dispatcher.stop();
      controller.abort();
      await runner;
      await store.close();
      readDb.close();
    },
  };
};
