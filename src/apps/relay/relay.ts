import { join } from 'node:path';
import type { Logger } from 'pino';
import { monotonicFactory } from 'ulid';
import { openSqliteEventStore } from '../../adapters/event-store/sqlite/sqlite-event-store.js';
import { createSubmissionServer } from '../../adapters/smtp-in/submission-server.js';
import { createResolveRecords } from '../../adapters/smtp-out/dns-resolver.js';
import { createSmtpDeliverer } from '../../adapters/smtp-out/smtp-deliverer.js';
import { loadOrCreateTls } from '../../adapters/tls/self-signed.js';
import type { EventStore } from '../../domain/event-store/event-store.js';
import { deliveryQueueProjection } from '../../projections/delivery-queue/delivery-queue.js';
import { PROJECTIONS } from '../../projections/registry.js';
import { openReadModelDb, type ReadModelDb } from '../../projections/runner/read-model-db.js';
import { catchUpProjection, runProjection } from '../../projections/runner/run-projection.js';
import type { Config } from '../config/schema.js';
import { createAcceptMessage } from './accept-message.js';
import { createAuthenticate } from './authenticate.js';
import { createDeliveryLoop } from './delivery-loop.js';
import { createHttpServer } from './http-server.js';

export interface RunningRelay {
  readonly smtpPort: number;
  readonly httpPort: number;
  readonly store: EventStore;
  readonly readDb: ReadModelDb;
  stop(): Promise<void>;
}

export const dataPaths = (config: Config) => ({
  events: join(config.dataDir, 'events.db'),
  projections: join(config.dataDir, 'projections.db'),
  tls: join(config.dataDir, 'tls'),
});

/** Wires the embedded relay: SQLite log, projections, SMTP in, delivery out, HTTP status. */
export const startRelay = async (config: Config, log: Logger): Promise<RunningRelay> => {
  const paths = dataPaths(config);
  const store = openSqliteEventStore({ path: paths.events });
  const readDb = openReadModelDb(paths.projections);

  // Read models first, so AUTH and the queue see everything already in the log.
  for (const projection of PROJECTIONS) await catchUpProjection(store, readDb, projection);

  const deliverer = createSmtpDeliverer({
    routes: config.routes,
    port: config.delivery.port,
    ehloName: config.delivery.ehloName ?? config.hostname,
    sourceAddress: config.delivery.sourceAddress,
    blockLocalAddresses: config.delivery.blockLocalAddresses,
    connectTimeoutMs: config.delivery.connectTimeout,
    resolveRecords: createResolveRecords(config.dns.servers, config.dns.timeout),
    maxPerKey: config.delivery.maxConnectionsPerDomain,
    maxMessagesPerConnection: config.delivery.maxMessagesPerConnection,
    idleTimeoutMs: config.delivery.idleTimeout,
  });
  const loop = createDeliveryLoop({
    store,
    readDb,
    deliverer,
    policy: {
      scheduleMs: config.queue.retry,
      maxAgeMs: config.queue.maxAge,
      jitter: config.queue.retryJitter,
    },
    maxInFlight: config.delivery.maxInFlight,
    now: Date.now,
    random: Math.random,
    log,
  });

  const controller = new AbortController();
  const runners = PROJECTIONS.map((projection) =>
    runProjection(store, readDb, projection, {
      signal: controller.signal,
      ...(projection === deliveryQueueProjection ? { onApplied: () => loop.notify() } : {}),
    }).catch((error) => {
      if (!controller.signal.aborted)
        log.error({ err: error, projection: projection.name }, 'projection stopped');
    }),
  );
  loop.start();

  const tls = await loadOrCreateTls(config.smtp.tls, paths.tls, config.hostname);
  if (tls.generated) log.info({ dir: paths.tls }, 'generated a self-signed TLS certificate');
  const newMessageId = monotonicFactory();
  const submission = createSubmissionServer(
    {
      authenticate: createAuthenticate(readDb),
      accept: createAcceptMessage({
        store,
        hostname: config.hostname,
        now: Date.now,
        newMessageId: () => newMessageId(),
      }),
    },
    {
      hostname: config.hostname,
      tls,
      trustedNetworks: config.smtp.trustedNetworks,
      maxMessageSize: config.smtp.maxMessageSize,
      maxRecipients: config.smtp.maxRecipients,
      maxLineLength: config.smtp.maxLineLength,
      maxClients: config.smtp.maxClients,
      maxAuthFailures: config.smtp.maxAuthFailures,
      authFailureDelayMs: config.smtp.authFailureDelay,
      socketTimeoutMs: config.smtp.socketTimeout,
      greetingDelayMs: config.smtp.greetingDelay,
      bareLineEndings: config.smtp.bareLineEndings,
      logger: log,
    },
  );
  const http = createHttpServer(readDb);
  let smtpPort: number;
  let httpPort: number;
  try {
    ({ port: smtpPort } = await submission.listen(
      config.smtp.listen.port,
      config.smtp.listen.host,
    ));
    await http.listen({ port: config.http.listen.port, host: config.http.listen.host });
    const address = http.server.address();
    httpPort = typeof address === 'object' && address ? address.port : config.http.listen.port;
  } catch (error) {
    controller.abort();
    await loop.stop();
    await Promise.all([submission.close(), http.close()]);
    await Promise.all(runners);
    await store.close();
    readDb.close();
    throw error;
  }
  log.info(
    {
      smtp: `${config.smtp.listen.host}:${smtpPort}`,
      http: `${config.http.listen.host}:${httpPort}`,
    },
    'mailtrail relay listening',
  );

  return {
    smtpPort,
    httpPort,
    store,
    readDb,
    stop: async () => {
      await submission.close();
      await http.close();
      await loop.stop();
      await deliverer.close();
      controller.abort();
      await Promise.all(runners);
      await store.close();
      readDb.close();
    },
  };
};
