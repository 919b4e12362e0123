import type { MessagePort } from 'node:worker_threads';
import type { Logger } from 'pino';
import { Subject } from 'rxjs';
import { createResolver } from '../../adapters/dns/resolver.js';
import { openSqliteEventStore } from '../../adapters/event-store/sqlite/sqlite-event-store.js';
import { createResolveRecords } from '../../adapters/smtp-out/dns-resolver.js';
import { createSmtpDeliverer } from '../../adapters/smtp-out/smtp-deliverer.js';
import { deliveryQueueProjection } from '../../projections/delivery-queue/delivery-queue.js';
import { PROJECTIONS } from '../../projections/registry.js';
import { openReadModelDb } from '../../projections/runner/read-model-db.js';
import { catchUpProjection, runProjections } from '../../projections/runner/run-projection.js';
import type { Config } from '../config/schema.js';
import { baseShaping, loadShapingRules } from '../shaping/shaping-rules.js';
import { dataPaths } from './data-paths.js';
import { createDeliveryLoop } from './delivery-loop.js';
import { createSiteGates } from './site-gates.js';
import { createSiteReactions } from './site-reactions.js';
import { createSiteShaping } from './site-shaping.js';
import { type AttemptOutcome, createThrottleWindows } from './throttle-windows.js';

/**
 * The relay's back half: keeps every projection live and delivers what falls due. It has
 * its own connections to the log and the read models, so it can run on its own thread.
 */
export const startDeliveryService = async (config: Config, log: Logger, writer?: MessagePort) => {
  const paths = dataPaths(config);
  // Bodies arrive from the writer as they are committed: most are read from memory.
  const store = openSqliteEventStore({
    path: paths.events,
    ...(writer ? { writer, recentBlobBytes: 32 * 1024 * 1024 } : {}),
  });
  const readDb = openReadModelDb(paths.projections);
  for (const projection of PROJECTIONS) await catchUpProjection(store, readDb, projection);

  const resolver = createResolver(config.dns.servers, config.dns.timeout);
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
  const rules = loadShapingRules(config.shaping.files);
  const gates = createSiteGates();
  const reactions = createSiteReactions({ store, now: Date.now });
  await reactions.load();
  const sites = createSiteShaping({
    rules,
    base: baseShaping(config),
    routes: config.routes,
    resolveMx: (domain) => resolver.resolveMx(domain),
    now: Date.now,
  });
  const outcomes = new Subject<AttemptOutcome>();
  const windows = createThrottleWindows(outcomes);
  const loop = createDeliveryLoop({
    onOutcome: (outcome) => outcomes.next(outcome),
    store,
    readDb,
    deliverer,
    shaping: { sites, gates, reactions },
    egress: config.egress,
    retryJitter: config.queue.retryJitter,
    maxInFlight: config.delivery.maxInFlight,
    now: Date.now,
    random: Math.random,
    log,
  });
  const controller = new AbortController();
  const runner = runProjections(store, readDb, PROJECTIONS, {
    signal: controller.signal,
    onApplied: (projection) => {
      if (projection === deliveryQueueProjection) loop.notify();
    },
  }).catch((error) => {
    if (!controller.signal.aborted) log.error({ err: error }, 'projections stopped');
  });
  loop.start();

  return {
    /** The live throttle windows (attempts, deliveries, deferrals per site, source, credential). */
    throttleWindows: () => windows.snapshot(Date.now()),
    stop: async () => {
      await loop.stop();
      gates.close();
      windows.close();
      await deliverer.close();
      controller.abort();
      await runner;
      await store.close();
      readDb.close();
    },
  };
};
