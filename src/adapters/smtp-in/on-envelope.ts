import type { SMTPServerAddress, SMTPServerSession } from 'smtp-server';
import type { NetworkMatcher } from '../../domain/network/network-matcher.js';
import type { ErrorLimits } from './error-limits.js';
import type { OnLimit } from './limit-reason.js';
import { objectionReply } from './objection-reply.js';
import { smtpError } from './smtp-error.js';
import type { AuthenticatedCredential, SubmissionPort } from './submission-port.js';

type Callback = (err?: Error | null) => void;

/**
 * Bytes that are not UTF-8 reach us as U+FFFD: an address made of them is malformed. A
 * non-ASCII address is fine with SMTPUTF8 declared at MAIL FROM (RFC 6531), not without.
 */
const encodingProblem = (
  address: string,
  smtpUtf8: boolean,
  kind: 'sender' | 'recipient',
): Error | null => {
  if (address.includes('\uFFFD'))
    return smtpError(
      501,
      kind === 'sender' ? '5.1.7' : '5.1.3',
      `Bad ${kind} address syntax: not valid UTF-8`,
    );
  if (!smtpUtf8 && /[^\x00-\x7f]/.test(address))
    return smtpError(553, '5.6.7', `Non-ASCII ${kind} address needs SMTPUTF8 at MAIL FROM`);
  return null;
};

/**
 * MAIL FROM and RCPT TO: a client relays only once authenticated, or from a trusted
 * network; what it may send then is the application's to say (its domains, its caps, the
 * recipients it may name). Address syntax is smtp-server's (501 5.1.7 / 501 5.1.3).
 */
export const createEnvelopeHandlers = (
  trusted: NetworkMatcher,
  port: Pick<SubmissionPort, 'checkMailFrom' | 'checkRecipient'>,
  limits: {
    readonly maxRecipients: number;
    readonly onLimit: OnLimit;
    readonly errors: ErrorLimits;
  },
) => {
  const mayRelay = (session: SMTPServerSession): boolean =>
    Boolean(session.user) || trusted(session.remoteAddress);
  const refuse = () => smtpError(530, '5.7.0', 'Authentication required');
  /** Refusals go through the session's error count (slowed, then cut off). */
  const counted =
    (session: SMTPServerSession, done: Callback): Callback =>
    (err) =>
      err ? limits.errors.refuse(session, err, done) : done();
  const credentialOf = (session: SMTPServerSession) =>
    (session.user as AuthenticatedCredential | undefined) ?? null;
  return {
    onMailFrom: (address: SMTPServerAddress, session: SMTPServerSession, done: Callback) => {
      const callback = counted(session, done);
      if (!mayRelay(session)) return callback(refuse());
      const args = address.args as { SMTPUTF8?: unknown } | false;
      const utf8 = args !== false && args?.SMTPUTF8 === true;
      const malformed = encodingProblem(address.address, utf8, 'sender');
      if (malformed) return callback(malformed);
      const credential = credentialOf(session);
      const objection = credential ? port.checkMailFrom(credential, address.address) : null;
      return objection ? callback(objectionReply(objection, 'mail')) : callback();
    },
    onRcptTo: (address: SMTPServerAddress, session: SMTPServerSession, done: Callback) => {
      const callback = counted(session, done);
      if (!mayRelay(session)) return callback(refuse());
      const utf8 = Boolean((session.envelope as { smtpUtf8?: boolean }).smtpUtf8);
      const malformed = encodingProblem(address.address, utf8, 'recipient');
      if (malformed) return callback(malformed);
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
