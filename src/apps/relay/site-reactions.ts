import { randomUUID } from 'node:crypto';
import { handleCommand } from '../../domain/command-handling/handle-command.js';
import type { EventStore } from '../../domain/event-store/event-store.js';
import type { AttemptResult } from '../../domain/message/decider.js';
import { parseRate } from '../../domain/shaping/rate.js';
import { countMatch, type ResponseRule, replyText } from '../../domain/shaping/response-rules.js';
import type { ShapingValues } from '../../domain/shaping/shaping-values.js';
import {
  inForce,
  initialSiteState,
  SITE_STREAM_PREFIX,
  type SiteEvent,
  type SiteState,
  siteDecider,
  siteStream,
} from '../../domain/site-state/site-state.js';

/**
 * How the relay reacts to what sites answer: reply rules count matches per site and rule;
 * at the threshold the site backs off or is suspended, as an event on `site-<key>`, so the
 * reaction outlives a restart. The state of every site is folded from those streams at
 * start and kept here (this thread is the only one that writes them).
 */
export const createSiteReactions = (deps: {
  readonly store: EventStore;
  readonly now: () => number;
}) => {
  const states = new Map<string, SiteState>();
  const counts = new Map<string, number[]>();

  const load = async (): Promise<void> => {
    for await (const e of deps.store.readAll({
      filter: { streamPrefixes: [SITE_STREAM_PREFIX] },
    })) {
      const site = e.streamName.slice(SITE_STREAM_PREFIX.length);
      states.set(
        site,
        siteDecider.evolve(states.get(site) ?? initialSiteState, {
          type: e.type,
          data: e.data,
        } as SiteEvent),
      );
    }
  };

  const stateOf = (site: string): SiteState =>
    inForce(states.get(site) ?? initialSiteState, deps.now());

  /** The values in force: a backoff's limits over the shaping values. */
  const limitsFor = (
    site: string,
    values: Required<ShapingValues>,
  ): Required<ShapingValues> & { notBefore: number } => {
    const { backoff, suspension } = stateOf(site);
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

  const act = async (
    site: string,
    rule: ResponseRule,
    result: AttemptResult,
    matches: number,
    at: number,
  ) => {
    const base = {
      at,
      until: at + rule.forMs,
      rule: { file: rule.origin.file, line: rule.origin.line, match: rule.match.source },
      reply: result.reply,
      matches,
    };
    const outcome = await handleCommand(
      deps.store,
      siteStream(site),
      siteDecider,
      rule.action === 'suspend'
        ? { type: 'Suspend', data: base }
        : {
            type: 'StartBackoff',
            data: {
              ...base,
              limits: {
                ...(rule.backoff.maxConnections
                  ? { maxConnections: rule.backoff.maxConnections }
                  : {}),
                ...(rule.backoff.messageRate ? { messageRate: rule.backoff.messageRate.text } : {}),
                ...(rule.backoff.connectionRate
                  ? { connectionRate: rule.backoff.connectionRate.text }
                  : {}),
              },
            },
          },
      { newEventId: () => randomUUID(), retries: 3 },
    );
    states.set(site, outcome.state);
  };

  /** Counts the attempt's failed replies against the site's rules; acts at a threshold. */
  const observe = async (
    site: string,
    rules: readonly ResponseRule[],
    results: readonly AttemptResult[],
  ) => {
    if (rules.length === 0) return;
    const at = deps.now();
    for (const result of results) {
      if (result.reply.code < 400) continue;
      const text = replyText(result.reply);
      for (const [i, rule] of rules.entries()) {
        if (!rule.match.test(text)) continue;
        const key = `${site} ${i}`;
        const counted = countMatch(counts.get(key) ?? [], rule, at);
        counts.set(key, counted.times);
        if (!counted.reached) continue;
        counts.delete(key);
        await act(site, rule, result, counted.times.length, at);
      }
    }
  };

  return { load, stateOf, limitsFor, observe };
};

export type SiteReactions = ReturnType<typeof createSiteReactions>;
