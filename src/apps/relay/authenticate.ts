import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import { decoyHash, verifyPassword } from '../../adapters/password/scrypt-password.js';
import type { AuthResult } from '../../adapters/smtp-in/submission-port.js';
import { networkMatcher } from '../../domain/network/network-matcher.js';
import {
  type CredentialRow,
  findActiveCredential,
} from '../../projections/credentials/credentials.js';
import type { ReadModelDb } from '../../projections/runner/read-model-db.js';
import type { AuthGuard } from '../abuse/auth-guard.js';

/** Whether the credential may be used from this client address (its allowed networks). */
export const mayConnectFrom = (
  credential: Pick<CredentialRow, 'allowedNetworks'>,
  clientAddress: string,
): boolean =>
  credential.allowedNetworks.length === 0 ||
  networkMatcher(credential.allowedNetworks)(clientAddress);

const INVALID: AuthResult = { ok: false, reason: 'invalid' };

/** Runs at most `limit` of these at once; the rest wait their turn, in order. */
const limitConcurrency = <A extends unknown[], R>(
  run: (...args: A) => Promise<R>,
  limit: number,
): ((...args: A) => Promise<R>) => {
  let running = 0;
  const waiting: Array<() => void> = [];
  return async (...args) => {
    if (running >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    try {
      return await run(...args);
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
};

/**
 * Passwords that verified lately, as keyed digests (never the password): a client that
 * logs in for every message pays scrypt once per `ttlMs`, not each time, like Dovecot's
 * auth cache. Wrong passwords are never remembered, so guessing always pays in full.
 */
const createVerifiedCache = (ttlMs: number, now: () => number) => {
  const key = randomBytes(32);
  const digest = (passwordHash: string, password: string) =>
    createHmac('sha256', key).update(passwordHash).update('\0').update(password).digest();
  const entries = new Map<string, { readonly digest: Buffer; readonly until: number }>();
  return {
    has: (passwordHash: string, password: string): boolean => {
      const hit = entries.get(passwordHash);
      return (
        hit !== undefined &&
        hit.until > now() &&
        timingSafeEqual(hit.digest, digest(passwordHash, password))
      );
    },
    add: (passwordHash: string, password: string): void => {
      if (entries.size >= 10_000) entries.clear();
      entries.set(passwordHash, { digest: digest(passwordHash, password), until: now() + ttlMs });
    },
  };
};

/**
 * Checks a username and password against the credentials read model. A right password
 * from outside the credential's allowed networks fails as a wrong one would (the client
 * learns nothing), and is logged with the address: someone holds that password. Every
 * failure counts toward the guard's bans; a banned address or username is refused before
 * its password is even looked at. One scrypt runs at a time, and a password that verified
 * in the last ten minutes is recognised from a keyed digest without running it again.
 */
export const createAuthenticate = (
  db: ReadModelDb,
  guard: Pick<AuthGuard, 'attemptRefusal' | 'failed' | 'succeeded'>,
  log: Pick<Logger, 'warn'>,
  now: () => number = Date.now,
) => {
  // An unknown user costs the same scrypt work as a known one: no timing oracle.
  const decoy = decoyHash();
  // scrypt is CPU-bound: guessers queue behind each other instead of taking every core
  // from the mail already being accepted and delivered.
  const verify = limitConcurrency(verifyPassword, 1);
  const verified = createVerifiedCache(10 * 60_000, now);
  return async (username: string, password: string, clientAddress: string): Promise<AuthResult> => {
    const credential = findActiveCredential(db, username);
    // Its own allowed networks are not locked out by someone else's guessing.
    const allowedHere =
      credential !== null &&
      credential.allowedNetworks.length > 0 &&
      mayConnectFrom(credential, clientAddress);
    const throttled = guard.attemptRefusal(clientAddress, username, allowedHere);
    if (throttled) {
      // Still guessing at a throttled username: that counts against the address, so it is
      // soon refused at connect, before any TLS handshake is spent on it.
      guard.failed(clientAddress, '');
      return { ok: false, reason: 'throttled', message: throttled };
    }
    const stored = credential?.passwordHash ?? (await decoy);
    const ok = verified.has(stored, password) || (await verify(password, stored));
    if (!ok || !credential) {
      guard.failed(clientAddress, username);
      return INVALID;
    }
    if (!mayConnectFrom(credential, clientAddress)) {
      log.warn(
        { credential: credential.name, username, client: clientAddress },
        "AUTH with a right password from outside the credential's allowed networks",
      );
      guard.failed(clientAddress, username);
      return INVALID;
    }
    verified.add(stored, password);
    guard.succeeded(clientAddress);
    return { ok: true, credential: { id: credential.id, name: credential.name } };
  };
};
