import { randomUUID } from 'node:crypto';
import { domainOf } from '../../domain/address/address.js';
import type { Classification } from '../../domain/bounce/classifier.js';
import { shareLimits } from '../../domain/cluster/limit-share.js';
import { partitionOf } from '../../domain/cluster/partition.js';
import { handleCommand, loadState } from '../../domain/command-handling/handle-command.js';
import {
  AttemptAbandoned,
  type Deliverer,
  type EgressSource,
} from '../../domain/delivery/delivery-port.js';
import { chooseSource, type PoolWeights } from '../../domain/egress/choose-source.js';
import type { EventStore, GlobalPosition } from '../../domain/event-store/event-store.js';
import {
  type AttemptResult,
  messageDecider,
  pendingRecipients,
} from '../../domain/message/decider.js';
import { type Lane, type MessageAccepted, messageStream } from '../../domain/message/events.js';
import type { RetryPolicy } from '../../domain/retry/retry-policy.js';
import { noRoomForRecipient, type SmtpReply } from '../../domain/smtp-reply/smtp-reply.js';
import { verpLocalPart } from '../../domain/verp/verp.js';
import { deliveryQueueProjection } from '../../projections/delivery-queue/delivery-queue.js';
import {
  type DueWork,
  dueWork,
  nextDueAt,
  pendingWorkAt,
} from '../../projections/delivery-queue/queries.js';
import { liveCheckpoint, type ReadModelDb } from '../../projections/runner/read-model-db.js';
import type { SiteGates } from './site-gates.js';
import type { SiteReactions } from './site-reactions.js';
import type { SiteShaping, SiteShapingLookup } from './site-shaping.js';
import type { WarmupLedger } from './warmup-ledger.js';

export interface DeliveryLoopDeps {
  readonly store: EventStore;
  readonly readDb: ReadModelDb;
  readonly deliverer: Deliverer;
  /** How long a stop waits for the attempts under way before it abandons them. */
  readonly stopGraceMs: number;
  /** Retry waits are stretched by up to this fraction (the schedule itself is per site). */
  readonly retryJitter: number;
  readonly maxInFlight: number;
  /** Egress sources and pools: each attempt leaves from a source of its message's pool. */
  readonly egress: {
    readonly sources: Readonly<Record<string, { readonly address: string; readonly ehlo: string }>>;
    readonly pools: Readonly<Record<string, PoolWeights>>;
    readonly defaultPool: string | null;
  };
  /** Per-site shaping: limits per queue, reactions to replies, warm-up caps per source. */
  readonly shaping: {
    readonly sites: SiteShapingLookup;
    readonly gates: SiteGates;
    readonly reactions: SiteReactions;
    readonly warmup: WarmupLedger;
  };
  /** Signs each recipient's VERP return path (for messages that have a return-path domain). */
  readonly verpKey: Uint8Array;
  /** What a failed reply means (the bounce classifier with the configured rule files). */
  readonly classify: (reply: SmtpReply) => Classification;
  /**
   * Several nodes sharing the delivery: the partitions this node may work on now and how
   * many nodes are live (each site's limits are divided among them). Absent: alone.
   */
  readonly cluster?: {
    readonly partitions: () => ReadonlySet<number>;
    readonly liveNodes: () => number;
  };
  readonly now: () => number;
  readonly random: () => number;
  readonly log: {
    warn: (obj: object, msg: string) => void;
    debug: (obj: object, msg: string) => void;
  };
}

/** What the loop does with a (message, domain): send it, or bounce it with its site's queue. */
type Job =
  | {
      readonly kind: 'send';
      readonly messageId: string;
      readonly domain: string;
      readonly lane: Lane;
      readonly shaped: SiteShaping;
      readonly source: EgressSource | undefined;
      /** Recipients counted against the source's warm-up cap until the attempt ends. */
      reserved: number;
    }
  | { readonly kind: 'bounce'; readonly messageId: string; readonly domain: string };

/**
 * Takes due recipients from the delivery-queue projection, one SMTP transaction per
 * (message, domain), and records each attempt's outcome on the message stream. The
 * stream, not the projection, decides what is still pending: a stale row costs one read.
 */
