import type { SMTPServerAddress, SMTPServerSession } from 'smtp-server';
import { smtpError } from './smtp-error.js';
import type { AuthenticatedCredential } from './submission-port.js';
import type { NetworkMatcher } from './trusted-networks.js';

type Callback = (err?: Error | null) => void;

/**
 * MAIL FROM and RCPT TO: a client relays only once authenticated, or from a trusted
 * network, and an authenticated one only from its own domains (550 5.7.1). Address syntax
 * is smtp-server's (501 5.1.7 / 501 5.1.3).
 */
export const createEnvelopeHandlers = (
  trusted: NetworkMatcher,
  checkMailFrom: (credential: AuthenticatedCredential, address: string) => string | null,
) => {
  const mayRelay = (session: SMTPServerSession): boolean =>
    Boolean(session.user) || trusted(session.remoteAddress);
  const refuse = () => smtpError(530, '5.7.0', 'Authentication required');
  return {
    onMailFrom: (address: SMTPServerAddress, session: SMTPServerSession, callback: Callback) => {
      if (!mayRelay(session)) return callback(refuse());
      const credential = session.user as AuthenticatedCredential | undefined;
      const refusal = credential ? checkMailFrom(credential, address.address) : null;
      return refusal ? callback(smtpError(550, '5.7.1', refusal)) : callback();
    },
    onRcptTo: (_address: SMTPServerAddress, session: SMTPServerSession, callback: Callback) =>
      mayRelay(session) ? callback() : callback(refuse()),
  };
};
