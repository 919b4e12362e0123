import type { Logger } from 'pino';
import { defaultSignerThreads, startSignerThreads } from '../../adapters/dkim/signer-thread.js';
import { createFileKeyStore } from '../../adapters/dkim-keys/file-key-store.js';
import { startSqliteWriter } from '../../adapters/event-store/sqlite/sqlite-writer.js';
import { loadOrCreateVerpKey } from '../../adapters/files/verp-key.js';
import { createMessageIdFactory } from '../../adapters/ids/message-ids.js';
import { createCounters } from '../../adapters/metrics/counters.js';
import { startComposerThread } from '../../adapters/mime/composer-thread.js';
import { createSubmissionServer } from '../../adapters/smtp-in/submission-server.js';
import { loadOrCreateTls } from '../../adapters/tls/self-signed.js';
import { createFileWebhookSecretStore } from '../../adapters/webhook-secrets/file-webhook-secrets.js';
import type { EventStore } from '../../domain/event-store/event-store.js';
import { networkMatcher } from '../../domain/network/network-matcher.js';
import { organizationalDomain } from '../../domain/sending-domain/organizational-domain.js';
import { derivedKey } from '../../domain/verp/verp.js';
import { WINDOW_MS } from '../../domain/volume-limit/volume-limit.js';
import {
  credentialVolumeProjection,
  minutesSince,
} from '../../projections/credential-volume/credential-volume.js';
import {
  credentialsProjection,
  findCredentialByApiKeyHash,
  findCredentialById,
} from '../../projections/credentials/credentials.js';
import { openReadModelDb, type ReadModelDb } from '../../projections/runner/read-model-db.js';
import { catchUpProjection } from '../../projections/runner/run-projection.js';
import {
  isSendingDomain,
  sendingDomainsProjection,
} from '../../projections/sending-domains/sending-domains.js';
import {
  findSuppression,
  suppressionsProjection,
} from '../../projections/suppressions/suppressions.js';
import { createAuthGuard } from '../abuse/auth-guard.js';
import { createCredentialGate } from '../abuse/credential-gate.js';
import { loadBounceRules } from '../bounces/bounce-rules.js';
import type { Config } from '../config/schema.js';
import { credentialsNewsChannel } from '../credentials/credentials-news.js';
import { createApiSubmission } from '../http-submission/api-submission.js';
import { loadShapingRules } from '../shaping/shaping-rules.js';
import { createAcceptMessage } from './accept-message.js';
import { createAuthenticate } from './authenticate.js';
import { fallbackReturnPathDomain, startBounceIntake } from './bounce-intake.js';
import { dataPaths } from './data-paths.js';
import { createHttpServer } from './http-server.js';
import { cachedLookup, rememberedLookup } from './lookup-cache.js';
import { createMessageSigning } from './message-signing.js';
import { openEventStore } from './open-event-store.js';
import { createSenderAuthorization } from './sender-authorization.js';
import { startServiceWorker } from './service-worker.js';
import { startDeliveryWorker } from './start-delivery-worker.js';
import { createSubmissionChecks } from './submission-checks.js';

const METRIC_HELP = {
  mailtrail_smtp_limit_total:
    'SMTP clients cut short by a limit: per-address connections, a ban, a deadline, pipelining',
  mailtrail_smtp_auth_bans_total: 'Bans for failed AUTH, per client address or per username',
  mailtrail_smtp_refusals_total: 'SMTP commands refused for what they asked, by reply',
};

const banPolicy = (ban: { failures: number; within: number; ban: number }) => ({
  failures: ban.failures,
  windowMs: ban.within,
  banMs: ban.ban,
});

export interface RunningRelay {
  readonly smtpPort: number;
  readonly httpPort: number;
  /** The bounce listener's port; null when it is off or could not listen. */
  readonly bouncePort: number | null;
  readonly store: EventStore;
  readonly readDb: ReadModelDb;
  stop(): Promise<void>;
}

/**
 * Wires the embedded relay. The main thread takes mail in (SMTP, HTTP); a worker thread
 * keeps the projections live and delivers; a writer thread commits both threads' appends
 * with one group commit. They share nothing but the SQLite files and the writer's ports.
 */
