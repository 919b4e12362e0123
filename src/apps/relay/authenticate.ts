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

/**
 * Checks a username and password against the credentials read model. A right password
 * from outside the credential's allowed networks fails as a wrong one would (the client
 * learns nothing), and is logged with the address: someone holds that password. Every
 * failure counts toward the guard's bans; a banned address or username is refused before
 * its password is even looked at.
 */
export const createAuthenticate = (
  db: ReadModelDb,
  guard: Pick<AuthGuard, 'attemptRefusal' | 'failed' | 'succeeded'>,
  log: Pick<Logger, 'warn'>,
) => {
  // An unknown user costs the same scrypt work as a known one: no timing oracle.
  const decoy = decoyHash();
  return async (username: string, password: string, clientAddress: string): Promise<AuthResult> => {
    const credential = findActiveCredential(db, username);
    // Its own allowed networks are not locked out by someone else's guessing.
    const allowedHere =
      credential !== null &&
      credential.allowedNetworks.length > 0 &&
      mayConnectFrom(credential, clientAddress);
    const throttled = guard.attemptRefusal(clientAddress, username, allowedHere);
    if (throttled) return { ok: false, reason: 'throttled', message: throttled };
    const ok = await verifyPassword(password, credential?.passwordHash ?? (await decoy));
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
    guard.succeeded(clientAddress);
    return { ok: true, credential: { id: credential.id, name: credential.name } };
  };
};
