import { readFileSync } from 'node:fs';
import { createSecureContext, rootCertificates } from 'node:tls';
import type { MessagePort } from 'node:worker_threads';
import type { Logger } from 'pino';
import { concatMap, filter, from, mergeMap, Subject, share } from 'rxjs';
import { createResolver } from '../../adapters/dns/resolver.js';
import { loadOrCreateVerpKey } from '../../adapters/files/verp-key.js';
import { createPolicySource } from '../../adapters/mta-sts/policy-source.js';
import { createResolveRecords } from '../../adapters/smtp-out/dns-resolver.js';
import { createSmtpDeliverer } from '../../adapters/smtp-out/smtp-deliverer.js';
import { classifyReply } from '../../domain/bounce/classifier.js';
import type { RecordedEvent } from '../../domain/event-store/event-store.js';
import { credentialsProjection } from '../../projections/credentials/credentials.js';
import { deliveryQueueProjection } from '../../projections/delivery-queue/delivery-queue.js';
import { credentialOf } from '../../projections/delivery-queue/queries.js';
import { deliveredOn } from '../../projections/egress-volume/egress-volume.js';
import { PROJECTIONS } from '../../projections/registry.js';
import { openReadModelDb } from '../../projections/runner/read-model-db.js';
import { catchUpProjection, runProjections } from '../../projections/runner/run-projection.js';
import { webhookOutboxProjection } from '../../projections/webhook-outbox/webhook-outbox.js';
import { startAnomalyWatch } from '../abuse/anomaly-watch.js';
import { loadBounceRules } from '../bounces/bounce-rules.js';
import { type ClusterMembership, startClusterMembership } from '../cluster/cluster-membership.js';
import { clusterNewsChannel, ownsKey } from '../cluster/cluster-news.js';
import type { Config } from '../config/schema.js';
import { credentialsNewsChannel } from '../credentials/credentials-news.js';
import { createMtaStsPolicies } from '../mta-sts/mta-sts-policies.js';
import { baseShaping, loadShapingRules } from '../shaping/shaping-rules.js';
import { outboxNews, outboxNewsChannel } from '../webhooks/outbox-news.js';
import { attemptOutcomes } from './attempt-outcomes.js';
import { dataPaths } from './data-paths.js';
import { createDeliveryLoop } from './delivery-loop.js';
import { openEventStore } from './open-event-store.js';
import { createSiteGates } from './site-gates.js';
import { createSiteReactions } from './site-reactions.js';
import { createSiteShaping } from './site-shaping.js';
import { createThrottleWindows } from './throttle-windows.js';
import { createWarmupLedger } from './warmup-ledger.js';

/**
 * The relay's back half: keeps every projection live and delivers what falls due. It has
 * its own connections to the log and the read models, so it can run on its own thread.
 */
