import type { AuthenticatedCredential } from '../../adapters/smtp-in/submission-port.js';
import { domainOf } from '../../domain/address/address.js';
import { isAuthorizedSender } from '../../domain/sending-domain/sender-authorization.js';
import { findCredentialById } from '../../projections/credentials/credentials.js';
import type { ReadModelDb } from '../../projections/runner/read-model-db.js';
import { domainsOfCredential } from '../../projections/sending-domains/sending-domains.js';

export type SenderRefusal = string;

/**
 * A credential's domains: those it was created with and those added for it with
 * `domains add --credential`. It may use them and their subdomains in MAIL FROM and From:.
 */
export const createSenderAuthorization = (db: ReadModelDb) => {
  const allowedDomains = (credential: AuthenticatedCredential): string[] => [
    ...(findCredentialById(db, credential.id)?.domains ?? []),
    ...domainsOfCredential(db, credential.id),
  ];
  return {
    allowedDomains,
    /** Why this credential may not use this MAIL FROM, or null when it may. */
    checkMailFrom: (credential: AuthenticatedCredential, address: string): SenderRefusal | null => {
      if (address === '')
        return 'Sender address rejected: the null sender <> is not allowed for submission';
      const domain = domainOf(address);
      const allowed = allowedDomains(credential);
      return isAuthorizedSender(domain, allowed)
        ? null
        : `Sender address rejected: ${credential.name} may not send as ${domain} (its domains: ${allowed.join(', ')})`;
    },
    /** Why this credential may not use these From: domains, or null when it may. */
    checkFromHeader: (
      credential: AuthenticatedCredential,
      domains: readonly string[],
    ): SenderRefusal | null => {
      if (domains.length === 0) return 'Message refused: it has no From: header with an address';
      const allowed = allowedDomains(credential);
      const foreign = domains.find((d) => !isAuthorizedSender(d, allowed));
      return foreign === undefined
        ? null
        : `Message refused: ${credential.name} may not send as ${foreign} in From: (its domains: ${allowed.join(', ')})`;
    },
  };
};

export type SenderAuthorization = ReturnType<typeof createSenderAuthorization>;
