import type { SMTPServerAddress, SMTPServerSession } from 'smtp-server';
import { smtpError } from './smtp-error.js';
import type { NetworkMatcher } from './trusted-networks.js';

type Callback = (err?: Error | null) => void;

/**
 * MAIL FROM and RCPT TO: a client relays only once authenticated, or from a trusted
 * network. Address syntax is smtp-server's (501 5.1.7 / 501 5.1.3).
 */
export const createEnvelopeHandlers = (trusted: NetworkMatcher) => {
  const mayRelay = (session: SMTPServerSession): boolean =>
    Boolean(session.user) || trusted(session.remoteAddress);
  const refuse = () => smtpError(530, '5.7.0', 'Authentication required');
  return {
    onMailFrom: (_address: SMTPServerAddress, session: SMTPServerSession, callback: Callback) =>
      mayRelay(session) ? callback() : callback(refuse()),
    onRcptTo: (_address: SMTPServerAddress, session: SMTPServerSession, callback: Callback) =>
      mayRelay(session) ? callback() : callback(refuse()),
  };
};