export const startDeliveryService = async (config: Config, log: Logger, writer?: MessagePort) => {
  const paths = dataPaths(config);
  // Bodies arrive from the writer as they are committed: most are read from memory.
  const store = await openEventStore(config, {
    ...(writer ? { writer } : {}),
    recentBlobBytes: 32 * 1024 * 1024,
  });
  const readDb = openReadModelDb(paths.projections);
  for (const projection of PROJECTIONS) await catchUpProjection(store, readDb, projection);

  const resolver = createResolver(config.dns.servers, config.dns.timeout);
  const resolveRecords = createResolveRecords(config.dns.servers, config.dns.timeout);
  // CAs passed replace Node's (its bundled ones and NODE_EXTRA_CA_CERTS): the configured
  // ones are added to those. Without any, Node's default context is left as it is.
  const extraCa = process.env.NODE_EXTRA_CA_CERTS;
  const secureContext = config.delivery.caFiles.length
    ? createSecureContext({
        ca: [
          ...rootCertificates,
          ...(extraCa ? [readFileSync(extraCa, 'utf8')] : []),
          ...config.delivery.caFiles.map((f) => readFileSync(f, 'utf8')),
        ],
      })
    : undefined;
  const mtaSts = config.delivery.mtaSts
    ? createMtaStsPolicies({
        store,
        source: createPolicySource({
          resolveRecords,
          secureContext,
          blockLocalAddresses: config.delivery.blockLocalAddresses,
          timeoutMs: config.delivery.connectTimeout,
        }),
        now: Date.now,
        log,
      })
    : undefined;
  const deliverer = createSmtpDeliverer({
    routes: config.routes,
    port: config.delivery.port,
    ehloName: config.delivery.ehloName ?? config.hostname,
    sourceAddress: config.delivery.sourceAddress,
    blockLocalAddresses: config.delivery.blockLocalAddresses,
    connectTimeoutMs: config.delivery.connectTimeout,
    replyTimeoutMs: config.delivery.replyTimeout,
    resolveRecords,
    ...(secureContext ? { secureContext } : {}),
    ...(mtaSts ? { mtaSts } : {}),
    maxPerKey: config.delivery.maxConnectionsPerDomain,
    maxMessagesPerConnection: config.delivery.maxMessagesPerConnection,
    idleTimeoutMs: config.delivery.idleTimeout,
  });
  const rules = loadShapingRules(config.shaping.files);
  const gates = createSiteGates();
  const sites = createSiteShaping({
    rules,
    base: baseShaping(config),
    routes: config.routes,
    resolveMx: (domain) => resolver.resolveMx(domain),
    now: Date.now,
  });
  const reactions = createSiteReactions({
    store,
    now: Date.now,
    rulesFor: async (domain, source) => (await sites.resolve(domain, source)).responses,
    onQueueBounced: (site) => loop.sweep(site),
  });
  await reactions.load();
  const warmup = createWarmupLedger({
    plans: rules.warmups,
    deliveredOn: (source, site, day) => deliveredOn(readDb, source, site, day),
    now: Date.now,
  });
  const bounceRules = loadBounceRules(config.bounces.files);
  // Sharing the delivery with other nodes: the loop asks the membership (started below,
  // once the loop can say which partitions it is busy with) what is this node's.
  let membership: ClusterMembership | null = null;
  const loop = createDeliveryLoop({
    verpKey: loadOrCreateVerpKey(paths.keys),
    classify: (reply) => classifyReply(bounceRules, reply),
    store,
    readDb,
    deliverer,
    stopGraceMs: config.delivery.stopGrace,
    shaping: { sites, gates, reactions, warmup },
    egress: config.egress,
    retryJitter: config.queue.retryJitter,
    maxInFlight: config.delivery.maxInFlight,
    ...(config.cluster.enabled
      ? {
          cluster: {
            partitions: () => membership?.view().active ?? new Set<number>(),
            liveNodes: () => membership?.view().liveNodes ?? 1,
          },
        }
      : {}),
    now: Date.now,
    random: Math.random,
    log,
  });

  // The live event stream, as the projections apply it: the throttle windows count its
  // attempt outcomes and the reply rules react to them, one outcome at a time.
  const live = new Subject<readonly RecordedEvent[]>();
  const outcomes = live.pipe(
    mergeMap((events) => attemptOutcomes(events, (id) => credentialOf(readDb, id))),
    share(),
  );
  const windows = createThrottleWindows(outcomes);
  const reacting = outcomes
    .pipe(
      filter((outcome) => outcome.reply.code >= 400),
      concatMap((outcome) =>
        from(
          reactions
            .observe(outcome)
            .catch((error) =>
              log.warn({ err: error, site: outcome.site }, 'could not record the site reaction'),
            ),
        ),
      ),
    )
    .subscribe();

  const webhookNews = outboxNewsChannel(paths.projections);
  const credentialsNews = credentialsNewsChannel(paths.projections);
  const controller = new AbortController();
  const anomalies = config.anomalies.enabled
    ? startAnomalyWatch({
        store,
        readDb,
        policy: {
          spikeFactor: config.anomalies.spikeFactor,
          minMessages: config.anomalies.minMessages,
          minHistoryMs: config.anomalies.minHistory,
          bounceRate: config.anomalies.bounceRate,
          bounceFactor: config.anomalies.bounceFactor,
          minOutcomes: config.anomalies.minOutcomes,
          newDomains: config.anomalies.newDomains,
        },
        intervalMs: config.anomalies.interval,
        cooldownMs: config.anomalies.cooldown,
        pause: config.anomalies.pause,
        webhook: config.anomalies.webhook,
        // One node looks for the whole cluster: the owner of the key 'anomalies'.
        ...(config.cluster.enabled
          ? { mine: () => ownsKey(membership?.view().active ?? new Set(), 'anomalies') }
          : {}),
        now: Date.now,
        log,
      })
    : null;
  const runner = runProjections(store, readDb, PROJECTIONS, {
    signal: controller.signal,
    onApplied: (projection, events) => {
      if (projection === credentialsProjection) credentialsNews.postMessage(null);
      if (projection === webhookOutboxProjection) webhookNews.postMessage(outboxNews(events));
      if (projection !== deliveryQueueProjection) return;
      live.next(events);
      loop.notify();
    },
  }).catch((error) => {
    if (!controller.signal.aborted) log.error({ err: error }, 'projections stopped');
  });
  // The webhook thread learns this node's partitions on every heartbeat and every change.
  const clusterNews = config.cluster.enabled ? clusterNewsChannel(paths.projections) : null;
  const tellPartitions = () =>
    clusterNews?.postMessage([...(membership?.view().active ?? new Set<number>())]);
  const telling = clusterNews ? setInterval(tellPartitions, config.cluster.heartbeat) : undefined;
  telling?.unref();
  if (config.cluster.enabled) {
    membership = await startClusterMembership({
      store,
      node: config.hostname,
      heartbeatMs: config.cluster.heartbeat,
      leaseMs: config.cluster.lease,
      busyPartitions: loop.busyPartitions,
      onChange: () => {
        loop.notify();
        tellPartitions();
      },
      now: Date.now,
      log,
    });
    tellPartitions();
    const view = membership.view();
    log.info(
      { node: view.node, nodes: view.assignment?.nodes, partitions: view.active.size },
      'sharing the delivery with the cluster',
    );
  }
  loop.start();

  return {
    /** The live throttle windows (attempts, deliveries, deferrals per site, source, credential). */
    throttleWindows: () => windows.snapshot(Date.now()),
    stop: async () => {
      await anomalies?.stop();
      await loop.stop();
      await membership?.stop();
      clearInterval(telling);
      tellPartitions();
      clusterNews?.close();
      gates.close();
      reacting.unsubscribe();
      windows.close();
      mtaSts?.close();
      await deliverer.close();
      controller.abort();
      await runner;
      webhookNews.close();
      credentialsNews.close();
      await store.close();
      readDb.close();
    },
  };
};
