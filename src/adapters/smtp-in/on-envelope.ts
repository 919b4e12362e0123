import type { SMTPServerAddress, SMTPServerSession } from 'smtp-server';
import type { NetworkMatcher } from '../../domain/network/network-matcher.js';
import type { OnLimit } from './limit-reason.js';
import { objectionReply } from './objection-reply.js';
import { smtpError } from './smtp-error.js';
import type { AuthenticatedCredential, SubmissionPort } from './submission-port.js';

type Callback = (err?: Error | null) => void;

/**
 * MAIL FROM and RCPT TO: a client relays only once authenticated, or from a trusted
 * network; what it may send then is the application's to say (its domains, its caps, the
 * recipients it may name). Address syntax is smtp-server's (501 5.1.7 / 501 5.1.3).
 */
export const createEnvelopeHandlers = (
  trusted: NetworkMatcher,
  port: Pick<SubmissionPort, 'checkMailFrom' | 'checkRecipient'>,
  limits: { readonly maxRecipients: number; readonly onLimit: OnLimit },
) => {
  const mayRelay = (session: SMTPServerSession): boolean =>
    Boolean(session.user) || trusted(session.remoteAddress);
  const refuse = () => smtpError(530, '5.7.0', 'Authentication required');
  const credentialOf = (session: SMTPServerSession) =>
    (session.user as AuthenticatedCredential | undefined) ?? null;
  return {
    onMailFrom: (address: SMTPServerAddress, session: SMTPServerSession, callback: Callback) => {
      if (!mayRelay(session)) return callback(refuse());
      const credential = credentialOf(session);
      const objection = credential ? port.checkMailFrom(credential, address.address) : null;
      return objection ? callback(objectionReply(objection, 'mail')) : callback();
    },
    onRcptTo: (address: SMTPServerAddress, session: SMTPServerSession, callback: Callback) => {
      if (!mayRelay(session)) return callback(refuse());
      const count = session.envelope.rcptTo.length + 1;
      // RFC 5321 §4.5.3.1.8: the ones past the limit get 452 and those taken stand.
      if (count > limits.maxRecipients) {
        limits.onLimit('recipients', session.remoteAddress);
        return callback(
          smtpError(452, '4.5.3', `Too many recipients (${limits.maxRecipients} at most)`),
        );
      }
      const objection = port.checkRecipient(credentialOf(session), address.address, count);
      return objection ? callback(objectionReply(objection, 'rcpt')) : callback();
    },
  };
};