export const createDeliveryLoop = (deps: DeliveryLoopDeps) => {
  const { sites, gates, reactions, warmup } = deps.shaping;
  const { cluster } = deps;
  /** This node's partitions for the queue's queries; null: all of them. */
  const partitions = (): readonly number[] | null => (cluster ? [...cluster.partitions()] : null);
  const nodes = (): number => cluster?.liveNodes() ?? 1;
  const stillMine = (messageId: string): boolean =>
    !cluster || cluster.partitions().has(partitionOf(messageId));
  const inFlight = new Set<string>();
  // Attempts past their ownership check, sending or recording (a subset of inFlight; those
  // still waiting for their site hold no partition: they check again when their turn comes).
  const sending = new Set<string>();
  // Work finished but not yet visible in the projection: skip it until the checkpoint
  // passes the position its outcome was written at.
  const settling = new Map<string, GlobalPosition>();
  // Work whose attempt failed on our side (the log refused the outcome, the body was
  // missing): its rows still say due, so without a pause it would be retried at once,
  // over and over, while the store is failing.
  const failedUntil = new Map<string, number>();
  const FAILURE_PAUSE_MS = 30_000;
  // A domain whose due work cannot go now (its site full, suspended, or every source
  // capped) can fill the head of the due query; now and then the loop asks past them.
  const SKIP_QUERY_INTERVAL_MS = 250;
  let lastSkipQuery = 0;
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

  /**
   * The source an attempt to `site` leaves from: drawn by weight among the pool's sources
   * still usable there (not disabled by a reply rule, under today's warm-up cap). No
   * egress configured: undefined (the system's own address). None usable: 'wait'.
   */
  const sourceFor = (pool: string | null, site: SiteShaping): EgressSource | undefined | 'wait' => {
    const { pools, sources, defaultPool } = deps.egress;
    const weights = pools[pool ?? defaultPool ?? ''];
    if (!weights) return reactions.stateOf(site.site).disabled ? 'wait' : undefined;
    const usable = Object.fromEntries(
      Object.entries(weights).filter(
        ([name]) =>
          !reactions.sourceDisabled(site.site, name) &&
          (warmup.remaining(name, site.site, site.provider) ?? 1) > 0,
      ),
    );
    const name = chooseSource(usable, deps.random());
    const source = name ? sources[name] : undefined;
    return name && source ? { name, ...source } : 'wait';
  };

  /**
   * The SMTP transactions for these recipients: one for all of them with the sender's own
   * envelope address; or one per recipient when the message has a return-path domain (each
   * with its own VERP return path, so a bounce names its recipient) or per-recipient header
   * lines (its List-Unsubscribe and the signature over it, sent before the shared body).
   */
  const transactions = (
    accepted: MessageAccepted['data'],
    messageId: string,
    recipients: readonly string[],
    recipientHeaders: readonly string[] | null,
  ): Array<{ readonly from: string; readonly to: readonly string[]; readonly prefix: string }> => {
    const { envelope, returnPathDomain } = accepted;
    if (!recipientHeaders && (!returnPathDomain || envelope.from === ''))
      return [{ from: envelope.from, to: recipients, prefix: '' }];
    return recipients.map((recipient) => {
      const recipientIndex = envelope.to.findIndex((t) => t.address === recipient);
      return {
        from:
          returnPathDomain && envelope.from !== ''
            ? `${verpLocalPart(deps.verpKey, { messageId, recipientIndex })}@${returnPathDomain}`
            : envelope.from,
        to: [recipient],
        prefix: recipientHeaders?.[recipientIndex] ?? '',
      };
    });
  };

  const send = async (
    key: string,
    job: Extract<Job, { kind: 'send' }>,
  ): Promise<GlobalPosition | undefined> => {
    const { shaped, source } = job;
    const stream = messageStream(job.messageId);
    const loaded = await loadState(deps.store, stream, messageDecider);
    const { state } = loaded;
    if (state.status !== 'accepted') return undefined;
    const now = deps.now();
    const recipients = pendingRecipients(state)
      .filter((r) => r.dueAt <= now && domainOf(r.address) === job.domain)
      .map((r) => r.address);
    if (recipients.length === 0) return undefined;
    const body = await deps.store.readBlob(state.accepted.bodyRef);
    if (!body) throw new Error(`body ${state.accepted.bodyRef} of ${job.messageId} is missing`);
    // A backoff in force replaces the queue's limits; a suspension holds everything back.
    // Nodes sharing the delivery each take their part of the site's limits.
    const limits = shareLimits(reactions.limitsFor(shaped.queue, shaped.values), nodes());
    const results: AttemptResult[] = [];
    const headersRef = state.accepted.recipientHeadersRef;
    const headersBlob = headersRef ? await deps.store.readBlob(headersRef) : null;
    if (headersRef && !headersBlob)
      throw new Error(`recipient headers ${headersRef} of ${job.messageId} are missing`);
    const recipientHeaders = headersBlob
      ? (JSON.parse(Buffer.from(headersBlob).toString('utf8')) as string[])
      : null;
    const queue = transactions(state.accepted, job.messageId, recipients, recipientHeaders);
    for (const { from, to, prefix } of queue) {
      // Its partition moved to another node: what is not sent is theirs now. Stopping: no
      // new transaction starts (one of VERP's per recipient, or one that was still loading).
      if (stopped || !stillMine(job.messageId)) break;
      // Wait for the queue (a free connection, its message rate) only around the
      // transaction itself: recording the outcome must not hold the site's connection.
      const release = await gates.admit(shaped.queue, limits, job.lane);
      if (!release) break;
      try {
        // Checked again after the wait, and from here until its outcome is recorded the
        // attempt holds its partition: the node hands it over only after that.
        if (!stillMine(job.messageId)) break;
        sending.add(key);
        const outcome = await deps.deliverer
          .deliver({
            messageId: job.messageId,
            domain: job.domain,
            from,
            recipients: to,
            body: prefix ? Buffer.concat([Buffer.from(prefix, 'latin1'), body]) : body,
            ...(source ? { source } : {}),
            ...(state.accepted.requireTls
              ? { requireTls: true, verifyTls: !state.accepted.skipTlsVerification }
              : {}),
            site: {
              key: shaped.queue,
              maxConnections: limits.maxConnections,
              maxMessagesPerConnection: limits.maxMessagesPerConnection,
              tls: limits.tls,
              beforeConnect: () => gates.connect(shaped.queue, limits.connectionRate),
            },
          })
          // Stopping: this transaction has no outcome; the ones before it are recorded.
          .catch((error: unknown) => {
            if (error instanceof AttemptAbandoned) return null;
            throw error;
          });
        if (outcome === null) break;
        // The server had no room for some recipients in this transaction (RFC 5321
        // §4.5.3.1.10): they go in the next one at once, as long as this one delivered some.
        const noRoom = outcome.filter((r) => noRoomForRecipient(r.reply));
        if (noRoom.length > 0 && outcome.some((r) => r.reply.code < 400)) {
          results.push(...outcome.filter((r) => !noRoomForRecipient(r.reply)));
          queue.push({ from, to: noRoom.map((r) => r.recipient), prefix });
        } else results.push(...outcome);
      } finally {
        release();
      }
    }
    if (results.length === 0) return undefined;
    if (source) {
      const delivered = results.filter((r) => r.reply.code < 400).length;
      warmup.settle(source.name, shaped.site, job.reserved, delivered);
      job.reserved = 0;
    }
    const policy: RetryPolicy = {
      scheduleMs: shaped.values.retry,
      maxAgeMs: shaped.values.maxAge,
      jitter: deps.retryJitter,
    };
    const recorded = await handleCommand(
      deps.store,
      stream,
      messageDecider,
      {
        type: 'RecordAttempt',
        at: deps.now(),
        results: results.map((r) =>
          r.reply.code < 400 ? r : { ...r, classification: deps.classify(r.reply) },
        ),
        route: { site: shaped.site, source: source?.name ?? null },
        policy,
        random: deps.random(),
      },
      { newEventId: () => randomUUID(), loaded },
    );
    return recorded.position;
  };

  /** Its site's queue was bounced by a reply rule: the pending recipients there go. */
  const bounce = async (job: Extract<Job, { kind: 'bounce' }>) => {
    const site = await sites.resolve(job.domain);
    const reason = reactions.queueBounce(site.site);
    if (!reason) return undefined;
    const recorded = await handleCommand(
      deps.store,
      messageStream(job.messageId),
      messageDecider,
      {
        type: 'BounceQueued',
        at: deps.now(),
        domain: job.domain,
        route: { site: site.site, source: null },
        reply: reason.reply,
        // The reply's own class, but the shaping rule that bounced the queue as the reason.
        classification: {
          ...deps.classify(reason.reply),
          rule: `${reason.rule.file}:${reason.rule.line} (bounce-queue)`,
        },
      },
      { newEventId: () => randomUUID(), retries: 3 },
    );
    return recorded.position;
  };

  const start = (key: string, job: Job): void => {
    inFlight.add(key);
    running++;
    (job.kind === 'send' ? send(key, job) : bounce(job))
      .then((position) => {
        if (position !== undefined) settling.set(key, position);
      })
      .catch((error) => {
        failedUntil.set(key, deps.now() + FAILURE_PAUSE_MS);
        deps.log.warn({ err: error, messageId: job.messageId }, 'delivery attempt failed');
      })
      .finally(() => {
        if (job.kind === 'send' && job.source && job.reserved > 0)
          warmup.settle(job.source.name, job.shaped.site, job.reserved, 0);
        inFlight.delete(key);
        sending.delete(key);
        running--;
        if (running === 0) for (const resolve of idle.splice(0)) resolve();
        wake();
      });
  };

  /**
   * Sorts due rows into jobs; returns the domains whose work could not go now. `again`: the
   * rows of a second query this tick, where a planned job's rows were already counted.
   */
  const plan = (
    rows: readonly DueWork[],
    capacity: number,
    jobs: Map<string, Job>,
    again = false,
  ) => {
    const blocked = new Set<string>();
    const startedPerQueue = new Map<string, number>();
    for (const row of rows) {
      const key = `${row.messageId} ${row.domain}`;
      const planned = jobs.get(key);
      if (planned) {
        // One more recipient of a message already planned: count it against warm-up too.
        if (!again && planned.kind === 'send' && planned.source) {
          warmup.reserve(planned.source.name, planned.shaped.site, 1);
          planned.reserved++;
        }
        continue;
      }
      if (inFlight.has(key) || settling.has(key)) continue;
      const pausedUntil = failedUntil.get(key);
      if (pausedUntil !== undefined) {
        if (pausedUntil > deps.now()) continue;
        failedUntil.delete(key);
      }
      if (jobs.size >= capacity) break;
      const site = sites.cached(row.domain);
      if (!site) {
        // Its MX is looked up first; the loop comes back when it is known.
        sites.resolve(row.domain).then(wake, () => undefined);
        continue;
      }
      if (reactions.queueBounce(site.site)) {
        jobs.set(key, { kind: 'bounce', messageId: row.messageId, domain: row.domain });
        continue;
      }
      const source = sourceFor(row.pool, site);
      if (source === 'wait') {
        blocked.add(row.domain);
        continue;
      }
      const shaped = sites.cached(row.domain, source?.name ?? null) ?? site;
      // A queue that already has a full round waiting gets no more: its backlog must not
      // take every slot from the other sites.
      const queueLane = `${shaped.queue} ${row.lane}`;
      const started = startedPerQueue.get(queueLane) ?? 0;
      const connections = Math.ceil(shaped.values.maxConnections / nodes());
      if (gates.load(shaped.queue, row.lane) + started >= 2 * connections) {
        blocked.add(row.domain);
        continue;
      }
      startedPerQueue.set(queueLane, started + 1);
      if (source) warmup.reserve(source.name, shaped.site, 1);
      jobs.set(key, {
        kind: 'send',
        messageId: row.messageId,
        domain: row.domain,
        lane: row.lane,
        shaped,
        source,
        reserved: source ? 1 : 0,
      });
    }
    return blocked;
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
      const limit = Math.min(capacity, 200) + inFlight.size + settling.size + failedUntil.size;
      const jobs = new Map<string, Job>();
      const mine = partitions();
      const rows = dueWork(deps.readDb, deps.now(), limit, [], mine);
      const blocked = plan(rows, capacity, jobs);
      if (
        blocked.size > 0 &&
        jobs.size < capacity &&
        rows.length >= limit &&
        lastTick - lastSkipQuery >= SKIP_QUERY_INTERVAL_MS
      ) {
        lastSkipQuery = lastTick;
        plan(dueWork(deps.readDb, deps.now(), limit, [...blocked], mine), capacity, jobs, true);
      }
      for (const [key, job] of jobs) start(key, job);
    }
    // Come back when the next deferred recipient falls due, or within a second anyway
    // (settling work, projections written by other processes, a warm-up day turning).
    const next = nextDueAt(deps.readDb, partitions());
    const wait = next === null ? 1000 : Math.min(Math.max(next - deps.now(), 10), 1000);
    timer = setTimeout(wake, wait);
    timer.unref();
  };

  /** Bounces everything queued for a site whose queue a reply rule just bounced. */
  const sweep = (site: string): void => {
    if (stopped) return;
    const domains = sites.domainsOf(site);
    if (domains.length === 0) return;
    for (const row of pendingWorkAt(deps.readDb, domains, partitions())) {
      const key = `${row.messageId} ${row.domain}`;
      if (inFlight.has(key)) continue;
      start(key, { kind: 'bounce', messageId: row.messageId, domain: row.domain });
    }
  };

  return {
    start: wake,
    /** Called when the delivery-queue projection applied new events. */
    notify: wake,
    sweep,
    /** The partitions of the attempts under way (a node hands over only those it is done with). */
    busyPartitions: (): ReadonlySet<number> =>
      new Set([...sending].map((key) => partitionOf(key.slice(0, key.indexOf(' '))))),
    /**
     * Stops taking new work and waits for the attempts under way, for `stopGraceMs` at
     * most: then they are abandoned (an MX that never greets, one that stalls in DATA).
     */
    stop: async (): Promise<void> => {
      stopped = true;
      clearTimeout(timer);
      // Attempts waiting for their site (a suspension may last hours) give up their turn.
      gates.cancelWaiting();
      if (running === 0) return;
      const done = new Promise<void>((resolve) => idle.push(resolve));
      const grace = setTimeout(() => {
        deps.log.warn({ attempts: running }, 'abandoning the delivery attempts still under way');
        deps.deliverer.abandon();
      }, deps.stopGraceMs);
      await done;
      clearTimeout(grace);
    },
  };
};
