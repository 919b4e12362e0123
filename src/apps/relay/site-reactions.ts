import { randomUUID } from 'node:crypto';
import { handleCommand } from '../../domain/command-handling/handle-command.js';
import type { EventStore } from '../../domain/event-store/event-store.js';
import { parseRate } from '../../domain/shaping/rate.js';
import { countMatch, type ResponseRule } from '../../domain/shaping/response-rules.js';
import type { ShapingValues } from '../../domain/shaping/shaping-values.js';
import { queueKey } from '../../domain/shaping/site.js';
import {
  inForce,
  initialSiteState,
  SITE_STREAM_PREFIX,
  type SiteCommand,
  type SiteEvent,
  type SiteQueueBounced,
  type SiteState,
  siteDecider,
  siteStream,
} from '../../domain/site-state/site-state.js';
import { formatSmtpReply } from '../../domain/smtp-reply/smtp-reply.js';
import type { AttemptOutcome } from './attempt-outcomes.js';

const COMMAND = {
  backoff: 'StartBackoff',
  suspend: 'Suspend',
  'disable-source': 'DisableSource',
  'bounce-queue': 'BounceQueue',
} as const satisfies Record<ResponseRule['action'], SiteCommand['type']>;

/**
 * How the relay reacts to what sites answer. Fed the attempt outcomes of the live event
 * stream, reply rules count matches per queue and rule; at the threshold the queue backs
 * off, is suspended or loses its source, or the whole site's queue bounces, as an event on
 * `site-<key>`, so the reaction outlives a restart. The state of every site is folded from
 * those streams at start and kept here (this thread is the only one that writes them).
 */
export const createSiteReactions = (deps: {
  readonly store: EventStore;
  readonly now: () => number;
  /** The reply rules for a recipient domain as seen from a source (every layer's). */
  readonly rulesFor: (domain: string, source: string | null) => Promise<readonly ResponseRule[]>;
  /** A site's queue was just bounced: what is queued for it must go now. */
  readonly onQueueBounced?: (site: string) => void;
}) => {
  const states = new Map<string, SiteState>();
  const counts = new Map<string, number[]>();

  const load = async (): Promise<void> => {
    for await (const e of deps.store.readAll({
      filter: { streamPrefixes: [SITE_STREAM_PREFIX] },
    })) {
      const key = e.streamName.slice(SITE_STREAM_PREFIX.length);
      states.set(
        key,
        siteDecider.evolve(states.get(key) ?? initialSiteState, {
          type: e.type,
          data: e.data,
        } as SiteEvent),
      );
    }
  };

  /** What is in force for a queue (`site from source`) or a site. */
  const stateOf = (key: string): SiteState =>
    inForce(states.get(key) ?? initialSiteState, deps.now());

  /** The values in force for a queue: a backoff's limits over the shaping values. */
  const limitsFor = (
    queue: string,
    values: Required<ShapingValues>,
  ): Required<ShapingValues> & { notBefore: number } => {
    const { backoff, suspension } = stateOf(queue);
    const limits = backoff?.limits ?? {};
    return {
      ...values,
      ...(limits.maxConnections ? { maxConnections: limits.maxConnections } : {}),
      ...(limits.messageRate
        ? { messageRate: parseRate(limits.messageRate) ?? values.messageRate }
        : {}),
      ...(limits.connectionRate
        ? { connectionRate: parseRate(limits.connectionRate) ?? values.connectionRate }
        : {}),
      notBefore: suspension?.until ?? 0,
    };
  };

  const sourceDisabled = (site: string, source: string): boolean =>
    stateOf(queueKey(site, source)).disabled !== null;

  const queueBounce = (site: string): SiteQueueBounced['data'] | null => stateOf(site).bounce;

  const act = async (
    outcome: AttemptOutcome,
    rule: ResponseRule,
    matches: number,
  ): Promise<void> => {
    const data = {
      at: outcome.at,
      until: outcome.at + rule.forMs,
      rule: { file: rule.origin.file, line: rule.origin.line, match: rule.match.source },
      reply: outcome.reply,
      matches,
    };
    const command = {
      type: COMMAND[rule.action],
      data:
        rule.action === 'backoff'
          ? {
              ...data,
              limits: {
                ...(rule.backoff.maxConnections
                  ? { maxConnections: rule.backoff.maxConnections }
                  : {}),
                ...(rule.backoff.messageRate ? { messageRate: rule.backoff.messageRate.text } : {}),
                ...(rule.backoff.connectionRate
                  ? { connectionRate: rule.backoff.connectionRate.text }
                  : {}),
              },
            }
          : data,
    } as SiteCommand;
    // A queue bounce concerns the site from every source; the rest, this source's queue.
    const key =
      rule.action === 'bounce-queue' ? outcome.site : queueKey(outcome.site, outcome.source);
    const result = await handleCommand(deps.store, siteStream(key), siteDecider, command, {
      newEventId: () => randomUUID(),
      retries: 3,
    });
    states.set(key, result.state);
    if (rule.action === 'bounce-queue' && result.events.length > 0) deps.onQueueBounced?.(key);
  };

  /** Counts a failed reply against the rules of its queue; acts at a threshold. */
  const observe = async (outcome: AttemptOutcome): Promise<void> => {
    if (outcome.reply.code < 400) return;
    const rules = await deps.rulesFor(outcome.domain, outcome.source);
    if (rules.length === 0) return;
    const text = formatSmtpReply(outcome.reply);
    const queue = queueKey(outcome.site, outcome.source);
    for (const rule of rules) {
      if (!rule.match.test(text)) continue;
      const key = `${queue} ${rule.origin.file}:${rule.origin.line}`;
      const counted = countMatch(counts.get(key) ?? [], rule, outcome.at);
      counts.set(key, counted.times);
      if (!counted.reached) continue;
      counts.delete(key);
      await act(outcome, rule, counted.times.length);
    }
  };

  return { load, stateOf, limitsFor, sourceDisabled, queueBounce, observe };
};

export type SiteReactions = ReturnType<typeof createSiteReactions>;
