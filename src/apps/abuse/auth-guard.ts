import type { Logger } from 'pino';
import {
  bannedUntil,
  type FailureRecord,
  isLive,
  NO_FAILURES,
  recordFailure,
  type ThrottlePolicy,
} from '../../domain/auth-throttle/auth-throttle.js';
import type { NetworkMatcher } from '../../domain/network/network-matcher.js';

export interface AuthGuardDeps {
  /** Failed logins from one client address: past them it is refused at connect. */
  readonly byAddress: ThrottlePolicy;
  /** Failed logins as one username, from anywhere: past them AUTH as it is throttled. */
  readonly byUsername: ThrottlePolicy;
  /** Trusted networks: never counted nor banned (Postfix exempts mynetworks the same way). */
  readonly exempt: NetworkMatcher;
  readonly now: () => number;
  readonly log: Pick<Logger, 'warn'>;
  readonly onBan?: (kind: 'address' | 'username') => void;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
/** Records kept before the ones that no longer matter are swept out. */
const SWEEP_AT = 50_000;

/**
 * Brute-force protection across connections: failed AUTH is counted per client address
 * and per username. A banned address is refused at connect (421 4.7.0); a banned username
 * gets 454 4.7.0 at AUTH, except from the credential's own allowed networks, so someone
 * else's guessing cannot lock its legitimate client out. Both bans lapse by themselves.
 */
export const createAuthGuard = (deps: AuthGuardDeps) => {
  const addresses = new Map<string, FailureRecord>();
  const usernames = new Map<string, FailureRecord>();

  const sweep = (records: Map<string, FailureRecord>, policy: ThrottlePolicy) => {
    if (records.size < SWEEP_AT) return;
    const at = deps.now();
    for (const [key, record] of records) if (!isLive(record, at, policy)) records.delete(key);
    // Guessing from more addresses than that at once: forget the oldest half rather than
    // grow without bound (a Map iterates in insertion order).
    if (records.size >= SWEEP_AT * 2)
      for (const key of [...records.keys()].slice(0, SWEEP_AT)) records.delete(key);
  };

  const fail = (
    records: Map<string, FailureRecord>,
    policy: ThrottlePolicy,
    key: string,
    kind: 'address' | 'username',
  ) => {
    const at = deps.now();
    const before = records.get(key) ?? NO_FAILURES;
    const after = recordFailure(before, at, policy);
    records.set(key, after);
    if (after.bannedUntil !== null && after.bannedUntil !== before.bannedUntil) {
      deps.log.warn(
        { [kind]: key, until: iso(after.bannedUntil) },
        `AUTH failures: ${kind} banned`,
      );
      deps.onBan?.(kind);
    }
    sweep(records, policy);
  };

  return {
    /** Why a connection from this address is refused now, or null. */
    connectionRefusal: (address: string): string | null => {
      if (deps.exempt(address)) return null;
      const until = bannedUntil(addresses.get(address) ?? NO_FAILURES, deps.now());
      return until === null
        ? null
        : `Too many failed logins from ${address}; try again after ${iso(until)}`;
    },
    /** Why an AUTH attempt is refused before the password is even checked, or null. */
    attemptRefusal: (address: string, username: string, allowedHere: boolean): string | null => {
      const at = deps.now();
      const byAddress = deps.exempt(address)
        ? null
        : bannedUntil(addresses.get(address) ?? NO_FAILURES, at);
      if (byAddress !== null)
        return `Too many failed logins from ${address}; try again after ${iso(byAddress)}`;
      const byUsername = bannedUntil(usernames.get(username) ?? NO_FAILURES, at);
      if (byUsername !== null && !allowedHere)
        return `Too many failed logins for this user; try again after ${iso(byUsername)}`;
      return null;
    },
    failed: (address: string, username: string): void => {
      // Trusted networks may relay without AUTH: nothing to win by guessing from there.
      if (deps.exempt(address)) return;
      fail(addresses, deps.byAddress, address, 'address');
      if (username) fail(usernames, deps.byUsername, username, 'username');
    },
    /** A right password: the address has shown it is no guesser. */
    succeeded: (address: string): void => {
      addresses.delete(address);
    },
  };
};

export type AuthGuard = ReturnType<typeof createAuthGuard>;
