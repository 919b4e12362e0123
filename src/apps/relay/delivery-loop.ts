import { randomUUID } from 'node:crypto';
import { domainOf } from '../../domain/address/address.js';
import { handleCommand, loadState } from '../../domain/command-handling/handle-command.js';
import type { Deliverer, EgressSource } from '../../domain/delivery/delivery-port.js';
import { chooseSource, type PoolWeights } from '../../domain/egress/choose-source.js';
import type { EventStore, GlobalPosition } from '../../domain/event-store/event-store.js';
import { messageDecider, pendingRecipients } from '../../domain/message/decider.js';
import { type Lane, messageStream } from '../../domain/message/events.js';
import type { RetryPolicy } from '../../domain/retry/retry-policy.js';
import { deliveryQueueProjection } from '../../projections/delivery-queue/delivery-queue.js';
import { dueWork, nextDueAt } from '../../projections/delivery-queue/queries.js';
import { liveCheckpoint, type ReadModelDb } from '../../projections/runner/read-model-db.js';
import type { SiteGates } from './site-gates.js';
import type { SiteReactions } from './site-reactions.js';
import type { SiteShapingLookup } from './site-shaping.js';
import type { AttemptOutcome } from './throttle-windows.js';

export interface DeliveryLoopDeps {
  readonly store: EventStore;
  readonly readDb: ReadModelDb;
  readonly deliverer: Deliverer;
  /** Retry waits are stretched by up to this fraction (the schedule itself is per site). */
  readonly retryJitter: number;
  readonly maxInFlight: number;
  /** Each recipient's outcome of each attempt, for the live throttle windows. */
  readonly onOutcome?: (outcome: AttemptOutcome) => void;
  /** Egress sources and pools: each attempt leaves from a source of its message's pool. */
  readonly egress: {
    readonly sources: Readonly<Record<string, { readonly address: string; readonly ehlo: string }>>;
    readonly pools: Readonly<Record<string, PoolWeights>>;
    readonly defaultPool: string | null;
  };
  /** Per-site shaping: limits per site and source, its retry schedule and max age, reactions. */
  readonly shaping: {
    readonly sites: SiteShapingLookup;
    readonly gates: SiteGates;
    readonly reactions: SiteReactions;
  };
  readonly now: () => number;
  readonly random: () => number;
  readonly log: {
    warn: (obj: object, msg: string) => void;
    debug: (obj: object, msg: string) => void;
  };
}

/**
 * Takes due recipients from the delivery-queue projection, one SMTP transaction per
 * (message, domain), and records each attempt's outcome on the message stream. The
 * stream, not the projection, decides what is still pending: a stale row costs one read.
 */
