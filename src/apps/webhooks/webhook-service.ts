import { randomUUID } from 'node:crypto';
import type { MessagePort } from 'node:worker_threads';
import type { Logger } from 'pino';
import { createFileWebhookSecretStore } from '../../adapters/webhook-secrets/file-webhook-secrets.js';
import { openReadModelDb } from '../../projections/runner/read-model-db.js';
import { clusterNewsChannel, ownsKey } from '../cluster/cluster-news.js';
import type { Config } from '../config/schema.js';
import { dataPaths } from '../relay/data-paths.js';
import { openEventStore } from '../relay/open-event-store.js';
import { type OutboxNews, outboxNewsChannel } from './outbox-news.js';
import { createWebhookDispatcher } from './webhook-dispatcher.js';

/**
 * Webhooks, apart from delivery: posts what the outbox (folded on the delivery thread) says
 * is due, on its own connections to the log and the read models, so it can run on its own
 * thread and a slow or dead endpoint takes nothing from mail delivery.
 */
export const startWebhookService = async (config: Config, log: Logger, writer?: MessagePort) => {
  const paths = dataPaths(config);
  const store = await openEventStore(config, writer ? { writer } : {});
  const readDb = openReadModelDb(paths.projections);
  // Sharing the work with other nodes: post only to the endpoints in this node's partitions
  // (none until the delivery thread has said which they are).
  let partitions: ReadonlySet<number> = new Set();
  const cluster = config.cluster.enabled ? clusterNewsChannel(paths.projections) : null;
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
    ...(cluster ? { ownsEndpoint: (id: string) => ownsKey(partitions, id) } : {}),
    now: Date.now,
    log,
  });
  const news = outboxNewsChannel(paths.projections);
  news.onmessage = (message: unknown) =>
    dispatcher.observe((message as { data: OutboxNews }).data.settled);
  if (cluster)
    cluster.onmessage = (message: unknown) => {
      partitions = new Set((message as { data: number[] }).data);
      dispatcher.notify();
    };
  dispatcher.start();
  return {
    stop: async () => {
      news.close();
      cluster?.close();
      await dispatcher.stop();
      await store.close();
      readDb.close();
    },
  };
};
