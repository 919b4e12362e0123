/**
 * Failed logins counted per key (a client address, a username) over a sliding window; at
 * the threshold the key is banned for a while. Pure: times are given. A ban throttles
 * attempts and then lapses by itself, so an attacker can never lock a user out for good.
 */

export interface ThrottlePolicy {
  /** Failures within `windowMs` that bring a ban. */
  readonly failures: number;
  readonly windowMs: number;
  readonly banMs: number;
}

export interface FailureRecord {
  /** When the failures still inside the window happened, oldest first. */
  readonly failedAt: readonly number[];
  /** Banned until then (epoch ms); null: not banned. */
  readonly bannedUntil: number | null;
}

export const NO_FAILURES: FailureRecord = { failedAt: [], bannedUntil: null };

/** The record after one more failure at `at`: a ban once the threshold is reached. */
export const recordFailure = (
  record: FailureRecord,
  at: number,
  policy: ThrottlePolicy,
): FailureRecord => {
  const failedAt = [...record.failedAt.filter((t) => t > at - policy.windowMs), at];
  if (failedAt.length < policy.failures) return { failedAt, bannedUntil: bannedUntil(record, at) };
  // A ban starts the count afresh: the next one needs the full threshold again.
  return { failedAt: [], bannedUntil: at + policy.banMs };
};

/** When the ban in force at `at` lapses; null when there is none. */
export const bannedUntil = (record: FailureRecord, at: number): number | null =>
  record.bannedUntil !== null && record.bannedUntil > at ? record.bannedUntil : null;

/** Whether the record still matters at `at` (a ban in force, or failures in the window). */
export const isLive = (record: FailureRecord, at: number, policy: ThrottlePolicy): boolean =>
  bannedUntil(record, at) !== null || record.failedAt.some((t) => t > at - policy.windowMs);
