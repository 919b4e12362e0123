import { decoyHash, verifyPassword } from '../../adapters/password/scrypt-password.js';
import type { AuthenticatedCredential } from '../../adapters/smtp-in/submission-port.js';
import { findActiveCredential } from '../../projections/credentials/credentials.js';
import type { ReadModelDb } from '../../projections/runner/read-model-db.js';

/** Checks a username and password against the credentials read model. */
export const createAuthenticate = (db: ReadModelDb) => {
  // An unknown user costs the same scrypt work as a known one: no timing oracle.
  const decoy = decoyHash();
  return async (username: string, password: string): Promise<AuthenticatedCredential | null> => {
    const credential = findActiveCredential(db, username);
    const ok = await verifyPassword(password, credential?.passwordHash ?? (await decoy));
    return ok && credential ? { id: credential.id, name: credential.name } : null;
  };
};
