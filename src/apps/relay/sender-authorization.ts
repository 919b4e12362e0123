import type { AuthenticatedCredential } from '../../adapters/smtp-in/submission-port.js';
import { domainOf } from '../../domain/address/address.js';
import { isAuthorizedSender } from '../../domain/sending-domain/sender-authorization.js';
import { findCredentialById } from '../../projections/credentials/credentials.js';
import type { ReadModelDb } from '../../projections/runner/read-model-db.js';
import { domainsOfCredential } from '../../projections/sending-domains/sending-domains.js';
import { cachedLookup } from './lookup-cache.js';

/** Why a credential may not send this, in words for the client (the 550 5.7.1 text). */
export type SenderRefusal = string;

const mailFromRefusal = (
  credential: AuthenticatedCredential,
  allowed: readonly string[],
  address: string,
): SenderRefusal | null => {
  if (address === '')
    return 'Sender address rejected: the null sender <> is not allowed for submission';
  const domain = domainOf(address);
  return isAuthorizedSender(domain, allowed)
    ? null
    : `Sender address rejected: ${credential.name} may not send as ${domain} (its domains: ${allowed.join(', ')})`;
};

const fromHeaderRefusal = (
  credential: AuthenticatedCredential,
  allowed: readonly string[],
  domains: readonly string[],
): SenderRefusal | null => {
  if (domains.length === 0) return 'Message refused: it has no From: header with an address';
  const foreign = domains.find((d) => !isAuthorizedSender(d, allowed));
  return foreign === undefined
    ? null
    : `Message refused: ${credential.name} may not send as ${foreign} in From: (its domains: ${allowed.join(', ')})`;
};

/**
 * A credential's domains: those it was created with and those added for it with
 * `domains add --credential`. It may use them and their subdomains in MAIL FROM and From:.
 * Looked up at most once a second per credential: a domain added or taken away applies
 * within that second.
 */
export const createSenderAuthorization = (db: ReadModelDb, now: () => number = Date.now) => {
  const domainsOf = cachedLookup(
    (id): readonly string[] => [
      ...(findCredentialById(db, id)?.domains ?? []),
      ...domainsOfCredential(db, id),
    ],
    1000,
    now,
  );
  const allowedDomains = (credential: AuthenticatedCredential): readonly string[] =>
    domainsOf(credential.id);
  return {
    allowedDomains,
    /** At MAIL FROM, so a foreign sender is refused before any data is sent. */
    checkMailFrom: (credential: AuthenticatedCredential, address: string): SenderRefusal | null =>
      mailFromRefusal(credential, allowedDomains(credential), address),
    /** At acceptance, for every front door: the envelope sender and the From: domains. */
    checkSender: (
      credential: AuthenticatedCredential,
      mailFrom: string,
      fromDomains: readonly string[],
    ): SenderRefusal | null => {
      const allowed = allowedDomains(credential);
      return (
        mailFromRefusal(credential, allowed, mailFrom) ??
        fromHeaderRefusal(credential, allowed, fromDomains)
      );
    },
  };
};

export type SenderAuthorization = ReturnType<typeof createSenderAuthorization>;