export const createDeliveryLoop = (deps: DeliveryLoopDeps) => {
  const inFlight = new Set<string>();
  // Work finished but not yet visible in the projection: skip it until the checkpoint
  // passes the position its outcome was written at.
  const settling = new Map<string, GlobalPosition>();
  // Work whose attempt failed on our side (the log refused the outcome, the body was
  // missing): its rows still say due, so without a pause it would be retried at once,
  // over and over, while the store is failing.
  const failedUntil = new Map<string, number>();
  const FAILURE_PAUSE_MS = 30_000;
  let running = 0;
  let stopped = false;
  let scheduled = false;
  let timer: NodeJS.Timeout | undefined;
  const idle: Array<() => void> = [];

  // Under load every committed batch and every finished job asks for a tick; one query of
  // the queue every few milliseconds serves them all.
  const MIN_TICK_INTERVAL_MS = 5;
  let lastTick = 0;
  const wake = (): void => {
    if (scheduled || stopped) return;
    scheduled = true;
    const wait = lastTick + MIN_TICK_INTERVAL_MS - performance.now();
    if (wait > 0) setTimeout(tick, wait);
    else setImmediate(tick);
  };

  /** The source this attempt leaves from: drawn by weight from the message's pool. */
  const sourceFor = (pool: string | null): EgressSource | undefined => {
    const { pools, sources, defaultPool } = deps.egress;
    const weights = pools[pool ?? defaultPool ?? ''];
    const name = weights ? chooseSource(weights, deps.random()) : null;
    const source = name ? sources[name] : undefined;
    return name && source ? { name, ...source } : undefined;
  };

  const run = async (
    key: string,
    messageId: string,
    domain: string,
    lane: Lane,
    source: EgressSource | undefined,
  ): Promise<void> => {
    const { sites, gates, reactions } = deps.shaping;
    const shaped = await sites.resolve(domain, source?.name ?? null);
    const stream = messageStream(messageId);
    const loaded = await loadState(deps.store, stream, messageDecider);
    const { state } = loaded;
    if (state.status !== 'accepted') return;
    const now = deps.now();
    const recipients = pendingRecipients(state)
      .filter((r) => r.dueAt <= now && domainOf(r.address) === domain)
      .map((r) => r.address);
    if (recipients.length === 0) return;
    const body = await deps.store.readBlob(state.accepted.bodyRef);
    if (!body) throw new Error(`body ${state.accepted.bodyRef} of ${messageId} is missing`);
    // A backoff in force replaces the site's limits; a suspension holds everything back.
    const limits = reactions.limitsFor(shaped.site, shaped.values);
    // Wait for the site (a free connection, its message rate) only around the transaction
    // itself: recording the outcome must not hold the site's connection.
    const release = await gates.admit(shaped.site, limits, lane);
    let results: Awaited<ReturnType<Deliverer['deliver']>>;
    try {
      results = await deps.deliverer.deliver({
        messageId,
        domain,
        from: state.accepted.envelope.from,
        recipients,
        body,
        ...(source ? { source } : {}),
        site: {
          key: shaped.site,
          maxConnections: limits.maxConnections,
          maxMessagesPerConnection: limits.maxMessagesPerConnection,
          tls: limits.tls,
          beforeConnect: () => gates.connect(shaped.site, limits.connectionRate),
        },
      });
    } finally {
      release();
    }
    const at = deps.now();
    for (const r of results)
      deps.onOutcome?.({
        at,
        site: shaped.site,
        source: source?.name ?? null,
        credential: state.accepted.credential?.name ?? null,
        outcome: r.reply.code < 400 ? 'delivered' : r.reply.code < 500 ? 'deferred' : 'bounced',
      });
    await reactions
      .observe(shaped.site, shaped.responses, results)
      .catch((error) =>
        deps.log.warn({ err: error, site: shaped.site }, 'could not record the site reaction'),
      );
    const policy: RetryPolicy = {
      scheduleMs: shaped.values.retry,
      maxAgeMs: shaped.values.maxAge,
      jitter: deps.retryJitter,
    };
    const recorded = await handleCommand(
      deps.store,
      stream,
      messageDecider,
      { type: 'RecordAttempt', at: deps.now(), results, policy, random: deps.random() },
      { newEventId: () => randomUUID(), loaded },
    );
    if (recorded.position !== undefined) settling.set(key, recorded.position);
  };

  const tick = (): void => {
    scheduled = false;
    lastTick = performance.now();
    clearTimeout(timer);
    if (stopped) return;
    const capacity = deps.maxInFlight - running;
    if (capacity > 0) {
      const checkpoint = liveCheckpoint(deps.readDb, deliveryQueueProjection);
      for (const [key, position] of settling) if (position <= checkpoint) settling.delete(key);
      const rows = dueWork(
        deps.readDb,
        deps.now(),
        Math.min(capacity, 200) + inFlight.size + settling.size + failedUntil.size,
      );
      const jobs = new Map<
        string,
        { messageId: string; domain: string; lane: Lane; source: EgressSource | undefined }
      >();
      const startedPerSite = new Map<string, number>();
      for (const row of rows) {
        const key = `${row.messageId} ${row.domain}`;
        if (inFlight.has(key) || settling.has(key) || jobs.has(key)) continue;
        const pausedUntil = failedUntil.get(key);
        if (pausedUntil !== undefined) {
          if (pausedUntil > deps.now()) continue;
          failedUntil.delete(key);
        }
        if (jobs.size >= capacity) break;
        // A site that already has a full round waiting gets no more: its backlog must not
        // take every slot from the other sites.
        const source = sourceFor(row.pool);
        const site = deps.shaping.sites.cached(row.domain, source?.name ?? null);
        if (site) {
          const siteLane = `${site.site} ${row.lane}`;
          const started = startedPerSite.get(siteLane) ?? 0;
          if (
            deps.shaping.gates.load(site.site, row.lane) + started >=
            2 * site.values.maxConnections
          )
            continue;
          startedPerSite.set(siteLane, started + 1);
        }
        jobs.set(key, { messageId: row.messageId, domain: row.domain, lane: row.lane, source });
      }
      for (const [key, job] of jobs) {
        inFlight.add(key);
        running++;
        run(key, job.messageId, job.domain, job.lane, job.source)
          .catch((error) => {
            failedUntil.set(key, deps.now() + FAILURE_PAUSE_MS);
            deps.log.warn({ err: error, messageId: job.messageId }, 'delivery attempt failed');
          })
          .finally(() => {
            inFlight.delete(key);
            running--;
            if (running === 0) for (const resolve of idle.splice(0)) resolve();
            wake();
          });
      }
    }
    // Come back when the next deferred recipient falls due, or within a second anyway
    // (settling work, projections written by other processes).
    const next = nextDueAt(deps.readDb);
    const wait = next === null ? 1000 : Math.min(Math.max(next - deps.now(), 10), 1000);
    timer = setTimeout(wake, wait);
    timer.unref();
  };

  return {
    start: wake,
    /** Called when the delivery-queue projection applied new events. */
    notify: wake,
    /** Stops taking new work and waits for the attempts under way. */
    stop: async (): Promise<void> => {
      stopped = true;
      clearTimeout(timer);
      if (running > 0) await new Promise<void>((resolve) => idle.push(resolve));
    },
  };
};
