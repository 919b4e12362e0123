import type { Origin } from './layers.js';
import type { Rate } from './rate.js';

/**
 * What a reply rule does, for `forMs`: `backoff` sends to the queue (site from one source)
 * within the rule's own limits; `suspend` holds the queue; `disable-source` stops using
 * the source for the site, so the pool's other sources take its traffic (with no other,
 * it waits); `bounce-queue` bounces everything queued for the site and all that arrives
 * for it meanwhile.
 */
export const RESPONSE_ACTIONS = ['backoff', 'suspend', 'disable-source', 'bounce-queue'] as const;
export type ResponseAction = (typeof RESPONSE_ACTIONS)[number];

/** A rule on the remote's replies: after `threshold` matches within `withinMs`, act. */
export interface ResponseRule {
  readonly match: RegExp;
  readonly threshold: number;
  readonly withinMs: number;
  readonly action: ResponseAction;
  readonly forMs: number;
  /** The limits while backing off. */
  readonly backoff: {
    readonly maxConnections?: number;
    readonly messageRate?: Rate;
    readonly connectionRate?: Rate;
  };
  readonly origin: Origin;
}

/**
 * Counts matches per rule in a sliding window (pure: the caller keeps the times and
 * passes the clock). Returns the new times and whether the threshold was reached.
 */
export const countMatch = (
  times: readonly number[],
  rule: ResponseRule,
  at: number,
): { readonly times: number[]; readonly reached: boolean } => {
  const recent = [...times.filter((t) => t > at - rule.withinMs), at];
  return { times: recent, reached: recent.length >= rule.threshold };
};
