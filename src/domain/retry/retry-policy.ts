export interface RetryPolicy {
  /** Waits after the 1st, 2nd, … failed attempt; the last one repeats. */
  readonly scheduleMs: readonly number[];
  /** Give up (bounce as expired) once a recipient has been queued this long. */
  readonly maxAgeMs: number;
  /** Each wait is stretched by up to this fraction, never shortened, to spread restarts. */
  readonly jitter: number;
}

/**
 * When to try again after the `attempt`-th failure. `random` is a value in [0, 1) given by
 * the caller, so the function stays pure. Returns null when the next try would come after
 * the recipient expires: the caller bounces it instead.
 */
export const nextAttemptAt = (
  policy: RetryPolicy,
  attempt: number,
  failedAt: number,
  queuedAt: number,
  random: number,
): number | null => {
  const expiresAt = queuedAt + policy.maxAgeMs;
  if (failedAt >= expiresAt) return null;
  const schedule = policy.scheduleMs;
  const base = schedule[Math.min(Math.max(attempt, 1), schedule.length) - 1] ?? 60_000;
  const wait = base * (1 + policy.jitter * Math.min(Math.max(random, 0), 1));
  // The last try is made at the expiry time rather than skipped.
  return Math.min(failedAt + Math.round(wait), expiresAt);
};