export const startRelay = async (config: Config, log: Logger): Promise<RunningRelay> => {
  const paths = dataPaths(config);
  // Bad shaping or bounce rules stop the start here, with file and line, not in a worker.
  loadShapingRules(config.shaping.files);
  const bounceRules = loadBounceRules(config.bounces.files);
  // Made here, once, before the delivery thread reads it.
  const verpKey = loadOrCreateVerpKey(paths.keys);
  const unsubscribeKey = derivedKey(verpKey, 'unsubscribe');
  const trackingKey = derivedKey(verpKey, 'tracking');
  const fallbackReturnPath = fallbackReturnPathDomain(config);
  // SQLite: one writer thread commits every append of the process, from every thread below.
  const writer =
    config.store.kind === 'sqlite'
      ? await startSqliteWriter(paths.events, {
          onFailure: (error) => {
            log.fatal({ err: error }, 'the event log writer failed');
            process.exit(1);
          },
        })
      : null;
  const store = await openEventStore(config, writer ? { writer: writer.connect() } : {});
  const readDb = openReadModelDb(paths.projections);
  // AUTH, sender checks and signing read these; have them current before the first client.
  await catchUpProjection(store, readDb, credentialsProjection);
  await catchUpProjection(store, readDb, sendingDomainsProjection);
  await catchUpProjection(store, readDb, suppressionsProjection);
  // Volume caps start from what each credential sent in the last day.
  await catchUpProjection(store, readDb, credentialVolumeProjection);
  const delivery = await startDeliveryWorker(config, writer?.connect(), log);
  const webhooks = await startServiceWorker(
    new URL('../webhooks/webhook-worker.ts', import.meta.url),
    'webhooks',
    config,
    writer?.connect(),
    log,
  );

  const tls = await loadOrCreateTls(config.smtp.tls, paths.tls, config.hostname);
  if (tls.generated) log.info({ dir: paths.tls }, 'generated a self-signed TLS certificate');
  const newMessageId = createMessageIdFactory();
  const authorization = createSenderAuthorization(readDb);
  const [composer, signer] = await Promise.all([
    startComposerThread(),
    config.dkim.enabled
      ? startSignerThreads(config.dkim.signerThreads ?? defaultSignerThreads())
      : null,
  ]);
  const sign = signer
    ? createMessageSigning({
        readDb,
        keyStore: createFileKeyStore(paths.keys),
        signer,
        operatorDomain: config.dkim.operatorDomain,
        log,
      })
    : null;
  const pools = new Set(Object.keys(config.egress.pools));
  // Read for every message, changed rarely: looked up at most once a second.
  const credentialOf = cachedLookup((id) => findCredentialById(readDb, id), 1000, Date.now);
  const isOurs = cachedLookup((domain) => isSendingDomain(readDb, domain), 1000, Date.now);
  const gate = createCredentialGate({
    caps: config.limits.credentials,
    pausedOf: (id) => credentialOf(id)?.paused ?? null,
    seed: minutesSince(readDb, Date.now() - WINDOW_MS.day),
    now: Date.now,
  });
  const headerLimits = {
    maxBytes: config.smtp.maxHeaderSize,
    maxFields: config.smtp.maxHeaderFields,
  };
  const accept = createAcceptMessage({
    gate,
    headerLimits,
    store,
    hostname: config.hostname,
    now: Date.now,
    newMessageId,
    authorization,
    sign,
    pools,
    poolOf: (id) => credentialOf(id)?.pool ?? null,
    unsubscribeOf: (id) => credentialOf(id)?.unsubscribe ?? null,
    suppressionOf: (address, scopes) => findSuppression(readDb, address, scopes, Date.now()),
    unsubscribe: config.unsubscribe.baseUrl
      ? { baseUrl: config.unsubscribe.baseUrl, key: unsubscribeKey }
      : null,
    returnPathDomainFor: (domain) => {
      // The domain itself, or the organizational domain it belongs to, when we send for it.
      const ours = [domain, organizationalDomain(domain)].find(isOurs);
      return ours ? `${config.domains.returnPathPrefix}.${ours}` : fallbackReturnPath;
    },
  });
  const metrics = createCounters(METRIC_HELP);
  const guard = createAuthGuard({
    byAddress: banPolicy(config.smtp.authBans.address),
    byUsername: banPolicy(config.smtp.authBans.username),
    exempt: networkMatcher(config.smtp.trustedNetworks),
    now: Date.now,
    log,
    onBan: (kind) => metrics.inc('mailtrail_smtp_auth_bans_total', { kind }),
  });
  const submission = createSubmissionServer(
    {
      connectionRefusal: guard.connectionRefusal,
      authenticate: createAuthenticate(readDb, guard, log),
      ...createSubmissionChecks({ authorization, gate }),
      accept,
    },
    {
      hostname: config.hostname,
      tls,
      trustedNetworks: config.smtp.trustedNetworks,
      maxMessageSize: config.smtp.maxMessageSize,
      maxRecipients: config.smtp.maxRecipients,
      maxLineLength: config.smtp.maxLineLength,
      maxClients: config.smtp.maxClients,
      maxClientsPerAddress: config.smtp.maxClientsPerAddress,
      errorLimits: {
        soft: config.smtp.errorLimits.soft,
        hard: config.smtp.errorLimits.hard,
        sleepMs: config.smtp.errorLimits.sleep,
      },
      deadlines: {
        commandMs: config.smtp.commandDeadline,
        dataMs: config.smtp.dataDeadline,
        sessionMs: config.smtp.sessionDeadline,
      },
      onLimit: (reason, address) => {
        metrics.inc('mailtrail_smtp_limit_total', { reason });
        log.warn({ reason, client: address }, 'smtp client cut short by a limit');
      },
      maxAuthFailures: config.smtp.maxAuthFailures,
      authFailureDelayMs: config.smtp.authFailureDelay,
      socketTimeoutMs: config.smtp.socketTimeout,
      greetingDelayMs: config.smtp.greetingDelay,
      bareLineEndings: config.smtp.bareLineEndings,
      logger: log,
    },
  );
  // Every API request names its key; the delivery thread says when keys or credentials
  // changed (a revocation, say), and they are read again from then on.
  const keyOwners = rememberedLookup((keyHash) => findCredentialByApiKeyHash(readDb, keyHash));
  const credentialsNews = credentialsNewsChannel(paths.projections);
  credentialsNews.onmessage = () => keyOwners.forget();
  const apiSubmission = createApiSubmission({
    composer,
    credentialOfKey: keyOwners.get,
    gate,
    headerLimits,
    log,
    accept,
    authorization,
    pools,
    newMessageId,
    hostname: config.hostname,
    now: Date.now,
    maxMessageSize: config.smtp.maxMessageSize,
    maxBatchBytes: config.http.maxBatchBytes,
    tracking: config.tracking.baseUrl
      ? { baseUrl: config.tracking.baseUrl, key: trackingKey }
      : null,
  });
  const http = createHttpServer({
    trustedProxies: config.http.trustedProxies,
    maxHeaderBytes: config.smtp.maxHeaderSize,
    readDb,
    metrics,
    live: delivery,
    unsubscribe: { store, key: unsubscribeKey },
    api: { port: apiSubmission, now: Date.now, newBatchId: newMessageId },
    tracking: { store, key: trackingKey, now: Date.now },
    streams: {
      store,
      readDb,
      streamToken: config.http.streamToken,
      authenticateKey: apiSubmission.authenticateKey,
    },
    webhooks: {
      store,
      readDb,
      secrets: createFileWebhookSecretStore(paths.keys),
      authenticateKey: apiSubmission.authenticateKey,
      hostname: config.hostname,
      timeoutMs: config.webhooks.timeout,
    },
  });
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
    await Promise.all([submission.close(), http.close()]);
    await Promise.all([delivery.stop(), webhooks.stop(), composer.close(), signer?.close()]);
    credentialsNews.close();
    await store.close();
    await writer?.close();
    readDb.close();
    throw error;
  }
  const bounceIntake = await startBounceIntake({
    config,
    store,
    readDb,
    verpKey,
    unsubscribeKey,
    rules: bounceRules,
    log,
  });
  log.info(
    {
      smtp: `${config.smtp.listen.host}:${smtpPort}`,
      bounces:
        bounceIntake.port === null ? 'off' : `${config.bounces.listen?.host}:${bounceIntake.port}`,
      http: `${config.http.listen.host}:${httpPort}`,
    },
    'mailtrail relay listening',
  );

  return {
    smtpPort,
    httpPort,
    bouncePort: bounceIntake.port,
    store,
    readDb,
    stop: async () => {
      await bounceIntake.close();
      await submission.close();
      await http.close();
      await Promise.all([delivery.stop(), webhooks.stop(), composer.close(), signer?.close()]);
      credentialsNews.close();
      await store.close();
      await writer?.close();
      readDb.close();
    },
  };
};
